//! The chain itself: blocks, transactions, receipts, the transaction pool, mining, time control
//! and snapshots. Everything here runs under one lock held by [`crate::Node`]; RPC handlers only
//! translate JSON to calls on [`Backend`] and back.
//!
//! ```text
//!  eth_sendRawTransaction ─► validate ─► pool ─┬─ automine: mine now ──► execute (revm) ─► block
//!                                              └─ interval: wait tick ─┘        │
//!                                                 state diff + undo ◄───────────┘ ─► store (1 SQLite tx)
//! ```

use crate::{
    error::RpcError,
    fees::next_base_fee,
    persist::Store,
    state::{BlockChanges, CallOverrides, HistoricOverlay, StateView, Undo, WorldState},
};
use alloy::{
    consensus::{
        Header, Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction as _, TxEnvelope, TxType,
        proofs::{calculate_receipt_root, calculate_transaction_root},
        transaction::SignerRecoverable,
    },
    eips::{eip2718::Encodable2718, eip7685::EMPTY_REQUESTS_HASH},
    primitives::{
        Address, B256, Bloom, Bytes, KECCAK256_EMPTY, Log, TxKind, U256, keccak256,
        map::{HashMap, HashSet},
    },
};
use revm::{
    Context, ExecuteEvm, MainBuilder, MainContext,
    context::{
        BlockEnv, CfgEnv, TxEnv,
        result::{EVMError, ExecutionResult, InvalidTransaction, Output},
    },
    context_interface::{block::BlobExcessGasAndPrice, cfg::gas::calculate_initial_tx_gas_for_tx},
    primitives::hardfork::SpecId,
    state::EvmState,
};
use std::{
    collections::BTreeMap,
    time::{SystemTime, UNIX_EPOCH},
};

/// The hard fork the dev chain executes (the same as anvil 1.7.1's default, so gas matches).
pub const SPEC: SpecId = SpecId::OSAKA;
/// Future transactions held per sender while waiting for a nonce gap to fill.
pub const MAX_QUEUED_PER_SENDER: usize = 64;
/// Blob base fee update fraction of Prague/Osaka.
const BLOB_BASE_FEE_UPDATE_FRACTION: u64 = 5_007_716;

/// A transaction accepted into the pool.
#[derive(Debug, Clone)]
pub struct PendingTx {
    /// Transaction hash.
    pub hash: B256,
    /// The signed transaction.
    pub envelope: TxEnvelope,
    /// Recovered (or impersonated) sender.
    pub sender: Address,
}

/// Receipt data of a mined transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxReceipt {
    /// Whether execution succeeded.
    pub success: bool,
    /// Gas used by the block up to and including this transaction.
    pub cumulative_gas_used: u64,
    /// Gas used by this transaction.
    pub gas_used: u64,
    /// Logs emitted.
    pub logs: Vec<Log>,
    /// Address of the created contract, for creations that succeeded.
    pub contract_address: Option<Address>,
    /// Price per gas actually paid.
    pub effective_gas_price: u128,
    /// Return or revert data (kept for debugging; not part of the receipt on the wire).
    pub output: Bytes,
}

impl TxReceipt {
    /// Bloom of this receipt's logs.
    pub fn bloom(&self) -> Bloom {
        let mut bloom = Bloom::default();
        for log in &self.logs {
            bloom.accrue_log(log);
        }
        bloom
    }

    /// Consensus receipt envelope (what the receipts root commits to).
    pub fn envelope(&self, tx_type: TxType) -> ReceiptEnvelope<Log> {
        let receipt = Receipt {
            status: self.success.into(),
            cumulative_gas_used: self.cumulative_gas_used,
            logs: self.logs.clone(),
        };
        ReceiptEnvelope::from_typed(tx_type, ReceiptWithBloom::new(receipt, self.bloom()))
    }
}

/// A transaction in a block, with its receipt.
#[derive(Debug, Clone)]
pub struct MinedTx {
    /// Hash.
    pub hash: B256,
    /// The signed transaction.
    pub envelope: TxEnvelope,
    /// Sender.
    pub sender: Address,
    /// Receipt.
    pub receipt: TxReceipt,
}

/// A mined block.
#[derive(Debug, Clone)]
pub struct Block {
    /// Consensus header.
    pub header: Header,
    /// Header hash.
    pub hash: B256,
    /// Transactions with receipts, in order.
    pub txs: Vec<MinedTx>,
}

impl Block {
    /// Encoded size (header + transactions), as reported by `size`.
    pub fn size(&self) -> u64 {
        let header = alloy::rlp::encode(&self.header).len();
        let txs: usize = self.txs.iter().map(|t| t.envelope.encode_2718_len()).sum();
        (header + txs + 8) as u64
    }
}

/// A saved point to return to with `evm_revert`.
#[derive(Debug, Clone)]
struct Snapshot {
    block_number: u64,
    time_offset: i64,
}

/// Clock of the chain: wall time shifted by `evm_increaseTime`, or pinned for one block by
/// `evm_setNextBlockTimestamp`.
#[derive(Debug, Clone, Default)]
pub struct TimeControl {
    /// Seconds added to the wall clock.
    pub offset: i64,
    /// Timestamp forced for the next block.
    pub next_timestamp: Option<u64>,
}

