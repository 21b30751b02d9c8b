//! Secret storage: a [`SecretStore`] trait and its embedded SQLite implementation (with the
//! `postgres` feature, `store_pg::PgStore` keeps the same invariants in a shared Postgres;
//! `conformance` holds the behavioural tests both pass).
//!
//! Every value is sealed with AES-256-GCM under the [`MasterKey`] before it reaches the
//! database, with the version's identity (kind, owner, name, version) as associated data: a dump
//! of the database reveals no secret, and a ciphertext copied onto another secret or version does
//! not decrypt.
//!
//! Secrets are versioned: `secrets` holds each secret's current version and revocation,
//! `secret_versions` every sealed version. A TEE session pins the versions current when it opens
//! ([`Pin`]); a revocation covers every version up to the current one.

use crate::error::{Result, SmsError};
use crate::log::{Release, Tamper, entry_hash, entry_mac};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use alloy::primitives::{B256, keccak256};
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The 32-byte key sealing every stored secret. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// Wraps raw key bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        MasterKey(bytes)
    }

    /// Parses a key given as 64 hex digits (optionally `0x`), surrounding whitespace ignored,
    /// or as exactly 32 raw bytes (a key file written with `head -c 32 /dev/urandom`).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() == 32 {
            let mut k = [0u8; 32];
            k.copy_from_slice(bytes);
            return Ok(MasterKey(k));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| SmsError::Config("master key: neither 32 raw bytes nor hex".into()))?
            .trim();
        let text = text.strip_prefix("0x").unwrap_or(text);
        let mut k = [0u8; 32];
        hex::decode_to_slice(text, &mut k).map_err(|_| {
            SmsError::Config(
                "master key: expected 64 hex digits or 32 raw bytes (the value is not shown)"
                    .into(),
            )
        })?;
        Ok(MasterKey(k))
    }

    /// The key of the release log's MACs, derived from the master key (so a store opened
    /// with another master key does not vouch for the log).
    pub(crate) fn log_key(&self) -> [u8; 32] {
        keccak256([b"arca-sms/release-log-key/v1".as_slice(), &self.0].concat()).0
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new((&self.0).into())
    }

    /// `nonce ‖ ciphertext+tag` of `plain` bound to `aad`.
    pub(crate) fn seal(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher()
            .encrypt(&Nonce::from(nonce), Payload { msg: plain, aad })
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        [nonce.as_slice(), &ct].concat()
    }

    /// Opens what [`seal`](Self::seal) produced; fails on a wrong key, row or tampering.
    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < 12 + 16 {
            return Err(SmsError::Store("sealed value is truncated".into()));
        }
        let (nonce, ct) = sealed.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().expect("split at 12");
        self.cipher()
            .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
            .map_err(|_| {
                SmsError::Store(
                    "a stored secret does not decrypt: wrong master key or tampered row".into(),
                )
            })
    }
}

/// The families of secrets, as iExec separates them (they have distinct owners and rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretKind {
    /// A dataset's key (web3 secret; owner = the dataset address).
    Dataset,
    /// A web2 secret of an account (e.g. `iexec-result-encryption-public-key`).
    Web2,
    /// An app developer secret (index `1`).
    App,
    /// A requester's named secret.
    Requester,
    /// A task's enclave challenge private key (owner = task id).
    EnclaveChallenge,
}

impl SecretKind {
    /// The kind's name in URLs, labels and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::Dataset => "dataset",
            SecretKind::Web2 => "web2",
            SecretKind::App => "app",
            SecretKind::Requester => "requester",
            SecretKind::EnclaveChallenge => "enclave-challenge",
        }
    }

    /// Parses a kind an owner may manage (`dataset`, `web2`, `app`, `requester`); enclave
    /// challenge keys are the SMS's own and not addressable.
    pub fn parse_managed(text: &str) -> Result<Self> {
        match text {
            "dataset" => Ok(SecretKind::Dataset),
            "web2" => Ok(SecretKind::Web2),
            "app" => Ok(SecretKind::App),
            "requester" => Ok(SecretKind::Requester),
            other => Err(SmsError::BadRequest(format!(
                "kind `{other}` is not a secret kind: expected dataset, web2, app or requester"
            ))),
        }
    }
}

/// The latest revocation of a secret: every version up to `through` is never released again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Revocation {
    /// The highest revoked version.
    pub through: u64,
    /// Unix seconds.
    pub at: u64,
    /// The address that signed the revocation.
    pub by: String,
}

/// What is known about a secret without decrypting it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SecretMeta {
    /// The current (latest) version, from 1.
    pub version: u64,
    /// Unix seconds of the first push.
    pub created: u64,
    /// Unix seconds of the latest version.
    pub updated: u64,
    /// The latest revocation, if any (it covers the current version when `through == version`).
    pub revoked: Option<Revocation>,
}

impl SecretMeta {
    /// The revocation covering `version`, if any.
    pub fn revocation_of(&self, version: u64) -> Option<&Revocation> {
        self.revoked.as_ref().filter(|r| version <= r.through)
    }
}

/// A secret version a session is entitled to: chosen when the session opens, so a rotation
/// reaches sessions opened after it and never changes what an open session receives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pin {
    /// The secret's kind.
    pub kind: SecretKind,
    /// Its owner key (lower-case address).
    pub owner: String,
    /// Its name (`""` for dataset keys).
    pub name: String,
    /// The version served to this session.
    pub version: u64,
    /// The environment variables that receive it.
    pub env: Vec<String>,
}

