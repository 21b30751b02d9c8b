//! The scheduler's state: the deal-log cursor, tasks, replicates and workers, in SQLite (WAL,
//! the default) or in a Postgres database (`postgres` feature, [`SchedulerConfig::postgres_url`]).
//! Every state change is one transaction, so a scheduler killed at any point restarts from a
//! consistent state and resumes every task (the chain is re-read for what happened meanwhile).
//!
//! The store's logic is written once, here: each method encodes its rows into [`Value`]s, runs
//! its statements through [`Tx`] inside one transaction, and decodes what it read with the
//! same functions for both backends. The statements use the SQL both databases accept
//! (`ON CONFLICT … DO NOTHING/UPDATE`, `?N` placeholders, which the Postgres backend renames
//! `$N`); the backends ([`sqlite`], `pg`) only open the database, create the tables in their
//! dialect and bind/read values. [`conformance`] holds the behavioural tests both pass.
//!
//! Tables are prefixed `scheduler_` so a Postgres database can be shared with the market's
//! (`market_*`) and the SMS's (`sms_*`); the workerpool a store belongs to is recorded at first
//! start, and another pool's scheduler is refused ([`Store::from_config`]).

use std::path::Path;

use alloy::primitives::{Address, B256, Bytes};
use arca_worker::agent::ReplicateStatus;
use arca_worker::logs::ComputeLogs;
use arca_worker::task::Failure;

use crate::config::SchedulerConfig;
use crate::error::{Result, SchedulerError};

#[cfg(test)]
pub(crate) mod conformance;
#[cfg(feature = "postgres")]
mod pg;
mod sqlite;

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

/// The scheduler's store: SQLite or Postgres behind the same methods.
#[derive(Debug)]
pub struct Store {
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    Sqlite(sqlite::Sqlite),
    #[cfg(feature = "postgres")]
    Postgres(pg::Pg),
}

/// A value crossing the store boundary, the same for both backends. NULLs are typed
/// (`Text(None)`, `Blob(None)`) because Postgres binds a parameter by its column's type.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Int(i64),
    Bool(bool),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
    /// Only read (SQLite's NULL carries no type); the encoders never produce it.
    Null,
}

/// One transaction on either backend: the store's logic is written once against this.
trait Tx {
    /// Runs a statement; the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize>;
    /// Runs a query; its rows, columns in `SELECT` order.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>>;
}

/// Rows read by [`Tx::query`].
type Rows = Vec<Vec<Value>>;

fn text(v: impl ToString) -> Value {
    Value::Text(Some(v.to_string()))
}

fn opt_text(v: Option<impl ToString>) -> Value {
    Value::Text(v.map(|v| v.to_string()))
}

fn int(v: u64, what: &str) -> Result<Value> {
    i64::try_from(v)
        .map(Value::Int)
        .map_err(|_| SchedulerError::Store(format!("{what} {v} is too large to store")))
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("store values serialize")
}

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

/// Reads a row's columns in order, each checked for the type the store wrote.
struct Cols(std::vec::IntoIter<Value>);

impl Cols {
    fn new(row: Vec<Value>) -> Self {
        Cols(row.into_iter())
    }

    fn next(&mut self, what: &str) -> Result<Value> {
        self.0
            .next()
            .ok_or_else(|| SchedulerError::Store(format!("no {what} column in the store's row")))
    }

    fn wrong(what: &str, expected: &str, found: &Value) -> SchedulerError {
        let found = match found {
            Value::Int(_) => "an integer",
            Value::Bool(_) => "a boolean",
            Value::Text(Some(_)) => "text",
            Value::Blob(Some(_)) => "bytes",
            Value::Text(None) | Value::Blob(None) | Value::Null => "NULL",
        };
        SchedulerError::Store(format!(
            "malformed {what} in the store: expected {expected}, found {found}"
        ))
    }

    fn opt_text(&mut self, what: &str) -> Result<Option<String>> {
        match self.next(what)? {
            Value::Text(s) => Ok(s),
            Value::Null => Ok(None),
            other => Err(Self::wrong(what, "text", &other)),
        }
    }

