//! World state of the dev chain: accounts, storage and code held in memory, the per-block undo
//! journal that makes `evm_revert` and historical reads possible, and the read view that revm
//! executes against.
//!
//! Why our own state instead of revm's `CacheDB`: we need to know exactly which values a block
//! changed (to persist them atomically and to undo them), and to read the state "as of" an older
//! block without copying the whole world.

use alloy::primitives::{Address, B256, KECCAK256_EMPTY, U256, map::HashMap};
use revm::{
    bytecode::Bytecode,
    database_interface::{DBErrorMarker, Database},
    state::{AccountInfo, EvmState},
};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;

/// One account in the world state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// Balance in wei.
    pub balance: U256,
    /// Transaction count (or creation count for contracts).
    pub nonce: u64,
    /// Hash of the account's code; `KECCAK256_EMPTY` for externally owned accounts.
    pub code_hash: B256,
}

impl Default for AccountRecord {
    fn default() -> Self {
        Self {
            balance: U256::ZERO,
            nonce: 0,
            code_hash: KECCAK256_EMPTY,
        }
    }
}

impl AccountRecord {
    fn is_empty(&self) -> bool {
        self.balance.is_zero() && self.nonce == 0 && self.code_hash == KECCAK256_EMPTY
    }
}

#[derive(Debug, Clone, Default)]
struct Account {
    record: AccountRecord,
    storage: HashMap<U256, U256>,
}

/// Values a block overwrote, recorded the first time the block touched them, so that the block
/// can be undone exactly (`None` = the account or slot did not exist before).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undo {
    /// Previous account records, in first-touch order.
    pub accounts: Vec<(Address, Option<AccountRecord>)>,
    /// Previous storage values (zero = absent).
    pub storage: Vec<(Address, U256, U256)>,
}

/// What a block changed, in the form the persistent store needs to write it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateDiff {
    /// Accounts written (`None` = deleted).
    pub accounts: Vec<(Address, Option<AccountRecord>)>,
    /// Storage slots written (zero = deleted).
    pub storage: Vec<(Address, U256, U256)>,
    /// Code first seen in this block.
    pub codes: Vec<(B256, alloy::primitives::Bytes)>,
}

/// The in-memory world state.
#[derive(Debug, Default)]
pub struct WorldState {
    accounts: HashMap<Address, Account>,
    codes: HashMap<B256, Bytecode>,
}

/// Collects the undo record and the diff of one block while its transactions are applied.
#[derive(Debug, Default)]
pub struct BlockChanges {
    undo: Undo,
    seen_accounts: HashMap<Address, ()>,
    seen_slots: HashMap<(Address, U256), ()>,
    new_codes: Vec<(B256, alloy::primitives::Bytes)>,
}

impl BlockChanges {
    /// Finishes the block: the undo record and the final values of everything it touched.
    pub fn finish(self, state: &WorldState) -> (Undo, StateDiff) {
        let diff = self.peek_diff(state);
        (self.undo, diff)
    }

    /// The undo record so far.
    pub fn peek_undo(&self) -> Undo {
        self.undo.clone()
    }

    /// Current values of everything touched so far.
    pub fn peek_diff(&self, state: &WorldState) -> StateDiff {
        let mut diff = StateDiff {
            codes: self.new_codes.clone(),
            ..Default::default()
        };
        for (address, _) in &self.undo.accounts {
            diff.accounts.push((
                *address,
                state.accounts.get(address).map(|a| a.record.clone()),
            ));
        }
        for (address, slot, _) in &self.undo.storage {
            diff.storage
                .push((*address, *slot, state.storage(*address, *slot)));
        }
        diff
    }
}

impl WorldState {
    /// Account record, if the account exists.
    pub fn account(&self, address: Address) -> Option<&AccountRecord> {
        self.accounts.get(&address).map(|a| &a.record)
    }

    /// Storage value (zero when unset).
    pub fn storage(&self, address: Address, slot: U256) -> U256 {
        self.accounts
            .get(&address)
            .and_then(|a| a.storage.get(&slot).copied())
            .unwrap_or_default()
    }

    /// Code by hash.
    pub fn code(&self, hash: B256) -> Option<&Bytecode> {
        self.codes.get(&hash)
    }

    /// Code of an account (empty for EOAs and unknown accounts).
    pub fn code_of(&self, address: Address) -> alloy::primitives::Bytes {
        self.account(address)
            .and_then(|a| self.codes.get(&a.code_hash))
            .map(|c| c.original_bytes())
            .unwrap_or_default()
    }

    /// Number of accounts (for diagnostics).
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether no account exists.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    fn note_account(&self, changes: &mut BlockChanges, address: Address) {
        if changes.seen_accounts.insert(address, ()).is_none() {
            changes
                .undo
                .accounts
                .push((address, self.account(address).cloned()));
        }
    }

    fn note_slot(&self, changes: &mut BlockChanges, address: Address, slot: U256) {
        if changes.seen_slots.insert((address, slot), ()).is_none() {
            changes
                .undo
                .storage
                .push((address, slot, self.storage(address, slot)));
        }
    }

