//! What a worker is asked to do for one replicate ([`ReplicateSpec`], everything read from the
//! chain and the scheduler before work starts) and what comes out of it ([`ReplicateOutcome`]:
//! a result ready to contribute, or a failure with its stage and a cause the requester can act
//! on). These types are the boundary between the worker's agent (talks to the scheduler and the
//! chain) and its pipeline (pre-compute, compute, post-compute), so each side can be tested alone.

use std::collections::BTreeMap;
use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes};
use serde::{Deserialize, Serialize};

use crate::logs::ComputeLogs;

/// The scheduler's signed permission for one worker to contribute to one task
/// (iexec-protocol.md §6.2): `personal_sign(keccak256(worker ‖ taskId ‖ enclaveChallenge))` by the
/// workerpool owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerpoolAuthorization {
    /// The worker allowed to contribute.
    pub worker_wallet: Address,
    /// The task.
    pub chain_task_id: B256,
    /// The task's enclave challenge address (zero for standard tasks).
    pub enclave_challenge: Address,
    /// 65-byte signature by the workerpool owner.
    pub signature: Bytes,
}

/// The app of a deal, as registered on chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSpec {
    /// Registry address.
    pub address: Address,
    /// Docker image reference (the app's multiaddr, e.g. `registry/name:tag` or `name@sha256:…`).
    pub image: String,
    /// On-chain checksum of the image (`0x0…0` when the owner did not set one).
    pub checksum: B256,
    /// The registered TEE measurement document (`mrenclave` field), empty for standard apps.
    pub mrenclave: String,
}

/// The dataset of a deal, as registered on chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetSpec {
    /// Registry address (also its file name in `/iexec_in`).
    pub address: Address,
    /// Where the encrypted file is (`http(s)://…`, `file://…`, `/ipfs/<cid>`).
    pub url: String,
    /// sha256 of the (encrypted) file as registered (`0x0…0`: not checked).
    pub checksum: B256,
}

/// The requester's `params` of the deal (iexec-protocol.md §2.6), decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DealParams {
    /// `iexec_args`: the app's command-line arguments as one string (shell-like split).
    pub args: String,
    /// `iexec_input_files`: URLs downloaded into `/iexec_in`.
    pub input_files: Vec<String>,
    /// `iexec_secrets`: requester secret index → secret name.
    pub secrets: BTreeMap<u32, String>,
    /// `iexec_result_encryption`: encrypt the result for the beneficiary.
    pub result_encryption: bool,
    /// `iexec_result_storage_provider` (`ipfs` by default).
    pub result_storage_provider: String,
    /// `iexec_result_storage_proxy`, if the requester chose one.
    pub result_storage_proxy: Option<String>,
}

/// TEE specifics of a replicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeeSpec {
    /// The SMS that holds this task's secrets and enclave challenge key.
    pub sms_url: String,
    /// The framework named by the deal tag (`tdx`, `scone`, `gramine`); the sim enclave stands in.
    pub framework: String,
}

/// Everything needed to run one replicate, gathered before any work starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicateSpec {
    /// Chain id (part of the result archive's context and logs).
    pub chain_id: u64,
    /// Deal id.
    pub deal_id: B256,
    /// Task id = keccak256(dealId ‖ index).
    pub task_id: B256,
    /// Index of the task in the deal.
    pub task_index: u64,
    /// Deal `botFirst`.
    pub bot_first: u64,
    /// Deal `botSize`.
    pub bot_size: u64,
    /// The app.
    pub app: AppSpec,
    /// The dataset, if any.
    pub dataset: Option<DatasetSpec>,
    /// Decoded request params.
    pub params: DealParams,
    /// The deal's requester.
    pub requester: Address,
    /// Who may read the result (its encryption key is the beneficiary's).
    pub beneficiary: Address,
    /// Callback contract (zero: none; non-zero: the result digest comes from `callback-data`).
    pub callback: Address,
    /// The deal's tag (bit 0 = TEE).
    pub tag: B256,
    /// The category's maximum execution time.
    pub max_execution_time: Duration,
    /// The scheduler's authorization for this worker.
    pub authorization: WorkerpoolAuthorization,
    /// Present for TEE tasks.
    pub tee: Option<TeeSpec>,
}

/// The stage a replicate was in when it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Fetching and checking the app image.
    AppDownload,
    /// Downloading inputs and the dataset, getting secrets, decrypting.
    PreCompute,
    /// Running the app container.
    Compute,
    /// computed.json, digest, archive, encryption, upload.
    PostCompute,
    /// Sending contribute / reveal / contributeAndFinalize.
    Contribute,
}