impl TimeControl {
    fn wall_now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
    }

    /// The chain's idea of now.
    pub fn now(&self) -> u64 {
        (Self::wall_now() as i64 + self.offset).max(0) as u64
    }

    /// Timestamp of the next block: never earlier than its parent (equal is allowed, as anvil).
    fn next_block_timestamp(&mut self, parent: u64) -> u64 {
        match self.next_timestamp.take() {
            Some(forced) => {
                // Later blocks continue from the forced time instead of jumping back.
                self.offset = forced as i64 - Self::wall_now() as i64;
                forced.max(parent)
            }
            None => self.now().max(parent),
        }
    }
}

/// What a mined block changed, for subscribers.
#[derive(Debug, Clone)]
pub enum ChainEvent {
    /// A new head.
    NewBlock(u64),
    /// Blocks above this number were removed (`evm_revert`).
    Reverted(u64),
}

/// Chain parameters fixed at start.
#[derive(Debug, Clone)]
pub struct ChainSpec {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Block gas limit.
    pub gas_limit: u64,
    /// Base fee of block 0 and 1.
    pub initial_base_fee: u64,
}

/// Outcome of a call that does not change state (`eth_call`, `eth_estimateGas`).
#[derive(Debug, Clone)]
pub enum CallOutcome {
    /// Succeeded with return data and gas used.
    Success {
        /// Return data.
        output: Bytes,
        /// Gas used.
        gas_used: u64,
    },
    /// Reverted with revert data.
    Revert {
        /// Revert data.
        output: Bytes,
        /// Gas used.
        gas_used: u64,
    },
    /// Halted (out of gas, invalid opcode…).
    Halt {
        /// Why.
        reason: String,
        /// Gas used.
        gas_used: u64,
    },
}

/// A call request already resolved to concrete values.
#[derive(Debug, Clone, Default)]
pub struct CallRequest {
    /// Sender (zero address when absent).
    pub from: Address,
    /// Target; `None` deploys `input`.
    pub to: Option<Address>,
    /// Gas limit; `None` = block gas limit.
    pub gas: Option<u64>,
    /// Legacy gas price or max fee.
    pub gas_price: Option<u128>,
    /// Max priority fee.
    pub priority_fee: Option<u128>,
    /// Value sent.
    pub value: U256,
    /// Calldata or init code.
    pub input: Bytes,
    /// Nonce, when given.
    pub nonce: Option<u64>,
    /// EIP-2930 access list.
    pub access_list: alloy::eips::eip2930::AccessList,
}

/// The whole chain.
#[derive(Debug)]
pub struct Backend {
    spec: ChainSpec,
    state: WorldState,
    blocks: Vec<Block>,
    block_hashes: Vec<B256>,
    undos: Vec<Undo>,
    /// Changes made outside blocks (`anvil_set*`) since the last block; folded into its undo.
    loose_changes: BlockChanges,
    hash_index: HashMap<B256, u64>,
    tx_index: HashMap<B256, (u64, usize)>,
    /// Pool: per sender, nonce → tx.
    pool: HashMap<Address, BTreeMap<u64, PendingTx>>,
    time: TimeControl,
    snapshots: BTreeMap<u64, Snapshot>,
    next_snapshot_id: u64,
    impersonated: HashSet<Address>,
    store: Option<Store>,
    events: tokio::sync::broadcast::Sender<ChainEvent>,
}

impl Backend {
    /// A new chain whose genesis funds `alloc`, or the chain found in `store`.
    pub fn open(
        spec: ChainSpec,
        alloc: &[(Address, U256)],
        genesis_timestamp: u64,
        store: Option<Store>,
    ) -> Result<Self, crate::ChainError> {
        let (events, _) = tokio::sync::broadcast::channel(1024);
        let mut backend = Self {
            spec,
            state: WorldState::default(),
            blocks: Vec::new(),
            block_hashes: Vec::new(),
            undos: Vec::new(),
            loose_changes: BlockChanges::default(),
            hash_index: HashMap::default(),
            tx_index: HashMap::default(),
            pool: HashMap::default(),
            time: TimeControl::default(),
            snapshots: BTreeMap::new(),
            next_snapshot_id: 1,
            impersonated: HashSet::default(),
            store,
            events,
        };
        let loaded = match backend.store.as_mut() {
            Some(store) => store.load(backend.spec.chain_id)?,
            None => None,
        };
        match loaded {
            Some(loaded) => {
                backend.state = loaded.state;
                backend.time.offset = loaded.time_offset;
                for (block, undo) in loaded.blocks.into_iter().zip(loaded.undos) {
                    backend.index_block(block, undo);
                }
                tracing::info!(
                    target: "arca::chain",
                    head = backend.head_number(),
                    accounts = backend.state.len(),
                    "resumed chain from its data directory"
                );
            }
            None => backend.create_genesis(alloc, genesis_timestamp)?,
        }
        Ok(backend)
    }

