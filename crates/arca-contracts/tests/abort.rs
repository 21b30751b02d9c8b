//! `abortTask`, Arca's extension to PoCo: the deal's workerpool owner ends a task that cannot
//! succeed before its final deadline. Checked on a real chain: who may call it, in which task
//! states, the balances (exactly those of `claim` after the deadline), the events, and that the
//! task cannot be claimed or aborted again.

mod common;

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    rpc::types::TransactionReceipt,
    sol_types::SolEvent,
};
use arca_contracts::bindings::IexecHub;
use common::{APP_PRICE, DATASET_PRICE, Fixture, WORKERPOOL_PRICE};

const KITTY: Address = alloy::primitives::address!("99c2268479b93fDe36232351229815DF80837e23");
/// The tests' category has a work clock of 300 s; the final deadline is 10 of them.
const FINAL_DEADLINE: u64 = 10 * 300;

/// The accounts whose escrow a failed task moves, in a fixed order.
fn watched(fx: &Fixture) -> Vec<Address> {
    let mut v = vec![
        fx.requester.address(),
        fx.scheduler.address(),
        fx.app_owner.address(),
        fx.dataset_owner.address(),
        KITTY,
    ];
    v.extend(fx.workers.iter().map(|w| w.address()));
    v
}

/// (balance, frozen) of every watched account.
async fn snapshot(fx: &Fixture) -> Vec<(U256, U256)> {
    let mut out = Vec::new();
    for a in watched(fx) {
        out.push(fx.account(a).await);
    }
    out
}

/// Signed change of every watched account between two snapshots: (Δbalance, Δfrozen).
fn deltas(before: &[(U256, U256)], after: &[(U256, U256)]) -> Vec<(i128, i128)> {
    let signed = |a: U256, b: U256| i128::try_from(b).unwrap() - i128::try_from(a).unwrap();
    before
        .iter()
        .zip(after)
        .map(|(b, a)| (signed(b.0, a.0), signed(b.1, a.1)))
        .collect()
}

fn events<E: SolEvent>(receipt: &TransactionReceipt) -> Vec<E> {
    receipt
        .inner
        .logs()
        .iter()
        .filter_map(|log| E::decode_log(&log.inner).ok().map(|l| l.data))
        .collect()
}

/// A trust-3 deal of two tasks, both initialized, each with one contribution from a different
/// worker: one vote is not a consensus at trust 3 (6 > 6 fails), so both stay ACTIVE with a
/// worker's stake locked.
async fn two_active_tasks_with_a_contributor(fx: &Fixture) -> (B256, B256, B256) {
    let o = fx.sign(fx.orders(false, true, 2, 3));
    let (dealid, _) = fx.match_orders(&o).await;
    let (t0, t1) = (Fixture::task_id(dealid, 0), Fixture::task_id(dealid, 1));
    send!(fx.hub.initialize(dealid, U256::ZERO));
    send!(fx.hub.initialize(dealid, U256::from(1)));
    fx.contribute(fx.workers[0].address(), t0, B256::repeat_byte(1))
        .await;
    fx.contribute(fx.workers[1].address(), t1, B256::repeat_byte(1))
        .await;
    for t in [t0, t1] {
        assert_eq!(fx.hub.viewTask(t).call().await.unwrap().status, 1, "ACTIVE");
    }
    (dealid, t0, t1)
}

