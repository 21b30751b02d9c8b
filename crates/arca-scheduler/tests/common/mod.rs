//! Shared fixtures of the scheduler's end-to-end tests: a real chain (arca-testkit), a real
//! scheduler over HTTP, real agents, and [`FileExecute`], the stand-in for the container stage.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use arca_scheduler::api::TaskView;
use arca_scheduler::{SchedulerConfig, SchedulerHandle};
use arca_testkit::Stack;
use arca_worker::agent::{self, AgentConfig, AgentHandle, BoxFuture, Execute};
use arca_worker::logs::ComputeLogs;
use arca_worker::result::{ComputedFile, result_digest};
use arca_worker::task::{Computed, Failure, FailureCause, ReplicateOutcome, ReplicateSpec, Stage};

/// Stands in for the container stage only (the docker pipeline is tested in its own crate): it
/// really writes the app's output — `result.txt` containing `<greeting> <args>` — and
/// `computed.json` in a fresh directory, and computes the result digest with the worker's own
/// `result_digest`, exactly as post-compute does on a container's `/iexec_out`. Args containing
/// `fail` make it fail like an app exiting with code 3, with its stderr.
#[derive(Debug)]
pub struct FileExecute {
    /// What the "app" writes before the args; a different greeting = a different result.
    pub greeting: String,
    /// Keeps the output directories alive for the test's duration.
    pub dir: tempfile::TempDir,
}

impl FileExecute {
    pub fn new(greeting: &str) -> Arc<Self> {
        Arc::new(Self {
            greeting: greeting.into(),
            dir: tempfile::tempdir().expect("temp dir"),
        })
    }

    fn run(&self, spec: &ReplicateSpec) -> ReplicateOutcome {
        let out: PathBuf = self.dir.path().join(format!(
            "{}-{}",
            spec.task_id, spec.authorization.worker_wallet
        ));
        std::fs::create_dir_all(&out).expect("output dir");
        let stdout = format!("computing with args {:?}\n", spec.params.args);
        if spec.params.args.contains("fail") {
            return ReplicateOutcome::Failed(Box::new(Failure {
                stage: Stage::Compute,
                cause: FailureCause::AppExitCode { code: 3 },
                message: "the app exited with code 3; its last line: boom: cannot parse input"
                    .into(),
                logs: Some(ComputeLogs {
                    stdout,
                    stderr: "boom: cannot parse input\n".into(),
                    ..ComputeLogs::default()
                }),
                report: None,
            }));
        }
        std::fs::write(
            out.join("result.txt"),
            format!("{} {}", self.greeting, spec.params.args),
        )
        .expect("result file");
        let computed = ComputedFile {
            deterministic_output_path: Some("/iexec_out/result.txt".into()),
            ..ComputedFile::default()
        };
        std::fs::write(
            out.join("computed.json"),
            serde_json::to_vec(&computed).unwrap(),
        )
        .expect("computed.json");
        let digest: B256 = result_digest(&computed, &out, false)
            .expect("result digest")
            .parse()
            .unwrap();
        let location = serde_json::json!({
            "storage": "file",
            "location": format!("file://{}", out.display()),
        });
        ReplicateOutcome::Computed(Box::new(Computed {
            result_digest: digest,
            results: Bytes::from(location.to_string().into_bytes()),
            callback_data: Bytes::new(),
            enclave_signature: None,
            logs: ComputeLogs {
                stdout,
                ..ComputeLogs::default()
            },
            timings: Default::default(),
        }))
    }
}

impl Execute for FileExecute {
    fn execute<'a>(&'a self, spec: &'a ReplicateSpec) -> BoxFuture<'a, ReplicateOutcome> {
        Box::pin(async move { self.run(spec) })
    }
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}
/// Tracing, a fresh chain with PoCo, the "hello" app (image `arca/hello:1`, no checksum) and a
/// workerpool owned by the stack's scheduler actor: what most scheduler tests start from.
pub async fn hello_stack() -> (Stack, Address, Address) {
    init_tracing();
    let stack = Stack::start().await;
    let app = stack.app("hello", "arca/hello:1", B256::ZERO, "").await;
    let pool = stack.workerpool("pool").await;
    (stack, app, pool)
}

pub fn scheduler_config(
    stack: &Stack,
    pool: Address,
    data_dir: &std::path::Path,
) -> SchedulerConfig {
    let mut c = SchedulerConfig::new(stack.chain_conf(), stack.actors.scheduler.clone(), pool);
    c.listen = ([127, 0, 0, 1], 0).into();
    c.data_dir = Some(data_dir.to_path_buf());
    c.poll_interval = Duration::from_millis(200);
    c
}

pub async fn scheduler(
    stack: &Stack,
    pool: Address,
    data_dir: &std::path::Path,
) -> SchedulerHandle {
    arca_scheduler::spawn(scheduler_config(stack, pool, data_dir))
        .await
        .expect("starting the scheduler")
}

pub async fn agent(
    stack: &Stack,
    url: &str,
    signer: &PrivateKeySigner,
    execute: Arc<dyn Execute>,
) -> AgentHandle {
    let mut config = AgentConfig::new(url, signer.clone(), stack.chain_conf());
    config.poll_interval = Duration::from_millis(200);
    config.heartbeat_interval = Duration::from_secs(2);
    config.retry_for = Duration::from_secs(60);
    let api = Arc::new(arca_scheduler::client::Client::new(url));
    agent::spawn(config, api, execute)
        .await
        .expect("starting the agent")
}

/// A new funded worker wallet (1 ETH from the admin for gas).
pub async fn funded_worker(stack: &Stack) -> PrivateKeySigner {
    let signer = PrivateKeySigner::random();
    stack
        .client(&stack.actors.admin)
        .await
        .send_ether(signer.address(), U256::from(10u128.pow(18)))
        .await
        .expect("funding a worker");
    signer
}