/// A TEE session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// `<10 random alphanumerics>0000<taskId>`.
    pub id: String,
    /// The task.
    pub task_id: String,
    /// The worker that opened it.
    pub worker: String,
    /// Unix seconds.
    pub created: u64,
    /// The secret versions it is entitled to.
    pub pins: Vec<Pin>,
    /// The session key an attested release bound (`None` before the first release).
    pub session_key: Option<String>,
    /// The last follow-up release number accepted (0 after the attested release).
    pub counter: u64,
}
/// The `(seq, prev)` of the entry to append after the log's last entry (its JSON; `None`: the
/// log is empty).
pub(crate) fn next_link(last: Option<&str>) -> Result<(u64, B256)> {
    match last {
        Some(json) => {
            let last: Release = serde_json::from_str(json)
                .map_err(|e| store_err("the last release log entry", e))?;
            Ok((last.seq + 1, last.hash))
        }
        None => Ok((1, B256::ZERO)),
    }
}

/// `entry` linked at `seq` after `prev`, hashed and MAC'd with the log key.
pub(crate) fn seal_entry(mut entry: Release, seq: u64, prev: B256, log_key: &[u8; 32]) -> Release {
    entry.seq = seq;
    entry.prev = prev;
    entry.hash = entry_hash(&entry);
    entry.mac = entry_mac(log_key, entry.hash);
    entry
}

/// The release log as read by a backend (`entries`, first unreadable row): the entries, or an
/// error naming the row that is not a log entry.
pub(crate) fn readable_releases(
    (entries, unreadable): (Vec<Release>, Option<u64>),
) -> Result<Vec<Release>> {
    match unreadable {
        Some(seq) => Err(SmsError::Store(format!(
            "release log row {seq} is not a log entry (tampered?)"
        ))),
        None => Ok(entries),
    }
}

/// Verifies a release log as read by a backend: the chain and MACs of `entries`, with an
/// unreadable row as the first problem unless an earlier entry is already wrong.
pub(crate) fn verify_read_log(
    (entries, unreadable): (Vec<Release>, Option<u64>),
    log_key: &[u8; 32],
) -> (Vec<Release>, std::result::Result<(), Tamper>) {
    let mut verdict = crate::log::verify(&entries, Some(log_key));
    if let Some(seq) = unreadable
        && verdict.as_ref().err().is_none_or(|t| t.seq >= seq)
    {
        verdict = Err(Tamper {
            seq,
            reason: "unreadable: the row is not a log entry".to_owned(),
        });
    }
    (entries, verdict)
}

