//! Every refusal of an upload, against a real chain and task: malformed headers, an
//! authorization not from the workerpool owner (or for another worker), a worker signature over
//! other bytes or by another key, a task never initialized, a TEE task without its enclave
//! challenge, an oversized body (declared or streamed), and the re-upload rule around
//! completion (409 on different content, idempotent on the same, replacement while ACTIVE).

mod common;

use alloy::primitives::{Address, B256, Bytes};
use arca_storage::{Cid, Receipt, auth};
use arca_testkit::DealSpec;
use common::{Fx, authorize, config, content, refusal};
use sha2::Digest;

/// A raw PUT with explicit headers (the typed client always signs correctly).
async fn raw_put(
    url: &str,
    task: B256,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new().put(format!("{url}/v1/results/{task}"));
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let r = req.body(body).send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::json!(text)),
    )
}

fn headers(fx: &Fx, auth_sig: &Bytes, upload_sig: &Bytes) -> Vec<(&'static str, String)> {
    vec![
        ("x-arca-worker", fx.worker.address().to_string()),
        ("x-arca-enclave-challenge", Address::ZERO.to_string()),
        ("x-arca-authorization", auth_sig.to_string()),
        ("x-arca-signature", upload_sig.to_string()),
    ]
}

fn assert_refused(got: (u16, serde_json::Value), status: u16, name: &str, says: &str) {
    let (s, body) = got;
    assert_eq!(s, status, "{body}");
    assert_eq!(body["ok"], false, "{body}");
    assert_eq!(body["error"]["name"], name, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(says),
        "'{message}' should mention '{says}'"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_refused_with_the_failed_check_named() {
    let fx = Fx::start().await;
    let url = fx.store.url();
    let data = content(4096, 3);
    let sha: [u8; 32] = sha2::Sha256::digest(&data).into();
    let good_sig = auth::personal_sign(&fx.worker, auth::upload_hash(fx.task, sha));
    let good = headers(&fx, &fx.authorization, &good_sig);

    // malformed request parts
    let mut h = good.clone();
    h.retain(|(k, _)| *k != "x-arca-worker");
    assert_refused(
        raw_put(&url, fx.task, &h, data.clone()).await,
        400,
        "worker-header",
        "missing",
    );
    let mut h = good.clone();
    h[2].1 = "0x1234".into();
    assert_refused(
        raw_put(&url, fx.task, &h, data.clone()).await,
        400,
        "authorization-header",
        "expected 65",
    );
    let mut h = good.clone();
    h[1].1 = "zero".into();
    assert_refused(
        raw_put(&url, fx.task, &h, data.clone()).await,
        400,
        "enclave-challenge-header",
        "40 hex digits",
    );
    let r = reqwest::Client::new()
        .put(format!("{url}/v1/results/0x1234"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["name"], "task-id");

    // authorization signed by someone who is not the workerpool owner
    let stranger = authorize(&fx.stack.actors.stranger, fx.worker.address(), fx.task);
    let e = fx
        .client
        .upload(fx.task, data.clone(), &fx.worker, stranger, Address::ZERO)
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (403, "authorization".into()));
    // refused before the body is read: a large body still gets the answer, not a broken pipe
    let stranger = authorize(&fx.stack.actors.stranger, fx.worker.address(), fx.task);
    let e = fx
        .client
        .upload(
            fx.task,
            content(24 * 1024 * 1024, 4),
            &fx.worker,
            stranger.clone(),
            Address::ZERO,
        )
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (403, "authorization".into()), "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&fx.stack.actors.stranger.address().to_string()),
        "{text}"
    );
    assert!(
        text.contains(&fx.stack.actors.scheduler.address().to_string()),
        "{text}"
    );

    // the scheduler's authorization of another worker, presented by this one
    let for_other = authorize(
        &fx.stack.actors.scheduler,
        fx.stack.actors.workers[1].address(),
        fx.task,
    );
    let e = fx
        .client
        .upload(fx.task, data.clone(), &fx.worker, for_other, Address::ZERO)
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (403, "authorization".into()));

    // the worker's signature covers other bytes than those sent
    let other_sha: [u8; 32] = sha2::Sha256::digest(b"other bytes").into();
    let other_sig = auth::personal_sign(&fx.worker, auth::upload_hash(fx.task, other_sha));
    assert_refused(
        raw_put(
            &url,
            fx.task,
            &headers(&fx, &fx.authorization, &other_sig),
            data.clone(),
        )
        .await,
        403,
        "signature",
        &alloy::hex::encode(sha),
    );
    // … or is by another key than the worker's
    let by_stranger =
        auth::personal_sign(&fx.stack.actors.stranger, auth::upload_hash(fx.task, sha));
    assert_refused(
        raw_put(
            &url,
            fx.task,
            &headers(&fx, &fx.authorization, &by_stranger),
            data.clone(),
        )
        .await,
        403,
        "signature",
        &fx.worker.address().to_string(),
    );

    // a task that was never initialized
    let auth_u = authorize(
        &fx.stack.actors.scheduler,
        fx.worker.address(),
        fx.uninitialized,
    );
    let e = fx
        .client
        .upload(
            fx.uninitialized,
            data.clone(),
            &fx.worker,
            auth_u,
            Address::ZERO,
        )
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (404, "task-not-found".into()));
    assert!(e.to_string().contains("UNSET"), "{e}");

    // none of the refused uploads left anything behind
    assert_eq!(fx.client.lookup(fx.task).await.unwrap(), None);
    let r = reqwest::get(format!("{url}/ipfs/{}", Cid::of(&data)))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let tmp = std::fs::read_dir(fx.dir.path().join("tmp"))
        .unwrap()
        .count();
    assert_eq!(tmp, 0, "refused uploads leave no temp file");

    // a TEE task needs its enclave challenge
    let tee_app = fx
        .stack
        .app("tee-app", "arca/tee:1", B256::ZERO, "{}")
        .await;
    let pool = fx.stack.workerpool("tee-pool").await;
    let tee_deal = fx
        .stack
        .deal(&DealSpec::new(&fx.stack, tee_app, pool).tee())
        .await;
    let tee_task = fx.stack.initialize(tee_deal, 0).await;
    let tee_auth = authorize(&fx.stack.actors.scheduler, fx.worker.address(), tee_task);
    let e = fx
        .client
        .upload(tee_task, data.clone(), &fx.worker, tee_auth, Address::ZERO)
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (400, "enclave-challenge".into()));
    // with the challenge the authorization was signed for, it is accepted
    let challenge = Address::repeat_byte(0xc1);
    let tee_auth = auth::personal_sign(
        &fx.stack.actors.scheduler,
        auth::authorization_hash(fx.worker.address(), tee_task, challenge),
    );
    let r = fx
        .client
        .upload(tee_task, data.clone(), &fx.worker, tee_auth, challenge)
        .await
        .unwrap();
    assert_eq!(r, Receipt::new(Cid::of(&data), data.len() as u64));

    // the size limit, on a second store over the same chain
    let small_dir = tempfile::tempdir().unwrap();
    let small = arca_storage::spawn(config(&fx.stack, small_dir.path(), 1000))
        .await
        .unwrap();
    let small_client = arca_storage::Client::new(small.url()).unwrap();
    let e = small_client
        .upload(
            fx.task,
            vec![1u8; 1001],
            &fx.worker,
            fx.authorization.clone(),
            Address::ZERO,
        )
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (413, "too-large".into()));
    assert!(e.to_string().contains("1000"), "{e}");
    // streamed without a Content-Length: refused while receiving, once past the limit (the
    // body is only slightly larger, so the client has sent it all and reads the answer)
    let big = content(1200, 9);
    let big_sha: [u8; 32] = sha2::Sha256::digest(&big).into();
    let big_sig = auth::personal_sign(&fx.worker, auth::upload_hash(fx.task, big_sha));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(400).map(|c| Ok(c.to_vec())).collect();
    let mut req = reqwest::Client::new().put(format!("{}/v1/results/{}", small.url(), fx.task));
    for (k, v) in headers(&fx, &fx.authorization, &big_sig) {
        req = req.header(k, v);
    }
    let r = req
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["name"], "too-large");
    assert_eq!(
        std::fs::read_dir(small_dir.path().join("tmp"))
            .unwrap()
            .count(),
        0
    );
    // at the limit: accepted
    let exact = content(1000, 5);
    let r = small_client
        .upload(
            fx.task,
            exact.clone(),
            &fx.worker,
            fx.authorization.clone(),
            Address::ZERO,
        )
        .await
        .unwrap();
    assert_eq!(r.size, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_is_replaceable_while_active_and_final_after_completion() {
    let fx = Fx::start().await;
    let first = content(10_000, 1);
    let second = content(12_000, 2);
    let up = |bytes: Vec<u8>| {
        fx.client.upload(
            fx.task,
            bytes,
            &fx.worker,
            fx.authorization.clone(),
            Address::ZERO,
        )
    };
    // two concurrent uploads of the same bytes: both answered with the same receipt
    let (a, b) = tokio::join!(up(first.clone()), up(first.clone()));
    let r1 = a.unwrap();
    assert_eq!(b.unwrap(), r1);
    assert_eq!(
        std::fs::read_dir(fx.dir.path().join("blobs"))
            .unwrap()
            .count(),
        1,
        "one blob for one content"
    );
    // the worker restarted and recomputed before contributing: the task is still ACTIVE
    let r2 = up(second.clone()).await.unwrap();
    assert_ne!(r1.cid, r2.cid);
    assert_eq!(fx.client.lookup(fx.task).await.unwrap(), Some(r2.clone()));

    fx.complete(fx.task, &r2.location).await;

    // the same bytes after completion: the same answer
    assert_eq!(up(second.clone()).await.unwrap(), r2);
    // different bytes after completion: refused, the stored result stays
    let e = up(first.clone()).await.unwrap_err();
    assert_eq!(refusal(&e), (409, "conflict".into()));
    let text = e.to_string();
    assert!(
        text.contains("COMPLETED") && text.contains(&r2.cid.to_string()),
        "{text}"
    );
    assert_eq!(fx.client.lookup(fx.task).await.unwrap(), Some(r2.clone()));
    // both blobs stay downloadable (content-addressed, immutable)
    for (r, bytes) in [(&r1, &first), (&r2, &second)] {
        let dest = fx.dir.path().join(r.cid.to_string());
        fx.client
            .download(&r.location, &dest, |_, _| {})
            .await
            .unwrap();
        assert_eq!(&std::fs::read(&dest).unwrap(), bytes);
    }

    // a task completed without any upload takes none afterwards
    let other = fx.stack.initialize(fx.deal_id, 1).await;
    fx.complete(other, "/ipfs/elsewhere").await;
    let auth_other = authorize(&fx.stack.actors.scheduler, fx.worker.address(), other);
    let e = fx
        .client
        .upload(other, first.clone(), &fx.worker, auth_other, Address::ZERO)
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), (409, "task-status".into()));
    assert!(e.to_string().contains("COMPLETED"), "{e}");
}
