//! The escrow as an ERC-20 of staked RLC: deposits mint against RLC held by the hub,
//! withdrawals burn and pay out, transfers and allowances behave like ERC-20, locked funds
//! cannot be withdrawn, and RLC sent without a deposit can be recovered by the owner.

mod common;

use alloy::primitives::U256;
use common::{DEPOSIT, Fixture};

#[tokio::test]
async fn deposit_withdraw_transfer_and_recover() {
    let fx = Fixture::new().await;
    let a = fx.requester.address();
    let b = fx.workers[0].address();
    let rlc_before = fx.token.balanceOf(a).call().await.unwrap();
    assert_eq!(
        fx.hub.balanceOf(a).call().await.unwrap(),
        U256::from(DEPOSIT)
    );
    assert_eq!(fx.hub.name().call().await.unwrap(), "Staked RLC");

    send!(fx.hub.withdraw(U256::from(1_000)).from(a));
    send!(fx.hub.withdrawTo(U256::from(500), b).from(a));
    assert_eq!(
        fx.token.balanceOf(a).call().await.unwrap(),
        rlc_before + U256::from(1_000)
    );
    assert_eq!(
        fx.hub.balanceOf(a).call().await.unwrap(),
        U256::from(DEPOSIT - 1_500)
    );

    send!(fx.hub.transfer(b, U256::from(7)).from(a));
    send!(fx.hub.approve(b, U256::from(10)).from(a));
    send!(fx.hub.transferFrom(a, b, U256::from(4)).from(b));
    assert_eq!(fx.hub.allowance(a, b).call().await.unwrap(), U256::from(6));
    assert!(
        fx.hub
            .transferFrom(a, b, U256::from(7))
            .from(b)
            .call()
            .await
            .is_err(),
        "over the allowance"
    );

    // funds locked by a deal cannot be withdrawn
    let (_, _) = fx
        .match_orders(&fx.sign(fx.orders(false, false, 1, 1)))
        .await;
    let (free, locked) = fx.account(a).await;
    assert!(locked > U256::ZERO);
    assert!(
        fx.hub
            .withdraw(free + U256::from(1))
            .from(a)
            .call()
            .await
            .is_err()
    );

    // RLC sent straight to the hub is not lost: the owner mints it to itself
    send!(
        fx.token
            .transfer(fx.deployment.hub, U256::from(123))
            .from(a)
    );
    let supply = fx.hub.totalSupply().call().await.unwrap();
    assert!(fx.hub.recover().from(a).call().await.is_err(), "owner only");
    send!(fx.hub.recover().from(fx.owner.address()));
    assert_eq!(
        fx.hub.totalSupply().call().await.unwrap(),
        supply + U256::from(123)
    );
    assert_eq!(
        fx.hub.balanceOf(fx.owner.address()).call().await.unwrap(),
        U256::from(123)
    );
    assert_eq!(
        fx.token.balanceOf(fx.deployment.hub).call().await.unwrap(),
        supply + U256::from(123)
    );
}
