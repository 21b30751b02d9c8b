//! JSON-RPC methods: one function per family, dispatched by name in [`Node::dispatch`].
//! Parameters are decoded here with errors that name the parameter; all chain logic lives in
//! [`crate::backend`].

use crate::{
    backend::{Backend, Block, CallOutcome, CallRequest, MinedTx, PendingTx},
    error::{RpcError, codes},
    fees::SUGGESTED_PRIORITY_FEE,
    filters::{self, Changes, Filters},
    state::CallOverrides,
};
use alloy::{
    consensus::{
        ReceiptEnvelope, SignableTransaction, Transaction as _, TxEnvelope, transaction::Recovered,
    },
    dyn_abi::TypedData,
    eips::{BlockId, BlockNumberOrTag, eip2718::Decodable2718},
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, KECCAK256_EMPTY, Signature, U64, U256, keccak256},
    rpc::types::{
        Block as RpcBlock, BlockTransactions, FeeHistory, Filter, Header as RpcHeader,
        Log as RpcLog, Transaction as RpcTransaction, TransactionReceipt, TransactionRequest,
        state::StateOverride,
    },
    signers::{SignerSync, local::PrivateKeySigner},
};
use revm::bytecode::Bytecode;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    sync::{Mutex, RwLock},
};

/// Shared node state behind the RPC server.
#[derive(Debug)]
pub struct Node {
    pub(crate) backend: RwLock<Backend>,
    pub(crate) filters: Mutex<Filters>,
    pub(crate) signers: HashMap<Address, PrivateKeySigner>,
    pub(crate) accounts: Vec<Address>,
    pub(crate) automine: bool,
}

type RpcResult = Result<Value, RpcError>;

/// Positional parameters with helpful decoding errors.
struct Params<'a> {
    method: &'a str,
    values: Vec<Value>,
}

impl<'a> Params<'a> {
    fn new(method: &'a str, params: Option<Value>) -> Result<Self, RpcError> {
        let values = match params {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(v)) => v,
            Some(other) => {
                return Err(RpcError::invalid_params(format!(
                    "{method}: params must be an array, got {}",
                    type_name(&other)
                )));
            }
        };
        Ok(Self { method, values })
    }

    fn required<T: DeserializeOwned>(&self, index: usize, name: &str) -> Result<T, RpcError> {
        match self.values.get(index) {
            Some(v) => self.decode(v, index, name),
            None => Err(RpcError::invalid_params(format!(
                "{}: missing parameter {index} ({name})",
                self.method
            ))),
        }
    }

    fn optional<T: DeserializeOwned>(
        &self,
        index: usize,
        name: &str,
    ) -> Result<Option<T>, RpcError> {
        match self.values.get(index) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => self.decode(v, index, name).map(Some),
        }
    }

    fn decode<T: DeserializeOwned>(
        &self,
        v: &Value,
        index: usize,
        name: &str,
    ) -> Result<T, RpcError> {
        T::deserialize(v).map_err(|e| {
            RpcError::invalid_params(format!(
                "{}: invalid parameter {index} ({name}): {e}",
                self.method
            ))
        })
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn to_value<T: serde::Serialize>(v: T) -> RpcResult {
    serde_json::to_value(v).map_err(|e| RpcError::internal(format!("could not encode result: {e}")))
}

/// `"0x…"` (quantity encoding: no leading zeros), as `format!("{n:#x}")` in JSON quotes.
fn push_quoted_hex(out: &mut Vec<u8>, n: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\"0x");
    let nibbles = (64 - n.leading_zeros()).div_ceil(4).max(1);
    for i in (0..nibbles).rev() {
        out.push(DIGITS[((n >> (i * 4)) & 0xf) as usize]);
    }
    out.push(b'"');
}

fn hex_u64(n: u64) -> Value {
    Value::String(format!("{n:#x}"))
}

