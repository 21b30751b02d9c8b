//! `arca deal show|claim` and `arca task show|debug|claim`: a deal and its tasks as the chain has them,
//! completed (when the workerpool's scheduler API is known: chain.json `workerpoolApi` or
//! `--workerpool-api`) with the scheduler's view of each task (stage, replicates, failure cause); the
//! result download of `task show --download` (resumable, progress bar, SDK file naming); and the live
//! follow-up shared with `app run --watch`.

use crate::output::{Common, Outcome, block_on, emit, notice, spinner};
use alloy::primitives::{B256, U256};
use anyhow::{Context as _, bail};
use arca_client::poco::{self, Deal, Task};
use arca_client::{Client, Project};
use arca_worker::agent as arca_worker_api;
use clap::{Args, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

/// Deal subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum DealCommand {
    /// Show a deal and the status of its tasks.
    Show(DealArgs),
    /// Claim the tasks of a deal that failed to complete before their final deadline (refund).
    Claim(DealArgs),
}

/// Options of the deal commands.
#[derive(Debug, Args)]
pub(crate) struct DealArgs {
    /// The deal id.
    dealid: String,
    /// Follow the tasks until they complete or fail (`deal show`).
    #[arg(long)]
    watch: bool,
    /// The workerpool's scheduler API [default: chain.json workerpoolApi].
    #[arg(long, value_name = "URL")]
    workerpool_api: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// Task subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum TaskCommand {
    /// Show a task: on-chain status, deadlines, result; the scheduler's stage when known.
    Show(TaskShowArgs),
    /// Diagnose a task: replicates, failure causes, and with --logs the app's logs (requester only).
    Debug(TaskDebugArgs),
    /// Claim a task that failed to complete before its final deadline (refund).
    Claim(TaskArgs),
}

/// Options of `task show`.
#[derive(Debug, Args)]
pub(crate) struct TaskShowArgs {
    /// The task id.
    taskid: String,
    /// Download the result to PATH.zip [default: <taskid>.zip].
    #[arg(long, num_args = 0..=1, value_name = "PATH")]
    download: Option<Option<String>>,
    /// Follow the task until it completes or fails.
    #[arg(long)]
    watch: bool,
    /// The workerpool's scheduler API [default: chain.json workerpoolApi].
    #[arg(long, value_name = "URL")]
    workerpool_api: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// Options of `task debug`.
#[derive(Debug, Args)]
pub(crate) struct TaskDebugArgs {
    /// The task id.
    taskid: String,
    /// Also fetch the app's logs from the scheduler (signed by the requester's wallet).
    #[arg(long)]
    logs: bool,
    /// The workerpool's scheduler API [default: chain.json workerpoolApi].
    #[arg(long, value_name = "URL")]
    workerpool_api: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// Options of `task claim`.
#[derive(Debug, Args)]
pub(crate) struct TaskArgs {
    /// The task id.
    taskid: String,
    #[command(flatten)]
    common: Common,
}

pub(crate) fn run_deal(command: DealCommand) -> anyhow::Result<ExitCode> {
    match command {
        DealCommand::Show(a) => emit(a.common.raw, block_on(deal_show(&a))),
        DealCommand::Claim(a) => emit(a.common.raw, block_on(deal_claim(&a))),
    }
}

pub(crate) fn run_task(command: TaskCommand) -> anyhow::Result<ExitCode> {
    match command {
        TaskCommand::Show(a) => emit(a.common.raw, block_on(task_show(&a))),
        TaskCommand::Debug(a) => emit(a.common.raw, block_on(task_debug(&a))),
        TaskCommand::Claim(a) => emit(a.common.raw, block_on(task_claim(&a))),
    }
}

fn bytes32(what: &str, text: &str) -> anyhow::Result<B256> {
    let ok = text.len() == 66
        && text.starts_with("0x")
        && text[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        bail!("{text} is not a valid {what} (expected 0x followed by 64 hex digits)");
    }
    Ok(text.parse().expect("checked"))
}

/// The scheduler API URL: the flag, else chain.json `workerpoolApi`.
pub(crate) fn workerpool_api(
    common: &Common,
    project: &Project,
    flag: Option<&str>,
) -> anyhow::Result<Option<SchedulerApi>> {
    let url = match flag {
        Some(u) => Some(u.to_string()),
        None => common.chain_conf(project)?.1.workerpool_api,
    };
    Ok(url.map(|u| SchedulerApi::new(&u)))
}

/// The public task API of a workerpool's scheduler (iexec-protocol.md §6.1), through
/// `arca_scheduler::client`, with its answers as JSON for display and `--raw`.
#[derive(Debug, Clone)]
pub(crate) struct SchedulerApi {
    client: arca_scheduler::client::Client,
    base: String,
}

impl SchedulerApi {
    fn new(base: &str) -> Self {
        Self {
            client: arca_scheduler::client::Client::new(base),
            base: base.trim_end_matches('/').to_string(),
        }
    }

