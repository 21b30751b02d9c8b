//! A scheduler whose state lives in Postgres (feature `postgres`, `ARCA_TEST_POSTGRES_URL` set by
//! scripts/test.d/47-postgres.sh; skipped, said on stderr, without it): the real scheduler on a
//! real chain is stopped in the middle of a trust-3 task and restarted on the same database; the
//! task, its contributed replicate and the deal cursor come back, and the task completes.
#![cfg(feature = "postgres")]

mod common;

use alloy::primitives::{B256, U256};
use arca_client::poco::task_status_name;
use arca_testkit::{DealSpec, Stack};
use arca_worker::agent::ReplicateStatus;
use common::*;

use arca_pg::test_schema_url as test_url;

/// Runs the sync `postgres` client off the test's runtime (it must not be entered from there).
fn blocking<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::spawn(f)
        .join()
        .expect("the Postgres call panicked")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_restarted_scheduler_resumes_the_task_from_the_database() {
    let Some(db) = blocking(|| test_url("scheduler_t_e2e")) else {
        return;
    };
    init_tracing();
    let stack = Stack::start().await;
    let app = stack.app("hello", "arca/hello:1", B256::ZERO, "").await;
    let pool = stack.workerpool("pool").await;
    let unused = tempfile::tempdir().unwrap();
    let config = || {
        let mut c = scheduler_config(&stack, pool, unused.path());
        c.data_dir = None;
        c.postgres_url = Some(db.clone());
        c
    };
    let first = arca_scheduler::spawn(config()).await.expect("scheduler");
    let url = first.url();
    let addr = first.addr();
    let [w0, w1] = stack.actors.workers.clone();
    let a0 = agent(&stack, &url, &w0, FileExecute::new("hello")).await;

    // trust 3 needs two contributions; the first worker contributes, then the scheduler stops
    let mut spec = DealSpec::new(&stack, app, pool).params(r#"{"iexec_args":"pg"}"#);
    spec.trust = 3;
    let task_id = Stack::task_id(stack.deal(&spec).await, 0);
    wait_task(&url, task_id, 60, |v| {
        v.replicates
            .iter()
            .any(|r| r.status == ReplicateStatus::Contributed)
    })
    .await;
    first.shutdown().await;

    // the same database, the same address: the task, its replicate and the cursor come back
    let mut again = config();
    again.listen = addr;
    let second = arca_scheduler::spawn(again)
        .await
        .expect("restarting the scheduler on Postgres");
    let view = wait_task(&url, task_id, 10, |_| true).await;
    assert_eq!(view.status, "RUNNING");
    assert_eq!(view.replicates.len(), 1);
    assert_eq!(view.replicates[0].status, ReplicateStatus::Contributed);

    let a1 = agent(&stack, &url, &w1, FileExecute::new("hello")).await;
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
    assert_eq!(task_status_name(task.status), "COMPLETED");
    assert_eq!(task.revealCounter, U256::from(2));

    // the state really is in the database: the task row is there, COMPLETED
    let status: String = blocking(move || {
        let mut raw = postgres::Client::connect(&db, postgres::NoTls).unwrap();
        raw.query_one(
            "SELECT status FROM scheduler_tasks WHERE task_id = $1",
            &[&task_id.to_string()],
        )
        .unwrap()
        .get(0)
    });
    assert_eq!(status, "COMPLETED");
    a0.shutdown().await;
    a1.shutdown().await;
    second.shutdown().await;
}
