//! What the SMS reads on chain: resource owners (who may push a secret), tasks and deals (who may
//! receive one), and the dataset order a deal was matched with (whose restrictions the SMS checks
//! again before releasing a dataset key). A read that fails because the RPC is down is
//! [`SmsError::Chain`] (503), never mistaken for "not registered".

use crate::error::{Result, SmsError};
use alloy::consensus::Transaction as _;
use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::Filter;
use alloy::sol_types::{SolCall, SolEvent, SolStruct};
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
    /// Unix time of the block that matched the deal.
    pub start_time: u64,
}

/// The parts of a deal's dataset order the SMS checks: its restrictions, as the dataset owner
/// signed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetOrderView {
    /// The order's EIP-712 hash (as in the hub's `OrdersMatched` event).
    pub hash: B256,
    /// The dataset.
    pub dataset: Address,
    /// Only this app (or members of this ERC-734 group), zero for any.
    pub apprestrict: Address,
    /// Only this workerpool (or group), zero for any.
    pub workerpoolrestrict: Address,
    /// Only this requester (or group), zero for any.
    pub requesterrestrict: Address,
}

mod typed {
    alloy::sol! {
        /// PoCo's dataset order without its signature: the EIP-712 type the hub hashes.
        struct DatasetOrder { address dataset; uint256 datasetprice; uint256 volume; bytes32 tag;
            address apprestrict; address workerpoolrestrict; address requesterrestrict; bytes32 salt; }
    }
    alloy::sol! {
        #[sol(rpc)]
        /// ERC-734 identities used as restriction groups (purpose 4 = GROUPMEMBER).
        interface IERC734 {
            function keyHasPurpose(bytes32 key, uint256 purpose) external view returns (bool);
        }
    }
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
            start_time: d.startTime.saturating_to(),
        }))
    }

    /// The timestamp of block `n`.
    async fn block_time(&self, n: u64) -> Result<u64> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(n))
            .await
            .map_err(|e| rpc("a block", e))?
            .ok_or_else(|| SmsError::Chain(format!("block {n} is missing")))?;
        Ok(block.header.timestamp)
    }

    /// The first block in `lo..=hi` whose timestamp is `>= t` (or `> t` with `after`), by
    /// bisection (timestamps never decrease); `hi + 1` if none.
    async fn first_block(&self, mut lo: u64, hi: u64, t: u64, after: bool) -> Result<u64> {
        let mut hi = hi + 1;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let ts = self.block_time(mid).await?;
            if ts < t || (after && ts == t) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// The `OrdersMatched` event of `deal_id` in blocks `from..=to`: (dataset order hash, tx).
    async fn orders_matched(
        &self,
        deal_id: B256,
        from: u64,
        to: u64,
    ) -> Result<Option<(B256, B256)>> {
        use arca_contracts::bindings::IexecHub::OrdersMatched;
        let filter = Filter::new()
            .address(*self.hub.address())
            .event_signature(OrdersMatched::SIGNATURE_HASH)
            .from_block(from)
            .to_block(to);
        let logs = self
            .provider
            .get_logs(&filter)
            .await
            .map_err(|e| rpc("the OrdersMatched events", e))?;
        for log in logs {
            let Ok(event) = OrdersMatched::decode_log_data(log.data()) else {
                continue;
            };
            if event.dealid == deal_id
                && let Some(tx) = log.transaction_hash
            {
                return Ok(Some((event.datasetHash, tx)));
            }
        }
        Ok(None)
    }

    /// The dataset order `deal_id` was matched with, recovered from the matching transaction
    /// (the hub stores only its hash): the `OrdersMatched` event is found in the blocks of the
    /// deal's start time, the order decoded from the `matchOrders` / `sponsorMatchOrders`
    /// calldata and accepted only if its EIP-712 hash is the event's. A deal matched through
    /// another contract's call cannot be read this way: that is a denial, never a pass.
    pub async fn dataset_order(&self, deal_id: B256, start_time: u64) -> Result<DatasetOrderView> {
        use arca_contracts::bindings::IexecHub::{matchOrdersCall, sponsorMatchOrdersCall};
        let unknown = |why: String| {
            SmsError::denied(
                "dataset-order-unknown",
                format!("the dataset order of deal {deal_id} cannot be checked: {why}"),
            )
        };
        let latest = self.block_number().await?;
        let first = self.first_block(0, latest, start_time, false).await?;
        let last = self
            .first_block(first, latest, start_time, true)
            .await?
            .saturating_sub(1)
            .max(first)
            .min(latest);
        let found = match self.orders_matched(deal_id, first, last).await? {
            Some(found) => Some(found),
            // timestamps that are not monotonic (a chain whose clock was moved back): search all
            None => self.orders_matched(deal_id, 0, latest).await?,
        };
        let (order_hash, tx_hash) =
            found.ok_or_else(|| unknown("no OrdersMatched event names it".into()))?;
        let tx = self
            .provider
            .get_transaction_by_hash(tx_hash)
            .await
            .map_err(|e| rpc("the matching transaction", e))?
            .ok_or_else(|| unknown(format!("its transaction {tx_hash} is not available")))?;
        let input = tx.input();
        let order = if let Ok(call) = matchOrdersCall::abi_decode(input) {
            call.datasetorder
        } else if let Ok(call) = sponsorMatchOrdersCall::abi_decode(input) {
            call.datasetorder
        } else {
            return Err(unknown(format!(
                "transaction {tx_hash} is not a direct matchOrders call (matched through a contract)"
            )));
        };
        let typed = typed::DatasetOrder {
            dataset: order.dataset,
            datasetprice: order.datasetprice,
            volume: order.volume,
            tag: order.tag,
            apprestrict: order.apprestrict,
            workerpoolrestrict: order.workerpoolrestrict,
            requesterrestrict: order.requesterrestrict,
            salt: order.salt,
        };
        let separator = self
            .hub
            .eip712domain_separator()
            .call()
            .await
            .map_err(|e| rpc("the hub's EIP-712 domain", e))?;
        let hash = keccak256(
            [
                &[0x19u8, 0x01][..],
                separator.as_slice(),
                typed.eip712_hash_struct().as_slice(),
            ]
            .concat(),
        );
        if hash != order_hash {
            return Err(unknown(format!(
                "the dataset order in transaction {tx_hash} hashes to {hash}, the hub matched {order_hash}"
            )));
        }
        Ok(DatasetOrderView {
            hash,
            dataset: order.dataset,
            apprestrict: order.apprestrict,
            workerpoolrestrict: order.workerpoolrestrict,
            requesterrestrict: order.requesterrestrict,
        })
    }

    /// PoCo's restriction rule, evaluated now: zero allows anyone, an account allows itself, a
    /// contract allows the members of its ERC-734 group (`keyHasPurpose(account, 4)`).
    pub async fn restriction_allows(&self, restriction: Address, account: Address) -> Result<bool> {
        if restriction == Address::ZERO || restriction == account {
            return Ok(true);
        }
        let code = self
            .provider
            .get_code_at(restriction)
            .await
            .map_err(|e| rpc("a restriction's code", e))?;
        if code.is_empty() {
            return Ok(false);
        }
        let group = typed::IERC734::new(restriction, self.provider.clone());
        match group
            .keyHasPurpose(B256::left_padding_from(account.as_slice()), U256::from(4))
            .call()
            .await
        {
            Ok(member) => Ok(member),
            // a contract that reverts or does not speak ERC-734 vouches for no one
            Err(alloy::contract::Error::TransportError(
                alloy::transports::RpcError::ErrorResp(_),
            ))
            | Err(alloy::contract::Error::AbiError(_))
            | Err(alloy::contract::Error::ZeroData(..)) => Ok(false),
            Err(e) => Err(rpc("a restriction group", e)),
        }
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