    fn err(&self, e: arca_worker_api::ApiError) -> anyhow::Error {
        anyhow::anyhow!(
            "the workerpool API at {}: {e} (fix \"workerpoolApi\" in chain.json or --workerpool-api)",
            self.base
        )
    }

    /// `GET /tasks/{taskId}` (None: the scheduler does not know the task).
    pub(crate) async fn task(&self, task: B256) -> anyhow::Result<Option<Value>> {
        match self.client.task(task).await {
            Ok(view) => Ok(Some(serde_json::to_value(view)?)),
            Err(arca_worker_api::ApiError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }

    /// The app's logs of each replicate (the requester's EIP-712-signed challenge).
    async fn logs(
        &self,
        task: B256,
        signer: &alloy::signers::local::PrivateKeySigner,
        chain_id: u64,
    ) -> anyhow::Result<Option<Value>> {
        match self.client.logs(task, signer, chain_id).await {
            Ok(logs) => Ok(Some(serde_json::to_value(logs)?)),
            Err(arca_worker_api::ApiError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }
}

/// The chain's time: the latest block's timestamp, which the hub compares deadlines with (the wall
/// clock may differ, e.g. on a dev chain moved by `evm_increaseTime`).
async fn chain_now(client: &Client) -> anyhow::Result<u64> {
    use alloy::providers::Provider as _;
    let block = client
        .provider()
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .context("reading the latest block")?
        .context("the chain has no latest block")?;
    Ok(block.header.timestamp)
}

fn u64_of(v: U256) -> u64 {
    v.try_into().unwrap_or(u64::MAX)
}

/// The deal, or an error when it does not exist.
async fn load_deal(client: &Client, deal_id: B256) -> anyhow::Result<Deal> {
    let deal = client.deal(deal_id).await?;
    if deal.app.pointer.is_zero() {
        bail!(
            "no deal {deal_id} on chain {}: check the id (printed by `arca app run`) and --chain",
            client.chain_id()
        );
    }
    Ok(deal)
}

/// The final deadline of the deal's tasks (`startTime + 10 × workClockTimeRef`).
async fn final_deadline(client: &Client, deal: &Deal) -> anyhow::Result<u64> {
    let category = client.category(deal.category).await?;
    let reference: u64 = category["workClockTimeRef"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(u64_of(deal.startTime) + 10 * reference)
}

/// The on-chain status name of a task, with UNSET shown as the SDK does for uninitialized tasks.
fn status_name(task: &Task) -> &'static str {
    poco::task_status_name(task.status)
}

/// A task's JSON view (SDK field names) with the result link decoded.
fn task_json(task_id: B256, task: &Task, final_deadline: u64, now: u64) -> Value {
    let results = String::from_utf8(task.results.to_vec()).unwrap_or_default();
    let results_json: Value = serde_json::from_str(&results).unwrap_or(json!({"storage": "none"}));
    let status = status_name(task);
    let claimable = matches!(status, "UNSET" | "ACTIVE" | "REVEALING") && now >= final_deadline;
    json!({
        "taskid": task_id.to_string(),
        "dealid": task.dealid.to_string(),
        "idx": task.idx.to_string(),
        "status": task.status,
        "statusName": status,
        "contributionDeadline": task.contributionDeadline.to_string(),
        "revealDeadline": task.revealDeadline.to_string(),
        "finalDeadline": final_deadline.to_string(),
        "consensusValue": task.consensusValue.to_string(),
        "revealCounter": task.revealCounter.to_string(),
        "winnerCounter": task.winnerCounter.to_string(),
        "contributors": task.contributors.iter().map(|c| c.to_checksum(None)).collect::<Vec<_>>(),
        "resultDigest": task.resultDigest.to_string(),
        "results": results_json,
        "resultsTimestamp": task.resultsTimestamp.to_string(),
        "resultsCallback": task.resultsCallback.to_string(),
        "taskTimedOut": claimable,
    })
}

/// What the scheduler says about a task, in one line (stage, failure cause).
fn scheduler_line(view: &Value) -> String {
    let mut parts = Vec::new();
    for key in ["status", "stage"] {
        if let Some(v) = view.get(key).and_then(Value::as_str) {
            parts.push(format!("{key} {v}"));
        }
    }
    if let Some(f) = view.get("failure").filter(|f| !f.is_null()) {
        parts.push(format!(
            "failure {}",
            f.as_str().map_or_else(|| f.to_string(), str::to_string)
        ));
    }
    parts.join(", ")
}

/// The failure cause of a task from the scheduler's view (replicate causes and messages).
fn failure_cause(view: Option<&Value>) -> Option<String> {
    let view = view?;
    if let Some(f) = view.get("failure").filter(|f| !f.is_null()) {
        return Some(f.as_str().map_or_else(|| f.to_string(), str::to_string));
    }
    let causes: Vec<String> = view
        .get("replicates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| r.get("cause").is_some_and(|c| !c.is_null()))
        .map(|r| {
            format!(
                "worker {}: {} {}{}",
                r["worker"].as_str().unwrap_or("?"),
                r["cause"].as_str().unwrap_or(""),
                r["message"].as_str().unwrap_or(""),
                r.get("exitCode")
                    .filter(|c| !c.is_null())
                    .map(|c| format!(" (exit code {c})"))
                    .unwrap_or_default()
            )
        })
        .collect();
    (!causes.is_empty()).then(|| causes.join("; "))
}

async fn deal_show(a: &DealArgs) -> anyhow::Result<Outcome> {
    let common = &a.common;
    let project = common.project()?;
    let deal_id = bytes32("deal id", &a.dealid)?;
    let client = common.client(&project, false).await?;
    let deal = load_deal(&client, deal_id).await?;
    let deadline = final_deadline(&client, &deal).await?;
    let api = workerpool_api(common, &project, a.workerpool_api.as_deref())?;
    let now = chain_now(&client).await?;
    let (first, size) = (u64_of(deal.botFirst), u64_of(deal.botSize));
    let mut tasks = Vec::new();
    let mut human = vec![
        format!("Deal {deal_id}"),
        format!(
            "  app {} ({} nRLC), dataset {}, workerpool {} ({} nRLC)",
            deal.app.pointer,
            deal.app.price,
            deal.dataset.pointer,
            deal.workerpool.pointer,
            deal.workerpool.price
        ),
        format!(
            "  requester {}, beneficiary {}, category {}, trust {}, tag [{}]",
            deal.requester,
            deal.beneficiary,
            deal.category,
            deal.trust,
            arca_client::tags::names(deal.tag).join(",")
        ),
        format!("  params {}", deal.params),
        format!("  final deadline {deadline} (unix time)"),
    ];
    for idx in first..first + size {
        let id = poco::task_id(deal_id, idx);
        let task = client.task(id).await?;
        let mut view = task_json(id, &task, deadline, now);
        view["idx"] = json!(idx.to_string());
        let mut line = format!("  task {idx} {id}: {}", status_name(&task));
        if let Some(api) = &api
            && let Ok(Some(s)) = api.task(id).await
        {
            line.push_str(&format!(" (scheduler: {})", scheduler_line(&s)));
            view["scheduler"] = s;
        }
        if view["taskTimedOut"] == true {
            line.push_str(" — final deadline passed: `arca deal claim` refunds it");
        }
        human.push(line);
        tasks.push(view);
    }
    let mut outcome = Outcome::new(human.join("\n"))
        .with("dealid", deal_id.to_string())
        .with(
            "deal",
            json!({
                "app": {"pointer": deal.app.pointer.to_checksum(None), "owner": deal.app.owner.to_checksum(None), "price": deal.app.price.to_string()},
                "dataset": {"pointer": deal.dataset.pointer.to_checksum(None), "owner": deal.dataset.owner.to_checksum(None), "price": deal.dataset.price.to_string()},
                "workerpool": {"pointer": deal.workerpool.pointer.to_checksum(None), "owner": deal.workerpool.owner.to_checksum(None), "price": deal.workerpool.price.to_string()},
                "trust": deal.trust.to_string(), "category": deal.category.to_string(), "tag": deal.tag.to_string(),
                "requester": deal.requester.to_checksum(None), "beneficiary": deal.beneficiary.to_checksum(None),
                "callback": deal.callback.to_checksum(None), "params": deal.params,
                "startTime": deal.startTime.to_string(), "botFirst": deal.botFirst.to_string(), "botSize": deal.botSize.to_string(),
                "workerStake": deal.workerStake.to_string(), "schedulerRewardRatio": deal.schedulerRewardRatio.to_string(),
                "sponsor": deal.sponsor.to_checksum(None), "finalTime": deadline.to_string(),
            }),
        )
        .with("tasks", tasks);
    if a.watch {
        if !common.raw {
            println!("{}", outcome.human);
            outcome.human = String::new();
        }
        let ids: Vec<B256> = (first..first + size)
            .map(|i| poco::task_id(deal_id, i))
            .collect();
        let finals = watch(common.raw, &client, api.as_ref(), deal_id, &ids).await?;
        outcome = outcome.with("tasksStatus", finals);
    }
    Ok(outcome)
}

/// The status of one watched task: final or not, and the line to show.
struct Seen {
    status: String,
    line: String,
    cause: Option<String>,
    done: bool,
}

async fn look(
    client: &Client,
    api: Option<&SchedulerApi>,
    id: B256,
    deadline: u64,
) -> anyhow::Result<Seen> {
    let task = client.task(id).await?;
    let status = status_name(&task).to_string();
    let scheduler = match api {
        Some(api) => api.task(id).await.unwrap_or(None),
        None => None,
    };
    let mut line = status.clone();
    if let Some(s) = &scheduler {
        let extra = scheduler_line(s);
        if !extra.is_empty() {
            line.push_str(&format!(" ({extra})"));
        }
    }
    let cause = failure_cause(scheduler.as_ref());
    let timed_out = matches!(status.as_str(), "UNSET" | "ACTIVE" | "REVEALING")
        && chain_now(client).await? >= deadline;
    let scheduler_failed = scheduler
        .as_ref()
        .and_then(|s| s["status"].as_str())
        .is_some_and(|s| s == "FAILED");
    let done = matches!(status.as_str(), "COMPLETED" | "FAILED") || timed_out || scheduler_failed;
    let status = if timed_out {
        "TIMEOUT".to_string()
    } else if scheduler_failed && status != "COMPLETED" {
        "FAILED".to_string()
    } else {
        status
    };
    Ok(Seen {
        status,
        line,
        cause,
        done,
    })
}

/// Follows `tasks` until each is COMPLETED, FAILED or past its final deadline, with one live status line
/// per task; prints the cause and the next step of each failure. Returns `[{taskid, status, cause?}]`.
pub(crate) async fn watch(
    raw: bool,
    client: &Client,
    api: Option<&SchedulerApi>,
    deal_id: B256,
    tasks: &[B256],
) -> anyhow::Result<Vec<Value>> {
    // the deal, not the tasks, gives the deadline: tasks stay UNSET (no deal id) until initialized
    let deal = load_deal(client, deal_id).await?;
    let deadline = final_deadline(client, &deal).await?;
    let multi = MultiProgress::with_draw_target(
        if raw || crate::output::quiet() || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    let style = ProgressStyle::with_template("{spinner} {prefix} {msg}").expect("static template");
    let bars: Vec<ProgressBar> = tasks
        .iter()
        .map(|t| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(style.clone());
            bar.set_prefix(format!("task {t}"));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        })
        .collect();
    let mut finals: Vec<Option<Value>> = vec![None; tasks.len()];
    // A few tasks are polled often so a finished one shows at once; a bulk deal's hundreds of
    // tasks are polled slowly so the chain's RPC is not flooded.
    let default_ms = if tasks.len() <= 10 { 500 } else { 3000 };
    let interval = Duration::from_millis(
        std::env::var("ARCA_WATCH_INTERVAL_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default_ms),
    );
    loop {
        for (i, id) in tasks.iter().enumerate() {
            if finals[i].is_some() {
                continue;
            }
            let seen = look(client, api, *id, deadline).await?;
            bars[i].set_message(seen.line.clone());
            if seen.done {
                bars[i].finish_with_message(seen.line.clone());
                let mut v = json!({"taskid": id.to_string(), "status": seen.status});
                if let Some(c) = &seen.cause {
                    v["cause"] = json!(c);
                }
                finals[i] = Some(v);
                if !raw {
                    let _ = multi.println(final_message(deal_id, *id, &seen));
                }
            }
        }
        if finals.iter().all(Option::is_some) {
            break;
        }
        tokio::time::sleep(interval).await;
    }
    Ok(finals.into_iter().map(|v| v.expect("all final")).collect())
}

/// The line printed when a watched task reaches its end: result or cause, and the next step.
fn final_message(deal_id: B256, id: B256, seen: &Seen) -> String {
    let cause = seen
        .cause
        .as_ref()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    match seen.status.as_str() {
        "COMPLETED" => format!(
            "✔ task {id} COMPLETED: {}",
            next_step(deal_id, id, "COMPLETED")
        ),
        status => format!(
            "✖ task {id} {status}{cause}: {}",
            next_step(deal_id, id, status)
        ),
    }
}

/// What to do after a watched task ends with `status` (COMPLETED, FAILED or TIMEOUT).
pub(crate) fn next_step(deal_id: B256, id: B256, status: &str) -> String {
    match status {
        "COMPLETED" => format!("`arca task show {id} --download` fetches the result"),
        "TIMEOUT" => format!(
            "its final deadline passed: `arca deal claim {deal_id}` refunds it; `arca task debug {id}` shows what the workers did"
        ),
        _ => format!("`arca task debug {id} --logs` shows the app's output and the failure cause"),
    }
}

async fn deal_claim(a: &DealArgs) -> anyhow::Result<Outcome> {
    let common = &a.common;
    let project = common.project()?;
    let deal_id = bytes32("deal id", &a.dealid)?;
    let client = common.client(&project, true).await?;
    let deal = load_deal(&client, deal_id).await?;
    let deadline = final_deadline(&client, &deal).await?;
    let now = chain_now(&client).await?;
    if now < deadline {
        bail!(
            "deal {deal_id} cannot be claimed before its final deadline {deadline} (unix time; {} s from now)",
            deadline - now
        );
    }
    let bar = spinner(common.raw, "claiming");
    let mut claimed = Vec::new();
    let mut human = Vec::new();
    for idx in u64_of(deal.botFirst)..u64_of(deal.botFirst) + u64_of(deal.botSize) {
        let id = poco::task_id(deal_id, idx);
        let task = client.task(id).await?;
        match status_name(&task) {
            "COMPLETED" | "FAILED" => continue,
            "UNSET" => {
                client.initialize(deal_id, idx).await?;
            }
            _ => {}
        }
        let sent = client.claim(id).await?;
        human.push(format!("  task {idx} {id} claimed (tx {})", sent.tx_hash));
        claimed.push(json!({"idx": idx.to_string(), "taskid": id.to_string(), "txHash": sent.tx_hash.to_string()}));
    }
    bar.finish_and_clear();
    if claimed.is_empty() {
        bail!("deal {deal_id} has no task to claim: they are all COMPLETED or FAILED");
    }
    Ok(Outcome::new(format!(
        "✔ Deal {deal_id}: {} task(s) claimed, their price is refunded\n{}",
        claimed.len(),
        human.join("\n")
    ))
    .with("claimed", claimed))
}

async fn task_claim(a: &TaskArgs) -> anyhow::Result<Outcome> {
    let common = &a.common;
    let project = common.project()?;
    let task_id = bytes32("task id", &a.taskid)?;
    let client = common.client(&project, true).await?;
    let task = client.task(task_id).await?;
    match status_name(&task) {
        "COMPLETED" => bail!("task {task_id} is COMPLETED: nothing to claim"),
        "FAILED" => bail!("task {task_id} is already FAILED (claimed)"),
        "UNSET" => bail!(
            "task {task_id} was never initialized on chain: claim it through its deal with `arca deal claim <dealid>`"
        ),
        _ => {}
    }
    let deal = load_deal(&client, task.dealid).await?;
    let deadline = final_deadline(&client, &deal).await?;
    let now = chain_now(&client).await?;
    if now < deadline {
        bail!(
            "task {task_id} cannot be claimed before its final deadline {deadline} (unix time; {} s from now)",
            deadline - now
        );
    }
    let sent = client.claim(task_id).await?;
    Ok(Outcome::new(format!(
        "✔ Task {task_id} claimed (tx {}): its price is refunded",
        sent.tx_hash
    ))
    .with("txHash", sent.tx_hash.to_string()))
}

/// A task that exists on chain, or the reason why not.
async fn load_task(client: &Client, task_id: B256) -> anyhow::Result<(Task, Deal, u64)> {
    let task = client.task(task_id).await?;
    if task.status == 0 {
        bail!(
            "task {task_id} is not initialized on chain {} (UNSET): its workerpool has not started it yet, or the id is wrong (see `arca deal show <dealid>`)",
            client.chain_id()
        );
    }
    let deal = load_deal(client, task.dealid).await?;
    let deadline = final_deadline(client, &deal).await?;
    Ok((task, deal, deadline))
}

async fn task_show(a: &TaskShowArgs) -> anyhow::Result<Outcome> {
    let common = &a.common;
    let project = common.project()?;
    let task_id = bytes32("task id", &a.taskid)?;
    let client = common.client(&project, false).await?;
    let api = workerpool_api(common, &project, a.workerpool_api.as_deref())?;
    if a.watch {
        let task = client.task(task_id).await?;
        if task.status == 0 {
            bail!(
                "task {task_id} is not initialized yet, so its deal is unknown here: follow it with `arca deal show <dealid> --watch`"
            );
        }
        let finals = watch(common.raw, &client, api.as_ref(), task.dealid, &[task_id]).await?;
        notice(
            common.raw,
            format!("task {task_id}: {}", finals[0]["status"]),
        );
    }
    let (task, deal, deadline) = load_task(&client, task_id).await?;
    let now = chain_now(&client).await?;
    let view = task_json(task_id, &task, deadline, now);
    let mut human = vec![
        format!("Task {task_id}: {}", status_name(&task)),
        format!("  deal {} index {}", task.dealid, task.idx),
        format!(
            "  contribution deadline {}, final deadline {deadline} (unix time)",
            task.contributionDeadline
        ),
    ];
    if view["taskTimedOut"] == true {
        human.push(format!(
            "  final deadline passed: `arca task claim {task_id}` refunds it"
        ));
    }
    if view["results"]["storage"] != "none" {
        human.push(format!("  results {}", view["results"]));
    }
    let mut outcome = Outcome::new("").with("task", view.clone());
    let mut scheduler_seen = false;
    if let Some(api) = &api
        && let Ok(Some(s)) = api.task(task_id).await
    {
        human.push(format!("  scheduler: {}", scheduler_line(&s)));
        human.extend(ended_early_lines(&s));
        outcome = outcome.with("scheduler", s);
        scheduler_seen = true;
    }
    // Without the workerpool's own account, the chain still tells an early end from a claim.
    if !scheduler_seen && status_name(&task) == "FAILED" {
        match client.task_aborted(task_id).await {
            Ok(Some((cause, tx))) => {
                human.push(format!(
                    "  ended early by the workerpool (abortTask{}), before the final deadline: the requester was refunded in full; the workerpool's API (--workerpool-api) has the reason (cause digest {cause})",
                    tx.map(|t| format!(", tx {t}")).unwrap_or_default()
                ));
                outcome = outcome.with("aborted", json!({"cause": cause, "txHash": tx}));
            }
            Ok(None) => human.push(
                "  claimed after its final deadline without a result: the requester was refunded"
                    .into(),
            ),
            Err(e) => human.push(format!("  (could not tell an early end from a claim: {e})")),
        }
    }
    if let Some(name) = &a.download {
        if status_name(&task) != "COMPLETED" {
            bail!(
                "task {task_id} is {}: only a COMPLETED task has a result to download",
                status_name(&task)
            );
        }
        let file = match name {
            Some(n) if n.ends_with(".zip") => n.clone(),
            Some(n) => format!("{n}.zip"),
            None => format!("{task_id}.zip"),
        };
        let path = project.dir().join(&file);
        let location = result_location(&view["results"], task_id)?;
        let (_, conf) = common.chain_conf(&project)?;
        let gateway = conf.ipfs_gateway.with_context(|| {
            "chain.json: ipfsGateway is missing: set it to the result store's gateway URL"
                .to_string()
        })?;
        download(common.raw, &gateway, &location, &path).await?;
        human.push(format!("✔ Result downloaded to {}", path.display()));
        let encrypted = serde_json::from_str::<Value>(&deal.params)
            .ok()
            .and_then(|p| p["iexec_result_encryption"].as_bool())
            .unwrap_or(false);
        if encrypted {
            human.push(format!(
                "  the result is encrypted for the beneficiary: `arca result decrypt {file}` writes results.zip"
            ));
        }
        outcome = outcome
            .with("resultPath", path.display().to_string())
            .with("encrypted", encrypted);
    }
    outcome.human = human.join("\n");
    Ok(outcome)
}

/// `task show`'s account of a task the workerpool ended early (`abortTask`, failure cause
/// `ended-early` in the scheduler's view): who ended it, why, and that the requester got the
/// task's price back. Empty for any other task.
fn ended_early_lines(view: &Value) -> Vec<String> {
    let failure = &view["failure"];
    if failure["cause"] != "ended-early" {
        return Vec::new();
    }
    let mut lines = vec![format!(
        "  ended early by the workerpool, before the final deadline{}",
        failure["reason"]
            .as_str()
            .map(|r| format!(
                ": {} worker(s) failed with {r}, which retrying elsewhere cannot fix",
                failure["workers"]
            ))
            .unwrap_or_default()
    )];
    if let Some(message) = failure["lastWorkerMessage"].as_str() {
        lines.push(format!("  last worker's report: {message}"));
    }
    lines.push(if failure["refunded"] == true {
        format!(
            "  the requester was refunded in full{}",
            failure["abortTx"]
                .as_str()
                .map(|tx| format!(" (abortTask tx {tx})"))
                .unwrap_or_default()
        )
    } else {
        "  abortTask is being sent: the requester will be refunded in full".to_string()
    });
    lines
}

/// `/ipfs/<cid>` from the on-chain result link (`{"storage":"ipfs","location":"/ipfs/<cid>"}`).
fn result_location(results: &Value, task_id: B256) -> anyhow::Result<String> {
    match (results["storage"].as_str(), results["location"].as_str()) {
        (Some("ipfs"), Some(location)) if location.starts_with("/ipfs/") => {
            Ok(location.to_string())
        }
        (Some("none") | None, _) => bail!("task {task_id} has no result link on chain"),
        (Some(storage), location) => bail!(
            "task {task_id}'s result is stored in {storage} ({}): only ipfs results can be downloaded",
            location.unwrap_or("no location")
        ),
    }
}

/// Downloads the result at `location` (`/ipfs/<cid>`) from the result store `gateway` to `path`, with a
/// progress bar: `arca_storage::Client::download` resumes a previous partial download (`<path>.part`),
/// checks the content against its cid and only then renames it into place.
pub(crate) async fn download(
    raw: bool,
    gateway: &str,
    location: &str,
    path: &std::path::Path,
) -> anyhow::Result<u64> {
    let store = arca_storage::Client::new(gateway)
        .with_context(|| format!("chain.json ipfsGateway {gateway}"))?;
    let bar = if raw || crate::output::quiet() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("  {bar:40} {bytes}/{total_bytes} {bytes_per_sec}")
                .expect("static template"),
        );
        bar
    };
    let receipt = store
        .download(location, path, |done, total| {
            if let Some(t) = total {
                bar.set_length(t);
            }
            bar.set_position(done);
        })
        .await
        .with_context(|| {
            format!(
                "downloading {gateway}{location} (run the same command again to resume; check ipfsGateway in chain.json)"
            )
        })?;
    bar.finish_and_clear();
    Ok(receipt.size)
}

async fn task_debug(a: &TaskDebugArgs) -> anyhow::Result<Outcome> {
    let common = &a.common;
    let project = common.project()?;
    let task_id = bytes32("task id", &a.taskid)?;
    let client = common.client(&project, a.logs).await?;
    let task = client.task(task_id).await?;
    let mut human = vec![format!("Task {task_id}: on chain {}", status_name(&task))];
    let mut outcome = Outcome::new("").with(
        "onchainData",
        json!({"status": task.status, "statusName": status_name(&task)}),
    );
    let Some(api) = workerpool_api(common, &project, a.workerpool_api.as_deref())? else {
        bail!(
            "task debug needs the workerpool's scheduler API: add \"workerpoolApi\" to the chain in chain.json or pass --workerpool-api <url>"
        );
    };
    match api.task(task_id).await? {
        None => {
            human.push(
                "  the scheduler does not know this task (not started by this workerpool yet?)"
                    .into(),
            );
        }
        Some(view) => {
            human.push(format!("  scheduler: {}", scheduler_line(&view)));
            for r in view["replicates"].as_array().into_iter().flatten() {
                human.push(format!(
                    "  replicate of worker {}: {}{}{}",
                    r["worker"].as_str().unwrap_or("?"),
                    r["status"].as_str().unwrap_or("?"),
                    r.get("cause")
                        .filter(|c| !c.is_null())
                        .map(|c| format!(
                            " cause {}",
                            c.as_str().map_or_else(|| c.to_string(), str::to_string)
                        ))
                        .unwrap_or_default(),
                    // the scheduler checked the report against the task's enclave challenge
                    r.get("enclaveSigned")
                        .and_then(|s| s.as_str())
                        .map(|s| format!(" (signed by the task's enclave {s})"))
                        .unwrap_or_default()
                ));
            }
            if let Some(cause) = failure_cause(Some(&view)) {
                human.push(format!("  failure: {cause}"));
            }
            outcome = outcome.with("offchainData", view);
        }
    }
    if a.logs {
        let signer = client.signer()?.clone();
        match api.logs(task_id, &signer, client.chain_id()).await? {
            None => human.push("  no logs yet".into()),
            Some(logs) => {
                human.push("  app logs:".into());
                human.push(logs.as_str().map_or_else(
                    || serde_json::to_string_pretty(&logs).unwrap_or_default(),
                    str::to_string,
                ));
                outcome = outcome.with("appLogs", logs);
            }
        }
    }
    outcome.human = human.join("\n");
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_show_says_who_ended_a_task_early_why_and_that_the_requester_was_refunded() {
        let view = json!({
            "status": "FAILED",
            "failure": {
                "cause": "ended-early",
                "reason": "app-exit-code",
                "workers": 2,
                "lastWorkerMessage": "the app exited with code 1",
                "refunded": true,
                "abortTx": "0xab",
            }
        });
        assert_eq!(
            ended_early_lines(&view),
            vec![
                "  ended early by the workerpool, before the final deadline: 2 worker(s) failed with app-exit-code, which retrying elsewhere cannot fix",
                "  last worker's report: the app exited with code 1",
                "  the requester was refunded in full (abortTask tx 0xab)",
            ]
        );
        let claimed = json!({"failure": {"cause": "final-deadline-reached"}});
        assert!(ended_early_lines(&claimed).is_empty());
        assert!(ended_early_lines(&json!({"failure": null})).is_empty());
    }
}