impl Node {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Backend> {
        self.backend.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Backend> {
        self.backend.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the JSON result of a parameterless method that clients poll constantly
    /// (`eth_blockNumber`, `eth_chainId`) straight into `out`, skipping the `Value` that
    /// [`Node::dispatch`] builds; `false` (nothing written) for any other method. The answers are
    /// the same as `dispatch`'s (tested).
    pub(crate) fn write_polled_result(&self, method: &str, out: &mut Vec<u8>) -> bool {
        let n = match method {
            "eth_blockNumber" => self.read().head_number(),
            "eth_chainId" => self.read().spec().chain_id,
            _ => return false,
        };
        push_quoted_hex(out, n);
        true
    }

    /// Runs one JSON-RPC method.
    pub fn dispatch(&self, method: &str, params: Option<Value>) -> RpcResult {
        let p = Params::new(method, params)?;
        match method {
            "web3_clientVersion" => Ok(json!(concat!("arca-chain/v", env!("CARGO_PKG_VERSION")))),
            "web3_sha3" => Ok(json!(keccak256(p.required::<Bytes>(0, "data")?))),
            "net_version" => Ok(json!(self.read().spec().chain_id.to_string())),
            "net_listening" => Ok(json!(true)),
            "net_peerCount" => Ok(json!("0x0")),
            "eth_chainId" => Ok(hex_u64(self.read().spec().chain_id)),
            "eth_blockNumber" => Ok(hex_u64(self.read().head_number())),
            "eth_syncing" | "eth_mining" => Ok(json!(false)),
            "eth_hashrate" => Ok(json!("0x0")),
            "eth_coinbase" => Ok(json!(Address::ZERO)),
            "eth_accounts" => to_value(&self.accounts),
            "eth_gasPrice" => Ok(json!(format!(
                "{:#x}",
                self.read().next_base_fee() as u128 + SUGGESTED_PRIORITY_FEE
            ))),
            "eth_maxPriorityFeePerGas" => Ok(json!(format!("{SUGGESTED_PRIORITY_FEE:#x}"))),
            "eth_blobBaseFee" => Ok(json!("0x1")),
            "eth_feeHistory" => self.fee_history(&p),
            "eth_getBalance" => self.account_field(&p, |b, a, n| {
                json!(b.account_at(a, n).map(|r| r.balance).unwrap_or_default())
            }),
            "eth_getTransactionCount" => self.transaction_count(&p),
            "eth_getCode" => self.account_field(&p, |b, a, n| json!(b.code_at(a, n))),
            "eth_getStorageAt" => self.storage_at(&p),
            "eth_call" => self.call(&p),
            "eth_estimateGas" => self.estimate_gas(&p),
            "eth_sendRawTransaction" => self.send_raw(&p),
            "eth_sendTransaction" => self.send_transaction(&p),
            "eth_sign" => self.sign_message(&p, 0, 1),
            "personal_sign" => self.sign_message(&p, 1, 0),
            "eth_signTypedData_v4" | "eth_signTypedData" => self.sign_typed_data(&p),
            "eth_getTransactionByHash" => self.transaction_by_hash(&p),
            "eth_getTransactionReceipt" => self.receipt(&p),
            "eth_getBlockReceipts" => self.block_receipts(&p),
            "eth_getBlockByNumber" => {
                let full = p.optional::<bool>(1, "full transactions")?.unwrap_or(false);
                let b = self.read();
                let number = resolve_number(&b, p.required(0, "block")?);
                Ok(number
                    .and_then(|n| b.block(n))
                    .map(|blk| rpc_block(blk, full))
                    .unwrap_or(Value::Null))
            }
            "eth_getBlockByHash" => {
                let hash: B256 = p.required(0, "block hash")?;
                let full = p.optional::<bool>(1, "full transactions")?.unwrap_or(false);
                let b = self.read();
                Ok(b.block_by_hash(&hash)
                    .map(|blk| rpc_block(blk, full))
                    .unwrap_or(Value::Null))
            }
            "eth_getBlockTransactionCountByNumber" => {
                let b = self.read();
                let number = resolve_number(&b, p.required(0, "block")?);
                Ok(number
                    .and_then(|n| b.block(n))
                    .map(|blk| hex_u64(blk.txs.len() as u64))
                    .unwrap_or(Value::Null))
            }
            "eth_getBlockTransactionCountByHash" => {
                let hash: B256 = p.required(0, "block hash")?;
                let b = self.read();
                Ok(b.block_by_hash(&hash)
                    .map(|blk| hex_u64(blk.txs.len() as u64))
                    .unwrap_or(Value::Null))
            }
            "eth_getTransactionByBlockNumberAndIndex" => {
                let b = self.read();
                let number = resolve_number(&b, p.required(0, "block")?);
                let index: U64 = p.required(1, "index")?;
                Ok(number
                    .and_then(|n| b.block(n))
                    .and_then(|blk| {
                        blk.txs
                            .get(index.to::<usize>())
                            .map(|_| rpc_transaction(blk, index.to()))
                    })
                    .map(|t| json!(t))
                    .unwrap_or(Value::Null))
            }
            "eth_getLogs" => self.get_logs(&p),
            "eth_newFilter" => {
                let filter: Filter = p.required(0, "filter")?;
                let head = self.read().head_number();
                Ok(json!(self.filters().new_logs(filter, head)))
            }
            "eth_newBlockFilter" => {
                let head = self.read().head_number();
                Ok(json!(self.filters().new_blocks(head)))
            }
            "eth_newPendingTransactionFilter" => {
                let head = self.read().head_number();
                Ok(json!(self.filters().new_pending_transactions(head)))
            }
            "eth_getFilterChanges" => {
                let id: U256 = p.required(0, "filter id")?;
                let b = self.read();
                match self.filters().changes(id, &b) {
                    Some(Changes::Logs(logs)) => to_value(logs),
                    Some(Changes::Hashes(h)) => to_value(h),
                    None => Err(filter_not_found(id)),
                }
            }
            "eth_getFilterLogs" => {
                let id: U256 = p.required(0, "filter id")?;
                let filter = self
                    .filters()
                    .filter(id)
                    .ok_or_else(|| filter_not_found(id))?;
                self.logs_for(&filter)
            }
            "eth_uninstallFilter" => {
                let id: U256 = p.required(0, "filter id")?;
                Ok(json!(self.filters().uninstall(id)))
            }
            "evm_mine" | "anvil_mine" | "hardhat_mine" => self.mine(&p, method == "evm_mine"),
            "evm_increaseTime" | "anvil_increaseTime" => {
                let seconds: U256 = p.required(0, "seconds")?;
                let seconds = i64::try_from(seconds).map_err(|_| {
                    RpcError::invalid_params("evm_increaseTime: seconds is too large")
                })?;
                Ok(hex_u64(self.write().increase_time(seconds) as u64))
            }
            "evm_setNextBlockTimestamp" | "anvil_setNextBlockTimestamp" => {
                let ts: U256 = p.required(0, "timestamp")?;
                let ts = u64::try_from(ts)
                    .map_err(|_| RpcError::invalid_params("timestamp is too large"))?;
                self.write().set_next_timestamp(ts)?;
                Ok(Value::Null)
            }
            "evm_snapshot" | "anvil_snapshot" => Ok(hex_u64(self.write().snapshot())),
            "evm_revert" | "anvil_revert" => {
                let id: U256 = p.required(0, "snapshot id")?;
                let id = u64::try_from(id).unwrap_or(u64::MAX);
                Ok(json!(self.write().revert_to(id)?))
            }
            "anvil_setBalance" | "hardhat_setBalance" => {
                let address: Address = p.required(0, "address")?;
                let balance: U256 = p.required(1, "balance")?;
                self.write().edit_account(address, |r| {
                    r.balance = balance;
                    None
                })?;
                Ok(Value::Null)
            }
            "anvil_setNonce" | "hardhat_setNonce" => {
                let address: Address = p.required(0, "address")?;
                let nonce: U64 = p.required(1, "nonce")?;
                self.write().edit_account(address, |r| {
                    r.nonce = nonce.to();
                    None
                })?;
                Ok(Value::Null)
            }
            "anvil_setCode" | "hardhat_setCode" => {
                let address: Address = p.required(0, "address")?;
                let code: Bytes = p.required(1, "code")?;
                self.write().edit_account(address, |r| {
                    if code.is_empty() {
                        r.code_hash = KECCAK256_EMPTY;
                        None
                    } else {
                        r.code_hash = keccak256(&code);
                        Some(Bytecode::new_raw(code))
                    }
                })?;
                Ok(Value::Null)
            }
            "anvil_setStorageAt" | "hardhat_setStorageAt" => {
                let address: Address = p.required(0, "address")?;
                let slot: U256 = p.required(1, "slot")?;
                let value: B256 = p.required(2, "value")?;
                self.write().edit_storage(address, slot, value.into())?;
                Ok(json!(true))
            }
            "anvil_impersonateAccount" | "hardhat_impersonateAccount" => {
                let address: Address = p.required(0, "address")?;
                self.write().set_impersonated(address, true);
                Ok(Value::Null)
            }
            "anvil_stopImpersonatingAccount" | "hardhat_stopImpersonatingAccount" => {
                let address: Address = p.required(0, "address")?;
                self.write().set_impersonated(address, false);
                Ok(Value::Null)
            }
            _ => Err(RpcError::new(
                codes::METHOD_NOT_FOUND,
                format!("the method {method} does not exist/is not available"),
            )),
        }
    }

    fn filters(&self) -> std::sync::MutexGuard<'_, Filters> {
        self.filters.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn account_field(
        &self,
        p: &Params<'_>,
        get: impl Fn(&Backend, Address, u64) -> Value,
    ) -> RpcResult {
        let address: Address = p.required(0, "address")?;
        let b = self.read();
        let number = block_param(&b, p.optional(1, "block")?)?;
        Ok(get(&b, address, number))
    }

    fn transaction_count(&self, p: &Params<'_>) -> RpcResult {
        let address: Address = p.required(0, "address")?;
        let tag: Option<BlockId> = p.optional(1, "block")?;
        let b = self.read();
        if matches!(tag, Some(BlockId::Number(BlockNumberOrTag::Pending))) {
            return Ok(hex_u64(b.pending_nonce(address)));
        }
        let number = block_param(&b, tag)?;
        Ok(hex_u64(
            b.account_at(address, number)
                .map(|r| r.nonce)
                .unwrap_or_default(),
        ))
    }

    fn storage_at(&self, p: &Params<'_>) -> RpcResult {
        let address: Address = p.required(0, "address")?;
        let slot: U256 = p.required(1, "slot")?;
        let b = self.read();
        let number = block_param(&b, p.optional(2, "block")?)?;
        Ok(json!(B256::from(b.storage_at(address, slot, number))))
    }

    fn call_args(
        &self,
        p: &Params<'_>,
        b: &Backend,
    ) -> Result<(CallRequest, u64, Option<CallOverrides>), RpcError> {
        let request: TransactionRequest = p.required(0, "transaction")?;
        let number = block_param(b, p.optional(1, "block")?)?;
        let overrides: Option<StateOverride> = p.optional(2, "state overrides")?;
        Ok((
            call_request(&request),
            number,
            overrides.map(|o| call_overrides(&o, b, number)),
        ))
    }

    fn call(&self, p: &Params<'_>) -> RpcResult {
        let b = self.read();
        let (request, number, overrides) = self.call_args(p, &b)?;
        match b.call(&request, Some(number), overrides.as_ref())? {
            CallOutcome::Success { output, .. } => Ok(json!(output)),
            CallOutcome::Revert { output, .. } => Err(RpcError::reverted(&output)),
            CallOutcome::Halt { reason, .. } => Err(RpcError::new(
                codes::EXECUTION_REVERTED,
                format!("execution halted: {reason}"),
            )),
        }
    }

    fn estimate_gas(&self, p: &Params<'_>) -> RpcResult {
        let b = self.read();
        let (request, number, overrides) = self.call_args(p, &b)?;
        Ok(hex_u64(b.estimate_gas(
            &request,
            Some(number),
            overrides.as_ref(),
        )?))
    }

    fn fee_history(&self, p: &Params<'_>) -> RpcResult {
        let count: U64 = p.required(0, "block count")?;
        let newest: BlockNumberOrTag = p.required(1, "newest block")?;
        let percentiles: Option<Vec<f64>> = p.optional(2, "reward percentiles")?;
        if let Some(ps) = &percentiles
            && (ps.iter().any(|x| !(0.0..=100.0).contains(x)) || ps.windows(2).any(|w| w[0] > w[1]))
        {
            return Err(RpcError::invalid_params(
                "eth_feeHistory: reward percentiles must be ascending values between 0 and 100",
            ));
        }
        let b = self.read();
        let newest = resolve_number(&b, BlockId::Number(newest))
            .unwrap_or(b.head_number())
            .min(b.head_number());
        let count = count.to::<u64>().clamp(1, 1024).min(newest + 1);
        let oldest = newest + 1 - count;
        let mut history = FeeHistory {
            oldest_block: oldest,
            ..Default::default()
        };
        let mut rewards = Vec::new();
        for n in oldest..=newest {
            let block = b.block(n).expect("in range");
            let base_fee = block.header.base_fee_per_gas.unwrap_or_default();
            history.base_fee_per_gas.push(base_fee as u128);
            history
                .gas_used_ratio
                .push(block.header.gas_used as f64 / block.header.gas_limit as f64);
            history.base_fee_per_blob_gas.push(1);
            history.blob_gas_used_ratio.push(0.0);
            if let Some(ps) = &percentiles {
                rewards.push(block_rewards(block, base_fee, ps));
            }
        }
        // One more entry: the base fee of the block after `newest`.
        let next = if newest == b.head_number() {
            b.next_base_fee()
        } else {
            b.block(newest + 1)
                .and_then(|x| x.header.base_fee_per_gas)
                .unwrap_or_default()
        };
        history.base_fee_per_gas.push(next as u128);
        history.base_fee_per_blob_gas.push(1);
        history.reward = percentiles.map(|_| rewards);
        to_value(history)
    }

    fn send_raw(&self, p: &Params<'_>) -> RpcResult {
        let raw: Bytes = p.required(0, "signed transaction")?;
        let envelope = TxEnvelope::decode_2718(&mut raw.as_ref()).map_err(|e| {
            RpcError::invalid_params(format!(
                "eth_sendRawTransaction: failed to decode transaction: {e}"
            ))
        })?;
        Ok(json!(self.write().submit(envelope, self.automine)?))
    }

    fn send_transaction(&self, p: &Params<'_>) -> RpcResult {
        let mut request: TransactionRequest = p.required(0, "transaction")?;
        let from = request.from.ok_or_else(|| {
            RpcError::invalid_params("eth_sendTransaction: the transaction needs a `from` address")
        })?;
        let mut b = self.write();
        let impersonated = b.is_impersonated(&from);
        let signer = self.signers.get(&from);
        if signer.is_none() && !impersonated {
            return Err(RpcError::new(
                codes::INVALID_PARAMS,
                format!(
                    "no signer for {from}: it is not a dev account of this node; sign the transaction yourself and use eth_sendRawTransaction, or call anvil_impersonateAccount first"
                ),
            ));
        }
        fill_transaction(&mut request, &b, from)?;
        let typed = request.build_typed_tx().map_err(|_| {
            RpcError::invalid_params(
                "eth_sendTransaction: incomplete transaction (missing fee or gas fields)",
            )
        })?;
        let (envelope, hash) = match signer {
            Some(signer) => {
                let mut tx = typed;
                let sig = signer
                    .sign_transaction_sync(&mut tx)
                    .map_err(|e| RpcError::internal(format!("signing failed: {e}")))?;
                let envelope: TxEnvelope = tx.into_signed(sig).into();
                let hash = *envelope.tx_hash();
                (envelope, hash)
            }
            None => {
                // Impersonation: a placeholder signature; the hash also commits to the sender so
                // two impersonated senders with identical transactions get distinct hashes.
                let envelope: TxEnvelope = typed.into_signed(Signature::test_signature()).into();
                let mut buf = alloy::eips::eip2718::Encodable2718::encoded_2718(&envelope);
                buf.extend_from_slice(from.as_slice());
                (envelope, keccak256(buf))
            }
        };
        Ok(json!(b.submit_as(
            PendingTx {
                hash,
                envelope,
                sender: from
            },
            self.automine
        )?))
    }

    fn signer_for(&self, address: &Address) -> Result<&PrivateKeySigner, RpcError> {
        self.signers.get(address).ok_or_else(|| {
            RpcError::invalid_params(format!(
                "no signer for {address}: only this node's dev accounts can sign here"
            ))
        })
    }

    fn sign_message(&self, p: &Params<'_>, address_index: usize, data_index: usize) -> RpcResult {
        let address: Address = p.required(address_index, "address")?;
        let data: Bytes = p.required(data_index, "message")?;
        let sig = self
            .signer_for(&address)?
            .sign_message_sync(&data)
            .map_err(|e| RpcError::internal(format!("signing failed: {e}")))?;
        Ok(json!(Bytes::from(sig.as_bytes().to_vec())))
    }

    fn sign_typed_data(&self, p: &Params<'_>) -> RpcResult {
        let address: Address = p.required(0, "address")?;
        // Wallets send the typed data either as an object or as a JSON string.
        let raw: Value = p.required(1, "typed data")?;
        let typed: TypedData = match raw {
            Value::String(s) => serde_json::from_str(&s),
            other => serde_json::from_value(other),
        }
        .map_err(|e| {
            RpcError::invalid_params(format!("eth_signTypedData_v4: invalid typed data: {e}"))
        })?;
        let hash = typed.eip712_signing_hash().map_err(|e| {
            RpcError::invalid_params(format!("eth_signTypedData_v4: cannot hash typed data: {e}"))
        })?;
        let sig = self
            .signer_for(&address)?
            .sign_hash_sync(&hash)
            .map_err(|e| RpcError::internal(format!("signing failed: {e}")))?;
        Ok(json!(Bytes::from(sig.as_bytes().to_vec())))
    }

    fn transaction_by_hash(&self, p: &Params<'_>) -> RpcResult {
        let hash: B256 = p.required(0, "transaction hash")?;
        let b = self.read();
        if let Some((block, index)) = b.transaction(&hash) {
            return to_value(rpc_transaction(block, index));
        }
        if let Some(pending) = b.pending_transaction(&hash) {
            let tx = RpcTransaction {
                inner: Recovered::new_unchecked(pending.envelope.clone(), pending.sender),
                block_hash: None,
                block_number: None,
                transaction_index: None,
                effective_gas_price: None,
                block_timestamp: None,
            };
            return to_value(tx);
        }
        Ok(Value::Null)
    }

    fn receipt(&self, p: &Params<'_>) -> RpcResult {
        let hash: B256 = p.required(0, "transaction hash")?;
        let b = self.read();
        match b.transaction(&hash) {
            Some((block, index)) => to_value(rpc_receipt(block, index)),
            None => Ok(Value::Null),
        }
    }

    fn block_receipts(&self, p: &Params<'_>) -> RpcResult {
        let b = self.read();
        let number = resolve_number(&b, p.required(0, "block")?);
        match number.and_then(|n| b.block(n)) {
            Some(block) => to_value(
                (0..block.txs.len())
                    .map(|i| rpc_receipt(block, i))
                    .collect::<Vec<_>>(),
            ),
            None => Ok(Value::Null),
        }
    }

    fn get_logs(&self, p: &Params<'_>) -> RpcResult {
        let filter: Filter = p.required(0, "filter")?;
        self.logs_for(&filter)
    }

    fn logs_for(&self, filter: &Filter) -> RpcResult {
        let b = self.read();
        let (from, to) = filters::block_range(filter, &b).map_err(RpcError::invalid_params)?;
        let mut logs: Vec<RpcLog> = Vec::new();
        for n in from..=to {
            if let Some(block) = b.block(n) {
                filters::append_matching_logs(filter, block, &mut logs);
            }
            if logs.len() > filters::MAX_LOGS {
                return Err(RpcError::new(
                    -32005,
                    format!(
                        "query returned more than {} results; narrow the block range (stopped at block {n})",
                        filters::MAX_LOGS
                    ),
                ));
            }
        }
        to_value(logs)
    }

    fn mine(&self, p: &Params<'_>, evm_mine: bool) -> RpcResult {
        let mut b = self.write();
        // evm_mine takes an optional timestamp; anvil_mine a block count and an interval.
        if evm_mine {
            let ts: Option<Value> = p.optional(0, "timestamp")?;
            let ts = match ts {
                Some(Value::Object(o)) => o.get("timestamp").and_then(parse_quantity),
                Some(v) => parse_quantity(&v),
                None => None,
            };
            b.mine_one(ts)?;
            return Ok(json!("0x0"));
        }
        let count: Option<U256> = p.optional(0, "block count")?;
        let interval: Option<U256> = p.optional(1, "interval")?;
        let count = count
            .map(|c| c.saturating_to::<u64>())
            .unwrap_or(1)
            .clamp(1, 100_000);
        for _ in 0..count {
            let ts = interval.map(|i| b.head().header.timestamp + i.saturating_to::<u64>());
            b.mine_one(ts)?;
        }
        Ok(Value::Null)
    }
}

fn parse_quantity(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s
            .strip_prefix("0x")
            .map_or_else(|| s.parse().ok(), |h| u64::from_str_radix(h, 16).ok()),
        _ => None,
    }
}

fn filter_not_found(id: U256) -> RpcError {
    RpcError::new(
        codes::NOT_FOUND,
        format!("filter {id:#x} not found (filters expire after 5 minutes without polling)"),
    )
}

/// Resolves a block id to a number on this chain (`None` when the block is unknown).
fn resolve_number(b: &Backend, id: BlockId) -> Option<u64> {
    match id {
        BlockId::Hash(h) => b.block_by_hash(&h.block_hash).map(|blk| blk.header.number),
        BlockId::Number(tag) => match tag {
            BlockNumberOrTag::Number(n) => (n <= b.head_number()).then_some(n),
            BlockNumberOrTag::Earliest => Some(0),
            _ => Some(b.head_number()),
        },
    }
}

fn block_param(b: &Backend, id: Option<BlockId>) -> Result<u64, RpcError> {
    let id = id.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest));
    resolve_number(b, id).ok_or_else(|| {
        RpcError::invalid_params(format!(
            "block {id} not found; the chain head is block {}",
            b.head_number()
        ))
    })
}

