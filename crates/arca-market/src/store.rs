//! Where the orderbook lives: a small [`Store`] trait (so a shared Postgres can be added for
//! multi-instance deployments) and its default embedded implementation, [`SqliteStore`].
//!
//! With the `postgres` feature, `store_pg::PgStore` keeps the same tables in a shared Postgres;
//! [`conformance`] holds the behavioural tests both stores pass.
//!
//! Each call is one SQLite transaction in WAL mode with `synchronous=FULL`, so an answered
//! publish survives a crash, and the chain cursor only moves after the updates it covers.

use crate::{
    MarketError,
    order::{Order, OrderKind},
};
use alloy::primitives::{Address, B256, U256};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::{path::Path, str::FromStr, sync::Mutex};

/// The life of a published order (iExec's status values, minus `dead`, which needs the
/// balance/ownership watchers Arca does not run yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// In the orderbook, some volume left.
    Open,
    /// All volume consumed by deals.
    Filled,
    /// Cancelled on chain (`manage*Order` CLOSE) or unpublished by its owner.
    Canceled,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Filled => "filled",
            Status::Canceled => "canceled",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "open" => Status::Open,
            "filled" => Status::Filled,
            _ => Status::Canceled,
        }
    }
}

/// One published order and what the market knows about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub hash: B256,
    pub chain_id: u64,
    pub order: Order,
    /// Volume still matchable on chain.
    pub remaining: U256,
    pub status: Status,
    /// Recovered signer; equal to the resource owner (the requester for request orders).
    pub signer: Address,
    /// ISO 8601 UTC with milliseconds, so string order is time order.
    pub published_at: String,
}

/// The orderbook's persistence. Implementations must make each call atomic and durable.
pub trait Store: Send + Sync + std::fmt::Debug {
    fn get(&self, hash: B256) -> Result<Option<Record>, MarketError>;
    /// Inserts or replaces (re-publication of an unpublished order) a record.
    fn put(&self, record: &Record) -> Result<(), MarketError>;
    /// Every open order of one kind (filtering and sorting happen in [`crate::query`]).
    fn open_orders(&self, kind: OrderKind) -> Result<Vec<Record>, MarketError>;
    fn set_state(&self, hash: B256, remaining: U256, status: Status) -> Result<(), MarketError>;
    /// The last chain block whose events have been applied.
    fn cursor(&self) -> Result<Option<u64>, MarketError>;
    fn set_cursor(&self, block: u64) -> Result<(), MarketError>;
}

