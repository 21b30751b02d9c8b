//! The worker's agent: the loop that talks to its workerpool's scheduler and to the chain.
//!
//! It logs in (challenge signed by the worker wallet), heartbeats, asks for replicates, hands
//! each one to an [`Execute`] implementation (the container pipeline in production), reports
//! every step to the scheduler, and sends the chain transaction the scheduler asks for
//! (`contribute`, `reveal`, or `contributeAndFinalize` for trust-1 tasks). Failures are
//! reported with their [`Failure`] (stage, cause, message, app logs).
//!
//! The agent only knows the scheduler through [`SchedulerApi`] so this crate does not depend on
//! the scheduler's crate (which depends on this one for [`ReplicateSpec`]); the scheduler's
//! typed HTTP client (`arca_scheduler::client::Client`) implements it. The wire types of that
//! protocol ([`StatusReport`], [`NextAction`], [`ReplicateStatus`], [`WorkerInfo`]) live here,
//! next to the side that speaks first.
//!
//! Resilience: a scheduler restart invalidates the session token, so an `Unauthorized` answer
//! triggers a fresh login and one retry; unreachable-scheduler errors are retried with backoff,
//! so a report is not lost while the scheduler restarts.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use arca_client::Client;
use arca_client::project::ChainConf;
use serde::{Deserialize, Serialize};
use tokio::sync::{RwLock, Semaphore, watch};
use tracing::Instrument;

use crate::logs::ComputeLogs;
use crate::task::{Computed, Failure, FailureCause, ReplicateOutcome, ReplicateSpec, Stage};

/// A boxed, sendable future: what the object-safe traits of this module return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs one replicate: pre-compute, compute, post-compute. The production implementation is
/// the container pipeline; tests may use anything that really produces a result.
pub trait Execute: Send + Sync {
    /// Runs `spec` to a computed result or a failure (never panics on a bad app).
    fn execute<'a>(&'a self, spec: &'a ReplicateSpec) -> BoxFuture<'a, ReplicateOutcome>;
}

/// A replicate's status as reported by the worker or set by the scheduler (iExec's names,
/// iexec-protocol.md §6.2, plus `REJECTED` for a contribution outvoted by the consensus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReplicateStatus {
    /// Assigned, the worker has not reported yet.
    Created,
    /// The worker received it and started.
    Started,
    /// Result computed (digest known), not yet on chain.
    Computed,
    /// Pre-compute, compute or post-compute failed.
    ComputeFailed,
    /// `contribute` mined.
    Contributed,
    /// `contribute` failed.
    ContributeFailed,
    /// `reveal` mined.
    Revealed,
    /// `reveal` failed.
    RevealFailed,
    /// `contributeAndFinalize` mined (trust 1).
    ContributeAndFinalizeDone,
    /// `contributeAndFinalize` failed.
    ContributeAndFinalizeFailed,
    /// The task completed and this replicate's contribution is part of it.
    Completed,
    /// Its contribution differs from the consensus (it earns nothing, its stake is seized).
    Rejected,
    /// The task ended without this replicate completing (claimed, or stopped by the scheduler).
    Aborted,
    /// The worker stopped heartbeating before contributing; the task goes to another worker.
    WorkerLost,
}

impl ReplicateStatus {
    /// Failure statuses (the replicate stops; its [`Failure`] says why).
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Self::ComputeFailed
                | Self::ContributeFailed
                | Self::RevealFailed
                | Self::ContributeAndFinalizeFailed
        )
    }

    /// Statuses after which nothing more happens to the replicate.
    pub fn is_final(self) -> bool {
        self.is_failure()
            || matches!(
                self,
                Self::Completed
                    | Self::Rejected
                    | Self::Aborted
                    | Self::WorkerLost
                    | Self::ContributeAndFinalizeDone
            )
    }

    /// The SCREAMING_SNAKE_CASE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Started => "STARTED",
            Self::Computed => "COMPUTED",
            Self::ComputeFailed => "COMPUTE_FAILED",
            Self::Contributed => "CONTRIBUTED",
            Self::ContributeFailed => "CONTRIBUTE_FAILED",
            Self::Revealed => "REVEALED",
            Self::RevealFailed => "REVEAL_FAILED",
            Self::ContributeAndFinalizeDone => "CONTRIBUTE_AND_FINALIZE_DONE",
            Self::ContributeAndFinalizeFailed => "CONTRIBUTE_AND_FINALIZE_FAILED",
            Self::Completed => "COMPLETED",
            Self::Rejected => "REJECTED",
            Self::Aborted => "ABORTED",
            Self::WorkerLost => "WORKER_LOST",
        }
    }

    /// Parses [`Self::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        ALL_STATUSES.into_iter().find(|s| s.as_str() == text)
    }
}

