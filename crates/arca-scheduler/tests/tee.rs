//! TEE deals: the scheduler gets the task's enclave challenge from a real SMS, gives the task
//! only to TEE-capable workers, and signs their authorization over that challenge.

mod common;

use std::sync::Arc;

use alloy::primitives::{B256, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use arca_scheduler::client::Client;
use arca_sms::{Config as SmsConfig, MasterKey, SqliteStore};
use arca_testkit::{DealSpec, Stack};
use arca_worker::agent::{NextAction, ReplicateStatus, SchedulerApi, StatusReport, WorkerInfo};
use arca_worker::task::{Failure, FailureCause, Stage};
use common::*;

async fn login(api: &Client, worker: &PrivateKeySigner, tee: bool) -> String {
    let challenge = api.challenge(worker.address()).await.unwrap();
    let sig = worker.sign_message_sync(challenge.as_bytes()).unwrap();
    let info = WorkerInfo {
        tee_enabled: tee,
        max_tasks: 1,
        running: vec![],
    };
    api.login(
        worker.address(),
        &format!("0x{}", alloy::hex::encode(sig.as_bytes())),
        &info,
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tee_task_gets_its_enclave_challenge_and_goes_only_to_a_tee_worker() {
    init_tracing();
    let stack = Stack::start().await;
    let store = Arc::new(SqliteStore::in_memory(MasterKey::new([7; 32])).unwrap());
    let sms_config = SmsConfig {
        rpc_url: stack.rpc.clone(),
        hub: stack.deployment.hub,
        dev: true,
        public_url: None,
        session_ttl: 300,
    };
    let sms = arca_sms::spawn("127.0.0.1:0".parse().unwrap(), sms_config, store)
        .await
        .unwrap();
    let app = stack
        .app(
            "tee-app",
            "arca/tee:1",
            B256::ZERO,
            r#"{"framework":"TDX","fingerprint":"00"}"#,
        )
        .await;
    let pool = stack.workerpool("pool").await;
    let data = tempfile::tempdir().unwrap();
    let mut config = scheduler_config(&stack, pool, data.path());
    config.sms_url = Some(sms.url());
    let scheduler = arca_scheduler::spawn(config).await.unwrap();
    let url = scheduler.url();

    let deal = stack.deal(&DealSpec::new(&stack, app, pool).tee()).await;
    let task_id = Stack::task_id(deal, 0);
    wait_task(&url, task_id, 30, |v| v.status == "INITIALIZED").await;

    let api = Client::new(&url);
    let [standard, tee] = stack.actors.workers.clone();
    let standard_token = login(&api, &standard, false).await;
    assert!(
        api.available(standard_token).await.unwrap().is_none(),
        "a TEE task must not go to a worker without TEE"
    );
    let tee_token = login(&api, &tee, true).await;
    let spec = api
        .available(tee_token.clone())
        .await
        .unwrap()
        .expect("the TEE worker gets the task");
    assert_eq!(spec.task_id, task_id);
    let tee_spec = spec.tee.as_ref().expect("TEE details");
    assert_eq!(tee_spec.sms_url, sms.url());
    assert_eq!(tee_spec.framework, "tdx");

    // the challenge is the SMS's (asking again returns the same address)
    let owner_sig = stack
        .actors
        .scheduler
        .sign_message_sync(keccak256(task_id).as_slice())
        .unwrap();
    let again = reqwest::Client::new()
        .post(format!("{}/tee/challenges/{task_id}", sms.url()))
        .header(
            "Authorization",
            format!("0x{}", alloy::hex::encode(owner_sig.as_bytes())),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let challenge = spec.authorization.enclave_challenge;
    assert_ne!(challenge, alloy::primitives::Address::ZERO);
    assert_eq!(
        again.parse::<alloy::primitives::Address>().unwrap(),
        challenge
    );

    // the authorization is the owner's personal_sign of keccak256(worker ‖ taskId ‖ challenge)
    let hash = keccak256(
        [
            tee.address().as_slice(),
            task_id.as_slice(),
            challenge.as_slice(),
        ]
        .concat(),
    );
    let signature = alloy::primitives::Signature::from_raw(&spec.authorization.signature).unwrap();
    assert_eq!(
        signature.recover_address_from_msg(hash.as_slice()).unwrap(),
        stack.actors.scheduler.address()
    );
    // the worker fails; the task needs another replicate, but never from the same worker.
    // Its failure claims an enclave report, signed by a key that is not the task's enclave
    // challenge: the scheduler keeps the failure but not the claim.
    let mut failure = Failure {
        stage: Stage::PreCompute,
        cause: FailureCause::SecretNotReleased,
        message: "the SMS refused the session".into(),
        logs: None,
        report: None,
    };
    let not_the_enclave = PrivateKeySigner::random();
    failure.report = Some(
        arca_worker::worker_key::sign_failure_report(
            &not_the_enclave,
            tee.address(),
            task_id,
            &failure,
        )
        .unwrap(),
    );
    let action = api
        .report(
            tee_token.clone(),
            task_id,
            &StatusReport::failed(ReplicateStatus::ComputeFailed, failure),
        )
        .await
        .unwrap();
    assert!(matches!(action, NextAction::Abort { .. }));
    assert!(api.available(tee_token).await.unwrap().is_none());
    let view = api.task(task_id).await.unwrap();
    assert_eq!(
        view.replicates[0].cause.as_deref(),
        Some("secret-not-released")
    );
    assert_eq!(view.replicates[0].stage, Some(Stage::PreCompute));
    assert_eq!(view.replicates[0].enclave_signed, None);
    scheduler.shutdown().await;
}
