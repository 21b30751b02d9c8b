//! Durable chain storage in one SQLite file (`<data-dir>/chain.sqlite`).
//!
//! Each block is written in a single transaction together with the state it changed and its undo
//! record, so after a clean stop or a `kill -9` at any moment the file holds exactly the blocks
//! committed before it, never half a block. WAL mode with `synchronous=NORMAL` makes every commit
//! durable against process crashes without an fsync per block (a power cut may lose the last
//! blocks, never consistency).

use crate::{
    ChainError,
    backend::{Block, MinedTx, TxReceipt},
    state::{AccountRecord, StateDiff, Undo, WorldState},
};
use alloy::{
    consensus::{Header, TxEnvelope},
    eips::eip2718::{Decodable2718, Encodable2718},
    primitives::{Address, B256, Bytes, Log, U256},
};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use std::path::Path;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, body BLOB NOT NULL, undo BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (address BLOB PRIMARY KEY, balance BLOB NOT NULL, nonce INTEGER NOT NULL, code_hash BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS storage (address BLOB NOT NULL, slot BLOB NOT NULL, value BLOB NOT NULL, PRIMARY KEY (address, slot)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS codes (hash BLOB PRIMARY KEY, code BLOB NOT NULL) WITHOUT ROWID;
";

/// Everything read back at start-up.
#[derive(Debug)]
pub struct Loaded {
    /// Latest state.
    pub state: WorldState,
    /// All blocks, by number.
    pub blocks: Vec<Block>,
    /// Undo record of each block.
    pub undos: Vec<Undo>,
    /// Saved clock offset.
    pub time_offset: i64,
}

#[derive(Serialize, Deserialize)]
struct StoredBlock {
    header: Header,
    txs: Vec<StoredTx>,
}

#[derive(Serialize, Deserialize)]
struct StoredTx {
    hash: B256,
    raw: Bytes,
    sender: Address,
    success: bool,
    cumulative_gas_used: u64,
    gas_used: u64,
    logs: Vec<Log>,
    contract_address: Option<Address>,
    effective_gas_price: u128,
    output: Bytes,
}

/// The open store.
#[derive(Debug)]
pub struct Store {
    // rusqlite's connection is not Sync; the backend lock already serialises writes.
    conn: std::sync::Mutex<Connection>,
}

fn corrupt(what: impl std::fmt::Display) -> ChainError {
    ChainError::Corrupt(what.to_string())
}

impl Store {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, ChainError> {
        std::fs::create_dir_all(dir).map_err(|source| ChainError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
        let conn = Connection::open(dir.join("chain.sqlite"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: std::sync::Mutex::new(conn),
        })
    }

    /// Reads the whole chain back, or `None` for an empty store.
    pub fn load(&mut self, chain_id: u64) -> Result<Option<Loaded>, ChainError> {
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        let stored_id: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'chain_id'", [], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(stored_id) = stored_id else {
            return Ok(None);
        };
        let stored: u64 = stored_id.parse().map_err(corrupt)?;
        if stored != chain_id {
            return Err(ChainError::ChainIdMismatch {
                stored,
                requested: chain_id,
            });
        }
        let time_offset: i64 = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'time_offset'",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .map(|v| v.parse().map_err(corrupt))
            .transpose()?
            .unwrap_or_default();

        let mut state = WorldState::default();
        let mut stmt = conn.prepare("SELECT address, balance, nonce, code_hash FROM accounts")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let address =
                Address::try_from(row.get::<_, Vec<u8>>(0)?.as_slice()).map_err(corrupt)?;
            let balance = U256::try_from_be_slice(&row.get::<_, Vec<u8>>(1)?)
                .ok_or_else(|| corrupt("balance"))?;
            let nonce = row.get::<_, i64>(2)? as u64;
            let code_hash =
                B256::try_from(row.get::<_, Vec<u8>>(3)?.as_slice()).map_err(corrupt)?;
            state.load_account(
                address,
                AccountRecord {
                    balance,
                    nonce,
                    code_hash,
                },
            );
        }
        drop(rows);
        drop(stmt);
        let mut stmt = conn.prepare("SELECT address, slot, value FROM storage")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let address =
                Address::try_from(row.get::<_, Vec<u8>>(0)?.as_slice()).map_err(corrupt)?;
            let slot = U256::try_from_be_slice(&row.get::<_, Vec<u8>>(1)?)
                .ok_or_else(|| corrupt("slot"))?;
            let value = U256::try_from_be_slice(&row.get::<_, Vec<u8>>(2)?)
                .ok_or_else(|| corrupt("value"))?;
            state.load_storage(address, slot, value);
        }
        drop(rows);
        drop(stmt);
        let mut stmt = conn.prepare("SELECT hash, code FROM codes")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let hash = B256::try_from(row.get::<_, Vec<u8>>(0)?.as_slice()).map_err(corrupt)?;
            state.load_code(hash, Bytes::from(row.get::<_, Vec<u8>>(1)?));
        }
        drop(rows);
        drop(stmt);

        let mut blocks = Vec::new();
        let mut undos = Vec::new();
        let mut stmt = conn.prepare("SELECT number, body, undo FROM blocks ORDER BY number")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let number = row.get::<_, i64>(0)? as u64;
            if number != blocks.len() as u64 {
                return Err(corrupt(format!("block {} is missing", blocks.len())));
            }
            let body: StoredBlock =
                serde_json::from_slice(&row.get::<_, Vec<u8>>(1)?).map_err(corrupt)?;
            let undo: Undo = serde_json::from_slice(&row.get::<_, Vec<u8>>(2)?).map_err(corrupt)?;
            blocks.push(decode_block(body)?);
            undos.push(undo);
        }
        if blocks.is_empty() {
            return Ok(None);
        }
        Ok(Some(Loaded {
            state,
            blocks,
            undos,
            time_offset,
        }))
    }

    /// Writes one block, its state changes and its undo record atomically.
    pub fn commit_block(
        &mut self,
        chain_id: u64,
        block: &Block,
        diff: &StateDiff,
        undo: &Undo,
        time_offset: i64,
    ) -> Result<(), ChainError> {
        let body = serde_json::to_vec(&encode_block(block)).map_err(corrupt)?;
        let undo = serde_json::to_vec(undo).map_err(corrupt)?;
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO blocks (number, body, undo) VALUES (?1, ?2, ?3)",
            params![block.header.number as i64, body, undo],
        )?;
        write_diff(&tx, diff)?;
        set_meta(&tx, "chain_id", &chain_id.to_string())?;
        set_meta(&tx, "time_offset", &time_offset.to_string())?;
        tx.commit()?;
        Ok(())
    }

    /// Writes state edited outside blocks (`anvil_set*`).
    pub fn write_state(&mut self, diff: &StateDiff) -> Result<(), ChainError> {
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        write_diff(&tx, diff)?;
        tx.commit()?;
        Ok(())
    }

    /// Removes blocks above `keep`, restoring the state they changed (`evm_revert`).
    pub fn truncate(
        &mut self,
        keep: u64,
        loose: &Undo,
        removed: &[Undo],
        time_offset: i64,
    ) -> Result<(), ChainError> {
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        for undo in std::iter::once(loose).chain(removed.iter()) {
            write_undo(&tx, undo)?;
        }
        tx.execute("DELETE FROM blocks WHERE number > ?1", params![keep as i64])?;
        set_meta(&tx, "time_offset", &time_offset.to_string())?;
        tx.commit()?;
        Ok(())
    }

    /// Saves the clock offset (`evm_increaseTime`).
    pub fn save_time_offset(&mut self, offset: i64) -> Result<(), ChainError> {
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('time_offset', ?1)",
            params![offset.to_string()],
        )?;
        Ok(())
    }
}

