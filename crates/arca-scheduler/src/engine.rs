//! The scheduler's work: follow the pool's deals, initialize their tasks, hand replicates to
//! workers, answer their reports, and drive each task on chain (finalize after the reveals,
//! reopen when nobody revealed, claim after the final deadline, or end it early with
//! `abortTask` when several workers failed it for a cause retrying cannot fix). All decisions
//! are taken from the chain's state plus the store, so a restarted scheduler carries on where
//! it stopped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::signers::SignerSync;
use arca_client::poco::{Task, task_status_name};
use arca_worker::agent::{NextAction, ReplicateStatus, StatusReport};
use arca_worker::logs::{ComputeLogs, DEFAULT_LOG_CAP};
use arca_worker::task::{
    AppSpec, DatasetSpec, DealParams, FailureCause, ReplicateSpec, TeeSpec, WorkerpoolAuthorization,
};
use arca_worker::worker_key::{authorization_hash, verify_failure_report};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::api::{Deadlines, ReplicateLogs, ReplicateView, TaskView};
use crate::chain::{CONTRIBUTION_PROVED, Chain, LOG_RANGE};
use crate::config::SchedulerConfig;
use crate::error::{Result, SchedulerError};
use crate::store::{ReplicateRow, Store, TaskRow, TaskStatus, WorkerRow};

const ACTIVE: u8 = 1;
const REVEALING: u8 = 2;
const COMPLETED: u8 = 3;
const FAILED: u8 = 4;
/// Tasks per `initializeArray` transaction.
const INITIALIZE_BATCH: usize = 50;
/// The `cause` of a task's `failure` record when the workerpool ended it early (`abortTask`).
pub const ENDED_EARLY: &str = "ended-early";

/// The scheduler's state and logic, shared by the HTTP handlers and the chain loop.
#[derive(Debug)]
pub struct Engine {
    pub(crate) store: Store,
    pub(crate) chain: Chain,
    pub(crate) config: SchedulerConfig,
    http: reqwest::Client,
    /// Serializes assignments so two workers asking at once cannot over-replicate a task.
    assign: tokio::sync::Mutex<()>,
    /// When each worker was last heard from by this process (unix seconds). Counts the workers
    /// alive for the early-fail threshold; empty after a restart until workers come back, and
    /// then no task is ended early (the store cannot list its workers).
    seen: Mutex<HashMap<Address, u64>>,
}

/// Why a task should be ended early: enough distinct workers failed it for a deterministic
/// cause (see [`early_failure`]).
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyFailure {
    /// Distinct workers whose replicate failed deterministically.
    pub workers: usize,
    /// The last such worker's cause.
    pub cause: FailureCause,
    /// The last such worker.
    pub last_worker: Address,
    /// The last such worker's message (what the requester can do about it).
    pub last_message: String,
}

impl EarlyFailure {
    /// The kebab-case name of the cause (`app-exit-code`, …).
    pub fn cause_name(&self) -> String {
        serde_json::to_value(&self.cause)
            .ok()
            .and_then(|v| v.get("cause").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| format!("{:?}", self.cause))
    }

    /// The `cause` argument of `abortTask`: keccak256 of the cause's JSON as recorded in the
    /// task's failure (`failureCause`), so anyone holding the record can check the event.
    pub fn digest(&self) -> B256 {
        keccak256(serde_json::to_vec(&self.cause).unwrap_or_default())
    }

    /// The task's `failure` record; `tx` is the `abortTask` transaction once it is mined.
    pub fn record(&self, tx: Option<B256>) -> Value {
        let name = self.cause_name();
        let mut message = format!(
            "the workerpool ended the task early, before its final deadline: {} worker(s) failed it with {name}, a cause retrying elsewhere cannot fix (last worker {}: {})",
            self.workers, self.last_worker, self.last_message
        );
        match tx {
            Some(tx) => message.push_str(&format!(
                "; the task was claimed on chain (abortTask, tx {tx}) and the requester was refunded in full"
            )),
            None => message
                .push_str("; abortTask is being sent, which refunds the requester in full"),
        }
        json!({
            "cause": ENDED_EARLY,
            "endedBy": "workerpool",
            "reason": name,
            "failureCause": self.cause,
            "causeDigest": self.digest(),
            "workers": self.workers,
            "lastWorker": self.last_worker,
            "lastWorkerMessage": self.last_message,
            "refunded": tx.is_some(),
            "abortTx": tx,
            "message": message,
        })
    }
}

/// The early-fail threshold: `fail_early_after` distinct workers, at most the workers alive
/// (nobody else would retry), `None` when disabled (0) or when no worker is known alive (after
/// a restart: wait for them rather than judge on a partial view).
pub fn fail_early_threshold(configured: u32, alive: usize) -> Option<usize> {
    let threshold = (configured as usize).min(alive);
    (threshold > 0).then_some(threshold)
}

/// Whether `threshold` distinct workers failed these replicates for a deterministic cause
/// ([`FailureCause::is_deterministic`]); the last of them (assignment order) names the cause.
pub fn early_failure(replicates: &[ReplicateRow], threshold: usize) -> Option<EarlyFailure> {
    let mut workers = BTreeSet::new();
    let mut last = None;
    for r in replicates.iter().filter(|r| failed_deterministically(r)) {
        if let Some(f) = &r.failure {
            workers.insert(r.worker);
            last = Some((r.worker, f));
        }
    }
    let (last_worker, f) = last?;
    (threshold > 0 && workers.len() >= threshold).then(|| EarlyFailure {
        workers: workers.len(),
        cause: f.cause.clone(),
        last_worker,
        last_message: f.message.clone(),
    })
}

/// The replicate failed for a cause retrying elsewhere cannot fix.
fn failed_deterministically(r: &ReplicateRow) -> bool {
    r.status.is_failure()
        && r.failure
            .as_ref()
            .is_some_and(|f| f.cause.is_deterministic())
}

/// A `failure` record saying the task was ended early (final, or decided and being sent).
fn is_ended_early(failure: Option<&Value>) -> bool {
    failure.is_some_and(|f| f["cause"] == ENDED_EARLY)
}

/// The consensus weight of a worker with `score` (PoCo: `max(score / 3, 3) − 1`).
pub fn weight_of(score: U256) -> u64 {
    let s = u64::try_from(score).unwrap_or(u64::MAX);
    (s / 3).max(3) - 1
}

