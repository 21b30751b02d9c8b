//! Ending a failed task early: when two workers fail a task for a cause retrying cannot fix
//! (the app exits with an error), the scheduler sends `abortTask` and the requester is refunded
//! long before the final deadline; a failure another worker might not have (a result upload)
//! does not end the task, nor does anything with `fail_early_after = 0`; and a scheduler that
//! died after its `abortTask` was mined settles the task at restart. Real chain, real
//! scheduler over HTTP, real agents (the container stage is `FileExecute`).

mod common;

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::providers::Provider;
use alloy::sol_types::SolEvent;
use arca_client::poco::task_status_name;
use arca_contracts::bindings::IexecHub::TaskAborted;
use arca_scheduler::api::TaskView;
use arca_scheduler::engine::EarlyFailure;
use arca_scheduler::store::Store;
use arca_testkit::{DealSpec, Stack};
use arca_worker::agent::{AgentHandle, Execute, ReplicateStatus};
use arca_worker::task::{FailureCause, Stage};
use common::*;

/// Task price (nRLC); the pool owner stakes 30 % of it.
const PRICE: u64 = 100;
const FUNDS: u64 = 1_000;
/// `FileExecute` fails like this when the args contain `fail`.
const FAILING_PARAMS: &str = r#"{"iexec_args":"fail"}"#;

/// A stack with the requester and the pool owner funded, an app and a workerpool.
async fn setup() -> (Stack, Address, Address) {
    let (stack, app, pool) = hello_stack().await;
    let a = &stack.actors;
    for who in [&a.requester, &a.scheduler] {
        fund_rlc(&stack, who, FUNDS).await;
    }
    (stack, app, pool)
}

/// (balance, locked) of the requester and of the pool owner.
async fn escrow(stack: &Stack) -> ((U256, U256), (U256, U256)) {
    let a = &stack.actors;
    let client = stack.client(&a.admin).await;
    (
        client.account(a.requester.address()).await.unwrap(),
        client.account(a.scheduler.address()).await.unwrap(),
    )
}

async fn chain_status(stack: &Stack, task_id: B256) -> &'static str {
    let task = stack
        .client(&stack.actors.requester)
        .await
        .task(task_id)
        .await
        .unwrap();
    task_status_name(task.status)
}

/// The stack's two workers as agents, each with its own `execute()`, and the task of a deal
/// with `params` priced at `PRICE` on `pool`.
async fn two_agents_and_a_task<E: Execute + 'static>(
    stack: &Stack,
    url: &str,
    app: Address,
    pool: Address,
    params: &str,
    execute: impl Fn() -> Arc<E>,
) -> (Vec<AgentHandle>, B256) {
    let mut agents = Vec::new();
    for worker in &stack.actors.workers {
        agents.push(agent(stack, url, worker, execute()).await);
    }
    let spec = DealSpec::new(stack, app, pool)
        .params(params)
        .prices(0, PRICE);
    (agents, Stack::task_id(stack.deal(&spec).await, 0))
}