fn call_request(r: &TransactionRequest) -> CallRequest {
    CallRequest {
        from: r.from.unwrap_or_default(),
        to: r.to.and_then(|k| k.to().copied()),
        gas: r.gas,
        gas_price: r.gas_price.or(r.max_fee_per_gas),
        priority_fee: r.max_priority_fee_per_gas,
        value: r.value.unwrap_or_default(),
        input: r.input.input().cloned().unwrap_or_default(),
        nonce: r.nonce,
        access_list: r.access_list.clone().unwrap_or_default(),
    }
}

fn call_overrides(o: &StateOverride, b: &Backend, number: u64) -> CallOverrides {
    let mut out = CallOverrides::default();
    for (address, account) in o.iter() {
        let mut record = b
            .account_at(*address, number)
            .unwrap_or(crate::state::AccountRecord {
                balance: U256::ZERO,
                nonce: 0,
                code_hash: KECCAK256_EMPTY,
            });
        if let Some(balance) = account.balance {
            record.balance = balance;
        }
        if let Some(nonce) = account.nonce {
            record.nonce = nonce;
        }
        if let Some(code) = &account.code {
            record.code_hash = keccak256(code);
            out.codes
                .insert(record.code_hash, Bytecode::new_raw(code.clone()));
        }
        out.accounts.insert(*address, record);
        if let Some(state) = &account.state {
            out.replaced_storage.insert(
                *address,
                state
                    .iter()
                    .map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0)))
                    .collect(),
            );
        }
        if let Some(diff) = &account.state_diff {
            for (k, v) in diff {
                out.storage.insert(
                    (*address, U256::from_be_bytes(k.0)),
                    U256::from_be_bytes(v.0),
                );
            }
        }
    }
    out
}