    fn create_genesis(
        &mut self,
        alloc: &[(Address, U256)],
        timestamp: u64,
    ) -> Result<(), crate::ChainError> {
        let mut changes = BlockChanges::default();
        for (address, balance) in alloc {
            let record = crate::state::AccountRecord {
                balance: *balance,
                nonce: 0,
                code_hash: KECCAK256_EMPTY,
            };
            self.state.set_account(&mut changes, *address, record, None);
        }
        let (_, diff) = changes.finish(&self.state);
        let header = Header {
            parent_hash: B256::ZERO,
            number: 0,
            gas_limit: self.spec.gas_limit,
            timestamp,
            base_fee_per_gas: Some(self.spec.initial_base_fee),
            state_root: state_commitment(B256::ZERO, &diff),
            ..empty_header()
        };
        let block = Block {
            hash: header.hash_slow(),
            header,
            txs: Vec::new(),
        };
        if let Some(store) = self.store.as_mut() {
            store.commit_block(
                self.spec.chain_id,
                &block,
                &diff,
                &Undo::default(),
                self.time.offset,
            )?;
        }
        self.index_block(block, Undo::default());
        Ok(())
    }

    fn index_block(&mut self, block: Block, undo: Undo) {
        let number = block.header.number;
        debug_assert_eq!(number as usize, self.blocks.len());
        self.hash_index.insert(block.hash, number);
        for (i, tx) in block.txs.iter().enumerate() {
            self.tx_index.insert(tx.hash, (number, i));
        }
        self.block_hashes.push(block.hash);
        self.blocks.push(block);
        self.undos.push(undo);
    }

    /// Subscribes to new blocks and reverts.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }

    /// Chain parameters.
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// Latest block number.
    pub fn head_number(&self) -> u64 {
        (self.blocks.len() - 1) as u64
    }

    /// Latest block.
    pub fn head(&self) -> &Block {
        self.blocks.last().expect("genesis always exists")
    }

    /// Block by number.
    pub fn block(&self, number: u64) -> Option<&Block> {
        self.blocks.get(number as usize)
    }

    /// Block by hash.
    pub fn block_by_hash(&self, hash: &B256) -> Option<&Block> {
        self.hash_index.get(hash).and_then(|n| self.block(*n))
    }

    /// Mined transaction by hash, with its block.
    pub fn transaction(&self, hash: &B256) -> Option<(&Block, usize)> {
        let (number, index) = self.tx_index.get(hash)?;
        Some((self.block(*number)?, *index))
    }

    /// Pooled (not yet mined) transaction by hash.
    pub fn pending_transaction(&self, hash: &B256) -> Option<&PendingTx> {
        self.pool
            .values()
            .flat_map(|q| q.values())
            .find(|t| &t.hash == hash)
    }

    /// Latest world state.
    pub fn state(&self) -> &WorldState {
        &self.state
    }

    /// Base fee the next block will have.
    pub fn next_base_fee(&self) -> u64 {
        let head = &self.head().header;
        let parent_fee = head.base_fee_per_gas.unwrap_or(self.spec.initial_base_fee);
        if head.number == 0 {
            // anvil keeps the genesis base fee for block 1.
            return parent_fee;
        }
        next_base_fee(head.gas_used, head.gas_limit, parent_fee)
    }

    /// Current time control.
    pub fn time(&self) -> &TimeControl {
        &self.time
    }

    /// Builds an overlay that rolls the latest state back to block `number`.
    pub fn historic_overlay(&self, number: u64) -> Option<HistoricOverlay> {
        if number >= self.head_number() {
            return None;
        }
        let undos = self.undos[(number as usize + 1)..].iter().rev();
        // Loose changes happened after the head block: undo them first.
        let loose = self.loose_changes_undo();
        Some(HistoricOverlay::from_undos(
            std::iter::once(&loose).chain(undos),
        ))
    }

    fn loose_changes_undo(&self) -> Undo {
        self.loose_changes.peek_undo()
    }

    /// Next nonce of `address` counting transactions waiting in the pool.
    pub fn pending_nonce(&self, address: Address) -> u64 {
        let mut nonce = self
            .state
            .account(address)
            .map(|a| a.nonce)
            .unwrap_or_default();
        if let Some(queue) = self.pool.get(&address) {
            while queue.contains_key(&nonce) {
                nonce += 1;
            }
        }
        nonce
    }

    /// Number of transactions waiting in the pool.
    pub fn pool_len(&self) -> usize {
        self.pool.values().map(|q| q.len()).sum()
    }

    /// Accepts a signed transaction: checks it, pools it, and mines it at once when `automine`.
    pub fn submit(&mut self, envelope: TxEnvelope, automine: bool) -> Result<B256, RpcError> {
        let sender = envelope
            .recover_signer()
            .map_err(|e| RpcError::rejected(format!("invalid signature: {e}")))?;
        let hash = *envelope.tx_hash();
        self.submit_as(
            PendingTx {
                hash,
                envelope,
                sender,
            },
            automine,
        )
    }

