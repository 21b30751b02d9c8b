//! The SQLite backend of the scheduler's [`Store`](super::Store): `<data-dir>/scheduler.sqlite`
//! in WAL mode (or in memory), one connection behind a mutex, each job in one transaction.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, params_from_iter};

use super::{Result, Rows, SchedulerError, Tx, Value};

/// The database file in the data directory.
pub(super) const FILE: &str = "scheduler.sqlite";

/// The tables and indexes, in SQLite's types (booleans are 0/1 integers).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS scheduler_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scheduler_tasks (
    task_id TEXT PRIMARY KEY, deal_id TEXT NOT NULL, idx INTEGER NOT NULL, trust INTEGER NOT NULL,
    tee INTEGER NOT NULL, status TEXT NOT NULL, enclave_challenge TEXT, failure TEXT,
    result_location TEXT, note TEXT, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS scheduler_tasks_open ON scheduler_tasks (seq)
    WHERE status NOT IN ('COMPLETED', 'FAILED');
CREATE TABLE IF NOT EXISTS scheduler_replicates (
    task_id TEXT NOT NULL, worker TEXT NOT NULL, status TEXT NOT NULL, weight INTEGER NOT NULL,
    result_hash TEXT, result_digest TEXT, results BLOB, callback_data BLOB, failure TEXT, logs TEXT,
    txs TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (task_id, worker));
CREATE INDEX IF NOT EXISTS scheduler_replicates_worker ON scheduler_replicates (worker);
CREATE TABLE IF NOT EXISTS scheduler_workers (
    address TEXT PRIMARY KEY, tee INTEGER NOT NULL, max_tasks INTEGER NOT NULL,
    last_seen INTEGER NOT NULL);
";

/// Data directories written before the tables were prefixed (for databases shared with
/// other services, see the module doc of `store`) name them without `scheduler_`.
const UNPREFIXED: [&str; 4] = ["meta", "tasks", "replicates", "workers"];

/// The embedded store.
#[derive(Debug)]
pub(super) struct Sqlite {
    conn: Mutex<Connection>,
    /// The database file; `None` in memory.
    path: Option<PathBuf>,
}

impl Sqlite {
    /// Opens (or creates) `<dir>/scheduler.sqlite`, or an in-memory database.
    pub(super) fn open(dir: Option<&Path>) -> Result<Self> {
        let (mut conn, path) = match dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    SchedulerError::Config(format!(
                        "data dir {}: {e}; give --data-dir a directory the scheduler can create and write",
                        dir.display()
                    ))
                })?;
                let path = dir.join(FILE);
                let conn = Connection::open(&path).map_err(|e| at(&path, e))?;
                conn.pragma_update(None, "journal_mode", "WAL")
                    .map_err(|e| at(&path, e))?;
                conn.pragma_update(None, "synchronous", "NORMAL")
                    .map_err(|e| at(&path, e))?;
                (conn, Some(path))
            }
            None => (Connection::open_in_memory()?, None),
        };
        let tx = conn.transaction()?;
        let unprefixed: i64 = tx.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'tasks'",
            [],
            |r| r.get(0),
        )?;
        if unprefixed > 0 {
            for table in UNPREFIXED {
                tx.execute_batch(&format!("ALTER TABLE {table} RENAME TO scheduler_{table}"))?;
            }
        }
        tx.execute_batch(SCHEMA)?;
        tx.commit()?;
        Ok(Sqlite {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// Runs `job` in one transaction, committed if it returns `Ok`.
    pub(super) fn transaction<R>(&self, job: impl FnOnce(&mut dyn Tx) -> Result<R>) -> Result<R> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back).
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let out = job(&mut SqliteTx { tx: &tx, db: self })?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    fn err(&self, e: rusqlite::Error) -> SchedulerError {
        match &self.path {
            Some(path) => at(path, e),
            None => SchedulerError::Store(format!("SQLite (in memory): {e}")),
        }
    }
}

fn at(path: &Path, e: rusqlite::Error) -> SchedulerError {
    SchedulerError::Store(format!("SQLite {}: {e}", path.display()))
}

