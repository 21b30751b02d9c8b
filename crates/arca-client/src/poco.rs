//! The deal and task side of PoCo (iexec-protocol.md §1.5, §1.8): matching orders into a deal,
//! reading deals and tasks, and the task lifecycle calls a scheduler and its workers send
//! (initialize, contribute, reveal, finalize, contributeAndFinalize, claim, and Arca's
//! abortTask).

use crate::client::{PocoOrder, call_err, to_poco};
use crate::orders::SignedOrder;
use crate::{Client, ClientError, Result, client::Sent};
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::sol_types::SolEvent;
use arca_contracts::bindings::IexecHub::{OrdersMatched, TaskAborted};
use arca_contracts::bindings::IexecLibOrders_v5 as poco;

/// A deal as stored on chain.
pub type Deal = arca_contracts::bindings::IexecLibCore_v5::Deal;
/// A task as stored on chain.
pub type Task = arca_contracts::bindings::IexecLibCore_v5::Task;

/// On-chain task status names, by their enum value (`UNSET, ACTIVE, REVEALING, COMPLETED, FAILED`).
pub const TASK_STATUS: [&str; 5] = ["UNSET", "ACTIVE", "REVEALING", "COMPLETED", "FAILED"];

/// The task id of task `index` of `deal_id`: `keccak256(dealid ‖ uint256(index))`.
pub fn task_id(deal_id: B256, index: u64) -> B256 {
    keccak256([deal_id.as_slice(), &U256::from(index).to_be_bytes::<32>()].concat())
}

/// The name of an on-chain task status.
pub fn task_status_name(status: u8) -> &'static str {
    TASK_STATUS
        .get(status as usize)
        .copied()
        .unwrap_or("UNKNOWN")
}

/// The empty dataset order a request without dataset is matched with.
fn no_dataset() -> poco::DatasetOrder {
    poco::DatasetOrder {
        dataset: Address::ZERO,
        datasetprice: U256::ZERO,
        volume: U256::ZERO,
        tag: B256::ZERO,
        apprestrict: Address::ZERO,
        workerpoolrestrict: Address::ZERO,
        requesterrestrict: Address::ZERO,
        salt: B256::ZERO,
        sign: Bytes::new(),
    }
}

fn expect_kind<T>(what: &str, order: Option<T>) -> Result<T> {
    order.ok_or_else(|| ClientError::Validation {
        what: "order",
        value: what.to_string(),
        hint: Some(format!("expected a signed {what} in this position")),
    })
}

