//! Deterministic, idempotent deployment of the whole contract set onto any EVM JSON-RPC chain.
//!
//! Every contract is created through the well-known deterministic-deployment proxy
//! (`0x4e59b448…956c`, "Arachnid's CREATE2 factory", preinstalled on anvil and installable on
//! any chain from its keyless pre-EIP-155 transaction), with a fixed salt. Addresses therefore
//! depend only on the bytecode and the owner key (the token holder and hub owner are constructor
//! arguments), so every fresh dev chain gets the same addresses, and a second run finds the
//! code already there and only completes what is missing (routes, configuration, categories).

use crate::{
    ContractsError,
    artifacts::{self, Artifact},
    bindings::{AppRegistry, DatasetRegistry, Hub, IexecHub, RLC, WorkerpoolRegistry},
};
use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, Bytes, FixedBytes, U256, address, b256, hex, keccak256},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::SolValue,
};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, path::Path};

/// The deterministic-deployment proxy: `salt ‖ initcode` in, created address out.
pub const FACTORY: Address = address!("4e59b44847b379578588920ca78fbf26c0b4956c");
/// The keyless account that deploys [`FACTORY`] at its nonce 0.
pub const FACTORY_DEPLOYER: Address = address!("3fab184622dc19b6109349b94811493bf2a45362");
/// Its deployment transaction (pre-EIP-155, 100 gwei × 100 000 gas, signature r = s = 0x22…).
pub const FACTORY_DEPLOY_TX: &str = "0xf8a58085174876e800830186a08080b853604580600e600039806000f350fe7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf31ba02222222222222222222222222222222222222222222222222222222222222222a02222222222222222222222222222222222222222222222222222222222222222";
/// Wei the keyless deployer needs: gas limit × gas price of [`FACTORY_DEPLOY_TX`].
const FACTORY_DEPLOY_COST: u128 = 100_000 * 100_000_000_000;
/// The CREATE2 salt of every Arca contract: keccak256("arca.poco.v1").
pub const SALT: B256 = b256!("00138bdbf61f682cc6f91e5c9dfb113ae13fb9144a07b785e25ab156214ac8d3");

/// The categories every hub starts with (PoCo's defaults): name and workClockTimeRef (s).
pub const DEFAULT_CATEGORIES: [(&str, &str, u64); 5] = [
    ("XS", "{}", 300),
    ("S", "{}", 1_200),
    ("M", "{}", 3_600),
    ("L", "{}", 10_800),
    ("XL", "{}", 36_000),
];

/// Where everything lives on one chain; written to `deployment.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub chain_id: u64,
    /// The hub owner and RLC holder (the deploying key's address).
    pub owner: Address,
    pub factory: Address,
    /// The RLC token (9 decimals).
    pub token: Address,
    /// The PoCo hub (IexecInterfaceToken ABI).
    pub hub: Address,
    pub app_registry: Address,
    pub dataset_registry: Address,
    pub workerpool_registry: Address,
    /// The hub's facets by contract name.
    pub facets: BTreeMap<String, Address>,
}

