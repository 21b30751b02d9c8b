//! The task pipeline end to end against a real Docker daemon (`DOCKER_HOST`), with the test app
//! of `tests/apps/pipeline` built on Arca's offline base image: a standard task fed over HTTP,
//! an app failure, a dataset checksum mismatch, and a TEE task with Arca's in-process chain and
//! a real SMS (dev mode) releasing a dataset key and a requester secret to the sim enclave, the
//! result encrypted for the beneficiary. Needs the `docker-tests` feature (scripts/test.d/60-docker.sh).
#![cfg(feature = "docker-tests")]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use arca_worker::pipeline::TaskDirs;
use arca_worker::task::{
    AppSpec, DatasetSpec, DealParams, FailureCause, Stage, TeeSpec, WorkerpoolAuthorization,
};
use arca_worker::worker_key;
use arca_worker::{
    DirResultStore, PipelineContext, ReplicateOutcome, ReplicateSpec, run_replicate,
};
use common::{build_app, runner};
use sha2::Digest as _;

/// A static-file HTTP server on port 0: `path → bytes`.
async fn serve(files: BTreeMap<&'static str, Vec<u8>>) -> SocketAddr {
    let mut router = axum::Router::new();
    for (path, bytes) in files {
        router = router.route(path, axum::routing::get(move || async move { bytes }));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(bytes).into()
}

fn unique_task(tag: u8) -> B256 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mut t = [0u8; 32];
    t[0] = tag;
    t[16..].copy_from_slice(&nanos.to_be_bytes());
    B256::from(t)
}

struct Fixture {
    ctx: PipelineContext,
    work: tempfile::TempDir,
    results: tempfile::TempDir,
    files: tempfile::TempDir,
    image: String,
    image_id: B256,
}

async fn fixture() -> Fixture {
    let runner = runner().await;
    let image = build_app(&runner, "pipeline").await;
    let image_id: B256 = runner
        .verify_image(&image, None)
        .await
        .unwrap()
        .id
        .trim_start_matches("sha256:")
        .parse()
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let results = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let store = Arc::new(DirResultStore::new(results.path()).unwrap());
    let mut ctx = PipelineContext::new(runner, work.path(), PrivateKeySigner::random(), store);
    ctx.file_url_roots = vec![files.path().to_path_buf()];
    Fixture {
        ctx,
        work,
        results,
        files,
        image,
        image_id,
    }
}

impl Fixture {
    /// A standard task of the test app, authorized for this worker (no enclave challenge).
    fn spec(&self, args: &str) -> ReplicateSpec {
        common::standard_spec(
            self.ctx.worker.address(),
            unique_task(1),
            &self.image,
            self.image_id,
            args,
        )
    }

    /// Every path left under the work directory.
    fn leftovers(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                out.push(e.path());
                if e.path().is_dir() {
                    walk(&e.path(), out);
                }
            }
        }
        let mut out = Vec::new();
        walk(self.work.path(), &mut out);
        out.sort();
        out
    }
}

fn computed(outcome: ReplicateOutcome) -> arca_worker::task::Computed {
    match outcome {
        ReplicateOutcome::Computed(c) => *c,
        ReplicateOutcome::Failed(f) => panic!("expected a result, got {f:#?}"),
    }
}

fn failed(outcome: ReplicateOutcome) -> arca_worker::task::Failure {
    match outcome {
        ReplicateOutcome::Failed(f) => *f,
        ReplicateOutcome::Computed(c) => panic!("expected a failure, got {c:#?}"),
    }
}

/// The file a `file://` location points at.
fn location_path(results: &Bytes) -> PathBuf {
    let v: serde_json::Value = serde_json::from_slice(results).unwrap();
    let location = v["location"].as_str().unwrap();
    assert_eq!(v["storage"], "file", "{v}");
    PathBuf::from(location.strip_prefix("file://").unwrap())
}

