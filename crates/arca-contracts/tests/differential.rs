//! Differential tests and gas benchmark against the real iExec PoCo 6.1.0 bytecode (from the
//! npm package, see `common::poco`), deployed on the same chain next to Arca's hub and driven
//! through the same ABI by the same fixture. Skipped (saying how to enable them) when
//! `ARCA_POCO_DIR` is not set.

mod common;

use alloy::{
    network::ReceiptResponse,
    primitives::{Address, B256, Bytes, U256},
};
use common::{Fixture, Target, cases, poco};

/// Known, deliberate differences: for an address that is not a registered resource at all, PoCo
/// first calls `owner()` on it and reverts without a reason (the address has no code), while
/// Arca asks its registry and reverts with the check's own reason.
const DELIBERATE: [(&str, &str); 3] = [("0x20", ""), ("0x30", ""), ("0x40", "")];

#[tokio::test]
async fn match_orders_reverts_agree_with_poco() {
    let Some(dir) = poco::poco_dir() else {
        eprintln!(
            "{}",
            poco::skip_message("match_orders_reverts_agree_with_poco")
        );
        return;
    };
    let arca = Fixture::on(Target::Arca).await;
    let reference = Fixture::on(Target::Poco(dir)).await;
    let mut differences = Vec::new();
    for case in cases::match_revert_cases() {
        let ours = cases::try_case(&arca, &case)
            .await
            .err()
            .unwrap_or_else(|| "matched".into());
        let theirs = cases::try_case(&reference, &case)
            .await
            .err()
            .unwrap_or_else(|| "matched".into());
        let expected_theirs = DELIBERATE
            .iter()
            .find(|(code, _)| *code == case.code)
            .map(|(_, reason)| reason.to_string())
            .unwrap_or_else(|| ours.clone());
        if theirs != expected_theirs {
            differences.push(format!("{}: Arca {ours:?}, PoCo {theirs:?}", case.code));
        }
    }
    assert!(
        differences.is_empty(),
        "outcomes differ:\n{}",
        differences.join("\n")
    );
}

/// Runs the same task flows on both hubs and compares every actor's escrow account, the deal
/// and the tasks' public state.
#[tokio::test]
async fn lifecycle_outcomes_agree_with_poco() {
    let Some(dir) = poco::poco_dir() else {
        eprintln!(
            "{}",
            poco::skip_message("lifecycle_outcomes_agree_with_poco")
        );
        return;
    };
    let arca = run_flows(Target::Arca).await;
    let reference = run_flows(Target::Poco(dir)).await;
    assert_eq!(
        arca.accounts, reference.accounts,
        "escrow accounts (balance, frozen) of every actor"
    );
    assert_eq!(
        arca.tasks, reference.tasks,
        "task status, counters and results"
    );
    assert_eq!(arca.scores, reference.scores, "worker scores");
}

#[derive(Debug)]
struct Outcome {
    accounts: Vec<(U256, U256)>,
    tasks: Vec<(u8, U256, U256, Bytes, B256)>,
    scores: Vec<U256>,
}