impl Deployment {
    /// Writes the addresses as pretty JSON, atomically (temporary file, then rename), so a
    /// reader never sees a half-written file.
    pub fn write_json(&self, path: &Path) -> Result<(), ContractsError> {
        let io = |source| ContractsError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut text = serde_json::to_string_pretty(self).expect("a Deployment always serializes");
        text.push('\n');
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

/// The CREATE2 address of `initcode` deployed by [`FACTORY`] with [`SALT`].
pub fn predict(initcode: &[u8]) -> Address {
    FACTORY.create2(SALT, keccak256(initcode))
}

/// Deploys (or completes) the contract set on the chain at `rpc_url`, paying with and owned by
/// `private_key` (hex, with or without 0x).
pub async fn deploy(rpc_url: &str, private_key: &str) -> Result<Deployment, ContractsError> {
    let url: alloy::transports::http::reqwest::Url =
        rpc_url.parse().map_err(|e| ContractsError::InvalidUrl {
            url: rpc_url.into(),
            reason: format!("{e}"),
        })?;
    let signer: PrivateKeySigner = private_key
        .trim()
        .parse()
        .map_err(|e| ContractsError::InvalidKey(format!("{e}")))?;
    let owner = signer.address();
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url);
    deploy_with(&provider, owner).await
}

/// [`deploy`] with an existing provider whose wallet signs for `owner`.
pub async fn deploy_with<P: Provider>(
    provider: &P,
    owner: Address,
) -> Result<Deployment, ContractsError> {
    let chain_id = provider
        .get_chain_id()
        .await
        .map_err(|e| ContractsError::rpc("reading the chain id", e))?;
    ensure_factory(provider, owner).await?;

    let token = create2(
        provider,
        "RLC",
        [RLC::BYTECODE.as_ref(), &owner.abi_encode()].concat(),
    )
    .await?;
    let app_registry = create2(provider, "AppRegistry", AppRegistry::BYTECODE.to_vec()).await?;
    let dataset_registry = create2(
        provider,
        "DatasetRegistry",
        DatasetRegistry::BYTECODE.to_vec(),
    )
    .await?;
    let workerpool_registry = create2(
        provider,
        "WorkerpoolRegistry",
        WorkerpoolRegistry::BYTECODE.to_vec(),
    )
    .await?;
    let facet_artifacts = artifacts::facets()?;
    let mut facets = BTreeMap::new();
    for facet in &facet_artifacts {
        facets.insert(
            facet.name.to_string(),
            create2(provider, facet.name, facet.bytecode.to_vec()).await?,
        );
    }
    let hub = create2(
        provider,
        "Hub",
        [Hub::BYTECODE.as_ref(), &owner.abi_encode()].concat(),
    )
    .await?;

    route(provider, hub, &facet_artifacts, &facets).await?;
    let iexec = IexecHub::new(hub, provider);
    let configured = iexec
        .token()
        .call()
        .await
        .map_err(|e| ContractsError::contract("token()", e))?;
    if configured == Address::ZERO {
        let call = iexec.configure(
            token,
            "Staked RLC".into(),
            "SRLC".into(),
            9,
            app_registry,
            dataset_registry,
            workerpool_registry,
            Address::ZERO,
        );
        confirm(
            "configure",
            call.send()
                .await
                .map_err(|e| ContractsError::contract("configure", e))?,
        )
        .await?;
    }
    let count = iexec
        .countCategory()
        .call()
        .await
        .map_err(|e| ContractsError::contract("countCategory()", e))?;
    for (name, description, ref_s) in DEFAULT_CATEGORIES
        .iter()
        .skip(count.saturating_to::<usize>())
    {
        let call = iexec.createCategory((*name).into(), (*description).into(), U256::from(*ref_s));
        confirm(
            "createCategory",
            call.send()
                .await
                .map_err(|e| ContractsError::contract("createCategory", e))?,
        )
        .await?;
    }
    tracing::info!(target: "arca::contracts", %hub, %token, chain_id, "PoCo contracts deployed");
    Ok(Deployment {
        chain_id,
        owner,
        factory: FACTORY,
        token,
        hub,
        app_registry,
        dataset_registry,
        workerpool_registry,
        facets,
    })
}

/// Installs [`FACTORY`] when the chain lacks it: funds the keyless deployer, then broadcasts
/// the factory's presigned transaction (the chain must accept pre-EIP-155 transactions).
async fn ensure_factory<P: Provider>(provider: &P, funder: Address) -> Result<(), ContractsError> {
    if has_code(provider, FACTORY).await? {
        return Ok(());
    }
    let balance = provider
        .get_balance(FACTORY_DEPLOYER)
        .await
        .map_err(|e| ContractsError::rpc("reading the factory deployer's balance", e))?;
    let cost = U256::from(FACTORY_DEPLOY_COST);
    if balance < cost {
        let fund = TransactionRequest::default()
            .with_from(funder)
            .with_to(FACTORY_DEPLOYER)
            .with_value(cost - balance);
        let pending = provider
            .send_transaction(fund)
            .await
            .map_err(|e| ContractsError::Factory(e.to_string()))?;
        confirm("funding the factory deployer", pending).await?;
    }
    let raw = hex::decode(FACTORY_DEPLOY_TX).expect("constant hex");
    let pending = provider
        .send_raw_transaction(&raw)
        .await
        .map_err(|e| ContractsError::Factory(e.to_string()))?;
    confirm("installing the CREATE2 factory", pending).await?;
    if !has_code(provider, FACTORY).await? {
        return Err(ContractsError::Factory(format!(
            "no code at {FACTORY} after its deployment"
        )));
    }
    Ok(())
}

/// Creates `initcode` through the factory unless its address already has code.
async fn create2<P: Provider>(
    provider: &P,
    name: &str,
    initcode: Vec<u8>,
) -> Result<Address, ContractsError> {
    let address = predict(&initcode);
    if has_code(provider, address).await? {
        return Ok(address);
    }
    let data: Bytes = [SALT.as_slice(), &initcode].concat().into();
    let tx = TransactionRequest::default()
        .with_to(FACTORY)
        .with_input(data);
    let pending = provider
        .send_transaction(tx)
        .await
        .map_err(|e| ContractsError::rpc(format!("deploying {name}"), e))?;
    confirm(&format!("deploying {name}"), pending).await?;
    if !has_code(provider, address).await? {
        return Err(ContractsError::NoCode {
            name: name.to_string(),
            address,
        });
    }
    Ok(address)
}

/// Points every facet selector the hub does not route yet (or routes elsewhere) to its facet.
async fn route<P: Provider>(
    provider: &P,
    hub: Address,
    facets: &[Artifact],
    addresses: &BTreeMap<String, Address>,
) -> Result<(), ContractsError> {
    let router = Hub::new(hub, provider);
    for facet in facets {
        let target = addresses[facet.name];
        let mut missing: Vec<FixedBytes<4>> = Vec::new();
        for selector in &facet.selectors {
            let current = router
                .arcaFacet(*selector)
                .call()
                .await
                .map_err(|e| ContractsError::contract("arcaFacet", e))?;
            if current != target {
                missing.push(*selector);
            }
        }
        if !missing.is_empty() {
            let pending = router
                .arcaRoute(missing, target)
                .send()
                .await
                .map_err(|e| ContractsError::contract(format!("arcaRoute({})", facet.name), e))?;
            confirm(&format!("routing {}", facet.name), pending).await?;
        }
    }
    Ok(())
}

async fn has_code<P: Provider>(provider: &P, address: Address) -> Result<bool, ContractsError> {
    let code = provider
        .get_code_at(address)
        .await
        .map_err(|e| ContractsError::rpc(format!("reading the code at {address}"), e))?;
    Ok(!code.is_empty())
}

async fn confirm<N: alloy::network::Network>(
    what: &str,
    pending: alloy::providers::PendingTransactionBuilder<N>,
) -> Result<(), ContractsError> {
    use alloy::network::ReceiptResponse;
    let receipt = pending
        .get_receipt()
        .await
        .map_err(|e| ContractsError::rpc(what, e))?;
    if !receipt.status() {
        return Err(ContractsError::Reverted {
            what: what.to_string(),
            tx: receipt.transaction_hash(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable},
        eips::Decodable2718,
    };

    /// The factory's presigned transaction really comes from FACTORY_DEPLOYER and creates
    /// FACTORY: any typo in the constant would break deployment on chains without the factory.
    #[test]
    fn factory_transaction_is_consistent() {
        let raw = hex::decode(FACTORY_DEPLOY_TX).unwrap();
        let tx = TxEnvelope::decode_2718(&mut raw.as_slice()).unwrap();
        assert_eq!(tx.recover_signer().unwrap(), FACTORY_DEPLOYER);
        assert_eq!(FACTORY_DEPLOYER.create(0), FACTORY);
        assert_eq!(
            tx.gas_limit() as u128 * tx.gas_price().unwrap(),
            FACTORY_DEPLOY_COST
        );
        assert_eq!(tx.chain_id(), None, "pre-EIP-155: valid on every chain");
    }

    #[test]
    fn salt_is_the_documented_hash() {
        assert_eq!(SALT, keccak256("arca.poco.v1"));
    }
}