struct SqliteTx<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    db: &'a Sqlite,
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Int(i) => ToSqlOutput::from(*i),
            Value::Bool(b) => ToSqlOutput::from(*b),
            Value::Text(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Blob(Some(b)) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Value::Text(None) | Value::Blob(None) | Value::Null => {
                ToSqlOutput::Borrowed(ValueRef::Null)
            }
        })
    }
}

fn read(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Value> {
    Ok(match row.get_ref(i)? {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Text(t) => Value::Text(Some(
            std::str::from_utf8(t)
                .map_err(rusqlite::Error::Utf8Error)?
                .to_owned(),
        )),
        ValueRef::Blob(b) => Value::Blob(Some(b.to_vec())),
        // the store never writes REAL
        ValueRef::Real(_) => {
            return Err(rusqlite::Error::FromSqlConversionFailure(
                i,
                rusqlite::types::Type::Real,
                "the scheduler's store holds no floating-point values".into(),
            ));
        }
    })
}

impl SqliteTx<'_> {
    fn run<R>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<R>,
    ) -> Result<R> {
        f(self.tx).map_err(|e| self.db.err(e))
    }
}

impl Tx for SqliteTx<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize> {
        self.run(|tx| tx.prepare_cached(sql)?.execute(params_from_iter(params)))
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows> {
        self.run(|tx| {
            let mut stmt = tx.prepare_cached(sql)?;
            let width = stmt.column_count();
            let mut rows = stmt.query(params_from_iter(params))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(
                    (0..width)
                        .map(|i| read(row, i))
                        .collect::<rusqlite::Result<_>>()?,
                );
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Store, TaskStatus, conformance};
    use crate::{SchedulerConfig, SchedulerError};
    use alloy::primitives::{Address, B256};

    #[test]
    fn sqlite_store_conformance() {
        conformance::all(&|_name| {
            let dir = tempfile::tempdir().unwrap();
            Box::new(move || Store::open(Some(dir.path())).unwrap())
        });
    }

    #[test]
    fn an_in_memory_store_works_and_keeps_nothing() {
        let s = Store::open(None).unwrap();
        let mut t = conformance_task();
        s.add_tasks(std::slice::from_ref(&t), 3).unwrap();
        t.status = TaskStatus::Initialized;
        s.save_task(&t).unwrap();
        assert_eq!(s.open_tasks().unwrap(), vec![t]);
        assert_eq!(Store::open(None).unwrap().cursor().unwrap(), None);
    }

    fn conformance_task() -> super::super::TaskRow {
        super::super::TaskRow {
            task_id: B256::repeat_byte(1),
            deal_id: B256::repeat_byte(2),
            index: 0,
            trust: 1,
            tee: false,
            status: TaskStatus::Received,
            enclave_challenge: None,
            failure: None,
            result_location: None,
            note: None,
        }
    }

    /// Data directories of earlier versions (unprefixed tables) are renamed in place.
    #[test]
    fn an_unprefixed_data_dir_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        {
            let c = rusqlite::Connection::open(dir.path().join(super::FILE)).unwrap();
            c.execute_batch(
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE tasks (
                    task_id TEXT PRIMARY KEY, deal_id TEXT NOT NULL, idx INTEGER NOT NULL,
                    trust INTEGER NOT NULL, tee INTEGER NOT NULL, status TEXT NOT NULL,
                    enclave_challenge TEXT, failure TEXT, result_location TEXT, note TEXT,
                    seq INTEGER NOT NULL);
                 CREATE TABLE replicates (
                    task_id TEXT NOT NULL, worker TEXT NOT NULL, status TEXT NOT NULL,
                    weight INTEGER NOT NULL, result_hash TEXT, result_digest TEXT, results BLOB,
                    callback_data BLOB, failure TEXT, logs TEXT, txs TEXT NOT NULL,
                    seq INTEGER NOT NULL, PRIMARY KEY (task_id, worker));
                 CREATE TABLE workers (address TEXT PRIMARY KEY, tee INTEGER NOT NULL,
                    max_tasks INTEGER NOT NULL, last_seen INTEGER NOT NULL);
                 INSERT INTO meta VALUES ('cursor', '17');",
            )
            .unwrap();
            c.execute(
                "INSERT INTO tasks (task_id, deal_id, idx, trust, tee, status, seq)
                 VALUES (?1, ?2, 0, 1, 0, 'INITIALIZED', 1)",
                [
                    B256::repeat_byte(1).to_string(),
                    B256::repeat_byte(2).to_string(),
                ],
            )
            .unwrap();
        }
        let s = Store::open(Some(dir.path())).unwrap();
        assert_eq!(s.cursor().unwrap(), Some(17));
        let t = s.open_tasks().unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].status, TaskStatus::Initialized);
        s.assign(t[0].task_id, Address::repeat_byte(9), 2).unwrap();
        drop(s);
        // and a second open finds the renamed tables as they are
        let s = Store::open(Some(dir.path())).unwrap();
        assert_eq!(s.replicates(B256::repeat_byte(1)).unwrap().len(), 1);
    }

    /// A row the store cannot read is a store error naming the field and the file.
    #[test]
    fn a_corrupt_row_is_a_store_error_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(Some(dir.path())).unwrap();
        s.add_tasks(&[conformance_task()], 1).unwrap();
        let c = rusqlite::Connection::open(dir.path().join(super::FILE)).unwrap();
        c.execute("UPDATE scheduler_tasks SET status = 'BOGUS'", [])
            .unwrap();
        let err = s.open_tasks().unwrap_err();
        assert!(
            matches!(&err, SchedulerError::Store(m) if m.contains("task status") && m.contains("BOGUS")),
            "{err}"
        );
        c.execute(
            "UPDATE scheduler_tasks SET status = 'RECEIVED', idx = -1",
            [],
        )
        .unwrap();
        let err = s.task(B256::repeat_byte(1)).unwrap_err().to_string();
        assert!(err.contains("task index") && err.contains("-1"), "{err}");
        c.execute("DROP TABLE scheduler_workers", []).unwrap();
        let err = s.worker(Address::ZERO).unwrap_err().to_string();
        assert!(
            err.contains("scheduler_workers") && err.contains(super::FILE),
            "{err}"
        );
    }

    fn config(pool: Address) -> SchedulerConfig {
        SchedulerConfig::new(
            arca_client::project::ChainConf::default(),
            alloy::signers::local::PrivateKeySigner::random(),
            pool,
        )
    }

    #[test]
    fn from_config_opens_one_store_for_one_workerpool() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = config(Address::repeat_byte(0xa));
        a.data_dir = Some(dir.path().to_path_buf());
        Store::from_config(&a).unwrap().add_tasks(&[], 5).unwrap();
        assert_eq!(Store::from_config(&a).unwrap().cursor().unwrap(), Some(5));

        let mut b = config(Address::repeat_byte(0xb));
        b.data_dir = a.data_dir.clone();
        let err = Store::from_config(&b).unwrap_err().to_string();
        assert!(
            err.contains("own data directory") && err.contains(super::FILE),
            "{err}"
        );

        a.postgres_url = Some("postgres://arca:s3cret@127.0.0.1:1/sched".into());
        let err = Store::from_config(&a).unwrap_err();
        assert!(matches!(err, SchedulerError::Config(_)), "{err}");
        assert!(
            err.to_string().contains("--postgres-url or --data-dir")
                && !err.to_string().contains("s3cret"),
            "{err}"
        );
    }

    #[cfg(not(feature = "postgres"))]
    #[test]
    fn a_postgres_url_without_the_feature_is_refused() {
        let mut a = config(Address::repeat_byte(0xa));
        a.postgres_url = Some("postgres://arca:s3cret@127.0.0.1:1/sched".into());
        let err = Store::from_config(&a).unwrap_err().to_string();
        assert!(
            err.contains("`postgres` feature") && !err.contains("s3cret"),
            "{err}"
        );
    }
}
