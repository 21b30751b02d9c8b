//! The scheduler's state in SQLite (WAL): the deal-log cursor, tasks, replicates and workers.
//! Every state change is one transaction, so a scheduler killed at any point restarts from a
//! consistent state and resumes every task (the chain is re-read for what happened meanwhile).

use std::path::Path;
use std::sync::Mutex;

use alloy::primitives::{Address, B256, Bytes};
use arca_worker::agent::ReplicateStatus;
use arca_worker::logs::ComputeLogs;
use arca_worker::task::Failure;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Result, SchedulerError};

/// The scheduler's view of a task (iexec-core's names, iexec-protocol.md §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Seen in a deal, not yet initialized on chain.
    Received,
    /// ACTIVE on chain, ready for workers (TEE: enclave challenge obtained).
    Initialized,
    /// At least one replicate assigned.
    Running,
    /// Consensus reached on chain (REVEALING): waiting for reveals.
    ConsensusReached,
    /// `finalize` sent or `contributeAndFinalize` mined; result known.
    Completed,
    /// Ended without result (claimed after the final deadline).
    Failed,
}

impl TaskStatus {
    /// The SCREAMING_SNAKE_CASE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "RECEIVED",
            Self::Initialized => "INITIALIZED",
            Self::Running => "RUNNING",
            Self::ConsensusReached => "CONSENSUS_REACHED",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        [
            Self::Received,
            Self::Initialized,
            Self::Running,
            Self::ConsensusReached,
            Self::Completed,
            Self::Failed,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
        .ok_or_else(|| SchedulerError::Store(format!("unknown task status {s:?} in the store")))
    }

    /// Nothing more will happen to the task.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// A task as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    pub task_id: B256,
    pub deal_id: B256,
    pub index: u64,
    pub trust: u64,
    pub tee: bool,
    pub status: TaskStatus,
    /// Zero for standard tasks; `None` for a TEE task whose challenge is not obtained yet.
    pub enclave_challenge: Option<Address>,
    /// Why the task failed (scheduler-level), as JSON `{cause, message}`.
    pub failure: Option<serde_json::Value>,
    /// The on-chain `results` of a completed task (UTF-8).
    pub result_location: Option<String>,
    /// The last problem met while driving the task (shown to users; cleared when it goes away).
    pub note: Option<String>,
}

/// A replicate (one worker's attempt at a task) as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicateRow {
    pub task_id: B256,
    pub worker: Address,
    pub status: ReplicateStatus,
    /// The worker's consensus weight at assignment (`max(score/3, 3) − 1`).
    pub weight: u64,
    pub result_hash: Option<B256>,
    pub result_digest: Option<B256>,
    pub results: Option<Bytes>,
    pub callback_data: Option<Bytes>,
    pub failure: Option<Failure>,
    pub logs: Option<ComputeLogs>,
    /// Transactions the worker reported (contribute, reveal, …).
    pub txs: Vec<B256>,
}

/// A registered worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRow {
    pub address: Address,
    pub tee: bool,
    pub max_tasks: u32,
    /// Unix seconds of the last login or heartbeat.
    pub last_seen: u64,
}

/// The SQLite store.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY, deal_id TEXT NOT NULL, idx INTEGER NOT NULL, trust INTEGER NOT NULL,
    tee INTEGER NOT NULL, status TEXT NOT NULL, enclave_challenge TEXT, failure TEXT,
    result_location TEXT, note TEXT, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS replicates (
    task_id TEXT NOT NULL, worker TEXT NOT NULL, status TEXT NOT NULL, weight INTEGER NOT NULL,
    result_hash TEXT, result_digest TEXT, results BLOB, callback_data BLOB, failure TEXT, logs TEXT,
    txs TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (task_id, worker));
CREATE TABLE IF NOT EXISTS workers (
    address TEXT PRIMARY KEY, tee INTEGER NOT NULL, max_tasks INTEGER NOT NULL, last_seen INTEGER NOT NULL);
";

fn parse<T: std::str::FromStr>(s: String, what: &str) -> Result<T> {
    s.parse()
        .map_err(|_| SchedulerError::Store(format!("malformed {what} {s:?} in the store")))
}

