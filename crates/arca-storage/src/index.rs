//! The task → cid index, in SQLite (WAL, `synchronous=FULL`): once an upload has been answered
//! 201, its record survives a crash.
//!
//! Writes are compare-and-set so two concurrent uploads of one task cannot both win: the first
//! record is inserted only if none exists, and a replacement (allowed while the task is
//! ACTIVE) only succeeds if the record is still the one the caller saw.

use crate::cid::Cid;
use crate::error::Result;
use alloy::primitives::{Address, B256};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;

/// One stored result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The task.
    pub task_id: B256,
    /// The content.
    pub cid: Cid,
    /// Its size in bytes.
    pub size: u64,
    /// The worker who uploaded it.
    pub worker: Address,
    /// Unix seconds of the upload.
    pub uploaded_at: u64,
}

/// What an insert found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Insert {
    /// No record existed; this one is stored.
    Stored,
    /// A record already existed (returned); nothing was written.
    Exists(Record),
}

/// The SQLite index.
#[derive(Debug)]
pub struct Index {
    db: Mutex<Connection>,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    let text = |i: usize| r.get::<_, String>(i);
    let parse_err = |i: usize, e: String| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            Box::<dyn std::error::Error + Send + Sync>::from(e),
        )
    };
    Ok(Record {
        task_id: text(0)?.parse().map_err(|e| parse_err(0, format!("{e}")))?,
        cid: text(1)?.parse().map_err(|e| parse_err(1, format!("{e}")))?,
        size: r.get::<_, i64>(2)? as u64,
        worker: text(3)?.parse().map_err(|e| parse_err(3, format!("{e}")))?,
        uploaded_at: r.get::<_, i64>(4)? as u64,
    })
}

impl Index {
    /// Opens (creating) `<dir>/index.sqlite`.
    pub fn open(dir: &Path) -> Result<Index> {
        Self::init(Connection::open(dir.join("index.sqlite"))?)
    }

    /// An index in memory (tests).
    pub fn in_memory() -> Result<Index> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(db: Connection) -> Result<Index> {
        db.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a committed upload is on disk before the 201 goes out
        db.pragma_update(None, "synchronous", "FULL")?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS results (
                task_id     TEXT PRIMARY KEY,
                cid         TEXT NOT NULL,
                size        INTEGER NOT NULL,
                worker      TEXT NOT NULL,
                uploaded_at INTEGER NOT NULL
            );
            CREATE INDEX IF NOT EXISTS results_cid ON results(cid);",
        )?;
        Ok(Index { db: Mutex::new(db) })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        // a panic while holding the lock cannot leave SQLite half-written (transactions)
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The record of `task_id`.
    pub fn get(&self, task_id: B256) -> Result<Option<Record>> {
        Ok(self
            .db()
            .query_row(
                "SELECT task_id, cid, size, worker, uploaded_at FROM results WHERE task_id = ?1",
                params![task_id.to_string()],
                row,
            )
            .optional()?)
    }

    /// Stores `record` unless the task already has one.
    pub fn insert(&self, record: &Record) -> Result<Insert> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let existing = tx
            .query_row(
                "SELECT task_id, cid, size, worker, uploaded_at FROM results WHERE task_id = ?1",
                params![record.task_id.to_string()],
                row,
            )
            .optional()?;
        if let Some(existing) = existing {
            return Ok(Insert::Exists(existing));
        }
        tx.execute(
            "INSERT INTO results (task_id, cid, size, worker, uploaded_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                record.task_id.to_string(),
                record.cid.to_string(),
                record.size as i64,
                record.worker.to_string(),
                record.uploaded_at as i64
            ],
        )?;
        tx.commit()?;
        Ok(Insert::Stored)
    }

    /// Replaces the task's record if it still points at `previous`; false if it changed meanwhile.
    pub fn replace(&self, previous: &Cid, record: &Record) -> Result<bool> {
        let n = self.db().execute(
            "UPDATE results SET cid = ?1, size = ?2, worker = ?3, uploaded_at = ?4
             WHERE task_id = ?5 AND cid = ?6",
            params![
                record.cid.to_string(),
                record.size as i64,
                record.worker.to_string(),
                record.uploaded_at as i64,
                record.task_id.to_string(),
                previous.to_string()
            ],
        )?;
        Ok(n == 1)
    }

    /// Readiness: the database answers.
    pub fn ping(&self) -> Result<()> {
        self.db().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(task: u8, content: &[u8]) -> Record {
        Record {
            task_id: B256::repeat_byte(task),
            cid: Cid::of(content),
            size: content.len() as u64,
            worker: Address::repeat_byte(9),
            uploaded_at: 1_700_000_000,
        }
    }

    #[test]
    fn insert_is_first_writer_wins_and_replace_is_compare_and_set() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(dir.path()).unwrap();
        let first = record(1, b"one");
        assert_eq!(index.insert(&first).unwrap(), Insert::Stored);
        assert_eq!(
            index.insert(&record(1, b"two")).unwrap(),
            Insert::Exists(first.clone())
        );
        let second = record(1, b"two");
        // stale previous cid: refused
        assert!(!index.replace(&Cid::of(b"zzz"), &second).unwrap());
        assert!(index.replace(&first.cid, &second).unwrap());
        drop(index);
        // survives reopening
        let index = Index::open(dir.path()).unwrap();
        assert_eq!(index.get(first.task_id).unwrap(), Some(second));
        assert_eq!(index.get(B256::repeat_byte(2)).unwrap(), None);
        index.ping().unwrap();
    }
}
