//! What the store reads on chain: a task's status and the deal behind it (workerpool owner, TEE
//! tag). A read that fails because the RPC is down is [`StorageError::Chain`] (503), never
//! mistaken for "task not found".

use crate::error::{Result, StorageError};
use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use arca_contracts::bindings::IexecHub::IexecHubInstance;

/// The PoCo task states, in contract order.
pub const TASK_STATUS: [&str; 5] = ["UNSET", "ACTIVE", "REVEALING", "COMPLETED", "FAILED"];

/// The name of an on-chain task status.
pub fn status_name(status: u8) -> &'static str {
    TASK_STATUS
        .get(status as usize)
        .copied()
        .unwrap_or("UNKNOWN")
}

/// Task status values.
pub mod status {
    /// Never initialized.
    pub const UNSET: u8 = 0;
    /// Initialized, contributions open.
    pub const ACTIVE: u8 = 1;
    /// Consensus reached, reveals open.
    pub const REVEALING: u8 = 2;
    /// Finalized.
    pub const COMPLETED: u8 = 3;
}

/// The fields of a task and its deal that decide an upload.
#[derive(Debug, Clone)]
pub struct TaskView {
    /// 0..4, see [`TASK_STATUS`].
    pub status: u8,
    /// The task's deal.
    pub deal_id: B256,
    /// The workerpool owner recorded in the deal (the scheduler who signs authorizations).
    pub workerpool_owner: Address,
    /// The deal tag (bit 0: TEE).
    pub tag: B256,
}

impl TaskView {
    /// TEE deal (tag bit 0).
    pub fn is_tee(&self) -> bool {
        self.tag.0[31] & 1 == 1
    }
}

/// A read-only view of the hub.
#[derive(Debug, Clone)]
pub struct Chain {
    provider: DynProvider,
    hub: IexecHubInstance<DynProvider>,
}

fn rpc(what: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Chain(format!("reading {what}: {e}"))
}

impl Chain {
    /// Connects to `rpc_url` and checks that `hub` is a contract there.
    pub async fn connect(rpc_url: &str, hub: Address) -> Result<Chain> {
        let url = rpc_url.parse().map_err(|e| {
            StorageError::Config(format!(
                "rpc_url `{rpc_url}` is not a URL ({e}); give the chain's JSON-RPC URL, e.g. http://127.0.0.1:8545"
            ))
        })?;
        let provider = ProviderBuilder::new().connect_http(url).erased();
        let code = provider
            .get_code_at(hub)
            .await
            .map_err(|e| rpc(&format!("the hub's code at {rpc_url}"), e))?;
        if code.is_empty() {
            return Err(StorageError::Config(format!(
                "no contract at hub address {hub} on {rpc_url}: deploy PoCo (arca deploy) or fix the hub address"
            )));
        }
        Ok(Chain {
            hub: IexecHubInstance::new(hub, provider.clone()),
            provider,
        })
    }

    /// The latest block number (readiness).
    pub async fn block_number(&self) -> Result<u64> {
        self.provider
            .get_block_number()
            .await
            .map_err(|e| rpc("the block number", e))
    }

    /// `viewTask` then, if the task exists, `viewDeal`.
    pub async fn task(&self, task_id: B256) -> Result<TaskView> {
        let task = self
            .hub
            .viewTask(task_id)
            .call()
            .await
            .map_err(|e| rpc(&format!("task {task_id}"), e))?;
        if task.status == status::UNSET {
            return Ok(TaskView {
                status: task.status,
                deal_id: task.dealid,
                workerpool_owner: Address::ZERO,
                tag: B256::ZERO,
            });
        }
        let deal = self
            .hub
            .viewDeal(task.dealid)
            .call()
            .await
            .map_err(|e| rpc(&format!("deal {}", task.dealid), e))?;
        Ok(TaskView {
            status: task.status,
            deal_id: task.dealid,
            workerpool_owner: deal.workerpool.owner,
            tag: deal.tag,
        })
    }
}
