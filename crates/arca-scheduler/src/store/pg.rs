//! The Postgres backend of the scheduler's [`Store`](super::Store) (feature `postgres`): the
//! same tables as SQLite in Postgres' types, created at open, over the shared connection of
//! `arca-pg` (its own thread, reconnection after a server restart, URLs redacted in errors).
//! Each job runs in one transaction on the connection thread, committed before the caller
//! gets its answer (durable with Postgres' default `synchronous_commit`).

use arca_pg::{OpenError, PgConnection, describe};
use postgres::types::{ToSql, Type};

use super::{Result, Rows, SchedulerError, Tx, Value};

/// The tables and indexes in Postgres' types (the column names and meanings of SQLite's).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS scheduler_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scheduler_tasks (
    task_id TEXT PRIMARY KEY, deal_id TEXT NOT NULL, idx BIGINT NOT NULL, trust BIGINT NOT NULL,
    tee BOOLEAN NOT NULL, status TEXT NOT NULL, enclave_challenge TEXT, failure TEXT,
    result_location TEXT, note TEXT, seq BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS scheduler_tasks_open ON scheduler_tasks (seq)
    WHERE status NOT IN ('COMPLETED', 'FAILED');
CREATE TABLE IF NOT EXISTS scheduler_replicates (
    task_id TEXT NOT NULL, worker TEXT NOT NULL, status TEXT NOT NULL, weight BIGINT NOT NULL,
    result_hash TEXT, result_digest TEXT, results BYTEA, callback_data BYTEA, failure TEXT,
    logs TEXT, txs TEXT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (task_id, worker));
CREATE INDEX IF NOT EXISTS scheduler_replicates_worker ON scheduler_replicates (worker);
CREATE TABLE IF NOT EXISTS scheduler_workers (
    address TEXT PRIMARY KEY, tee BOOLEAN NOT NULL, max_tasks BIGINT NOT NULL,
    last_seen BIGINT NOT NULL);
";

/// The Postgres store.
#[derive(Debug)]
pub(super) struct Pg {
    conn: PgConnection,
}

impl Pg {
    /// Connects and creates the tables if needed.
    pub(super) fn open(url: &str) -> Result<Self> {
        let conn = PgConnection::open(
            url,
            "scheduler-postgres",
            "drop --postgres-url to keep the scheduler's state in SQLite (--data-dir)",
        )
        .map_err(|e| match e {
            OpenError::BadUrl(m) => SchedulerError::Config(m),
            other => SchedulerError::Store(other.to_string()),
        })?;
        let pg = Pg { conn };
        pg.conn
            .run(|c| {
                let mut tx = c.transaction()?;
                // concurrent first starts (schedulers of several pools) would race on the catalog
                tx.execute("SELECT pg_advisory_xact_lock(7358116064)", &[])?;
                tx.batch_execute(SCHEMA)?;
                tx.commit()
            })
            .map_err(SchedulerError::Store)?
            .map_err(|e| store_err(pg.conn.target(), &e))?;
        tracing::info!(target = %pg.conn.target(), "scheduler state in Postgres");
        Ok(pg)
    }

    /// Runs `job` in one transaction on the connection thread, committed if it returns `Ok`.
    pub(super) fn transaction<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut dyn Tx) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let target = self.conn.target().to_owned();
        self.conn
            .run(move |client| {
                let err = |e: postgres::Error| store_err(&target, &e);
                let mut tx = client.transaction().map_err(err)?;
                let out = job(&mut PgTx {
                    tx: &mut tx,
                    target: &target,
                })?;
                tx.commit().map_err(err)?;
                Ok(out)
            })
            // the outer error (no connection) already names the redacted URL
            .map_err(SchedulerError::Store)?
    }
}

fn store_err(target: &str, e: &postgres::Error) -> SchedulerError {
    SchedulerError::Store(format!("Postgres {target}: {}", describe(e)))
}

struct PgTx<'a, 'b> {
    tx: &'a mut postgres::Transaction<'b>,
    target: &'a str,
}

/// The statement with Postgres' placeholders: the shared statements write `?N`, which is
/// `$N` here (no statement has a `?` elsewhere).
fn dialect(sql: &str) -> String {
    sql.replace('?', "$")
}

/// The parameters as the driver binds them (typed NULLs: see [`Value`]).
fn bind(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|v| -> &(dyn ToSql + Sync) {
            match v {
                Value::Int(i) => i,
                Value::Bool(b) => b,
                Value::Text(s) => s,
                Value::Blob(b) => b,
                // never encoded (see `Value::Null`); bound as a NULL text if it were
                Value::Null => &None::<String>,
            }
        })
        .collect()
}

/// A column as a [`Value`], by its Postgres type.
fn read(row: &postgres::Row, i: usize) -> std::result::Result<Value, postgres::Error> {
    let ty = row.columns()[i].type_();
    Ok(if *ty == Type::INT8 {
        Value::Int(row.try_get(i)?)
    } else if *ty == Type::INT4 {
        Value::Int(row.try_get::<_, i32>(i)?.into())
    } else if *ty == Type::BOOL {
        Value::Bool(row.try_get(i)?)
    } else if *ty == Type::BYTEA {
        Value::Blob(row.try_get(i)?)
    } else {
        // TEXT; another type fails here with the driver's "cannot convert" error
        Value::Text(row.try_get(i)?)
    })
}