/// Storage of sealed, versioned secrets, single-use TEE sessions and the release log.
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    /// Stores version 1 of a new secret; `Ok(false)` if it already exists (nothing changes).
    fn insert(&self, kind: SecretKind, owner: &str, name: &str, value: &[u8]) -> Result<bool>;
    /// Adds a version to an existing secret and returns its number. With `expected`, the new
    /// version must be that number (a compare-and-swap: [`SmsError::Conflict`] otherwise);
    /// [`SmsError::NotFound`] if there is no such secret. `by` is recorded with the version.
    fn rotate(
        &self,
        kind: SecretKind,
        owner: &str,
        name: &str,
        value: &[u8],
        by: &str,
        expected: Option<u64>,
    ) -> Result<u64>;
    /// Replaces an existing secret by a new version; `Ok(false)` if there is none.
    fn update(&self, kind: SecretKind, owner: &str, name: &str, value: &[u8]) -> Result<bool> {
        match self.rotate(kind, owner, name, value, owner, None) {
            Ok(_) => Ok(true),
            Err(SmsError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
    /// Revokes every version up to `version`, which must be the current one
    /// ([`SmsError::Conflict`] otherwise, [`SmsError::NotFound`] if there is no such secret).
    fn revoke(
        &self,
        kind: SecretKind,
        owner: &str,
        name: &str,
        version: u64,
        by: &str,
        at: u64,
    ) -> Result<Revocation>;
    /// The current version's plaintext, if any (revocation is the caller's concern).
    fn get(&self, kind: SecretKind, owner: &str, name: &str) -> Result<Option<Vec<u8>>>;
    /// A given version's plaintext, if it exists.
    fn get_version(
        &self,
        kind: SecretKind,
        owner: &str,
        name: &str,
        version: u64,
    ) -> Result<Option<Vec<u8>>>;
    /// Version and revocation of the secret, if it exists (nothing is decrypted).
    fn meta(&self, kind: SecretKind, owner: &str, name: &str) -> Result<Option<SecretMeta>>;
    /// Whether the secret exists (without decrypting it).
    fn exists(&self, kind: SecretKind, owner: &str, name: &str) -> Result<bool> {
        Ok(self.meta(kind, owner, name)?.is_some())
    }
    /// Records a new session (its `session_key` and `counter` are ignored).
    fn create_session(&self, session: &Session) -> Result<()>;
    /// The session, `Ok(None)` if unknown.
    fn session(&self, session_id: &str) -> Result<Option<Session>>;
    /// Binds the attested session key; `Ok(false)` if the session already has one (atomic: of
    /// two concurrent attested releases, exactly one wins).
    fn attest_session(&self, session_id: &str, session_key: &str) -> Result<bool>;
    /// Accepts follow-up release number `counter` if it is above the last accepted one;
    /// `Ok(false)` otherwise (a replayed or reordered request).
    fn advance_session(&self, session_id: &str, counter: u64) -> Result<bool>;
    /// Appends a release to the hash-chained log; `seq`, `prev`, `hash` and `mac` of `entry`
    /// are assigned here (atomically with respect to other appends).
    fn append_release(&self, entry: Release) -> Result<Release>;
    /// Accepts follow-up release number `counter` of a session (above the last accepted one)
    /// and appends `entry` to the log, in one transaction; `Ok(None)` if the counter is not
    /// above the last one (a replayed or reordered request): then nothing is written.
    fn follow_up_release(
        &self,
        session_id: &str,
        counter: u64,
        entry: Release,
    ) -> Result<Option<Release>>;
    /// A number that changes whenever a secret is revoked. A cache of decrypted values is valid
    /// while it is unchanged (a store shared by several SMS processes must keep it in the
    /// database).
    fn revocation_epoch(&self) -> u64;
    /// The whole release log, in order.
    fn releases(&self) -> Result<Vec<Release>>;
    /// The readable log entries and the verdict of recomputing its hash chain and MACs: the
    /// first inconsistent (or unreadable) entry, if any.
    fn verify_log(&self) -> Result<(Vec<Release>, std::result::Result<(), Tamper>)>;
    /// A cheap query proving the store answers (for `/ready`).
    fn ping(&self) -> Result<()>;
}

/// The embedded SQLite store (a file, or in memory for tests).
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    key: MasterKey,
    log_key: [u8; 32],
    /// (seq, hash) of the last log entry written by this store.
    tail: Mutex<Option<(u64, B256)>>,
    /// Bumped by every revocation (see [`SecretStore::revocation_epoch`]).
    epoch: AtomicU64,
}

impl SqliteStore {
    /// Opens (creating or upgrading if needed) the database at `path`.
    pub fn open(path: &Path, key: MasterKey) -> Result<Self> {
        Self::init(Connection::open(path)?, key)
    }

    /// A private in-memory database.
    pub fn in_memory(key: MasterKey) -> Result<Self> {
        Self::init(Connection::open_in_memory()?, key)
    }

    fn init(mut conn: Connection, key: MasterKey) -> Result<Self> {
        // WAL: readers (existence checks) do not wait for a writer. synchronous=NORMAL: a
        // commit survives a crash of the SMS process (it is in the WAL file); only a power loss
        // may drop the last commits, never corrupt the database.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let tx = conn.transaction()?;
        let legacy = columns(&tx, "secrets")?.iter().any(|c| c == "sealed");
        if legacy {
            tx.execute_batch("ALTER TABLE secrets RENAME TO secrets_v1")?;
        }
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS secrets (
                kind TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL,
                version INTEGER NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,
                revoked_through INTEGER NOT NULL DEFAULT 0, revoked_at INTEGER, revoked_by TEXT,
                PRIMARY KEY (kind, owner, name));
             CREATE TABLE IF NOT EXISTS secret_versions (
                kind TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL,
                version INTEGER NOT NULL, sealed BLOB NOT NULL, created INTEGER NOT NULL,
                by TEXT NOT NULL, PRIMARY KEY (kind, owner, name, version));
             CREATE TABLE IF NOT EXISTS sessions (
                id TEXT PRIMARY KEY, task_id TEXT NOT NULL, worker TEXT NOT NULL,
                created INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE IF NOT EXISTS releases (
                seq INTEGER PRIMARY KEY, entry TEXT NOT NULL);",
        )?;
        if legacy {
            upgrade_v1(&tx, &key)?;
        }
        // Sessions of the first schema are single-use rows; the columns of pinned versions,
        // the bound session key and the follow-up counter are added in place.
        let session_columns = columns(&tx, "sessions")?;
        for (column, decl) in [
            ("pins", "TEXT NOT NULL DEFAULT '[]'"),
            ("session_key", "TEXT"),
            ("counter", "INTEGER NOT NULL DEFAULT 0"),
        ] {
            if !session_columns.iter().any(|c| c == column) {
                tx.execute_batch(&format!("ALTER TABLE sessions ADD COLUMN {column} {decl}"))?;
            }
        }
        tx.commit()?;
        let log_key = key.log_key();
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            key,
            log_key,
            tail: Mutex::new(None),
            epoch: AtomicU64::new(0),
        })
    }

    /// Gives `entry` its place after the log's tail: seq, prev, hash and MAC. The tail is
    /// remembered between appends (the caller holds the connection lock, so it cannot move).
    fn link(&self, conn: &Connection, entry: Release) -> Result<Release> {
        let tail = *self.tail.lock().unwrap_or_else(|p| p.into_inner());
        let (seq, prev) = match tail {
            Some((seq, hash)) => (seq + 1, hash),
            None => {
                let last: Option<String> = conn
                    .prepare_cached("SELECT entry FROM releases ORDER BY seq DESC LIMIT 1")?
                    .query_row([], |r| r.get(0))
                    .optional()?;
                next_link(last.as_deref())?
            }
        };
        Ok(seal_entry(entry, seq, prev, &self.log_key))
    }

    fn insert_entry(&self, conn: &Connection, entry: &Release) -> Result<()> {
        let json = serde_json::to_string(entry).map_err(|e| store_err("release log entry", e))?;
        conn.prepare_cached("INSERT INTO releases (seq, entry) VALUES (?1, ?2)")?
            .execute(params![entry.seq as i64, json])?;
        Ok(())
    }

    /// Called after the entry is committed, still under the connection lock.
    fn set_tail(&self, entry: &Release) {
        *self.tail.lock().unwrap_or_else(|p| p.into_inner()) = Some((entry.seq, entry.hash));
    }

    /// Every log row that parses, in order, and the seq of the first that does not.
    fn read_log(&self) -> Result<(Vec<Release>, Option<u64>)> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT seq, entry FROM releases ORDER BY seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        let mut entries = Vec::new();
        let mut unreadable = None;
        for row in rows {
            let (seq, json) = row?;
            match serde_json::from_str::<Release>(&json) {
                Ok(entry) => entries.push(entry),
                Err(_) => {
                    unreadable.get_or_insert(seq as u64);
                }
            }
        }
        Ok((entries, unreadable))
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (statements are
        // atomic), so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn columns(conn: &Connection, table: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(1))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Moves the rows of the first schema (one sealed value per secret, bound to kind/owner/name)
/// to version 1 of the versioned schema (bound to the version too), in the caller's
/// transaction: a failure leaves the database as it was.
fn upgrade_v1(conn: &Connection, key: &MasterKey) -> Result<()> {
    let rows: Vec<(String, String, String, Vec<u8>, i64, i64)> = {
        let mut stmt =
            conn.prepare("SELECT kind, owner, name, sealed, created, updated FROM secrets_v1")?;
        stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<std::result::Result<_, _>>()?
    };
    for (kind, owner, name, sealed, created, updated) in rows {
        let old_aad = format!("arca-sms/v1\0{kind}\0{owner}\0{name}").into_bytes();
        let plain = key.open(&old_aad, &sealed)?;
        let resealed = key.seal(&aad_str(&kind, &owner, &name, 1), &plain);
        conn.execute(
            "INSERT INTO secrets (kind, owner, name, version, created, updated)
             VALUES (?1, ?2, ?3, 1, ?4, ?5)",
            params![kind, owner, name, created, updated],
        )?;
        conn.execute(
            "INSERT INTO secret_versions (kind, owner, name, version, sealed, created, by)
             VALUES (?1, ?2, ?3, 1, ?4, ?5, ?2)",
            params![kind, owner, name, resealed, updated],
        )?;
    }
    conn.execute_batch("DROP TABLE secrets_v1")?;
    Ok(())
}

fn aad_str(kind: &str, owner: &str, name: &str, version: u64) -> Vec<u8> {
    format!("arca-sms/v2\0{kind}\0{owner}\0{name}\0{version}").into_bytes()
}

/// The associated data of a sealed version: a ciphertext moved to another secret or version
/// does not decrypt (so an old version cannot be passed off as the current one).
pub(crate) fn aad(kind: SecretKind, owner: &str, name: &str, version: u64) -> Vec<u8> {
    aad_str(kind.as_str(), owner, name, version)
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(crate) fn store_err(what: &str, e: impl std::fmt::Display) -> SmsError {
    SmsError::Store(format!("{what}: {e}"))
}

const SESSION_COLUMNS: &str = "id, task_id, worker, created, pins, session_key, counter";

fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Session, String)> {
    Ok((
        Session {
            id: r.get(0)?,
            task_id: r.get(1)?,
            worker: r.get(2)?,
            created: r.get::<_, i64>(3)? as u64,
            pins: Vec::new(),
            session_key: r.get(5)?,
            counter: r.get::<_, i64>(6)? as u64,
        },
        r.get(4)?,
    ))
}

impl SecretStore for SqliteStore {
    fn insert(&self, kind: SecretKind, owner: &str, name: &str, value: &[u8]) -> Result<bool> {
        let sealed = self.key.seal(&aad(kind, owner, name, 1), value);
        let now = unix_now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO secrets (kind, owner, name, version, created, updated)
             VALUES (?1, ?2, ?3, 1, ?4, ?4)",
            )?
            .execute(params![kind.as_str(), owner, name, now])?;
        if n == 1 {
            tx.prepare_cached(
                "INSERT INTO secret_versions (kind, owner, name, version, sealed, created, by)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?2)",
            )?
            .execute(params![kind.as_str(), owner, name, sealed, now])?;
        }
        tx.commit()?;
        Ok(n == 1)
    }

    fn rotate(
        &self,
        kind: SecretKind,
        owner: &str,
        name: &str,
        value: &[u8],
        by: &str,
        expected: Option<u64>,
    ) -> Result<u64> {
        let now = unix_now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let current: Option<i64> = tx
            .prepare_cached(
                "SELECT version FROM secrets WHERE kind = ?1 AND owner = ?2 AND name = ?3",
            )?
            .query_row(params![kind.as_str(), owner, name], |r| r.get(0))
            .optional()?;
        let current = current.ok_or_else(|| {
            SmsError::NotFound(format!(
                "no {} secret `{name}` of {owner} to rotate; push it first",
                kind.as_str()
            ))
        })? as u64;
        let next = current + 1;
        if let Some(expected) = expected
            && expected != next
        {
            return Err(SmsError::Conflict(format!(
                "the secret is at version {current}, so a rotation creates version {next}, not {expected}; sign the challenge for version {next}"
            )));
        }
        let sealed = self.key.seal(&aad(kind, owner, name, next), value);
        tx.prepare_cached(
            "INSERT INTO secret_versions (kind, owner, name, version, sealed, created, by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            kind.as_str(),
            owner,
            name,
            next as i64,
            sealed,
            now,
            by
        ])?;
        tx.prepare_cached("UPDATE secrets SET version = ?4, updated = ?5 WHERE kind = ?1 AND owner = ?2 AND name = ?3")?.execute(
            params![kind.as_str(), owner, name, next as i64, now],
        )?;
        tx.commit()?;
        Ok(next)
    }

    fn revoke(
        &self,
        kind: SecretKind,
        owner: &str,
        name: &str,
        version: u64,
        by: &str,
        at: u64,
    ) -> Result<Revocation> {
        let conn = self.conn();
        // One statement: the version check and the revocation cannot be split by a rotation.
        let n = conn
            .prepare_cached(
                "UPDATE secrets SET revoked_through = version, revoked_at = ?5, revoked_by = ?6
             WHERE kind = ?1 AND owner = ?2 AND name = ?3 AND version = ?4",
            )?
            .execute(params![
                kind.as_str(),
                owner,
                name,
                version as i64,
                at as i64,
                by
            ])?;
        if n == 1 {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            return Ok(Revocation {
                through: version,
                at,
                by: by.to_owned(),
            });
        }
        let current: Option<i64> = conn
            .prepare_cached(
                "SELECT version FROM secrets WHERE kind = ?1 AND owner = ?2 AND name = ?3",
            )?
            .query_row(params![kind.as_str(), owner, name], |r| r.get(0))
            .optional()?;
        Err(match current {
            None => SmsError::NotFound(format!(
                "no {} secret `{name}` of {owner} to revoke",
                kind.as_str()
            )),
            Some(current) => SmsError::Conflict(format!(
                "the secret is at version {current}, not {version}; sign the revocation of version {current}"
            )),
        })
    }

    fn get(&self, kind: SecretKind, owner: &str, name: &str) -> Result<Option<Vec<u8>>> {
        let row: Option<(i64, Vec<u8>)> = self
            .conn().prepare_cached("SELECT v.version, v.sealed FROM secrets s JOIN secret_versions v
                   ON v.kind = s.kind AND v.owner = s.owner AND v.name = s.name AND v.version = s.version
                 WHERE s.kind = ?1 AND s.owner = ?2 AND s.name = ?3")?.query_row(
                params![kind.as_str(), owner, name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(v, s)| self.key.open(&aad(kind, owner, name, v as u64), &s))
            .transpose()
    }

    fn get_version(
        &self,
        kind: SecretKind,
        owner: &str,
        name: &str,
        version: u64,
    ) -> Result<Option<Vec<u8>>> {
        let sealed: Option<Vec<u8>> = self
            .conn()
            .prepare_cached(
                "SELECT sealed FROM secret_versions
                 WHERE kind = ?1 AND owner = ?2 AND name = ?3 AND version = ?4",
            )?
            .query_row(params![kind.as_str(), owner, name, version as i64], |r| {
                r.get(0)
            })
            .optional()?;
        sealed
            .map(|s| self.key.open(&aad(kind, owner, name, version), &s))
            .transpose()
    }

    fn meta(&self, kind: SecretKind, owner: &str, name: &str) -> Result<Option<SecretMeta>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT version, created, updated, revoked_through, revoked_at, revoked_by
                 FROM secrets WHERE kind = ?1 AND owner = ?2 AND name = ?3",
            )?
            .query_row(params![kind.as_str(), owner, name], |r| {
                let through = r.get::<_, i64>(3)? as u64;
                Ok(SecretMeta {
                    version: r.get::<_, i64>(0)? as u64,
                    created: r.get::<_, i64>(1)? as u64,
                    updated: r.get::<_, i64>(2)? as u64,
                    revoked: if through == 0 {
                        None
                    } else {
                        Some(Revocation {
                            through,
                            at: r.get::<_, Option<i64>>(4)?.unwrap_or(0) as u64,
                            by: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                        })
                    },
                })
            })
            .optional()?)
    }

    fn create_session(&self, session: &Session) -> Result<()> {
        let pins =
            serde_json::to_string(&session.pins).map_err(|e| store_err("session pins", e))?;
        self.conn().prepare_cached("INSERT INTO sessions (id, task_id, worker, created, pins) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(
            params![
                session.id,
                session.task_id,
                session.worker,
                session.created as i64,
                pins
            ],
        )?;
        Ok(())
    }

    fn session(&self, session_id: &str) -> Result<Option<Session>> {
        let row = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
            ))?
            .query_row(params![session_id], session_row)
            .optional()?;
        row.map(|(mut session, pins)| {
            session.pins = serde_json::from_str(&pins).map_err(|e| store_err("session pins", e))?;
            Ok(session)
        })
        .transpose()
    }

    fn attest_session(&self, session_id: &str, session_key: &str) -> Result<bool> {
        let n = self
            .conn()
            .prepare_cached(
                "UPDATE sessions SET used = 1, session_key = ?2, counter = 0
             WHERE id = ?1 AND used = 0",
            )?
            .execute(params![session_id, session_key])?;
        Ok(n == 1)
    }

    fn advance_session(&self, session_id: &str, counter: u64) -> Result<bool> {
        let n = self
            .conn()
            .prepare_cached(
                "UPDATE sessions SET counter = ?2 WHERE id = ?1 AND used = 1 AND counter < ?2",
            )?
            .execute(params![session_id, counter as i64])?;
        Ok(n == 1)
    }

    fn append_release(&self, entry: Release) -> Result<Release> {
        let conn = self.conn();
        // The lock is held from reading the tail to writing the new entry: no fork in the chain.
        let entry = self.link(&conn, entry)?;
        self.insert_entry(&conn, &entry)?;
        self.set_tail(&entry);
        Ok(entry)
    }

    fn follow_up_release(
        &self,
        session_id: &str,
        counter: u64,
        entry: Release,
    ) -> Result<Option<Release>> {
        let mut conn = self.conn();
        let entry = self.link(&conn, entry)?;
        // One transaction: the counter moves if and only if the release is logged.
        let tx = conn.transaction()?;
        let n = tx
            .prepare_cached(
                "UPDATE sessions SET counter = ?2 WHERE id = ?1 AND used = 1 AND counter < ?2",
            )?
            .execute(params![session_id, counter as i64])?;
        if n != 1 {
            return Ok(None);
        }
        self.insert_entry(&tx, &entry)?;
        tx.commit()?;
        self.set_tail(&entry);
        Ok(Some(entry))
    }

    fn revocation_epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    fn releases(&self) -> Result<Vec<Release>> {
        readable_releases(self.read_log()?)
    }

    fn verify_log(&self) -> Result<(Vec<Release>, std::result::Result<(), Tamper>)> {
        Ok(verify_read_log(self.read_log()?, &self.log_key))
    }

    fn ping(&self) -> Result<()> {
        self.conn()
            .prepare_cached("SELECT 1")?
            .query_row([], |_| Ok(()))?;
        Ok(())
    }
}

