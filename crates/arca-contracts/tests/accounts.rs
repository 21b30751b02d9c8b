//! Who may sign and pay: contract accounts (EIP-1271 signatures), ERC-734 groups as order
//! restrictions, and RLC's approveAndCall depositing and matching in one transaction.

mod common;

use alloy::{
    primitives::{Address, U256, keccak256},
    sol_types::SolCall,
};
use arca_contracts::bindings::IexecHub;
use common::{APP_PRICE, Fixture, WORKERPOOL_PRICE, fixtures::SmartWallet, reason, sign_hash};

/// A request whose requester is a contract: its signature is checked with EIP-1271, and the
/// contract's escrow account pays.
#[tokio::test]
async fn contract_account_signs_requests_with_eip1271() {
    let fx = Fixture::new().await;
    let key = &fx.workers[4];
    let wallet = SmartWallet::deploy(fx.provider.clone(), key.address(), vec![])
        .await
        .unwrap();
    let amount = U256::from(100_000);
    send!(
        fx.token
            .approve(fx.deployment.hub, amount)
            .from(fx.requester.address())
    );
    send!(
        fx.hub
            .depositFor(amount, *wallet.address())
            .from(fx.requester.address())
    );

    let mut o = fx.orders(false, false, 1, 1);
    o.request.requester = *wallet.address();
    o.request.beneficiary = *wallet.address();
    let mut o = fx.sign(o);
    // signed by the wallet's key, not by the wallet address itself
    o.request.sign = sign_hash(key, fx.request_hash(&o.request));
    let call = fx.hub.matchOrders(
        o.app.clone(),
        o.dataset.clone(),
        o.workerpool.clone(),
        o.request.clone(),
    );
    let dealid = call.clone().from(key.address()).call().await.unwrap();
    send!(call.from(key.address()));
    let deal = fx.hub.viewDeal(dealid).call().await.unwrap();
    assert_eq!(
        (deal.requester, deal.sponsor),
        (*wallet.address(), *wallet.address())
    );
    let price = U256::from(APP_PRICE + WORKERPOOL_PRICE);
    assert_eq!(fx.account(*wallet.address()).await, (amount - price, price));

    // another key's signature is refused by the wallet
    let mut o2 = o.clone();
    o2.request.salt = alloy::primitives::B256::repeat_byte(0x77);
    o2.request.sign = sign_hash(&fx.requester, fx.request_hash(&o2.request));
    let refused = fx
        .hub
        .matchOrders(o2.app, o2.dataset, o2.workerpool, o2.request)
        .from(key.address())
        .call()
        .await
        .unwrap_err();
    assert_eq!(reason(&refused), "iExecV5-matchOrders-0x50");
}

/// A restriction naming an ERC-734 identity admits exactly its GROUPMEMBER keys.
#[tokio::test]
async fn group_restrictions_admit_members_only() {
    let fx = Fixture::new().await;
    let members = SmartWallet::deploy(
        fx.provider.clone(),
        Address::ZERO,
        vec![fx.requester.address()],
    )
    .await
    .unwrap();
    let strangers =
        SmartWallet::deploy(fx.provider.clone(), Address::ZERO, vec![fx.owner.address()])
            .await
            .unwrap();
    let mut o = fx.orders(false, false, 1, 1);
    o.app.requesterrestrict = *members.address();
    assert!(fx.try_match(&fx.sign(o.clone())).await.is_ok());
    o.app.requesterrestrict = *strangers.address();
    assert_eq!(
        fx.try_match(&fx.sign(o)).await.unwrap_err(),
        "iExecV5-matchOrders-0x15"
    );
}

/// RLC.approveAndCall(hub, amount, matchOrders calldata): deposit and deal in one transaction,
/// only for the request's own requester.
#[tokio::test]
async fn approve_and_call_deposits_and_matches() {
    let fx = Fixture::new().await;
    let o = fx.sign(fx.orders(false, false, 1, 1));
    let data = IexecHub::matchOrdersCall {
        apporder: o.app.clone(),
        datasetorder: o.dataset.clone(),
        workerpoolorder: o.workerpool.clone(),
        requestorder: o.request.clone(),
    }
    .abi_encode();
    let requester = fx.requester.address();
    let before = fx.account(requester).await;
    let amount = U256::from(50_000);

    // someone else cannot spend their deposit on this request
    let intruder = fx.workers[0].address();
    let err = fx
        .token
        .approveAndCall(fx.deployment.hub, amount, data.clone().into())
        .from(intruder)
        .call()
        .await
        .unwrap_err();
    let selector = &keccak256("CallerIsNotTheRequester()")[..4];
    assert_eq!(
        err.as_revert_data().map(|d| d[..4].to_vec()),
        Some(selector.to_vec())
    );

    send!(
        fx.token
            .approveAndCall(fx.deployment.hub, amount, data.into())
            .from(requester)
    );
    let price = U256::from(APP_PRICE + WORKERPOOL_PRICE);
    assert_eq!(
        fx.account(requester).await,
        (before.0 + amount - price, before.1 + price)
    );
    assert_eq!(
        fx.hub
            .viewConsumed(fx.request_hash(&o.request))
            .call()
            .await
            .unwrap(),
        U256::from(1)
    );
}
