//! Robustness over real HTTP: randomly generated and mutated request bodies, headers and
//! queries always get a 4xx with a message (never a 5xx, a panic or a dropped connection), and
//! 300 concurrent pushes, checks and releases all succeed with a release log that stays a
//! single verified chain.

mod common;

use alloy::primitives::B256;
use alloy::signers::local::PrivateKeySigner;
use arca_sms::SecretStore as _;
use common::{APP_IMAGE, Fx};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// A random JSON value of bounded depth: the shapes a careless or hostile client sends.
fn random_json(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..if depth == 0 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.r#gen()),
        2 => json!(rng.r#gen::<i64>()),
        3 => json!(rng.r#gen::<f64>() * 1e300),
        4 => Value::String(random_text(rng)),
        5 => Value::String(format!("0x{}", hex::encode(rng.r#gen::<[u8; 20]>()))),
        6 => Value::Array(
            (0..rng.gen_range(0..4))
                .map(|_| random_json(rng, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.gen_range(0..4))
                .map(|_| (random_text(rng), random_json(rng, depth - 1)))
                .collect(),
        ),
    }
}

fn random_text(rng: &mut StdRng) -> String {
    const PIECES: &[&str] = &[
        "",
        "0x",
        "0x00",
        "é",
        "\u{0}",
        "\"",
        "\\",
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "null",
        "0",
        "-1",
        "1e999",
        "18446744073709551616",
        "quote",
        "counter",
        "signature",
        "sessionKey",
        "chainTaskId",
        "workerWallet",
        "enclaveChallenge",
        "value",
        "collateral",
        " ",
        "💥",
    ];
    (0..rng.gen_range(0..5))
        .map(|_| PIECES[rng.gen_range(0..PIECES.len())])
        .collect()
}

/// Mutates a valid body: truncation, byte flips, insertions, field swaps.
fn mutate(rng: &mut StdRng, valid: &str) -> Vec<u8> {
    let mut bytes = valid.as_bytes().to_vec();
    for _ in 0..rng.gen_range(1..4) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.gen_range(0..bytes.len());
        match rng.gen_range(0..4) {
            0 => bytes.truncate(at),
            1 => bytes[at] ^= 1 << rng.gen_range(0..8),
            2 => bytes.insert(at, rng.r#gen()),
            _ => {
                bytes.remove(at);
            }
        }
    }
    bytes
}

fn random_signature(rng: &mut StdRng) -> Option<String> {
    match rng.gen_range(0..4) {
        0 => None,
        1 => Some(format!("0x{}", hex::encode(rng.r#gen::<[u8; 32]>()))),
        // 65 random bytes: well-formed, but recovering no one in particular
        2 => Some(format!(
            "0x{}{}{:02x}",
            hex::encode(rng.r#gen::<[u8; 32]>()),
            hex::encode(rng.r#gen::<[u8; 32]>()),
            rng.r#gen::<u8>()
        )),
        // header values are visible ASCII (the client refuses to send anything else)
        _ => Some(
            random_text(rng)
                .chars()
                .filter(|c| c.is_ascii_graphic() || *c == ' ')
                .collect(),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_and_mutated_requests_get_a_4xx_with_a_message() {
    let fx = Fx::new().await;
    fx.push_requester_secret(&fx.requester, "mail", "alice@example.org")
        .await;
    let task = fx
        .task(
            fx.tee_app,
            true,
            false,
            r#"{"iexec_secrets":{"1":"mail"}}"#,
            &fx.requester,
            true,
        )
        .await;
    let session = fx.open_session(task).await;
    let attested = fx.open_session(task).await;
    let key = PrivateKeySigner::random();
    let (status, body) = fx
        .release_at(&fx.sms.url(), &attested, task, APP_IMAGE, &key, &key)
        .await;
    assert_eq!(status, 200, "{body}");

    // valid bodies to mutate, each with the endpoint it goes to
    let (_, enclave) = fx.challenge(task, &fx.scheduler).await;
    let session_body = json!({
        "chainTaskId": task.to_string(), "workerWallet": fx.worker.address().to_string(),
        "enclaveChallenge": enclave, "signature": { "value": format!("0x{}", "ab".repeat(65)) },
    })
    .to_string();
    let release_body = json!({
        "quote": "00", "sessionKey": key.address().to_string(),
        "signature": format!("0x{}", "cd".repeat(65)), "collateral": {}
    })
    .to_string();
    let follow_body =
        json!({ "counter": 1, "signature": format!("0x{}", "ef".repeat(65)) }).to_string();
    let requester = fx.requester.address();
    let endpoints: Vec<(&str, String, String)> = vec![
        ("POST", "/tee/sessions".into(), session_body),
        (
            "POST",
            format!("/tee/sessions/{session}/secrets"),
            release_body.clone(),
        ),
        (
            "POST",
            format!("/tee/sessions/{attested}/secrets"),
            follow_body,
        ),
        ("POST", format!("/tee/challenges/{task}"), String::new()),
        (
            "POST",
            format!("/secrets/web3?secretAddress={}", fx.dataset),
            "a-key".into(),
        ),
        (
            "POST",
            format!("/secrets/web2?ownerAddress={requester}&secretName=n"),
            "v".into(),
        ),
        (
            "PUT",
            format!("/secrets/web2?ownerAddress={requester}&secretName=n"),
            "v".into(),
        ),
        (
            "POST",
            format!("/apps/{}/secrets", fx.tee_app),
            "dev".into(),
        ),
        (
            "POST",
            format!("/requesters/{requester}/secrets/new-key"),
            "v".into(),
        ),
        (
            "POST",
            format!("/secrets/rotate?kind=requester&address={requester}&name=mail"),
            "v2".into(),
        ),
        (
            "POST",
            format!("/secrets/revoke?kind=requester&address={requester}&name=mail&version=1"),
            String::new(),
        ),
        (
            "GET",
            format!("/secrets/log?kind=requester&address={requester}&at=0"),
            String::new(),
        ),
    ];
    // queries a client may get wrong
    let bad_queries = [
        "/secrets/info?kind=nope&address=0x00",
        "/secrets/info?kind=requester&address=0x12&name=mail",
        "/secrets/info?kind=dataset",
        "/secrets/info?kind=requester&address=0x0000000000000000000000000000000000000001&name=a%20b",
        "/secrets/info?kind=app&address=0x0000000000000000000000000000000000000001&name=2",
        "/secrets/revoke?kind=requester&address=0x0000000000000000000000000000000000000001&name=x&version=-1",
        "/secrets/log?kind=web2&address=0x0000000000000000000000000000000000000001&at=abc",
        "/tee/sessions/%00/secrets",
        "/tee/challenges/not-a-task",
    ];

    let mut rng = StdRng::seed_from_u64(0x5a5);
    let mut checked = 0;
    for round in 0..400 {
        let (method, path, body): (&str, String, Vec<u8>) = if round < bad_queries.len() {
            let m = if bad_queries[round].contains("revoke")
                || bad_queries[round].starts_with("/tee")
            {
                "POST"
            } else {
                "GET"
            };
            (m, bad_queries[round].to_owned(), Vec::new())
        } else {
            let (method, path, valid) = &endpoints[rng.gen_range(0..endpoints.len())];
            let body = match rng.gen_range(0..3) {
                0 => mutate(&mut rng, valid),
                1 => random_json(&mut rng, 3).to_string().into_bytes(),
                _ => (0..rng.gen_range(0..64)).map(|_| rng.r#gen()).collect(),
            };
            (*method, path.clone(), body)
        };
        let (status, text) = common::call(
            &fx.http,
            &fx.url(&path),
            method,
            random_signature(&mut rng),
            body.clone(),
        )
        .await;
        assert!(
            (400..500).contains(&status),
            "{method} {path} with {:?} answered {status}: {text}",
            String::from_utf8_lossy(&body)
        );
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {path}: not a JSON error: {text}"));
        let message = v["error"][0].as_str().unwrap_or_default();
        assert!(message.len() > 10, "{method} {path}: no message in {text}");
        checked += 1;
    }
    assert_eq!(checked, 400);
    // the service is still healthy and nothing was released or changed by the noise
    assert_eq!(fx.call("GET", "/health", None, "").await.0, 200);
    assert_eq!(fx.store.releases().unwrap().len(), 1);
    let (status, info) = fx
        .call(
            "GET",
            &format!("/secrets/info?kind=requester&address={requester}&name=mail"),
            None,
            "",
        )
        .await;
    assert_eq!(status, 200, "{info}");
    assert!(info.contains("\"version\":1"), "{info}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_checks_and_releases_all_succeed_with_a_consistent_log() {
    let fx = Fx::new().await;
    fx.push_requester_secret(&fx.requester, "mail", "alice@example.org")
        .await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        tasks.push(
            fx.task(
                fx.tee_app,
                true,
                false,
                r#"{"iexec_secrets":{"1":"mail"}}"#,
                &fx.requester,
                true,
            )
            .await,
        );
    }
    // 50 sessions over the 4 tasks, opened beforehand (session creation reads the chain)
    let mut sessions: Vec<(B256, String, PrivateKeySigner)> = Vec::new();
    for i in 0..50 {
        let task = tasks[i % tasks.len()];
        sessions.push((
            task,
            fx.open_session(task).await,
            PrivateKeySigner::random(),
        ));
    }
    let url = fx.sms.url();

    // 100 pushes (distinct keys), 100 existence checks, 50 attested releases at once
    let pushes = (0..100).map(|i| {
        let fx = &fx;
        async move {
            let key = format!("k{i}");
            let value = format!("value-{i}");
            let sig = Fx::sig(
                &fx.requester,
                arca_sms::auth::named_challenge(fx.requester.address(), &key, value.as_bytes()),
            );
            let path = format!("/requesters/{}/secrets/{key}", fx.requester.address());
            fx.call("POST", &path, Some(sig), value).await
        }
    });
    let checks = (0..100).map(|_| {
        let fx = &fx;
        async move {
            let path = format!("/requesters/{}/secrets/mail", fx.requester.address());
            fx.call("HEAD", &path, None, "").await
        }
    });
    let releases = sessions.iter().map(|(task, session, key)| {
        let (fx, url) = (&fx, &url);
        async move {
            fx.release_at(url, session, *task, APP_IMAGE, key, key)
                .await
        }
    });
    let (pushed, checked, released) = tokio::join!(
        futures::future::join_all(pushes),
        futures::future::join_all(checks),
        futures::future::join_all(releases),
    );
    for (status, body) in pushed.iter().chain(&released) {
        assert!((200..300).contains(status), "{status} {body}");
    }
    for (status, body) in &checked {
        assert_eq!(*status, 204, "{body}");
    }
    // then 150 follow-up releases: 3 per session, sessions concurrently, in order within each
    let follow_ups = sessions.iter().map(|(_, session, key)| {
        let (fx, url) = (&fx, &url);
        async move {
            let mut out = Vec::new();
            for counter in 1..=3 {
                out.push(fx.follow_up(url, session, counter, key).await);
            }
            out
        }
    });
    for (status, body) in futures::future::join_all(follow_ups).await.concat() {
        assert_eq!(status, 200, "{body}");
    }

    // one verified chain of 200 entries, each session's counters 0..=3 exactly once
    let (entries, verdict) = fx.store.verify_log().unwrap();
    verdict.unwrap();
    assert_eq!(entries.len(), 200);
    for (_, session, _) in &sessions {
        let mut counters: Vec<u64> = entries
            .iter()
            .filter(|e| &e.session_id == session)
            .map(|e| e.counter)
            .collect();
        counters.sort();
        assert_eq!(counters, [0, 1, 2, 3], "{session}");
    }
    for i in [0, 57, 99] {
        let path = format!("/requesters/{}/secrets/k{i}", fx.requester.address());
        assert_eq!(fx.call("HEAD", &path, None, "").await.0, 204);
    }
}
