//! Upload by an authorized worker and download through the gateway, against a real chain:
//! byte-identical full downloads, ranges, resume of a partial file, HEAD, lookup, idempotent
//! re-upload, replacement while ACTIVE, and a restarted service over the same directory.

mod common;

use arca_storage::{Cid, Client, Receipt};
use common::{Fx, config, content, refusal};
use std::sync::{Arc, Mutex};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_result_downloads_identically_in_full_by_ranges_and_after_a_cut() {
    let fx = Fx::start().await;
    let data = content(3 * 1024 * 1024 + 17, 7);
    let cid = Cid::of(&data);

    // the archive is streamed from a file
    let src = fx.dir.path().join("iexec_out.zip");
    std::fs::write(&src, &data).unwrap();
    let receipt = fx
        .client
        .upload(
            fx.task,
            src.as_path(),
            &fx.worker,
            fx.authorization.clone(),
            alloy::primitives::Address::ZERO,
        )
        .await
        .unwrap();
    assert_eq!(receipt, Receipt::new(cid, data.len() as u64));
    assert!(receipt.cid.to_string().starts_with("bafkrei"));
    assert_eq!(receipt.location, format!("/ipfs/{cid}"));
    assert_eq!(
        fx.client.lookup(fx.task).await.unwrap(),
        Some(receipt.clone())
    );
    assert_eq!(fx.client.lookup(fx.uninitialized).await.unwrap(), None);

    // the raw JSON answer of the lookup is the documented shape
    let http = reqwest::Client::new();
    let url = fx.store.url();
    let body: serde_json::Value = serde_json::from_str(
        &http
            .get(format!("{url}/v1/results/{}", fx.task))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(body["ok"], true);
    assert_eq!(body["cid"], cid.to_string());
    assert_eq!(body["location"], format!("/ipfs/{cid}"));
    assert_eq!(body["size"], data.len() as u64);
    assert_eq!(
        body["sha256"],
        format!("0x{}", alloy::hex::encode(cid.sha256()))
    );

    // full download through the client, with progress
    let dest = fx.dir.path().join("out").join("result.zip");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let got = fx
        .client
        .download(&receipt.location, &dest, move |done, total| {
            log.lock().unwrap().push((done, total))
        })
        .await
        .unwrap();
    assert_eq!(got, receipt);
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    assert!(!dest.with_extension("zip.part").exists());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.first(), Some(&(0, Some(data.len() as u64))));
    assert_eq!(
        seen.last(),
        Some(&(data.len() as u64, Some(data.len() as u64)))
    );

    // gateway headers, HEAD and ranges
    let gw = format!("{url}/ipfs/{cid}");
    let full = http.get(&gw).send().await.unwrap();
    assert_eq!(full.status(), 200);
    let h = full.headers();
    assert_eq!(h["content-type"], "application/octet-stream");
    assert_eq!(h["etag"], format!("\"{cid}\"").as_str());
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["content-length"], data.len().to_string().as_str());
    assert_eq!(full.bytes().await.unwrap(), data);
    let head = http.head(&gw).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        data.len().to_string().as_str()
    );
    assert_eq!(head.headers()["etag"], format!("\"{cid}\"").as_str());
    assert!(head.bytes().await.unwrap().is_empty());
    let n = data.len();
    for (range, start, end) in [
        ("bytes=0-9", 0, 10),
        ("bytes=100000-200000", 100_000, 200_001),
        (&format!("bytes={}-", n - 5)[..], n - 5, n),
        ("bytes=-1000", n - 1000, n),
        (&format!("bytes=10-{}", n + 50)[..], 10, n),
    ] {
        let r = http.get(&gw).header("range", range).send().await.unwrap();
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes {start}-{}/{n}", end - 1).as_str(),
            "{range}"
        );
        assert_eq!(r.bytes().await.unwrap(), &data[start..end], "{range}");
    }
    let r = http
        .get(&gw)
        .header("range", format!("bytes={n}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes */{n}").as_str()
    );
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"]["name"], "range");
    let r = http
        .get(&gw)
        .header("if-none-match", format!("\"{cid}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    // resume: a download cut after 1 MiB left a partial file; the next call continues from it
    let resumed = fx.dir.path().join("resumed.zip");
    let part = fx.dir.path().join("resumed.zip.part");
    let cut = 1024 * 1024 + 3;
    std::fs::write(&part, &data[..cut]).unwrap();
    let first = Arc::new(Mutex::new(None));
    let f = first.clone();
    fx.client
        .download(&cid.to_string(), &resumed, move |done, _| {
            f.lock().unwrap().get_or_insert(done);
        })
        .await
        .unwrap();
    assert_eq!(
        *first.lock().unwrap(),
        Some(cut as u64),
        "resumed from the partial length"
    );
    assert_eq!(std::fs::read(&resumed).unwrap(), data);
    assert!(!part.exists());

    // a complete partial file: the store answers 416, the client verifies and renames
    std::fs::write(&part, &data).unwrap();
    fx.client.download(&gw, &resumed, |_, _| {}).await.unwrap();
    assert_eq!(std::fs::read(&resumed).unwrap(), data);

    // a corrupt partial file: caught by the sha256 check against the cid, removed
    let mut bad = data[..cut].to_vec();
    bad[5] ^= 0xff;
    std::fs::write(&part, &bad).unwrap();
    let corrupt_dest = fx.dir.path().join("resumed.zip");
    std::fs::remove_file(&corrupt_dest).unwrap();
    let e = fx
        .client
        .download(&receipt.location, &corrupt_dest, |_, _| {})
        .await
        .unwrap_err();
    assert_eq!(e.check(), "integrity", "{e}");
    assert!(e.to_string().contains(&cid.to_string()), "{e}");
    assert!(!part.exists(), "the corrupt partial file is removed");
    assert!(!corrupt_dest.exists());

    // idempotent: the same bytes again get the same answer
    let again = fx
        .client
        .upload(
            fx.task,
            data.clone(),
            &fx.worker,
            fx.authorization.clone(),
            alloy::primitives::Address::ZERO,
        )
        .await
        .unwrap();
    assert_eq!(again, receipt);

    // unknown and malformed cids
    let unknown = Cid::of(b"never uploaded");
    let r = http
        .get(format!("{url}/ipfs/{unknown}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["ok"], false);
    assert_eq!(e["error"]["name"], "not-found");
    let r = http
        .get(format!("{url}/ipfs/QmNotACid"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"]["name"], "cid");
    assert!(e["error"]["message"].as_str().unwrap().contains("CIDv0"));
    let e = fx
        .client
        .download(
            &format!("/ipfs/{unknown}"),
            &fx.dir.path().join("u"),
            |_, _| {},
        )
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (404, "not-found".into()));
    assert!(e.to_string().contains(&url), "the error names the URL: {e}");

    // restart over the same directory: still serves the index and the bytes
    let Fx {
        stack,
        store,
        dir,
        task,
        ..
    } = fx;
    store.shutdown().await;
    let restarted = arca_storage::spawn(config(&stack, dir.path(), 1 << 30))
        .await
        .unwrap();
    let client = Client::new(restarted.url()).unwrap();
    assert_eq!(client.lookup(task).await.unwrap(), Some(receipt.clone()));
    let again = dir.path().join("after-restart.zip");
    client
        .download(&receipt.location, &again, |_, _| {})
        .await
        .unwrap();
    assert_eq!(std::fs::read(&again).unwrap(), data);
    let ready = reqwest::get(format!("{}/ready", restarted.url()))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert!(ready.text().await.unwrap().contains("chain at block"));
    let health = reqwest::get(format!("{}/health", restarted.url()))
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "OK");
    restarted.shutdown().await;
}
