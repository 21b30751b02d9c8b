//! Task lifecycles on a real chain: the TEE fast path, consensus among three workers with a
//! liar, reopen after a missed reveal, claim after the final deadline — with the escrow
//! invariant checked after every step (nothing is created or lost, only moved).

mod common;

use alloy::primitives::{Address, B256, Bytes, U256};
use arca_contracts::bindings::IexecLibCore_v5 as core;
use common::{APP_PRICE, DATASET_PRICE, DEPOSIT, Fixture, WORKERPOOL_PRICE};

const KITTY: Address = alloy::primitives::address!("99c2268479b93fDe36232351229815DF80837e23");

/// Σ balances (hub included) == totalSupply == RLC held by the hub, and the hub's own balance
/// == Σ frozen (kitty included): every nRLC is accounted for exactly once.
async fn assert_escrow_invariant(fx: &Fixture) {
    let mut accounts = fx.all_actors();
    accounts.push(KITTY);
    let mut balances = U256::ZERO;
    let mut frozen = U256::ZERO;
    for a in &accounts {
        let (b, f) = fx.account(*a).await;
        balances += b;
        frozen += f;
    }
    let hub_balance = fx.hub.balanceOf(fx.deployment.hub).call().await.unwrap();
    let supply = fx.hub.totalSupply().call().await.unwrap();
    let backing = fx.token.balanceOf(fx.deployment.hub).call().await.unwrap();
    assert_eq!(
        balances + hub_balance,
        supply,
        "balances must add up to the escrow's supply"
    );
    assert_eq!(
        supply, backing,
        "every escrow nRLC is backed by an RLC held by the hub"
    );
    assert_eq!(
        hub_balance, frozen,
        "the hub holds exactly the frozen amounts"
    );
}

#[tokio::test]
async fn tee_trust1_contribute_and_finalize_pays_everyone() {
    let fx = Fixture::new().await;
    let o = fx.sign(fx.orders(true, true, 1, 1));
    let (dealid, _) = fx.match_orders(&o).await;
    assert_escrow_invariant(&fx).await;
    let deal = fx.hub.viewDeal(dealid).call().await.unwrap();
    assert_eq!(deal.tag, common::TEE_TAG);
    assert_eq!(deal.trust, U256::from(1));
    assert_eq!(deal.params, o.request.params);

    let taskid = fx.hub.initialize(dealid, U256::ZERO).call().await.unwrap();
    assert_eq!(taskid, Fixture::task_id(dealid, 0));
    send!(fx.hub.initialize(dealid, U256::ZERO));

    let worker = fx.workers[0].address();
    let digest = B256::repeat_byte(0x42);
    let (hash, seal) = Fixture::commitments(worker, taskid, digest);
    let enclave = fx.enclave.address();
    let before = fx.account(worker).await;
    let scheduler_before = fx.account(fx.scheduler.address()).await;

    // a TEE task cannot be finalized without an enclave
    let no_enclave = fx
        .hub
        .contributeAndFinalize(
            taskid,
            digest,
            Bytes::from_static(b"ipfs://result"),
            Bytes::new(),
            Address::ZERO,
            Bytes::new(),
            fx.authorization(worker, taskid, Address::ZERO),
        )
        .from(worker)
        .call()
        .await;
    assert!(no_enclave.is_err());
    // nor with a signature from another enclave key
    let forged = fx
        .hub
        .contributeAndFinalize(
            taskid,
            digest,
            Bytes::from_static(b"ipfs://result"),
            Bytes::new(),
            enclave,
            common::sign_hash(&fx.workers[1], hash),
            fx.authorization(worker, taskid, enclave),
        )
        .from(worker)
        .call()
        .await;
    assert!(forged.is_err());

    send!(
        fx.hub
            .contributeAndFinalize(
                taskid,
                digest,
                Bytes::from_static(b"ipfs://result"),
                Bytes::new(),
                enclave,
                fx.enclave_sign(hash, seal),
                fx.authorization(worker, taskid, enclave),
            )
            .from(worker)
    );
    let task = fx.hub.viewTask(taskid).call().await.unwrap();
    assert_eq!(task.status, 3, "COMPLETED");
    assert_eq!(task.resultDigest, digest);
    assert_eq!(task.results, Bytes::from_static(b"ipfs://result"));
    assert_eq!(task.contributors, vec![worker]);
    let c: core::Contribution = fx
        .hub
        .viewContribution(taskid, worker)
        .call()
        .await
        .unwrap();
    assert_eq!(
        (c.status, c.resultHash, c.resultSeal, c.enclaveChallenge),
        (2, hash, seal, enclave)
    );

    // worker: pool price minus the scheduler's 1 %, no stake involved
    let worker_reward = WORKERPOOL_PRICE * 99 / 100;
    assert_eq!(
        fx.account(worker).await,
        (before.0 + U256::from(worker_reward), before.1)
    );
    // scheduler: its 1 % and its pool stake back
    let stake = WORKERPOOL_PRICE * 30 / 100;
    let scheduler_after = fx.account(fx.scheduler.address()).await;
    assert_eq!(
        scheduler_after.0,
        scheduler_before.0 + U256::from(WORKERPOOL_PRICE - worker_reward + stake)
    );
    assert_eq!(scheduler_after.1, scheduler_before.1 - U256::from(stake));
    assert_eq!(
        fx.account(fx.app_owner.address()).await.0,
        U256::from(APP_PRICE)
    );
    assert_eq!(
        fx.account(fx.dataset_owner.address()).await.0,
        U256::from(DATASET_PRICE)
    );
    let requester = fx.account(fx.requester.address()).await;
    assert_eq!(
        requester,
        (
            U256::from(DEPOSIT - APP_PRICE - DATASET_PRICE - WORKERPOOL_PRICE),
            U256::ZERO
        )
    );
    assert_escrow_invariant(&fx).await;
}

