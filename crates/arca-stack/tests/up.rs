//! `arca up`'s composition against real parts: everything answers, the chain.json it writes is
//! usable by the client, and a restart on the same data directory is the same marketplace.

use arca_stack::{StackConfig, StackHandle};

fn config(dir: &std::path::Path) -> StackConfig {
    StackConfig {
        data_dir: Some(dir.to_path_buf()),
        port_base: 0,
        // Workers need a Docker daemon: the end-to-end runs with workers are scripts/test.d/70-e2e.sh.
        workers: 0,
        ..StackConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_starts_answers_and_resumes_from_its_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let stack = StackHandle::start(config(dir.path())).await.unwrap();
    let info = stack.info.clone();
    let http = reqwest::Client::new();
    let sms = http
        .get(format!("{}/health", info.sms_url))
        .send()
        .await
        .unwrap();
    assert_eq!(sms.status(), 200);
    let market = http
        .get(format!("{}/version", info.market_url))
        .send()
        .await
        .unwrap();
    assert_eq!(market.status(), 200);
    let store = http
        .get(format!("{}/health", info.storage_url))
        .send()
        .await
        .unwrap();
    assert_eq!(store.status(), 200);
    let scheduler = http
        .get(format!("{}/health", info.scheduler_url))
        .send()
        .await
        .unwrap();
    assert_eq!(scheduler.status(), 200);

    // The written chain.json connects a client to this stack's hub.
    let text = std::fs::read_to_string(dir.path().join("chain.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let conf = arca_client::project::indexmap_like::parse(&doc["chains"]["arca"]).unwrap();
    assert_eq!(
        conf.hub.as_deref(),
        Some(info.hub.to_checksum(None).as_str())
    );
    let client = arca_client::Client::connect("arca", &conf, None)
        .await
        .unwrap();
    let pool = client
        .show(arca_client::Resource::Workerpool, info.workerpool)
        .await
        .unwrap();
    let owner = format!("{:?}", info.workerpool_owner).to_lowercase();
    assert!(pool.to_string().to_lowercase().contains(&owner), "{pool}");
    stack.shutdown().await;

    let again = StackHandle::start(config(dir.path())).await.unwrap();
    assert_eq!(again.info.hub, info.hub, "same contracts after a restart");
    assert_eq!(
        again.info.workerpool, info.workerpool,
        "same workerpool after a restart"
    );
    assert_eq!(again.info.workerpool_owner, info.workerpool_owner);
    again.shutdown().await;
}