    fn text(&mut self, what: &str) -> Result<String> {
        match self.opt_text(what)? {
            Some(s) => Ok(s),
            None => Err(Self::wrong(what, "text", &Value::Null)),
        }
    }

    /// A text column holding a value of type `T` (`FromStr`), or NULL.
    fn opt_parsed<T: std::str::FromStr>(&mut self, what: &str) -> Result<Option<T>> {
        self.opt_text(what)?.map(|s| parse(s, what)).transpose()
    }

    fn parsed<T: std::str::FromStr>(&mut self, what: &str) -> Result<T> {
        parse(self.text(what)?, what)
    }

    fn uint<T: TryFrom<i64>>(&mut self, what: &str) -> Result<T> {
        match self.next(what)? {
            Value::Int(i) => T::try_from(i).map_err(|_| {
                SchedulerError::Store(format!(
                    "malformed {what} in the store: {i} is out of range"
                ))
            }),
            other => Err(Self::wrong(what, "an integer", &other)),
        }
    }

    fn flag(&mut self, what: &str) -> Result<bool> {
        match self.next(what)? {
            Value::Bool(b) => Ok(b),
            // SQLite stores booleans as 0/1
            Value::Int(i @ (0 | 1)) => Ok(i == 1),
            other => Err(Self::wrong(what, "a boolean", &other)),
        }
    }

    fn opt_blob(&mut self, what: &str) -> Result<Option<Vec<u8>>> {
        match self.next(what)? {
            Value::Blob(b) => Ok(b),
            Value::Null | Value::Text(None) => Ok(None),
            other => Err(Self::wrong(what, "bytes", &other)),
        }
    }
}

// The statements, in the SQL both backends accept (`?N` becomes `$N` on Postgres).

const SELECT_META: &str = "SELECT value FROM scheduler_meta WHERE key = ?1";
const INSERT_META: &str = "INSERT INTO scheduler_meta (key, value) VALUES (?1, ?2)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";
const INSERT_META_ONCE: &str =
    "INSERT INTO scheduler_meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING";

const TASK_COLUMNS: &str =
    "task_id, deal_id, idx, trust, tee, status, enclave_challenge, failure, result_location, note";
const INSERT_TASK: &str =
    "INSERT INTO scheduler_tasks (task_id, deal_id, idx, trust, tee, status, seq)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT COALESCE(MAX(seq), 0) + 1 FROM scheduler_tasks))
     ON CONFLICT (task_id) DO NOTHING";
const UPDATE_TASK: &str = "UPDATE scheduler_tasks SET status = ?2, enclave_challenge = ?3,
     failure = ?4, result_location = ?5, note = ?6 WHERE task_id = ?1";
const TASK_RUNNING: &str =
    "UPDATE scheduler_tasks SET status = 'RUNNING' WHERE task_id = ?1 AND status = 'INITIALIZED'";

const REPLICATE_COLUMNS: &str = "task_id, worker, status, weight, result_hash, result_digest, results, callback_data, failure, logs, txs";
const INSERT_REPLICATE: &str = "INSERT INTO scheduler_replicates (task_id, worker, status, weight, txs, seq)
     VALUES (?1, ?2, 'CREATED', ?3, '[]', (SELECT COALESCE(MAX(seq), 0) + 1 FROM scheduler_replicates))";
const UPDATE_REPLICATE: &str = "UPDATE scheduler_replicates SET status = ?3, result_hash = ?4,
     result_digest = ?5, results = ?6, callback_data = ?7, failure = ?8, logs = ?9, txs = ?10
     WHERE task_id = ?1 AND worker = ?2";

const UPSERT_WORKER: &str =
    "INSERT INTO scheduler_workers (address, tee, max_tasks, last_seen) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (address) DO UPDATE SET tee = excluded.tee, max_tasks = excluded.max_tasks,
     last_seen = excluded.last_seen";