/// TEE fast path, trust-1 contribute/reveal/finalize, trust 3 with a liar, reopen, a claimed
/// task, then a completed task paid from the kitty.
async fn run_flows(target: Target) -> Outcome {
    let fx = Fixture::on(target).await;
    let mut taskids = Vec::new();
    // TEE contributeAndFinalize
    let (tee_deal, _) = fx.match_orders(&fx.sign(fx.orders(true, true, 1, 1))).await;
    send!(fx.hub.initialize(tee_deal, U256::ZERO));
    let taskid = Fixture::task_id(tee_deal, 0);
    let worker = fx.workers[0].address();
    let digest = B256::repeat_byte(0x42);
    let (hash, seal) = Fixture::commitments(worker, taskid, digest);
    send!(
        fx.hub
            .contributeAndFinalize(
                taskid,
                digest,
                Bytes::from_static(b"ipfs://tee"),
                Bytes::new(),
                fx.enclave.address(),
                fx.enclave_sign(hash, seal),
                fx.authorization(worker, taskid, fx.enclave.address()),
            )
            .from(worker)
    );
    taskids.push(taskid);
    // trust 1, standard: contribute, reveal, finalize; and a second task left to be claimed
    let mut o = fx.orders(false, false, 2, 1);
    o.request.salt = B256::repeat_byte(0xf2);
    let (deal, _) = fx.match_orders(&fx.sign(o)).await;
    let worker = fx.workers[1].address();
    send!(fx.hub.initialize(deal, U256::ZERO));
    let taskid = Fixture::task_id(deal, 0);
    let (hash, seal) = Fixture::commitments(worker, taskid, digest);
    let auth = fx.authorization(worker, taskid, Address::ZERO);
    send!(
        fx.hub
            .contribute(taskid, hash, seal, Address::ZERO, Bytes::new(), auth)
            .from(worker)
    );
    send!(fx.hub.reveal(taskid, digest).from(worker));
    send!(
        fx.hub
            .finalize(taskid, Bytes::from_static(b"ipfs://std"), Bytes::new())
            .from(fx.scheduler.address())
    );
    taskids.push(taskid);
    taskids.push(consensus_with_a_liar(&fx).await);
    taskids.push(reopened(&fx).await);
    // the deal's second task is claimed after the final deadline (pool stake → kitty) …
    send!(fx.hub.initialize(deal, U256::from(1)));
    fx.increase_time(3_001).await;
    let claimed = Fixture::task_id(deal, 1);
    send!(fx.hub.claim(claimed));
    taskids.push(claimed);
    // … and the next completed task pays part of the kitty to its pool
    let mut o = fx.orders(true, false, 1, 1);
    o.request.salt = B256::repeat_byte(0xf5);
    let (deal, _) = fx.match_orders(&fx.sign(o)).await;
    send!(fx.hub.initialize(deal, U256::ZERO));
    let taskid = Fixture::task_id(deal, 0);
    let (hash, seal) = Fixture::commitments(worker, taskid, digest);
    send!(
        fx.hub
            .contributeAndFinalize(
                taskid,
                digest,
                Bytes::from_static(b"ipfs://after-kitty"),
                Bytes::new(),
                fx.enclave.address(),
                fx.enclave_sign(hash, seal),
                fx.authorization(worker, taskid, fx.enclave.address()),
            )
            .from(worker)
    );
    taskids.push(taskid);

    let mut accounts = Vec::new();
    let kitty = "0x99c2268479b93fDe36232351229815DF80837e23"
        .parse::<Address>()
        .unwrap();
    for who in fx
        .all_actors()
        .into_iter()
        .chain([fx.deployment.hub, kitty])
    {
        accounts.push(fx.account(who).await);
    }
    let mut tasks = Vec::new();
    for t in &taskids {
        let task = fx.hub.viewTask(*t).call().await.unwrap();
        tasks.push((
            task.status,
            task.revealCounter,
            task.winnerCounter,
            task.results,
            task.resultDigest,
        ));
    }
    let mut scores = Vec::new();
    for w in &fx.workers {
        scores.push(fx.hub.viewScore(w.address()).call().await.unwrap());
    }
    Outcome {
        accounts,
        tasks,
        scores,
    }
}

/// Trust 3: one honest vote, the liar, two more honest votes (consensus), reveals, finalize.
async fn consensus_with_a_liar(fx: &Fixture) -> B256 {
    let mut o = fx.orders(false, false, 1, 3);
    o.request.salt = B256::repeat_byte(0xf6);
    let (deal, _) = fx.match_orders(&fx.sign(o)).await;
    send!(fx.hub.initialize(deal, U256::ZERO));
    let taskid = Fixture::task_id(deal, 0);
    let (good, bad) = (B256::repeat_byte(0x60), B256::repeat_byte(0x66));
    let workers: Vec<Address> = fx.workers[..4].iter().map(|w| w.address()).collect();
    for (i, worker) in workers.iter().copied().enumerate() {
        let digest = if i == 1 { bad } else { good };
        let (hash, seal) = Fixture::commitments(worker, taskid, digest);
        let auth = fx.authorization(worker, taskid, Address::ZERO);
        send!(
            fx.hub
                .contribute(taskid, hash, seal, Address::ZERO, Bytes::new(), auth)
                .from(worker)
        );
    }
    for (i, worker) in workers.iter().copied().enumerate() {
        if i != 1 {
            send!(fx.hub.reveal(taskid, good).from(worker));
        }
    }
    send!(
        fx.hub
            .finalize(taskid, Bytes::from_static(b"ipfs://t3"), Bytes::new())
            .from(fx.scheduler.address())
    );
    taskid
}

/// A consensus nobody reveals: reopen, a new contribution, reveal, finalize.
async fn reopened(fx: &Fixture) -> B256 {
    let mut o = fx.orders(false, false, 1, 1);
    o.request.salt = B256::repeat_byte(0xf7);
    let (deal, _) = fx.match_orders(&fx.sign(o)).await;
    send!(fx.hub.initialize(deal, U256::ZERO));
    let taskid = Fixture::task_id(deal, 0);
    let digest = B256::repeat_byte(0x51);
    for (n, worker) in [fx.workers[2].address(), fx.workers[3].address()]
        .into_iter()
        .enumerate()
    {
        let (hash, seal) = Fixture::commitments(worker, taskid, digest);
        let auth = fx.authorization(worker, taskid, Address::ZERO);
        send!(
            fx.hub
                .contribute(taskid, hash, seal, Address::ZERO, Bytes::new(), auth)
                .from(worker)
        );
        if n == 0 {
            fx.increase_time(601).await;
            send!(fx.hub.reopen(taskid).from(fx.scheduler.address()));
        }
    }
    send!(fx.hub.reveal(taskid, digest).from(fx.workers[3].address()));
    send!(
        fx.hub
            .finalize(taskid, Bytes::from_static(b"ipfs://re"), Bytes::new())
            .from(fx.scheduler.address())
    );
    taskid
}

