//! Replication with real containers and real money: a priced trust-3 deal of seed 000's
//! hello-world app, computed by production workers (arca-stack's `spawn_worker`: the agent
//! driving the Docker pipeline, results uploaded to Arca's result store) and by a liar running
//! the same pipeline who forges its result digest. Consensus picks the honest result, the liar
//! is never PROVED, and `_distributeRewards` seizes its stake for the honest workers and the
//! scheduler; every escrow account is checked to the nRLC. Needs the `docker-tests` feature
//! (scripts/test.d/60-docker.sh: a Docker daemon at DOCKER_HOST and scripts/images.sh's images).
#![cfg(feature = "docker-tests")]

mod common;
// arca-worker's Docker test helper (the daemon from DOCKER_HOST, `docker build` of an example
// app through the Engine API), shared rather than copied.
#[path = "../../arca-worker/tests/common/mod.rs"]
mod worker_docker;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use alloy::primitives::{Address, B256, U256, address, keccak256};
use alloy::signers::local::PrivateKeySigner;
use arca_client::Client;
use arca_client::poco::task_status_name;
use arca_stack::worker::{WorkerConfig, spawn_worker};
use arca_testkit::{DealSpec, Stack};
use arca_worker::agent::{AgentHandle, BoxFuture, Execute, ReplicateStatus};
use arca_worker::{
    DirResultStore, PipelineContext, ReplicateOutcome, ReplicateSpec, run_replicate,
};
use common::*;
use sha2::Digest as _;

/// The app price and the workerpool price of the priced deal, in nRLC. 1001 makes every
/// division of the payout round down, as the contract does.
const APP_PRICE: u64 = 150;
const POOL_PRICE: u64 = 1_001;
/// What the liar claims the app wrote.
const FORGED: &[u8] = b"Hello, Mallory!";
/// PoCo's kitty (stakes of failed tasks, paid out to pools on success): must be empty here, or
/// the scheduler's reward would include a share of it.
const KITTY: Address = address!("99c2268479b93fDe36232351229815DF80837e23");

fn sha256(bytes: &[u8]) -> B256 {
    B256::from(<[u8; 32]>::from(sha2::Sha256::digest(bytes)))
}

/// A malicious worker: it runs the real pipeline (the app container and all), behaves for its
/// first `honest_replicates` replicates to earn a score, then reports the digest of
/// [`FORGED`] instead of what its container wrote. The agent seals and contributes that
/// digest like any other, so the lie reaches the chain as a real worker's would.
struct Liar {
    pipeline: PipelineContext,
    honest_replicates: AtomicU32,
    /// Per task, the digest its container really produced.
    computed: Mutex<BTreeMap<B256, B256>>,
}

impl Execute for Liar {
    fn execute<'a>(&'a self, spec: &'a ReplicateSpec) -> BoxFuture<'a, ReplicateOutcome> {
        Box::pin(async move {
            let outcome = run_replicate(spec, &self.pipeline).await;
            let ReplicateOutcome::Computed(mut computed) = outcome else {
                return outcome;
            };
            self.computed
                .lock()
                .unwrap()
                .insert(spec.task_id, computed.result_digest);
            let behave = self
                .honest_replicates
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if !behave {
                tracing::warn!(task_id = %spec.task_id, "the liar forges its result digest");
                computed.result_digest = sha256(FORGED);
            }
            ReplicateOutcome::Computed(computed)
        })
    }
}

/// A worker exactly as `arca worker` / `arca up` start one.
async fn production_worker(
    stack: &Stack,
    scheduler_url: &str,
    storage_url: &str,
    signer: &PrivateKeySigner,
    work_dir: &Path,
) -> AgentHandle {
    spawn_worker(WorkerConfig {
        chain: stack.chain_conf(),
        signer: signer.clone(),
        scheduler_url: scheduler_url.into(),
        storage_url: storage_url.into(),
        docker_host: None,
        work_dir: work_dir.into(),
        sim_tee: false,
        file_url_roots: Vec::new(),
        max_parallel: 1,
    })
    .await
    .expect("starting a production worker")
}