/// The behavioural tests every [`SecretStore`] passes, run on SQLite here and on Postgres in
/// `store_pg` (when `ARCA_TEST_POSTGRES_URL` is set).
#[cfg(test)]
pub(crate) mod conformance {
    use super::*;

    pub(crate) fn insert_is_not_an_update(s: &dyn SecretStore) {
        assert!(s.insert(SecretKind::Web2, "0xa", "n", b"v1").unwrap());
        assert!(!s.insert(SecretKind::Web2, "0xa", "n", b"v2").unwrap());
        assert_eq!(s.get(SecretKind::Web2, "0xa", "n").unwrap().unwrap(), b"v1");
        assert!(s.update(SecretKind::Web2, "0xa", "n", b"v3").unwrap());
        assert_eq!(s.get(SecretKind::Web2, "0xa", "n").unwrap().unwrap(), b"v3");
        assert!(!s.update(SecretKind::Web2, "0xb", "n", b"v").unwrap());
        // the same owner and name under another kind is another secret
        assert!(!s.exists(SecretKind::Requester, "0xa", "n").unwrap());
        assert_eq!(s.get(SecretKind::Requester, "0xa", "n").unwrap(), None);
        // binary values round-trip
        let bytes: Vec<u8> = (0..=255).collect();
        assert!(s.insert(SecretKind::Dataset, "0xd", "", &bytes).unwrap());
        assert_eq!(
            s.get(SecretKind::Dataset, "0xd", "").unwrap().unwrap(),
            bytes
        );
        s.ping().unwrap();
    }

