//! Registries and the hub router: CREATE2 entries at predicted addresses, NFT ownership is
//! resource ownership, entry getters, workerpool policies, and what the router refuses.

mod common;

use alloy::primitives::{Address, B256, Bytes, U256};
use arca_contracts::bindings::{App, AppRegistry, Hub, Workerpool, WorkerpoolRegistry};
use common::{Fixture, reason};

#[tokio::test]
async fn entries_are_predictable_unique_nfts() {
    let fx = Fixture::new().await;
    let apps = AppRegistry::new(fx.deployment.app_registry, fx.provider.clone());
    let owner = fx.app_owner.address();
    let args = (
        owner,
        "predicted".to_string(),
        "DOCKER".to_string(),
        Bytes::from_static(b"registry/predicted:1"),
        B256::repeat_byte(3),
        Bytes::new(),
    );
    let predicted = apps
        .predictApp(
            args.0,
            args.1.clone(),
            args.2.clone(),
            args.3.clone(),
            args.4,
            args.5.clone(),
        )
        .call()
        .await
        .unwrap();
    assert!(!apps.isRegistered(predicted).call().await.unwrap());
    let create = apps.createApp(
        args.0,
        args.1.clone(),
        args.2.clone(),
        args.3.clone(),
        args.4,
        args.5.clone(),
    );
    send!(create.clone().from(owner));
    assert!(apps.isRegistered(predicted).call().await.unwrap());
    assert_eq!(
        apps.ownerOf(U256::from_be_slice(predicted.as_slice()))
            .call()
            .await
            .unwrap(),
        owner
    );
    // the same creation again would land on the same address: refused
    let again = create.from(owner).call().await.unwrap_err();
    assert_eq!(reason(&again), "Create2: Failed on deploy");

    let app = App::new(predicted, fx.provider.clone());
    assert_eq!(app.m_appName().call().await.unwrap(), "predicted");
    assert_eq!(app.m_appType().call().await.unwrap(), "DOCKER");
    assert_eq!(app.m_appMultiaddr().call().await.unwrap(), args.3);
    assert_eq!(app.m_appChecksum().call().await.unwrap(), args.4);
    assert_eq!(app.owner().call().await.unwrap(), owner);
    let info = fx.hub.viewApp(predicted).call().await.unwrap();
    assert_eq!(
        (info.owner, info.m_appName),
        (owner, "predicted".to_string())
    );
    // entries are initialized once, by their registry only
    let reinit = app
        .initialize(
            "x".into(),
            "x".into(),
            Bytes::new(),
            B256::ZERO,
            Bytes::new(),
        )
        .from(owner)
        .call()
        .await
        .unwrap_err();
    assert_eq!(reason(&reinit), "already-initialized");
}

/// Transferring an entry's NFT transfers the resource: the new owner's orders match, the old
/// owner's signatures no longer do.
#[tokio::test]
async fn nft_transfer_moves_ownership() {
    let fx = Fixture::new().await;
    let pools = WorkerpoolRegistry::new(fx.deployment.workerpool_registry, fx.provider.clone());
    let old = fx.scheduler.address();
    let new = fx.workers[4].address();
    let signed_by_old = fx.sign(fx.orders(false, false, 1, 1));
    assert!(fx.try_match(&signed_by_old).await.is_ok());
    send!(
        pools
            .transferFrom(old, new, U256::from_be_slice(fx.workerpool.as_slice()))
            .from(old)
    );
    assert_eq!(
        Workerpool::new(fx.workerpool, fx.provider.clone())
            .owner()
            .call()
            .await
            .unwrap(),
        new
    );
    assert_eq!(
        fx.try_match(&signed_by_old).await.unwrap_err(),
        "iExecV5-matchOrders-0x41"
    );
    let mut o = signed_by_old.clone();
    o.workerpool.sign = common::sign_hash(&fx.workers[4], fx.workerpool_hash(&o.workerpool));
    // the new owner must also stake: give it an escrow balance
    send!(
        fx.hub
            .transfer(new, U256::from(1_000_000))
            .from(fx.requester.address())
    );
    assert!(fx.try_match(&o).await.is_ok());
}