/// Whether a task needs another replicate: PoCo's vote (`group·trust > total·(trust − 1)`,
/// `total` starting at 1) is simulated over the contributions made, with the replicates still
/// running counted as joining the best group (iexec-core's prediction, §6.2). If consensus is
/// possible that way, one more worker would be wasted.
pub fn needs_more_contributions(trust: u64, replicates: &[ReplicateRow]) -> bool {
    let trust = trust.max(1) as u128;
    let mut total: u128 = 1;
    let mut groups: BTreeMap<B256, u128> = BTreeMap::new();
    let mut pending: Vec<u128> = Vec::new();
    for r in replicates {
        use ReplicateStatus::*;
        match r.status {
            Contributed | Revealed | Completed | ContributeAndFinalizeDone => {
                if let Some(h) = r.result_hash {
                    let g = groups.entry(h).or_insert(0);
                    let delta = (*g).max(1) * r.weight as u128 - *g;
                    *g += delta;
                    total += delta;
                }
            }
            Created | Started | Computed => pending.push(r.weight as u128),
            // failed, rejected or aborted replicates will not contribute
            _ => {}
        }
    }
    let mut best = groups.values().copied().max().unwrap_or(0);
    for w in pending {
        let delta = best.max(1) * w - best;
        best += delta;
        total += delta;
    }
    best * trust <= total * (trust - 1)
}

/// Why a REJECTED replicate (which has no failure of its own) was rejected, for its view: its
/// contribution lost the vote, or it won a consensus nobody revealed in time (reopen).
fn rejection_reason(r: &ReplicateRow, ct: Option<&Task>) -> Option<String> {
    if r.status != ReplicateStatus::Rejected {
        return None;
    }
    let consensus = ct.map(|c| c.consensusValue).filter(|v| *v != B256::ZERO);
    Some(match (r.result_hash, consensus) {
        (Some(hash), Some(consensus)) if hash != consensus => format!(
            "its contribution (result hash {hash}) differs from the consensus ({consensus}): it may not be revealed, earns no reward, and its stake is seized and its score cut by a third when the task completes"
        ),
        _ => "nobody revealed the consensus it contributed to before the reveal deadline: the task was reopened and this contribution rejected (its stake is seized if the task completes)".into(),
    })
}

/// The request params of §2.6; a params string that is not a JSON object is the args.
pub fn decode_params(params: &str) -> DealParams {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(params) else {
        return DealParams {
            args: params.to_string(),
            result_storage_provider: "ipfs".into(),
            ..DealParams::default()
        };
    };
    let string = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_string);
    DealParams {
        args: string("iexec_args").unwrap_or_default(),
        input_files: map
            .get("iexec_input_files")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        secrets: map
            .get("iexec_secrets")
            .and_then(Value::as_object)
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default(),
        result_encryption: map
            .get("iexec_result_encryption")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        result_storage_provider: string("iexec_result_storage_provider")
            .unwrap_or_else(|| "ipfs".into()),
        result_storage_proxy: string("iexec_result_storage_proxy"),
    }
}

/// The TEE framework named by a deal tag (bit 3 TDX, bit 1 Scone, bit 2 Gramine).
pub fn tee_framework(tag: B256) -> &'static str {
    let last = tag[31];
    if last & 0x08 != 0 {
        "tdx"
    } else if last & 0x02 != 0 {
        "scone"
    } else if last & 0x04 != 0 {
        "gramine"
    } else {
        "tdx"
    }
}

fn cap(text: &mut String, dropped: &mut u64) {
    if text.len() > DEFAULT_LOG_CAP {
        let mut cut = text.len() - DEFAULT_LOG_CAP;
        while !text.is_char_boundary(cut) {
            cut += 1;
        }
        *dropped += cut as u64;
        text.drain(..cut);
    }
}

/// Logs are capped here too: a worker is not trusted to respect the cap.
fn cap_logs(mut logs: ComputeLogs) -> ComputeLogs {
    cap(&mut logs.stdout, &mut logs.stdout_dropped);
    cap(&mut logs.stderr, &mut logs.stderr_dropped);
    logs
}

fn exit_code(r: &ReplicateRow) -> Option<i64> {
    match r.failure.as_ref().map(|f| &f.cause) {
        Some(FailureCause::AppExitCode { code }) => Some(*code),
        _ => None,
    }
}

