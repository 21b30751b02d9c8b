//! Persistence: a chain with a data directory comes back identical after a clean stop and after
//! `kill -9` of the process at an arbitrary moment (never half a block).

use crate::common::{ChainProbe, call, increment, latest_timestamp, provider};
use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
};
use arca_chain::NodeConfig;
use serde_json::json;
use std::{path::Path, process::Command, time::Duration};

#[tokio::test]
async fn chain_survives_a_clean_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = NodeConfig::test().with_data_dir(dir.path());
    let node = arca_chain::spawn(config.clone()).await.unwrap();
    let url = node.http_url();
    let me = node.dev_signers()[0].clone();
    let p = provider(&url, me.clone());
    let probe = ChainProbe::deploy(&p, U256::from(1)).await.unwrap();
    for _ in 0..3 {
        increment(&probe, 2).await;
    }
    // A reverted snapshot must stay reverted on disk too.
    let snap = call(&url, "evm_snapshot", json!([])).await;
    increment(&probe, 1000).await;
    call(&url, "evm_revert", json!([snap])).await;
    call(&url, "evm_increaseTime", json!([86_400])).await;
    call(
        &url,
        "anvil_setBalance",
        json!([Address::repeat_byte(5), "0x1234"]),
    )
    .await;
    let head = p.get_block_number().await.unwrap();
    let head_block = p.get_block_by_number(head.into()).await.unwrap().unwrap();
    let logs_before = p
        .get_logs(&alloy::rpc::types::Filter::new().from_block(0))
        .await
        .unwrap();
    node.shutdown().await;

    let node = arca_chain::spawn(config).await.unwrap();
    let url = node.http_url();
    let p = provider(&url, me.clone());
    let probe = ChainProbe::new(*probe.address(), &p);
    assert_eq!(p.get_block_number().await.unwrap(), head);
    let again = p.get_block_by_number(head.into()).await.unwrap().unwrap();
    assert_eq!(
        again.header.hash, head_block.header.hash,
        "same blocks, same hashes"
    );
    assert_eq!(probe.counter().call().await.unwrap(), U256::from(7));
    assert_eq!(
        p.get_balance(Address::repeat_byte(5)).await.unwrap(),
        U256::from(0x1234)
    );
    let logs_after = p
        .get_logs(&alloy::rpc::types::Filter::new().from_block(0))
        .await
        .unwrap();
    assert_eq!(logs_before, logs_after);
    // The clock offset survived: a new block is at least a day ahead of the wall clock.
    call(&url, "evm_mine", json!([])).await;
    let ts = latest_timestamp(&p).await;
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(ts >= wall + 86_000, "time offset restored ({ts} vs {wall})");
    // And it goes on: nonces continue where they were.
    increment(&probe, 1).await;
    assert_eq!(probe.counter().call().await.unwrap(), U256::from(8));
}

/// Not a test by itself: the child process of `chain_survives_kill_9` (started with `--ignored`).
#[tokio::test]
#[ignore = "run only as the child of chain_survives_kill_9"]
async fn child_node() {
    let Ok(dir) = std::env::var("ARCA_TEST_CHILD_DATA_DIR") else {
        return;
    };
    let url_file = std::env::var("ARCA_TEST_CHILD_URL_FILE").expect("url file");
    let node = arca_chain::spawn(NodeConfig::test().with_data_dir(dir))
        .await
        .unwrap();
    std::fs::write(&url_file, node.http_url()).unwrap();
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

#[expect(
    clippy::zombie_processes,
    reason = "the caller kills and waits; a panic here ends the test process"
)]
fn start_child(dir: &Path) -> (std::process::Child, String) {
    let url_file = dir.join("url");
    let _ = std::fs::remove_file(&url_file);
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "persistence::child_node",
            "--nocapture",
        ])
        .env("ARCA_TEST_CHILD_DATA_DIR", dir.join("chain"))
        .env("ARCA_TEST_CHILD_URL_FILE", &url_file)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..500 {
        if let Ok(url) = std::fs::read_to_string(&url_file)
            && !url.is_empty()
        {
            return (child, url);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("child node did not start");
}

#[tokio::test]
async fn chain_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = start_child(dir.path());
    let signer = arca_chain::genesis::dev_signers(arca_chain::config::DEFAULT_MNEMONIC, 1)
        .unwrap()
        .remove(0);
    let p = provider(&url, signer.clone());
    let probe = ChainProbe::deploy(&p, U256::ZERO).await.unwrap();
    let mut confirmed = Vec::new();
    for _ in 0..5 {
        let r = increment(&probe, 1).await;
        confirmed.push(r.transaction_hash);
    }
    // Then a burst in flight while the process is killed.
    let burst = {
        let url = url.clone();
        let signer = signer.clone();
        let address = *probe.address();
        tokio::spawn(async move {
            let p = provider(&url, signer);
            let probe = ChainProbe::new(address, &p);
            for _ in 0..200 {
                if probe
                    .increment(U256::from(1), B256::ZERO)
                    .send()
                    .await
                    .is_err()
                {
                    break;
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let _ = burst.await;

    let node = arca_chain::spawn(NodeConfig::test().with_data_dir(dir.path().join("chain")))
        .await
        .unwrap();
    let p = provider(&node.http_url(), signer.clone());
    for hash in &confirmed {
        assert!(
            p.get_transaction_receipt(*hash).await.unwrap().is_some(),
            "confirmed tx {hash} survived"
        );
    }
    // Whatever was committed is whole: the counter equals the number of mined increments, and the
    // sender's nonce equals the number of its mined transactions.
    let head = p.get_block_number().await.unwrap();
    let mut mined = 0u64;
    for n in 1..=head {
        let block = p
            .get_block_by_number(n.into())
            .full()
            .await
            .unwrap()
            .unwrap();
        for tx in block.transactions.txns() {
            let receipt = p
                .get_transaction_receipt(*tx.inner.tx_hash())
                .await
                .unwrap()
                .expect("every tx has a receipt");
            assert_eq!(receipt.block_number, Some(n));
            mined += 1;
        }
    }
    assert!(mined >= 6);
    let probe = ChainProbe::new(*probe.address(), &p);
    assert_eq!(
        probe.counter().call().await.unwrap(),
        U256::from(mined - 1),
        "one deploy, the rest increments"
    );
    assert_eq!(
        p.get_transaction_count(signer.address()).await.unwrap(),
        mined
    );
    // The restarted chain accepts new work.
    increment(&probe, 1).await;
}