#[tokio::test]
async fn standard_task_downloads_its_input_over_http_and_stores_a_checked_result() {
    let fx = fixture().await;
    let server = serve(BTreeMap::from([(
        "/input.txt",
        b"hello from http".to_vec(),
    )]))
    .await;
    let url = format!("http://{server}/input.txt");
    let mut spec = fx.spec("echo-input 'two words'");
    spec.params.input_files = vec![url.clone()];

    let c = computed(run_replicate(&spec, &fx.ctx).await);

    // digest computed here from what the app must have written: sha256 of result.txt
    let expected_result = b"hello from http|two words\n";
    assert_eq!(c.result_digest, B256::from(sha256(expected_result)));
    assert!(c.enclave_signature.is_none());
    assert!(c.callback_data.is_empty());
    // the input file is named 0x + sha256 of its URL text (what the app was told to read)
    let input_name = format!("0x{}", hex::encode(sha256(url.as_bytes())));
    let stdout = format!("read 1 input file(s): {input_name}\n");
    assert_eq!(c.logs.stdout, stdout);
    for stage in ["app", "pre-compute", "compute", "post-compute"] {
        assert!(
            c.timings.contains_key(stage),
            "{stage} not timed: {:?}",
            c.timings
        );
    }
    // the archive is in the store, named by its sha256, and holds the app's files and logs
    let stored = location_path(&c.results);
    assert!(stored.starts_with(fx.results.path()));
    let bytes = std::fs::read(&stored).unwrap();
    assert_eq!(
        stored.file_name().unwrap().to_str().unwrap(),
        format!("{}.zip", hex::encode(sha256(&bytes)))
    );
    let files = common::unzip(&bytes);
    assert_eq!(files["result.txt"], expected_result);
    assert_eq!(
        files["computed.json"],
        b"{\"deterministic-output-path\":\"/iexec_out/result.txt\"}\n"
    );
    assert_eq!(files["stdout.txt"], stdout.as_bytes());
    // only the archive is left in the task directory
    let dirs = TaskDirs::new(fx.work.path(), spec.task_id);
    assert_eq!(
        fx.leftovers(),
        [
            dirs.root.clone(),
            dirs.output.clone(),
            dirs.output.join("iexec_out.zip")
        ]
    );
    assert_eq!(
        std::fs::read(dirs.output.join("iexec_out.zip")).unwrap(),
        bytes
    );
}

#[tokio::test]
async fn standard_task_gets_its_ipfs_dataset_as_downloaded_and_no_secrets() {
    let mut fx = fixture().await;
    let content = b"bytes as published".to_vec();
    let gateway = serve(BTreeMap::from([("/ipfs/QmDataset", content.clone())])).await;
    fx.ctx.ipfs_gateway = Some(format!("http://{gateway}/"));
    let mut spec = fx.spec("tee");
    // secrets named in the params are not looked up for a standard task
    spec.params.secrets = BTreeMap::from([(1, "mail".into())]);
    spec.dataset = Some(DatasetSpec {
        address: Address::repeat_byte(0xd5),
        url: "/ipfs/QmDataset".into(),
        checksum: B256::from(sha256(&content)),
    });
    let c = computed(run_replicate(&spec, &fx.ctx).await);
    let result = b"dataset: bytes as published\nsecret: missing\n";
    assert_eq!(c.result_digest, B256::from(sha256(result)));
    let files = common::unzip(&std::fs::read(location_path(&c.results)).unwrap());
    assert_eq!(files["result.txt"], result);
}

#[tokio::test]
async fn callback_task_returns_its_callback_data_for_the_chain() {
    let fx = fixture().await;
    let data = format!("0x{}2a", "00".repeat(31));
    let mut spec = fx.spec(&format!("callback {data}"));
    spec.callback = Address::repeat_byte(0xcb);
    let c = computed(run_replicate(&spec, &fx.ctx).await);
    let mut bytes = [0u8; 32];
    bytes[31] = 0x2a;
    assert_eq!(c.callback_data.as_ref(), bytes);
    // the contract checks keccak256(resultsCallback) == resultDigest
    assert_eq!(c.result_digest, keccak256(bytes));
    let results: serde_json::Value = serde_json::from_slice(&c.results).unwrap();
    assert_eq!(results["storage"], "ethereum");
    assert_eq!(
        results["location"],
        format!("{:#x}", Address::repeat_byte(0xcb))
    );
    // nothing uploaded, nothing kept
    assert_eq!(std::fs::read_dir(fx.results.path()).unwrap().count(), 0);
    assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());
}