fn json<T: serde::de::DeserializeOwned>(s: Option<String>, what: &str) -> Result<Option<T>> {
    s.map(|s| {
        serde_json::from_str(&s)
            .map_err(|e| SchedulerError::Store(format!("malformed {what} in the store: {e}")))
    })
    .transpose()
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("store values serialize")
}

impl Store {
    /// Opens (or creates) `<dir>/scheduler.sqlite`, or an in-memory store.
    pub fn open(dir: Option<&Path>) -> Result<Store> {
        let conn = match dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    SchedulerError::Config(format!("data dir {}: {e}", dir.display()))
                })?;
                let conn = Connection::open(dir.join("scheduler.sqlite"))?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                conn
            }
            None => Connection::open_in_memory()?,
        };
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Answers if the database does.
    pub fn ping(&self) -> Result<()> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    /// The last block whose deals are recorded.
    pub fn cursor(&self) -> Result<Option<u64>> {
        let v: Option<String> = self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = 'cursor'", [], |r| {
                r.get(0)
            })
            .optional()?;
        v.map(|v| parse(v, "cursor")).transpose()
    }

    /// Records the tasks of newly seen deals and moves the cursor, atomically.
    pub fn add_tasks(&self, tasks: &[TaskRow], cursor: u64) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for t in tasks {
            tx.execute(
                "INSERT OR IGNORE INTO tasks (task_id, deal_id, idx, trust, tee, status, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT COALESCE(MAX(seq), 0) + 1 FROM tasks))",
                params![
                    t.task_id.to_string(),
                    t.deal_id.to_string(),
                    t.index as i64,
                    t.trust as i64,
                    t.tee,
                    t.status.as_str()
                ],
            )?;
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('cursor', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![cursor.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn task_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<[Option<String>; 10]> {
        Ok([
            r.get(0)?,
            r.get(1)?,
            Some(r.get::<_, i64>(2)?.to_string()),
            Some(r.get::<_, i64>(3)?.to_string()),
            Some(r.get::<_, bool>(4)?.to_string()),
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
            r.get(9)?,
        ])
    }

    fn decode_task(c: [Option<String>; 10]) -> Result<TaskRow> {
        let [
            id,
            deal,
            idx,
            trust,
            tee,
            status,
            challenge,
            failure,
            location,
            note,
        ] = c;
        let s = |v: Option<String>| v.unwrap_or_default();
        Ok(TaskRow {
            task_id: parse(s(id), "task id")?,
            deal_id: parse(s(deal), "deal id")?,
            index: parse(s(idx), "task index")?,
            trust: parse(s(trust), "trust")?,
            tee: s(tee) == "true",
            status: TaskStatus::parse(&s(status))?,
            enclave_challenge: challenge
                .map(|c| parse(c, "enclave challenge"))
                .transpose()?,
            failure: json(failure, "task failure")?,
            result_location: location,
            note,
        })
    }

    const TASK_COLUMNS: &'static str = "task_id, deal_id, idx, trust, tee, status, enclave_challenge, failure, result_location, note";

    /// One task.
    pub fn task(&self, task_id: B256) -> Result<Option<TaskRow>> {
        let row = self
            .conn()
            .query_row(
                &format!(
                    "SELECT {} FROM tasks WHERE task_id = ?1",
                    Self::TASK_COLUMNS
                ),
                params![task_id.to_string()],
                Self::task_from_row,
            )
            .optional()?;
        row.map(Self::decode_task).transpose()
    }

    /// Tasks not yet COMPLETED or FAILED, oldest first.
    pub fn open_tasks(&self) -> Result<Vec<TaskRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {} FROM tasks WHERE status NOT IN ('COMPLETED', 'FAILED') ORDER BY seq",
            Self::TASK_COLUMNS
        ))?;
        let rows = stmt
            .query_map([], Self::task_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(Self::decode_task).collect()
    }

    /// Writes a task's mutable fields.
    pub fn save_task(&self, t: &TaskRow) -> Result<()> {
        self.conn().execute(
            "UPDATE tasks SET status = ?2, enclave_challenge = ?3, failure = ?4, result_location = ?5, note = ?6
             WHERE task_id = ?1",
            params![
                t.task_id.to_string(),
                t.status.as_str(),
                t.enclave_challenge.map(|a| a.to_string()),
                t.failure.as_ref().map(to_json),
                t.result_location,
                t.note
            ],
        )?;
        Ok(())
    }

    fn replicate_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReplicateRaw> {
        Ok(ReplicateRaw {
            task_id: r.get(0)?,
            worker: r.get(1)?,
            status: r.get(2)?,
            weight: r.get(3)?,
            result_hash: r.get(4)?,
            result_digest: r.get(5)?,
            results: r.get(6)?,
            callback_data: r.get(7)?,
            failure: r.get(8)?,
            logs: r.get(9)?,
            txs: r.get(10)?,
        })
    }

    const REPLICATE_COLUMNS: &'static str = "task_id, worker, status, weight, result_hash, result_digest, results, callback_data, failure, logs, txs";

    /// The replicates of a task, in assignment order.
    pub fn replicates(&self, task_id: B256) -> Result<Vec<ReplicateRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {} FROM replicates WHERE task_id = ?1 ORDER BY seq",
            Self::REPLICATE_COLUMNS
        ))?;
        let rows = stmt
            .query_map(params![task_id.to_string()], Self::replicate_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(ReplicateRaw::decode).collect()
    }

    /// One replicate.
    pub fn replicate(&self, task_id: B256, worker: Address) -> Result<Option<ReplicateRow>> {
        let raw = self
            .conn()
            .query_row(
                &format!(
                    "SELECT {} FROM replicates WHERE task_id = ?1 AND worker = ?2",
                    Self::REPLICATE_COLUMNS
                ),
                params![task_id.to_string(), worker.to_string()],
                Self::replicate_from_row,
            )
            .optional()?;
        raw.map(ReplicateRaw::decode).transpose()
    }

    /// How many replicates of `worker` are not final.
    pub fn running_count(&self, worker: Address) -> Result<u32> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT status FROM replicates WHERE worker = ?1")?;
        let statuses = stmt
            .query_map(params![worker.to_string()], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(statuses
            .iter()
            .filter(|s| ReplicateStatus::parse(s).is_some_and(|s| !s.is_final()))
            .count() as u32)
    }

    /// Assigns a replicate and marks the task RUNNING, atomically.
    pub fn assign(&self, task_id: B256, worker: Address, weight: u64) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO replicates (task_id, worker, status, weight, txs, seq)
             VALUES (?1, ?2, 'CREATED', ?3, '[]', (SELECT COALESCE(MAX(seq), 0) + 1 FROM replicates))",
            params![task_id.to_string(), worker.to_string(), weight as i64],
        )?;
        tx.execute(
            "UPDATE tasks SET status = 'RUNNING' WHERE task_id = ?1 AND status = 'INITIALIZED'",
            params![task_id.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Writes a replicate's mutable fields.
    pub fn save_replicate(&self, r: &ReplicateRow) -> Result<()> {
        let hex = |v: &Option<B256>| v.map(|h| h.to_string());
        self.conn().execute(
            "UPDATE replicates SET status = ?3, result_hash = ?4, result_digest = ?5, results = ?6,
             callback_data = ?7, failure = ?8, logs = ?9, txs = ?10 WHERE task_id = ?1 AND worker = ?2",
            params![
                r.task_id.to_string(),
                r.worker.to_string(),
                r.status.as_str(),
                hex(&r.result_hash),
                hex(&r.result_digest),
                r.results.as_ref().map(|b| b.to_vec()),
                r.callback_data.as_ref().map(|b| b.to_vec()),
                r.failure.as_ref().map(to_json),
                r.logs.as_ref().map(to_json),
                to_json(&r.txs)
            ],
        )?;
        Ok(())
    }

    /// Records a login or heartbeat.
    pub fn upsert_worker(&self, w: &WorkerRow) -> Result<()> {
        self.conn().execute(
            "INSERT INTO workers (address, tee, max_tasks, last_seen) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(address) DO UPDATE SET tee = excluded.tee, max_tasks = excluded.max_tasks,
             last_seen = excluded.last_seen",
            params![
                w.address.to_string(),
                w.tee,
                w.max_tasks as i64,
                w.last_seen as i64
            ],
        )?;
        Ok(())
    }

    /// A registered worker.
    pub fn worker(&self, address: Address) -> Result<Option<WorkerRow>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT tee, max_tasks, last_seen FROM workers WHERE address = ?1",
                params![address.to_string()],
                |r| {
                    Ok(WorkerRow {
                        address,
                        tee: r.get(0)?,
                        max_tasks: r.get::<_, i64>(1)? as u32,
                        last_seen: r.get::<_, i64>(2)? as u64,
                    })
                },
            )
            .optional()?)
    }
}

