//! The JSON shapes of the scheduler's public and worker API, shared by the server and the typed
//! [`crate::client`]. The worker protocol's own types (status reports, next actions) are in
//! `arca_worker::agent`.

use alloy::primitives::{Address, B256};
use arca_worker::agent::{ReplicateStatus, WorkerInfo};
use arca_worker::task::Stage;
use serde::{Deserialize, Serialize};

/// `GET /tasks/{taskId}`: where a task is and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskView {
    pub task_id: B256,
    pub deal_id: B256,
    /// The scheduler's status (`RECEIVED`, `INITIALIZED`, `RUNNING`, `CONSENSUS_REACHED`,
    /// `COMPLETED`, `FAILED`).
    pub status: String,
    /// The on-chain status (`UNSET`, `ACTIVE`, `REVEALING`, `COMPLETED`, `FAILED`); `null` if the
    /// chain could not be read.
    pub chain_status: Option<String>,
    /// What is happening now, in plain words.
    pub stage: String,
    /// On-chain deadlines (unix seconds; `null` before initialization).
    pub deadlines: Deadlines,
    /// One entry per worker that got the task.
    pub replicates: Vec<ReplicateView>,
    /// Why the task failed or cannot progress, `null` otherwise.
    pub failure: Option<serde_json::Value>,
    /// The on-chain `results` of a completed task.
    pub result_location: Option<String>,
}

/// A task's deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    pub contribution: Option<u64>,
    pub reveal: Option<u64>,
    #[serde(rename = "final")]
    pub final_: Option<u64>,
}

/// One replicate in a [`TaskView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicateView {
    pub worker: Address,
    pub status: ReplicateStatus,
    /// Failure stage.
    pub stage: Option<Stage>,
    /// Failure cause (kebab-case name, e.g. `app-exit-code`).
    pub cause: Option<String>,
    /// Failure message.
    pub message: Option<String>,
    /// The app's exit code when it failed with one.
    pub exit_code: Option<i64>,
    /// TEE: the enclave challenge that signed this failure's report (checked on receipt), so
    /// the failure is the attested enclave's word, not only the worker host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enclave_signed: Option<Address>,
    /// Transactions the worker sent.
    pub txs: Vec<B256>,
}

/// `GET /tasks/{taskId}/logs`: the app's output per replicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskLogs {
    pub task_id: B256,
    pub replicates: Vec<ReplicateLogs>,
}

/// One replicate's logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicateLogs {
    pub worker: Address,
    pub status: ReplicateStatus,
    pub stdout: String,
    pub stderr: String,
    pub exit_code: Option<i64>,
}

/// `POST /workers/login` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    pub wallet_address: Address,
    /// EIP-191 signature of the challenge string's bytes.
    pub signature: String,
    #[serde(flatten)]
    pub info: WorkerInfo,
}

/// `POST /workers/login` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginAnswer {
    /// Bearer token for the worker endpoints.
    pub token: String,
}
