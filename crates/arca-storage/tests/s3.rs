//! The S3 backend (feature `s3`) against a local S3-compatible server (`moto_server`, PyPI
//! `moto[server]`), started here on a free port. Gated: runs only with `ARCA_TEST_S3=1`, so the
//! default test run needs neither the feature nor the server:
//! `ARCA_TEST_S3=1 cargo test -p arca-storage --features s3 --test s3`.

#![cfg(feature = "s3")]

mod common;

use alloy::primitives::Address;
use arca_storage::s3::{S3Config, S3Store};
use arca_storage::{BlobStore, Cid, Client, Receipt};
use common::{Fx, authorize, config, content};
use std::sync::Arc;
use std::time::Duration;

/// The moto server child process, killed when dropped.
struct Moto(std::process::Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_moto() -> (Moto, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("moto_server on PATH (pip install 'moto[server]')");
    let moto = Moto(child);
    let endpoint = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (moto, endpoint);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto_server did not listen on {endpoint} within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_stored_in_s3_are_served_like_local_ones() {
    if std::env::var("ARCA_TEST_S3").is_err() {
        eprintln!("skipped: set ARCA_TEST_S3=1 (and have moto_server on PATH) to run");
        return;
    }
    let (_moto, endpoint) = start_moto().await;
    // CreateBucket
    let r = reqwest::Client::new()
        .put(format!("{endpoint}/arca-results"))
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "creating the bucket: {}",
        r.status()
    );
    let s3 = S3Config {
        bucket: "arca-results".into(),
        prefix: "results".into(),
        endpoint: Some(endpoint.clone()),
        region: "us-east-1".into(),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
    };
    let fx = Fx::start().await;
    let dir = tempfile::tempdir().unwrap();
    let blobs: Arc<dyn BlobStore> = Arc::new(S3Store::new(&s3).unwrap());
    let store =
        arca_storage::spawn_with_store(config(&fx.stack, dir.path(), 64 << 20), blobs.clone())
            .await
            .unwrap();
    let client = Client::new(store.url()).unwrap();

    // 12 MiB: above the 10 MiB buffer, so a multipart upload
    let data = content(12 * 1024 * 1024 + 5, 31);
    let cid = Cid::of(&data);
    let receipt = client
        .upload(
            fx.task,
            data.clone(),
            &fx.worker,
            fx.authorization.clone(),
            Address::ZERO,
        )
        .await
        .unwrap();
    assert_eq!(receipt, Receipt::new(cid, data.len() as u64));
    assert_eq!(blobs.size(&cid).await.unwrap(), Some(data.len() as u64));
    assert!(!dir.path().join("blobs").exists(), "nothing stored locally");
    let dest = dir.path().join("back.zip");
    client
        .download(&receipt.location, &dest, |_, _| {})
        .await
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    let r = reqwest::Client::new()
        .get(format!("{}/ipfs/{cid}", store.url()))
        .header("range", "bytes=5000000-5000099")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap(), &data[5_000_000..5_000_100]);

    // an empty result (single PUT of nothing)
    let task1 = fx.stack.initialize(fx.deal_id, 1).await;
    let auth1 = authorize(&fx.stack.actors.scheduler, fx.worker.address(), task1);
    let empty = client
        .upload(task1, Vec::new(), &fx.worker, auth1, Address::ZERO)
        .await
        .unwrap();
    assert_eq!(
        empty.cid.to_string(),
        "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    );
    let got = reqwest::get(format!("{}{}", store.url(), empty.location))
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert!(got.bytes().await.unwrap().is_empty());

    // readiness writes a probe object
    let ready = reqwest::get(format!("{}/ready", store.url()))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    // a restarted service over the same index and bucket serves the same results
    store.shutdown().await;
    let again = arca_storage::spawn_with_store(
        config(&fx.stack, dir.path(), 64 << 20),
        Arc::new(S3Store::new(&s3).unwrap()),
    )
    .await
    .unwrap();
    let client = Client::new(again.url()).unwrap();
    assert_eq!(client.lookup(fx.task).await.unwrap(), Some(receipt.clone()));
    let dest = dir.path().join("after-restart.zip");
    client
        .download(&receipt.location, &dest, |_, _| {})
        .await
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
}