    pub(crate) fn rotation_and_revocation(s: &dyn SecretStore) {
        assert!(matches!(
            s.rotate(SecretKind::Dataset, "0xd", "", b"k2", "0xo", None),
            Err(SmsError::NotFound(_))
        ));
        assert!(matches!(
            s.revoke(SecretKind::Dataset, "0xd", "", 1, "0xo", 10),
            Err(SmsError::NotFound(_))
        ));
        s.insert(SecretKind::Dataset, "0xd", "", b"k1").unwrap();
        // compare-and-swap: the signed version must be the next one
        let err = s
            .rotate(SecretKind::Dataset, "0xd", "", b"k2", "0xo", Some(3))
            .unwrap_err();
        assert!(err.to_string().contains("creates version 2"), "{err}");
        assert_eq!(
            s.rotate(SecretKind::Dataset, "0xd", "", b"k2", "0xo", Some(2))
                .unwrap(),
            2
        );
        assert_eq!(
            s.get(SecretKind::Dataset, "0xd", "").unwrap().unwrap(),
            b"k2"
        );
        assert_eq!(
            s.get_version(SecretKind::Dataset, "0xd", "", 1)
                .unwrap()
                .unwrap(),
            b"k1"
        );
        assert_eq!(
            s.get_version(SecretKind::Dataset, "0xd", "", 3).unwrap(),
            None
        );
        let epoch = s.revocation_epoch();
        assert!(matches!(
            s.revoke(SecretKind::Dataset, "0xd", "", 1, "0xo", 10),
            Err(SmsError::Conflict(_))
        ));
        assert_eq!(
            s.revocation_epoch(),
            epoch,
            "a refused revocation changes nothing"
        );
        let r = s
            .revoke(SecretKind::Dataset, "0xd", "", 2, "0xo", 10)
            .unwrap();
        assert_ne!(s.revocation_epoch(), epoch);
        let meta = s.meta(SecretKind::Dataset, "0xd", "").unwrap().unwrap();
        assert_eq!(meta.version, 2);
        assert_eq!(meta.revocation_of(1), Some(&r));
        assert_eq!(meta.revocation_of(2), Some(&r));
        assert_eq!(r.by, "0xo");
        // a later rotation is not covered by the earlier revocation
        s.rotate(SecretKind::Dataset, "0xd", "", b"k3", "0xo", None)
            .unwrap();
        let meta = s.meta(SecretKind::Dataset, "0xd", "").unwrap().unwrap();
        assert_eq!(meta.revocation_of(3), None);
        assert!(meta.revocation_of(2).is_some());
        assert!(meta.updated >= meta.created);
    }

