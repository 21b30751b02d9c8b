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
use arca_pg::{OpenError, PgConnection, describe};
use postgres::Client;

/// The shared Postgres store.
#[derive(Debug)]
pub struct PgStore {
    conn: PgConnection,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`, or libpq's
    /// `key=value` form) and creates the tables if needed. Errors name the URL with its
    /// password redacted.
    pub fn open(url: &str) -> Result<PgStore, MarketError> {
        let conn = PgConnection::open(
            url,
            "market-postgres",
            "drop --postgres-url to use the embedded SQLite store",
        )
        .map_err(|e| match e {
            OpenError::Thread(io) => MarketError::Io(io),
            other => MarketError::Database(other.to_string()),
        })?;
        let store = PgStore { conn };
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
        tracing::info!(target = %store.target(), "orderbook in Postgres");
        Ok(store)
    }

    /// The URL this store was opened with, its password replaced by `***`.
    pub fn target(&self) -> &str {
        self.conn.target()
    }

    /// Runs `job` on the connection thread and waits for its answer.
    fn run<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Client) -> Result<R, postgres::Error> + Send + 'static,
    ) -> Result<R, MarketError> {
        self.conn
            .run(job)
            .map_err(MarketError::Database)?
            .map_err(|e| {
                MarketError::Database(format!("Postgres {}: {}", self.target(), describe(&e)))
            })
    }
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

    use arca_pg::test_schema_url as test_url;
}