impl Engine {
    pub(crate) fn new(store: Store, chain: Chain, config: SchedulerConfig) -> Self {
        Self {
            store,
            chain,
            config,
            http: reqwest::Client::new(),
            assign: tokio::sync::Mutex::new(()),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records a login, heartbeat or report of a worker (store, and the alive count).
    pub(crate) fn worker_seen(&self, w: &WorkerRow) -> Result<()> {
        self.store.upsert_worker(w)?;
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(w.address, w.last_seen);
        Ok(())
    }

    /// Workers heard from within `worker_timeout` that could take the task (a TEE task only
    /// goes to TEE workers, so only they could still retry it).
    fn workers_alive(&self, tee: bool) -> Result<usize> {
        let now = crate::server::unix_now();
        let timeout = self.config.worker_timeout.as_secs();
        let alive: Vec<Address> = self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|&(_, &last)| now.saturating_sub(last) <= timeout)
            .map(|(&a, _)| a)
            .collect();
        if !tee {
            return Ok(alive.len());
        }
        let mut count = 0;
        for a in alive {
            if self.store.worker(a)?.is_some_and(|w| w.tee) {
                count += 1;
            }
        }
        Ok(count)
    }

    /// One round of chain work: new deals, initializations, every open task.
    pub async fn tick(&self) -> Result<()> {
        self.follow_deals().await?;
        self.initialize_received().await?;
        let now = self.chain.now().await?;
        self.lost_workers()?;
        for task in self.store.open_tasks()? {
            if task.status == TaskStatus::Received {
                continue;
            }
            let span =
                tracing::info_span!("task", task_id = %task.task_id, deal_id = %task.deal_id);
            if let Err(e) = self.drive(task.clone(), now).instrument(span).await {
                tracing::warn!(task_id = %task.task_id, error = %e, "driving the task failed; retrying next round");
                let mut t = task;
                t.note = Some(e.to_string());
                self.store.save_task(&t)?;
            }
        }
        Ok(())
    }

    /// Replicates whose worker stopped heartbeating before contributing become WORKER_LOST, so
    /// their task goes to another worker (a contribution already on chain stays: it counts).
    fn lost_workers(&self) -> Result<()> {
        let timeout = self.config.worker_timeout.as_secs();
        let now = crate::server::unix_now();
        for task in self.store.open_tasks()? {
            if !matches!(task.status, TaskStatus::Running) {
                continue;
            }
            for mut r in self.store.replicates(task.task_id)? {
                if !matches!(
                    r.status,
                    ReplicateStatus::Created | ReplicateStatus::Started | ReplicateStatus::Computed
                ) {
                    continue;
                }
                let last_seen = self.store.worker(r.worker)?.map_or(0, |w| w.last_seen);
                if now.saturating_sub(last_seen) > timeout {
                    tracing::warn!(task_id = %task.task_id, worker = %r.worker, last_seen, "worker lost; the task is offered to others");
                    r.status = ReplicateStatus::WorkerLost;
                    self.store.save_replicate(&r)?;
                }
            }
        }
        Ok(())
    }

    /// Records the tasks of new `SchedulerNotice` deals, range by range, cursor in the same
    /// transaction as the tasks.
    async fn follow_deals(&self) -> Result<()> {
        let latest = self.chain.block_number().await?;
        let mut from = match self.store.cursor()? {
            Some(c) => c + 1,
            None => self.config.from_block,
        };
        while from <= latest {
            let to = (from + LOG_RANGE - 1).min(latest);
            let mut rows = Vec::new();
            for deal_id in self.chain.scheduler_notices(from, to).await? {
                let deal = self.chain.deal(deal_id).await?;
                let first = u64::try_from(deal.botFirst).unwrap_or(0);
                let size = u64::try_from(deal.botSize).unwrap_or(0);
                let trust = u64::try_from(deal.trust).unwrap_or(u64::MAX).max(1);
                let tee = deal.tag[31] & 0x01 != 0;
                tracing::info!(%deal_id, tasks = size, trust, tee, "new deal");
                for index in first..first + size {
                    rows.push(TaskRow {
                        task_id: arca_client::poco::task_id(deal_id, index),
                        deal_id,
                        index,
                        trust,
                        tee,
                        status: TaskStatus::Received,
                        enclave_challenge: None,
                        failure: None,
                        result_location: None,
                        note: None,
                    });
                }
            }
            self.store.add_tasks(&rows, to)?;
            from = to + 1;
        }
        Ok(())
    }

    /// Initializes RECEIVED tasks in one `initializeArray` (those not yet ACTIVE), then gets the
    /// enclave challenge of TEE tasks from the SMS.
    async fn initialize_received(&self) -> Result<()> {
        let received: Vec<TaskRow> = self
            .store
            .open_tasks()?
            .into_iter()
            .filter(|t| t.status == TaskStatus::Received)
            .collect();
        if received.is_empty() {
            return Ok(());
        }
        let mut deals = Vec::new();
        let mut indexes = Vec::new();
        for t in &received {
            // Already initialized by a previous run (crash after the transaction) or by anyone.
            if self.chain.task(t.task_id).await?.status == 0 {
                deals.push(t.deal_id);
                indexes.push(t.index);
            }
        }
        // Chunks keep each transaction well under the block gas limit (~100k gas per task).
        for (deals, indexes) in deals
            .chunks(INITIALIZE_BATCH)
            .zip(indexes.chunks(INITIALIZE_BATCH))
        {
            let count = deals.len();
            match self
                .chain
                .initialize_array(deals.to_vec(), indexes.to_vec())
                .await
            {
                Ok(tx) => tracing::info!(%tx, tasks = count, "tasks initialized"),
                Err(e) => {
                    for mut t in received {
                        t.note = Some(format!("initialize failed, retrying: {e}"));
                        self.store.save_task(&t)?;
                    }
                    return Err(e);
                }
            }
        }
        for mut t in received {
            if t.tee {
                match self.enclave_challenge(t.task_id).await {
                    Ok(c) => {
                        t.enclave_challenge = Some(c);
                        t.note = None;
                    }
                    Err(e) => {
                        tracing::warn!(task_id = %t.task_id, error = %e, "no enclave challenge yet");
                        t.note = Some(format!("waiting for the SMS enclave challenge: {e}"));
                        self.store.save_task(&t)?;
                        continue;
                    }
                }
            } else {
                t.enclave_challenge = Some(Address::ZERO);
                t.note = None;
            }
            t.status = TaskStatus::Initialized;
            self.store.save_task(&t)?;
        }
        Ok(())
    }

    /// `POST {sms}/tee/challenges/{taskId}`, authenticated by the owner's personal_sign of
    /// keccak256(taskId).
    async fn enclave_challenge(&self, task_id: B256) -> Result<Address> {
        let sms = self.config.sms_url.as_deref().ok_or_else(|| SchedulerError::Service {
            service: "sms",
            message: "this is a TEE task but the scheduler has no SMS URL: set `sms_url` in its configuration".into(),
        })?;
        let signature = self
            .config
            .owner
            .sign_message_sync(keccak256(task_id).as_slice())
            .map_err(|e| SchedulerError::Config(format!("signing with the owner key: {e}")))?;
        let err = |message: String| SchedulerError::Service {
            service: "sms",
            message,
        };
        let response = self
            .http
            .post(format!(
                "{}/tee/challenges/{task_id}",
                sms.trim_end_matches('/')
            ))
            .header(
                "Authorization",
                format!("0x{}", hex::encode(signature.as_bytes())),
            )
            .send()
            .await
            .map_err(|e| err(format!("{sms} unreachable: {e}")))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| err(format!("reading the answer: {e}")))?;
        if !status.is_success() {
            return Err(err(format!("HTTP {status}: {body}")));
        }
        body.trim()
            .parse()
            .map_err(|_| err(format!("the enclave challenge {body:?} is not an address")))
    }