    /// Accepts a transaction whose sender is already known (signed by a dev key or impersonated).
    pub fn submit_as(&mut self, tx: PendingTx, automine: bool) -> Result<B256, RpcError> {
        if self.tx_index.contains_key(&tx.hash) {
            return Err(RpcError::rejected(format!(
                "transaction {} is already known (mined)",
                tx.hash
            )));
        }
        self.validate(&tx)?;
        let hash = tx.hash;
        let sender = tx.sender;
        let nonce = tx.envelope.nonce();
        let queue = self.pool.entry(sender).or_default();
        if let Some(existing) = queue.get(&nonce) {
            if existing.envelope.max_fee_per_gas() >= tx.envelope.max_fee_per_gas() {
                return Err(RpcError::rejected(format!(
                    "replacement transaction underpriced: a transaction with nonce {nonce} from {sender} is already pending with a higher or equal fee"
                )));
            }
        } else if queue.len() >= MAX_QUEUED_PER_SENDER {
            return Err(RpcError::rejected(format!(
                "nonce too high: {sender} already has {MAX_QUEUED_PER_SENDER} transactions waiting for earlier nonces; send the missing nonces first"
            )));
        }
        queue.insert(nonce, tx);
        if automine {
            let expected = self
                .state
                .account(sender)
                .map(|a| a.nonce)
                .unwrap_or_default();
            if nonce == expected
                || self
                    .pool
                    .get(&sender)
                    .is_some_and(|q| q.contains_key(&expected))
            {
                let results = self.mine_ready()?;
                // Report this transaction's own rejection (it was dropped from the pool).
                if let Some(err) = results
                    .into_iter()
                    .find_map(|(h, e)| (h == hash).then_some(e))
                {
                    return Err(err);
                }
            }
        }
        Ok(hash)
    }

    fn validate(&self, tx: &PendingTx) -> Result<(), RpcError> {
        let env = &tx.envelope;
        if let Some(chain_id) = env.chain_id()
            && chain_id != self.spec.chain_id
        {
            return Err(RpcError::rejected(format!(
                "invalid chain id for signer: transaction has chain id {chain_id}, this chain is {}",
                self.spec.chain_id
            )));
        }
        if matches!(env.tx_type(), TxType::Eip4844) {
            return Err(RpcError::rejected(
                "blob transactions (EIP-4844) are not supported by the dev chain",
            ));
        }
        let account = self.state.account(tx.sender).cloned().unwrap_or_default();
        if env.nonce() < account.nonce {
            return Err(RpcError::rejected(format!(
                "nonce too low: next nonce {}, tx nonce {}",
                account.nonce,
                env.nonce()
            )));
        }
        let gas_limit = env.gas_limit();
        if gas_limit > self.spec.gas_limit {
            return Err(RpcError::rejected(format!(
                "exceeds block gas limit: tx gas limit {gas_limit}, block gas limit {}",
                self.spec.gas_limit
            )));
        }
        let tx_env = tx_env(tx);
        let initial = calculate_initial_tx_gas_for_tx(&tx_env, SPEC, None);
        let intrinsic =
            (initial.initial_regular_gas + initial.initial_state_gas).max(initial.floor_gas);
        if gas_limit < intrinsic {
            return Err(RpcError::rejected(format!(
                "intrinsic gas too low: gas limit {gas_limit}, at least {intrinsic} needed"
            )));
        }
        let base_fee = self.next_base_fee() as u128;
        if env.max_fee_per_gas() < base_fee {
            return Err(RpcError::rejected(format!(
                "max fee per gas less than block base fee: address {}, maxFeePerGas: {}, baseFee: {base_fee}",
                tx.sender,
                env.max_fee_per_gas()
            )));
        }
        if let Some(priority) = env.max_priority_fee_per_gas()
            && priority > env.max_fee_per_gas()
        {
            return Err(RpcError::rejected(format!(
                "max priority fee per gas higher than max fee per gas: {priority} > {}",
                env.max_fee_per_gas()
            )));
        }
        let cost = U256::from(gas_limit) * U256::from(env.max_fee_per_gas()) + env.value();
        if env.nonce() == account.nonce && account.balance < cost {
            return Err(RpcError::rejected(format!(
                "insufficient funds for gas * price + value: balance {}, tx cost {cost}",
                account.balance
            )));
        }
        Ok(())
    }

    /// Takes the transactions whose nonces are next, in order, up to the block gas limit.
    fn take_ready(&mut self) -> Vec<PendingTx> {
        let mut ready = Vec::new();
        let mut gas = 0u64;
        let senders: Vec<Address> = self.pool.keys().copied().collect();
        for sender in senders {
            let mut nonce = self
                .state
                .account(sender)
                .map(|a| a.nonce)
                .unwrap_or_default();
            let Some(queue) = self.pool.get_mut(&sender) else {
                continue;
            };
            // Drop transactions made stale by mined ones.
            queue.retain(|n, _| *n >= nonce);
            while let Some(tx) = queue.get(&nonce) {
                if gas + tx.envelope.gas_limit() > self.spec.gas_limit {
                    break;
                }
                gas += tx.envelope.gas_limit();
                ready.push(queue.remove(&nonce).expect("present"));
                nonce += 1;
            }
            if queue.is_empty() {
                self.pool.remove(&sender);
            }
        }
        ready
    }