    /// Sets an account's balance/nonce/code directly (genesis, `anvil_setBalance`, `anvil_setCode`).
    pub fn set_account(
        &mut self,
        changes: &mut BlockChanges,
        address: Address,
        record: AccountRecord,
        code: Option<Bytecode>,
    ) {
        self.note_account(changes, address);
        if let Some(code) = code {
            self.insert_code(changes, record.code_hash, code);
        }
        self.accounts.entry(address).or_default().record = record;
    }

    /// Sets one storage slot directly (`anvil_setStorageAt`).
    pub fn set_storage(
        &mut self,
        changes: &mut BlockChanges,
        address: Address,
        slot: U256,
        value: U256,
    ) {
        self.note_account(changes, address);
        self.note_slot(changes, address, slot);
        let account = self.accounts.entry(address).or_default();
        if value.is_zero() {
            account.storage.remove(&slot);
        } else {
            account.storage.insert(slot, value);
        }
    }

    fn insert_code(&mut self, changes: &mut BlockChanges, hash: B256, code: Bytecode) {
        if hash != KECCAK256_EMPTY && !self.codes.contains_key(&hash) {
            changes.new_codes.push((hash, code.original_bytes()));
            self.codes.insert(hash, code);
        }
    }

    /// Applies the state changes of one executed transaction, recording undo information.
    pub fn apply(&mut self, changes: &mut BlockChanges, evm_state: EvmState) {
        for (address, account) in evm_state {
            if !account.is_touched() {
                continue;
            }
            self.note_account(changes, address);
            if account.is_selfdestructed() {
                let slots: Vec<U256> = self
                    .accounts
                    .get(&address)
                    .map(|a| a.storage.keys().copied().collect())
                    .unwrap_or_default();
                for slot in slots {
                    self.note_slot(changes, address, slot);
                }
                self.accounts.remove(&address);
                continue;
            }
            if account.is_created() {
                let slots: Vec<U256> = self
                    .accounts
                    .get(&address)
                    .map(|a| a.storage.keys().copied().collect())
                    .unwrap_or_default();
                for slot in slots {
                    self.note_slot(changes, address, slot);
                }
                if let Some(a) = self.accounts.get_mut(&address) {
                    a.storage.clear();
                }
            }
            if let Some(code) = account.info.code.clone() {
                self.insert_code(changes, account.info.code_hash, code);
            }
            for (slot, value) in account.storage.iter() {
                if value.is_changed() {
                    self.note_slot(changes, address, *slot);
                }
            }
            let entry = self.accounts.entry(address).or_default();
            entry.record = AccountRecord {
                balance: account.info.balance,
                nonce: account.info.nonce,
                code_hash: account.info.code_hash,
            };
            for (slot, value) in account.storage {
                if !value.is_changed() {
                    continue;
                }
                let present = value.present_value();
                if present.is_zero() {
                    entry.storage.remove(&slot);
                } else {
                    entry.storage.insert(slot, present);
                }
            }
            // EIP-161: touched accounts left empty are removed from the state.
            if entry.record.is_empty() && entry.storage.is_empty() {
                self.accounts.remove(&address);
            }
        }
    }

    /// Reverts one block's changes (blocks must be undone newest first).
    pub fn undo(&mut self, undo: &Undo) {
        for (address, previous) in undo.accounts.iter().rev() {
            match previous {
                Some(record) => self.accounts.entry(*address).or_default().record = record.clone(),
                None => {
                    // The account did not exist: its storage is restored below (to nothing).
                    if let Some(a) = self.accounts.get_mut(address) {
                        a.record = AccountRecord::default();
                    }
                }
            }
        }
        for (address, slot, value) in undo.storage.iter().rev() {
            let account = self.accounts.entry(*address).or_default();
            if value.is_zero() {
                account.storage.remove(slot);
            } else {
                account.storage.insert(*slot, *value);
            }
        }
        for (address, previous) in &undo.accounts {
            if previous.is_none()
                && let Some(a) = self.accounts.get(address)
                && a.storage.is_empty()
                && a.record.is_empty()
            {
                self.accounts.remove(address);
            }
        }
    }

    /// Loads one persisted account (start-up only).
    pub fn load_account(&mut self, address: Address, record: AccountRecord) {
        self.accounts.entry(address).or_default().record = record;
    }

    /// Loads one persisted storage slot (start-up only).
    pub fn load_storage(&mut self, address: Address, slot: U256, value: U256) {
        self.accounts
            .entry(address)
            .or_default()
            .storage
            .insert(slot, value);
    }

    /// Loads one persisted code blob (start-up only).
    pub fn load_code(&mut self, hash: B256, code: alloy::primitives::Bytes) {
        self.codes.insert(hash, Bytecode::new_raw(code));
    }
}

/// Values that differ between the latest state and the state at an older block: built by walking
/// the undo journal backwards, so historical reads cost as much as the blocks in between changed.
#[derive(Debug, Default)]
pub struct HistoricOverlay {
    accounts: HashMap<Address, Option<AccountRecord>>,
    storage: HashMap<(Address, U256), U256>,
}