    /// Moves one task forward according to its on-chain state.
    async fn drive(&self, mut task: TaskRow, now: u64) -> Result<()> {
        let ct = self.chain.task(task.task_id).await?;
        let final_deadline = u64::try_from(ct.finalDeadline).unwrap_or(u64::MAX);
        match ct.status {
            COMPLETED => self.completed(task, &ct).await,
            FAILED => {
                let failure = match task.failure.take() {
                    // our abortTask was mined but the row was not settled (crash, or a lost
                    // answer): the decision recorded before sending it says why
                    Some(mut f) if is_ended_early(Some(&f)) => {
                        f["refunded"] = json!(true);
                        f["message"] = json!(format!(
                            "{}; the task is FAILED on chain: the requester was refunded in full",
                            f["message"].as_str().unwrap_or_default()
                        ));
                        f
                    }
                    // claim is impossible before the final deadline: only the workerpool owner
                    // can fail a task earlier (abortTask), e.g. another instance of this pool
                    _ if now < final_deadline => json!({
                        "cause": ENDED_EARLY,
                        "endedBy": "workerpool",
                        "refunded": true,
                        "message": "the workerpool ended the task early, before its final deadline (abortTask); the requester was refunded in full",
                    }),
                    _ => {
                        json!({"cause": "claimed", "message": "the task was claimed after its final deadline without a result; the requester was refunded"})
                    }
                };
                self.failed(task, failure)
            }
            ACTIVE | REVEALING if now >= final_deadline => {
                let tx = self.chain.claim(task.task_id).await?;
                tracing::info!(task_id = %task.task_id, %tx, "final deadline passed: claimed");
                self.failed(
                    task,
                    json!({
                        "cause": "final-deadline-reached",
                        "message": format!("no result before the final deadline ({final_deadline}); the scheduler claimed the task (tx {tx}) and the requester was refunded"),
                        "claimTx": tx,
                    }),
                )
            }
            REVEALING => {
                // a consensus came first: an early end decided meanwhile is void
                if is_ended_early(task.failure.as_ref()) {
                    task.failure = None;
                    self.store.save_task(&task)?;
                }
                self.revealing(task, &ct, now).await
            }
            ACTIVE => {
                if self.end_early_if_due(&mut task, &ct).await? {
                    return Ok(());
                }
                let contribution = u64::try_from(ct.contributionDeadline).unwrap_or(u64::MAX);
                let note = (now >= contribution).then(|| {
                    format!(
                        "contribution deadline ({contribution}) passed without consensus; the task will be claimed at its final deadline ({final_deadline}) to refund the requester"
                    )
                });
                if task.status == TaskStatus::ConsensusReached {
                    // back to ACTIVE: a reopen happened (ours, maybe before a crash)
                    task.status = TaskStatus::Running;
                }
                if note != task.note {
                    task.note = note;
                    self.store.save_task(&task)?;
                }
                Ok(())
            }
            other => Err(SchedulerError::Chain(format!(
                "task {} is {} on chain although it was initialized",
                task.task_id,
                task_status_name(other)
            ))),
        }
    }

    /// The early-fail policy on an ACTIVE task: once enough distinct workers failed it for a
    /// deterministic cause ([`early_failure`], threshold [`fail_early_threshold`]), send
    /// `abortTask` so the requester is refunded now instead of at the final deadline (the
    /// payout is claim's; the pool loses its stake either way). Not while a contribution is on
    /// chain: a worker that did contribute keeps its chance of a consensus. The decision is
    /// stored before the transaction, so a restart after it was mined settles the row with it
    /// (the FAILED arm of [`Self::drive`]); a decision no longer due is withdrawn.
    async fn end_early_if_due(&self, task: &mut TaskRow, ct: &Task) -> Result<bool> {
        let decided = is_ended_early(task.failure.as_ref());
        let replicates = if self.config.fail_early_after == 0 || !ct.contributors.is_empty() {
            Vec::new()
        } else {
            self.store.replicates(task.task_id)?
        };
        // most tasks have no deterministic failure: they need no count of the workers alive
        let due = if !replicates.iter().any(failed_deterministically) {
            None
        } else {
            let Some(threshold) =
                fail_early_threshold(self.config.fail_early_after, self.workers_alive(task.tee)?)
            else {
                // no worker heard from yet (restart): keep any decision until they are back
                return Ok(false);
            };
            early_failure(&replicates, threshold)
        };
        let Some(early) = due else {
            if decided {
                task.failure = None;
                task.note = None;
                self.store.save_task(task)?;
            }
            return Ok(false);
        };
        task.failure = Some(early.record(None));
        task.note = Some(format!(
            "ending the task early (abortTask): {} worker(s) failed it with {}",
            early.workers,
            early.cause_name()
        ));
        self.store.save_task(task)?;
        let tx = self
            .chain
            .client()
            .abort_task(task.task_id, early.digest())
            .await?
            .tx_hash;
        tracing::warn!(task_id = %task.task_id, %tx, workers = early.workers, cause = %early.cause_name(), "task ended early: the requester is refunded");
        self.failed(task.clone(), early.record(Some(tx)))?;
        Ok(true)
    }

    async fn revealing(&self, mut task: TaskRow, ct: &Task, now: u64) -> Result<()> {
        if task.status != TaskStatus::ConsensusReached {
            task.status = TaskStatus::ConsensusReached;
            task.note = None;
            self.store.save_task(&task)?;
            tracing::info!(task_id = %task.task_id, consensus = %ct.consensusValue, "consensus reached");
        }
        let replicates = self.store.replicates(task.task_id)?;
        for mut r in replicates.iter().cloned() {
            if matches!(
                r.status,
                ReplicateStatus::Contributed | ReplicateStatus::Computed
            ) && r.result_hash.is_some_and(|h| h != ct.consensusValue)
            {
                tracing::info!(task_id = %task.task_id, worker = %r.worker, "contribution differs from the consensus: rejected");
                r.status = ReplicateStatus::Rejected;
                self.store.save_replicate(&r)?;
            }
        }
        let reveal_deadline = u64::try_from(ct.revealDeadline).unwrap_or(u64::MAX);
        let reveals = ct.revealCounter;
        if reveals == ct.winnerCounter || (reveals > U256::ZERO && now >= reveal_deadline) {
            let revealed = replicates
                .iter()
                .find(|r| {
                    r.status == ReplicateStatus::Revealed && r.result_hash == Some(ct.consensusValue)
                })
                .ok_or_else(|| {
                    SchedulerError::Chain(format!(
                        "task {} has {reveals} reveal(s) on chain but no revealed replicate is known here",
                        task.task_id
                    ))
                })?;
            let deal = self.chain.deal(task.deal_id).await?;
            let callback = if deal.callback == Address::ZERO {
                Bytes::new()
            } else {
                revealed.callback_data.clone().unwrap_or_default()
            };
            let results = revealed.results.clone().unwrap_or_default();
            let tx = self.chain.finalize(task.task_id, results, callback).await?;
            tracing::info!(task_id = %task.task_id, %tx, "finalized");
            // The next round sees COMPLETED and records the result; do it now to answer sooner.
            let ct = self.chain.task(task.task_id).await?;
            if ct.status == COMPLETED {
                self.completed(task, &ct).await?;
            }
        } else if reveals == U256::ZERO && now >= reveal_deadline {
            let tx = self.chain.reopen(task.task_id).await?;
            tracing::warn!(task_id = %task.task_id, %tx, "no reveal before the reveal deadline: reopened");
            for mut r in replicates {
                if r.result_hash == Some(ct.consensusValue)
                    && matches!(r.status, ReplicateStatus::Contributed)
                {
                    r.status = ReplicateStatus::Rejected;
                    self.store.save_replicate(&r)?;
                }
            }
            task.status = TaskStatus::Running;
            task.note = Some(format!(
                "reopened (tx {tx}): no worker revealed before the reveal deadline; their contributions were rejected and the task takes new contributions"
            ));
            self.store.save_task(&task)?;
        }
        Ok(())
    }