/// Polls `GET /tasks/{id}` until `done` holds (panics with the last view after `secs`).
pub async fn wait_task(
    url: &str,
    task_id: B256,
    secs: u64,
    done: impl Fn(&TaskView) -> bool,
) -> TaskView {
    let client = arca_scheduler::client::Client::new(url);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut last = None;
    loop {
        if let Ok(view) = client.task(task_id).await {
            if done(&view) {
                return view;
            }
            last = Some(view);
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "task {task_id} did not reach the expected state in {secs}s; last view: {last:#?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Moves the chain clock forward by `secs` and mines a block.
pub async fn advance_time(stack: &Stack, secs: u64) {
    use alloy::providers::Provider;
    let client = stack.client(&stack.actors.admin).await;
    let p = client.provider();
    let _: serde_json::Value = p
        .raw_request("evm_increaseTime".into(), (secs,))
        .await
        .expect("evm_increaseTime");
    let _: serde_json::Value = p
        .raw_request("evm_mine".into(), ())
        .await
        .expect("evm_mine");
}

/// Gives `who` `nrlc` nRLC from the admin and deposits them into its escrow account (what a
/// requester pays with, a pool owner and workers stake from).
pub async fn fund_rlc(stack: &Stack, who: &PrivateKeySigner, nrlc: u64) {
    stack
        .client(&stack.actors.admin)
        .await
        .send_rlc(who.address(), U256::from(nrlc))
        .await
        .expect("sending RLC");
    stack
        .client(who)
        .await
        .deposit(U256::from(nrlc))
        .await
        .expect("depositing RLC");
}

/// An executor whose every replicate fails with `cause` (at `stage`), e.g. a result upload
/// failure: what a worker reports when its own environment, not the app, is at fault.
#[derive(Debug)]
pub struct FailingExecute {
    pub stage: Stage,
    pub cause: FailureCause,
    pub message: String,
}

impl FailingExecute {
    pub fn new(stage: Stage, cause: FailureCause, message: &str) -> Arc<Self> {
        Arc::new(Self {
            stage,
            cause,
            message: message.into(),
        })
    }
}

impl Execute for FailingExecute {
    fn execute<'a>(&'a self, _spec: &'a ReplicateSpec) -> BoxFuture<'a, ReplicateOutcome> {
        let failure = Failure {
            stage: self.stage,
            cause: self.cause.clone(),
            message: self.message.clone(),
            logs: None,
            report: None,
        };
        Box::pin(async move { ReplicateOutcome::Failed(Box::new(failure)) })
    }
}

/// The chain's latest block timestamp.
pub async fn chain_now(stack: &Stack) -> u64 {
    use alloy::providers::Provider;
    let client = stack.client(&stack.actors.admin).await;
    client
        .provider()
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .expect("latest block")
        .expect("a latest block")
        .header
        .timestamp
}

/// The restart scenario every store backend must survive: a trust-3 task gets its first
/// contribution, the scheduler (made by `config`) stops; a new one on the same state and address
/// finds the task RUNNING with that CONTRIBUTED replicate, a second worker joins, the first logs
/// in again to reveal, and the task COMPLETES on chain with two reveals. Returns the task id.
pub async fn restart_mid_task_and_complete(
    stack: &Stack,
    app: Address,
    pool: Address,
    config: impl Fn() -> SchedulerConfig,
) -> B256 {
    use arca_worker::agent::ReplicateStatus;
    let first = arca_scheduler::spawn(config())
        .await
        .expect("starting the scheduler");
    let url = first.url();
    let [w0, w1] = stack.actors.workers.clone();
    let a0 = agent(stack, &url, &w0, FileExecute::new("hello")).await;

    // trust 3 needs two contributions; the first worker contributes, then the scheduler stops
    let mut spec =
        arca_testkit::DealSpec::new(stack, app, pool).params(r#"{"iexec_args":"again"}"#);
    spec.trust = 3;
    let task_id = Stack::task_id(stack.deal(&spec).await, 0);
    wait_task(&url, task_id, 60, |v| {
        v.replicates
            .iter()
            .any(|r| r.status == ReplicateStatus::Contributed)
    })
    .await;
    let addr = first.addr();
    first.shutdown().await;

    // same state, same address: the task, its replicate and the deal cursor come back
    let mut again = config();
    again.listen = addr;
    let second = arca_scheduler::spawn(again)
        .await
        .expect("restarting the scheduler");
    let view = wait_task(&url, task_id, 10, |_| true).await;
    assert_eq!(view.status, "RUNNING");
    assert_eq!(view.replicates.len(), 1);
    assert_eq!(view.replicates[0].status, ReplicateStatus::Contributed);

    // a second worker joins; the first one (whose session died with the old scheduler) logs in
    // again to learn it must reveal
    let a1 = agent(stack, &url, &w1, FileExecute::new("hello")).await;
    let view = wait_task(&url, task_id, 60, |v| v.status == "COMPLETED").await;
    assert_eq!(view.replicates.len(), 2);
    assert!(
        view.replicates
            .iter()
            .all(|r| r.status == ReplicateStatus::Completed),
        "{view:#?}"
    );
    let task = stack
        .client(&stack.actors.requester)
        .await
        .task(task_id)
        .await
        .unwrap();
    assert_eq!(
        arca_client::poco::task_status_name(task.status),
        "COMPLETED"
    );
    assert_eq!(task.revealCounter, U256::from(2));
    a0.shutdown().await;
    a1.shutdown().await;
    second.shutdown().await;
    task_id
}