struct ReplicateRaw {
    task_id: String,
    worker: String,
    status: String,
    weight: i64,
    result_hash: Option<String>,
    result_digest: Option<String>,
    results: Option<Vec<u8>>,
    callback_data: Option<Vec<u8>>,
    failure: Option<String>,
    logs: Option<String>,
    txs: String,
}

impl ReplicateRaw {
    fn decode(self) -> Result<ReplicateRow> {
        Ok(ReplicateRow {
            task_id: parse(self.task_id, "task id")?,
            worker: parse(self.worker, "worker")?,
            status: ReplicateStatus::parse(&self.status).ok_or_else(|| {
                SchedulerError::Store(format!("unknown replicate status {:?}", self.status))
            })?,
            weight: self.weight as u64,
            result_hash: self
                .result_hash
                .map(|h| parse(h, "result hash"))
                .transpose()?,
            result_digest: self
                .result_digest
                .map(|h| parse(h, "result digest"))
                .transpose()?,
            results: self.results.map(Bytes::from),
            callback_data: self.callback_data.map(Bytes::from),
            failure: json(self.failure, "replicate failure")?,
            logs: json(self.logs, "replicate logs")?,
            txs: json(Some(self.txs), "replicate transactions")?.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(n: u8) -> TaskRow {
        TaskRow {
            task_id: B256::repeat_byte(n),
            deal_id: B256::repeat_byte(0xde),
            index: n as u64,
            trust: 1,
            tee: false,
            status: TaskStatus::Received,
            enclave_challenge: None,
            failure: None,
            result_location: None,
            note: None,
        }
    }

    #[test]
    fn tasks_and_cursor_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(Some(dir.path())).unwrap();
            store.add_tasks(&[task(1), task(2)], 42).unwrap();
            let mut t = store.task(B256::repeat_byte(1)).unwrap().unwrap();
            t.status = TaskStatus::Initialized;
            t.enclave_challenge = Some(Address::ZERO);
            store.save_task(&t).unwrap();
            store.assign(t.task_id, Address::repeat_byte(9), 2).unwrap();
        }
        let store = Store::open(Some(dir.path())).unwrap();
        assert_eq!(store.cursor().unwrap(), Some(42));
        let open = store.open_tasks().unwrap();
        assert_eq!(open.len(), 2);
        assert_eq!(open[0].status, TaskStatus::Running);
        assert_eq!(open[0].enclave_challenge, Some(Address::ZERO));
        let reps = store.replicates(B256::repeat_byte(1)).unwrap();
        assert_eq!(reps.len(), 1);
        assert_eq!(reps[0].status, ReplicateStatus::Created);
        assert_eq!(reps[0].weight, 2);
        assert_eq!(store.running_count(Address::repeat_byte(9)).unwrap(), 1);
    }

    #[test]
    fn a_worker_cannot_be_assigned_the_same_task_twice() {
        let store = Store::open(None).unwrap();
        store.add_tasks(&[task(1)], 1).unwrap();
        store
            .assign(B256::repeat_byte(1), Address::repeat_byte(9), 2)
            .unwrap();
        assert!(
            store
                .assign(B256::repeat_byte(1), Address::repeat_byte(9), 2)
                .is_err()
        );
    }
}