    async fn completed(&self, mut task: TaskRow, ct: &Task) -> Result<()> {
        for mut r in self.store.replicates(task.task_id)? {
            let status = match r.status {
                ReplicateStatus::ContributeAndFinalizeDone => ReplicateStatus::Completed,
                ReplicateStatus::Contributed | ReplicateStatus::Revealed => {
                    if self
                        .chain
                        .contribution_status(task.task_id, r.worker)
                        .await?
                        == CONTRIBUTION_PROVED
                    {
                        ReplicateStatus::Completed
                    } else {
                        ReplicateStatus::Rejected
                    }
                }
                s if s.is_final() => continue,
                _ => ReplicateStatus::Aborted,
            };
            r.status = status;
            self.store.save_replicate(&r)?;
        }
        task.status = TaskStatus::Completed;
        task.result_location = Some(String::from_utf8_lossy(&ct.results).into_owned());
        task.note = None;
        self.store.save_task(&task)?;
        tracing::info!(task_id = %task.task_id, "task completed");
        Ok(())
    }

    fn failed(&self, mut task: TaskRow, failure: Value) -> Result<()> {
        for mut r in self.store.replicates(task.task_id)? {
            if !r.status.is_final() {
                r.status = ReplicateStatus::Aborted;
                self.store.save_replicate(&r)?;
            }
        }
        task.status = TaskStatus::Failed;
        task.failure = Some(failure);
        task.note = None;
        self.store.save_task(&task)?;
        tracing::warn!(task_id = %task.task_id, "task failed");
        Ok(())
    }

    /// A replicate for `worker`, or `None` (iexec-core's rules, §6.2): a free slot on the
    /// worker, a task still taking contributions, TEE tasks only to TEE workers, never the same
    /// task twice to a worker, and only while more contributions can change the outcome.
    pub async fn available(&self, worker: Address) -> Result<Option<ReplicateSpec>> {
        let _guard = self.assign.lock().await;
        let w = self.store.worker(worker)?.ok_or_else(|| {
            SchedulerError::Unauthorized(format!("worker {worker} is not registered: log in"))
        })?;
        if self.store.running_count(worker)? >= w.max_tasks {
            tracing::debug!(%worker, "no free slot on the worker");
            return Ok(None);
        }
        let now = self.chain.now().await?;
        for task in self.store.open_tasks()? {
            if !matches!(task.status, TaskStatus::Initialized | TaskStatus::Running) {
                continue;
            }
            if task.tee && !w.tee || is_ended_early(task.failure.as_ref()) {
                continue;
            }
            let Some(challenge) = task.enclave_challenge else {
                continue;
            };
            if self.store.replicate(task.task_id, worker)?.is_some() {
                continue;
            }
            if !needs_more_contributions(task.trust, &self.store.replicates(task.task_id)?) {
                continue;
            }
            let ct = self.chain.task(task.task_id).await?;
            if ct.status != ACTIVE || U256::from(now) >= ct.contributionDeadline {
                tracing::debug!(task_id = %task.task_id, status = ct.status, now, deadline = %ct.contributionDeadline, "task takes no contribution");
                continue;
            }
            let weight = weight_of(self.chain.score(worker).await?);
            let spec = self.spec(&task, worker, challenge).await?;
            self.store.assign(task.task_id, worker, weight)?;
            tracing::info!(task_id = %task.task_id, %worker, "replicate assigned");
            return Ok(Some(spec));
        }
        Ok(None)
    }

    /// Everything the worker needs, read from chain, with the owner's authorization.
    async fn spec(
        &self,
        task: &TaskRow,
        worker: Address,
        challenge: Address,
    ) -> Result<ReplicateSpec> {
        let deal = self.chain.deal(task.deal_id).await?;
        let (image, checksum, mrenclave) = self.chain.app(deal.app.pointer).await?;
        let dataset = if deal.dataset.pointer == Address::ZERO {
            None
        } else {
            let (url, checksum) = self.chain.dataset(deal.dataset.pointer).await?;
            Some(DatasetSpec {
                address: deal.dataset.pointer,
                url,
                checksum,
            })
        };
        let time_ref = self.chain.category_time_ref(deal.category).await?;
        let hash = authorization_hash(worker, task.task_id, challenge);
        let signature = self
            .config
            .owner
            .sign_message_sync(hash.as_slice())
            .map_err(|e| SchedulerError::Config(format!("signing with the owner key: {e}")))?;
        let tee = task.tee.then(|| TeeSpec {
            sms_url: self.config.sms_url.clone().unwrap_or_default(),
            framework: tee_framework(deal.tag).into(),
        });
        Ok(ReplicateSpec {
            chain_id: self.chain.client().chain_id(),
            deal_id: task.deal_id,
            task_id: task.task_id,
            task_index: task.index,
            bot_first: u64::try_from(deal.botFirst).unwrap_or(0),
            bot_size: u64::try_from(deal.botSize).unwrap_or(0),
            app: AppSpec {
                address: deal.app.pointer,
                image,
                checksum,
                mrenclave,
            },
            dataset,
            params: decode_params(&deal.params),
            requester: deal.requester,
            beneficiary: deal.beneficiary,
            callback: deal.callback,
            tag: deal.tag,
            max_execution_time: Duration::from_secs(time_ref),
            authorization: WorkerpoolAuthorization {
                worker_wallet: worker,
                chain_task_id: task.task_id,
                enclave_challenge: challenge,
                signature: Bytes::from(signature.as_bytes().to_vec()),
            },
            tee,
        })
    }