#[tokio::test]
async fn app_exit_code_is_a_compute_failure_with_its_last_log_lines() {
    let fx = fixture().await;
    let spec = fx.spec("exit 3");
    let f = failed(run_replicate(&spec, &fx.ctx).await);
    assert_eq!(f.stage, Stage::Compute);
    assert_eq!(f.cause, FailureCause::AppExitCode { code: 3 });
    assert!(
        f.message.contains("exited with code 3")
            && f.message.contains("fatal: the input is not a CSV file"),
        "{}",
        f.message
    );
    let logs = f.logs.expect("the app's logs");
    assert_eq!(logs.stdout.trim(), "starting");
    // a failed task leaves nothing behind
    assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());
}

#[tokio::test]
async fn each_way_to_fail_has_its_stage_and_cause() {
    let fx = fixture().await;
    let run = |spec: ReplicateSpec| {
        let ctx = fx.ctx.clone();
        async move { failed(run_replicate(&spec, &ctx).await) }
    };

    let mut spec = fx.spec("sleep 30");
    spec.max_execution_time = Duration::from_secs(2);
    let f = run(spec).await;
    assert_eq!(
        (f.stage, &f.cause),
        (Stage::Compute, &FailureCause::Timeout)
    );
    assert!(
        f.message.contains("maximum execution time of 2s") && f.message.contains("sleeping 30 s"),
        "{}",
        f.message
    );

    let f = run(fx.spec("no-computed")).await;
    assert_eq!(
        (f.stage, &f.cause),
        (Stage::PostCompute, &FailureCause::ComputedFileInvalid)
    );
    assert!(f.message.contains("computed.json"), "{}", f.message);

    let f = run(fx.spec("long-name")).await;
    assert_eq!(
        (f.stage, &f.cause),
        (Stage::PostCompute, &FailureCause::ResultFileNameTooLong)
    );
    assert!(
        f.message.contains("this-name-is-32-characters-long!"),
        "{}",
        f.message
    );

    let f = run(fx.spec("echo-input 'unclosed")).await;
    assert_eq!(f.cause, FailureCause::DealParamsInvalid);
    assert!(f.message.contains("unclosed quote"), "{}", f.message);

    let mut spec = fx.spec("echo-input x");
    spec.params.result_encryption = true;
    assert_eq!(run(spec).await.cause, FailureCause::DealParamsInvalid);
    let mut spec = fx.spec("echo-input x");
    spec.params.result_storage_provider = "dropbox".into();
    let f = run(spec).await;
    assert_eq!(f.cause, FailureCause::DealParamsInvalid);
    assert!(f.message.contains("dropbox"), "{}", f.message);

    let mut spec = fx.spec("echo-input x");
    spec.app.image = "arca-test/absent:0".into();
    let f = run(spec).await;
    // Docker Hub is out of reach here (and refuses an unknown repository without credentials
    // online): this worker cannot fetch it, another might
    assert_eq!(
        (f.stage, &f.cause),
        (Stage::AppDownload, &FailureCause::AppImagePullFailed)
    );

    let mut spec = fx.spec("echo-input x");
    spec.app.checksum = B256::repeat_byte(0x42);
    let f = run(spec).await;
    assert_eq!(
        (f.stage, &f.cause),
        (Stage::AppDownload, &FailureCause::AppChecksumMismatch)
    );
    assert!(
        f.message
            .contains(&format!("on chain {}", B256::repeat_byte(0x42)))
            && f.message.contains(&hex::encode(fx.image_id)),
        "{}",
        f.message
    );

    let mut spec = fx.spec("echo-input x");
    spec.params.input_files = vec!["http://127.0.0.1:9/absent".into()];
    let f = run(spec).await;
    assert_eq!(
        (f.stage, &f.cause),
        (Stage::PreCompute, &FailureCause::InputDownloadFailed)
    );

    assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());
}