fn decode_task(row: Vec<Value>) -> Result<TaskRow> {
    let mut c = Cols::new(row);
    Ok(TaskRow {
        task_id: c.parsed("task id")?,
        deal_id: c.parsed("deal id")?,
        index: c.uint("task index")?,
        trust: c.uint("trust")?,
        tee: c.flag("tee flag")?,
        status: TaskStatus::parse(&c.text("task status")?)?,
        enclave_challenge: c.opt_parsed("enclave challenge")?,
        failure: json(c.opt_text("task failure")?, "task failure")?,
        result_location: c.opt_text("result location")?,
        note: c.opt_text("task note")?,
    })
}

fn decode_replicate(row: Vec<Value>) -> Result<ReplicateRow> {
    let mut c = Cols::new(row);
    Ok(ReplicateRow {
        task_id: c.parsed("task id")?,
        worker: c.parsed("worker")?,
        status: {
            let s = c.text("replicate status")?;
            ReplicateStatus::parse(&s).ok_or_else(|| {
                SchedulerError::Store(format!("unknown replicate status {s:?} in the store"))
            })?
        },
        weight: c.uint("replicate weight")?,
        result_hash: c.opt_parsed("result hash")?,
        result_digest: c.opt_parsed("result digest")?,
        results: c.opt_blob("results")?.map(Bytes::from),
        callback_data: c.opt_blob("callback data")?.map(Bytes::from),
        failure: json(c.opt_text("replicate failure")?, "replicate failure")?,
        logs: json(c.opt_text("replicate logs")?, "replicate logs")?,
        txs: json(
            Some(c.text("replicate transactions")?),
            "replicate transactions",
        )?
        .unwrap_or_default(),
    })
}

/// Where a scheduler with `config` keeps its state, for logs (a Postgres password is `***`).
pub fn describe_location(config: &SchedulerConfig) -> String {
    match (&config.postgres_url, &config.data_dir) {
        #[cfg(feature = "postgres")]
        (Some(url), _) => format!("Postgres {}", arca_pg::redact(url)),
        #[cfg(not(feature = "postgres"))]
        (Some(_), _) => "Postgres (not built in)".to_owned(),
        (None, Some(dir)) => format!("SQLite {}", dir.join(sqlite::FILE).display()),
        (None, None) => "memory (nothing survives a restart)".to_owned(),
    }
}

impl Store {
    /// Opens (or creates) `<dir>/scheduler.sqlite`, or an in-memory store.
    pub fn open(dir: Option<&Path>) -> Result<Store> {
        Ok(Store {
            backend: Backend::Sqlite(sqlite::Sqlite::open(dir)?),
        })
    }

    /// Connects to a Postgres database (`postgres://user:password@host:port/database`, or
    /// libpq's `key=value` form) and creates the `scheduler_*` tables if needed. Errors name
    /// the URL with its password replaced by `***`.
    #[cfg(feature = "postgres")]
    pub fn open_postgres(url: &str) -> Result<Store> {
        Ok(Store {
            backend: Backend::Postgres(pg::Pg::open(url)?),
        })
    }

    /// The store `config` asks for (Postgres when [`SchedulerConfig::postgres_url`] is set,
    /// else SQLite in [`SchedulerConfig::data_dir`] or in memory), checked to hold the state
    /// of `config.workerpool` (recorded at first start) and no other pool's.
    pub fn from_config(config: &SchedulerConfig) -> Result<Store> {
        let store = match (&config.postgres_url, &config.data_dir) {
            (Some(_), Some(dir)) => {
                return Err(SchedulerError::Config(format!(
                    "both postgres_url and data_dir ({}) are set: the scheduler's state lives in \
                     one store; keep one (--postgres-url or --data-dir)",
                    dir.display()
                )));
            }
            (Some(url), None) => Self::postgres(url)?,
            (None, dir) => Self::open(dir.as_deref())?,
        };
        store.claim_workerpool(config.workerpool, &describe_location(config))?;
        tracing::info!(store = %describe_location(config), "scheduler state");
        Ok(store)
    }

    #[cfg(feature = "postgres")]
    fn postgres(url: &str) -> Result<Store> {
        Self::open_postgres(url)
    }

