//! The reference implementation on the same chain: iExec PoCo 6.1.0's Diamond, facets and
//! registries deployed from the bytecode of the npm package `@iexec/poco@6.1.0` (directory in
//! `ARCA_POCO_DIR`, see `scripts/test.d/20-contracts.sh`), used only as a test oracle for the
//! differential tests and the gas benchmark.

use alloy::{
    json_abi::JsonAbi,
    network::{ReceiptResponse, TransactionBuilder},
    primitives::{Address, Bytes, FixedBytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
    sol,
    sol_types::SolValue,
};
use arca_contracts::{Deployment, bindings::IexecHub};
use std::{collections::HashSet, path::PathBuf};

sol! {
    struct FacetCut { address facetAddress; uint8 action; bytes4[] functionSelectors; }
    struct DiamondArgs { address owner; address init; bytes initCalldata; }
}

/// PoCo's facets making up IexecInterfaceToken (Boost and native escrow left out).
const FACETS: [&str; 11] = [
    "IexecAccessorsABILegacyFacet",
    "IexecCategoryManagerFacet",
    "IexecConfigurationExtraFacet",
    "IexecConfigurationFacet",
    "IexecERC20Facet",
    "IexecEscrowTokenFacet",
    "IexecOrderManagementFacet",
    "IexecPoco1Facet",
    "IexecPoco2Facet",
    "IexecPocoAccessorsFacet",
    "IexecRelayFacet",
];

/// The package directory, or None (callers then skip, saying how to get it).
pub fn poco_dir() -> Option<PathBuf> {
    std::env::var("ARCA_POCO_DIR").ok().map(PathBuf::from)
}

pub fn skip_message(test: &str) -> String {
    format!(
        "SKIPPED {test}: ARCA_POCO_DIR is not set. Run `scripts/test.sh 20-contracts` (it unpacks \
         `npm pack @iexec/poco@6.1.0` into ~/.cache/arca/poco-6.1.0) and set \
         ARCA_POCO_DIR=~/.cache/arca/poco-6.1.0/package"
    )
}

struct HardhatArtifact {
    abi: JsonAbi,
    bytecode: Vec<u8>,
    links: Vec<usize>,
}

fn artifact(dir: &std::path::Path, rel: &str) -> HardhatArtifact {
    let path = dir.join("artifacts/contracts").join(rel);
    let value: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap();
    let abi: JsonAbi = serde_json::from_value(value["abi"].clone()).unwrap();
    let code = value["bytecode"].as_str().unwrap().trim_start_matches("0x");
    // library placeholders (__$…$__) are not hex: zero them, their offsets come below
    let mut clean = String::with_capacity(code.len());
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '_' {
            let mut n = 1;
            while n < 40 {
                chars.next();
                n += 1;
            }
            clean.push_str(&"0".repeat(40));
        } else {
            clean.push(c);
        }
    }
    let mut links = Vec::new();
    if let Some(refs) = value["linkReferences"].as_object() {
        for libs in refs.values() {
            for places in libs.as_object().unwrap().values() {
                for place in places.as_array().unwrap() {
                    links.push(place["start"].as_u64().unwrap() as usize);
                }
            }
        }
    }
    HardhatArtifact {
        abi,
        bytecode: alloy::hex::decode(clean).unwrap(),
        links,
    }
}

async fn create(provider: &DynProvider, from: Address, code: Vec<u8>) -> Address {
    let tx = TransactionRequest::default()
        .with_from(from)
        .with_deploy_code(Bytes::from(code));
    let receipt = provider
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status(), "PoCo deployment transaction reverted");
    receipt.contract_address().expect("created address")
}

/// Deploys PoCo 6.1.0 (diamond, facets, registries), configured with `token` and PoCo's five
/// categories; returns it as a [`Deployment`] so the tests drive it exactly like Arca's hub.
pub async fn deploy_poco(
    dir: &std::path::Path,
    provider: &DynProvider,
    owner: Address,
    token: Address,
) -> Deployment {
    let lib = artifact(dir, "libs/IexecLibOrders_v5.sol/IexecLibOrders_v5.json");
    let lib_address = create(provider, owner, lib.bytecode).await;
    let mut cuts = Vec::new();
    let mut taken: HashSet<FixedBytes<4>> = HashSet::new();
    let mut facets = std::collections::BTreeMap::new();
    for name in FACETS {
        let mut a = artifact(dir, &format!("facets/{name}.sol/{name}.json"));
        for start in &a.links {
            a.bytecode[*start..*start + 20].copy_from_slice(lib_address.as_slice());
        }
        let address = create(provider, owner, a.bytecode).await;
        facets.insert(name.to_string(), address);
        // a selector present in several facets is routed to the first one
        let selectors: Vec<FixedBytes<4>> = a
            .abi
            .functions()
            .map(|f| f.selector())
            .filter(|s| taken.insert(*s))
            .collect();
        cuts.push(FacetCut {
            facetAddress: address,
            action: 0,
            functionSelectors: selectors,
        });
    }
    let owner_facet: serde_json::Value = serde_json::from_str(include_str!(
        "../../../../contracts/artifacts/PocoOwnerFacet.json"
    ))
    .unwrap();
    let owner_code =
        alloy::hex::decode(owner_facet["bytecode"]["object"].as_str().unwrap()).unwrap();
    let owner_facet = create(provider, owner, owner_code).await;
    let owner_selector: FixedBytes<4> = alloy::primitives::keccak256("owner()")[..4]
        .try_into()
        .unwrap();
    if taken.insert(owner_selector) {
        cuts.push(FacetCut {
            facetAddress: owner_facet,
            action: 0,
            functionSelectors: vec![owner_selector],
        });
    }
    let diamond = artifact(dir, "Diamond.sol/Diamond.json");
    let args = DiamondArgs {
        owner,
        init: Address::ZERO,
        initCalldata: Bytes::new(),
    };
    let mut code = diamond.bytecode;
    code.extend((cuts, args).abi_encode_params());
    let hub = create(provider, owner, code).await;

    let mut registries = Vec::new();
    for rel in [
        "registries/apps/AppRegistry.sol/AppRegistry.json",
        "registries/datasets/DatasetRegistry.sol/DatasetRegistry.json",
        "registries/workerpools/WorkerpoolRegistry.sol/WorkerpoolRegistry.json",
    ] {
        registries.push(create(provider, owner, artifact(dir, rel).bytecode).await);
    }
    let iexec = IexecHub::new(hub, provider.clone());
    assert_eq!(
        iexec.owner().call().await.unwrap(),
        owner,
        "diamond owner read through PocoOwnerFacet"
    );
    let configure = iexec
        .configure(
            token,
            "Staked RLC".into(),
            "SRLC".into(),
            9,
            registries[0],
            registries[1],
            registries[2],
            Address::ZERO,
        )
        .from(owner);
    assert!(
        configure
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap()
            .status()
    );
    for (name, description, seconds) in arca_contracts::deploy::DEFAULT_CATEGORIES {
        let call = iexec
            .createCategory(name.into(), description.into(), U256::from(seconds))
            .from(owner);
        assert!(
            call.send()
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap()
                .status()
        );
    }
    let chain_id = provider.get_chain_id().await.unwrap();
    Deployment {
        chain_id,
        owner,
        factory: Address::ZERO,
        token,
        hub,
        app_registry: registries[0],
        dataset_registry: registries[1],
        workerpool_registry: registries[2],
        facets,
    }
}