/// Ending a task early moves exactly what claiming it after the final deadline moves: the same
/// deal's other task, in the same state, is claimed and both balance changes are compared.
#[tokio::test]
async fn abort_pays_out_exactly_as_claim() {
    let fx = Fixture::new().await;
    let (dealid, aborted, claimed) = two_active_tasks_with_a_contributor(&fx).await;
    let deal = fx.hub.viewDeal(dealid).call().await.unwrap();
    assert!(
        deal.workerStake > U256::ZERO,
        "the fixture's pool must ask a worker stake for this test to mean anything"
    );

    let cause = alloy::primitives::keccak256(b"app exited with code 1");
    let before = snapshot(&fx).await;
    let receipt = send!(
        fx.hub
            .abortTask(aborted, cause)
            .from(fx.scheduler.address())
    );
    let after_abort = snapshot(&fx).await;
    let task = fx.hub.viewTask(aborted).call().await.unwrap();
    assert_eq!(task.status, 4, "FAILED");

    // the events: PoCo's TaskClaimed (clients see a claimed task) and the cause
    let claimed_events = events::<IexecHub::TaskClaimed>(&receipt);
    assert_eq!(claimed_events.len(), 1);
    assert_eq!(claimed_events[0].taskid, aborted);
    let aborted_events = events::<IexecHub::TaskAborted>(&receipt);
    assert_eq!(aborted_events.len(), 1);
    assert_eq!(
        (aborted_events[0].taskid, aborted_events[0].cause),
        (aborted, cause)
    );

    // the figures, spelled out: requester refunded in full, pool stake to the kitty, the
    // contributor's stake unlocked, nobody else touched
    let price = (APP_PRICE + DATASET_PRICE + WORKERPOOL_PRICE) as i128;
    let pool_stake = (WORKERPOOL_PRICE * 30 / 100) as i128;
    let stake = i128::try_from(deal.workerStake).unwrap();
    let abort_deltas = deltas(&before, &after_abort);
    let mut expected = vec![(0, 0); abort_deltas.len()];
    expected[0] = (price, -price); // requester
    expected[1] = (0, -pool_stake); // scheduler (pool owner)
    expected[4] = (0, pool_stake); // kitty
    expected[5] = (stake, -stake); // workers[0], the contributor
    assert_eq!(abort_deltas, expected);

    // the other task, claimed after the final deadline, moves the same amounts (its
    // contributor is workers[1], so swap the two workers' lines before comparing)
    fx.increase_time(FINAL_DEADLINE + 1).await;
    let before_claim = snapshot(&fx).await;
    let receipt = send!(fx.hub.claim(claimed).from(fx.requester.address()));
    assert_eq!(events::<IexecHub::TaskClaimed>(&receipt).len(), 1);
    assert!(events::<IexecHub::TaskAborted>(&receipt).is_empty());
    let mut claim_deltas = deltas(&before_claim, &snapshot(&fx).await);
    claim_deltas.swap(5, 6);
    assert_eq!(
        claim_deltas, abort_deltas,
        "abortTask must move exactly what claim moves"
    );

    // an aborted task is over: neither claimed nor aborted again, even after the deadline
    assert!(fx.hub.claim(aborted).call().await.is_err(), "claimed once");
    assert!(
        fx.hub
            .abortTask(aborted, cause)
            .from(fx.scheduler.address())
            .call()
            .await
            .is_err(),
        "aborted once"
    );
}

/// Only the deal's workerpool owner may end a task: not the requester, a worker, the hub's
/// owner, and nobody on a task that does not exist.
#[tokio::test]
async fn only_the_workerpool_owner_may_abort() {
    let fx = Fixture::new().await;
    let (_, taskid, _) = two_active_tasks_with_a_contributor(&fx).await;
    let cause = B256::repeat_byte(7);
    for who in [
        fx.requester.address(),
        fx.workers[0].address(),
        fx.owner.address(),
        fx.app_owner.address(),
    ] {
        let err = fx
            .hub
            .abortTask(taskid, cause)
            .from(who)
            .call()
            .await
            .unwrap_err();
        assert_eq!(common::reason(&err), "", "bare revert, like PoCo's checks");
    }
    assert!(
        fx.hub
            .abortTask(B256::repeat_byte(9), cause)
            .from(fx.scheduler.address())
            .call()
            .await
            .is_err(),
        "an unknown task"
    );
    assert_eq!(fx.hub.viewTask(taskid).call().await.unwrap().status, 1);
    send!(fx.hub.abortTask(taskid, cause).from(fx.scheduler.address()));
    assert_eq!(fx.hub.viewTask(taskid).call().await.unwrap().status, 4);
}

/// Only an ACTIVE task before its final deadline: not an uninitialized one, not once a
/// consensus is reached (REVEALING), not a COMPLETED one, and not past the final deadline
/// (claim is the way then).
#[tokio::test]
async fn only_an_active_task_before_the_final_deadline() {
    let fx = Fixture::new().await;
    let o = fx.sign(fx.orders(false, true, 3, 1));
    let (dealid, _) = fx.match_orders(&o).await;
    let scheduler = fx.scheduler.address();
    let cause = B256::repeat_byte(7);
    let abort = |t: B256| fx.hub.abortTask(t, cause).from(scheduler);

    // UNSET: not initialized yet
    let t0 = Fixture::task_id(dealid, 0);
    assert!(abort(t0).call().await.is_err(), "not before initialize");

    // REVEALING: at trust 1 the first contribution is the consensus
    send!(fx.hub.initialize(dealid, U256::ZERO));
    let digest = B256::repeat_byte(3);
    fx.contribute(fx.workers[0].address(), t0, digest).await;
    assert_eq!(fx.hub.viewTask(t0).call().await.unwrap().status, 2);
    assert!(abort(t0).call().await.is_err(), "not after consensus");

    // COMPLETED
    send!(fx.hub.reveal(t0, digest).from(fx.workers[0].address()));
    send!(
        fx.hub
            .finalize(t0, Bytes::from_static(b"r"), Bytes::new())
            .from(scheduler)
    );
    assert_eq!(fx.hub.viewTask(t0).call().await.unwrap().status, 3);
    assert!(abort(t0).call().await.is_err(), "not a completed task");

    // ACTIVE but past the final deadline: claim, not abort
    send!(fx.hub.initialize(dealid, U256::from(1)));
    let t1 = Fixture::task_id(dealid, 1);
    fx.increase_time(FINAL_DEADLINE + 1).await;
    assert!(
        abort(t1).call().await.is_err(),
        "not after the final deadline"
    );
    send!(fx.hub.claim(t1));
    assert_eq!(fx.hub.viewTask(t1).call().await.unwrap().status, 4);
}