    #[cfg(not(feature = "postgres"))]
    fn postgres(_url: &str) -> Result<Store> {
        Err(SchedulerError::Config(
            "postgres_url is set, but this build of the scheduler has no Postgres support: \
             rebuild with the `postgres` feature of arca-scheduler, or keep the state in SQLite \
             (data_dir / --data-dir)"
                .into(),
        ))
    }

    /// Runs `job` in one transaction, committed if it returns `Ok` (rolled back otherwise).
    fn transaction<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut dyn Tx) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        match &self.backend {
            Backend::Sqlite(s) => s.transaction(job),
            #[cfg(feature = "postgres")]
            Backend::Postgres(p) => p.transaction(job),
        }
    }

    /// Records the workerpool this store belongs to, or checks it is `pool` (`location`
    /// names the store in the error).
    pub(crate) fn claim_workerpool(&self, pool: Address, location: &str) -> Result<()> {
        let rows = self.transaction(move |tx| {
            tx.execute(INSERT_META_ONCE, &[text("workerpool"), text(pool)])?;
            tx.query(SELECT_META, &[text("workerpool")])
        })?;
        let stored: Option<Address> = match rows.into_iter().next() {
            Some(row) => Some(Cols::new(row).parsed("workerpool")?),
            None => None,
        };
        match stored {
            Some(stored) if stored != pool => Err(SchedulerError::Config(format!(
                "the store ({location}) holds the state of workerpool {stored}, not of {pool} \
                 that this scheduler runs: give each workerpool's scheduler its own data \
                 directory or Postgres database (or point this one at {stored})"
            ))),
            Some(_) => Ok(()),
            None => Err(SchedulerError::Store(
                "the workerpool just recorded is missing from the store".into(),
            )),
        }
    }

    /// Answers if the database does.
    pub fn ping(&self) -> Result<()> {
        self.transaction(|tx| tx.query("SELECT 1", &[]))?;
        Ok(())
    }

    /// The last block whose deals are recorded.
    pub fn cursor(&self) -> Result<Option<u64>> {
        let rows = self.transaction(|tx| tx.query(SELECT_META, &[text("cursor")]))?;
        rows.into_iter()
            .next()
            .map(|row| Cols::new(row).parsed("cursor"))
            .transpose()
    }

    /// Records the tasks of newly seen deals and moves the cursor, atomically. Tasks already
    /// recorded are left as they are.
    pub fn add_tasks(&self, tasks: &[TaskRow], cursor: u64) -> Result<()> {
        let rows = tasks
            .iter()
            .map(|t| {
                Ok(vec![
                    text(t.task_id),
                    text(t.deal_id),
                    int(t.index, "task index")?,
                    int(t.trust, "trust")?,
                    Value::Bool(t.tee),
                    text(t.status.as_str()),
                ])
            })
            .collect::<Result<Vec<_>>>()?;
        self.transaction(move |tx| {
            for row in &rows {
                tx.execute(INSERT_TASK, row)?;
            }
            tx.execute(INSERT_META, &[text("cursor"), text(cursor)])?;
            Ok(())
        })
    }

    /// One task.
    pub fn task(&self, task_id: B256) -> Result<Option<TaskRow>> {
        let rows = self.transaction(move |tx| {
            tx.query(
                &format!("SELECT {TASK_COLUMNS} FROM scheduler_tasks WHERE task_id = ?1"),
                &[text(task_id)],
            )
        })?;
        rows.into_iter().next().map(decode_task).transpose()
    }

    /// Tasks not yet COMPLETED or FAILED, oldest first.
    pub fn open_tasks(&self) -> Result<Vec<TaskRow>> {
        let rows = self.transaction(|tx| {
            tx.query(
                &format!(
                    "SELECT {TASK_COLUMNS} FROM scheduler_tasks \
                     WHERE status NOT IN ('COMPLETED', 'FAILED') ORDER BY seq"
                ),
                &[],
            )
        })?;
        rows.into_iter().map(decode_task).collect()
    }

    /// Writes a task's mutable fields.
    pub fn save_task(&self, t: &TaskRow) -> Result<()> {
        let row = [
            text(t.task_id),
            text(t.status.as_str()),
            opt_text(t.enclave_challenge),
            opt_text(t.failure.as_ref().map(to_json)),
            opt_text(t.result_location.as_ref()),
            opt_text(t.note.as_ref()),
        ];
        self.transaction(move |tx| tx.execute(UPDATE_TASK, &row).map(drop))
    }

    /// The replicates of a task, in assignment order.
    pub fn replicates(&self, task_id: B256) -> Result<Vec<ReplicateRow>> {
        let rows = self.transaction(move |tx| {
            tx.query(
                &format!(
                    "SELECT {REPLICATE_COLUMNS} FROM scheduler_replicates \
                     WHERE task_id = ?1 ORDER BY seq"
                ),
                &[text(task_id)],
            )
        })?;
        rows.into_iter().map(decode_replicate).collect()
    }

    /// One replicate.
    pub fn replicate(&self, task_id: B256, worker: Address) -> Result<Option<ReplicateRow>> {
        let rows = self.transaction(move |tx| {
            tx.query(
                &format!(
                    "SELECT {REPLICATE_COLUMNS} FROM scheduler_replicates \
                     WHERE task_id = ?1 AND worker = ?2"
                ),
                &[text(task_id), text(worker)],
            )
        })?;
        rows.into_iter().next().map(decode_replicate).transpose()
    }

    /// How many replicates of `worker` are not final.
    pub fn running_count(&self, worker: Address) -> Result<u32> {
        let rows: Rows = self.transaction(move |tx| {
            tx.query(
                "SELECT status FROM scheduler_replicates WHERE worker = ?1",
                &[text(worker)],
            )
        })?;
        let mut running = 0;
        for row in rows {
            let status = Cols::new(row).text("replicate status")?;
            if ReplicateStatus::parse(&status).is_some_and(|s| !s.is_final()) {
                running += 1;
            }
        }
        Ok(running)
    }

    /// Assigns a replicate and marks the task RUNNING, atomically. Fails if `worker` already
    /// has a replicate of the task.
    pub fn assign(&self, task_id: B256, worker: Address, weight: u64) -> Result<()> {
        let row = [
            text(task_id),
            text(worker),
            int(weight, "replicate weight")?,
        ];
        self.transaction(move |tx| {
            tx.execute(INSERT_REPLICATE, &row)?;
            tx.execute(TASK_RUNNING, &row[..1])?;
            Ok(())
        })
    }

    /// Writes a replicate's mutable fields.
    pub fn save_replicate(&self, r: &ReplicateRow) -> Result<()> {
        let row = [
            text(r.task_id),
            text(r.worker),
            text(r.status.as_str()),
            opt_text(r.result_hash),
            opt_text(r.result_digest),
            Value::Blob(r.results.as_ref().map(|b| b.to_vec())),
            Value::Blob(r.callback_data.as_ref().map(|b| b.to_vec())),
            opt_text(r.failure.as_ref().map(to_json)),
            opt_text(r.logs.as_ref().map(to_json)),
            text(to_json(&r.txs)),
        ];
        self.transaction(move |tx| tx.execute(UPDATE_REPLICATE, &row).map(drop))
    }

    /// Records a login or heartbeat.
    pub fn upsert_worker(&self, w: &WorkerRow) -> Result<()> {
        let row = [
            text(w.address),
            Value::Bool(w.tee),
            int(w.max_tasks.into(), "max tasks")?,
            int(w.last_seen, "last seen")?,
        ];
        self.transaction(move |tx| tx.execute(UPSERT_WORKER, &row).map(drop))
    }

    /// A registered worker.
    pub fn worker(&self, address: Address) -> Result<Option<WorkerRow>> {
        let rows = self.transaction(move |tx| {
            tx.query(
                "SELECT tee, max_tasks, last_seen FROM scheduler_workers WHERE address = ?1",
                &[text(address)],
            )
        })?;
        rows.into_iter()
            .next()
            .map(|row| {
                let mut c = Cols::new(row);
                Ok(WorkerRow {
                    address,
                    tee: c.flag("worker tee flag")?,
                    max_tasks: c.uint("worker max tasks")?,
                    last_seen: c.uint("worker last seen")?,
                })
            })
            .transpose()
    }
}
