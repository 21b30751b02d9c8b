//! What the market reads from the chain: resource registration and ownership, signature
//! validity (the hub's own verifier, so EIP-1271 wallets and presigned orders count), consumed
//! volume, and the hub events that consume or cancel orders.

use crate::{
    MarketError,
    order::{Order, OrderKind, poco_domain},
};
use alloy::{
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{Filter, Log},
    sol_types::{Eip712Domain, SolEvent},
};
use arca_contracts::bindings::{
    App, AppRegistry, Dataset, DatasetRegistry, IexecHub, IexecHub::IexecHubInstance, Workerpool,
    WorkerpoolRegistry,
};

/// A hub event that changes an order's remaining volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEvent {
    /// One of the four hashes of `OrdersMatched`.
    Matched(B256),
    /// `ClosedAppOrder` and its siblings: cancelled by its owner.
    Closed(B256),
}

/// A connection to the hub.
#[derive(Debug, Clone)]
pub struct HubReader {
    provider: DynProvider,
    hub: IexecHubInstance<DynProvider>,
    registries: [Address; 3],
    pub chain_id: u64,
    pub domain: Eip712Domain,
}

impl HubReader {
    pub async fn connect(rpc_url: &str, hub: Address) -> Result<HubReader, MarketError> {
        let url = rpc_url
            .parse()
            .map_err(|e| MarketError::bad("rpc", format!("{rpc_url:?} is not a URL: {e}")))?;
        let provider = ProviderBuilder::new().connect_http(url).erased();
        let chain_id = provider.get_chain_id().await.map_err(MarketError::chain)?;
        let instance = IexecHubInstance::new(hub, provider.clone());
        let no_hub = |e: alloy::contract::Error| {
            MarketError::bad(
                "hub",
                format!("{hub} does not answer as a PoCo hub on chain {chain_id}: {e}"),
            )
        };
        let registries = [
            instance.appregistry().call().await.map_err(no_hub)?,
            instance.datasetregistry().call().await.map_err(no_hub)?,
            instance.workerpoolregistry().call().await.map_err(no_hub)?,
        ];
        Ok(HubReader {
            provider,
            hub: instance,
            registries,
            chain_id,
            domain: poco_domain(chain_id, hub),
        })
    }

    pub fn hub(&self) -> Address {
        *self.hub.address()
    }

    pub async fn block_number(&self) -> Result<u64, MarketError> {
        self.provider
            .get_block_number()
            .await
            .map_err(MarketError::chain)
    }

    /// Who must have signed `order`: the resource owner, or the requester. Refuses resources
    /// the registries do not know (an order for them could never be matched).
    pub async fn owner(&self, order: &Order) -> Result<Address, MarketError> {
        let resource = order.resource();
        let p = self.provider.clone();
        let (field, registered) = match order.kind() {
            OrderKind::Request => return Ok(resource),
            OrderKind::App => (
                "app",
                AppRegistry::new(self.registries[0], p.clone())
                    .isRegistered(resource)
                    .call()
                    .await,
            ),
            OrderKind::Dataset => (
                "dataset",
                DatasetRegistry::new(self.registries[1], p.clone())
                    .isRegistered(resource)
                    .call()
                    .await,
            ),
            OrderKind::Workerpool => (
                "workerpool",
                WorkerpoolRegistry::new(self.registries[2], p.clone())
                    .isRegistered(resource)
                    .call()
                    .await,
            ),
        };
        if !registered.map_err(MarketError::chain)? {
            return Err(MarketError::UnknownResource {
                field,
                address: resource.to_string(),
            });
        }
        let owner = match order.kind() {
            OrderKind::App => App::new(resource, p).owner().call().await,
            OrderKind::Dataset => Dataset::new(resource, p).owner().call().await,
            _ => Workerpool::new(resource, p).owner().call().await,
        };
        owner.map_err(MarketError::chain)
    }

    /// The hub's own check (`verifyPresignatureOrSignature`): presigned, ECDSA or EIP-1271.
    /// A revert (malformed signature) is a "no", not a chain failure.
    pub async fn verify(
        &self,
        owner: Address,
        hash: B256,
        sign: &[u8],
    ) -> Result<bool, MarketError> {
        match self
            .hub
            .verifyPresignatureOrSignature(owner, hash, sign.to_vec().into())
            .call()
            .await
        {
            Ok(ok) => Ok(ok),
            Err(e) if e.as_revert_data().is_some() => Ok(false),
            Err(e) => Err(MarketError::chain(e)),
        }
    }

    pub async fn consumed(&self, hash: B256) -> Result<U256, MarketError> {
        self.hub
            .viewConsumed(hash)
            .call()
            .await
            .map_err(MarketError::chain)
    }

    /// The order events of blocks `from..=to`, in chain order.
    pub async fn events(&self, from: u64, to: u64) -> Result<Vec<OrderEvent>, MarketError> {
        let filter = Filter::new()
            .address(self.hub())
            .event_signature(vec![
                IexecHub::OrdersMatched::SIGNATURE_HASH,
                IexecHub::ClosedAppOrder::SIGNATURE_HASH,
                IexecHub::ClosedDatasetOrder::SIGNATURE_HASH,
                IexecHub::ClosedWorkerpoolOrder::SIGNATURE_HASH,
                IexecHub::ClosedRequestOrder::SIGNATURE_HASH,
            ])
            .from_block(from)
            .to_block(to);
        let logs = self
            .provider
            .get_logs(&filter)
            .await
            .map_err(MarketError::chain)?;
        let mut events = Vec::new();
        for log in logs {
            decode(&log, &mut events)?;
        }
        Ok(events)
    }
}

fn decode(log: &Log, out: &mut Vec<OrderEvent>) -> Result<(), MarketError> {
    let bad =
        |e: alloy::sol_types::Error| MarketError::chain(format!("undecodable hub event: {e}"));
    let Some(topic) = log.topic0() else {
        return Ok(());
    };
    match *topic {
        IexecHub::OrdersMatched::SIGNATURE_HASH => {
            let e = log
                .log_decode::<IexecHub::OrdersMatched>()
                .map_err(bad)?
                .inner
                .data;
            out.extend(
                [e.appHash, e.datasetHash, e.workerpoolHash, e.requestHash]
                    .into_iter()
                    .filter(|h| !h.is_zero())
                    .map(OrderEvent::Matched),
            );
        }
        IexecHub::ClosedAppOrder::SIGNATURE_HASH => out.push(OrderEvent::Closed(
            log.log_decode::<IexecHub::ClosedAppOrder>()
                .map_err(bad)?
                .inner
                .data
                .appHash,
        )),
        IexecHub::ClosedDatasetOrder::SIGNATURE_HASH => out.push(OrderEvent::Closed(
            log.log_decode::<IexecHub::ClosedDatasetOrder>()
                .map_err(bad)?
                .inner
                .data
                .datasetHash,
        )),
        IexecHub::ClosedWorkerpoolOrder::SIGNATURE_HASH => out.push(OrderEvent::Closed(
            log.log_decode::<IexecHub::ClosedWorkerpoolOrder>()
                .map_err(bad)?
                .inner
                .data
                .workerpoolHash,
        )),
        IexecHub::ClosedRequestOrder::SIGNATURE_HASH => out.push(OrderEvent::Closed(
            log.log_decode::<IexecHub::ClosedRequestOrder>()
                .map_err(bad)?
                .inner
                .data
                .requestHash,
        )),
        _ => {}
    }
    Ok(())
}