    pub(crate) fn session(id: &str) -> Session {
        Session {
            id: id.into(),
            task_id: "0xt".into(),
            worker: "0xw".into(),
            created: 5,
            pins: vec![Pin {
                kind: SecretKind::Dataset,
                owner: "0xd".into(),
                name: String::new(),
                version: 1,
                env: vec!["IEXEC_DATASET_KEY".into()],
            }],
            session_key: None,
            counter: 0,
        }
    }

    pub(crate) fn sessions(s: &dyn SecretStore) {
        s.create_session(&session("sid")).unwrap();
        assert_eq!(s.session("sid").unwrap(), Some(session("sid")));
        // a session id is used once
        assert!(s.create_session(&session("sid")).is_err());
        // no follow-up release before the attested one
        assert!(!s.advance_session("sid", 1).unwrap());
        assert!(s.attest_session("sid", "0xk").unwrap());
        assert!(!s.attest_session("sid", "0xother").unwrap());
        let got = s.session("sid").unwrap().unwrap();
        assert_eq!(got.session_key.as_deref(), Some("0xk"));
        assert!(s.advance_session("sid", 1).unwrap());
        assert!(!s.advance_session("sid", 1).unwrap());
        assert!(s.advance_session("sid", 5).unwrap());
        assert!(!s.advance_session("sid", 4).unwrap());
        assert_eq!(s.session("sid").unwrap().unwrap().counter, 5);
        assert_eq!(s.session("other").unwrap(), None);
        assert!(!s.attest_session("other", "0xk").unwrap());
    }