#[tokio::test]
async fn workerpool_policy_sets_deal_stake_and_ratio() {
    let fx = Fixture::new().await;
    let pool = Workerpool::new(fx.workerpool, fx.provider.clone());
    assert_eq!(
        pool.m_workerStakeRatioPolicy().call().await.unwrap(),
        U256::from(30)
    );
    assert_eq!(
        pool.m_schedulerRewardRatioPolicy().call().await.unwrap(),
        U256::from(1)
    );
    let refused = pool
        .changePolicy(U256::from(50), U256::from(10))
        .from(fx.requester.address())
        .call()
        .await;
    assert_eq!(reason(&refused.unwrap_err()), "caller-is-not-the-owner");
    let too_much = pool
        .changePolicy(U256::from(50), U256::from(101))
        .from(fx.scheduler.address())
        .call()
        .await;
    assert_eq!(reason(&too_much.unwrap_err()), "invalid-ratio");
    send!(
        pool.changePolicy(U256::from(50), U256::from(10))
            .from(fx.scheduler.address())
    );
    let (dealid, _) = fx
        .match_orders(&fx.sign(fx.orders(false, false, 1, 1)))
        .await;
    let deal = fx.hub.viewDeal(dealid).call().await.unwrap();
    assert_eq!(deal.workerStake, U256::from(common::WORKERPOOL_PRICE / 2));
    assert_eq!(deal.schedulerRewardRatio, U256::from(10));
}

#[tokio::test]
async fn router_refuses_unknown_calls_ether_and_strangers() {
    let fx = Fixture::new().await;
    let router = Hub::new(fx.deployment.hub, fx.provider.clone());
    let facet = router
        .arcaFacet(alloy::primitives::FixedBytes([0x15, 0x61, 0x94, 0xd4]))
        .call()
        .await
        .unwrap();
    assert_eq!(facet, fx.deployment.facets["MatchFacet"]);
    let stranger = router
        .arcaRoute(vec![], Address::ZERO)
        .from(fx.requester.address())
        .call()
        .await;
    assert_eq!(
        reason(&stranger.unwrap_err()),
        "Ownable: caller is not the owner"
    );
    let configured_twice = fx
        .hub
        .configure(
            Address::ZERO,
            "".into(),
            "".into(),
            9,
            Address::ZERO,
            Address::ZERO,
            Address::ZERO,
            Address::ZERO,
        )
        .from(fx.owner.address())
        .call()
        .await;
    assert_eq!(reason(&configured_twice.unwrap_err()), "already-configured");
    let category = fx
        .hub
        .createCategory("X".into(), "{}".into(), U256::from(60))
        .from(fx.requester.address())
        .call()
        .await;
    assert_eq!(
        reason(&category.unwrap_err()),
        "Ownable: caller is not the owner"
    );
    // plain ether and unknown selectors are refused
    use alloy::{network::TransactionBuilder, providers::Provider, rpc::types::TransactionRequest};
    let pay = TransactionRequest::default()
        .with_from(fx.requester.address())
        .with_to(fx.deployment.hub);
    let revert_reason = |err: alloy::transports::TransportError| {
        use alloy::sol_types::SolError;
        let data = err
            .as_error_resp()
            .and_then(|e| e.as_revert_data())
            .expect("revert data");
        alloy::sol_types::Revert::abi_decode(&data)
            .map(|r| r.reason)
            .unwrap_or_default()
    };
    let err = fx
        .provider
        .call(pay.clone().with_value(U256::from(1)))
        .await
        .unwrap_err();
    assert_eq!(revert_reason(err), "fallback-disabled");
    let unknown = pay.with_input(Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef]));
    let reason = revert_reason(fx.provider.call(unknown).await.unwrap_err());
    assert_eq!(reason, "Diamond: Function does not exist");
}