/// Everything `who` owns in the escrow: free stake + locked.
async fn escrow(chain: &Client, who: Address) -> i128 {
    let (stake, locked) = chain.account(who).await.unwrap();
    i128::try_from(stake + locked).unwrap()
}

async fn locked(chain: &Client, who: Address) -> U256 {
    chain.account(who).await.unwrap().1
}

async fn score(chain: &Client, who: Address) -> U256 {
    chain.hub().viewScore(who).call().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_worker_loses_its_stake_to_the_honest_workers_of_a_priced_trust_3_task() {
    init_tracing();
    let started = std::time::Instant::now();
    let stack = Stack::start().await;
    let a = stack.actors.clone();
    let chain = stack.client(&a.requester).await;

    // seed 000's image, registered with its real image id as checksum (the pipeline checks it)
    let runner = worker_docker::runner().await;
    let image = worker_docker::build_app(&runner, "hello-world").await;
    let checksum: B256 = runner
        .verify_image(&image, None)
        .await
        .unwrap()
        .id
        .trim_start_matches("sha256:")
        .parse()
        .unwrap();
    let app = stack.app("hello-world", &image, checksum, "").await;
    let pool = stack.workerpool("pool").await;

    let dirs = tempfile::tempdir().unwrap();
    let mut storage_config = arca_storage::Config::new(
        stack.rpc.clone(),
        stack.deployment.hub,
        dirs.path().join("results"),
    );
    storage_config.listen = ([127, 0, 0, 1], 0).into();
    let storage = arca_storage::spawn(storage_config).await.unwrap();
    let storage_url = storage.url();
    std::fs::create_dir_all(dirs.path().join("scheduler")).unwrap();
    let scheduler = scheduler(&stack, pool, &dirs.path().join("scheduler")).await;
    let url = scheduler.url();

    let liar = funded_worker(&stack).await;
    let honest = [
        a.workers[0].clone(),
        a.workers[1].clone(),
        funded_worker(&stack).await,
    ];
    fund_rlc(&stack, &a.requester, 10_000).await;
    fund_rlc(&stack, &a.scheduler, 1_000).await;
    for w in std::iter::once(&liar).chain(&honest) {
        fund_rlc(&stack, w, 1_000).await;
    }
    std::fs::create_dir_all(dirs.path().join("liar")).unwrap();
    let liar_exec = Arc::new(Liar {
        pipeline: PipelineContext::new(
            runner.clone(),
            dirs.path().join("liar"),
            liar.clone(),
            // its archives stay with it: only its digest matters to the lie
            Arc::new(DirResultStore::new(dirs.path().join("liar-results")).unwrap()),
        ),
        honest_replicates: AtomicU32::new(1),
        computed: Mutex::new(BTreeMap::new()),
    });
    let liar_agent = agent(&stack, &url, &liar, liar_exec.clone()).await;
    let work_dir = |i: usize| dirs.path().join(format!("worker-{i}"));

    // 1. The liar earns a score first: a free trust-3 task done honestly with one honest worker
    // (two agreeing fresh workers reach consensus: 4·3 > 5·2, and both scores go up by one).
    let mut warm_up = DealSpec::new(&stack, app, pool).params(r#"{"iexec_args":"warm up"}"#);
    warm_up.trust = 3;
    let warm_task = Stack::task_id(stack.deal(&warm_up).await, 0);
    let partner = production_worker(&stack, &url, &storage_url, &honest[0], &work_dir(0)).await;
    let view = wait_task(&url, warm_task, 60, |v| v.status == "COMPLETED").await;
    assert_eq!(view.replicates.len(), 2, "{view:#?}");
    assert!(
        view.replicates
            .iter()
            .all(|r| r.status == ReplicateStatus::Completed),
        "{view:#?}"
    );
    partner.shutdown().await;
    assert_eq!(score(&chain, liar.address()).await, U256::from(1));
    assert_eq!(score(&chain, honest[0].address()).await, U256::from(1));

    // 2. The priced deal. Nobody's escrow may move from here on except by this task.
    let parties = [
        a.requester.address(),
        a.app_owner.address(),
        a.scheduler.address(),
        liar.address(),
        honest[0].address(),
        honest[1].address(),
        honest[2].address(),
    ];
    let mut before = BTreeMap::new();
    for who in parties {
        before.insert(who, escrow(&chain, who).await);
    }
    let scores_before = [
        score(&chain, honest[0].address()).await,
        score(&chain, honest[1].address()).await,
        score(&chain, honest[2].address()).await,
    ];
    assert_eq!(
        chain.account(KITTY).await.unwrap(),
        (U256::ZERO, U256::ZERO)
    );

    let mut spec = DealSpec::new(&stack, app, pool).params(r#"{"iexec_args":"Arca"}"#);
    spec.trust = 3;
    let deal_id = stack.deal(&spec.prices(APP_PRICE, POOL_PRICE)).await;
    let task_id = Stack::task_id(deal_id, 0);
    // MatchFacet: workerStake = workerpoolprice × the pool's workerStakeRatioPolicy (30) / 100;
    // the scheduler keeps schedulerRewardRatioPolicy = 1 % of the rewards.
    let stake = POOL_PRICE * 30 / 100;
    let deal = chain.deal(deal_id).await.unwrap();
    assert_eq!(deal.workerStake, U256::from(stake));
    assert_eq!(deal.schedulerRewardRatio, U256::from(1));
    assert_eq!(
        locked(&chain, a.requester.address()).await,
        U256::from(APP_PRICE + POOL_PRICE)
    );
    assert_eq!(
        locked(&chain, a.scheduler.address()).await,
        U256::from(POOL_PRICE * 30 / 100),
        "the pool owner's stake (WORKERPOOL_STAKE_RATIO = 30)"
    );

    // 3. The liar alone contributes its forged result, locking its stake.
    wait_task(&url, task_id, 60, |v| {
        v.replicates
            .iter()
            .any(|r| r.worker == liar.address() && r.status == ReplicateStatus::Contributed)
    })
    .await;
    assert_eq!(locked(&chain, liar.address()).await, U256::from(stake));

    // 4. Three honest production workers. Fresh or score-1 workers all weigh 2: liar 2 against
    // honest 2, 4, 8 with totals 5, 7, 11 → consensus only at the third honest contribution
    // (8·3 > 11·2), so every honest worker contributes and reveals.
    let mut agents = Vec::new();
    for (i, w) in honest.iter().enumerate() {
        agents.push(production_worker(&stack, &url, &storage_url, w, &work_dir(i)).await);
    }
    let view = wait_task(&url, task_id, 120, |v| v.status == "COMPLETED").await;

    // --- the scheduler's view: the liar REJECTED with its reason, the honest COMPLETED
    assert_eq!(view.replicates.len(), 4, "{view:#?}");
    let liar_view = view
        .replicates
        .iter()
        .find(|r| r.worker == liar.address())
        .unwrap();
    assert_eq!(liar_view.status, ReplicateStatus::Rejected, "{view:#?}");
    let reason = liar_view.message.as_deref().unwrap_or_default();
    assert!(
        reason.contains("differs from the consensus") && reason.contains("stake is seized"),
        "{reason:?}"
    );
    assert_eq!(liar_view.txs.len(), 1, "contribute only: {liar_view:#?}");
    for w in &honest {
        let r = view
            .replicates
            .iter()
            .find(|r| r.worker == w.address())
            .unwrap();
        assert_eq!(r.status, ReplicateStatus::Completed, "{r:#?}");
        assert_eq!(r.txs.len(), 2, "contribute and reveal: {r:#?}");
    }

    // --- on chain: the honest result won, the liar's contribution was never PROVED
    let honest_digest = sha256(b"Hello, Arca!");
    let hash_of = |digest: B256| keccak256([task_id.as_slice(), digest.as_slice()].concat());
    let task = chain.task(task_id).await.unwrap();
    assert_eq!(task_status_name(task.status), "COMPLETED");
    assert_eq!(task.resultDigest, honest_digest);
    assert_eq!(task.consensusValue, hash_of(honest_digest));
    assert_eq!(task.winnerCounter, U256::from(3));
    assert_eq!(task.revealCounter, U256::from(3));
    let contribution = |who: Address| {
        let chain = &chain;
        async move {
            chain
                .hub()
                .viewContribution(task_id, who)
                .call()
                .await
                .unwrap()
        }
    };
    let lie = contribution(liar.address()).await;
    assert_eq!(lie.status, 1, "CONTRIBUTED, never PROVED");
    assert_eq!(lie.resultHash, hash_of(sha256(FORGED)));
    for w in &honest {
        let c = contribution(w.address()).await;
        assert_eq!(c.status, 2, "PROVED");
        assert_eq!(c.resultHash, task.consensusValue);
    }
    // the liar's container did compute the honest result: the lie is deliberate
    assert_eq!(
        liar_exec.computed.lock().unwrap().get(&task_id),
        Some(&honest_digest)
    );

    // --- the result on chain is the honest archive, downloaded from the result store
    let results = String::from_utf8(task.results.to_vec()).unwrap();
    assert_eq!(view.result_location.as_deref(), Some(results.as_str()));
    let results: serde_json::Value = serde_json::from_str(&results).unwrap();
    assert_eq!(results["storage"], "ipfs", "{results}");
    let location = results["location"].as_str().unwrap();
    let archive = dirs.path().join("downloaded.zip");
    arca_storage::Client::new(storage_url.clone())
        .unwrap()
        .download(location, &archive, |_, _| {})
        .await
        .expect("downloading the result");
    let files = worker_docker::unzip(&std::fs::read(&archive).unwrap());
    assert_eq!(files["result.txt"], b"Hello, Arca!");
    assert_eq!(sha256(&files["result.txt"]), task.resultDigest);

    // --- balances, as TaskFacet pays them. _successWork: the requester's app + pool price is
    // taken, the app owner paid, the pool owner's stake unlocked (no kitty to share).
    // _distributeRewards: the reward pot is the pool price plus every loser's stake; the
    // workers share 99 % of it by log-weight (log2(2) = 1 each, so thirds, rounded down); the
    // scheduler keeps the rest; the loser's stake is seized.
    let pot = POOL_PRICE + stake;
    let workers_pot = pot * (100 - 1) / 100;
    let per_worker = workers_pot / 3;
    let scheduler_reward = pot - 3 * per_worker;
    // the figures, worked by hand: stake ⌊1001·0.3⌋ = 300, pot 1301, ⌊1301·0.99⌋ = 1287, 429
    // each (330 without the liar's stake), 1301 − 3·429 = 14 for the scheduler
    assert_eq!(
        (stake, pot, per_worker, scheduler_reward),
        (300, 1301, 429, 14)
    );
    let expected: BTreeMap<Address, i128> = BTreeMap::from([
        (a.requester.address(), -i128::from(APP_PRICE + POOL_PRICE)),
        (a.app_owner.address(), i128::from(APP_PRICE)),
        (a.scheduler.address(), i128::from(scheduler_reward)),
        (liar.address(), -i128::from(stake)),
        (honest[0].address(), i128::from(per_worker)),
        (honest[1].address(), i128::from(per_worker)),
        (honest[2].address(), i128::from(per_worker)),
    ]);
    let mut delta = BTreeMap::new();
    for who in parties {
        delta.insert(who, escrow(&chain, who).await - before[&who]);
        assert_eq!(
            locked(&chain, who).await,
            U256::ZERO,
            "{who} still has nRLC locked"
        );
    }
    assert_eq!(delta, expected);
    assert_eq!(delta.values().sum::<i128>(), 0, "no nRLC created or lost");

    // --- scores: the liar's cut to ⌊1·2/3⌋ = 0, each honest worker's up by one
    assert_eq!(score(&chain, liar.address()).await, U256::ZERO);
    for (w, before) in honest.iter().zip(scores_before) {
        assert_eq!(score(&chain, w.address()).await, before + U256::from(1));
    }

    liar_agent.shutdown().await;
    for agent in agents {
        agent.shutdown().await;
    }
    scheduler.shutdown().await;
    storage.shutdown().await;
    eprintln!(
        "replication with a liar: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
