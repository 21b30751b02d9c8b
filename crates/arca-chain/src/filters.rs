//! Polling filters (`eth_newFilter`, `eth_newBlockFilter`, `eth_newPendingTransactionFilter`) and
//! the log matching shared with `eth_getLogs` and WebSocket `logs` subscriptions.

use crate::backend::{Backend, Block};
use alloy::{
    primitives::{B256, U256},
    rpc::types::{Filter, FilterBlockOption, Log as RpcLog},
};
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

/// Filters unused for this long are removed (as geth does), so abandoned clients cannot leak memory.
pub const FILTER_TIMEOUT: Duration = Duration::from_secs(300);
/// Most logs one `eth_getLogs` may return; narrow the block range past that.
pub const MAX_LOGS: usize = 100_000;

#[derive(Debug, Clone)]
enum Kind {
    Logs(Box<Filter>),
    Blocks,
    PendingTransactions,
}

#[derive(Debug, Clone)]
struct Installed {
    kind: Kind,
    /// Last block already reported.
    last_block: u64,
    last_used: Instant,
}

/// The installed filters of one node.
#[derive(Debug, Default)]
pub struct Filters {
    next_id: u64,
    installed: HashMap<U256, Installed>,
}

/// What `eth_getFilterChanges` returns.
#[derive(Debug)]
pub enum Changes {
    /// New logs.
    Logs(Vec<RpcLog>),
    /// New block hashes (or transaction hashes for pending-transaction filters).
    Hashes(Vec<B256>),
}

impl Filters {
    fn install(&mut self, kind: Kind, head: u64) -> U256 {
        self.expire();
        self.next_id += 1;
        // Ids look random enough for clients, yet are unique per node.
        let id = U256::from(self.next_id) | (U256::from(0xa5c0u64) << 64);
        self.installed.insert(
            id,
            Installed {
                kind,
                last_block: head,
                last_used: Instant::now(),
            },
        );
        id
    }

    /// `eth_newFilter`.
    pub fn new_logs(&mut self, filter: Filter, head: u64) -> U256 {
        self.install(Kind::Logs(Box::new(filter)), head)
    }

    /// `eth_newBlockFilter`.
    pub fn new_blocks(&mut self, head: u64) -> U256 {
        self.install(Kind::Blocks, head)
    }

    /// `eth_newPendingTransactionFilter`: with instant mining, transactions are reported when mined.
    pub fn new_pending_transactions(&mut self, head: u64) -> U256 {
        self.install(Kind::PendingTransactions, head)
    }

    /// `eth_uninstallFilter`.
    pub fn uninstall(&mut self, id: U256) -> bool {
        self.installed.remove(&id).is_some()
    }

    fn expire(&mut self) {
        self.installed
            .retain(|_, f| f.last_used.elapsed() < FILTER_TIMEOUT);
    }

    /// `eth_getFilterChanges`: what happened since the last poll; `None` for unknown ids.
    pub fn changes(&mut self, id: U256, backend: &Backend) -> Option<Changes> {
        let head = backend.head_number();
        let filter = self.installed.get_mut(&id)?;
        filter.last_used = Instant::now();
        // After an evm_revert the head may be below what was reported: start again from there.
        let from = filter.last_block.min(head) + 1;
        filter.last_block = head;
        let blocks = (from..=head).filter_map(|n| backend.block(n));
        Some(match &filter.kind {
            Kind::Logs(f) => {
                let mut logs = Vec::new();
                for block in blocks {
                    append_matching_logs(f, block, &mut logs);
                }
                Changes::Logs(logs)
            }
            Kind::Blocks => Changes::Hashes(blocks.map(|b| b.hash).collect()),
            Kind::PendingTransactions => {
                Changes::Hashes(blocks.flat_map(|b| b.txs.iter().map(|t| t.hash)).collect())
            }
        })
    }

    /// `eth_getFilterLogs`: every log matching a log filter; `None` for unknown or non-log filters.
    pub fn filter(&mut self, id: U256) -> Option<Filter> {
        let filter = self.installed.get_mut(&id)?;
        filter.last_used = Instant::now();
        match &filter.kind {
            Kind::Logs(f) => Some((**f).clone()),
            _ => None,
        }
    }
}

/// Appends the logs of `block` that match `filter`, in RPC form.
pub fn append_matching_logs(filter: &Filter, block: &Block, out: &mut Vec<RpcLog>) {
    if !filter.matches_bloom(block.header.logs_bloom) {
        return;
    }
    let mut log_index = 0u64;
    for (tx_index, tx) in block.txs.iter().enumerate() {
        for log in &tx.receipt.logs {
            if filter.matches(log) {
                out.push(RpcLog {
                    inner: log.clone(),
                    block_hash: Some(block.hash),
                    block_number: Some(block.header.number),
                    block_timestamp: Some(block.header.timestamp),
                    transaction_hash: Some(tx.hash),
                    transaction_index: Some(tx_index as u64),
                    log_index: Some(log_index),
                    removed: false,
                });
            }
            log_index += 1;
        }
    }
}

/// Resolves a filter's block range against the chain: `(from, to)` inclusive, or an error text.
pub fn block_range(filter: &Filter, backend: &Backend) -> Result<(u64, u64), String> {
    let head = backend.head_number();
    match &filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => match backend.block_by_hash(hash) {
            Some(block) => Ok((block.header.number, block.header.number)),
            None => Err(format!("blockHash {hash} is not a block of this chain")),
        },
        FilterBlockOption::Range {
            from_block,
            to_block,
        } => {
            let resolve = |tag: &Option<alloy::eips::BlockNumberOrTag>| -> u64 {
                match tag {
                    None => head,
                    Some(t) => match t {
                        alloy::eips::BlockNumberOrTag::Number(n) => *n,
                        alloy::eips::BlockNumberOrTag::Earliest => 0,
                        _ => head,
                    },
                }
            };
            let from = resolve(from_block);
            let to = resolve(to_block).min(head);
            if from > to && from <= head {
                return Err(format!("fromBlock {from} is after toBlock {to}"));
            }
            Ok((from, to))
        }
    }
}
