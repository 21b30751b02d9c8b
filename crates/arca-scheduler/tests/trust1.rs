//! Trust-1 tasks end to end: a real chain, the scheduler over HTTP, a real agent sending
//! `contributeAndFinalize`; and a failed replicate's cause and logs, visible to the requester
//! only.

mod common;

use arca_client::poco::task_status_name;
use arca_scheduler::client::Client;
use arca_testkit::{DealSpec, Stack};
use arca_worker::agent::{ApiError, ReplicateStatus};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trust_1_task_completes_with_contribute_and_finalize() {
    let (stack, app, pool) = hello_stack().await;
    let data = tempfile::tempdir().unwrap();
    let scheduler = scheduler(&stack, pool, data.path()).await;
    let url = scheduler.url();
    let execute = FileExecute::new("hello");
    let agent = agent(&stack, &url, &stack.actors.workers[0], execute.clone()).await;

    let started = std::time::Instant::now();
    let deal = stack
        .deal(&DealSpec::new(&stack, app, pool).params(r#"{"iexec_args":"world"}"#))
        .await;
    let task_id = Stack::task_id(deal, 0);
    let view = wait_task(&url, task_id, 60, |v| v.status == "COMPLETED").await;
    eprintln!("trust-1 task: deal → COMPLETED in {:?}", started.elapsed());

    // the chain agrees, and `results` is the location the worker produced
    let task = stack
        .client(&stack.actors.requester)
        .await
        .task(task_id)
        .await
        .unwrap();
    assert_eq!(task_status_name(task.status), "COMPLETED");
    let results: serde_json::Value = serde_json::from_slice(&task.results).unwrap();
    assert_eq!(results["storage"], "file");
    let location = results["location"]
        .as_str()
        .unwrap()
        .trim_start_matches("file://");
    assert_eq!(
        std::fs::read_to_string(std::path::Path::new(location).join("result.txt")).unwrap(),
        "hello world"
    );
    assert_eq!(view.chain_status.as_deref(), Some("COMPLETED"));
    assert_eq!(
        view.result_location.as_deref(),
        Some(&*String::from_utf8_lossy(&task.results))
    );
    assert_eq!(view.replicates.len(), 1);
    assert_eq!(view.replicates[0].worker, stack.actors.workers[0].address());
    assert_eq!(view.replicates[0].status, ReplicateStatus::Completed);
    assert_eq!(
        view.replicates[0].txs.len(),
        1,
        "one contributeAndFinalize transaction"
    );
    assert!(view.deadlines.final_.unwrap() > view.deadlines.contribution.unwrap());
    assert!(view.failure.is_none());

    // the requester reads the app's output
    let client = Client::new(&url);
    let logs = client
        .logs(task_id, &stack.actors.requester, stack.deployment.chain_id)
        .await
        .unwrap();
    assert_eq!(logs.replicates.len(), 1);
    assert!(logs.replicates[0].stdout.contains("world"), "{logs:?}");
    agent.shutdown().await;
    scheduler.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_replicate_explains_itself_and_its_logs_go_to_the_requester_only() {
    let (stack, app, pool) = hello_stack().await;
    let data = tempfile::tempdir().unwrap();
    // the task must stay ACTIVE after its only worker's failure to show the interim view; with
    // one worker alive the default policy would end it early at once (tests/early_fail.rs)
    let mut config = scheduler_config(&stack, pool, data.path());
    config.fail_early_after = 0;
    let scheduler = arca_scheduler::spawn(config).await.unwrap();
    let url = scheduler.url();
    let agent = agent(
        &stack,
        &url,
        &stack.actors.workers[0],
        FileExecute::new("hello"),
    )
    .await;

    let deal = stack
        .deal(&DealSpec::new(&stack, app, pool).params(r#"{"iexec_args":"please fail"}"#))
        .await;
    let task_id = Stack::task_id(deal, 0);
    let view = wait_task(&url, task_id, 60, |v| {
        v.replicates
            .first()
            .is_some_and(|r| r.status == ReplicateStatus::ComputeFailed)
    })
    .await;
    let r = &view.replicates[0];
    assert_eq!(r.cause.as_deref(), Some("app-exit-code"));
    assert_eq!(r.exit_code, Some(3));
    assert!(r.message.as_deref().unwrap().contains("boom"));
    // the task itself says why it is not progressing, and is still ACTIVE on chain
    assert_eq!(view.chain_status.as_deref(), Some("ACTIVE"));
    let failure = view.failure.clone().expect("a task-level failure");
    assert_eq!(failure["cause"], "replicate-failed");
    assert!(
        failure["message"]
            .as_str()
            .unwrap()
            .contains("exited with code 3")
    );
    assert!(
        view.stage.contains("every replicate so far failed"),
        "{}",
        view.stage
    );

    let client = Client::new(&url);
    let chain_id = stack.deployment.chain_id;
    let logs = client
        .logs(task_id, &stack.actors.requester, chain_id)
        .await
        .unwrap();
    assert_eq!(logs.replicates[0].stderr, "boom: cannot parse input\n");
    assert_eq!(logs.replicates[0].exit_code, Some(3));
    match client.logs(task_id, &stack.actors.stranger, chain_id).await {
        Err(ApiError::Refused {
            status: 403,
            message,
        }) => {
            assert!(message.contains("only the deal's requester"), "{message}")
        }
        other => panic!("a stranger must be refused the logs, got {other:?}"),
    }
    agent.shutdown().await;
    scheduler.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_deal_of_10_tasks_completes_on_two_workers() {
    let (stack, app, pool) = hello_stack().await;
    let data = tempfile::tempdir().unwrap();
    let scheduler = scheduler(&stack, pool, data.path()).await;
    let url = scheduler.url();
    let [w0, w1] = stack.actors.workers.clone();
    let a0 = agent(&stack, &url, &w0, FileExecute::new("hello")).await;
    let a1 = agent(&stack, &url, &w1, FileExecute::new("hello")).await;
    let mut spec = DealSpec::new(&stack, app, pool).params(r#"{"iexec_args":"bulk"}"#);
    spec.volume = 10;
    let started = std::time::Instant::now();
    let deal = stack.deal(&spec).await;
    let client = stack.client(&stack.actors.requester).await;
    let mut workers = std::collections::BTreeSet::new();
    for index in 0..10 {
        let task_id = Stack::task_id(deal, index);
        let view = wait_task(&url, task_id, 120, |v| v.status == "COMPLETED").await;
        workers.insert(view.replicates[0].worker);
        let task = client.task(task_id).await.unwrap();
        assert_eq!(task_status_name(task.status), "COMPLETED");
    }
    eprintln!(
        "bulk deal of 10 trust-1 tasks on 2 workers: {:?}",
        started.elapsed()
    );
    assert_eq!(workers.len(), 2, "both workers took part");
    a0.shutdown().await;
    a1.shutdown().await;
    scheduler.shutdown().await;
}