#[tokio::test]
async fn tee_request_never_matches_a_non_tee_pool() {
    let fx = Fixture::new().await;
    let mut o = fx.orders(true, false, 1, 1);
    o.workerpool.tag = B256::ZERO;
    let o = fx.sign(o);
    assert_eq!(
        fx.try_match(&o).await.unwrap_err(),
        "iExecV5-matchOrders-0x06"
    );
    // and a TEE app cannot be used for a non-TEE deal at all
    let mut o = fx.orders(true, false, 1, 1);
    o.app.tag = B256::ZERO;
    o.request.tag = B256::ZERO;
    let o = fx.sign(o);
    assert!(
        fx.try_match(&o).await.is_ok(),
        "a non-TEE app order on a TEE pool is fine"
    );
    let mut o = fx.orders(false, false, 1, 1);
    o.request.tag = common::TEE_TAG;
    o.workerpool.tag = common::TEE_TAG;
    let o = fx.sign(o);
    assert_eq!(
        fx.try_match(&o).await.unwrap_err(),
        "iExecV5-matchOrders-0x07"
    );
}

/// Trust 3 with a lying worker. With fresh scores each vote multiplies its group by 2 and the
/// tally starts at 1, so n agreeing votes weigh 2ⁿ and consensus needs 3·2ⁿ > 2·(1 + 2ⁿ + 2)
/// once a liar has voted: three honest votes (two suffice without a liar: 12 > 10; and at
/// trust 2 any first vote wins, leaving a liar no chance to vote). The liar's stake is seized
/// and shared among the honest workers, who gain score.
#[tokio::test]
async fn trust3_consensus_with_a_lying_worker() {
    let fx = Fixture::new().await;
    let o = fx.sign(fx.orders(false, false, 1, 3));
    let (dealid, _) = fx.match_orders(&o).await;
    send!(fx.hub.initialize(dealid, U256::ZERO));
    let taskid = Fixture::task_id(dealid, 0);
    let deal = fx.hub.viewDeal(dealid).call().await.unwrap();
    let stake = deal.workerStake;
    assert_eq!(stake, U256::from(WORKERPOOL_PRICE * 30 / 100));

    let good = B256::repeat_byte(0x60);
    let bad = B256::repeat_byte(0x66);
    let workers: Vec<Address> = fx.workers[..4].iter().map(|w| w.address()).collect();
    let liar = workers[1];
    let honest: Vec<Address> = workers.iter().copied().filter(|w| *w != liar).collect();
    let before = balances(&fx, &workers).await;
    for (i, worker) in workers.iter().copied().enumerate() {
        let digest = if worker == liar { bad } else { good };
        fx.contribute(worker, taskid, digest).await;
        assert_escrow_invariant(&fx).await;
        let status = fx.hub.viewTask(taskid).call().await.unwrap().status;
        assert_eq!(
            status,
            if i < 3 { 1 } else { 2 },
            "consensus exactly at the third honest vote"
        );
    }
    let task = fx.hub.viewTask(taskid).call().await.unwrap();
    assert_eq!(
        task.consensusValue,
        Fixture::commitments(honest[0], taskid, good).0
    );
    assert_eq!(task.winnerCounter, U256::from(3));
    // contributions need the scheduler's authorization for that very worker
    let outsider = fx.owner.address();
    let (hash, seal) = Fixture::commitments(outsider, taskid, good);
    let unauthorized = fx
        .hub
        .contribute(
            taskid,
            hash,
            seal,
            Address::ZERO,
            Bytes::new(),
            fx.authorization(honest[0], taskid, Address::ZERO),
        )
        .from(outsider)
        .call()
        .await;
    assert!(unauthorized.is_err());
    // the liar cannot reveal: its commitment is not the consensus
    assert!(fx.hub.reveal(taskid, bad).from(liar).call().await.is_err());
    // a worker cannot reveal somebody else's digest under its own seal
    assert!(
        fx.hub
            .reveal(taskid, bad)
            .from(honest[0])
            .call()
            .await
            .is_err()
    );
    for worker in &honest {
        send!(fx.hub.reveal(taskid, good).from(*worker));
    }
    // only the scheduler finalizes
    assert!(
        fx.hub
            .finalize(taskid, Bytes::from_static(b"r"), Bytes::new())
            .from(honest[0])
            .call()
            .await
            .is_err()
    );
    send!(
        fx.hub
            .finalize(taskid, Bytes::from_static(b"r"), Bytes::new())
            .from(fx.scheduler.address())
    );
    assert_escrow_invariant(&fx).await;

    let after = balances(&fx, &workers).await;
    // the liar lost its stake, nothing stays frozen
    assert_eq!(after[1], (before[1].0 - stake, U256::ZERO));
    assert_eq!(
        fx.hub
            .viewContribution(taskid, liar)
            .call()
            .await
            .unwrap()
            .status,
        1,
        "still CONTRIBUTED"
    );
    // the honest workers share (pool price + the liar's stake) minus the scheduler's 1 %
    let workers_reward = (U256::from(WORKERPOOL_PRICE) + stake) * U256::from(99) / U256::from(100);
    let each = workers_reward / U256::from(3);
    for (i, worker) in workers.iter().enumerate() {
        if *worker != liar {
            assert_eq!(
                after[i],
                (before[i].0 + each, U256::ZERO),
                "honest worker {i}"
            );
            assert_eq!(
                fx.hub.viewScore(*worker).call().await.unwrap(),
                U256::from(1)
            );
        }
    }
    assert_eq!(fx.hub.viewScore(liar).call().await.unwrap(), U256::ZERO);
    let task = fx.hub.viewTask(taskid).call().await.unwrap();
    assert_eq!((task.status, task.revealCounter), (3, U256::from(3)));
}