fn set_meta(tx: &Transaction<'_>, key: &str, value: &str) -> Result<(), ChainError> {
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        params![key, value],
    )?;
    Ok(())
}

fn write_account(
    tx: &Transaction<'_>,
    address: &Address,
    record: Option<&AccountRecord>,
) -> Result<(), ChainError> {
    match record {
        Some(r) => tx.execute(
            "INSERT OR REPLACE INTO accounts (address, balance, nonce, code_hash) VALUES (?1, ?2, ?3, ?4)",
            params![address.as_slice(), r.balance.to_be_bytes_trimmed_vec(), r.nonce as i64, r.code_hash.as_slice()],
        )?,
        None => tx.execute("DELETE FROM accounts WHERE address = ?1", params![address.as_slice()])?,
    };
    Ok(())
}

fn write_slot(
    tx: &Transaction<'_>,
    address: &Address,
    slot: &U256,
    value: &U256,
) -> Result<(), ChainError> {
    let slot = slot.to_be_bytes::<32>();
    if value.is_zero() {
        tx.execute(
            "DELETE FROM storage WHERE address = ?1 AND slot = ?2",
            params![address.as_slice(), slot.as_slice()],
        )?;
    } else {
        tx.execute(
            "INSERT OR REPLACE INTO storage (address, slot, value) VALUES (?1, ?2, ?3)",
            params![
                address.as_slice(),
                slot.as_slice(),
                value.to_be_bytes_trimmed_vec()
            ],
        )?;
    }
    Ok(())
}