    fn replicate_of(&self, task_id: B256, worker: Address) -> Result<ReplicateRow> {
        self.store.replicate(task_id, worker)?.ok_or_else(|| {
            SchedulerError::NotFound(format!(
                "worker {worker} has no replicate of task {task_id}: ask GET /replicates/available first"
            ))
        })
    }

    /// A worker's report → what it must do next.
    pub async fn report(
        &self,
        worker: Address,
        task_id: B256,
        report: StatusReport,
    ) -> Result<NextAction> {
        use ReplicateStatus::*;
        let mut r = self.replicate_of(task_id, worker)?;
        let task = self
            .store
            .task(task_id)?
            .ok_or_else(|| SchedulerError::NotFound(format!("task {task_id}")))?;
        if r.status.is_final() {
            return Ok(NextAction::Abort {
                reason: format!("this replicate is already {}", r.status.as_str()),
            });
        }
        if let Some(tx) = report.tx_hash {
            r.txs.push(tx);
        }
        if let Some(logs) = report.logs.clone() {
            r.logs = Some(cap_logs(logs));
        }
        let action = match report.status {
            Started => {
                r.status = Started;
                if task.status.is_final() {
                    NextAction::Abort {
                        reason: format!("the task is {}", task.status.as_str()),
                    }
                } else {
                    NextAction::Continue
                }
            }
            Computed => {
                let (Some(digest), Some(hash)) = (report.result_digest, report.result_hash) else {
                    return Err(SchedulerError::BadRequest(
                        "status COMPUTED needs resultDigest and resultHash".into(),
                    ));
                };
                if hash != keccak256([task_id.as_slice(), digest.as_slice()].concat()) {
                    return Err(SchedulerError::BadRequest(
                        "resultHash must be keccak256(taskId ‖ resultDigest)".into(),
                    ));
                }
                r.status = Computed;
                r.result_digest = Some(digest);
                r.result_hash = Some(hash);
                r.results = report.results.clone();
                r.callback_data = report.callback_data.clone();
                let ct = self.chain.task(task_id).await?;
                let now = self.chain.now().await?;
                if ct.status != ACTIVE {
                    r.status = Aborted;
                    NextAction::Abort {
                        reason: format!(
                            "the task is {} on chain and takes no more contributions",
                            task_status_name(ct.status)
                        ),
                    }
                } else if U256::from(now) >= ct.contributionDeadline {
                    r.status = Aborted;
                    NextAction::Abort {
                        reason: "the contribution deadline has passed".into(),
                    }
                } else if task.trust == 1 {
                    if ct.contributors.is_empty() {
                        NextAction::ContributeAndFinalize
                    } else {
                        r.status = Aborted;
                        NextAction::Abort {
                            reason: "another worker already contributed to this trust-1 task"
                                .into(),
                        }
                    }
                } else {
                    NextAction::Contribute
                }
            }
            // Chain statuses are checked on chain: a worker's word is not enough to count it.
            Contributed | Revealed => {
                let on_chain = self.chain.contribution_status(task_id, worker).await?;
                let expected = if report.status == Contributed {
                    1
                } else {
                    CONTRIBUTION_PROVED
                };
                if on_chain < expected {
                    return Err(SchedulerError::BadRequest(format!(
                        "status {} but the chain shows no such transaction from {worker} (contribution status {on_chain})",
                        report.status.as_str()
                    )));
                }
                r.status = report.status;
                NextAction::Wait
            }
            ContributeAndFinalizeDone => {
                let ct = self.chain.task(task_id).await?;
                if ct.status != COMPLETED || !ct.contributors.contains(&worker) {
                    return Err(SchedulerError::BadRequest(format!(
                        "status CONTRIBUTE_AND_FINALIZE_DONE but task {task_id} is {} on chain without {worker}'s contribution",
                        task_status_name(ct.status)
                    )));
                }
                r.status = ContributeAndFinalizeDone;
                NextAction::Complete
            }
            s if s.is_failure() => {
                let failure = report.failure.clone().ok_or_else(|| {
                    SchedulerError::BadRequest(format!(
                        "status {} needs `failure` (stage, cause, message)",
                        s.as_str()
                    ))
                })?;
                tracing::warn!(%task_id, %worker, status = s.as_str(), cause = ?failure.cause, message = %failure.message, "replicate failed");
                let mut failure = failure;
                // Checked now, against the logs as sent (they are capped below): a report kept
                // in the store is one the task's enclave signed.
                if failure.report.is_some() {
                    let challenge = task.enclave_challenge.unwrap_or_default();
                    if let Err(problem) =
                        verify_failure_report(&failure, task_id, worker, challenge)
                    {
                        tracing::warn!(%task_id, %worker, %problem, "discarding the replicate's enclave failure report");
                        failure.report = None;
                    }
                }
                if let Some(logs) = failure.logs.clone() {
                    r.logs = Some(cap_logs(logs));
                }
                failure.logs = None;
                r.failure = Some(failure);
                r.status = s;
                NextAction::Abort {
                    reason: "failure recorded".into(),
                }
            }
            other => {
                return Err(SchedulerError::BadRequest(format!(
                    "workers cannot report {}; expected STARTED, COMPUTED, CONTRIBUTED, REVEALED, CONTRIBUTE_AND_FINALIZE_DONE or a *_FAILED status",
                    other.as_str()
                )));
            }
        };
        self.store.save_replicate(&r)?;
        tracing::info!(%task_id, %worker, status = r.status.as_str(), ?action, "replicate report");
        Ok(action)
    }

    /// What a worker waiting on a task must do now.
    pub async fn next_action(&self, worker: Address, task_id: B256) -> Result<NextAction> {
        use ReplicateStatus::*;
        let r = self.replicate_of(task_id, worker)?;
        Ok(match r.status {
            Rejected => NextAction::Abort {
                reason: "your contribution differs from the consensus: it is rejected".into(),
            },
            Completed | ContributeAndFinalizeDone => NextAction::Complete,
            s if s.is_final() => NextAction::Abort {
                reason: format!("this replicate is {}", s.as_str()),
            },
            Contributed | Revealed => {
                let ct = self.chain.task(task_id).await?;
                match ct.status {
                    REVEALING if r.status == Contributed => {
                        if r.result_hash == Some(ct.consensusValue) {
                            NextAction::Reveal
                        } else {
                            NextAction::Abort {
                                reason:
                                    "your contribution differs from the consensus: it is rejected"
                                        .into(),
                            }
                        }
                    }
                    COMPLETED if r.status == Revealed => NextAction::Complete,
                    COMPLETED | FAILED => NextAction::Abort {
                        reason: format!("the task is {} on chain", task_status_name(ct.status)),
                    },
                    _ => NextAction::Wait,
                }
            }
            _ => NextAction::Wait,
        })
    }