    /// Mines blocks until no pooled transaction is ready; returns the rejected ones with reasons.
    pub fn mine_ready(&mut self) -> Result<Vec<(B256, RpcError)>, RpcError> {
        let mut rejected = Vec::new();
        loop {
            let ready = self.take_ready();
            if ready.is_empty() {
                return Ok(rejected);
            }
            let (included, mut dropped) = self.mine_block(ready, None)?;
            rejected.append(&mut dropped);
            if included == 0 {
                return Ok(rejected);
            }
        }
    }

    /// Mines one block with whatever is ready (possibly empty), at an optional timestamp.
    pub fn mine_one(&mut self, timestamp: Option<u64>) -> Result<u64, RpcError> {
        let ready = self.take_ready();
        let (_, rejected) = self.mine_block_forced(ready, timestamp)?;
        for (hash, err) in rejected {
            tracing::warn!(target: "arca::chain", %hash, error = %err.message, "dropped transaction while mining");
        }
        Ok(self.head_number())
    }

    fn mine_block(
        &mut self,
        txs: Vec<PendingTx>,
        timestamp: Option<u64>,
    ) -> Result<(usize, Vec<(B256, RpcError)>), RpcError> {
        self.build_block(txs, timestamp, false)
    }

    fn mine_block_forced(
        &mut self,
        txs: Vec<PendingTx>,
        timestamp: Option<u64>,
    ) -> Result<(usize, Vec<(B256, RpcError)>), RpcError> {
        self.build_block(txs, timestamp, true)
    }

    /// Executes `txs` on top of the head and appends a block; `allow_empty` mines even when no
    /// transaction was valid (evm_mine, interval mining).
    fn build_block(
        &mut self,
        txs: Vec<PendingTx>,
        timestamp: Option<u64>,
        allow_empty: bool,
    ) -> Result<(usize, Vec<(B256, RpcError)>), RpcError> {
        let parent = self.head().header.clone();
        let parent_hash = self.head().hash;
        let number = parent.number + 1;
        let base_fee = self.next_base_fee();
        let saved_time = self.time.clone();
        let timestamp = match timestamp {
            Some(ts) => {
                self.time.next_timestamp = Some(ts);
                self.time.next_block_timestamp(parent.timestamp)
            }
            None => self.time.next_block_timestamp(parent.timestamp),
        };
        let block_env = block_env(number, timestamp, self.spec.gas_limit, base_fee);
        let mut changes = std::mem::take(&mut self.loose_changes);
        let mut mined = Vec::with_capacity(txs.len());
        let mut rejected = Vec::new();
        let mut cumulative = 0u64;
        for tx in txs {
            if cumulative + tx.envelope.gas_limit() > self.spec.gas_limit {
                // Does not fit any more: back to the pool for the next block.
                self.pool
                    .entry(tx.sender)
                    .or_default()
                    .insert(tx.envelope.nonce(), tx);
                continue;
            }
            let cfg = self.cfg();
            let result = {
                let view = StateView {
                    state: &self.state,
                    historic: None,
                    overrides: None,
                    block_hashes: &self.block_hashes,
                };
                let mut evm = Context::mainnet()
                    .with_db(view)
                    .with_cfg(cfg)
                    .with_block(block_env.clone())
                    .build_mainnet();
                evm.transact(tx_env(&tx))
            };
            match result {
                Ok(outcome) => {
                    let effective_gas_price = effective_gas_price(&tx.envelope, base_fee);
                    let (receipt, state) = receipt_from(
                        outcome.result,
                        outcome.state,
                        cumulative,
                        effective_gas_price,
                    );
                    cumulative = receipt.cumulative_gas_used;
                    self.state.apply(&mut changes, state);
                    mined.push(MinedTx {
                        hash: tx.hash,
                        envelope: tx.envelope,
                        sender: tx.sender,
                        receipt,
                    });
                }
                Err(err) => rejected.push((tx.hash, invalid_tx_error(err))),
            }
        }
        if mined.is_empty() && !allow_empty {
            // Nothing valid: no block. Changes made outside blocks stay pending.
            self.loose_changes = changes;
            self.time = saved_time;
            return Ok((0, rejected));
        }
        let (undo, diff) = changes.finish(&self.state);
        let receipts: Vec<ReceiptEnvelope<Log>> = mined
            .iter()
            .map(|t| t.receipt.envelope(t.envelope.tx_type()))
            .collect();
        let envelopes: Vec<&TxEnvelope> = mined.iter().map(|t| &t.envelope).collect();
        let mut logs_bloom = Bloom::default();
        for r in &receipts {
            logs_bloom.accrue_bloom(r.logs_bloom());
        }
        let header = Header {
            parent_hash,
            number,
            gas_limit: self.spec.gas_limit,
            gas_used: cumulative,
            timestamp,
            base_fee_per_gas: Some(base_fee),
            beneficiary: block_env.beneficiary,
            mix_hash: block_env.prevrandao.unwrap_or_default(),
            transactions_root: calculate_transaction_root(&envelopes),
            receipts_root: calculate_receipt_root(&receipts),
            logs_bloom,
            state_root: state_commitment(parent.state_root, &diff),
            ..empty_header()
        };
        let block = Block {
            hash: header.hash_slow(),
            header,
            txs: mined,
        };
        let included = block.txs.len();
        if let Some(store) = self.store.as_mut()
            && let Err(err) =
                store.commit_block(self.spec.chain_id, &block, &diff, &undo, self.time.offset)
        {
            // The block is not durable: undo it in memory too, so memory and disk agree.
            self.state.undo(&undo);
            self.time = saved_time;
            return Err(RpcError::internal(format!(
                "could not persist block {number}: {err}"
            )));
        }
        tracing::debug!(target: "arca::chain", number, txs = included, gas_used = cumulative, "mined block");
        self.index_block(block, undo);
        let _ = self.events.send(ChainEvent::NewBlock(number));
        Ok((included, rejected))
    }

