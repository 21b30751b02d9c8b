//! The market-backed commands end to end, with the real `arca` binary against an in-process chain, the
//! real market and SMS: owners publish app and workerpool orders, the orderbook lists them, `order match
//! --explain` names what excludes a candidate, `app run` matches a deal with the SDK's params encoding
//! (preflight failures name the fixing command), `deal show` / `task show` follow the task the
//! workerpool completes on chain, `task show --download` fetches the result (and resumes a partial
//! download), `app run --watch` follows a task to COMPLETED, and owners unpublish.

mod common;

use alloy::primitives::{Address, B256, Bytes, keccak256};
use alloy::providers::Provider;
use alloy::signers::SignerSync;
use alloy::sol_types::SolEvent;
use arca_contracts::bindings::IexecHub::OrdersMatched;
use common::{Env, PASSWORD};
use serde_json::{Value, json};

/// Waits for a deal not in `known` to appear on chain (from the hub's OrdersMatched events).
async fn next_deal(env: &Env, known: &[B256]) -> B256 {
    let client = env.stack.client(&env.stack.actors.requester).await;
    let hub = *client.hub().address();
    loop {
        let logs = client
            .provider()
            .get_logs(&alloy::rpc::types::Filter::new().address(hub).from_block(0))
            .await
            .unwrap();
        let found = logs
            .iter()
            .filter_map(|l| {
                OrdersMatched::decode_log_data(l.data())
                    .ok()
                    .map(|e| e.dealid)
            })
            .find(|d| !known.contains(d));
        if let Some(d) = found {
            return d;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// `arca app run … --watch --raw` started in the background.
fn watch_run(env: &Env, app: &str, pool: &str) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_arca"))
        .args([
            "app",
            "run",
            app,
            "--workerpool",
            pool,
            "--watch",
            "--raw",
            "--password",
            PASSWORD,
        ])
        .current_dir(&env.dir)
        .env("HOME", env.home.path())
        .env("ARCA_WATCH_INTERVAL_MS", "100")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The workerpool completes task 0 of `deal` on chain (trust 1, standard task): the scheduler
/// initializes it and authorizes a worker, which uploads `result` to the result store and contributes
/// and finalizes with its location.
async fn complete(env: &Env, deal: B256, result: &[u8]) -> (B256, String) {
    let a = &env.stack.actors;
    let task = env.stack.initialize(deal, 0).await;
    let worker = &a.workers[0];
    let authorization = a
        .scheduler
        .sign_message_sync(
            keccak256(
                [
                    worker.address().as_slice(),
                    task.as_slice(),
                    Address::ZERO.as_slice(),
                ]
                .concat(),
            )
            .as_slice(),
        )
        .unwrap();
    let receipt = arca_storage::Client::new(env.storage.url())
        .unwrap()
        .upload(
            task,
            result.to_vec(),
            worker,
            Bytes::from(authorization.as_bytes().to_vec()),
            Address::ZERO,
        )
        .await
        .expect("uploading the result");
    let location = receipt.location;
    let results = json!({"storage": "ipfs", "location": location}).to_string();
    env.stack
        .client(worker)
        .await
        .contribute_and_finalize(
            task,
            B256::repeat_byte(0x42),
            Bytes::from(results.into_bytes()),
            Bytes::new(),
            Address::ZERO,
            Bytes::new(),
            Bytes::from(authorization.as_bytes().to_vec()),
        )
        .await
        .expect("contributeAndFinalize");
    (task, location)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn publish_orderbook_run_show_download_and_watch() {
    let env = Env::start().await;
    let a = env.stack.actors.clone();
    let app = env
        .stack
        .app(
            "hello",
            "docker.io/talentlayer/module:1.0.0",
            B256::repeat_byte(0x3e),
            "",
        )
        .await;
    let pool = env.stack.workerpool("pool").await;
    let (app_s, pool_s) = (app.to_string(), pool.to_string());

    // the app owner publishes an app order; the orderbook lists it
    env.use_wallet(&a.app_owner);
    let published = env.ok(&["app", "publish", &app_s, "--password", PASSWORD]);
    assert_eq!(published["order"]["app"], app.to_checksum(None));
    assert_eq!(published["order"]["volume"], "1000000");
    let book = env.ok(&["orderbook", "app", &app_s]);
    assert_eq!(book["count"], 1);
    assert_eq!(book["orders"][0]["orderHash"], published["orderHash"]);
    // only the owner can publish
    env.use_wallet(&a.requester);
    let refused = env.fails(&["app", "publish", &app_s, "--password", PASSWORD]);
    assert!(refused.contains("only its owner"), "{refused}");

    // the scheduler publishes a workerpool order (category 0) and a TEE one in category 1
    env.use_wallet(&a.scheduler);
    env.ok(&[
        "workerpool",
        "publish",
        &pool_s,
        "--volume",
        "5",
        "--password",
        PASSWORD,
    ]);
    env.ok(&[
        "workerpool",
        "publish",
        &pool_s,
        "--tag",
        "tee,tdx",
        "--category",
        "1",
        "--password",
        PASSWORD,
    ]);
    assert_eq!(env.ok(&["orderbook", "workerpool"])["count"], 2);
    assert_eq!(
        env.ok(&["orderbook", "workerpool", &pool_s, "--tag", "tee,tdx"])["count"],
        1
    );
    assert_eq!(
        env.ok(&["orderbook", "workerpool", "--category", "0"])["count"],
        1
    );
    let bad = env.fails(&[
        "workerpool",
        "publish",
        &pool_s,
        "--app-restrict",
        "0x12",
        "--password",
        PASSWORD,
    ]);
    assert!(bad.contains("--app-restrict"), "{bad}");

    // order match --explain: a category no order has, and a tag the app order lacks
    env.use_wallet(&a.requester);
    let explained = env.ok(&[
        "order",
        "match",
        "--app",
        &app_s,
        "--category",
        "3",
        "--explain",
    ]);
    assert_eq!(explained["matched"], false);
    let reasons = explained["reasons"].to_string();
    assert!(
        reasons.contains("category 0 (the request asks 3"),
        "{reasons}"
    );
    assert!(
        reasons.contains("category 1 (the request asks 3"),
        "{reasons}"
    );
    let explained = env.ok(&[
        "order",
        "match",
        "--app",
        &app_s,
        "--tag",
        "tee,tdx",
        "--category",
        "1",
        "--explain",
    ]);
    assert!(
        explained["reasons"].to_string().contains("TEE"),
        "{explained}"
    );
    let matched = env.ok(&["order", "match", "--app", &app_s]);
    assert_eq!(matched["matched"], true);

    // preflight: every missing piece is named with its fixing command, before any transaction
    let message = env.fails(&[
        "app",
        "run",
        &app_s,
        "--tag",
        "tee,tdx",
        "--secret",
        "1=my-email",
        "--encrypt-result",
        "--password",
        PASSWORD,
    ]);
    assert!(
        message.contains("arca requester push-secret my-email"),
        "{message}"
    );
    assert!(
        message.contains("arca result push-encryption-key"),
        "{message}"
    );
    assert!(message.contains("--skip-preflight-check"), "{message}");
    let message = env.fails(&[
        "app",
        "run",
        &app_s,
        "--secret",
        "1=x",
        "--password",
        PASSWORD,
    ]);
    assert!(message.contains("--tag tee,tdx"), "{message}");
    let message = env.fails(&[
        "app",
        "run",
        &app_s,
        "--workerpool",
        "debug-v8-bellecour.main.pools.iexec.eth",
        "--password",
        PASSWORD,
    ]);
    assert!(message.contains("ENS"), "{message}");

    // app run: a deal with the SDK's params
    let run = env.ok(&[
        "app",
        "run",
        &app_s,
        "--workerpool",
        &pool_s,
        "--args",
        "hello",
        "world",
        "--confirms",
        "1",
        "--password",
        PASSWORD,
    ]);
    assert_eq!(run["volume"], "1");
    let deal: B256 = run["dealid"].as_str().unwrap().parse().unwrap();
    let task_id = arca_client::poco::task_id(deal, 0);
    assert_eq!(
        run["tasks"],
        json!([{"idx": "0", "taskid": task_id.to_string()}])
    );
    let on_chain = env
        .stack
        .client(&a.requester)
        .await
        .deal(deal)
        .await
        .unwrap();
    assert_eq!(
        on_chain.params,
        r#"{"iexec_args":"hello world","iexec_result_encryption":false,"iexec_result_storage_provider":"ipfs"}"#
    );
    let shown = env.ok(&["deal", "show", &deal.to_string()]);
    assert_eq!(shown["tasks"][0]["statusName"], "UNSET");
    assert_eq!(
        shown["deal"]["requester"],
        a.requester.address().to_checksum(None)
    );
    let message = env.fails(&["task", "show", &task_id.to_string()]);
    assert!(message.contains("not initialized"), "{message}");

    // the workerpool completes it; task show downloads the result (SDK naming: <name>.zip)
    let body: Vec<u8> = (0..50_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let (_, location) = complete(&env, deal, &body).await;
    let shown = env.ok(&["task", "show", &task_id.to_string()]);
    assert_eq!(shown["task"]["statusName"], "COMPLETED");
    assert_eq!(
        shown["task"]["results"],
        json!({"storage": "ipfs", "location": location})
    );
    let downloaded = env.ok(&[
        "task",
        "show",
        &task_id.to_string(),
        "--download",
        "my-result",
    ]);
    assert_eq!(downloaded["encrypted"], false);
    assert_eq!(std::fs::read(env.dir.join("my-result.zip")).unwrap(), body);
    // a partial download resumes with a Range request
    std::fs::write(env.dir.join("again.zip.part"), &body[..1000]).unwrap();
    env.ok(&[
        "task",
        "show",
        &task_id.to_string(),
        "--download",
        "again.zip",
    ]);
    assert_eq!(std::fs::read(env.dir.join("again.zip")).unwrap(), body);
    assert!(!env.dir.join("again.zip.part").exists());
    // a corrupted partial file is caught by the cid check, and nothing is left in place
    std::fs::write(env.dir.join("bad.zip.part"), b"not the result").unwrap();
    let message = env.fails(&["task", "show", &task_id.to_string(), "--download", "bad"]);
    assert!(
        message.contains("resume") || message.contains("sha256"),
        "{message}"
    );
    assert!(!env.dir.join("bad.zip").exists());
    env.ok(&["task", "show", &task_id.to_string(), "--download"]);
    assert!(env.dir.join(format!("{task_id}.zip")).exists());
    let shown = env.ok(&["deal", "show", &deal.to_string()]);
    assert_eq!(shown["tasks"][0]["statusName"], "COMPLETED");
    let message = env.fails(&["deal", "claim", &deal.to_string(), "--password", PASSWORD]);
    assert!(message.contains("final deadline"), "{message}");

    // app run --watch follows the task until the workerpool completes it
    let child = watch_run(&env, &app_s, &pool_s);
    let deal2 = next_deal(&env, &[deal]).await;
    complete(&env, deal2, b"second result").await;
    let out = tokio::task::block_in_place(|| child.wait_with_output()).unwrap();
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success(), "{value}");
    assert_eq!(value["dealid"], deal2.to_string());
    assert_eq!(value["tasksStatus"][0]["status"], "COMPLETED");

    // order show <hash> reads the market; order fill matches given market orders with a signed request
    let app_hash = published["orderHash"].as_str().unwrap().to_string();
    let shown = env.ok(&["order", "show", "--app", &app_hash]);
    assert_eq!(shown["apporder"]["orderHash"], app_hash);
    assert_eq!(shown["apporder"]["status"], "open");
    let pools = env.ok(&["orderbook", "workerpool", &pool_s, "--category", "0"]);
    let pool_hash = pools["orders"][0]["orderHash"]
        .as_str()
        .unwrap()
        .to_string();
    let filled = env.ok(&[
        "order",
        "fill",
        "--app",
        &app_hash,
        "--workerpool",
        &pool_hash,
        "--params",
        r#"{"iexec_args":"filled"}"#,
        "--password",
        PASSWORD,
    ]);
    assert_eq!(filled["volume"], "1");
    let deal3: B256 = filled["dealid"].as_str().unwrap().parse().unwrap();
    let on_chain = env
        .stack
        .client(&a.requester)
        .await
        .deal(deal3)
        .await
        .unwrap();
    assert_eq!(
        on_chain.params,
        r#"{"iexec_args":"filled","iexec_result_encryption":false,"iexec_result_storage_provider":"ipfs"}"#
    );
    let message = env.fails(&["order", "fill", "--app", &app_hash, "--password", PASSWORD]);
    assert!(message.contains("missing workerpoolorder"), "{message}");

    // nobody runs deal 3: once the chain is past its final deadline (category 0: 10 × 300 s) the
    // requester claims it back; the deadline is judged on the chain's clock, not the wall clock
    let message = env.fails(&["deal", "claim", &deal3.to_string(), "--password", PASSWORD]);
    assert!(message.contains("before its final deadline"), "{message}");
    let provider = env.stack.client(&a.requester).await.provider().clone();
    let _: serde_json::Value = provider
        .raw_request("evm_increaseTime".into(), (3001,))
        .await
        .unwrap();
    let _: serde_json::Value = provider.raw_request("evm_mine".into(), ()).await.unwrap();
    let shown = env.ok(&["deal", "show", &deal3.to_string()]);
    assert_eq!(shown["tasks"][0]["taskTimedOut"], true);
    let claimed = env.ok(&["deal", "claim", &deal3.to_string(), "--password", PASSWORD]);
    assert_eq!(claimed["claimed"].as_array().unwrap().len(), 1);
    let task3 = arca_client::poco::task_id(deal3, 0).to_string();
    assert_eq!(
        env.ok(&["task", "show", &task3])["task"]["statusName"],
        "FAILED"
    );
    let message = env.fails(&["task", "claim", &task3, "--password", PASSWORD]);
    assert!(message.contains("already FAILED"), "{message}");

    // --watch on a task nobody runs: past the final deadline it stops, names the claim command, exit 1
    let child = watch_run(&env, &app_s, &pool_s);
    let deal4 = next_deal(&env, &[deal, deal2, deal3]).await;
    let _: serde_json::Value = provider
        .raw_request("evm_increaseTime".into(), (3001,))
        .await
        .unwrap();
    let _: serde_json::Value = provider.raw_request("evm_mine".into(), ()).await.unwrap();
    let out = tokio::task::block_in_place(|| child.wait_with_output()).unwrap();
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!out.status.success(), "{value}");
    let message = value["error"]["message"].as_str().unwrap();
    assert!(message.contains("TIMEOUT"), "{message}");
    assert!(
        message.contains(&format!("arca deal claim {deal4}")),
        "{message}"
    );

    // a request order of orders.json: order publish, the requester orderbook, order unpublish
    let mut iexec = json!({});
    iexec["order"]["requestorder"] = json!({
        "app": app_s, "appmaxprice": "0", "dataset": Address::ZERO.to_string(), "datasetmaxprice": "0",
        "workerpool": Address::ZERO.to_string(), "workerpoolmaxprice": "0", "volume": "1", "category": "0",
        "trust": "0", "tag": [], "beneficiary": Address::ZERO.to_string(), "callback": Address::ZERO.to_string(),
        "params": {"iexec_args": "req"}, "requester": a.requester.address().to_string(),
    });
    env.write("iexec.json", &iexec);
    env.ok(&["order", "sign", "--request", "--password", PASSWORD]);
    let request_published = env.ok(&["order", "publish", "--request"]);
    let hash = request_published["requestorder"]["orderHash"].clone();
    let book = env.ok(&["orderbook", "requester", &a.requester.address().to_string()]);
    assert_eq!(book["count"], 1);
    assert_eq!(book["orders"][0]["orderHash"], hash);
    let unpublished = env.ok(&["order", "unpublish", "--request", "--password", PASSWORD]);
    assert_eq!(unpublished["requestorder"]["unpublished"], json!([hash]));
    assert_eq!(env.ok(&["orderbook", "requester"])["count"], 0);

    // owners unpublish
    env.use_wallet(&a.app_owner);
    let unpublished = env.ok(&["app", "unpublish", &app_s, "--password", PASSWORD]);
    assert_eq!(unpublished["unpublished"], json!([published["orderHash"]]));
    assert_eq!(env.ok(&["orderbook", "app", &app_s])["count"], 0);
    env.use_wallet(&a.scheduler);
    let all = env.ok(&[
        "workerpool",
        "unpublish",
        &pool_s,
        "--all",
        "--password",
        PASSWORD,
    ]);
    assert!(!all["unpublished"].as_array().unwrap().is_empty());
}