    /// `GET /tasks/{taskId}`.
    pub async fn task_view(&self, task_id: B256) -> Result<TaskView> {
        let task = self.store.task(task_id)?.ok_or_else(|| {
            SchedulerError::NotFound(format!(
                "task {task_id} is unknown to this scheduler (not a task of its workerpool, or its deal is not seen yet)"
            ))
        })?;
        let replicates = self.store.replicates(task_id)?;
        let ct = self.chain.task(task_id).await.ok();
        let deadline = |v: U256| (v > U256::ZERO).then(|| u64::try_from(v).unwrap_or(u64::MAX));
        let deadlines = ct.as_ref().map_or(
            Deadlines {
                contribution: None,
                reveal: None,
                final_: None,
            },
            |c| Deadlines {
                contribution: deadline(c.contributionDeadline),
                reveal: deadline(c.revealDeadline),
                final_: deadline(c.finalDeadline),
            },
        );
        let views: Vec<ReplicateView> = replicates
            .iter()
            .map(|r| {
                let cause = r.failure.as_ref().and_then(|f| {
                    serde_json::to_value(&f.cause)
                        .ok()?
                        .get("cause")?
                        .as_str()
                        .map(str::to_string)
                });
                ReplicateView {
                    worker: r.worker,
                    status: r.status,
                    stage: r.failure.as_ref().map(|f| f.stage),
                    cause,
                    message: r
                        .failure
                        .as_ref()
                        .map(|f| f.message.clone())
                        .or_else(|| rejection_reason(r, ct.as_ref())),
                    exit_code: exit_code(r),
                    enclave_signed: r
                        .failure
                        .as_ref()
                        .and_then(|f| f.report.as_ref())
                        .map(|report| report.signer),
                    txs: r.txs.clone(),
                }
            })
            .collect();
        let live = replicates.iter().any(|r| !r.status.is_final());
        let last_failure = replicates.iter().rev().find_map(|r| r.failure.as_ref());
        let failure = task.failure.clone().or_else(|| {
            (!task.status.is_final() && !live)
                .then_some(last_failure)
                .flatten()
                .map(|f| {
                    json!({
                        "cause": "replicate-failed",
                        "message": format!("every replicate so far failed; the last one: {}", f.message),
                        "replicate": f,
                    })
                })
        });
        let reveals = ct.as_ref().map(|c| c.revealCounter).unwrap_or_default();
        let winners = ct.as_ref().map(|c| c.winnerCounter).unwrap_or_default();
        let stage = match (&task.note, task.status) {
            (Some(note), s) if !s.is_final() => note.clone(),
            (_, TaskStatus::Received) => "deal seen; initializing the task on chain".into(),
            (_, TaskStatus::Initialized) => "initialized; waiting for a worker".into(),
            (_, TaskStatus::Running) if live => format!(
                "computing: {} replicate(s) in progress",
                replicates.iter().filter(|r| !r.status.is_final()).count()
            ),
            (_, TaskStatus::Running) => {
                "waiting for another worker (every replicate so far failed)".into()
            }
            (_, TaskStatus::ConsensusReached) => {
                format!("consensus reached; waiting for reveals ({reveals}/{winners})")
            }
            (_, TaskStatus::Completed) => "completed: the result is on chain".into(),
            (_, TaskStatus::Failed) if is_ended_early(task.failure.as_ref()) => {
                "failed: ended early by the workerpool, the requester was refunded (see `failure`)"
                    .into()
            }
            (_, TaskStatus::Failed) => "failed: see `failure`".into(),
        };
        Ok(TaskView {
            task_id,
            deal_id: task.deal_id,
            status: task.status.as_str().into(),
            chain_status: ct.map(|c| task_status_name(c.status).to_string()),
            stage,
            deadlines,
            replicates: views,
            failure,
            result_location: task.result_location,
        })
    }

    /// The app's logs of each replicate, for the deal's requester only.
    pub async fn logs(&self, task_id: B256, caller: Address) -> Result<crate::api::TaskLogs> {
        let task = self.store.task(task_id)?.ok_or_else(|| {
            SchedulerError::NotFound(format!("task {task_id} is unknown to this scheduler"))
        })?;
        let deal = self.chain.deal(task.deal_id).await?;
        if caller != deal.requester {
            return Err(SchedulerError::Forbidden(format!(
                "only the deal's requester ({}) may read the logs of task {task_id}; you signed as {caller}",
                deal.requester
            )));
        }
        let replicates = self
            .store
            .replicates(task_id)?
            .into_iter()
            .map(|r| {
                let logs = r.logs.clone().unwrap_or_default();
                ReplicateLogs {
                    worker: r.worker,
                    status: r.status,
                    stdout: logs.stdout,
                    stderr: logs.stderr,
                    exit_code: exit_code(&r),
                }
            })
            .collect();
        Ok(crate::api::TaskLogs {
            task_id,
            replicates,
        })
    }