    fn cfg(&self) -> CfgEnv {
        let mut cfg = CfgEnv::new();
        cfg.set_spec_and_mainnet_gas_params(SPEC);
        cfg.chain_id = self.spec.chain_id;
        // Impersonated senders may be contracts (EIP-3607 would refuse them).
        cfg.disable_eip3607 = true;
        cfg
    }

    /// Runs a call against the state at `block` (latest when `None`) without changing anything.
    pub fn call(
        &self,
        request: &CallRequest,
        block: Option<u64>,
        overrides: Option<&CallOverrides>,
    ) -> Result<CallOutcome, RpcError> {
        let number = block.unwrap_or(self.head_number());
        let header = &self
            .block(number)
            .ok_or_else(|| RpcError::invalid_params(format!("block {number} not found")))?
            .header;
        let historic = self.historic_overlay(number);
        let view = StateView {
            state: &self.state,
            historic: historic.as_ref(),
            overrides,
            block_hashes: &self.block_hashes[..=number as usize],
        };
        let mut cfg = self.cfg();
        // Calls are free unless a price is given, and never blocked by nonce or the EIP-7825 cap.
        cfg.disable_nonce_check = true;
        cfg.tx_gas_limit_cap = Some(u64::MAX);
        if request.gas_price.unwrap_or_default() == 0 {
            cfg.disable_base_fee = true;
        }
        let gas_limit = request.gas.unwrap_or(header.gas_limit);
        cfg.disable_block_gas_limit = true;
        let env = block_env(
            header.number,
            header.timestamp,
            header.gas_limit,
            header.base_fee_per_gas.unwrap_or_default(),
        );
        let mut builder = TxEnv::builder()
            .caller(request.from)
            .gas_limit(gas_limit)
            .gas_price(request.gas_price.unwrap_or_default())
            .kind(request.to.map(TxKind::Call).unwrap_or(TxKind::Create))
            .value(request.value)
            .data(request.input.clone())
            .nonce(request.nonce.unwrap_or_default())
            .chain_id(Some(self.spec.chain_id))
            .access_list(request.access_list.clone());
        if request.priority_fee.is_some() {
            builder = builder
                .gas_priority_fee(request.priority_fee)
                .tx_type(Some(2));
        }
        let tx = builder.build_fill();
        let mut evm = Context::mainnet()
            .with_db(view)
            .with_cfg(cfg)
            .with_block(env)
            .build_mainnet();
        let result = evm.transact(tx).map_err(invalid_tx_error)?;
        Ok(match result.result {
            ExecutionResult::Success { output, gas, .. } => CallOutcome::Success {
                output: output.into_data(),
                gas_used: gas.tx_gas_used(),
            },
            ExecutionResult::Revert { output, gas, .. } => CallOutcome::Revert {
                output,
                gas_used: gas.tx_gas_used(),
            },
            ExecutionResult::Halt { reason, gas, .. } => CallOutcome::Halt {
                reason: format!("{reason:?}"),
                gas_used: gas.tx_gas_used(),
            },
        })
    }