async fn balances(fx: &Fixture, who: &[Address]) -> Vec<(U256, U256)> {
    let mut v = Vec::new();
    for w in who {
        v.push(fx.account(*w).await);
    }
    v
}

/// Consensus reached but nobody reveals: the scheduler reopens, the silent winner is rejected,
/// fresh contributions reach a new consensus that is revealed and finalized.
#[tokio::test]
async fn reveal_timeout_then_reopen() {
    let fx = Fixture::new().await;
    let o = fx.sign(fx.orders(false, false, 1, 1));
    let (dealid, _) = fx.match_orders(&o).await;
    send!(fx.hub.initialize(dealid, U256::ZERO));
    let taskid = Fixture::task_id(dealid, 0);
    let silent = fx.workers[0].address();
    let digest = B256::repeat_byte(0x51);
    fx.contribute(silent, taskid, digest).await;
    assert_eq!(fx.hub.viewTask(taskid).call().await.unwrap().status, 2);
    // too early: the reveal window (2 × 300 s) is still open
    assert!(
        fx.hub
            .reopen(taskid)
            .from(fx.scheduler.address())
            .call()
            .await
            .is_err()
    );
    fx.increase_time(601).await;
    assert!(
        fx.hub.reopen(taskid).from(silent).call().await.is_err(),
        "only the scheduler reopens"
    );
    send!(fx.hub.reopen(taskid).from(fx.scheduler.address()));
    let task = fx.hub.viewTask(taskid).call().await.unwrap();
    assert_eq!(
        (task.status, task.consensusValue, task.revealDeadline),
        (1, B256::ZERO, U256::ZERO)
    );
    assert_eq!(
        fx.hub
            .viewContribution(taskid, silent)
            .call()
            .await
            .unwrap()
            .status,
        3,
        "REJECTED"
    );

    let worker = fx.workers[1].address();
    fx.contribute(worker, taskid, digest).await;
    send!(fx.hub.reveal(taskid, digest).from(worker));
    send!(
        fx.hub
            .finalize(taskid, Bytes::from_static(b"r"), Bytes::new())
            .from(fx.scheduler.address())
    );
    assert_eq!(fx.hub.viewTask(taskid).call().await.unwrap().status, 3);
    // the rejected worker's stake was seized, the revealer's returned
    assert_eq!(fx.account(silent).await.1, U256::ZERO);
    assert_eq!(fx.account(worker).await.1, U256::ZERO);
    assert_escrow_invariant(&fx).await;
}

