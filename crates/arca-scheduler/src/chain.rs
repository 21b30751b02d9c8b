//! What the scheduler reads from and sends to the chain, over `arca-client`: its workerpool's
//! `SchedulerNotice` logs, deals, tasks, contributions, worker scores, app/dataset/category
//! descriptions, the chain clock, and the owner's transactions (initialize, finalize, reopen,
//! claim).

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{BlockNumberOrTag, Filter};
use alloy::sol_types::SolEvent;
use arca_client::Client;
use arca_client::poco::{Deal, Task};
use arca_contracts::bindings::IexecHub::SchedulerNotice;
use arca_contracts::bindings::{App, Dataset};

use crate::error::{Result, SchedulerError};

/// Most blocks asked from `eth_getLogs` at once (providers cap ranges).
pub const LOG_RANGE: u64 = 2_000;

/// On-chain contribution status (`UNSET, CONTRIBUTED, PROVED, REJECTED`).
pub const CONTRIBUTION_PROVED: u8 = 2;
/// Contribution rejected by a reopen.
pub const CONTRIBUTION_REJECTED: u8 = 3;

/// The chain as the scheduler uses it.
#[derive(Debug, Clone)]
pub struct Chain {
    client: Client,
    workerpool: Address,
}

impl Chain {
    /// Connects with the owner's wallet.
    pub fn new(client: Client, workerpool: Address) -> Self {
        Self { client, workerpool }
    }

    /// The typed client (owner's wallet).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The latest block number.
    pub async fn block_number(&self) -> Result<u64> {
        self.client
            .provider()
            .get_block_number()
            .await
            .map_err(SchedulerError::chain)
    }

    /// The chain clock: the latest block's timestamp (deadlines are checked against it, not
    /// against the host clock).
    pub async fn now(&self) -> Result<u64> {
        let block = self
            .client
            .provider()
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(SchedulerError::chain)?
            .ok_or_else(|| SchedulerError::Chain("the chain has no latest block".into()))?;
        Ok(block.header.timestamp)
    }

    /// Deal ids of this workerpool's `SchedulerNotice` events in `from..=to`.
    pub async fn scheduler_notices(&self, from: u64, to: u64) -> Result<Vec<B256>> {
        let filter = Filter::new()
            .address(self.client.hub_address())
            .event_signature(SchedulerNotice::SIGNATURE_HASH)
            .topic1(self.workerpool.into_word())
            .from_block(from)
            .to_block(to);
        let logs = self
            .client
            .provider()
            .get_logs(&filter)
            .await
            .map_err(SchedulerError::chain)?;
        logs.iter()
            .map(|log| {
                SchedulerNotice::decode_log_data(log.data())
                    .map(|e| e.dealid)
                    .map_err(|e| SchedulerError::Chain(format!("undecodable SchedulerNotice: {e}")))
            })
            .collect()
    }

    /// A deal.
    pub async fn deal(&self, deal_id: B256) -> Result<Deal> {
        Ok(self.client.deal(deal_id).await?)
    }

    /// A task.
    pub async fn task(&self, task_id: B256) -> Result<Task> {
        Ok(self.client.task(task_id).await?)
    }

    /// A worker's contribution status to a task (0 = none).
    pub async fn contribution_status(&self, task_id: B256, worker: Address) -> Result<u8> {
        let c = self
            .client
            .hub()
            .viewContribution(task_id, worker)
            .call()
            .await
            .map_err(SchedulerError::chain)?;
        Ok(c.status)
    }

    /// A worker's score.
    pub async fn score(&self, worker: Address) -> Result<U256> {
        self.client
            .hub()
            .viewScore(worker)
            .call()
            .await
            .map_err(SchedulerError::chain)
    }

    /// App image, checksum, mrenclave.
    pub async fn app(&self, app: Address) -> Result<(String, B256, String)> {
        let a = App::new(app, self.client.provider().clone());
        let e = SchedulerError::chain;
        let multiaddr = a.m_appMultiaddr().call().await.map_err(e)?;
        let checksum = a.m_appChecksum().call().await.map_err(e)?;
        let mrenclave = a.m_appMREnclave().call().await.map_err(e)?;
        Ok((text(&multiaddr), checksum, text(&mrenclave)))
    }

    /// Dataset URL and checksum.
    pub async fn dataset(&self, dataset: Address) -> Result<(String, B256)> {
        let d = Dataset::new(dataset, self.client.provider().clone());
        let e = SchedulerError::chain;
        let multiaddr = d.m_datasetMultiaddr().call().await.map_err(e)?;
        let checksum = d.m_datasetChecksum().call().await.map_err(e)?;
        Ok((text(&multiaddr), checksum))
    }

    /// A category's work clock time reference (seconds): the app's maximum execution time.
    pub async fn category_time_ref(&self, category: U256) -> Result<u64> {
        let c = self
            .client
            .hub()
            .viewCategory(category)
            .call()
            .await
            .map_err(SchedulerError::chain)?;
        u64::try_from(c.workClockTimeRef)
            .map_err(|_| SchedulerError::Chain("category time reference overflows".into()))
    }

    /// `initializeArray` for several tasks in one transaction.
    pub async fn initialize_array(&self, deals: Vec<B256>, indexes: Vec<u64>) -> Result<B256> {
        let idx = indexes.into_iter().map(U256::from).collect::<Vec<_>>();
        let call = self
            .client
            .hub()
            .initializeArray(deals, idx)
            .from(self.client.signer()?.address());
        let pending = call.send().await.map_err(SchedulerError::chain)?;
        let receipt = pending.get_receipt().await.map_err(SchedulerError::chain)?;
        if !receipt.status() {
            return Err(SchedulerError::Chain(format!(
                "initializeArray transaction {} reverted",
                receipt.transaction_hash
            )));
        }
        Ok(receipt.transaction_hash)
    }

    /// `finalize`.
    pub async fn finalize(&self, task_id: B256, results: Bytes, callback: Bytes) -> Result<B256> {
        Ok(self
            .client
            .finalize(task_id, results, callback)
            .await?
            .tx_hash)
    }

    /// `reopen` (no reveal before the reveal deadline).
    pub async fn reopen(&self, task_id: B256) -> Result<B256> {
        let call = self
            .client
            .hub()
            .reopen(task_id)
            .from(self.client.signer()?.address());
        let pending = call.send().await.map_err(SchedulerError::chain)?;
        let receipt = pending.get_receipt().await.map_err(SchedulerError::chain)?;
        if !receipt.status() {
            return Err(SchedulerError::Chain(format!(
                "reopen transaction {} reverted",
                receipt.transaction_hash
            )));
        }
        Ok(receipt.transaction_hash)
    }

    /// `claim` (past the final deadline: refunds the requester).
    pub async fn claim(&self, task_id: B256) -> Result<B256> {
        Ok(self.client.claim(task_id).await?.tx_hash)
    }
}

/// Registry bytes fields hold UTF-8 text (image names, JSON); fall back to hex otherwise.
fn text(b: &Bytes) -> String {
    String::from_utf8(b.to_vec()).unwrap_or_else(|_| b.to_string())
}