/// Fills nonce, chain id, fees and gas of a dev-account transaction, as wallets do.
fn fill_transaction(
    request: &mut TransactionRequest,
    b: &Backend,
    from: Address,
) -> Result<(), RpcError> {
    request.chain_id.get_or_insert(b.spec().chain_id);
    if request.nonce.is_none() {
        request.nonce = Some(b.pending_nonce(from));
    }
    if request.gas_price.is_none() {
        let base = b.next_base_fee() as u128;
        let tip = *request
            .max_priority_fee_per_gas
            .get_or_insert(SUGGESTED_PRIORITY_FEE);
        request.max_fee_per_gas.get_or_insert(2 * base + tip);
    }
    if request.to.is_none() {
        request.to = Some(alloy::primitives::TxKind::Create);
    }
    if request.gas.is_none() {
        let call = CallRequest {
            gas_price: None,
            priority_fee: None,
            ..call_request(request)
        };
        request.gas = Some(b.estimate_gas(&call, None, None)?);
    }
    Ok(())
}

/// Effective tips at the requested percentiles of gas used (as geth computes them).
fn block_rewards(block: &Block, base_fee: u64, percentiles: &[f64]) -> Vec<u128> {
    if block.txs.is_empty() {
        return vec![0; percentiles.len()];
    }
    let mut tips: Vec<(u128, u64)> = block
        .txs
        .iter()
        .map(|t| {
            (
                t.envelope
                    .effective_tip_per_gas(base_fee)
                    .unwrap_or_default(),
                t.receipt.gas_used,
            )
        })
        .collect();
    tips.sort_unstable();
    let total: u64 = tips.iter().map(|t| t.1).sum();
    percentiles
        .iter()
        .map(|p| {
            let threshold = (total as f64 * p / 100.0) as u64;
            let mut acc = 0u64;
            for (tip, gas) in &tips {
                acc += gas;
                if acc >= threshold {
                    return *tip;
                }
            }
            tips.last().map(|t| t.0).unwrap_or_default()
        })
        .collect()
}

