//! The scheduler survives a restart in the middle of a task (state from SQLite, agents log in
//! again), and a task with no result by its final deadline is claimed so the requester is
//! refunded.

mod common;

use alloy::primitives::U256;
use arca_testkit::{DealSpec, Stack};
use arca_worker::agent::ReplicateStatus;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_scheduler_resumes_the_task_and_its_workers_log_in_again() {
    let (stack, app, pool) = hello_stack().await;
    let data = tempfile::tempdir().unwrap();
    restart_mid_task_and_complete(&stack, app, pool, || {
        scheduler_config(&stack, pool, data.path())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_final_deadline_the_scheduler_claims_and_the_requester_is_refunded() {
    let (stack, app, pool) = hello_stack().await;
    let a = &stack.actors;
    // RLC for the requester (pays) and the pool owner (stakes 30% of the price per task)
    let admin = stack.client(&a.admin).await;
    for who in [&a.requester, &a.scheduler] {
        fund_rlc(&stack, who, 1_000).await;
    }
    let requester = stack.client(&a.requester).await;
    let data = tempfile::tempdir().unwrap();
    let scheduler = scheduler(&stack, pool, data.path()).await;
    let url = scheduler.url();

    let deal = stack
        .deal(&DealSpec::new(&stack, app, pool).prices(0, 100))
        .await;
    let task_id = Stack::task_id(deal, 0);
    // no worker ever comes: the task waits, initialized, with its deadlines shown
    let view = wait_task(&url, task_id, 30, |v| v.status == "INITIALIZED").await;
    assert_eq!(view.stage, "initialized; waiting for a worker");
    let final_deadline = view.deadlines.final_.expect("final deadline");
    assert_eq!(
        requester.account(a.requester.address()).await.unwrap(),
        (U256::from(900), U256::from(100))
    );
    assert_eq!(
        admin.account(a.scheduler.address()).await.unwrap(),
        (U256::from(970), U256::from(30))
    );

    // category 0 (XS): final deadline = deal start + 10 × 300 s
    let now = view.deadlines.contribution.unwrap() - 7 * 300;
    advance_time(&stack, final_deadline - now + 1).await;
    let view = wait_task(&url, task_id, 30, |v| v.status == "FAILED").await;
    assert_eq!(view.chain_status.as_deref(), Some("FAILED"));
    let failure = view.failure.expect("failure");
    assert_eq!(failure["cause"], "final-deadline-reached");
    assert!(failure["message"].as_str().unwrap().contains("refunded"));
    // refunded: the requester's 100 nRLC are unlocked; the pool owner's stake is seized
    assert_eq!(
        requester.account(a.requester.address()).await.unwrap(),
        (U256::from(1_000), U256::ZERO)
    );
    assert_eq!(
        admin.account(a.scheduler.address()).await.unwrap(),
        (U256::from(970), U256::ZERO)
    );
    scheduler.shutdown().await;
}

/// An app that never finishes: its worker is killed while it runs.
struct Hang;

impl arca_worker::agent::Execute for Hang {
    fn execute<'a>(
        &'a self,
        _spec: &'a arca_worker::task::ReplicateSpec,
    ) -> arca_worker::agent::BoxFuture<'a, arca_worker::task::ReplicateOutcome> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_task_is_declared_lost_and_the_task_completes_elsewhere() {
    let (stack, app, pool) = hello_stack().await;
    let data = tempfile::tempdir().unwrap();
    let mut config = scheduler_config(&stack, pool, data.path());
    config.worker_timeout = std::time::Duration::from_secs(2);
    let scheduler = arca_scheduler::spawn(config).await.unwrap();
    let url = scheduler.url();
    let [w0, w1] = stack.actors.workers.clone();
    let doomed = agent(&stack, &url, &w0, std::sync::Arc::new(Hang)).await;
    let deal = stack
        .deal(&DealSpec::new(&stack, app, pool).params(r#"{"iexec_args":"rescue"}"#))
        .await;
    let task_id = Stack::task_id(deal, 0);
    wait_task(&url, task_id, 30, |v| {
        v.replicates
            .first()
            .is_some_and(|r| r.status == ReplicateStatus::Started)
    })
    .await;
    doomed.abort();
    let view = wait_task(&url, task_id, 30, |v| {
        v.replicates
            .first()
            .is_some_and(|r| r.status == ReplicateStatus::WorkerLost)
    })
    .await;
    assert_eq!(view.status, "RUNNING");

    let rescuer = agent(&stack, &url, &w1, FileExecute::new("hello")).await;
    let view = wait_task(&url, task_id, 60, |v| v.status == "COMPLETED").await;
    assert_eq!(view.replicates.len(), 2);
    assert_eq!(view.replicates[0].worker, w0.address());
    assert_eq!(view.replicates[0].status, ReplicateStatus::WorkerLost);
    assert_eq!(view.replicates[1].worker, w1.address());
    assert_eq!(view.replicates[1].status, ReplicateStatus::Completed);
    rescuer.shutdown().await;
    scheduler.shutdown().await;
}