#[tokio::test]
async fn an_abandoned_replicate_leaves_no_directory_and_no_container() {
    let fx = fixture().await;
    let file = fx.files.path().join("data.bin");
    std::fs::write(&file, b"clear dataset").unwrap();
    let mut spec = fx.spec("sleep 30");
    spec.dataset = Some(DatasetSpec {
        address: Address::repeat_byte(0xd5),
        url: format!("file://{}", file.display()),
        checksum: B256::ZERO,
    });
    // the agent gives up while the app runs
    let run = tokio::time::timeout(Duration::from_secs(3), run_replicate(&spec, &fx.ctx)).await;
    assert!(run.is_err(), "the app sleeps 30 s");
    assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());
    let label = format!("{}={}", arca_worker::runner::TASK_LABEL, spec.task_id);
    let options = bollard::query_parameters::ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&std::collections::HashMap::from([("label", vec![label])]))
        .build();
    // the runner removes the container from a task it spawns when dropped
    let mut left = usize::MAX;
    for _ in 0..50 {
        left = fx
            .ctx
            .runner
            .docker()
            .list_containers(Some(options.clone()))
            .await
            .unwrap()
            .len();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(left, 0, "container of the abandoned task still present");
}

#[tokio::test]
async fn dataset_checksum_mismatch_stops_before_the_app_runs() {
    let fx = fixture().await;
    let file = fx.files.path().join("data.bin");
    std::fs::write(&file, b"the dataset as uploaded").unwrap();
    let mut spec = fx.spec("echo-input x");
    let registered = B256::from(sha256(b"the dataset as registered"));
    spec.dataset = Some(DatasetSpec {
        address: Address::repeat_byte(0xd5),
        url: format!("file://{}", file.display()),
        checksum: registered,
    });
    let f = failed(run_replicate(&spec, &fx.ctx).await);
    assert_eq!(f.stage, Stage::PreCompute);
    assert_eq!(f.cause, FailureCause::DatasetChecksumMismatch);
    let actual = hex::encode(sha256(b"the dataset as uploaded"));
    assert!(
        f.message.contains(&format!("on chain {registered}"))
            && f.message.contains(&format!("downloaded file 0x{actual}"))
            && f.message.contains("dataset owner"),
        "{}",
        f.message
    );
    assert!(f.logs.is_none(), "the app must not have run");
    assert!(fx.leftovers().is_empty(), "{:?}", fx.leftovers());

    // a file:// URL outside the allowed directories is refused as a download failure
    let mut spec = fx.spec("echo-input x");
    spec.dataset = Some(DatasetSpec {
        address: Address::repeat_byte(0xd5),
        url: "file:///etc/hostname".into(),
        checksum: B256::ZERO,
    });
    let f = failed(run_replicate(&spec, &fx.ctx).await);
    assert_eq!(f.cause, FailureCause::DatasetDownloadFailed);
    assert!(
        f.message.contains("outside the directories"),
        "{}",
        f.message
    );
}

/// `personal_sign(hash)` as 0x-hex.
fn sig(signer: &PrivateKeySigner, hash: B256) -> String {
    format!(
        "0x{}",
        hex::encode(
            signer
                .sign_message_sync(hash.as_slice())
                .unwrap()
                .as_bytes()
        )
    )
}

