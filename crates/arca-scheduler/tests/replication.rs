//! Trust ≥ 2: contribute → on-chain consensus → reveal → finalize by the scheduler, with real
//! agents; and a worker whose result differs from the others' (REJECTED, not rewarded).

mod common;

use alloy::primitives::{Address, B256, U256};
use arca_client::Client;
use arca_client::poco::task_status_name;
use arca_testkit::{DealSpec, Stack};
use arca_worker::agent::ReplicateStatus;
use common::*;

/// On-chain contribution status of `worker` (`0 UNSET, 1 CONTRIBUTED, 2 PROVED, 3 REJECTED`).
async fn contribution(client: &Client, task: B256, worker: Address) -> u8 {
    client
        .hub()
        .viewContribution(task, worker)
        .call()
        .await
        .unwrap()
        .status
}

async fn score(client: &Client, worker: Address) -> U256 {
    client.hub().viewScore(worker).call().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_2_and_3_complete_through_contribute_reveal_finalize() {
    let (stack, app, pool) = hello_stack().await;
    let data = tempfile::tempdir().unwrap();
    let scheduler = scheduler(&stack, pool, data.path()).await;
    let url = scheduler.url();
    let [w0, w1] = stack.actors.workers.clone();
    let a0 = agent(&stack, &url, &w0, FileExecute::new("hello")).await;
    let a1 = agent(&stack, &url, &w1, FileExecute::new("hello")).await;
    let chain = stack.client(&stack.actors.requester).await;

    // Trust 2: PoCo's vote reaches consensus with one fresh worker (weight 2: 2·2 > 3·1), so
    // the scheduler asks no second worker; the one contribution is revealed and finalized.
    let mut spec = DealSpec::new(&stack, app, pool).params(r#"{"iexec_args":"two"}"#);
    spec.trust = 2;
    let t2 = Stack::task_id(stack.deal(&spec).await, 0);
    let view = wait_task(&url, t2, 60, |v| v.status == "COMPLETED").await;
    assert_eq!(view.replicates.len(), 1, "{view:#?}");
    let r = &view.replicates[0];
    assert_eq!(r.status, ReplicateStatus::Completed);
    assert_eq!(r.txs.len(), 2, "contribute and reveal");
    assert_eq!(contribution(&chain, t2, r.worker).await, 2, "PROVED");
    let task = chain.task(t2).await.unwrap();
    assert_eq!(task_status_name(task.status), "COMPLETED");
    assert_eq!(
        view.result_location.as_deref(),
        Some(&*String::from_utf8_lossy(&task.results))
    );

    // Trust 3: two agreeing fresh workers are needed (4·3 > 5·2): both contribute and reveal.
    spec.trust = 3;
    spec.params = r#"{"iexec_args":"three"}"#.into();
    let t3 = Stack::task_id(stack.deal(&spec).await, 0);
    let view = wait_task(&url, t3, 60, |v| v.status == "COMPLETED").await;
    assert_eq!(view.replicates.len(), 2, "{view:#?}");
    for r in &view.replicates {
        assert_eq!(r.status, ReplicateStatus::Completed);
        assert_eq!(r.txs.len(), 2, "contribute and reveal");
        assert_eq!(contribution(&chain, t3, r.worker).await, 2, "PROVED");
        // more than one contributor: each proved worker's score goes up
        assert!(score(&chain, r.worker).await >= U256::from(1));
    }
    let task = chain.task(t3).await.unwrap();
    assert_eq!(task.revealCounter, U256::from(2));
    a0.shutdown().await;
    a1.shutdown().await;
    scheduler.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_with_a_different_result_is_rejected_and_the_honest_consensus_completes() {
    let (stack, app, pool) = hello_stack().await;
    let data = tempfile::tempdir().unwrap();
    let scheduler = scheduler(&stack, pool, data.path()).await;
    let url = scheduler.url();
    let chain = stack.client(&stack.actors.requester).await;

    let mut spec = DealSpec::new(&stack, app, pool).params(r#"{"iexec_args":"vote"}"#);
    spec.trust = 3;
    let task_id = Stack::task_id(stack.deal(&spec).await, 0);

    // The liar contributes first, alone.
    let liar = funded_worker(&stack).await;
    let liar_agent = agent(&stack, &url, &liar, FileExecute::new("forged")).await;
    wait_task(&url, task_id, 60, |v| {
        v.replicates
            .iter()
            .any(|r| r.status == ReplicateStatus::Contributed)
    })
    .await;
    assert_eq!(contribution(&chain, task_id, liar.address()).await, 1);

    // Then honest workers. PoCo's vote with fresh workers (weight 2): liar 2 vs honest 2, 4, 8
    // against totals 5, 7, 11 → consensus only at the third honest contribution (8·3 > 11·2).
    let third = funded_worker(&stack).await;
    let honest = [
        stack.actors.workers[0].clone(),
        stack.actors.workers[1].clone(),
        third,
    ];
    let mut agents = Vec::new();
    for w in &honest {
        agents.push(agent(&stack, &url, w, FileExecute::new("hello")).await);
    }
    let view = wait_task(&url, task_id, 90, |v| v.status == "COMPLETED").await;
    assert_eq!(view.replicates.len(), 4, "{view:#?}");
    let liar_view = view
        .replicates
        .iter()
        .find(|r| r.worker == liar.address())
        .unwrap();
    assert_eq!(liar_view.status, ReplicateStatus::Rejected);
    assert_eq!(
        contribution(&chain, task_id, liar.address()).await,
        1,
        "the liar's contribution stays CONTRIBUTED, never PROVED"
    );
    for w in &honest {
        let r = view
            .replicates
            .iter()
            .find(|r| r.worker == w.address())
            .unwrap();
        assert_eq!(r.status, ReplicateStatus::Completed);
        assert_eq!(contribution(&chain, task_id, w.address()).await, 2);
        assert_eq!(score(&chain, w.address()).await, U256::from(1));
    }
    // not rewarded: its score stays 0 (PoCo: score·2/3) and it gets no reward share
    assert_eq!(score(&chain, liar.address()).await, U256::ZERO);
    let task = chain.task(task_id).await.unwrap();
    assert_eq!(task.winnerCounter, U256::from(3));
    assert_eq!(task.revealCounter, U256::from(3));
    // the honest result is the one on chain
    let results: serde_json::Value = serde_json::from_slice(&task.results).unwrap();
    let location = results["location"]
        .as_str()
        .unwrap()
        .trim_start_matches("file://");
    let text = std::fs::read_to_string(std::path::Path::new(location).join("result.txt")).unwrap();
    assert_eq!(text, "hello vote");
    liar_agent.shutdown().await;
    for a in agents {
        a.shutdown().await;
    }
    scheduler.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_revealing_in_time_reopens_the_task_and_another_worker_completes_it() {
    use alloy::primitives::keccak256;
    use alloy::signers::SignerSync;
    use arca_worker::agent::{NextAction, SchedulerApi, StatusReport, WorkerInfo};
    let (stack, app, pool) = hello_stack().await;
    let data = tempfile::tempdir().unwrap();
    let scheduler = scheduler(&stack, pool, data.path()).await;
    let url = scheduler.url();
    let mut spec = DealSpec::new(&stack, app, pool).params(r#"{"iexec_args":"late"}"#);
    spec.trust = 2;
    let task_id = Stack::task_id(stack.deal(&spec).await, 0);
    wait_task(&url, task_id, 30, |v| v.status == "INITIALIZED").await;

    // A worker that contributes (trust 2: consensus at once) and then goes silent.
    let silent = stack.actors.workers[0].clone();
    let api = arca_scheduler::client::Client::new(&url);
    let challenge = api.challenge(silent.address()).await.unwrap();
    let sig = silent.sign_message_sync(challenge.as_bytes()).unwrap();
    let info = WorkerInfo {
        tee_enabled: false,
        max_tasks: 1,
        running: vec![],
    };
    let token = api
        .login(
            silent.address(),
            &format!("0x{}", alloy::hex::encode(sig.as_bytes())),
            &info,
        )
        .await
        .unwrap();
    let replicate = api
        .available(token.clone())
        .await
        .unwrap()
        .expect("a replicate");
    let digest = B256::repeat_byte(0x42);
    let hash = keccak256([task_id.as_slice(), digest.as_slice()].concat());
    let seal = keccak256(
        [
            silent.address().as_slice(),
            task_id.as_slice(),
            digest.as_slice(),
        ]
        .concat(),
    );
    let computed = StatusReport {
        result_digest: Some(digest),
        result_hash: Some(hash),
        results: Some(alloy::primitives::Bytes::from_static(b"{}")),
        ..StatusReport::new(ReplicateStatus::Computed)
    };
    assert_eq!(
        api.report(token.clone(), task_id, &computed).await.unwrap(),
        NextAction::Contribute
    );
    let sent = stack
        .client(&silent)
        .await
        .contribute(
            task_id,
            hash,
            seal,
            Address::ZERO,
            Default::default(),
            replicate.authorization.signature,
        )
        .await
        .unwrap();
    api.report(
        token.clone(),
        task_id,
        &StatusReport::mined(ReplicateStatus::Contributed, sent.tx_hash),
    )
    .await
    .unwrap();
    let view = wait_task(&url, task_id, 30, |v| v.status == "CONSENSUS_REACHED").await;
    assert!(
        view.stage.contains("waiting for reveals (0/1)"),
        "{}",
        view.stage
    );

    // the reveal deadline (2 × 300 s after consensus) passes without a reveal
    let reveal_deadline = view.deadlines.reveal.unwrap();
    let contribution_deadline = view.deadlines.contribution.unwrap();
    let now = contribution_deadline - 7 * 300;
    advance_time(&stack, reveal_deadline.saturating_sub(now) + 5).await;
    let view = wait_task(&url, task_id, 30, |v| v.status == "RUNNING").await;
    assert_eq!(view.chain_status.as_deref(), Some("ACTIVE"));
    assert!(view.stage.starts_with("reopened"), "{}", view.stage);
    assert_eq!(view.replicates[0].status, ReplicateStatus::Rejected);
    let chain = stack.client(&stack.actors.requester).await;
    assert_eq!(
        contribution(&chain, task_id, silent.address()).await,
        3,
        "REJECTED on chain"
    );

    // another worker completes it
    let a1 = agent(
        &stack,
        &url,
        &stack.actors.workers[1],
        FileExecute::new("hello"),
    )
    .await;
    let view = wait_task(&url, task_id, 60, |v| v.status == "COMPLETED").await;
    assert_eq!(view.replicates.len(), 2);
    assert_eq!(view.replicates[1].status, ReplicateStatus::Completed);
    a1.shutdown().await;
    scheduler.shutdown().await;
}