/// Past the final deadline anyone may claim: the requester is refunded, the pool's stake goes
/// to the kitty, contributors get their stake back; the kitty then pays the next good pool.
#[tokio::test]
async fn final_deadline_then_claim_refunds_the_requester() {
    let fx = Fixture::new().await;
    let o = fx.sign(fx.orders(false, true, 2, 1));
    let (dealid, _) = fx.match_orders(&o).await;
    send!(fx.hub.initialize(dealid, U256::ZERO));
    let taskid = Fixture::task_id(dealid, 0);
    let worker = fx.workers[0].address();
    let (hash, _) = Fixture::commitments(worker, taskid, B256::repeat_byte(1));
    let vote = fx
        .hub
        .contribute(
            taskid,
            hash,
            B256::ZERO,
            Address::ZERO,
            Bytes::new(),
            fx.authorization(worker, taskid, Address::ZERO),
        )
        .from(worker);
    send!(vote);
    let requester_before = fx.account(fx.requester.address()).await;
    let task_price = U256::from(APP_PRICE + DATASET_PRICE + WORKERPOOL_PRICE);
    assert_eq!(
        requester_before.1,
        task_price * U256::from(2),
        "two tasks locked"
    );

    assert!(
        fx.hub.claim(taskid).call().await.is_err(),
        "not before the final deadline"
    );
    fx.increase_time(10 * 300 + 1).await;
    send!(fx.hub.claim(taskid).from(fx.owner.address()));
    let task = fx.hub.viewTask(taskid).call().await.unwrap();
    assert_eq!(task.status, 4, "FAILED");
    let requester_after = fx.account(fx.requester.address()).await;
    assert_eq!(requester_after.0, requester_before.0 + task_price);
    assert_eq!(requester_after.1, requester_before.1 - task_price);
    let pool_stake = U256::from(WORKERPOOL_PRICE * 30 / 100);
    assert_eq!(fx.account(KITTY).await, (U256::ZERO, pool_stake));
    assert_eq!(
        fx.account(worker).await.1,
        U256::ZERO,
        "contributor's stake unlocked"
    );
    assert!(
        fx.hub.claim(taskid).call().await.is_err(),
        "a task is claimed once"
    );
    // the second task of the deal can be initialized and claimed in one call
    send!(
        fx.hub
            .initializeAndClaimArray(vec![dealid], vec![U256::from(1)])
    );
    assert_eq!(fx.account(fx.requester.address()).await.1, U256::ZERO);
    assert_eq!(fx.account(KITTY).await.1, pool_stake * U256::from(2));
    assert_escrow_invariant(&fx).await;
}