impl Client {
    /// `matchOrders`: sends the match and returns the new deal id (from `OrdersMatched`) and the
    /// transaction. The signer pays the request (it must be the requester, or the sponsor).
    pub async fn match_orders(
        &self,
        app: &SignedOrder,
        dataset: Option<&SignedOrder>,
        workerpool: &SignedOrder,
        request: &SignedOrder,
    ) -> Result<(B256, Sent)> {
        let from = self.from()?;
        let a = expect_kind(
            "apporder",
            match to_poco(app) {
                PocoOrder::App(o) => Some(o),
                _ => None,
            },
        )?;
        let d = match dataset {
            None => no_dataset(),
            Some(d) => expect_kind(
                "datasetorder",
                match to_poco(d) {
                    PocoOrder::Dataset(o) => Some(o),
                    _ => None,
                },
            )?,
        };
        let w = expect_kind(
            "workerpoolorder",
            match to_poco(workerpool) {
                PocoOrder::Workerpool(o) => Some(o),
                _ => None,
            },
        )?;
        let r = expect_kind(
            "requestorder",
            match to_poco(request) {
                PocoOrder::Request(o) => Some(o),
                _ => None,
            },
        )?;
        let call = self.hub().matchOrders(a, d, w, r).from(from);
        // A dry run first so a refusal comes back with the contract's reason, not a bare revert.
        call.call()
            .await
            .map_err(|e| call_err("matching the orders", e))?;
        let receipt = self
            .confirm_receipt("matching the orders", call.send().await)
            .await?;
        let deal_id = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| OrdersMatched::decode_log_data(log.data()).ok())
            .map(|e| e.dealid)
            .ok_or_else(|| {
                ClientError::chain(
                    "matching the orders",
                    "the transaction emitted no OrdersMatched event",
                )
            })?;
        Ok((
            deal_id,
            Sent {
                tx_hash: receipt.transaction_hash,
            },
        ))
    }

    /// The deal `deal_id` (all-zero fields if it does not exist).
    pub async fn deal(&self, deal_id: B256) -> Result<Deal> {
        self.hub()
            .viewDeal(deal_id)
            .call()
            .await
            .map_err(|e| call_err("reading the deal", e))
    }

    /// The task `task_id` (status UNSET if never initialized).
    pub async fn task(&self, task_id: B256) -> Result<Task> {
        self.hub()
            .viewTask(task_id)
            .call()
            .await
            .map_err(|e| call_err("reading the task", e))
    }

    /// `initialize(dealid, idx)`: opens task `idx` of the deal; returns its id.
    pub async fn initialize(&self, deal_id: B256, index: u64) -> Result<(B256, Sent)> {
        let call = self
            .hub()
            .initialize(deal_id, U256::from(index))
            .from(self.from()?);
        let sent = self
            .confirm("initializing the task", call.send().await)
            .await?;
        Ok((task_id(deal_id, index), sent))
    }

    /// `contribute`: a worker's result hash and seal, with the scheduler's authorization.
    pub async fn contribute(
        &self,
        task_id: B256,
        result_hash: B256,
        result_seal: B256,
        enclave_challenge: Address,
        enclave_sign: Bytes,
        authorization_sign: Bytes,
    ) -> Result<Sent> {
        let call = self
            .hub()
            .contribute(
                task_id,
                result_hash,
                result_seal,
                enclave_challenge,
                enclave_sign,
                authorization_sign,
            )
            .from(self.from()?);
        self.confirm("contributing", call.send().await).await
    }

    /// `reveal`: the worker discloses the digest behind its contribution.
    pub async fn reveal(&self, task_id: B256, result_digest: B256) -> Result<Sent> {
        let call = self.hub().reveal(task_id, result_digest).from(self.from()?);
        self.confirm("revealing", call.send().await).await
    }

    /// `finalize` (scheduler only): closes a revealed task with its result link.
    pub async fn finalize(
        &self,
        task_id: B256,
        results: Bytes,
        results_callback: Bytes,
    ) -> Result<Sent> {
        let call = self
            .hub()
            .finalize(task_id, results, results_callback)
            .from(self.from()?);
        self.confirm("finalizing", call.send().await).await
    }

    /// `contributeAndFinalize`: the one-transaction path of trust-1 (and TEE) tasks.
    #[allow(clippy::too_many_arguments)]
    pub async fn contribute_and_finalize(
        &self,
        task_id: B256,
        result_digest: B256,
        results: Bytes,
        results_callback: Bytes,
        enclave_challenge: Address,
        enclave_sign: Bytes,
        authorization_sign: Bytes,
    ) -> Result<Sent> {
        let call = self
            .hub()
            .contributeAndFinalize(
                task_id,
                result_digest,
                results,
                results_callback,
                enclave_challenge,
                enclave_sign,
                authorization_sign,
            )
            .from(self.from()?);
        self.confirm("contributing and finalizing", call.send().await)
            .await
    }

    /// `claim`: fails a task past its final deadline and refunds the requester.
    pub async fn claim(&self, task_id: B256) -> Result<Sent> {
        let call = self.hub().claim(task_id).from(self.from()?);
        self.confirm("claiming the task", call.send().await).await
    }

    /// `abortTask` (Arca's extension): the deal's workerpool owner fails an ACTIVE task before
    /// its final deadline, with claim's exact payout (requester refunded, pool stake to the
    /// kitty, contributors' stakes unlocked). `cause` is the digest of why (emitted in
    /// `TaskAborted`). Reverts unless the sender owns the deal's pool and the task is ACTIVE
    /// before its final deadline.
    pub async fn abort_task(&self, task_id: B256, cause: B256) -> Result<Sent> {
        let call = self.hub().abortTask(task_id, cause).from(self.from()?);
        self.confirm("ending the task early (abortTask)", call.send().await)
            .await
    }

    /// The `TaskAborted` event of `task_id`, if its workerpool ended it early: the cause digest
    /// and the transaction. Searches the hub's whole log history (one `eth_getLogs` filtered by
    /// event and task id), so a public RPC limiting log ranges may refuse it: the error says so.
    pub async fn task_aborted(&self, task_id: B256) -> Result<Option<(B256, Option<B256>)>> {
        use alloy::providers::Provider as _;
        let filter = alloy::rpc::types::Filter::new()
            .address(*self.hub().address())
            .event_signature(TaskAborted::SIGNATURE_HASH)
            .topic1(task_id)
            .from_block(0);
        let logs = self
            .provider()
            .get_logs(&filter)
            .await
            .map_err(|e| ClientError::chain("reading TaskAborted logs", e))?;
        Ok(logs.iter().find_map(|log| {
            let event = TaskAborted::decode_log(&log.inner).ok()?;
            Some((event.data.cause, log.transaction_hash))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_id_hashes_deal_and_index_as_uint256() {
        let deal = B256::repeat_byte(0xab);
        let mut packed = deal.to_vec();
        packed.extend_from_slice(&[0u8; 31]);
        packed.push(2);
        assert_eq!(task_id(deal, 2), keccak256(&packed));
    }
}