/// The embedded SQLite store (`market.sqlite` in the data directory, or in memory).
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/market.sqlite`.
    pub fn open(dir: &Path) -> Result<SqliteStore, MarketError> {
        std::fs::create_dir_all(dir)?;
        let conn = Connection::open(dir.join("market.sqlite"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Self::init(conn)
    }

    /// A throw-away store (tests, `--data-dir` absent).
    pub fn in_memory() -> Result<SqliteStore, MarketError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<SqliteStore, MarketError> {
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS orders (
                 hash TEXT PRIMARY KEY,
                 kind TEXT NOT NULL,
                 chain_id INTEGER NOT NULL,
                 order_json TEXT NOT NULL,
                 signer TEXT NOT NULL,
                 remaining TEXT NOT NULL,
                 status TEXT NOT NULL,
                 published_at TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS orders_kind_status ON orders (kind, status);
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // a panic while holding the lock cannot leave SQLite half-written (transactions), so
        // the connection stays usable
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub(crate) type Row = (String, String, i64, String, String, String, String, String);

pub(crate) fn from_row(row: Row) -> Result<Record, MarketError> {
    let (hash, kind, chain_id, json, signer, remaining, status, published_at) = row;
    let corrupt = |what: &str| {
        MarketError::Store(rusqlite::Error::InvalidColumnName(format!(
            "corrupt {what} in order {hash}"
        )))
    };
    let kind = OrderKind::from_str(&kind).map_err(|_| corrupt("kind"))?;
    let value: serde_json::Value = serde_json::from_str(&json).map_err(|_| corrupt("order"))?;
    Ok(Record {
        hash: B256::from_str(&hash).map_err(|_| corrupt("hash"))?,
        chain_id: chain_id as u64,
        order: Order::from_json(kind, value).map_err(|_| corrupt("order"))?,
        remaining: U256::from_str(&remaining).map_err(|_| corrupt("remaining"))?,
        status: Status::parse(&status),
        signer: Address::from_str(&signer).map_err(|_| corrupt("signer"))?,
        published_at,
    })
}

pub(crate) const COLUMNS: &str =
    "hash, kind, chain_id, order_json, signer, remaining, status, published_at";

fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ))
}

impl Store for SqliteStore {
    fn get(&self, hash: B256) -> Result<Option<Record>, MarketError> {
        let row = self
            .conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM orders WHERE hash = ?1"),
                params![hash.to_string()],
                read,
            )
            .optional()?;
        row.map(from_row).transpose()
    }

    fn put(&self, r: &Record) -> Result<(), MarketError> {
        let json = serde_json::to_string(&r.order).expect("orders always serialize");
        self.conn().execute(
            &format!(
                "INSERT OR REPLACE INTO orders ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ),
            params![
                r.hash.to_string(),
                r.order.kind().as_str(),
                r.chain_id as i64,
                json,
                r.signer.to_string(),
                r.remaining.to_string(),
                r.status.as_str(),
                r.published_at,
            ],
        )?;
        Ok(())
    }

    fn open_orders(&self, kind: OrderKind) -> Result<Vec<Record>, MarketError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM orders WHERE kind = ?1 AND status = 'open'"
        ))?;
        let rows = stmt
            .query_map(params![kind.as_str()], read)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(from_row).collect()
    }

    fn set_state(&self, hash: B256, remaining: U256, status: Status) -> Result<(), MarketError> {
        self.conn().execute(
            "UPDATE orders SET remaining = ?2, status = ?3 WHERE hash = ?1",
            params![hash.to_string(), remaining.to_string(), status.as_str()],
        )?;
        Ok(())
    }

    fn cursor(&self) -> Result<Option<u64>, MarketError> {
        let v: Option<String> = self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = 'cursor'", [], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(v.and_then(|v| v.parse().ok()))
    }

    fn set_cursor(&self, block: u64) -> Result<(), MarketError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('cursor', ?1)",
            params![block.to_string()],
        )?;
        Ok(())
    }
}

/// The behavioural tests every [`Store`] passes, run on SQLite here and on Postgres in
/// `store_pg` (when `ARCA_TEST_POSTGRES_URL` is set).
#[cfg(test)]
pub(crate) mod conformance {
    use super::*;
    use crate::order::{AppOrder, RequestOrder, Uint};
    use alloy::primitives::Bytes;

    fn app(salt: u8) -> Record {
        let order = Order::App(AppOrder {
            app: Address::repeat_byte(0xa1),
            appprice: Uint(U256::from(5)),
            volume: Uint(U256::from(10)),
            tag: B256::ZERO,
            datasetrestrict: Address::ZERO,
            workerpoolrestrict: Address::ZERO,
            requesterrestrict: Address::ZERO,
            salt: B256::repeat_byte(salt),
            sign: Bytes::from(vec![salt; 65]),
        });
        Record {
            hash: B256::repeat_byte(salt),
            chain_id: 65535,
            order,
            remaining: U256::from(10),
            status: Status::Open,
            signer: Address::repeat_byte(0x0e),
            published_at: format!("2026-11-30T10:00:00.{salt:03}Z"),
        }
    }

    fn request(salt: u8) -> Record {
        let order = Order::Request(RequestOrder {
            app: Address::repeat_byte(0xa1),
            appmaxprice: Uint(U256::from(5)),
            dataset: Address::ZERO,
            datasetmaxprice: Uint(U256::ZERO),
            workerpool: Address::ZERO,
            workerpoolmaxprice: Uint(U256::from(u64::MAX) * U256::from(1000)),
            requester: Address::repeat_byte(0x0f),
            volume: Uint(U256::from(1)),
            tag: B256::repeat_byte(1),
            category: Uint(U256::ZERO),
            trust: Uint(U256::ZERO),
            beneficiary: Address::repeat_byte(0x0f),
            callback: Address::ZERO,
            params: r#"{"iexec_args":"a b"}"#.into(),
            salt: B256::repeat_byte(salt),
            sign: Bytes::from(vec![salt; 65]),
        });
        Record {
            hash: B256::repeat_byte(salt),
            chain_id: 65535,
            order,
            remaining: U256::from(1),
            status: Status::Open,
            signer: Address::repeat_byte(0x0f),
            published_at: format!("2026-11-30T11:00:00.{salt:03}Z"),
        }
    }

    fn hashes(mut records: Vec<Record>) -> Vec<B256> {
        records.sort_by_key(|r| r.hash);
        records.into_iter().map(|r| r.hash).collect()
    }

    /// Every test, on stores from `open` (each call opens the same, initially empty, storage).
    pub(crate) fn all<S: Store>(open: &dyn Fn() -> S) {
        records_round_trip_and_replace(&open());
        open_orders_are_per_kind_and_status(&open());
        the_cursor_and_orders_survive_a_reopen(open);
    }

    fn records_round_trip_and_replace(s: &dyn Store) {
        let a = app(1);
        assert_eq!(s.get(a.hash).unwrap(), None);
        s.put(&a).unwrap();
        assert_eq!(s.get(a.hash).unwrap(), Some(a.clone()));
        // a large price and free-text params survive unchanged
        let r = request(2);
        s.put(&r).unwrap();
        assert_eq!(s.get(r.hash).unwrap(), Some(r.clone()));
        // re-publication replaces the record
        let again = Record {
            status: Status::Open,
            remaining: U256::from(7),
            published_at: "2026-11-30T12:00:00.000Z".into(),
            ..a.clone()
        };
        s.set_state(a.hash, U256::ZERO, Status::Canceled).unwrap();
        assert_eq!(s.get(a.hash).unwrap().unwrap().status, Status::Canceled);
        s.put(&again).unwrap();
        assert_eq!(s.get(a.hash).unwrap(), Some(again));
        // the state of an unknown order is not created
        s.set_state(B256::repeat_byte(0x77), U256::ZERO, Status::Filled)
            .unwrap();
        assert_eq!(s.get(B256::repeat_byte(0x77)).unwrap(), None);
    }

    fn open_orders_are_per_kind_and_status(s: &dyn Store) {
        for salt in 10..14 {
            s.put(&app(salt)).unwrap();
        }
        s.put(&request(20)).unwrap();
        s.set_state(B256::repeat_byte(11), U256::ZERO, Status::Filled)
            .unwrap();
        s.set_state(B256::repeat_byte(12), U256::from(10), Status::Canceled)
            .unwrap();
        s.set_state(B256::repeat_byte(13), U256::from(3), Status::Open)
            .unwrap();
        let open = s.open_orders(OrderKind::App).unwrap();
        assert!(open.iter().all(|r| r.order.kind() == OrderKind::App));
        let thirteen = open.iter().find(|r| r.hash == B256::repeat_byte(13));
        assert_eq!(thirteen.unwrap().remaining, U256::from(3));
        let open = hashes(open);
        assert!(open.contains(&B256::repeat_byte(10)) && open.contains(&B256::repeat_byte(13)));
        assert!(!open.contains(&B256::repeat_byte(11)) && !open.contains(&B256::repeat_byte(12)));
        assert!(
            hashes(s.open_orders(OrderKind::Request).unwrap()).contains(&B256::repeat_byte(20))
        );
        assert_eq!(s.open_orders(OrderKind::Workerpool).unwrap(), vec![]);
    }

    fn the_cursor_and_orders_survive_a_reopen<S: Store>(open: &dyn Fn() -> S) {
        {
            let s = open();
            assert_eq!(s.cursor().unwrap(), None);
            s.set_cursor(41).unwrap();
            s.set_cursor(42).unwrap();
            s.put(&app(30)).unwrap();
        }
        let s = open();
        assert_eq!(s.cursor().unwrap(), Some(42));
        assert_eq!(s.get(B256::repeat_byte(30)).unwrap(), Some(app(30)));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_store_conformance() {
        let dir = tempfile::tempdir().unwrap();
        super::conformance::all(&|| super::SqliteStore::open(dir.path()).unwrap());
    }
}