const ALL_STATUSES: [ReplicateStatus; 14] = [
    ReplicateStatus::Created,
    ReplicateStatus::Started,
    ReplicateStatus::Computed,
    ReplicateStatus::ComputeFailed,
    ReplicateStatus::Contributed,
    ReplicateStatus::ContributeFailed,
    ReplicateStatus::Revealed,
    ReplicateStatus::RevealFailed,
    ReplicateStatus::ContributeAndFinalizeDone,
    ReplicateStatus::ContributeAndFinalizeFailed,
    ReplicateStatus::Completed,
    ReplicateStatus::Rejected,
    ReplicateStatus::Aborted,
    ReplicateStatus::WorkerLost,
];

/// What a worker tells the scheduler about one replicate (`POST /replicates/{taskId}/status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    /// The new status.
    pub status: ReplicateStatus,
    /// For failure statuses: stage, cause, message and the app's logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// `COMPUTED`: the result digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_digest: Option<B256>,
    /// `COMPUTED`: keccak256(taskId ‖ digest), the value the contribution commits to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_hash: Option<B256>,
    /// `COMPUTED`: the on-chain `results` bytes (the result location JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<Bytes>,
    /// `COMPUTED`: the callback data (deals with a callback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_data: Option<Bytes>,
    /// `COMPUTED`: the app's logs (capped by the worker, capped again by the scheduler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<ComputeLogs>,
    /// The transaction behind a chain status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<B256>,
}

impl StatusReport {
    /// A report with only a status.
    pub fn new(status: ReplicateStatus) -> Self {
        Self {
            status,
            failure: None,
            result_digest: None,
            result_hash: None,
            results: None,
            callback_data: None,
            logs: None,
            tx_hash: None,
        }
    }

    /// A failure report.
    pub fn failed(status: ReplicateStatus, failure: Failure) -> Self {
        Self {
            logs: failure.logs.clone(),
            failure: Some(failure),
            ..Self::new(status)
        }
    }

    /// A report of a mined transaction.
    pub fn mined(status: ReplicateStatus, tx_hash: B256) -> Self {
        Self {
            tx_hash: Some(tx_hash),
            ..Self::new(status)
        }
    }
}

/// What the scheduler wants the worker to do next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum NextAction {
    /// Go on with the current step.
    Continue,
    /// Nothing to do yet; ask again later.
    Wait,
    /// Send `contribute`.
    Contribute,
    /// Send `contributeAndFinalize` (trust-1 tasks).
    ContributeAndFinalize,
    /// Consensus reached on this worker's result: send `reveal`.
    Reveal,
    /// The task is done for this worker.
    Complete,
    /// Stop working on this replicate.
    Abort {
        /// Why, in plain words.
        reason: String,
    },
}

/// What a worker says about itself at login and at every heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerInfo {
    /// It can run TEE tasks.
    pub tee_enabled: bool,
    /// How many replicates it runs at once.
    pub max_tasks: u32,
    /// Tasks it is working on right now.
    #[serde(default)]
    pub running: Vec<B256>,
}

/// Why a call to the scheduler failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The session token is missing, unknown (scheduler restarted) or expired: log in again.
    #[error("not logged in: {0}")]
    Unauthorized(String),
    /// The scheduler refused the request for good (4xx): retrying the same request won't help.
    #[error("refused by the scheduler (HTTP {status}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The scheduler's message.
        message: String,
    },
    /// The scheduler is unreachable or failed (5xx): retry later.
    #[error("scheduler unavailable: {0}")]
    Unavailable(String),
}