    pub(crate) fn entry(task: &str) -> Release {
        Release {
            seq: 0,
            at: 7,
            task_id: task.into(),
            session_id: "sid".into(),
            counter: 0,
            worker: "0xw".into(),
            measurement: "ab".into(),
            secrets: vec![crate::log::Released {
                secret: "dataset:0xd".into(),
                version: 1,
            }],
            prev: B256::ZERO,
            hash: B256::ZERO,
            mac: B256::ZERO,
        }
    }

    /// `open(key)` opens the same storage each time.
    pub(crate) fn release_log<S: SecretStore>(open: &dyn Fn(MasterKey) -> S) {
        let s = open(MasterKey::new([9; 32]));
        let first = s.append_release(entry("0x1")).unwrap();
        let second = s.append_release(entry("0x2")).unwrap();
        assert_eq!((first.seq, second.seq), (1, 2));
        assert_eq!(second.prev, first.hash);
        let log = s.releases().unwrap();
        assert_eq!(log, [first, second.clone()]);
        let (entries, verdict) = s.verify_log().unwrap();
        assert_eq!(entries.len(), 2);
        verdict.unwrap();
        drop(s);
        // a reopened store continues the chain
        let s = open(MasterKey::new([9; 32]));
        let third = s.append_release(entry("0x3")).unwrap();
        assert_eq!((third.seq, third.prev), (3, second.hash));
        s.verify_log().unwrap().1.unwrap();
        drop(s);
        // another master key does not vouch for this log
        let other = open(MasterKey::new([8; 32]));
        let (_, verdict) = other.verify_log().unwrap();
        assert_eq!(verdict.unwrap_err().seq, 1);
    }

    pub(crate) fn follow_ups(s: &dyn SecretStore) {
        s.create_session(&session("sid")).unwrap();
        // before the attested release there is no follow-up, and nothing is logged
        assert_eq!(s.follow_up_release("sid", 1, entry("0xt")).unwrap(), None);
        assert!(s.attest_session("sid", "0xk").unwrap());
        let attested = s.append_release(entry("0xt")).unwrap();
        let one = s
            .follow_up_release("sid", 1, entry("0xt"))
            .unwrap()
            .unwrap();
        assert_eq!((one.seq, one.prev), (2, attested.hash));
        // a replay moves nothing and logs nothing
        assert_eq!(s.follow_up_release("sid", 1, entry("0xt")).unwrap(), None);
        assert_eq!(s.follow_up_release("nope", 9, entry("0xt")).unwrap(), None);
        assert_eq!(s.releases().unwrap().len(), 2);
        assert_eq!(s.session("sid").unwrap().unwrap().counter, 1);
        let three = s
            .follow_up_release("sid", 3, entry("0xt"))
            .unwrap()
            .unwrap();
        assert_eq!(three.seq, 3);
        s.verify_log().unwrap().1.unwrap();
    }