    /// Smallest gas limit with which `request` succeeds (binary search, as geth and anvil).
    pub fn estimate_gas(
        &self,
        request: &CallRequest,
        block: Option<u64>,
        overrides: Option<&CallOverrides>,
    ) -> Result<u64, RpcError> {
        let cap = request.gas.unwrap_or(self.spec.gas_limit);
        let mut probe = request.clone();
        probe.gas = Some(cap);
        let used = match self.call(&probe, block, overrides)? {
            CallOutcome::Success { gas_used, .. } => gas_used,
            CallOutcome::Revert { output, .. } => return Err(RpcError::reverted(&output)),
            CallOutcome::Halt { reason, .. } => {
                return Err(RpcError::new(
                    crate::error::codes::EXECUTION_REVERTED,
                    format!("execution halted: {reason} (with gas limit {cap})"),
                ));
            }
        };
        let succeeds = |gas: u64| -> Result<bool, RpcError> {
            let mut p = request.clone();
            p.gas = Some(gas);
            Ok(matches!(
                self.call(&p, block, overrides)?,
                CallOutcome::Success { .. }
            ))
        };
        // Most calls succeed with a 64/63 margin over what they used (the EIP-150 reserve).
        let optimistic = (used + 2_300).saturating_mul(64) / 63;
        let (mut lo, mut hi) = (used.saturating_sub(1), cap);
        if optimistic < hi && succeeds(optimistic)? {
            hi = optimistic;
        }
        while hi - lo > 1 {
            // Stop once within 1.5% — the extra search costs more than the gas it saves.
            if (hi - lo) * 1000 / hi < 15 {
                break;
            }
            let mid = lo + (hi - lo) / 2;
            if succeeds(mid)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    }

    /// `evm_snapshot`: remembers the current head; returns the id for `evm_revert`.
    pub fn snapshot(&mut self) -> u64 {
        let id = self.next_snapshot_id;
        self.next_snapshot_id += 1;
        self.snapshots.insert(
            id,
            Snapshot {
                block_number: self.head_number(),
                time_offset: self.time.offset,
            },
        );
        id
    }

    /// `evm_revert`: returns to a snapshot (removing later blocks); false for unknown ids.
    pub fn revert_to(&mut self, id: u64) -> Result<bool, RpcError> {
        let Some(snapshot) = self.snapshots.get(&id).cloned() else {
            return Ok(false);
        };
        // The snapshot and every later one are used up, as in anvil.
        self.snapshots.retain(|k, _| *k < id);
        let loose = std::mem::take(&mut self.loose_changes)
            .finish(&self.state)
            .0;
        self.state.undo(&loose);
        let keep = snapshot.block_number;
        let mut removed_undos = Vec::new();
        while self.head_number() > keep {
            let block = self.blocks.pop().expect("above genesis");
            let undo = self.undos.pop().expect("one undo per block");
            self.block_hashes.pop();
            self.hash_index.remove(&block.hash);
            for tx in &block.txs {
                self.tx_index.remove(&tx.hash);
            }
            self.state.undo(&undo);
            removed_undos.push(undo);
        }
        self.pool.clear();
        self.time = TimeControl {
            offset: snapshot.time_offset,
            next_timestamp: None,
        };
        if let Some(store) = self.store.as_mut() {
            store
                .truncate(keep, &loose, &removed_undos, self.time.offset)
                .map_err(|e| RpcError::internal(format!("could not persist evm_revert: {e}")))?;
        }
        let _ = self.events.send(ChainEvent::Reverted(keep));
        Ok(true)
    }

    /// `evm_increaseTime`: moves the clock forward; returns the total offset in seconds.
    pub fn increase_time(&mut self, seconds: i64) -> i64 {
        self.time.offset += seconds;
        self.persist_meta();
        self.time.offset
    }

    /// `evm_setNextBlockTimestamp`.
    pub fn set_next_timestamp(&mut self, timestamp: u64) -> Result<(), RpcError> {
        let head = self.head().header.timestamp;
        if timestamp < head {
            return Err(RpcError::invalid_params(format!(
                "timestamp {timestamp} is before the latest block's timestamp {head}; use a later time"
            )));
        }
        self.time.next_timestamp = Some(timestamp);
        Ok(())
    }

    fn persist_meta(&mut self) {
        if let Some(store) = self.store.as_mut()
            && let Err(err) = store.save_time_offset(self.time.offset)
        {
            tracing::error!(target: "arca::chain", %err, "could not persist the time offset");
        }
    }

    /// `anvil_setBalance`, `anvil_setNonce`, `anvil_setCode`: edits an account outside any block.
    pub fn edit_account(
        &mut self,
        address: Address,
        edit: impl FnOnce(&mut crate::state::AccountRecord) -> Option<revm::bytecode::Bytecode>,
    ) -> Result<(), RpcError> {
        let mut record =
            self.state
                .account(address)
                .cloned()
                .unwrap_or(crate::state::AccountRecord {
                    balance: U256::ZERO,
                    nonce: 0,
                    code_hash: KECCAK256_EMPTY,
                });
        let code = edit(&mut record);
        self.state
            .set_account(&mut self.loose_changes, address, record, code);
        self.persist_loose()
    }

    /// `anvil_setStorageAt`.
    pub fn edit_storage(
        &mut self,
        address: Address,
        slot: U256,
        value: U256,
    ) -> Result<(), RpcError> {
        self.state
            .set_storage(&mut self.loose_changes, address, slot, value);
        self.persist_loose()
    }

    fn persist_loose(&mut self) -> Result<(), RpcError> {
        let diff = self.loose_changes.peek_diff(&self.state);
        if let Some(store) = self.store.as_mut() {
            store
                .write_state(&diff)
                .map_err(|e| RpcError::internal(format!("could not persist state edit: {e}")))?;
        }
        Ok(())
    }

    /// Starts or stops impersonating an account (transactions from it need no signature).
    pub fn set_impersonated(&mut self, address: Address, on: bool) {
        if on {
            self.impersonated.insert(address);
        } else {
            self.impersonated.remove(&address);
        }
    }

    /// Whether `address` is impersonated.
    pub fn is_impersonated(&self, address: &Address) -> bool {
        self.impersonated.contains(address)
    }

    /// Hashes of all blocks by number.
    pub fn block_hashes(&self) -> &[B256] {
        &self.block_hashes
    }
}

fn empty_header() -> Header {
    Header {
        ommers_hash: alloy::consensus::EMPTY_OMMER_ROOT_HASH,
        transactions_root: alloy::consensus::EMPTY_ROOT_HASH,
        receipts_root: alloy::consensus::EMPTY_ROOT_HASH,
        withdrawals_root: Some(alloy::consensus::EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: Some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    }
}

/// A commitment to the state after a block: keccak of the parent's commitment and the block's
/// state diff. Not a Merkle-Patricia root (no client of a dev chain verifies one, and a real trie
/// would cost more than everything else per block), but it changes exactly when state changes.
fn state_commitment(parent: B256, diff: &crate::state::StateDiff) -> B256 {
    if diff.accounts.is_empty() && diff.storage.is_empty() {
        return if parent.is_zero() {
            alloy::consensus::EMPTY_ROOT_HASH
        } else {
            parent
        };
    }
    let encoded = serde_json::to_vec(diff).unwrap_or_default();
    keccak256([parent.as_slice(), keccak256(encoded).as_slice()].concat())
}

fn block_env(number: u64, timestamp: u64, gas_limit: u64, base_fee: u64) -> BlockEnv {
    BlockEnv {
        number: U256::from(number),
        beneficiary: Address::ZERO,
        timestamp: U256::from(timestamp),
        gas_limit,
        basefee: base_fee,
        difficulty: U256::ZERO,
        // Deterministic per block so replays give the same PREVRANDAO.
        prevrandao: Some(keccak256(number.to_be_bytes())),
        blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new(
            0,
            BLOB_BASE_FEE_UPDATE_FRACTION,
        )),
        ..Default::default()
    }
}

fn effective_gas_price(tx: &TxEnvelope, base_fee: u64) -> u128 {
    tx.effective_gas_price(Some(base_fee))
}

/// The revm transaction for a pooled transaction.
pub fn tx_env(tx: &PendingTx) -> TxEnv {
    let env = &tx.envelope;
    let mut builder = TxEnv::builder()
        .tx_type(Some(env.tx_type() as u8))
        .caller(tx.sender)
        .gas_limit(env.gas_limit())
        .gas_price(env.max_fee_per_gas())
        .kind(env.kind())
        .value(env.value())
        .data(env.input().clone())
        .nonce(env.nonce())
        .chain_id(env.chain_id())
        .access_list(env.access_list().cloned().unwrap_or_default())
        .gas_priority_fee(env.max_priority_fee_per_gas());
    if let Some(auths) = env.authorization_list() {
        builder = builder.authorization_list_signed(auths.to_vec());
    }
    builder.build_fill()
}

fn receipt_from(
    result: ExecutionResult,
    state: EvmState,
    cumulative_before: u64,
    effective_gas_price: u128,
) -> (TxReceipt, EvmState) {
    let (success, gas_used, logs, output, contract_address) = match result {
        ExecutionResult::Success {
            gas, logs, output, ..
        } => {
            let created = match &output {
                Output::Create(_, address) => *address,
                Output::Call(_) => None,
            };
            (true, gas.tx_gas_used(), logs, output.into_data(), created)
        }
        ExecutionResult::Revert { gas, output, .. } => {
            (false, gas.tx_gas_used(), Vec::new(), output, None)
        }
        ExecutionResult::Halt { gas, .. } => {
            (false, gas.tx_gas_used(), Vec::new(), Bytes::new(), None)
        }
    };
    let receipt = TxReceipt {
        success,
        cumulative_gas_used: cumulative_before + gas_used,
        gas_used,
        logs,
        contract_address,
        effective_gas_price,
        output,
    };
    (receipt, state)
}

/// Maps revm's refusal of a transaction to the JSON-RPC message clients expect.
fn invalid_tx_error<E: std::fmt::Debug>(err: EVMError<E, InvalidTransaction>) -> RpcError {
    match err {
        EVMError::Transaction(invalid) => RpcError::rejected(match invalid {
            InvalidTransaction::NonceTooLow { tx, state } => {
                format!("nonce too low: next nonce {state}, tx nonce {tx}")
            }
            InvalidTransaction::NonceTooHigh { tx, state } => {
                format!("nonce too high: next nonce {state}, tx nonce {tx}")
            }
            InvalidTransaction::LackOfFundForMaxFee { fee, balance } => {
                format!(
                    "insufficient funds for gas * price + value: balance {balance}, tx cost {fee}"
                )
            }
            InvalidTransaction::CallGasCostMoreThanGasLimit {
                initial_gas,
                gas_limit,
            } => {
                format!(
                    "intrinsic gas too low: gas limit {gas_limit}, at least {initial_gas} needed"
                )
            }
            InvalidTransaction::GasPriceLessThanBasefee => {
                "max fee per gas less than block base fee".to_string()
            }
            InvalidTransaction::InvalidChainId => "invalid chain id for signer".to_string(),
            InvalidTransaction::TxGasLimitGreaterThanCap { gas_limit, cap } => {
                format!(
                    "transaction gas limit {gas_limit} exceeds the per-transaction cap {cap} (EIP-7825)"
                )
            }
            other => format!("invalid transaction: {other}"),
        }),
        other => RpcError::internal(format!("evm error: {other:?}")),
    }
}
