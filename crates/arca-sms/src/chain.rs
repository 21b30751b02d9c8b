//! What the SMS reads on chain: resource owners (who may push a secret), tasks and deals (who may
//! receive one). A read that fails because the RPC is down is [`SmsError::Chain`] (503), never
//! mistaken for "not registered".

use crate::error::{Result, SmsError};
use alloy::primitives::{Address, B256, Bytes};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use arca_contracts::bindings::{
    AppRegistry::AppRegistryInstance, DatasetRegistry::DatasetRegistryInstance,
    IexecHub::IexecHubInstance,
};

/// The PoCo task states, in contract order.
pub const TASK_STATUS: [&str; 5] = ["UNSET", "ACTIVE", "REVEALING", "COMPLETED", "FAILED"];

/// The on-chain task fields the SMS needs.
#[derive(Debug, Clone)]
pub struct TaskView {
    /// 0..4, see [`TASK_STATUS`].
    pub status: u8,
    /// The deal the task belongs to.
    pub deal_id: B256,
    /// The task's index in the deal.
    pub index: u64,
}

/// The on-chain deal fields the SMS needs.
#[derive(Debug, Clone)]
pub struct DealView {
    /// The app.
    pub app: Address,
    /// The dataset, zero if none.
    pub dataset: Address,
    /// The workerpool.
    pub workerpool: Address,
    /// The workerpool's owner at match time (the scheduler).
    pub workerpool_owner: Address,
    /// The requester.
    pub requester: Address,
    /// The beneficiary (receives the result).
    pub beneficiary: Address,
    /// The deal tag (bit 0 = TEE).
    pub tag: B256,
    /// The request params JSON.
    pub params: String,
}

/// A read-only view of the hub and its registries.
#[derive(Debug, Clone)]
pub struct Chain {
    provider: DynProvider,
    hub: IexecHubInstance<DynProvider>,
    apps: AppRegistryInstance<DynProvider>,
    datasets: DatasetRegistryInstance<DynProvider>,
}

fn rpc(what: &str, e: impl std::fmt::Display) -> SmsError {
    SmsError::Chain(format!("reading {what}: {e}"))
}

impl Chain {
    /// Connects to `rpc_url` and reads the registry addresses from the hub.
    pub async fn connect(rpc_url: &str, hub: Address) -> Result<Self> {
        let url = rpc_url
            .parse()
            .map_err(|e| SmsError::Config(format!("chain URL `{rpc_url}`: {e}")))?;
        let provider = ProviderBuilder::new().connect_http(url).erased();
        let hub = IexecHubInstance::new(hub, provider.clone());
        let app_registry = hub
            .appregistry()
            .call()
            .await
            .map_err(|e| rpc("the hub's app registry", e))?;
        let dataset_registry = hub
            .datasetregistry()
            .call()
            .await
            .map_err(|e| rpc("the hub's dataset registry", e))?;
        Ok(Chain {
            apps: AppRegistryInstance::new(app_registry, provider.clone()),
            datasets: DatasetRegistryInstance::new(dataset_registry, provider.clone()),
            provider,
            hub,
        })
    }

    /// The latest block number (for `/ready`).
    pub async fn block_number(&self) -> Result<u64> {
        self.provider
            .get_block_number()
            .await
            .map_err(|e| rpc("the block number", e))
    }

    /// The owner of a registered dataset, `None` if `dataset` is not one.
    pub async fn dataset_owner(&self, dataset: Address) -> Result<Option<Address>> {
        let registered = self
            .datasets
            .isRegistered(dataset)
            .call()
            .await
            .map_err(|e| rpc("the dataset registry", e))?;
        if !registered {
            return Ok(None);
        }
        let info = self
            .hub
            .viewDataset(dataset)
            .call()
            .await
            .map_err(|e| rpc("the dataset", e))?;
        Ok(Some(info.owner))
    }

    /// The owner and mrenclave field of a registered app, `None` if `app` is not one.
    pub async fn app(&self, app: Address) -> Result<Option<(Address, Bytes)>> {
        let registered = self
            .apps
            .isRegistered(app)
            .call()
            .await
            .map_err(|e| rpc("the app registry", e))?;
        if !registered {
            return Ok(None);
        }
        let info = self
            .hub
            .viewApp(app)
            .call()
            .await
            .map_err(|e| rpc("the app", e))?;
        Ok(Some((info.owner, info.m_appMREnclave)))
    }

    /// The task (status UNSET if it was never initialized).
    pub async fn task(&self, task_id: B256) -> Result<TaskView> {
        let t = self
            .hub
            .viewTask(task_id)
            .call()
            .await
            .map_err(|e| rpc("the task", e))?;
        Ok(TaskView {
            status: t.status,
            deal_id: t.dealid,
            index: t.idx.saturating_to(),
        })
    }

    /// The deal, `None` if no deal has this id.
    pub async fn deal(&self, deal_id: B256) -> Result<Option<DealView>> {
        let d = self
            .hub
            .viewDeal(deal_id)
            .call()
            .await
            .map_err(|e| rpc("the deal", e))?;
        if d.app.pointer == Address::ZERO {
            return Ok(None);
        }
        Ok(Some(DealView {
            app: d.app.pointer,
            dataset: d.dataset.pointer,
            workerpool: d.workerpool.pointer,
            workerpool_owner: d.workerpool.owner,
            requester: d.requester,
            beneficiary: d.beneficiary,
            tag: d.tag,
            params: d.params,
        }))
    }

    /// The hub's TEE broker: when set, it signs enclave authorizations instead of the pool owner.
    pub async fn tee_broker(&self) -> Result<Address> {
        self.hub
            .teebroker()
            .call()
            .await
            .map_err(|e| rpc("the TEE broker", e))
    }
}