/// A deal with a callback: the results for the callback must hash to the result digest, the
/// hub then calls `receiveResult(taskid, data)` on the target and `resultFor` returns the data.
#[tokio::test]
async fn callback_receives_the_result() {
    let fx = Fixture::new().await;
    let receiver = common::fixtures::ResultReceiver::deploy(fx.provider.clone())
        .await
        .unwrap();
    let mut o = fx.orders(false, false, 1, 1);
    o.request.callback = *receiver.address();
    let (dealid, _) = fx.match_orders(&fx.sign(o)).await;
    send!(fx.hub.initialize(dealid, U256::ZERO));
    let taskid = Fixture::task_id(dealid, 0);
    let worker = fx.workers[0].address();
    let callback_data = Bytes::from_static(b"price=42");
    let digest = alloy::primitives::keccak256(&callback_data);
    let auth = fx.authorization(worker, taskid, Address::ZERO);
    let finalize = |data: Bytes| {
        fx.hub
            .contributeAndFinalize(
                taskid,
                digest,
                Bytes::from_static(b"ipfs://r"),
                data,
                Address::ZERO,
                Bytes::new(),
                auth.clone(),
            )
            .from(worker)
    };
    // data that does not match the digest is refused
    assert!(
        finalize(Bytes::from_static(b"price=43"))
            .call()
            .await
            .is_err()
    );
    assert!(
        fx.hub.resultFor(taskid).call().await.is_err(),
        "no result before completion"
    );
    send!(finalize(callback_data.clone()));
    assert_eq!(receiver.calls().call().await.unwrap(), U256::from(1));
    assert_eq!(receiver.lastTask().call().await.unwrap(), taskid);
    assert_eq!(receiver.lastResult().call().await.unwrap(), callback_data);
    assert_eq!(
        fx.hub.resultFor(taskid).call().await.unwrap(),
        callback_data
    );
    assert_escrow_invariant(&fx).await;
}

/// With a TEE broker configured, enclave tasks need the broker's authorization instead of the
/// workerpool owner's; tasks without an enclave keep the owner's.
#[tokio::test]
async fn tee_broker_authorizes_enclave_tasks() {
    let fx = Fixture::new().await;
    let broker = &fx.workers[4];
    assert!(
        fx.hub
            .setTeeBroker(broker.address())
            .from(fx.requester.address())
            .call()
            .await
            .is_err()
    );
    send!(
        fx.hub
            .setTeeBroker(broker.address())
            .from(fx.owner.address())
    );
    assert_eq!(fx.hub.teebroker().call().await.unwrap(), broker.address());
    let (dealid, _) = fx
        .match_orders(&fx.sign(fx.orders(true, false, 1, 1)))
        .await;
    send!(fx.hub.initialize(dealid, U256::ZERO));
    let taskid = Fixture::task_id(dealid, 0);
    let worker = fx.workers[0].address();
    let enclave = fx.enclave.address();
    let digest = B256::repeat_byte(0x42);
    let (hash, seal) = Fixture::commitments(worker, taskid, digest);
    let by_broker = {
        let message = alloy::primitives::keccak256(
            [worker.as_slice(), taskid.as_slice(), enclave.as_slice()].concat(),
        );
        use alloy::signers::SignerSync;
        Bytes::from(
            broker
                .sign_message_sync(message.as_slice())
                .unwrap()
                .as_bytes()
                .to_vec(),
        )
    };
    let finalize = |auth: Bytes| {
        fx.hub
            .contributeAndFinalize(
                taskid,
                digest,
                Bytes::from_static(b"ipfs://r"),
                Bytes::new(),
                enclave,
                fx.enclave_sign(hash, seal),
                auth,
            )
            .from(worker)
    };
    assert!(
        finalize(fx.authorization(worker, taskid, enclave))
            .call()
            .await
            .is_err(),
        "owner no longer enough"
    );
    send!(finalize(by_broker));
    assert_eq!(fx.hub.viewTask(taskid).call().await.unwrap().status, 3);
}