impl Tx for PgTx<'_, '_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize> {
        let changed = self
            .tx
            .execute(&dialect(sql), &bind(params))
            .map_err(|e| store_err(self.target, &e))?;
        Ok(changed as usize)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows> {
        let rows = self
            .tx
            .query(&dialect(sql), &bind(params))
            .map_err(|e| store_err(self.target, &e))?;
        rows.iter()
            .map(|row| (0..row.len()).map(|i| read(row, i)).collect())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| store_err(self.target, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Store, conformance};
    use crate::{SchedulerConfig, SchedulerError};
    use alloy::primitives::Address;
    use postgres::Client;

    #[test]
    fn a_bad_or_unreachable_url_is_named_without_its_password() {
        let err = Store::open_postgres("postgres://arca:s3cret@127.0.0.1:1/sched").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, SchedulerError::Store(_)), "{text}");
        assert!(
            text.contains("postgres://arca:***@127.0.0.1:1/sched") && !text.contains("s3cret"),
            "{text}"
        );
        assert!(text.contains("--postgres-url"), "{text}");
        let err = Store::open_postgres("postgres://arca:s3cret@db:notaport/s").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, SchedulerError::Config(_)), "{text}");
        assert!(
            text.contains("not a Postgres URL") && !text.contains("s3cret"),
            "{text}"
        );
    }

    #[test]
    fn the_location_in_logs_hides_the_password() {
        let mut c = SchedulerConfig::new(
            arca_client::project::ChainConf::default(),
            alloy::signers::local::PrivateKeySigner::random(),
            Address::ZERO,
        );
        c.postgres_url = Some("postgres://arca:s3cret@db:5432/sched".into());
        assert_eq!(
            super::super::describe_location(&c),
            "Postgres postgres://arca:***@db:5432/sched"
        );
    }

    /// The shared behavioural tests of [`conformance`], each on a fresh schema; their
    /// restart test reopens the store on the same database.
    #[test]
    fn postgres_store_conformance() {
        if test_url("scheduler_t_probe").is_none() {
            return;
        }
        conformance::all(&|name| {
            let url = test_url(&format!("scheduler_t_{name}")).unwrap();
            Box::new(move || Store::open_postgres(&url).unwrap())
        });
    }

    /// A scheduler configured with `postgres_url` restarts on its Postgres state and refuses
    /// another workerpool's; the row it cannot read is a store error naming the field.
    #[test]
    fn postgres_from_config_restart_and_errors() {
        let Some(url) = test_url("scheduler_t_config") else {
            return;
        };
        let mut config = SchedulerConfig::new(
            arca_client::project::ChainConf::default(),
            alloy::signers::local::PrivateKeySigner::random(),
            Address::repeat_byte(0xa),
        );
        config.postgres_url = Some(url.clone());
        Store::from_config(&config)
            .unwrap()
            .add_tasks(&[], 9)
            .unwrap();
        let store = Store::from_config(&config).unwrap();
        assert_eq!(store.cursor().unwrap(), Some(9));
        config.workerpool = Address::repeat_byte(0xb);
        let err = Store::from_config(&config).unwrap_err().to_string();
        assert!(
            err.contains("own data directory or Postgres database"),
            "{err}"
        );

        let mut raw = Client::connect(&url, postgres::NoTls).unwrap();
        raw.execute(
            "UPDATE scheduler_meta SET value = 'soon' WHERE key = 'cursor'",
            &[],
        )
        .unwrap();
        let err = store.cursor().unwrap_err();
        assert!(
            matches!(&err, SchedulerError::Store(m) if m.contains("cursor") && m.contains("soon")),
            "{err}"
        );
    }

    /// The store survives its connection being killed (a Postgres restart, a failover): the
    /// call that meets the dead connection fails with a store error, the next reconnects.
    #[test]
    fn postgres_store_reconnects() {
        let Some(url) = test_url("scheduler_t_reconnect") else {
            return;
        };
        // named, so only this store's connection is killed (tests run in parallel)
        let store =
            Store::open_postgres(&format!("{url}&application_name=arca_t_reconnect")).unwrap();
        store.add_tasks(&[], 1).unwrap();
        let mut raw = Client::connect(&url, postgres::NoTls).unwrap();
        let killed = raw
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE application_name = 'arca_t_reconnect'",
                &[],
            )
            .unwrap();
        assert_eq!(killed.len(), 1, "the store's one connection is killed");
        // the first call may meet the closed socket; a later one is on a new connection
        let mut answered = None;
        for _ in 0..3 {
            match store.cursor() {
                Ok(c) => {
                    answered = Some(c);
                    break;
                }
                Err(e) => assert!(matches!(e, SchedulerError::Store(_)), "{e}"),
            }
        }
        assert_eq!(answered, Some(Some(1)));
    }

    use arca_pg::test_schema_url as test_url;
}