/// The scheduler as the agent sees it (implemented by `arca_scheduler::client::Client`).
pub trait SchedulerApi: Send + Sync {
    /// `GET /workers/challenge`: a fresh single-use challenge for `wallet`.
    fn challenge(&self, wallet: Address) -> BoxFuture<'_, Result<String, ApiError>>;
    /// `POST /workers/login`: the challenge's EIP-191 signature → a session token.
    fn login<'a>(
        &'a self,
        wallet: Address,
        signature: &'a str,
        info: &'a WorkerInfo,
    ) -> BoxFuture<'a, Result<String, ApiError>>;
    /// `POST /workers/ping`: heartbeat.
    fn ping<'a>(
        &'a self,
        token: String,
        info: &'a WorkerInfo,
    ) -> BoxFuture<'a, Result<(), ApiError>>;
    /// `GET /replicates/available`: a replicate to run, or none.
    fn available(&self, token: String) -> BoxFuture<'_, Result<Option<ReplicateSpec>, ApiError>>;
    /// `POST /replicates/{taskId}/status`.
    fn report<'a>(
        &'a self,
        token: String,
        task_id: B256,
        report: &'a StatusReport,
    ) -> BoxFuture<'a, Result<NextAction, ApiError>>;
    /// `GET /replicates/{taskId}/next`: what to do now (after a contribution).
    fn next_action(
        &self,
        token: String,
        task_id: B256,
    ) -> BoxFuture<'_, Result<NextAction, ApiError>>;
}

/// How to run a worker agent.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The scheduler's URL (for logs; the [`SchedulerApi`] implementation is bound to it).
    pub scheduler_url: String,
    /// The worker wallet (signs the login and every transaction).
    pub signer: PrivateKeySigner,
    /// The chain (`host`, `hub`, optional `id`).
    pub chain: ChainConf,
    /// Whether this worker can run TEE tasks.
    pub tee_capable: bool,
    /// Replicates run at once (≥ 1).
    pub max_parallel: u32,
    /// How often to ask for work and for the next action.
    pub poll_interval: Duration,
    /// How often to heartbeat.
    pub heartbeat_interval: Duration,
    /// How long a report is retried while the scheduler is unreachable.
    pub retry_for: Duration,
}

impl AgentConfig {
    /// Defaults: 1 replicate at a time, polls every second, heartbeats every 10 s, retries reports
    /// for 5 minutes.
    pub fn new(
        scheduler_url: impl Into<String>,
        signer: PrivateKeySigner,
        chain: ChainConf,
    ) -> Self {
        Self {
            scheduler_url: scheduler_url.into(),
            signer,
            chain,
            tee_capable: false,
            max_parallel: 1,
            poll_interval: Duration::from_secs(1),
            heartbeat_interval: Duration::from_secs(10),
            retry_for: Duration::from_secs(300),
        }
    }
}

/// A running agent; dropping it does not stop it, [`AgentHandle::shutdown`] does.
#[derive(Debug)]
pub struct AgentHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl AgentHandle {
    /// Stops asking for work and waits for the loop to end (replicates in flight are dropped;
    /// the scheduler gives their tasks to other workers once their deadline logic allows).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Stops at once without waiting (what a killed worker does).
    pub fn abort(self) {
        self.task.abort();
    }
}

struct Inner {
    config: AgentConfig,
    api: Arc<dyn SchedulerApi>,
    execute: Arc<dyn Execute>,
    chain: Client,
    token: RwLock<Option<String>>,
    running: std::sync::Mutex<Vec<B256>>,
}