async fn post(http: &reqwest::Client, url: &str, auth: String, body: String) -> (u16, String) {
    let r = http
        .post(url)
        .header("authorization", auth)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The scheduler's part for a TEE task: the enclave challenge from the SMS and the worker's
/// authorization signed by the workerpool owner.
async fn authorize(
    http: &reqwest::Client,
    sms_url: &str,
    scheduler: &PrivateKeySigner,
    worker: Address,
    task_id: B256,
) -> WorkerpoolAuthorization {
    let (status, challenge) = post(
        http,
        &format!("{sms_url}/tee/challenges/{task_id}"),
        sig(
            scheduler,
            arca_sms::auth::authorization_hash(None, task_id, None),
        ),
        String::new(),
    )
    .await;
    assert_eq!(status, 200, "{challenge}");
    let challenge: Address = challenge.trim().parse().unwrap();
    let hash = worker_key::authorization_hash(worker, task_id, challenge);
    WorkerpoolAuthorization {
        worker_wallet: worker,
        chain_task_id: task_id,
        enclave_challenge: challenge,
        signature: Bytes::from(
            scheduler
                .sign_message_sync(hash.as_slice())
                .unwrap()
                .as_bytes()
                .to_vec(),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tee_task_gets_its_secrets_from_the_sms_and_encrypts_the_result() {
    let mut fx = fixture().await;
    let stack = arca_testkit::Stack::start().await;
    let a = stack.actors.clone();
    let worker = a.workers[0].clone();
    fx.ctx.worker = worker.clone();
    fx.ctx.dev_pki = Some(Arc::new(arca_tee::dev::DevPki::default()));

    // the SMS, --dev (accepts sim quotes), on the same chain
    let store =
        Arc::new(arca_sms::SqliteStore::in_memory(arca_sms::MasterKey::new(rand_key())).unwrap());
    let sms = arca_sms::spawn(
        "127.0.0.1:0".parse().unwrap(),
        arca_sms::Config {
            rpc_url: stack.rpc.clone(),
            hub: stack.deployment.hub,
            dev: true,
            public_url: None,
            session_ttl: 300,
        },
        store,
    )
    .await
    .unwrap();
    let sms_url = sms.url();

    // the app: registered with the sim enclave's measurement of its image (its own entrypoint)
    let digest = format!("sha256:{}", hex::encode(fx.image_id));
    let fingerprint = hex::encode(arca_tee::sim::measure(&digest, "").unwrap());
    let mrenclave = format!(
        r#"{{"framework":"TDX","version":"arca-sim/v1","entrypoint":"","fingerprint":"{fingerprint}"}}"#
    );
    let app = stack
        .app("tee-app", &fx.image, fx.image_id, &mrenclave)
        .await;

    // the dataset: encrypted, served over HTTP, its checksum that of the encrypted file
    let plain = b"the confidential dataset";
    let key = arca_crypto::AesKey::generate();
    let encrypted = arca_crypto::dataset::encrypt_bytes(plain, &key);
    let server = serve(BTreeMap::from([("/dataset.enc", encrypted.clone())])).await;
    let dataset_url = format!("http://{server}/dataset.enc");
    let dataset_checksum = B256::from(sha256(&encrypted));
    let dataset = stack.dataset("ds", &dataset_url, dataset_checksum).await;
    let pool = stack.workerpool("pool").await;

    // secrets: the dataset key, a requester secret, the beneficiary's result key
    let http = reqwest::Client::new();
    let key_b64 = key.to_base64();
    let (status, body) = post(
        &http,
        &format!("{sms_url}/secrets/web3?secretAddress={dataset}"),
        sig(
            &a.dataset_owner,
            arca_sms::auth::web3_challenge(dataset, key_b64.as_bytes()),
        ),
        key_b64.clone(),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let requester = &a.requester;
    let (status, body) = post(
        &http,
        &format!("{sms_url}/requesters/{}/secrets/mail", requester.address()),
        sig(
            requester,
            arca_sms::auth::named_challenge(requester.address(), "mail", b"alice@example.org"),
        ),
        "alice@example.org".into(),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let keypair = arca_crypto::result::generate_keypair(2048).unwrap();
    let public = arca_crypto::result::public_key_to_sms_secret(&keypair.public_pem);
    let name = "iexec-result-encryption-public-key";
    let (status, body) = post(
        &http,
        &format!(
            "{sms_url}/secrets/web2?ownerAddress={}&secretName={name}",
            requester.address()
        ),
        sig(
            requester,
            arca_sms::auth::named_challenge(requester.address(), name, public.as_bytes()),
        ),
        public.clone(),
    )
    .await;
    assert_eq!(status, 204, "{body}");

    // the deal and its task on chain
    let params =
        r#"{"iexec_args":"tee","iexec_secrets":{"1":"mail"},"iexec_result_encryption":true}"#;
    let deal_spec = arca_testkit::DealSpec::new(&stack, app, pool)
        .tee()
        .dataset(dataset)
        .params(params);
    let deal_id = stack.deal(&deal_spec).await;
    let task_id = stack.initialize(deal_id, 0).await;

    // the scheduler: enclave challenge from the SMS, authorization for the worker
    let authorization = authorize(&http, &sms_url, &a.scheduler, worker.address(), task_id).await;
    let challenge = authorization.enclave_challenge;

    let spec = ReplicateSpec {
        chain_id: stack.deployment.chain_id,
        deal_id,
        task_id,
        task_index: 0,
        bot_first: 0,
        bot_size: 1,
        app: AppSpec {
            address: app,
            image: fx.image.clone(),
            checksum: fx.image_id,
            mrenclave,
        },
        dataset: Some(DatasetSpec {
            address: dataset,
            url: dataset_url,
            checksum: dataset_checksum,
        }),
        params: DealParams {
            args: "tee".into(),
            secrets: BTreeMap::from([(1, "mail".into())]),
            result_encryption: true,
            ..Default::default()
        },
        requester: requester.address(),
        beneficiary: requester.address(),
        callback: Address::ZERO,
        tag: deal_spec.tag,
        max_execution_time: Duration::from_secs(60),
        authorization,
        tee: Some(TeeSpec {
            sms_url: sms_url.clone(),
            framework: "tdx".into(),
        }),
    };

    let c = computed(run_replicate(&spec, &fx.ctx).await);

    // the app saw the decrypted dataset and the requester secret
    let expected_result = b"dataset: the confidential dataset\nsecret: alice@example.org\n";
    assert_eq!(c.result_digest, B256::from(sha256(expected_result)));
    // the enclave signature is the challenge key's, over keccak256(resultHash ‖ resultSeal)
    let hash = keccak256([task_id.as_slice(), c.result_digest.as_slice()].concat());
    let seal = keccak256(
        [
            worker.address().as_slice(),
            task_id.as_slice(),
            c.result_digest.as_slice(),
        ]
        .concat(),
    );
    let m = keccak256([hash.as_slice(), seal.as_slice()].concat());
    let signature = c.enclave_signature.expect("an enclave signature");
    let recovered = alloy::signers::Signature::try_from(signature.as_ref())
        .unwrap()
        .recover_address_from_msg(m.as_slice())
        .unwrap();
    assert_eq!(recovered, challenge);

    // the stored archive is encrypted for the beneficiary and opens with its private key
    let stored = std::fs::read(location_path(&c.results)).unwrap();
    let files = common::unzip(&stored);
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        ["aes-key.rsa", "iexec_out.zip.aes"]
    );
    let plain_zip = arca_crypto::result::decrypt_result(&stored, &keypair.private_pem).unwrap();
    let inner = common::unzip(&plain_zip);
    assert_eq!(inner["result.txt"], expected_result);
    // a TEE app's logs stay out of the result
    assert!(!inner.contains_key("stdout.txt"), "{:?}", inner.keys());

    // nothing but the encrypted archive is left: no clear dataset, no clear result
    let dirs = TaskDirs::new(fx.work.path(), task_id);
    assert_eq!(
        fx.leftovers(),
        [
            dirs.root.clone(),
            dirs.output.clone(),
            dirs.output.join("encrypted-iexec_out.zip")
        ]
    );

    // the session was single-use: the same spec again gets a new session and a new result
    // archive (fresh AES key), with the same digest
    let again = computed(run_replicate(&spec, &fx.ctx).await);
    assert_eq!(again.result_digest, c.result_digest);
    assert_ne!(again.results, c.results);

    // a deal asking for a secret the requester never pushed: the SMS refuses, the app never runs
    let deal_id = stack
        .deal(
            &arca_testkit::DealSpec::new(&stack, app, pool)
                .tee()
                .params(r#"{"iexec_args":"tee","iexec_secrets":{"1":"absent"}}"#),
        )
        .await;
    let task_id = stack.initialize(deal_id, 0).await;
    let mut refused = spec.clone();
    refused.deal_id = deal_id;
    refused.task_id = task_id;
    refused.dataset = None;
    refused.params = DealParams {
        args: "tee".into(),
        secrets: BTreeMap::from([(1, "absent".into())]),
        ..Default::default()
    };
    refused.authorization =
        authorize(&http, &sms_url, &a.scheduler, worker.address(), task_id).await;
    let f = failed(run_replicate(&refused, &fx.ctx).await);
    assert_eq!(
        (f.stage, &f.cause),
        (Stage::PreCompute, &FailureCause::SecretNotReleased)
    );
    assert!(
        f.message.contains("requester-secret-missing") && f.message.contains("absent"),
        "{}",
        f.message
    );
    assert!(f.logs.is_none());
    // refused before the enclave had its key: the failure is the host's word only
    assert!(f.report.is_none());

    // the app fails inside the enclave: the failure (stage, cause, logs) comes signed by the
    // task's enclave challenge key, and any edit to it breaks the signature
    let deal_id = stack
        .deal(
            &arca_testkit::DealSpec::new(&stack, app, pool)
                .tee()
                .params(r#"{"iexec_args":"exit 4"}"#),
        )
        .await;
    let task_id = stack.initialize(deal_id, 0).await;
    let mut failing = spec.clone();
    failing.deal_id = deal_id;
    failing.task_id = task_id;
    failing.dataset = None;
    failing.params = DealParams {
        args: "exit 4".into(),
        ..Default::default()
    };
    failing.authorization =
        authorize(&http, &sms_url, &a.scheduler, worker.address(), task_id).await;
    let challenge = failing.authorization.enclave_challenge;
    let f = failed(run_replicate(&failing, &fx.ctx).await);
    assert_eq!(
        (f.stage, &f.cause),
        (Stage::Compute, &FailureCause::AppExitCode { code: 4 })
    );
    let report = f.report.clone().expect("a signed failure report");
    assert_eq!(report.signer, challenge);
    assert_eq!(report.log_digest, f.logs.as_ref().unwrap().digest());
    arca_worker::worker_key::verify_failure_report(&f, task_id, worker.address(), challenge)
        .unwrap();
    let mut forged = f.clone();
    forged.cause = FailureCause::Timeout;
    assert!(
        arca_worker::worker_key::verify_failure_report(
            &forged,
            task_id,
            worker.address(),
            challenge
        )
        .is_err()
    );

    // an app registered with an explicit entrypoint: the enclave measures it and the container
    // runs it (the image's own entrypoint would take the args' first word as its behaviour)
    let entrypoint = "/bin/sh /app/app.sh hello";
    let mrenclave = format!(
        r#"{{"framework":"TDX","version":"arca-sim/v1","entrypoint":"{entrypoint}","fingerprint":"{}"}}"#,
        hex::encode(arca_tee::sim::measure(&digest, entrypoint).unwrap())
    );
    let app = stack
        .app("tee-app-entrypoint", &fx.image, fx.image_id, &mrenclave)
        .await;
    let deal_id = stack
        .deal(
            &arca_testkit::DealSpec::new(&stack, app, pool)
                .tee()
                .params(r#"{"iexec_args":"from the deal"}"#),
        )
        .await;
    let task_id = stack.initialize(deal_id, 0).await;
    let mut with_entrypoint = spec.clone();
    with_entrypoint.deal_id = deal_id;
    with_entrypoint.task_id = task_id;
    with_entrypoint.app.address = app;
    with_entrypoint.app.mrenclave = mrenclave;
    with_entrypoint.dataset = None;
    with_entrypoint.params = DealParams {
        args: "from the deal".into(),
        ..Default::default()
    };
    with_entrypoint.authorization =
        authorize(&http, &sms_url, &a.scheduler, worker.address(), task_id).await;
    let c = computed(run_replicate(&with_entrypoint, &fx.ctx).await);
    assert_eq!(
        c.result_digest,
        B256::from(sha256(b"hello from the deal\n"))
    );
    drop(sms);
}

#[tokio::test]
async fn tee_task_is_refused_by_a_worker_without_an_enclave() {
    let fx = fixture().await;
    let mut spec = fx.spec("tee");
    spec.tee = Some(TeeSpec {
        sms_url: "http://127.0.0.1:9".into(),
        framework: "tdx".into(),
    });
    let f = failed(run_replicate(&spec, &fx.ctx).await);
    assert_eq!(f.cause, FailureCause::WorkerError);
    assert!(f.message.contains("no enclave"), "{}", f.message);
}

fn rand_key() -> [u8; 32] {
    let k = PrivateKeySigner::random();
    k.to_bytes().0
}
