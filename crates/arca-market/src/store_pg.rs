//! The orderbook in Postgres ([`PgStore`], feature `postgres`), for deployments where several
//! market instances share one orderbook. Same schema semantics as [`SqliteStore`]
//! (tables `market_orders` and `market_meta`), created at open; every call is one statement,
//! so one transaction, committed (and durable, with Postgres' default `synchronous_commit`)
//! before it returns.
//!
//! The sync `postgres` client drives its connection with a private tokio runtime, which must
//! not be entered from the market's own runtime threads. So the client lives on a dedicated
//! thread and each call is sent to it and awaited (a blocking wait, like SQLite's mutex); the
//! thread reconnects when the server closed the connection (a Postgres restart).
//!
//! [`SqliteStore`]: crate::SqliteStore

use crate::{
    MarketError,
    order::OrderKind,
    store::{COLUMNS, Record, Row, Status, Store, from_row},
};
use alloy::primitives::{B256, U256};
use postgres::{Client, NoTls};
use std::sync::mpsc;

/// A job for the connection thread: gets the (re)connected client, or why there is none.
type Job = Box<dyn FnOnce(Result<&mut Client, String>) + Send>;

/// The shared Postgres store.
#[derive(Debug)]
pub struct PgStore {
    jobs: mpsc::Sender<Job>,
    /// The URL with its password replaced, for error messages and logs.
    target: String,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`, or libpq's
    /// `key=value` form) and creates the tables if needed. Errors name the URL with its
    /// password redacted.
    pub fn open(url: &str) -> Result<PgStore, MarketError> {
        let target = redact(url);
        let config: postgres::Config = url.parse().map_err(|e| {
            MarketError::Database(format!(
                "{target} is not a Postgres URL ({e}); expected postgres://user:password@host:port/database"
            ))
        })?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, connected) = mpsc::channel();
        let thread_target = target.clone();
        std::thread::Builder::new()
            .name("market-postgres".into())
            .spawn(move || connection_thread(config, thread_target, queue, ready))
            .map_err(MarketError::Io)?;
        connected
            .recv()
            .unwrap_or_else(|_| Err("the connection thread stopped".into()))
            .map_err(|e| {
                MarketError::Database(format!(
                    "cannot connect to Postgres at {target}: {e}; check that the server runs and \
                     that the user and database exist (createdb), or drop --postgres-url to use \
                     the embedded SQLite store"
                ))
            })?;
        let store = PgStore { jobs, target };
        store.run(|c| {
            let mut tx = c.transaction()?;
            // concurrent first starts of several instances would race on the catalog
            tx.execute("SELECT pg_advisory_xact_lock(7358116062)", &[])?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS market_orders (
                     hash TEXT PRIMARY KEY,
                     kind TEXT NOT NULL,
                     chain_id BIGINT NOT NULL,
                     order_json TEXT NOT NULL,
                     signer TEXT NOT NULL,
                     remaining TEXT NOT NULL,
                     status TEXT NOT NULL,
                     published_at TEXT NOT NULL
                 );
                 CREATE INDEX IF NOT EXISTS market_orders_kind_status
                     ON market_orders (kind, status);
                 CREATE TABLE IF NOT EXISTS market_meta (
                     key TEXT PRIMARY KEY, value TEXT NOT NULL);",
            )?;
            tx.commit()
        })?;
        tracing::info!(target = %store.target, "orderbook in Postgres");
        Ok(store)
    }

    /// The URL this store was opened with, its password replaced by `***`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Runs `job` on the connection thread and waits for its answer.
    fn run<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Client) -> Result<R, postgres::Error> + Send + 'static,
    ) -> Result<R, MarketError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let target = self.target.clone();
        let job: Job = Box::new(move |client| {
            let result = client.and_then(|c| job(c).map_err(|e| describe(&e)));
            let _ = reply.send(result);
        });
        let gone = || {
            MarketError::Database(format!(
                "Postgres {}: connection thread stopped",
                self.target
            ))
        };
        self.jobs.send(job).map_err(|_| gone())?;
        answer
            .recv()
            .map_err(|_| gone())?
            .map_err(|e| MarketError::Database(format!("Postgres {target}: {e}")))
    }
}

/// Owns the client: runs jobs in order, reconnecting first if the server closed the connection.
fn connection_thread(
    config: postgres::Config,
    target: String,
    queue: mpsc::Receiver<Job>,
    ready: mpsc::Sender<Result<(), String>>,
) {
    let mut client = match config.connect(NoTls) {
        Ok(c) => {
            let _ = ready.send(Ok(()));
            c
        }
        Err(e) => {
            let _ = ready.send(Err(describe(&e)));
            return;
        }
    };
    for job in queue {
        if client.is_closed() {
            match config.connect(NoTls) {
                Ok(c) => {
                    tracing::warn!(%target, "reconnected to Postgres");
                    client = c;
                }
                Err(e) => {
                    job(Err(format!("reconnecting: {}", describe(&e))));
                    continue;
                }
            }
        }
        // a panicking job drops its reply (the caller gets an error), the thread serves on
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Ok(&mut client))));
    }
}

/// The error with its cause (the server's message), which `Display` alone may omit.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            // the driver's message is generic ("error connecting to server"): add its causes
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                text = format!("{text}: {c}");
                cause = c.source();
            }
            text
        }
    }
}

/// `url` with the password replaced by `***` (URL userinfo or a `password=` pair).
pub(crate) fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if let Some((userinfo, host)) = authority.rsplit_once('@')
            && let Some((user, _)) = userinfo.split_once(':')
        {
            return format!("{scheme}://{user}:***@{host}{tail}");
        }
        let words: Vec<String> = url
            .split('&')
            .map(|p| match p.split_once("password=") {
                Some((head, _)) => format!("{head}password=***"),
                None => p.to_owned(),
            })
            .collect();
        return words.join("&");
    }
    url.split_whitespace()
        .map(|w| {
            if w.starts_with("password=") {
                "password=***"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn read(row: &postgres::Row) -> Row {
    (
        row.get(0),
        row.get(1),
        row.get(2),
        row.get(3),
        row.get(4),
        row.get(5),
        row.get(6),
        row.get(7),
    )
}

impl Store for PgStore {
    fn get(&self, hash: B256) -> Result<Option<Record>, MarketError> {
        let row = self.run(move |c| {
            c.query_opt(
                &format!("SELECT {COLUMNS} FROM market_orders WHERE hash = $1"),
                &[&hash.to_string()],
            )
            .map(|r| r.as_ref().map(read))
        })?;
        row.map(from_row).transpose()
    }

    fn put(&self, r: &Record) -> Result<(), MarketError> {
        let json = serde_json::to_string(&r.order).expect("orders always serialize");
        let params = (
            r.hash.to_string(),
            r.order.kind().as_str(),
            r.chain_id as i64,
            json,
            r.signer.to_string(),
            r.remaining.to_string(),
            r.status.as_str(),
            r.published_at.clone(),
        );
        self.run(move |c| {
            let (hash, kind, chain_id, json, signer, remaining, status, at) = params;
            // replace, as SQLite's INSERT OR REPLACE (re-publication of an unpublished order)
            c.execute(
                &format!(
                    "INSERT INTO market_orders ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (hash) DO UPDATE SET kind = EXCLUDED.kind,
                       chain_id = EXCLUDED.chain_id, order_json = EXCLUDED.order_json,
                       signer = EXCLUDED.signer, remaining = EXCLUDED.remaining,
                       status = EXCLUDED.status, published_at = EXCLUDED.published_at"
                ),
                &[
                    &hash, &kind, &chain_id, &json, &signer, &remaining, &status, &at,
                ],
            )
        })?;
        Ok(())
    }

    fn open_orders(&self, kind: OrderKind) -> Result<Vec<Record>, MarketError> {
        let rows = self.run(move |c| {
            c.query(
                &format!("SELECT {COLUMNS} FROM market_orders WHERE kind = $1 AND status = 'open'"),
                &[&kind.as_str()],
            )
            .map(|rows| rows.iter().map(read).collect::<Vec<_>>())
        })?;
        rows.into_iter().map(from_row).collect()
    }

    fn set_state(&self, hash: B256, remaining: U256, status: Status) -> Result<(), MarketError> {
        self.run(move |c| {
            c.execute(
                "UPDATE market_orders SET remaining = $2, status = $3 WHERE hash = $1",
                &[&hash.to_string(), &remaining.to_string(), &status.as_str()],
            )
        })?;
        Ok(())
    }

    fn cursor(&self) -> Result<Option<u64>, MarketError> {
        let v: Option<String> = self.run(|c| {
            c.query_opt("SELECT value FROM market_meta WHERE key = 'cursor'", &[])
                .map(|r| r.map(|r| r.get(0)))
        })?;
        Ok(v.and_then(|v| v.parse().ok()))
    }

    fn set_cursor(&self, block: u64) -> Result<(), MarketError> {
        self.run(move |c| {
            c.execute(
                "INSERT INTO market_meta (key, value) VALUES ('cursor', $1)
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&block.to_string()],
            )
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://arca:s3cret@db:5432/market?sslmode=disable"),
            "postgres://arca:***@db:5432/market?sslmode=disable"
        );
        assert_eq!(
            redact("postgresql://arca@db/market"),
            "postgresql://arca@db/market"
        );
        assert_eq!(
            redact("postgres:///market?host=/run&password=s3cret"),
            "postgres:///market?host=/run&password=***"
        );
        assert_eq!(
            redact("host=db user=arca password=s3cret dbname=m"),
            "host=db user=arca password=*** dbname=m"
        );
    }

    #[test]
    fn a_bad_or_unreachable_url_is_named_without_its_password() {
        let err = PgStore::open("postgres://arca:s3cret@127.0.0.1:1/market")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("postgres://arca:***@127.0.0.1:1/market") && !err.contains("s3cret"),
            "{err}"
        );
        assert!(err.contains("--postgres-url"), "{err}");
        let err = PgStore::open("postgres://arca:s3cret@db:notaport/m")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not a Postgres URL") && !err.contains("s3cret"),
            "{err}"
        );
    }

    /// The shared behavioural tests of [`crate::store::conformance`] on a fresh schema.
    #[test]
    fn postgres_store_behaves_like_sqlite() {
        let Some(url) = test_url("market_conformance") else {
            return;
        };
        crate::store::conformance::all(&|| PgStore::open(&url).unwrap());
    }

    /// `ARCA_TEST_POSTGRES_URL` pointed at a freshly created `schema`, or `None` (skipped, said).
    fn test_url(schema: &str) -> Option<String> {
        let Ok(base) = std::env::var("ARCA_TEST_POSTGRES_URL") else {
            // straight to stderr: libtest captures print!/eprint! of passing tests, not this
            use std::io::Write as _;
            // one write, so lines of parallel tests do not interleave
            let line = format!(
                "SKIPPED Postgres test ({schema}): ARCA_TEST_POSTGRES_URL is not set (see scripts/test.d/47-postgres.sh)\n"
            );
            let _ = std::io::stderr().write_all(line.as_bytes());
            return None;
        };
        let mut c = Client::connect(&base, NoTls).expect("ARCA_TEST_POSTGRES_URL connects");
        c.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        Some(format!("{base}{sep}options=-csearch_path%3D{schema}"))
    }
}