    /// Publishes the configured workerpool order to the market.
    pub(crate) async fn publish_order(&self) -> Result<()> {
        let (Some(market), Some(o)) = (&self.config.market_url, &self.config.order) else {
            return Ok(());
        };
        use arca_client::orders::{UnsignedOrder, sign, typed};
        let client = self.chain.client();
        let order = UnsignedOrder::Workerpool(typed::WorkerpoolOrder {
            workerpool: self.config.workerpool,
            workerpoolprice: o.price,
            volume: U256::from(o.volume),
            tag: o.tag,
            category: U256::from(o.category),
            trust: U256::from(o.trust),
            apprestrict: Address::ZERO,
            datasetrestrict: Address::ZERO,
            requesterrestrict: Address::ZERO,
            salt: B256::ZERO,
        });
        let signed = sign(order, &self.config.owner, &client.domain())?;
        let market_err = |message: String| SchedulerError::Service {
            service: "market",
            message,
        };
        let order =
            arca_market::Order::from_json(arca_market::OrderKind::Workerpool, signed.to_json())
                .map_err(|e| market_err(format!("building the order: {e}")))?;
        let published = arca_market::Client::new(market.clone(), client.chain_id())
            .publish(&order)
            .await
            .map_err(|e| market_err(format!("publishing the workerpool order to {market}: {e}")))?;
        tracing::info!(order_hash = %published.order_hash, "workerpool order published");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(status: ReplicateStatus, hash: u8) -> ReplicateRow {
        ReplicateRow {
            task_id: B256::ZERO,
            worker: Address::repeat_byte(hash),
            status,
            weight: 2,
            result_hash: (hash != 0).then(|| B256::repeat_byte(hash)),
            result_digest: None,
            results: None,
            callback_data: None,
            failure: None,
            logs: None,
            txs: vec![],
        }
    }

    #[test]
    fn fresh_workers_weigh_two() {
        assert_eq!(weight_of(U256::ZERO), 2);
        assert_eq!(weight_of(U256::from(12)), 3);
    }

    #[test]
    fn replication_follows_pocos_vote() {
        use ReplicateStatus::*;
        // trust 1: one replicate suffices, a failed one is replaced
        assert!(needs_more_contributions(1, &[]));
        assert!(!needs_more_contributions(1, &[rep(Started, 0)]));
        assert!(needs_more_contributions(1, &[rep(ComputeFailed, 0)]));
        // trust 2: one fresh worker (weight 2) reaches 2·2 > 3·1 alone
        assert!(!needs_more_contributions(2, &[rep(Created, 0)]));
        // trust 3: two agreeing fresh workers: 4·3 > 5·2
        assert!(needs_more_contributions(3, &[rep(Contributed, 1)]));
        assert!(!needs_more_contributions(
            3,
            &[rep(Contributed, 1), rep(Started, 0)]
        ));
        // trust 3 with a liar: 1 liar + 2 honest is 4·3 ≤ 7·2, a third honest is needed
        assert!(needs_more_contributions(
            3,
            &[
                rep(Contributed, 9),
                rep(Contributed, 1),
                rep(Contributed, 1)
            ]
        ));
        assert!(!needs_more_contributions(
            3,
            &[
                rep(Contributed, 9),
                rep(Contributed, 1),
                rep(Contributed, 1),
                rep(Created, 0)
            ]
        ));
    }

    fn failed(worker: u8, cause: FailureCause) -> ReplicateRow {
        let mut r = rep(ReplicateStatus::ComputeFailed, 0);
        r.worker = Address::repeat_byte(worker);
        r.failure = Some(arca_worker::task::Failure {
            stage: arca_worker::task::Stage::Compute,
            cause,
            message: format!("worker {worker} failed"),
            logs: None,
            report: None,
        });
        r
    }

    #[test]
    fn early_fail_threshold_is_bounded_by_the_workers_alive() {
        assert_eq!(fail_early_threshold(2, 5), Some(2));
        assert_eq!(
            fail_early_threshold(2, 1),
            Some(1),
            "nobody else would retry"
        );
        assert_eq!(fail_early_threshold(0, 5), None, "0 disables");
        assert_eq!(fail_early_threshold(2, 0), None, "no worker seen yet: wait");
    }

    #[test]
    fn only_deterministic_failures_of_distinct_workers_count() {
        let exit = |code| FailureCause::AppExitCode { code };
        // one worker is not enough at threshold 2, two are; the last one names the cause
        assert_eq!(early_failure(&[failed(1, exit(1))], 2), None);
        let e = early_failure(
            &[
                failed(1, exit(1)),
                failed(2, FailureCause::DealParamsInvalid),
            ],
            2,
        )
        .expect("two deterministic failures");
        assert_eq!(e.workers, 2);
        assert_eq!(e.cause, FailureCause::DealParamsInvalid);
        assert_eq!(e.last_worker, Address::repeat_byte(2));
        assert_eq!(e.cause_name(), "deal-params-invalid");
        // failures another worker might not have do not count
        let flaky = [
            failed(1, FailureCause::ResultUploadFailed),
            failed(2, FailureCause::Timeout),
            failed(3, exit(1)),
        ];
        assert_eq!(early_failure(&flaky, 2), None);
        assert!(early_failure(&flaky, 1).is_some());
        // a failure record on a replicate that is not failed (e.g. aborted) does not count
        let mut aborted = failed(4, exit(1));
        aborted.status = ReplicateStatus::Aborted;
        assert_eq!(early_failure(&[failed(3, exit(1)), aborted], 2), None);
        assert_eq!(early_failure(&[], 1), None);
        assert_eq!(early_failure(&[failed(1, exit(1))], 0), None);
    }

    #[test]
    fn deterministic_causes_are_the_apps_and_the_inputs() {
        use FailureCause::*;
        for c in [
            AppExitCode { code: 1 },
            AppImageMissing,
            AppChecksumMismatch,
            DatasetChecksumMismatch,
            SecretNotReleased,
            DealParamsInvalid,
        ] {
            assert!(c.is_deterministic(), "{c:?}");
        }
        for c in [
            AppImagePullFailed,
            Timeout,
            ResultUploadFailed,
            InputDownloadFailed,
            DatasetDownloadFailed,
            ChainTransactionFailed,
            WorkerError,
        ] {
            assert!(!c.is_deterministic(), "{c:?}");
        }
    }

    #[test]
    fn params_follow_the_sdk_keys() {
        let p = decode_params(
            r#"{"iexec_args":"a b","iexec_input_files":["http://x/1"],"iexec_secrets":{"1":"s"},"iexec_result_encryption":true}"#,
        );
        assert_eq!(p.args, "a b");
        assert_eq!(p.input_files, vec!["http://x/1".to_string()]);
        assert_eq!(p.secrets.get(&1).map(String::as_str), Some("s"));
        assert!(p.result_encryption);
        assert_eq!(p.result_storage_provider, "ipfs");
        let raw = decode_params("--just args");
        assert_eq!(raw.args, "--just args");
    }

    #[test]
    fn logs_are_capped_at_the_tail() {
        let logs = cap_logs(ComputeLogs {
            stdout: "x".repeat(DEFAULT_LOG_CAP + 10) + "end",
            ..ComputeLogs::default()
        });
        assert_eq!(logs.stdout.len(), DEFAULT_LOG_CAP);
        assert!(logs.stdout.ends_with("end"));
        assert_eq!(logs.stdout_dropped, 13);
    }
}
