//! Deployment: deterministic (a fresh chain gets the same addresses), idempotent (a second run
//! changes nothing and returns the same addresses), complete (routes, configuration, default
//! categories, EIP-712 domain), and `deployment.json` written atomically.

mod common;

use alloy::primitives::{Address, U256};
use arca_contracts::{bindings::IexecHub, deploy};
use common::{CHAIN_ID, TestChain, key_hex};

#[tokio::test]
async fn deploy_is_deterministic_idempotent_and_complete() {
    let first_chain = TestChain::start().await;
    let key = key_hex(&first_chain.signers[0]);
    let first = deploy(&first_chain.url, &key).await.unwrap();
    let again = deploy(&first_chain.url, &key).await.unwrap();
    assert_eq!(first, again, "a second run returns the same deployment");
    let other_chain = TestChain::start().await;
    let other = deploy(&other_chain.url, &key).await.unwrap();
    assert_eq!(first, other, "a fresh chain gets the same addresses");
    assert_eq!(first.chain_id, CHAIN_ID);
    assert_eq!(first.owner, first_chain.signers[0].address());
    assert_eq!(first.facets.len(), 6);

    let provider =
        alloy::providers::ProviderBuilder::new().connect_http(first_chain.url.parse().unwrap());
    let hub = IexecHub::new(first.hub, &provider);
    assert_eq!(hub.token().call().await.unwrap(), first.token);
    assert_eq!(hub.appregistry().call().await.unwrap(), first.app_registry);
    assert_eq!(
        hub.datasetregistry().call().await.unwrap(),
        first.dataset_registry
    );
    assert_eq!(
        hub.workerpoolregistry().call().await.unwrap(),
        first.workerpool_registry
    );
    assert_eq!(hub.owner().call().await.unwrap(), first.owner);
    assert_eq!(hub.decimals().call().await.unwrap(), 9);
    assert_eq!(hub.callbackgas().call().await.unwrap(), U256::from(200_000));
    assert_eq!(hub.countCategory().call().await.unwrap(), U256::from(5));
    let mut refs = Vec::new();
    for i in 0..5u64 {
        refs.push(
            hub.viewCategory(U256::from(i))
                .call()
                .await
                .unwrap()
                .workClockTimeRef,
        );
    }
    assert_eq!(refs, [300, 1_200, 3_600, 10_800, 36_000].map(U256::from));
    let xs = hub.viewCategory(U256::ZERO).call().await.unwrap();
    assert_eq!(xs.name, "XS");
    let domain = hub.domain().call().await.unwrap();
    assert_eq!(
        (domain.name.as_str(), domain.version.as_str()),
        ("iExecODB", "5.0.0")
    );
    assert_eq!(
        (domain.chainId, domain.verifyingContract),
        (U256::from(CHAIN_ID), first.hub)
    );
    let expected = alloy::sol_types::eip712_domain! {
        name: "iExecODB", version: "5.0.0", chain_id: CHAIN_ID, verifying_contract: first.hub,
    };
    assert_eq!(
        hub.eip712domain_separator().call().await.unwrap(),
        expected.separator()
    );
    assert_eq!(
        hub.kitty_address().call().await.unwrap(),
        "0x99c2268479b93fDe36232351229815DF80837e23"
            .parse::<Address>()
            .unwrap()
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deployment.json");
    first.write_json(&path).unwrap();
    let read: arca_contracts::Deployment =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(read, first);
    assert!(!dir.path().join("deployment.json.tmp").exists());
}
