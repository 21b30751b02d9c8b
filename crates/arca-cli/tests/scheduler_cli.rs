//! `task show`, `task debug [--logs]` and `deal show` with the workerpool's scheduler API (the real
//! arca-scheduler, in-process, on the same chain): the scheduler's status and stage join the on-chain
//! view, `--logs` is authorized by the requester's signed challenge, and a missing API is named.

mod common;

use alloy::primitives::B256;
use arca_testkit::DealSpec;
use common::{Env, PASSWORD};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn task_views_include_the_schedulers_stage() {
    let env = Env::start().await;
    let a = env.stack.actors.clone();
    let app = env
        .stack
        .app("hello", "docker.io/x/hello:1", B256::repeat_byte(5), "")
        .await;
    let pool = env.stack.workerpool("pool").await;
    let deal = env.stack.deal(&DealSpec::new(&env.stack, app, pool)).await;
    let task = arca_client::poco::task_id(deal, 0).to_string();
    env.use_wallet(&a.requester);

    // without a scheduler API, task debug says how to give one
    let message = env.fails(&["task", "debug", &task]);
    assert!(message.contains("workerpoolApi"), "{message}");

    let mut config =
        arca_scheduler::SchedulerConfig::new(env.stack.chain_conf(), a.scheduler.clone(), pool);
    config.listen = ([127, 0, 0, 1], 0).into();
    config.poll_interval = Duration::from_millis(100);
    let scheduler = arca_scheduler::spawn(config).await.expect("scheduler");
    let mut chain = env.read("chain.json");
    chain["chains"]["dev"]["workerpoolApi"] = json!(scheduler.url());
    env.write("chain.json", &chain);

    // the scheduler initializes the task on chain; task show then has both views
    let mut shown = json!(null);
    for _ in 0..100 {
        let value = env.raw(&["task", "show", &task]);
        if value["ok"] == true && value["scheduler"].is_object() {
            shown = value;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shown["task"]["statusName"], "ACTIVE", "{shown}");
    assert_eq!(shown["scheduler"]["taskId"], task);
    assert!(shown["scheduler"]["stage"].is_string(), "{shown}");

    let debug = env.ok(&["task", "debug", &task]);
    assert_eq!(debug["onchainData"]["statusName"], "ACTIVE");
    assert_eq!(debug["offchainData"]["dealId"], deal.to_string());
    // the requester may read the logs (none yet: no worker took the task)
    let logs = env.ok(&["task", "debug", &task, "--logs", "--password", PASSWORD]);
    assert_eq!(logs["appLogs"]["replicates"], json!([]));
    // another wallet may not
    env.use_wallet(&a.stranger);
    let message = env.fails(&["task", "debug", &task, "--logs", "--password", PASSWORD]);
    assert!(message.contains("workerpool API"), "{message}");

    // deal show carries the scheduler's view per task; --workerpool-api overrides chain.json
    let shown = env.ok(&[
        "deal",
        "show",
        &deal.to_string(),
        "--workerpool-api",
        &scheduler.url(),
    ]);
    assert_eq!(shown["tasks"][0]["scheduler"]["taskId"], task);
}