impl HistoricOverlay {
    /// Folds undo records, newest first, into one overlay.
    pub fn from_undos<'a>(undos: impl Iterator<Item = &'a Undo>) -> Self {
        let mut overlay = Self::default();
        for undo in undos {
            // Walking from newest to oldest: older values overwrite newer ones.
            for (address, previous) in &undo.accounts {
                overlay.accounts.insert(*address, previous.clone());
            }
            for (address, slot, value) in &undo.storage {
                overlay.storage.insert((*address, *slot), *value);
            }
        }
        overlay
    }
}

/// Temporary per-call changes layered over the state: `eth_call` state overrides.
#[derive(Debug, Default)]
pub struct CallOverrides {
    /// Replaced account fields.
    pub accounts: HashMap<Address, AccountRecord>,
    /// Code installed by the override (hash → code).
    pub codes: HashMap<B256, Bytecode>,
    /// Accounts whose whole storage is replaced (`state`), with the new slots.
    pub replaced_storage: HashMap<Address, HashMap<U256, U256>>,
    /// Individual slots replaced (`stateDiff`).
    pub storage: HashMap<(Address, U256), U256>,
}

/// Error type of the state view; reading memory cannot fail.
#[derive(Debug, thiserror::Error)]
#[error("state view error")]
pub struct ViewError(#[from] Infallible);

impl DBErrorMarker for ViewError {}

/// The read-only view revm executes against: latest state, optionally rolled back to an older
/// block and with call overrides on top.
#[derive(Debug)]
pub struct StateView<'a> {
    /// Latest state.
    pub state: &'a WorldState,
    /// Set when reading an older block.
    pub historic: Option<&'a HistoricOverlay>,
    /// Set for `eth_call` with overrides.
    pub overrides: Option<&'a CallOverrides>,
    /// Hashes of all blocks, by number (for the BLOCKHASH opcode).
    pub block_hashes: &'a [B256],
}

impl StateView<'_> {
    fn record(&self, address: Address) -> Option<AccountRecord> {
        if let Some(o) = self.overrides.and_then(|o| o.accounts.get(&address)) {
            return Some(o.clone());
        }
        if let Some(h) = self.historic.and_then(|h| h.accounts.get(&address)) {
            return h.clone();
        }
        self.state.account(address).cloned()
    }
}

impl Database for StateView<'_> {
    type Error = ViewError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self.record(address).map(|r| AccountInfo {
            balance: r.balance,
            nonce: r.nonce,
            code_hash: r.code_hash,
            account_id: None,
            code: None,
        }))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if let Some(code) = self.overrides.and_then(|o| o.codes.get(&code_hash)) {
            return Ok(code.clone());
        }
        Ok(self.state.code(code_hash).cloned().unwrap_or_default())
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        if let Some(o) = self.overrides {
            if let Some(v) = o.storage.get(&(address, index)) {
                return Ok(*v);
            }
            if let Some(slots) = o.replaced_storage.get(&address) {
                return Ok(slots.get(&index).copied().unwrap_or_default());
            }
        }
        if let Some(v) = self.historic.and_then(|h| h.storage.get(&(address, index))) {
            return Ok(*v);
        }
        Ok(self.state.storage(address, index))
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        Ok(self
            .block_hashes
            .get(number as usize)
            .copied()
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(balance: u64, nonce: u64) -> AccountRecord {
        AccountRecord {
            balance: U256::from(balance),
            nonce,
            code_hash: KECCAK256_EMPTY,
        }
    }

    #[test]
    fn undo_restores_accounts_and_storage_exactly() {
        let a = Address::repeat_byte(1);
        let b = Address::repeat_byte(2);
        let mut state = WorldState::default();
        let mut genesis = BlockChanges::default();
        state.set_account(&mut genesis, a, record(100, 0), None);
        state.set_storage(&mut genesis, a, U256::from(1), U256::from(11));

        let mut block = BlockChanges::default();
        state.set_account(&mut block, a, record(50, 1), None);
        state.set_account(&mut block, b, record(50, 0), None);
        state.set_storage(&mut block, a, U256::from(1), U256::ZERO);
        state.set_storage(&mut block, a, U256::from(2), U256::from(22));
        let (undo, diff) = block.finish(&state);
        assert_eq!(diff.accounts.len(), 2);
        assert_eq!(diff.storage.len(), 2);

        // A historical view sees the old values without changing the state.
        let overlay = HistoricOverlay::from_undos(std::iter::once(&undo));
        let mut view = StateView {
            state: &state,
            historic: Some(&overlay),
            overrides: None,
            block_hashes: &[],
        };
        assert_eq!(view.basic(a).unwrap().unwrap().balance, U256::from(100));
        assert!(view.basic(b).unwrap().is_none());
        assert_eq!(view.storage(a, U256::from(1)).unwrap(), U256::from(11));
        assert_eq!(view.storage(a, U256::from(2)).unwrap(), U256::ZERO);

        state.undo(&undo);
        assert_eq!(state.account(a), Some(&record(100, 0)));
        assert_eq!(state.account(b), None);
        assert_eq!(state.storage(a, U256::from(1)), U256::from(11));
        assert_eq!(state.storage(a, U256::from(2)), U256::ZERO);
    }
}