/// Gas of each lifecycle step, measured identically on both hubs.
#[derive(Debug, Default, Clone, Copy)]
struct Gas {
    match_dataset: u64,
    match_no_dataset: u64,
    initialize: u64,
    contribute_and_finalize: u64,
    contribute_reveal_finalize: u64,
    claim: u64,
}

async fn measure(target: Target) -> Gas {
    let fx = Fixture::on(target).await;
    let mut gas = Gas::default();
    // matchOrders with a dataset, volume 3 (the PoCo reference figure's setting)
    let (deal, receipt) = fx
        .match_orders(&fx.sign(fx.orders(false, true, 3, 1)))
        .await;
    gas.match_dataset = receipt.gas_used();
    let mut o = fx.orders(false, false, 3, 1);
    o.request.salt = B256::repeat_byte(0xf3);
    o.app.salt = B256::repeat_byte(0xa3);
    o.workerpool.salt = B256::repeat_byte(0xe3);
    let (deal_without, receipt) = fx.match_orders(&fx.sign(o)).await;
    gas.match_no_dataset = receipt.gas_used();
    gas.initialize = send!(fx.hub.initialize(deal, U256::ZERO)).gas_used();
    // contribute + reveal + finalize (trust 1)
    let taskid = Fixture::task_id(deal, 0);
    let worker = fx.workers[0].address();
    let digest = B256::repeat_byte(0x42);
    let (hash, seal) = Fixture::commitments(worker, taskid, digest);
    let auth = fx.authorization(worker, taskid, Address::ZERO);
    gas.contribute_reveal_finalize = send!(
        fx.hub
            .contribute(taskid, hash, seal, Address::ZERO, Bytes::new(), auth)
            .from(worker)
    )
    .gas_used()
        + send!(fx.hub.reveal(taskid, digest).from(worker)).gas_used()
        + send!(
            fx.hub
                .finalize(taskid, Bytes::from_static(b"ipfs://r"), Bytes::new())
                .from(fx.scheduler.address())
        )
        .gas_used();
    // TEE contributeAndFinalize on a TEE deal
    let mut o = fx.orders(true, true, 1, 1);
    o.request.salt = B256::repeat_byte(0xf4);
    let (tee_deal, _) = fx.match_orders(&fx.sign(o)).await;
    send!(fx.hub.initialize(tee_deal, U256::ZERO));
    let taskid = Fixture::task_id(tee_deal, 0);
    let (hash, seal) = Fixture::commitments(worker, taskid, digest);
    gas.contribute_and_finalize = send!(
        fx.hub
            .contributeAndFinalize(
                taskid,
                digest,
                Bytes::from_static(b"ipfs://r"),
                Bytes::new(),
                fx.enclave.address(),
                fx.enclave_sign(hash, seal),
                fx.authorization(worker, taskid, fx.enclave.address()),
            )
            .from(worker)
    )
    .gas_used();
    // claim after the final deadline
    send!(fx.hub.initialize(deal_without, U256::ZERO));
    fx.increase_time(3_001).await;
    gas.claim = send!(fx.hub.claim(Fixture::task_id(deal_without, 0))).gas_used();
    gas
}

/// Prints Arca's and PoCo's gas side by side (also to `ARCA_GAS_TABLE` when set) and holds
/// Arca to its goal: matchOrders at most 0.8× PoCo's.
#[tokio::test]
async fn gas_against_poco() {
    let Some(dir) = poco::poco_dir() else {
        eprintln!("{}", poco::skip_message("gas_against_poco"));
        return;
    };
    let arca = measure(Target::Arca).await;
    let reference = measure(Target::Poco(dir)).await;
    let rows = [
        (
            "matchOrders (dataset, volume 3)",
            arca.match_dataset,
            reference.match_dataset,
        ),
        (
            "matchOrders (no dataset, volume 3)",
            arca.match_no_dataset,
            reference.match_no_dataset,
        ),
        ("initialize", arca.initialize, reference.initialize),
        (
            "contributeAndFinalize (TEE)",
            arca.contribute_and_finalize,
            reference.contribute_and_finalize,
        ),
        (
            "contribute + reveal + finalize",
            arca.contribute_reveal_finalize,
            reference.contribute_reveal_finalize,
        ),
        ("claim", arca.claim, reference.claim),
    ];
    let mut table = String::from(
        "| operation | Arca gas | PoCo 6.1.0 gas | Arca / PoCo |\n|---|---:|---:|---:|\n",
    );
    for (name, ours, theirs) in rows {
        table.push_str(&format!(
            "| {name} | {ours} | {theirs} | {:.2} |\n",
            ours as f64 / theirs as f64
        ));
    }
    println!("{table}");
    if let Ok(path) = std::env::var("ARCA_GAS_TABLE") {
        std::fs::write(path, &table).unwrap();
    }
    for (name, ours, theirs) in &rows[..2] {
        assert!(
            *ours * 10 <= *theirs * 8,
            "{name}: Arca {ours} gas is above 0.8 × PoCo's {theirs}"
        );
    }
}