fn write_diff(tx: &Transaction<'_>, diff: &StateDiff) -> Result<(), ChainError> {
    for (address, record) in &diff.accounts {
        write_account(tx, address, record.as_ref())?;
    }
    for (address, slot, value) in &diff.storage {
        write_slot(tx, address, slot, value)?;
    }
    for (hash, code) in &diff.codes {
        tx.execute(
            "INSERT OR IGNORE INTO codes (hash, code) VALUES (?1, ?2)",
            params![hash.as_slice(), code.as_ref()],
        )?;
    }
    Ok(())
}

fn write_undo(tx: &Transaction<'_>, undo: &Undo) -> Result<(), ChainError> {
    for (address, previous) in undo.accounts.iter().rev() {
        write_account(tx, address, previous.as_ref())?;
    }
    for (address, slot, value) in undo.storage.iter().rev() {
        write_slot(tx, address, slot, value)?;
    }
    Ok(())
}

fn encode_block(block: &Block) -> StoredBlock {
    StoredBlock {
        header: block.header.clone(),
        txs: block
            .txs
            .iter()
            .map(|t| StoredTx {
                hash: t.hash,
                raw: t.envelope.encoded_2718().into(),
                sender: t.sender,
                success: t.receipt.success,
                cumulative_gas_used: t.receipt.cumulative_gas_used,
                gas_used: t.receipt.gas_used,
                logs: t.receipt.logs.clone(),
                contract_address: t.receipt.contract_address,
                effective_gas_price: t.receipt.effective_gas_price,
                output: t.receipt.output.clone(),
            })
            .collect(),
    }
}

fn decode_block(stored: StoredBlock) -> Result<Block, ChainError> {
    let hash = stored.header.hash_slow();
    let txs = stored
        .txs
        .into_iter()
        .map(|t| {
            let envelope = TxEnvelope::decode_2718(&mut t.raw.as_ref()).map_err(corrupt)?;
            Ok(MinedTx {
                hash: t.hash,
                envelope,
                sender: t.sender,
                receipt: TxReceipt {
                    success: t.success,
                    cumulative_gas_used: t.cumulative_gas_used,
                    gas_used: t.gas_used,
                    logs: t.logs,
                    contract_address: t.contract_address,
                    effective_gas_price: t.effective_gas_price,
                    output: t.output,
                },
            })
        })
        .collect::<Result<Vec<_>, ChainError>>()?;
    Ok(Block {
        header: stored.header,
        hash,
        txs,
    })
}
