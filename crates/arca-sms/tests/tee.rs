//! The TEE flow end to end (enclave challenge, session, attested release) and each of its
//! denials, over real HTTP against deals and tasks on Arca's in-process chain. Quotes come from
//! arca-tee's sim enclave; the SMS accepts them only with `--dev`.

mod common;

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use common::{APP_IMAGE, Fx, OTHER_IMAGE, assert_denied};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attested_enclave_receives_exactly_its_tasks_secrets() {
    let fx = Fx::new().await;
    fx.push_dataset_key("ZGF0YXNldC1rZXk=").await;
    fx.push_requester_secret(&fx.requester, "mail", "alice@example.org")
        .await;
    fx.push_requester_secret(&fx.requester, "unused", "not for this task")
        .await;
    fx.push_requester_secret(&fx.other_requester, "mail", "bob@example.org")
        .await;
    let sig = Fx::sig(
        &fx.app_owner,
        arca_sms::auth::named_challenge(fx.tee_app, "1", b"app-dev"),
    );
    let (status, _) = fx
        .call(
            "POST",
            &format!("/apps/{}/secrets", fx.tee_app),
            Some(sig),
            "app-dev",
        )
        .await;
    assert_eq!(status, 204);

    let task = fx
        .task(
            fx.tee_app,
            true,
            true,
            r#"{"iexec_secrets":{"1":"mail"}}"#,
            &fx.requester,
            true,
        )
        .await;
    // the challenge is created once per task
    let (status, enclave) = fx.challenge(task, &fx.scheduler).await;
    assert_eq!(status, 200, "{enclave}");
    assert_eq!(
        fx.challenge(task, &fx.scheduler).await,
        (200, enclave.clone())
    );

    let session = fx.open_session(task).await;
    assert!(session.ends_with(&format!("0000{task}")), "{session}");

    // an enclave running another image is refused, and the session stays usable
    let denied = fx.release(&session, task, OTHER_IMAGE).await;
    assert_denied(&denied, "wrong-measurement", "not an expected measurement");
    // a quote bound to one key, with the release signed by another: the quote is not for it
    let (bound, holder) = (PrivateKeySigner::random(), PrivateKeySigner::random());
    let denied = fx
        .release_at(&fx.sms.url(), &session, task, APP_IMAGE, &bound, &holder)
        .await;
    assert_denied(&denied, "session-key-proof", "not by the session key");
    // the enclave that binds and holds its key, running the app's image, is served
    let (status, body) = fx
        .release_at(&fx.sms.url(), &session, task, APP_IMAGE, &holder, &holder)
        .await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let env = v["environment"].as_object().unwrap();
    assert_eq!(env["IEXEC_DATASET_KEY"], "ZGF0YXNldC1rZXk=");
    assert_eq!(env["IEXEC_REQUESTER_SECRET_1"], "alice@example.org");
    assert_eq!(env["IEXEC_APP_DEVELOPER_SECRET"], "app-dev");
    assert_eq!(
        env["SIGN_WORKER_ADDRESS"],
        format!("{:#x}", fx.worker.address())
    );
    let challenge_key: PrivateKeySigner = env["SIGN_TEE_CHALLENGE_PRIVATE_KEY"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(format!("{:#x}", challenge_key.address()), enclave);
    // exactly these: nothing the deal did not ask for
    let mut keys: Vec<&str> = env.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "IEXEC_APP_DEVELOPER_SECRET",
            "IEXEC_APP_DEVELOPER_SECRET_1",
            "IEXEC_DATASET_KEY",
            "IEXEC_REQUESTER_SECRET_1",
            "IEXEC_TASK_ID",
            "SIGN_TEE_CHALLENGE_PRIVATE_KEY",
            "SIGN_WORKER_ADDRESS"
        ]
    );
    assert!(
        !body.contains("not for this task") && !body.contains("bob@"),
        "{body}"
    );

    // the release is logged, by secret name only, in a verifiable chain
    use arca_sms::SecretStore as _;
    let log = fx.store.releases().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].task_id, task.to_string());
    assert_eq!(log[0].measurement, v["measurement"].as_str().unwrap());
    let released: Vec<(String, u64)> = log[0]
        .secrets
        .iter()
        .map(|r| (r.secret.clone(), r.version))
        .collect();
    assert_eq!(
        released,
        [
            (format!("dataset:{:#x}", fx.dataset), 1),
            (format!("app:{:#x}:1", fx.tee_app), 1),
            (format!("requester:{:#x}:mail", fx.requester.address()), 1),
        ]
    );
    arca_sms::log::verify(&log, None).unwrap();
    let (_, verdict) = fx.store.verify_log().unwrap();
    verdict.unwrap();
    assert!(!serde_json::to_string(&log).unwrap().contains("alice@"));

    // a session releases once
    let replay = fx.release(&session, task, APP_IMAGE).await;
    assert_denied(&replay, "session-replayed", "already released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_names_the_failed_check() {
    let fx = Fx::new().await;
    let task = fx
        .task(fx.tee_app, true, false, "{}", &fx.requester, true)
        .await;

    // the enclave challenge is for the deal's scheduler only
    let (status, body) = fx.challenge(task, &fx.stranger).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("owner of the deal's workerpool"), "{body}");

    // a session before any enclave challenge
    let (status, enclave) = (200, PrivateKeySigner::random().address());
    let _ = status;
    assert_denied(
        &fx.session(task, enclave, &fx.scheduler).await,
        "no-enclave-challenge",
        "scheduler asks for it first",
    );
    let (_, enclave) = fx.challenge(task, &fx.scheduler).await;
    let enclave: Address = enclave.parse().unwrap();
    // an authorization for another enclave challenge
    assert_denied(
        &fx.session(task, PrivateKeySigner::random().address(), &fx.scheduler)
            .await,
        "wrong-enclave-challenge",
        "this task's is",
    );
    // an authorization not signed by the workerpool owner
    let denied = fx.session(task, enclave, &fx.stranger).await;
    assert_denied(
        &denied,
        "worker-not-authorized",
        &format!("signed by {}", fx.stranger.address()),
    );
    // the worker's own signature is wrong: 401
    let hash = arca_sms::auth::authorization_hash(Some(fx.worker.address()), task, Some(enclave));
    let body = serde_json::json!({
        "chainTaskId": task.to_string(), "workerWallet": fx.worker.address().to_string(),
        "enclaveChallenge": enclave.to_string(), "signature": { "value": Fx::sig(&fx.scheduler, hash) },
    });
    let (status, text) = fx
        .call(
            "POST",
            "/tee/sessions",
            Some(Fx::sig(&fx.stranger, hash)),
            body.to_string(),
        )
        .await;
    assert_eq!(status, 401, "{text}");

    // a task that was never initialized
    let pending = fx
        .task(fx.tee_app, true, false, "{}", &fx.requester, false)
        .await;
    assert_denied(
        &fx.challenge(pending, &fx.scheduler).await,
        "task-not-active",
        "is UNSET (never initialized",
    );

    // a non-TEE task
    let plain = fx
        .task(fx.plain_app, false, false, "{}", &fx.requester, true)
        .await;
    assert_denied(
        &fx.challenge(plain, &fx.scheduler).await,
        "not-tee-task",
        "lacks the TEE bit",
    );

    // a TEE-tagged deal whose app registered no measurement
    let no_measurement = fx
        .task(fx.plain_app, true, false, "{}", &fx.requester, true)
        .await;
    let (_, e) = fx.challenge(no_measurement, &fx.scheduler).await;
    assert_denied(
        &fx.session(no_measurement, e.parse().unwrap(), &fx.scheduler)
            .await,
        "app-not-tee",
        "mrenclave field is empty",
    );

    // a deal naming another requester's secret: only its own requester's namespace is searched
    fx.push_requester_secret(&fx.other_requester, "bobs-token", "t0k3n")
        .await;
    let greedy = fx
        .task(
            fx.tee_app,
            true,
            false,
            r#"{"iexec_secrets":{"1":"bobs-token"}}"#,
            &fx.requester,
            true,
        )
        .await;
    let (_, e) = fx.challenge(greedy, &fx.scheduler).await;
    assert_denied(
        &fx.session(greedy, e.parse().unwrap(), &fx.scheduler).await,
        "requester-secret-missing",
        &format!(
            "requester {} has no secret `bobs-token`",
            fx.requester.address()
        ),
    );

    // a dataset whose key was never pushed
    let with_dataset = fx
        .task(fx.tee_app, true, true, "{}", &fx.requester, true)
        .await;
    let (_, e) = fx.challenge(with_dataset, &fx.scheduler).await;
    assert_denied(
        &fx.session(with_dataset, e.parse().unwrap(), &fx.scheduler)
            .await,
        "dataset-key-missing",
        "has not pushed its key",
    );

    // result encryption asked, but the beneficiary pushed no public key
    let encrypted = fx
        .task(
            fx.tee_app,
            true,
            false,
            r#"{"iexec_result_encryption":true}"#,
            &fx.requester,
            true,
        )
        .await;
    let (_, e) = fx.challenge(encrypted, &fx.scheduler).await;
    assert_denied(
        &fx.session(encrypted, e.parse().unwrap(), &fx.scheduler)
            .await,
        "result-key-missing",
        "iexec-result-encryption-public-key",
    );

    // an unknown session
    let (status, _) = fx.release("nope", task, APP_IMAGE).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sim_quote_is_refused_without_dev() {
    let fx = Fx::new().await;
    let task = fx
        .task(fx.tee_app, true, false, "{}", &fx.requester, true)
        .await;
    // a production SMS on the same chain (its own store)
    let hub = *fx.hub.address();
    let prod = common::start_sms(&fx.rpc, hub, false).await;
    let sig = Fx::sig(
        &fx.scheduler,
        arca_sms::auth::authorization_hash(None, task, None),
    );
    let (status, enclave) = common::call(
        &fx.http,
        &format!("{}/tee/challenges/{task}", prod.url()),
        "POST",
        Some(sig),
        "",
    )
    .await;
    assert_eq!(status, 200, "{enclave}");
    let enclave: Address = enclave.parse().unwrap();
    let hash = arca_sms::auth::authorization_hash(Some(fx.worker.address()), task, Some(enclave));
    let body = serde_json::json!({
        "chainTaskId": task.to_string(), "workerWallet": fx.worker.address().to_string(),
        "enclaveChallenge": enclave.to_string(), "signature": { "value": Fx::sig(&fx.scheduler, hash) },
    });
    let (status, text) = common::call(
        &fx.http,
        &format!("{}/tee/sessions", prod.url()),
        "POST",
        Some(Fx::sig(&fx.worker, hash)),
        body.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let session = v["data"]["sessionId"].as_str().unwrap();
    let key = PrivateKeySigner::random();
    let denied = fx
        .release_at(&prod.url(), session, task, APP_IMAGE, &key, &key)
        .await;
    assert_denied(&denied, "sim-quote-without-dev", "Arca dev root");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_and_concurrent_replays_are_refused() {
    let fx = Fx::new().await;
    let task = fx
        .task(fx.tee_app, true, false, "{}", &fx.requester, true)
        .await;

    // two enclaves racing on one session: exactly one receives the secrets
    let session = fx.open_session(task).await;
    let (a, b) = tokio::join!(
        fx.release(&session, task, APP_IMAGE),
        fx.release(&session, task, APP_IMAGE)
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 403], "{a:?} {b:?}");
    let loser = if a.0 == 403 { a } else { b };
    assert_denied(&loser, "session-replayed", "already released");

    // a session used after its time to live
    let hub = *fx.hub.address();
    let (short, _) = common::start_sms_with(&fx.rpc, hub, true, 0).await;
    let session = fx.open_session_at(&short.url(), task).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let key = PrivateKeySigner::random();
    let denied = fx
        .release_at(&short.url(), &session, task, APP_IMAGE, &key, &key)
        .await;
    assert_denied(&denied, "session-expired", "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_released_challenge_key_finalizes_the_task_and_then_nothing_more_is_released() {
    use alloy::primitives::{B256, Bytes, keccak256};
    use alloy::signers::SignerSync;
    let fx = Fx::new().await;
    let task = fx
        .task(fx.tee_app, true, false, "{}", &fx.requester, true)
        .await;
    let session = fx.open_session(task).await;
    let (status, body) = fx.release(&session, task, APP_IMAGE).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let enclave: PrivateKeySigner = v["environment"]["SIGN_TEE_CHALLENGE_PRIVATE_KEY"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // the enclave signs its result with the released key; the hub accepts it
    let worker = fx.worker.address();
    let digest = B256::repeat_byte(0x5d);
    let hash = keccak256([task.as_slice(), digest.as_slice()].concat());
    let seal = keccak256([worker.as_slice(), task.as_slice(), digest.as_slice()].concat());
    let sign = |s: &PrivateKeySigner, m: B256| {
        Bytes::from(
            s.sign_message_sync(m.as_slice())
                .unwrap()
                .as_bytes()
                .to_vec(),
        )
    };
    let enclave_sign = sign(
        &enclave,
        keccak256([hash.as_slice(), seal.as_slice()].concat()),
    );
    let authorization = sign(
        &fx.scheduler,
        keccak256(
            [
                worker.as_slice(),
                task.as_slice(),
                enclave.address().as_slice(),
            ]
            .concat(),
        ),
    );
    let receipt = fx
        .hub
        .contributeAndFinalize(
            task,
            digest,
            Bytes::from_static(b"ipfs://result"),
            Bytes::new(),
            enclave.address(),
            enclave_sign,
            authorization,
        )
        .from(worker)
        .send()
        .await
        .expect("send")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(alloy::network::ReceiptResponse::status(&receipt));

    // the task is COMPLETED: no new challenge, no new session
    assert_denied(
        &fx.challenge(task, &fx.scheduler).await,
        "task-not-active",
        "is COMPLETED",
    );
    let enclave_address: Address = enclave.address();
    assert_denied(
        &fx.session(task, enclave_address, &fx.scheduler).await,
        "task-not-active",
        "is COMPLETED",
    );
}
