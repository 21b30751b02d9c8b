//! The push/check flows of the iExec-compatible secret endpoints, over real HTTP against an SMS
//! on port 0 reading Arca's in-process chain: owners push, everyone else is refused with a
//! clear 4xx, never a 500.

mod common;

use arca_sms::auth::{named_challenge, web3_challenge};
use common::Fx;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_and_check_flows() {
    let fx = Fx::new().await;

    // health and readiness (store + chain)
    assert_eq!(
        fx.call("GET", "/health", None, "").await,
        (200, "OK".into())
    );
    let (status, body) = fx.call("GET", "/ready", None, "").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("chain at block"), "{body}");

    // ---- dataset key (web3): only the on-chain owner, once
    let path = format!("/secrets/web3?secretAddress={}", fx.dataset);
    assert_eq!(fx.call("HEAD", &path, None, "").await.0, 404);
    let key = "q2hYq9k1nW0aQm7n3J9bJt0yJYQm3Y2c1dJr7Xc0b2E=";
    let by_stranger = Fx::sig(&fx.stranger, web3_challenge(fx.dataset, key.as_bytes()));
    let (status, body) = fx.call("POST", &path, Some(by_stranger), key).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("not by the dataset owner"), "{body}");
    // a signature over another value does not authorize this one
    let other_value = Fx::sig(&fx.dataset_owner, web3_challenge(fx.dataset, b"other"));
    assert_eq!(fx.call("POST", &path, Some(other_value), key).await.0, 401);
    fx.push_dataset_key(key).await;
    assert_eq!(fx.call("HEAD", &path, None, "").await.0, 204);
    let again = Fx::sig(
        &fx.dataset_owner,
        web3_challenge(fx.dataset, key.as_bytes()),
    );
    let (status, body) = fx.call("POST", &path, Some(again), key).await;
    assert_eq!(status, 409, "{body}");
    // an address that is not a registered dataset
    let unknown = fx.stranger.address();
    let sig = Fx::sig(&fx.stranger, web3_challenge(unknown, key.as_bytes()));
    let (status, body) = fx
        .call(
            "POST",
            &format!("/secrets/web3?secretAddress={unknown}"),
            Some(sig),
            key,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("not a dataset registered"), "{body}");

    // ---- web2 (result-encryption public key): by the owner, created then updated
    let owner = &fx.requester;
    let name = "iexec-result-encryption-public-key";
    let path = format!(
        "/secrets/web2?ownerAddress={}&secretName={name}",
        owner.address()
    );
    assert_eq!(fx.call("HEAD", &path, None, "").await.0, 404);
    let put = |v: &str| Fx::sig(owner, named_challenge(owner.address(), name, v.as_bytes()));
    assert_eq!(fx.call("PUT", &path, Some(put("v0")), "v0").await.0, 404);
    assert_eq!(fx.call("POST", &path, Some(put("v1")), "v1").await.0, 204);
    assert_eq!(fx.call("HEAD", &path, None, "").await.0, 204);
    assert_eq!(fx.call("POST", &path, Some(put("v2")), "v2").await.0, 409);
    assert_eq!(fx.call("PUT", &path, Some(put("v2")), "v2").await.0, 204);
    let by_other = Fx::sig(&fx.stranger, named_challenge(owner.address(), name, b"v3"));
    assert_eq!(fx.call("PUT", &path, Some(by_other), "v3").await.0, 401);

    // ---- app developer secret (index 1): by the app owner
    let path = format!("/apps/{}/secrets", fx.tee_app);
    assert_eq!(fx.call("HEAD", &path, None, "").await.0, 404);
    let sig = Fx::sig(&fx.stranger, named_challenge(fx.tee_app, "1", b"dev"));
    assert_eq!(fx.call("POST", &path, Some(sig), "dev").await.0, 401);
    let sig = Fx::sig(&fx.app_owner, named_challenge(fx.tee_app, "1", b"dev"));
    assert_eq!(fx.call("POST", &path, Some(sig), "dev").await.0, 204);
    assert_eq!(fx.call("HEAD", &path, None, "").await.0, 204);

    // ---- requester secrets
    fx.push_requester_secret(&fx.requester, "api-key", "s3cr3t")
        .await;
    let path = format!("/requesters/{}/secrets/api-key", fx.requester.address());
    assert_eq!(fx.call("HEAD", &path, None, "").await.0, 204);
    let path = format!(
        "/requesters/{}/secrets/api-key",
        fx.other_requester.address()
    );
    assert_eq!(fx.call("HEAD", &path, None, "").await.0, 404);
    let path = format!("/requesters/{}/secrets/bad%20key", fx.requester.address());
    let (status, body) = fx.call("HEAD", &path, None, "").await;
    assert_eq!(status, 400, "{body}");

    // ---- malformed requests: 4xx with a message, never a 500
    let path = format!("/requesters/{}/secrets/k", fx.requester.address());
    let (status, body) = fx.call("POST", &path, None, "v").await;
    assert_eq!(status, 401);
    assert!(body.contains("missing `Authorization`"), "{body}");
    let (status, body) = fx.call("POST", &path, Some("0x1234".into()), "v").await;
    assert_eq!(status, 401);
    assert!(body.contains("expected 65"), "{body}");
    let big = "x".repeat(4097);
    let sig = Fx::sig(
        &fx.requester,
        named_challenge(fx.requester.address(), "k", big.as_bytes()),
    );
    let (status, body) = fx.call("POST", &path, Some(sig), big).await;
    assert_eq!(status, 413, "{body}");
    // The server answers 413 without reading the whole body and then closes that connection: send
    // it on a client of its own so the next requests do not race the close on a pooled connection.
    let (status, body) = common::call(
        &reqwest::Client::new(),
        &fx.url(&path),
        "POST",
        Some("0x00".into()),
        vec![0u8; 512 * 1024],
    )
    .await;
    assert_eq!(status, 413, "{body}");
    let (status, body) = fx
        .call("HEAD", "/secrets/web3?secretAddress=0xnothex", None, "")
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = fx
        .call("POST", "/tee/sessions", Some("0x00".into()), "{not json")
        .await;
    assert!((400..500).contains(&status), "{status} {body}");
    let (status, body) = fx
        .call("POST", "/tee/challenges/0x12", Some("0x00".into()), "")
        .await;
    assert_eq!(status, 400, "{body}");
}