/// Connects to the chain and starts the agent in the background.
pub async fn spawn(
    config: AgentConfig,
    api: Arc<dyn SchedulerApi>,
    execute: Arc<dyn Execute>,
) -> crate::Result<AgentHandle> {
    if config.max_parallel == 0 {
        return Err(crate::Error::InvalidConfig {
            name: "max_parallel",
            reason: "is 0: set it to the number of replicates this worker may run at once (≥ 1)"
                .into(),
        });
    }
    let chain = Client::connect("worker", &config.chain, Some(config.signer.clone())).await?;
    let inner = Arc::new(Inner {
        config,
        api,
        execute,
        chain,
        token: RwLock::new(None),
        running: std::sync::Mutex::new(Vec::new()),
    });
    let (stop, stopped) = watch::channel(false);
    let worker = inner.config.signer.address();
    let task = tokio::spawn(run(inner, stopped).instrument(tracing::info_span!("agent", %worker)));
    Ok(AgentHandle { stop, task })
}

async fn run(inner: Arc<Inner>, mut stopped: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(inner.config.max_parallel as usize));
    let mut last_ping = tokio::time::Instant::now();
    tracing::info!(scheduler = %inner.config.scheduler_url, "agent started");
    loop {
        if *stopped.borrow() {
            break;
        }
        if last_ping.elapsed() >= inner.config.heartbeat_interval {
            let info = inner.info();
            if let Err(e) = inner.call(|t| inner.api.ping(t, &info)).await {
                tracing::warn!(error = %e, "heartbeat failed");
            }
            last_ping = tokio::time::Instant::now();
        }
        // Only ask for work when a slot is free: the scheduler counts what it hands out.
        if let Ok(permit) = slots.clone().try_acquire_owned() {
            match inner.call(|t| inner.api.available(t)).await {
                Ok(Some(spec)) => {
                    let inner = inner.clone();
                    let span = tracing::info_span!("replicate", task_id = %spec.task_id, deal_id = %spec.deal_id);
                    inner
                        .running
                        .lock()
                        .expect("running list")
                        .push(spec.task_id);
                    tokio::spawn(
                        async move {
                            inner.replicate(&spec).await;
                            inner
                                .running
                                .lock()
                                .expect("running list")
                                .retain(|t| *t != spec.task_id);
                            drop(permit);
                        }
                        .instrument(span),
                    );
                    // More work may be waiting: ask again right away.
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "asking for work failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(inner.config.poll_interval) => {}
            _ = stopped.changed() => {}
        }
    }
    tracing::info!("agent stopped");
}

impl Inner {
    fn address(&self) -> Address {
        self.config.signer.address()
    }

    fn info(&self) -> WorkerInfo {
        WorkerInfo {
            tee_enabled: self.config.tee_capable,
            max_tasks: self.config.max_parallel,
            running: self.running.lock().expect("running list").clone(),
        }
    }

    /// Logs in: challenge, EIP-191 signature of its bytes, token.
    async fn login(&self) -> Result<String, ApiError> {
        let wallet = self.address();
        let challenge = self.api.challenge(wallet).await?;
        let signature = self
            .config
            .signer
            .sign_message_sync(challenge.as_bytes())
            .map_err(|e| ApiError::Refused {
                status: 0,
                message: format!("signing the login challenge: {e}"),
            })?;
        let signature = format!("0x{}", hex::encode(signature.as_bytes()));
        let token = self.api.login(wallet, &signature, &self.info()).await?;
        tracing::info!("logged in to the scheduler");
        Ok(token)
    }

    /// Calls `f` with a valid token, logging in first if needed and once more if the scheduler
    /// forgot the session (restart).
    async fn call<'f, T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: Fn(String) -> BoxFuture<'f, Result<T, ApiError>>,
    {
        for attempt in 0..2 {
            // (bound first: a guard in the match scrutinee would live through the write below)
            let current = self.token.read().await.clone();
            let token = match current {
                Some(t) => t,
                None => {
                    let t = self.login().await?;
                    *self.token.write().await = Some(t.clone());
                    t
                }
            };
            match f(token).await {
                Err(ApiError::Unauthorized(why)) if attempt == 0 => {
                    tracing::info!(reason = %why, "session lost, logging in again");
                    *self.token.write().await = None;
                }
                other => return other,
            }
        }
        Err(ApiError::Unauthorized(
            "the scheduler refused a fresh session".into(),
        ))
    }

    /// Like [`Self::call`], retrying while the scheduler is unavailable (restarting).
    async fn call_retrying<'f, T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: Fn(String) -> BoxFuture<'f, Result<T, ApiError>>,
    {
        let deadline = tokio::time::Instant::now() + self.config.retry_for;
        let mut pause = Duration::from_millis(200);
        loop {
            match self.call(&f).await {
                Err(ApiError::Unavailable(why)) if tokio::time::Instant::now() < deadline => {
                    tracing::warn!(reason = %why, retry_in = ?pause, "scheduler unavailable, retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }

    async fn report(&self, task_id: B256, report: &StatusReport) -> Option<NextAction> {
        match self
            .call_retrying(|t| self.api.report(t, task_id, report))
            .await
        {
            Ok(action) => Some(action),
            Err(e) => {
                tracing::error!(status = report.status.as_str(), error = %e, "report lost");
                None
            }
        }
    }

    /// One replicate from start to its last transaction.
    async fn replicate(&self, spec: &ReplicateSpec) {
        let task_id = spec.task_id;
        match self
            .report(task_id, &StatusReport::new(ReplicateStatus::Started))
            .await
        {
            Some(NextAction::Continue) => {}
            Some(NextAction::Abort { reason }) => {
                tracing::info!(%reason, "the scheduler stopped the replicate before it ran");
                return;
            }
            other => {
                tracing::warn!(answer = ?other, "unexpected answer to STARTED; stopping");
                return;
            }
        }
        let computed = match self.execute.execute(spec).await {
            ReplicateOutcome::Computed(c) => c,
            ReplicateOutcome::Failed(failure) => {
                tracing::warn!(stage = ?failure.stage, cause = ?failure.cause, message = %failure.message, "replicate failed");
                self.report(
                    task_id,
                    &StatusReport::failed(ReplicateStatus::ComputeFailed, *failure),
                )
                .await;
                return;
            }
        };
        let worker = self.address();
        let digest = computed.result_digest;
        let result_hash = keccak256([task_id.as_slice(), digest.as_slice()].concat());
        let report = StatusReport {
            result_digest: Some(digest),
            result_hash: Some(result_hash),
            results: Some(computed.results.clone()),
            callback_data: Some(computed.callback_data.clone()),
            logs: Some(computed.logs.clone()),
            ..StatusReport::new(ReplicateStatus::Computed)
        };
        let mut action = self.report(task_id, &report).await;
        loop {
            match action {
                None | Some(NextAction::Complete) => return,
                Some(NextAction::Abort { reason }) => {
                    tracing::info!(%reason, "replicate stopped by the scheduler");
                    return;
                }
                Some(NextAction::ContributeAndFinalize) => {
                    let sent = self.contribute_and_finalize(spec, &computed).await;
                    let report = match sent {
                        Ok(tx) => {
                            StatusReport::mined(ReplicateStatus::ContributeAndFinalizeDone, tx)
                        }
                        Err(f) => {
                            StatusReport::failed(ReplicateStatus::ContributeAndFinalizeFailed, f)
                        }
                    };
                    action = self.report(task_id, &report).await;
                    if matches!(action, Some(NextAction::Wait)) {
                        return;
                    }
                }
                Some(NextAction::Contribute) => {
                    let seal = keccak256(
                        [worker.as_slice(), task_id.as_slice(), digest.as_slice()].concat(),
                    );
                    let enclave_sign = computed.enclave_signature.clone().unwrap_or_default();
                    let sent = self
                        .contribute(
                            task_id,
                            result_hash,
                            seal,
                            spec.authorization.enclave_challenge,
                            enclave_sign,
                            spec.authorization.signature.clone(),
                        )
                        .await;
                    let report = match sent {
                        Ok(tx) => {
                            tracing::info!(%tx, "contributed");
                            StatusReport::mined(ReplicateStatus::Contributed, tx)
                        }
                        Err(e) => StatusReport::failed(
                            ReplicateStatus::ContributeFailed,
                            chain_failure("contribute", &e),
                        ),
                    };
                    action = self.report(task_id, &report).await;
                }
                Some(NextAction::Reveal) => {
                    let report = match self.chain.reveal(task_id, digest).await {
                        Ok(s) => {
                            tracing::info!(tx = %s.tx_hash, "revealed");
                            StatusReport::mined(ReplicateStatus::Revealed, s.tx_hash)
                        }
                        Err(e) => StatusReport::failed(
                            ReplicateStatus::RevealFailed,
                            chain_failure("reveal", &e),
                        ),
                    };
                    action = self.report(task_id, &report).await;
                }
                Some(NextAction::Wait) | Some(NextAction::Continue) => {
                    tokio::time::sleep(self.config.poll_interval).await;
                    action = match self
                        .call_retrying(|t| self.api.next_action(t, task_id))
                        .await
                    {
                        Ok(a) => Some(a),
                        Err(e) => {
                            tracing::error!(error = %e, "cannot learn the next action; giving up on the replicate");
                            None
                        }
                    };
                }
            }
        }
    }

    /// `contribute`, with a gas margin: the gas a contribution needs depends on whether it
    /// completes the consensus (a loop over the contributors and the switch to REVEALING), so
    /// an estimate made just before another worker's contribution lands can fall short.
    async fn contribute(
        &self,
        task_id: B256,
        result_hash: B256,
        seal: B256,
        enclave_challenge: Address,
        enclave_sign: Bytes,
        authorization: Bytes,
    ) -> Result<B256, String> {
        let call = self
            .chain
            .hub()
            .contribute(
                task_id,
                result_hash,
                seal,
                enclave_challenge,
                enclave_sign,
                authorization,
            )
            .from(self.address());
        let estimate = call.estimate_gas().await.map_err(|e| e.to_string())?;
        let pending = call
            .gas(estimate.saturating_mul(2).saturating_add(100_000))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let receipt = pending.get_receipt().await.map_err(|e| e.to_string())?;
        if !receipt.status() {
            return Err(format!("transaction {} reverted", receipt.transaction_hash));
        }
        Ok(receipt.transaction_hash)
    }

    async fn contribute_and_finalize(
        &self,
        spec: &ReplicateSpec,
        computed: &Computed,
    ) -> Result<B256, Failure> {
        let sent = self
            .chain
            .contribute_and_finalize(
                spec.task_id,
                computed.result_digest,
                computed.results.clone(),
                computed.callback_data.clone(),
                spec.authorization.enclave_challenge,
                computed.enclave_signature.clone().unwrap_or_default(),
                spec.authorization.signature.clone(),
            )
            .await
            .map_err(|e| chain_failure("contributeAndFinalize", &e))?;
        tracing::info!(tx = %sent.tx_hash, "contributed and finalized");
        Ok(sent.tx_hash)
    }
}

fn chain_failure(call: &str, err: &dyn std::fmt::Display) -> Failure {
    Failure {
        stage: Stage::Contribute,
        cause: FailureCause::ChainTransactionFailed,
        message: format!(
            "the worker's `{call}` transaction failed: {err}. The scheduler gives the task to another worker while its contribution deadline allows."
        ),
        logs: None,
        report: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_by_name_and_json() {
        for s in ALL_STATUSES {
            assert_eq!(ReplicateStatus::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert_eq!(ReplicateStatus::parse("NOPE"), None);
    }

    #[test]
    fn next_action_is_tagged() {
        let a = NextAction::Abort {
            reason: "late".into(),
        };
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"action": "abort", "reason": "late"})
        );
        let back: NextAction =
            serde_json::from_value(serde_json::json!({"action": "contribute-and-finalize"}))
                .unwrap();
        assert_eq!(back, NextAction::ContributeAndFinalize);
    }

    #[test]
    fn failure_statuses_are_final() {
        for s in ALL_STATUSES {
            if s.is_failure() {
                assert!(s.is_final(), "{s:?}");
            }
        }
        assert!(!ReplicateStatus::Contributed.is_final());
        assert!(!ReplicateStatus::Revealed.is_final());
    }
}
