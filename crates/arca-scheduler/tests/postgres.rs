//! A scheduler whose state lives in Postgres (feature `postgres`, `ARCA_TEST_POSTGRES_URL` set by
//! scripts/test.d/47-postgres.sh; skipped, said on stderr, without it): the real scheduler on a
//! real chain is stopped in the middle of a trust-3 task and restarted on the same database; the
//! task, its contributed replicate and the deal cursor come back, and the task completes.
#![cfg(feature = "postgres")]

mod common;

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
    let (stack, app, pool) = hello_stack().await;
    let unused = tempfile::tempdir().unwrap();
    let config = || {
        let mut c = scheduler_config(&stack, pool, unused.path());
        c.data_dir = None;
        c.postgres_url = Some(db.clone());
        c
    };
    let task_id = restart_mid_task_and_complete(&stack, app, pool, config).await;

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
}