/// Why a replicate failed, each a distinct cause with what to do about it in its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "cause")]
pub enum FailureCause {
    /// The app image is not available: not in the registry its multiaddr names, or the
    /// multiaddr is not a valid image reference.
    AppImageMissing,
    /// This worker could not fetch the app image (registry unreachable, pull timed out, no or
    /// wrong credentials for a private registry): another worker may well succeed.
    AppImagePullFailed,
    /// The available image does not match the app's on-chain checksum.
    AppChecksumMismatch,
    /// An input file could not be downloaded.
    InputDownloadFailed,
    /// The dataset could not be downloaded.
    DatasetDownloadFailed,
    /// The dataset file does not match its on-chain checksum.
    DatasetChecksumMismatch,
    /// The SMS refused to release a secret (its reason is in the message).
    SecretNotReleased,
    /// The dataset could not be decrypted with the released key.
    DatasetDecryptionFailed,
    /// The app exited with a non-zero code.
    AppExitCode {
        /// The exit code.
        code: i64,
    },
    /// The app ran longer than the category allows.
    Timeout,
    /// The app wrote no usable computed.json.
    ComputedFileInvalid,
    /// The result could not be encrypted for the beneficiary (e.g. no key pushed).
    ResultEncryptionFailed,
    /// The result could not be uploaded.
    ResultUploadFailed,
    /// A transaction to the chain failed.
    ChainTransactionFailed,
    /// The deal's params cannot be served as written (unbalanced quotes in `iexec_args`,
    /// result encryption asked for a standard task).
    DealParamsInvalid,
    /// A file under `/iexec_out` has a name longer than 31 characters (iExec's
    /// `POST_COMPUTE_TOO_LONG_RESULT_FILE_NAME`).
    ResultFileNameTooLong,
    /// Anything else the worker could not do (its own environment).
    WorkerError,
}

impl FailureCause {
    /// Whether the same task would fail the same way on any other worker, so retrying it
    /// elsewhere cannot help: the app's own verdict (exit code, computed.json, result file
    /// names), the app or dataset not matching its on-chain checksum, a secret or key the SMS
    /// will not release, or deal params that cannot be served. Timeouts, downloads, uploads,
    /// chain transactions and the worker's own errors may well succeed elsewhere or later.
    /// The scheduler ends a task early only when several distinct workers agree on such a cause.
    pub fn is_deterministic(&self) -> bool {
        // exhaustive on purpose: a new cause must be classified here
        match self {
            Self::AppImageMissing
            | Self::AppChecksumMismatch
            | Self::DatasetChecksumMismatch
            | Self::SecretNotReleased
            | Self::DatasetDecryptionFailed
            | Self::AppExitCode { .. }
            | Self::ComputedFileInvalid
            | Self::ResultEncryptionFailed
            | Self::DealParamsInvalid
            | Self::ResultFileNameTooLong => true,
            Self::AppImagePullFailed
            | Self::InputDownloadFailed
            | Self::DatasetDownloadFailed
            | Self::Timeout
            | Self::ResultUploadFailed
            | Self::ChainTransactionFailed
            | Self::WorkerError => false,
        }
    }
}

/// A replicate's failure: where, why, a message for the requester, and the app's logs if it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Where it stopped.
    pub stage: Stage,
    /// Why.
    #[serde(flatten)]
    pub cause: FailureCause,
    /// Plain-words explanation, including what to do.
    pub message: String,
    /// The app's logs when the app ran (capped).
    pub logs: Option<ComputeLogs>,
    /// TEE tasks failing once the enclave holds its challenge key: the enclave's signed
    /// statement of stage, cause and logs, so the scheduler and the requester can tell a
    /// failure inside the attested enclave from one the host claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<FailureReport>,
}

/// A failure signed by the task's enclave challenge key (the key the SMS releases only to the
/// attested enclave of this task; its address is the authorization's `enclaveChallenge`).
///
/// The key signs, EIP-191, `keccak256("arca.failure-report.v1" ‖ taskId ‖ worker ‖
/// keccak256(stage) ‖ keccak256(cause JSON) ‖ logDigest)` — see
/// [`crate::worker_key::failure_report_message`] — where `logDigest` is
/// [`ComputeLogs::digest`] of the logs the failure carries (zero when the app did not run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureReport {
    /// The enclave challenge address that signed.
    pub signer: Address,
    /// Digest of the failure's logs.
    pub log_digest: B256,
    /// 65 bytes `r ‖ s ‖ v`.
    pub signature: Bytes,
}

/// A result ready to be contributed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Computed {
    /// The result digest (§3.3).
    pub result_digest: B256,
    /// The on-chain `results` bytes: UTF-8 JSON `{"storage":…,"location":…}` (empty if none).
    pub results: Bytes,
    /// The callback data to pass to finalize (empty without a callback).
    pub callback_data: Bytes,
    /// TEE: the enclave challenge key's signature over keccak256(resultHash ‖ resultSeal).
    pub enclave_signature: Option<Bytes>,
    /// The app's logs (capped).
    pub logs: ComputeLogs,
    /// How long each stage took.
    pub timings: BTreeMap<String, Duration>,
}

/// What a replicate produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum ReplicateOutcome {
    /// A result to contribute.
    Computed(Box<Computed>),
    /// A failure to report.
    Failed(Box<Failure>),
}