fn both_failed(v: &TaskView) -> bool {
    v.replicates.len() == 2 && v.replicates.iter().all(|r| r.status.is_failure())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_failing_with_an_exit_code_end_the_task_early_and_refund_the_requester() {
    let (stack, app, pool) = setup().await;
    let data = tempfile::tempdir().unwrap();
    let scheduler = scheduler(&stack, pool, data.path()).await;
    let url = scheduler.url();
    let (agents, task_id) = two_agents_and_a_task(&stack, &url, app, pool, FAILING_PARAMS, || {
        FileExecute::new("hello")
    })
    .await;
    let view = wait_task(&url, task_id, 60, |v| v.status == "FAILED").await;

    // FAILED on chain, well before the final deadline (deal start + 3000 s)
    assert_eq!(chain_status(&stack, task_id).await, "FAILED");
    let final_deadline = view.deadlines.final_.expect("final deadline");
    let now = chain_now(&stack).await;
    assert!(
        now + 2_500 < final_deadline,
        "ended at {now}, the final deadline is {final_deadline}"
    );
    // the requester got the whole price back; the pool's stake went to the kitty
    let (requester, pool_owner) = escrow(&stack).await;
    assert_eq!(requester, (U256::from(FUNDS), U256::ZERO));
    assert_eq!(
        pool_owner,
        (U256::from(FUNDS - PRICE * 30 / 100), U256::ZERO)
    );

    // the view says who ended it, why, and that the requester was refunded
    assert_eq!(view.chain_status.as_deref(), Some("FAILED"));
    assert!(
        view.stage.contains("ended early by the workerpool"),
        "{view:#?}"
    );
    let f = view.failure.clone().expect("failure");
    assert_eq!(f["cause"], "ended-early");
    assert_eq!(f["endedBy"], "workerpool");
    assert_eq!(f["reason"], "app-exit-code");
    assert_eq!(f["failureCause"]["code"], 3);
    assert_eq!(f["workers"], 2);
    assert_eq!(f["refunded"], true);
    assert!(
        f["lastWorkerMessage"]
            .as_str()
            .unwrap()
            .contains("exited with code 3"),
        "{f:#}"
    );
    let message = f["message"].as_str().unwrap();
    assert!(message.contains("ended the task early"), "{message}");
    assert!(message.contains("refunded in full"), "{message}");
    assert_eq!(view.replicates.len(), 2);
    for r in &view.replicates {
        assert_eq!(r.status, ReplicateStatus::ComputeFailed);
        assert_eq!(r.exit_code, Some(3));
    }

    // the transaction emitted TaskAborted with the digest of the recorded cause
    let tx: B256 = serde_json::from_value(f["abortTx"].clone()).expect("abortTx");
    let receipt = stack
        .client(&stack.actors.admin)
        .await
        .provider()
        .get_transaction_receipt(tx)
        .await
        .unwrap()
        .expect("the abortTask receipt");
    let event = receipt
        .inner
        .logs()
        .iter()
        .find_map(|l| TaskAborted::decode_log(&l.inner).ok())
        .expect("a TaskAborted event");
    assert_eq!(event.data.taskid, task_id);
    let cause_json = serde_json::to_vec(&f["failureCause"]).unwrap();
    assert_eq!(event.data.cause, keccak256(&cause_json));
    assert_eq!(f["causeDigest"], serde_json::json!(keccak256(&cause_json)));
    // and the chain alone tells it apart from a claim (`task show` without the pool's API)
    let requester = stack.client(&stack.actors.requester).await;
    assert_eq!(
        requester.task_aborted(task_id).await.unwrap(),
        Some((keccak256(&cause_json), Some(tx)))
    );

    for a in agents {
        a.shutdown().await;
    }
    scheduler.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_another_worker_might_not_have_does_not_end_the_task() {
    let (stack, app, pool) = setup().await;
    let data = tempfile::tempdir().unwrap();
    let scheduler = scheduler(&stack, pool, data.path()).await;
    let url = scheduler.url();
    let upload = || {
        FailingExecute::new(
            Stage::PostCompute,
            FailureCause::ResultUploadFailed,
            "uploading the result to the result store failed: connection refused",
        )
    };
    let (agents, task_id) = two_agents_and_a_task(&stack, &url, app, pool, "{}", upload).await;
    wait_task(&url, task_id, 60, both_failed).await;
    // ten scheduler rounds later the task still waits for its final deadline
    tokio::time::sleep(Duration::from_secs(2)).await;
    let view = wait_task(&url, task_id, 10, |_| true).await;
    assert_eq!(view.status, "RUNNING", "{view:#?}");
    assert_eq!(chain_status(&stack, task_id).await, "ACTIVE");
    assert_eq!(
        view.failure.as_ref().map(|f| f["cause"].clone()),
        Some(serde_json::json!("replicate-failed"))
    );
    let (requester, _) = escrow(&stack).await;
    assert_eq!(
        requester,
        (U256::from(FUNDS - PRICE), U256::from(PRICE)),
        "still locked"
    );
    for a in agents {
        a.shutdown().await;
    }
    scheduler.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_early_after_zero_waits_for_the_final_deadline_as_before() {
    let (stack, app, pool) = setup().await;
    let data = tempfile::tempdir().unwrap();
    let mut config = scheduler_config(&stack, pool, data.path());
    config.fail_early_after = 0;
    let scheduler = arca_scheduler::spawn(config).await.unwrap();
    let url = scheduler.url();
    let (agents, task_id) = two_agents_and_a_task(&stack, &url, app, pool, FAILING_PARAMS, || {
        FileExecute::new("hello")
    })
    .await;
    let view = wait_task(&url, task_id, 60, both_failed).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(chain_status(&stack, task_id).await, "ACTIVE");
    assert_eq!(
        escrow(&stack).await.0,
        (U256::from(FUNDS - PRICE), U256::from(PRICE))
    );

    // past the final deadline the scheduler claims, as it always did
    let final_deadline = view.deadlines.final_.expect("final deadline");
    advance_time(&stack, final_deadline - chain_now(&stack).await + 1).await;
    let view = wait_task(&url, task_id, 30, |v| v.status == "FAILED").await;
    assert_eq!(view.failure.unwrap()["cause"], "final-deadline-reached");
    let requester = stack.client(&stack.actors.requester).await;
    assert_eq!(requester.task_aborted(task_id).await.unwrap(), None);
    assert_eq!(escrow(&stack).await.0, (U256::from(FUNDS), U256::ZERO));
    for a in agents {
        a.shutdown().await;
    }
    scheduler.shutdown().await;
}

/// The scheduler stores its decision, sends `abortTask`, and dies before recording the outcome:
/// at restart it finds the task FAILED on chain and settles the row with the stored decision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_that_died_after_abort_task_settles_the_task_at_restart() {
    let (stack, app, pool) = setup().await;
    let data = tempfile::tempdir().unwrap();
    // the first run only collects the two failures (it never ends tasks early)
    let mut config = scheduler_config(&stack, pool, data.path());
    config.fail_early_after = 0;
    let first = arca_scheduler::spawn(config).await.unwrap();
    let url = first.url();
    let addr = first.addr();
    let (agents, task_id) = two_agents_and_a_task(&stack, &url, app, pool, FAILING_PARAMS, || {
        FileExecute::new("hello")
    })
    .await;
    wait_task(&url, task_id, 60, both_failed).await;
    first.shutdown().await;

    // what the crashed run left: its decision stored with the task, the transaction mined
    let store = Store::open(Some(data.path())).unwrap();
    let replicates = store.replicates(task_id).unwrap();
    let decision =
        arca_scheduler::engine::early_failure(&replicates, 2).expect("two exit-code failures");
    let mut row = store.task(task_id).unwrap().expect("the task row");
    row.failure = Some(decision.record(None));
    store.save_task(&row).unwrap();
    drop(store);
    stack
        .client(&stack.actors.scheduler)
        .await
        .abort_task(task_id, decision.digest())
        .await
        .expect("abortTask by the pool owner");
    assert_eq!(chain_status(&stack, task_id).await, "FAILED");

    let mut config = scheduler_config(&stack, pool, data.path());
    config.listen = addr;
    let second = arca_scheduler::spawn(config).await.unwrap();
    let view = wait_task(&url, task_id, 30, |v| v.status == "FAILED").await;
    let f = view.failure.expect("failure");
    assert_eq!(f["cause"], "ended-early");
    assert_eq!(f["reason"], "app-exit-code");
    assert_eq!(f["workers"], 2);
    assert_eq!(f["refunded"], true);
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("the requester was refunded in full"),
        "{f:#}"
    );
    assert!(
        view.replicates
            .iter()
            .all(|r| r.status == ReplicateStatus::ComputeFailed)
    );
    assert_eq!(escrow(&stack).await.0, (U256::from(FUNDS), U256::ZERO));
    for a in agents {
        a.shutdown().await;
    }
    second.shutdown().await;
}

/// The decision's record is self-consistent: its digest is keccak256 of its cause's JSON.
#[test]
fn the_cause_digest_is_the_hash_of_the_recorded_cause() {
    let e = EarlyFailure {
        workers: 2,
        cause: FailureCause::AppExitCode { code: 1 },
        last_worker: alloy::primitives::Address::repeat_byte(1),
        last_message: "the app exited with code 1".into(),
    };
    let record = e.record(None);
    assert_eq!(record["refunded"], false);
    assert_eq!(
        e.digest(),
        keccak256(serde_json::to_vec(&record["failureCause"]).unwrap())
    );
    assert_eq!(
        e.digest(),
        keccak256(br#"{"cause":"app-exit-code","code":1}"#)
    );
}
