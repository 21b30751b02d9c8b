//! matchOrders: every revert reason of PoCo's `_matchOrders` with a minimal failing case (one
//! field changed from a matching set), then replay protection, signature malleability,
//! signature formats, presigned and closed orders, sponsoring, and the deal record.

mod common;

use alloy::primitives::{B256, Bytes, U256};
use alloy::providers::Provider;
use arca_contracts::bindings::IexecLibOrders_v5 as orders;
use common::{Fixture, sign_hash};

/// Every matchOrders revert reason, in PoCo's order, from one changed field each.
#[tokio::test]
async fn every_revert_reason_in_order() {
    let fx = Fixture::new().await;
    let mut failures = Vec::new();
    for case in common::cases::match_revert_cases() {
        let expected = format!("iExecV5-matchOrders-{}", case.code);
        match common::cases::try_case(&fx, &case).await {
            Err(reason) if reason == expected => {}
            other => failures.push(format!("{expected}: got {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "wrong outcomes:\n{}",
        failures.join("\n")
    );
    // and the unmodified orders match, with and without a dataset
    assert!(
        fx.try_match(&fx.sign(fx.orders(false, true, 1, 1)))
            .await
            .is_ok()
    );
    assert!(
        fx.try_match(&fx.sign(fx.orders(false, false, 1, 1)))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn volume_is_consumed_once_and_deals_are_recorded() {
    let fx = Fixture::new().await;
    let o = fx.sign(fx.orders(false, true, 3, 1));
    let request_hash = fx.request_hash(&o.request);
    let (dealid, receipt) = fx.match_orders(&o).await;
    // dealid = keccak256(requestHash ‖ consumed-before)
    assert_eq!(
        dealid,
        alloy::primitives::keccak256([request_hash.as_slice(), &[0u8; 32]].concat())
    );
    let deal = fx.hub.viewDeal(dealid).call().await.unwrap();
    assert_eq!(
        (deal.app.pointer, deal.app.owner),
        (fx.app, fx.app_owner.address())
    );
    assert_eq!(
        (deal.dataset.pointer, deal.dataset.price),
        (fx.dataset, U256::from(common::DATASET_PRICE))
    );
    assert_eq!(deal.workerpool.owner, fx.scheduler.address());
    assert_eq!((deal.botFirst, deal.botSize), (U256::ZERO, U256::from(3)));
    assert_eq!(
        (deal.requester, deal.beneficiary, deal.sponsor),
        (
            o.request.requester,
            o.request.beneficiary,
            o.request.requester
        )
    );
    assert_eq!(deal.schedulerRewardRatio, U256::from(1));
    assert_eq!(
        deal.workerStake,
        U256::from(common::WORKERPOOL_PRICE * 30 / 100)
    );
    let block = fx
        .provider
        .get_block_by_number(receipt.block_number.unwrap().into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deal.startTime, U256::from(block.header.timestamp));
    for hash in [
        fx.app_hash(&o.app),
        fx.dataset_hash(&o.dataset),
        fx.workerpool_hash(&o.workerpool),
        request_hash,
    ] {
        assert_eq!(
            fx.hub.viewConsumed(hash).call().await.unwrap(),
            U256::from(3)
        );
    }
    // replay: the same signed request cannot be matched again
    assert_eq!(
        fx.try_match(&o).await.unwrap_err(),
        "iExecV5-matchOrders-0x60"
    );
    let volume = fx
        .hub
        .computeDealVolume(
            o.app.clone(),
            o.dataset.clone(),
            o.workerpool.clone(),
            o.request.clone(),
        )
        .call()
        .await
        .unwrap();
    assert_eq!(volume, U256::ZERO);
}

/// A bigger request is served by several deals, each starting where the previous stopped.
#[tokio::test]
async fn partial_fills_chain_deal_ids() {
    let fx = Fixture::new().await;
    let mut o = fx.orders(false, false, 5, 1);
    o.workerpool.volume = U256::from(2);
    let o = fx.sign(o);
    let (first, _) = fx.match_orders(&o).await;
    let mut o2 = o.clone();
    o2.workerpool.salt = B256::repeat_byte(0xe2);
    o2.workerpool.volume = U256::from(10);
    let o2 = fx.sign(o2);
    let (second, _) = fx.match_orders(&o2).await;
    assert_ne!(first, second);
    let deal = fx.hub.viewDeal(second).call().await.unwrap();
    assert_eq!(
        (deal.botFirst, deal.botSize),
        (U256::from(2), U256::from(3))
    );
    assert_eq!(
        fx.hub
            .viewConsumed(fx.request_hash(&o.request))
            .call()
            .await
            .unwrap(),
        U256::from(5)
    );
}

/// secp256k1 signatures have a twin (r, n − s, v ^ 1) that also recovers: PoCo-compatible
/// hubs must accept only the low-s one, so a signature cannot be re-encoded.
#[tokio::test]
async fn high_s_signatures_are_rejected() {
    let fx = Fixture::new().await;
    let mut o = fx.sign(fx.orders(false, false, 1, 1));
    let sig = o.request.sign.to_vec();
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let s = U256::from_be_slice(&sig[32..64]);
    let mut twin = sig[..32].to_vec();
    twin.extend_from_slice(&(n - s).to_be_bytes::<32>());
    twin.push(if sig[64] == 27 { 28 } else { 27 });
    o.request.sign = Bytes::from(twin);
    assert_eq!(
        fx.try_match(&o).await.unwrap_err(),
        "iExecV5-matchOrders-0x50"
    );
    // EIP-2098 compact (64-byte) signatures are accepted
    let full = fx.sign(fx.orders(false, false, 1, 1)).request.sign.to_vec();
    let mut compact = full[..64].to_vec();
    if full[64] == 28 {
        compact[32] |= 0x80;
    }
    o.request.sign = Bytes::from(compact);
    assert!(fx.try_match(&o).await.is_ok());
    // any other length is malformed
    o.request.sign = Bytes::from(vec![1u8; 10]);
    assert_eq!(
        fx.try_match(&o).await.unwrap_err(),
        "invalid-signature-format"
    );
}

/// Orders can be presigned on chain instead of carrying a signature, and closed (cancelled).
#[tokio::test]
async fn presigned_and_closed_orders() {
    let fx = Fixture::new().await;
    let mut o = fx.sign(fx.orders(false, false, 1, 1));
    o.app.sign = Bytes::new();
    assert_eq!(
        fx.try_match(&o).await.unwrap_err(),
        "invalid-signature-format"
    );
    // only the app owner (or its signature) may presign
    let forged = sign_hash(&fx.requester, fx.app_hash(&o.app));
    let op = orders::AppOrderOperation {
        order: o.app.clone(),
        operation: 0,
        sign: forged,
    };
    let refused = fx
        .hub
        .manageAppOrder(op.clone())
        .from(fx.requester.address())
        .call()
        .await
        .unwrap_err();
    assert_eq!(common::reason(&refused), "invalid-sender-or-signature");
    send!(fx.hub.manageAppOrder(op).from(fx.app_owner.address()));
    assert_eq!(
        fx.hub
            .viewPresigned(fx.app_hash(&o.app))
            .call()
            .await
            .unwrap(),
        fx.app_owner.address()
    );
    assert!(fx.try_match(&o).await.is_ok());

    // the requester cancels its request with a signed operation relayed by someone else
    let hash = fx.request_hash(&o.request);
    let op_hash = request_operation_hash(&fx, hash_struct_request(&fx, &o.request), 1);
    let close = orders::RequestOrderOperation {
        order: o.request.clone(),
        operation: 1,
        sign: sign_hash(&fx.requester, op_hash),
    };
    send!(fx.hub.manageRequestOrder(close).from(fx.owner.address()));
    assert_eq!(
        fx.hub.viewConsumed(hash).call().await.unwrap(),
        o.request.volume
    );
    assert_eq!(
        fx.try_match(&o).await.unwrap_err(),
        "iExecV5-matchOrders-0x60"
    );
}

/// EIP-712 struct hash of a request (without the domain), for the operation wrapper.
fn hash_struct_request(fx: &Fixture, r: &orders::RequestOrder) -> B256 {
    use alloy::sol_types::SolStruct;
    let _ = fx;
    common::typed::RequestOrder {
        app: r.app,
        appmaxprice: r.appmaxprice,
        dataset: r.dataset,
        datasetmaxprice: r.datasetmaxprice,
        workerpool: r.workerpool,
        workerpoolmaxprice: r.workerpoolmaxprice,
        requester: r.requester,
        volume: r.volume,
        tag: r.tag,
        category: r.category,
        trust: r.trust,
        beneficiary: r.beneficiary,
        callback: r.callback,
        params: r.params.clone(),
        salt: r.salt,
    }
    .eip712_hash_struct()
}

/// Typed-data hash of RequestOrderOperation(RequestOrder order, uint256 operation).
fn request_operation_hash(fx: &Fixture, order_struct_hash: B256, operation: u8) -> B256 {
    use alloy::sol_types::SolValue;
    const TYPEHASH: B256 = alloy::primitives::b256!(
        "0ded7b52c2d77595a40d242eca751df172b18e686326dbbed3f4748828af77c7"
    );
    let struct_hash = alloy::primitives::keccak256(
        (TYPEHASH, order_struct_hash, U256::from(operation)).abi_encode(),
    );
    let separator = fx.domain.separator();
    alloy::primitives::keccak256(
        [
            &[0x19u8, 0x01][..],
            separator.as_slice(),
            struct_hash.as_slice(),
        ]
        .concat(),
    )
}

/// sponsorMatchOrders: the caller pays, the deal records it, and the refund goes back to it.
#[tokio::test]
async fn sponsored_deal_is_paid_by_the_sponsor() {
    let fx = Fixture::new().await;
    let o = fx.sign(fx.orders(false, false, 1, 1));
    let sponsor = fx.workers[2].address();
    let before = fx.account(sponsor).await;
    let call = fx.hub.sponsorMatchOrders(
        o.app.clone(),
        o.dataset.clone(),
        o.workerpool.clone(),
        o.request.clone(),
    );
    let dealid = call.clone().from(sponsor).call().await.unwrap();
    send!(call.from(sponsor));
    let deal = fx.hub.viewDeal(dealid).call().await.unwrap();
    assert_eq!(deal.sponsor, sponsor);
    assert_eq!(deal.requester, fx.requester.address());
    let price = U256::from(common::APP_PRICE + common::WORKERPOOL_PRICE);
    assert_eq!(
        fx.account(sponsor).await,
        (before.0 - price, before.1 + price)
    );
    assert_eq!(fx.account(fx.requester.address()).await.1, U256::ZERO);
}

/// Bulk processing: which dataset orders could join an existing dataset-less deal.
#[tokio::test]
async fn dataset_deal_compatibility() {
    use arca_contracts::bindings::IexecHub::IncompatibleDatasetOrder;
    let fx = Fixture::new().await;
    let (dealid, _) = fx
        .match_orders(&fx.sign(fx.orders(false, false, 1, 1)))
        .await;
    let (with_dataset, _) = {
        let mut o = fx.orders(false, true, 1, 1);
        o.request.salt = B256::repeat_byte(0xf9);
        fx.match_orders(&fx.sign(o)).await
    };
    let signed = |edit: &dyn Fn(&mut orders::DatasetOrder)| {
        let mut d = fx.orders(false, true, 1, 1).dataset;
        d.salt = B256::repeat_byte(0xd9);
        edit(&mut d);
        d.sign = sign_hash(&fx.dataset_owner, fx.dataset_hash(&d));
        d
    };
    let check = |order: orders::DatasetOrder, deal: B256| {
        let hub = fx.hub.clone();
        async move {
            match hub.assertDatasetDealCompatibility(order, deal).call().await {
                Ok(_) => String::from("compatible"),
                Err(e) => e
                    .as_decoded_error::<IncompatibleDatasetOrder>()
                    .map(|e| e.reason)
                    .unwrap_or_else(|| format!("other error: {e}")),
            }
        }
    };
    assert_eq!(check(signed(&|_| {}), dealid).await, "compatible");
    assert_eq!(
        check(signed(&|_| {}), B256::repeat_byte(1)).await,
        "Deal not found"
    );
    assert_eq!(
        check(signed(&|_| {}), with_dataset).await,
        "Deal already has a dataset"
    );
    let stranger = alloy::primitives::address!("00000000000000000000000000000000000000aa");
    assert_eq!(
        check(signed(&|d| d.apprestrict = stranger), dealid).await,
        "App restriction not satisfied"
    );
    assert_eq!(
        check(signed(&|d| d.requesterrestrict = stranger), dealid).await,
        "Requester restriction not satisfied"
    );
    assert_eq!(
        check(signed(&|d| d.tag = B256::with_last_byte(0x10)), dealid).await,
        "Tag compatibility not satisfied"
    );
    let mut forged = signed(&|_| {});
    forged.sign = sign_hash(&fx.requester, fx.dataset_hash(&forged));
    assert_eq!(
        check(forged, dealid).await,
        "Invalid dataset order signature"
    );
    let used = signed(&|d| d.volume = U256::ZERO);
    assert_eq!(
        check(used, dealid).await,
        "Dataset order is revoked or fully consumed"
    );
}

/// The legacy tuple views return the same values as the struct views.
#[tokio::test]
async fn legacy_views_match_struct_views() {
    let fx = Fixture::new().await;
    let mut o = fx.orders(false, true, 2, 1);
    o.request.beneficiary = fx.workers[3].address();
    let (dealid, _) = fx.match_orders(&fx.sign(o)).await;
    let deal = fx.hub.viewDeal(dealid).call().await.unwrap();
    let pt1 = fx.hub.viewDealABILegacy_pt1(dealid).call().await.unwrap();
    assert_eq!(
        (pt1._0, pt1._1, pt1._2),
        (deal.app.pointer, deal.app.owner, deal.app.price)
    );
    assert_eq!(
        (pt1._3, pt1._5, pt1._7),
        (
            deal.dataset.pointer,
            deal.dataset.price,
            deal.workerpool.owner
        )
    );
    let pt2 = fx.hub.viewDealABILegacy_pt2(dealid).call().await.unwrap();
    assert_eq!(
        (pt2._0, pt2._1, pt2._2, pt2._3),
        (deal.trust, deal.tag, deal.requester, deal.beneficiary)
    );
    assert_eq!(
        pt2._3,
        fx.workers[3].address(),
        "a beneficiary other than the requester is kept"
    );
    assert_eq!(pt2._5, deal.params);
    let config = fx.hub.viewConfigABILegacy(dealid).call().await.unwrap();
    assert_eq!(
        (config._0, config._1, config._2, config._3),
        (deal.category, deal.startTime, deal.botFirst, deal.botSize)
    );
    send!(fx.hub.initialize(dealid, U256::from(1)));
    let taskid = Fixture::task_id(dealid, 1);
    let task = fx.hub.viewTask(taskid).call().await.unwrap();
    let legacy = fx.hub.viewTaskABILegacy(taskid).call().await.unwrap();
    assert_eq!(
        (legacy._0, legacy._1, legacy._2, legacy._3),
        (task.status, task.dealid, task.idx, task.timeref)
    );
    assert_eq!(
        (legacy._4, legacy._6),
        (task.contributionDeadline, task.finalDeadline)
    );
    assert_eq!(task.finalDeadline, deal.startTime + U256::from(3_000));
    assert_eq!(
        task.contributionDeadline,
        deal.startTime + U256::from(2_100)
    );
    let account = fx
        .hub
        .viewAccountABILegacy(fx.requester.address())
        .call()
        .await
        .unwrap();
    assert_eq!(
        (account._0, account._1),
        fx.account(fx.requester.address()).await
    );
}
