//! Arca's additions to the SMS, end to end over real HTTP on Arca's in-process chain: the
//! dataset order's restrictions checked again at release, versioned secrets (rotate, revoke),
//! follow-up releases signed by the attested session key, the owner's release-log query with
//! tamper detection, and `/metrics`.

mod common;

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use arca_sms::SecretStore as _;
use arca_sms::client::{SecretId, SmsClient};
use common::{APP_IMAGE, Fx, Restrict, assert_denied};
use std::time::Duration;

mod fixtures {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        SmartWallet,
        "../../contracts/artifacts/SmartWallet.json"
    );
}

fn env_of(body: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["environment"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dataset_orders_restrictions_hold_at_every_release() {
    let fx = Fx::new().await;
    fx.push_dataset_key("ZGF0YXNldC1rZXk=").await;

    // What the hub already enforces: an order restricted to another requester does not match.
    let refused = fx
        .match_task(
            fx.tee_app,
            true,
            true,
            "{}",
            &fx.requester,
            true,
            Restrict {
                requester: fx.other_requester.address(),
                ..Restrict::default()
            },
        )
        .await
        .unwrap_err();
    assert!(refused.contains("revert"), "{refused}");

    // An order restricted to the app itself and to an ERC-734 group of requesters matches.
    let group = fixtures::SmartWallet::deploy(
        fx.provider.clone(),
        Address::ZERO,
        vec![fx.requester.address()],
    )
    .await
    .unwrap();
    let restrict = Restrict {
        app: fx.tee_app,
        workerpool: fx.workerpool,
        requester: *group.address(),
    };
    let task = fx
        .match_task(fx.tee_app, true, true, "{}", &fx.requester, true, restrict)
        .await
        .unwrap();
    let session = fx.open_session(task).await;
    let key = PrivateKeySigner::random();
    let (status, body) = fx
        .release_at(&fx.sms.url(), &session, task, APP_IMAGE, &key, &key)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(env_of(&body)["IEXEC_DATASET_KEY"], "ZGF0YXNldC1rZXk=");

    // The group drops the requester (its members mapping is slot 0 of the wallet).
    let slot = keccak256(
        [
            B256::left_padding_from(fx.requester.address().as_slice()).as_slice(),
            &U256::ZERO.to_be_bytes::<32>(),
        ]
        .concat(),
    );
    fx.set_storage(*group.address(), slot, B256::ZERO).await;

    // a new session is refused, naming the restriction and the task's requester
    let (_, enclave) = fx.challenge(task, &fx.scheduler).await;
    let denied = fx
        .session(task, enclave.parse().unwrap(), &fx.scheduler)
        .await;
    assert_denied(
        &denied,
        "dataset-requester-restricted",
        &format!(
            "restricts the requester to {}; this task's requester is {}",
            group.address(),
            fx.requester.address()
        ),
    );
    // and the attested session gets nothing more once its cached entitlement (1 s) expires
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_denied(
        &fx.follow_up(&fx.sms.url(), &session, 1, &key).await,
        "dataset-requester-restricted",
        "restricts the requester",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_reaches_new_sessions_and_revocation_stops_every_release() {
    let fx = Fx::new().await;
    let sms = SmsClient::new(&fx.sms.url());
    fx.push_requester_secret(&fx.requester, "mail", "v1@example.org")
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
    let id = SecretId::requester(fx.requester.address(), "mail");
    let before = fx.open_session(task).await;

    // only the requester rotates; the version is part of what it signs
    let err = sms.rotate(&fx.stranger, &id, "evil").await.unwrap_err();
    assert!(err.to_string().contains("not by the owner"), "{err}");
    assert_eq!(
        sms.rotate(&fx.requester, &id, "v2@example.org")
            .await
            .unwrap(),
        2
    );
    // a captured rotation replayed later cannot roll the secret back
    let replay_sig = Fx::sig(
        &fx.requester,
        arca_sms::auth::rotate_challenge("requester", fx.requester.address(), "mail", 2, b"v1"),
    );
    let path = format!(
        "/secrets/rotate?kind=requester&address={}&name=mail",
        fx.requester.address()
    );
    let (status, body) = fx.call("POST", &path, Some(replay_sig), "v1").await;
    assert_eq!(status, 401, "{body}");
    let info = sms.info(&id).await.unwrap();
    assert_eq!((info.version, info.current_revoked), (2, false));

    // the session opened before the rotation keeps version 1; one opened after gets version 2
    let after = fx.open_session(task).await;
    let (k1, k2) = (PrivateKeySigner::random(), PrivateKeySigner::random());
    let url = fx.sms.url();
    let (status, body) = fx
        .release_at(&url, &before, task, APP_IMAGE, &k1, &k1)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(env_of(&body)["IEXEC_REQUESTER_SECRET_1"], "v1@example.org");
    let (status, body) = fx.release_at(&url, &after, task, APP_IMAGE, &k2, &k2).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(env_of(&body)["IEXEC_REQUESTER_SECRET_1"], "v2@example.org");

    // follow-up releases: signed by the attested key, counters strictly increasing
    let (status, body) = fx.follow_up(&url, &before, 1, &k1).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(env_of(&body)["IEXEC_REQUESTER_SECRET_1"], "v1@example.org");
    assert_denied(
        &fx.follow_up(&url, &before, 1, &k1).await,
        "session-replayed",
        "already served",
    );
    assert_denied(
        &fx.follow_up(&url, &before, 2, &k2).await,
        "session-key-proof",
        "not by the session key",
    );
    assert_eq!(fx.follow_up(&url, &before, 0, &k1).await.0, 400);
    let fresh = fx.open_session(task).await;
    assert_denied(
        &fx.follow_up(&url, &fresh, 1, &k1).await,
        "session-not-attested",
        "must carry the quote",
    );

    // revocation: only by the owner; then no version is released, to any session
    let err = sms.revoke(&fx.stranger, &id).await.unwrap_err();
    assert!(err.to_string().contains("not by the owner"), "{err}");
    let revocation = sms.revoke(&fx.requester, &id).await.unwrap();
    assert_eq!(revocation.through, 2);
    let by = format!("{:#x}", fx.requester.address());
    assert_eq!(revocation.by, by);
    for denied in [
        fx.follow_up(&url, &before, 2, &k1).await,
        fx.follow_up(&url, &after, 1, &k2).await,
    ] {
        assert_denied(&denied, "secret-revoked", &format!("revoked by {by} at 20"));
    }
    let (_, enclave) = fx.challenge(task, &fx.scheduler).await;
    assert_denied(
        &fx.session(task, enclave.parse().unwrap(), &fx.scheduler)
            .await,
        "secret-revoked",
        "version 2 was revoked",
    );
    // a later rotation is a new, releasable version
    assert_eq!(
        sms.rotate(&fx.requester, &id, "v3@example.org")
            .await
            .unwrap(),
        3
    );
    let third = fx.open_session(task).await;
    let (status, body) = fx.release(&third, task, APP_IMAGE).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(env_of(&body)["IEXEC_REQUESTER_SECRET_1"], "v3@example.org");

    // the log records the version each release served
    let versions: Vec<(String, u64, u64)> = fx
        .store
        .releases()
        .unwrap()
        .iter()
        .map(|e| (e.session_id.clone(), e.counter, e.secrets[0].version))
        .collect();
    assert_eq!(
        versions,
        [
            (before.clone(), 0, 1),
            (after.clone(), 0, 2),
            (before.clone(), 1, 1),
            (third.clone(), 0, 3),
        ]
    );

    // /metrics: requests by route and status, releases, denials by check, latency histogram
    let (status, text) = fx.call("GET", "/metrics", None, "").await;
    assert_eq!(status, 200);
    for needle in [
        "arca_sms_requests_total{method=\"POST\",route=\"/tee/sessions/{session_id}/secrets\",status=\"200\"} 4",
        "arca_sms_requests_total{method=\"POST\",route=\"/secrets/rotate\",status=\"200\"} 2",
        "arca_sms_releases_total 4",
        "arca_sms_denials_total{check=\"secret-revoked\"} 3",
        "arca_sms_denials_total{check=\"session-replayed\"} 1",
        "arca_sms_request_duration_seconds_count{route=\"/tee/sessions\"}",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_reads_the_release_log_and_a_tampered_row_is_reported() {
    let fx = Fx::new().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sms.db");
    let hub = *fx.hub.address();
    let (sms, _store) = common::start_sms_on_file(&fx.rpc, hub, &db, Duration::from_secs(1)).await;
    let url = sms.url();
    let client = SmsClient::new(&url);
    // secrets pushed to this SMS: the requester's two, and another requester's
    for (who, key, value) in [
        (&fx.requester, "mail", "alice@example.org"),
        (&fx.requester, "token", "t0k3n"),
        (&fx.other_requester, "mail", "bob@example.org"),
    ] {
        let sig = Fx::sig(
            who,
            arca_sms::auth::named_challenge(who.address(), key, value.as_bytes()),
        );
        let path = format!("{url}/requesters/{}/secrets/{key}", who.address());
        let (status, body) = common::call(&fx.http, &path, "POST", Some(sig), value).await;
        assert_eq!(status, 204, "{body}");
    }
    let mine = fx
        .task(
            fx.tee_app,
            true,
            false,
            r#"{"iexec_secrets":{"1":"mail","2":"token"}}"#,
            &fx.requester,
            true,
        )
        .await;
    let theirs = fx
        .task(
            fx.tee_app,
            true,
            false,
            r#"{"iexec_secrets":{"1":"mail"}}"#,
            &fx.other_requester,
            true,
        )
        .await;
    for task in [mine, theirs, mine] {
        let session = fx.open_session_at(&url, task).await;
        let key = PrivateKeySigner::random();
        let (status, body) = fx
            .release_at(&url, &session, task, APP_IMAGE, &key, &key)
            .await;
        assert_eq!(status, 200, "{body}");
    }

    // the requester sees its two releases (its secrets only), and a verified log of three
    let all = SecretId::requester(fx.requester.address(), "");
    let log = client.release_log(&fx.requester, &all).await.unwrap();
    assert_eq!(log.entries.len(), 2);
    assert!(log.entries.iter().all(|e| e.task_id == mine.to_string()));
    assert_eq!(log.entries[0].secrets.len(), 2);
    assert!(log.log.verified && log.log.tampered.is_none());
    assert_eq!(log.log.length, 3);
    let one = SecretId::requester(fx.requester.address(), "token");
    let log = client.release_log(&fx.requester, &one).await.unwrap();
    assert_eq!(log.entries[0].secrets.len(), 1);
    assert_eq!(log.entries[0].secrets[0].version, 1);
    // nobody else reads it; a stale signed query is refused
    let err = client.release_log(&fx.stranger, &all).await.unwrap_err();
    assert!(err.to_string().contains("not by the owner"), "{err}");
    let stale = 1_000_000;
    let sig = Fx::sig(
        &fx.requester,
        arca_sms::auth::log_challenge("requester", fx.requester.address(), "", stale),
    );
    let (status, body) = common::call(
        &fx.http,
        &format!(
            "{url}/secrets/log?kind=requester&address={}&at={stale}",
            fx.requester.address()
        ),
        "GET",
        Some(sig),
        "",
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("sign a fresh query"), "{body}");

    // someone with write access to the database edits entry 2 (the other requester's release)
    let conn = rusqlite::Connection::open(&db).unwrap();
    let json: String = conn
        .query_row("SELECT entry FROM releases WHERE seq = 2", [], |r| r.get(0))
        .unwrap();
    let mut entry: arca_sms::log::Release = serde_json::from_str(&json).unwrap();
    entry.worker = format!("{:#x}", Address::repeat_byte(0xee));
    let edit = |e: &arca_sms::log::Release| {
        conn.execute(
            "UPDATE releases SET entry = ?1 WHERE seq = 2",
            [serde_json::to_string(e).unwrap()],
        )
        .unwrap();
    };
    edit(&entry);
    let log = client.release_log(&fx.requester, &all).await.unwrap();
    assert!(!log.log.verified);
    let tampered = log.log.tampered.unwrap();
    assert_eq!(tampered.seq, 2);
    assert!(tampered.reason.contains("altered"), "{tampered:?}");
    // recomputing that entry's hash does not help: the next link and the MAC both break
    entry.hash = arca_sms::log::entry_hash(&entry);
    edit(&entry);
    let status = client.verify_log().await.unwrap();
    assert_eq!(status.tampered.as_ref().unwrap().seq, 2, "{status:?}");
    assert!(
        status.tampered.unwrap().reason.contains("MAC"),
        "the rewrite is caught by the keyed MAC"
    );
}