/// RPC form of a transaction in a block.
pub fn rpc_transaction(block: &Block, index: usize) -> RpcTransaction {
    let tx: &MinedTx = &block.txs[index];
    RpcTransaction {
        inner: Recovered::new_unchecked(tx.envelope.clone(), tx.sender),
        block_hash: Some(block.hash),
        block_number: Some(block.header.number),
        transaction_index: Some(index as u64),
        effective_gas_price: Some(tx.receipt.effective_gas_price),
        block_timestamp: Some(block.header.timestamp),
    }
}

/// RPC form of a receipt.
pub fn rpc_receipt(block: &Block, index: usize) -> TransactionReceipt {
    let tx = &block.txs[index];
    let first_log_index: usize = block.txs[..index]
        .iter()
        .map(|t| t.receipt.logs.len())
        .sum();
    let logs: Vec<RpcLog> = tx
        .receipt
        .logs
        .iter()
        .enumerate()
        .map(|(i, log)| RpcLog {
            inner: log.clone(),
            block_hash: Some(block.hash),
            block_number: Some(block.header.number),
            block_timestamp: Some(block.header.timestamp),
            transaction_hash: Some(tx.hash),
            transaction_index: Some(index as u64),
            log_index: Some((first_log_index + i) as u64),
            removed: false,
        })
        .collect();
    let receipt = alloy::consensus::Receipt {
        status: tx.receipt.success.into(),
        cumulative_gas_used: tx.receipt.cumulative_gas_used,
        logs,
    };
    let inner = ReceiptEnvelope::from_typed(
        tx.envelope.tx_type(),
        alloy::consensus::ReceiptWithBloom::new(receipt, tx.receipt.bloom()),
    );
    TransactionReceipt {
        inner,
        transaction_hash: tx.hash,
        transaction_index: Some(index as u64),
        block_hash: Some(block.hash),
        block_number: Some(block.header.number),
        gas_used: tx.receipt.gas_used,
        effective_gas_price: tx.receipt.effective_gas_price,
        blob_gas_used: None,
        blob_gas_price: None,
        from: tx.sender,
        to: tx.envelope.to(),
        contract_address: tx.receipt.contract_address,
    }
}