    /// `tamper` overwrites the row of seq 2 with garbage.
    pub(crate) fn unreadable_log_row(s: &dyn SecretStore, tamper: &mut dyn FnMut()) {
        for t in ["0x1", "0x2", "0x3"] {
            s.append_release(entry(t)).unwrap();
        }
        tamper();
        let (entries, verdict) = s.verify_log().unwrap();
        assert_eq!(entries.len(), 2);
        let t = verdict.unwrap_err();
        assert_eq!(t.seq, 2, "{t}");
        assert!(matches!(s.releases(), Err(SmsError::Store(_))));
    }
}

#[cfg(test)]
mod tests {
    use super::conformance::{self, session};
    use super::*;

    fn store() -> SqliteStore {
        SqliteStore::in_memory(MasterKey::new([9; 32])).unwrap()
    }

    #[test]
    fn insert_is_not_an_update_and_update_needs_a_row() {
        conformance::insert_is_not_an_update(&store());
    }

    #[test]
    fn the_database_file_holds_no_plaintext_and_needs_the_right_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sms.db");
        let secret = b"super-secret-dataset-key-0123456789";
        {
            let s = SqliteStore::open(&path, MasterKey::new([1; 32])).unwrap();
            s.insert(SecretKind::Dataset, "0xd", "", secret).unwrap();
        }
        let mut raw = std::fs::read(&path).unwrap();
        if let Ok(wal) = std::fs::read(dir.path().join("sms.db-wal")) {
            raw.extend(wal);
        }
        assert!(!raw.windows(secret.len()).any(|w| w == secret));
        let wrong = SqliteStore::open(&path, MasterKey::new([2; 32])).unwrap();
        assert!(matches!(
            wrong.get(SecretKind::Dataset, "0xd", ""),
            Err(SmsError::Store(_))
        ));
        let right = SqliteStore::open(&path, MasterKey::new([1; 32])).unwrap();
        assert_eq!(
            right.get(SecretKind::Dataset, "0xd", "").unwrap().unwrap(),
            secret
        );
    }

    #[test]
    fn a_sealed_value_moved_to_another_row_or_version_does_not_open() {
        let k = MasterKey::new([3; 32]);
        let sealed = k.seal(&aad(SecretKind::App, "0xa", "1", 1), b"x");
        assert!(
            k.open(&aad(SecretKind::App, "0xb", "1", 1), &sealed)
                .is_err()
        );
        assert!(
            k.open(&aad(SecretKind::App, "0xa", "1", 2), &sealed)
                .is_err()
        );
        assert_eq!(
            k.open(&aad(SecretKind::App, "0xa", "1", 1), &sealed)
                .unwrap(),
            b"x"
        );
    }

    #[test]
    fn rotation_adds_versions_and_revocation_covers_them() {
        conformance::rotation_and_revocation(&store());
    }

    #[test]
    fn a_database_of_the_first_schema_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let key = MasterKey::new([4; 32]);
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE secrets (kind TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL,
                    sealed BLOB NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,
                    PRIMARY KEY (kind, owner, name));
                 CREATE TABLE sessions (id TEXT PRIMARY KEY, task_id TEXT NOT NULL,
                    worker TEXT NOT NULL, created INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);",
            )
            .unwrap();
            let sealed = key.seal(
                b"arca-sms/v1\x00requester\x000xr\x00mail",
                b"alice@example.org",
            );
            conn.execute(
                "INSERT INTO secrets VALUES ('requester', '0xr', 'mail', ?1, 1, 2)",
                params![sealed],
            )
            .unwrap();
        }
        let s = SqliteStore::open(&path, key).unwrap();
        assert_eq!(
            s.get(SecretKind::Requester, "0xr", "mail")
                .unwrap()
                .unwrap(),
            b"alice@example.org"
        );
        assert_eq!(
            s.meta(SecretKind::Requester, "0xr", "mail")
                .unwrap()
                .unwrap()
                .version,
            1
        );
        s.create_session(&session("sid")).unwrap();
        assert!(s.session("sid").unwrap().is_some());
    }

    #[test]
    fn a_session_is_attested_once_and_its_counter_only_grows() {
        conformance::sessions(&store());
    }

    #[test]
    fn follow_ups_move_the_counter_with_the_log() {
        conformance::follow_ups(&store());
    }

    #[test]
    fn the_release_log_chains_its_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        conformance::release_log(&|k| SqliteStore::open(&path, k).unwrap());
    }

    #[test]
    fn an_unreadable_log_row_is_reported_as_the_tampered_entry() {
        let s = store();
        conformance::unreadable_log_row(&s, &mut || {
            s.conn()
                .execute("UPDATE releases SET entry = 'garbage' WHERE seq = 2", [])
                .unwrap();
        });
    }

    #[test]
    fn master_key_parsing() {
        assert!(MasterKey::parse(&[7u8; 32]).is_ok());
        assert!(MasterKey::parse(format!("0x{}\n", "ab".repeat(32)).as_bytes()).is_ok());
        let err = MasterKey::parse(b"short").unwrap_err().to_string();
        assert!(err.contains("64 hex"), "{err}");
        assert_eq!(
            format!("{:?}", MasterKey::new([1; 32])),
            "MasterKey(<redacted>)"
        );
    }
}