/// RPC form of a block.
pub fn rpc_block(block: &Block, full: bool) -> Value {
    let transactions = if full {
        BlockTransactions::Full(
            (0..block.txs.len())
                .map(|i| rpc_transaction(block, i))
                .collect(),
        )
    } else {
        BlockTransactions::Hashes(block.txs.iter().map(|t| t.hash).collect())
    };
    let rpc = RpcBlock {
        header: RpcHeader {
            hash: block.hash,
            inner: block.header.clone(),
            total_difficulty: Some(U256::ZERO),
            size: Some(U256::from(block.size())),
        },
        uncles: Vec::new(),
        transactions,
        withdrawals: Some(Default::default()),
    };
    serde_json::to_value(rpc).unwrap_or(Value::Null)
}

/// RPC form of a block header (`newHeads` notifications).
pub fn rpc_header(block: &Block) -> Value {
    let header = RpcHeader {
        hash: block.hash,
        inner: block.header.clone(),
        total_difficulty: Some(U256::ZERO),
        size: Some(U256::from(block.size())),
    };
    serde_json::to_value(header).unwrap_or(Value::Null)
}

impl Backend {
    /// Account as of block `number`.
    pub fn account_at(&self, address: Address, number: u64) -> Option<crate::state::AccountRecord> {
        use revm::database_interface::Database;
        if number >= self.head_number() {
            return self.state().account(address).cloned();
        }
        let overlay = self.historic_overlay(number);
        let mut view = crate::state::StateView {
            state: self.state(),
            historic: overlay.as_ref(),
            overrides: None,
            block_hashes: self.block_hashes(),
        };
        view.basic(address)
            .ok()
            .flatten()
            .map(|i| crate::state::AccountRecord {
                balance: i.balance,
                nonce: i.nonce,
                code_hash: i.code_hash,
            })
    }

    /// Code as of block `number`.
    pub fn code_at(&self, address: Address, number: u64) -> Bytes {
        match self.account_at(address, number) {
            Some(r) if r.code_hash != KECCAK256_EMPTY => self
                .state()
                .code(r.code_hash)
                .map(|c| c.original_bytes())
                .unwrap_or_default(),
            _ => Bytes::new(),
        }
    }

    /// Storage slot as of block `number`.
    pub fn storage_at(&self, address: Address, slot: U256, number: u64) -> U256 {
        use revm::database_interface::Database;
        if number >= self.head_number() {
            return self.state().storage(address, slot);
        }
        let overlay = self.historic_overlay(number);
        let mut view = crate::state::StateView {
            state: self.state(),
            historic: overlay.as_ref(),
            overrides: None,
            block_hashes: self.block_hashes(),
        };
        view.storage(address, slot).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_hex_matches_the_quantity_encoding() {
        for n in [0u64, 1, 9, 10, 15, 16, 255, 256, 0x539, 1 << 32, u64::MAX] {
            let mut out = Vec::new();
            push_quoted_hex(&mut out, n);
            assert_eq!(String::from_utf8(out).unwrap(), format!("\"{n:#x}\""));
        }
    }

    #[test]
    fn polled_results_are_the_same_as_dispatch() {
        let (node, _) = crate::build_node(&crate::NodeConfig::test()).unwrap();
        node.dispatch("evm_mine", None).unwrap();
        node.dispatch("evm_mine", None).unwrap();
        for method in ["eth_blockNumber", "eth_chainId"] {
            let mut out = Vec::new();
            assert!(node.write_polled_result(method, &mut out), "{method}");
            let slow = node.dispatch(method, None).unwrap().to_string();
            assert_eq!(String::from_utf8(out).unwrap(), slow, "{method}");
        }
        let mut out = Vec::new();
        assert!(!node.write_polled_result("eth_gasPrice", &mut out));
        assert!(out.is_empty());
    }
}
