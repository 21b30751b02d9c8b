//! Secret storage: a [`SecretStore`] trait (so a Postgres backend can be added for shared
//! deployments) and its embedded SQLite implementation.
//!
//! Every value is sealed with AES-256-GCM under the [`MasterKey`] before it reaches the
//! database, with the row's identity (kind, owner, name) as associated data: a dump of the
//! database reveals no secret, and a ciphertext copied onto another row does not decrypt.

use crate::error::{Result, SmsError};
use crate::log::{Release, entry_hash};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use alloy::primitives::B256;
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Mutex;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    fn as_str(self) -> &'static str {
        match self {
            SecretKind::Dataset => "dataset",
            SecretKind::Web2 => "web2",
            SecretKind::App => "app",
            SecretKind::Requester => "requester",
            SecretKind::EnclaveChallenge => "enclave-challenge",
        }
    }
}

/// Storage of sealed secrets and single-use TEE sessions.
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    /// Stores a new secret; `Ok(false)` if it already exists (nothing is changed).
    fn insert(&self, kind: SecretKind, owner: &str, name: &str, value: &[u8]) -> Result<bool>;
    /// Replaces an existing secret; `Ok(false)` if there is none.
    fn update(&self, kind: SecretKind, owner: &str, name: &str, value: &[u8]) -> Result<bool>;
    /// The secret's plaintext, if any.
    fn get(&self, kind: SecretKind, owner: &str, name: &str) -> Result<Option<Vec<u8>>>;
    /// Whether the secret exists (without decrypting it).
    fn exists(&self, kind: SecretKind, owner: &str, name: &str) -> Result<bool>;
    /// Records a new session for `task_id`, created at `now` (unix seconds).
    fn create_session(&self, session_id: &str, task_id: &str, worker: &str, now: u64)
    -> Result<()>;
    /// The session's (task id, worker, created, used), `Ok(None)` if unknown.
    fn session(&self, session_id: &str) -> Result<Option<(String, String, u64, bool)>>;
    /// Marks the session used; `Ok(false)` if it already was (atomic: of two concurrent
    /// releases, exactly one wins).
    fn consume_session(&self, session_id: &str) -> Result<bool>;
    /// Appends a release to the hash-chained log; `seq`, `prev` and `hash` of `entry` are
    /// assigned here (atomically with respect to other appends).
    fn append_release(&self, entry: Release) -> Result<Release>;
    /// The whole release log, in order.
    fn releases(&self) -> Result<Vec<Release>>;
    /// A cheap query proving the store answers (for `/ready`).
    fn ping(&self) -> Result<()>;
}

/// The embedded SQLite store (a file, or in memory for tests).
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    key: MasterKey,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path, key: MasterKey) -> Result<Self> {
        Self::init(Connection::open(path)?, key)
    }

    /// A private in-memory database.
    pub fn in_memory(key: MasterKey) -> Result<Self> {
        Self::init(Connection::open_in_memory()?, key)
    }

    fn init(conn: Connection, key: MasterKey) -> Result<Self> {
        // WAL: readers (existence checks) do not wait for a writer.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS secrets (
                kind TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL,
                sealed BLOB NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,
                PRIMARY KEY (kind, owner, name));
             CREATE TABLE IF NOT EXISTS sessions (
                id TEXT PRIMARY KEY, task_id TEXT NOT NULL, worker TEXT NOT NULL,
                created INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE IF NOT EXISTS releases (
                seq INTEGER PRIMARY KEY, entry TEXT NOT NULL);",
        )?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            key,
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (statements are
        // atomic), so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn aad(kind: SecretKind, owner: &str, name: &str) -> Vec<u8> {
    format!("arca-sms/v1\0{}\0{owner}\0{name}", kind.as_str()).into_bytes()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl SecretStore for SqliteStore {
    fn insert(&self, kind: SecretKind, owner: &str, name: &str, value: &[u8]) -> Result<bool> {
        let sealed = self.key.seal(&aad(kind, owner, name), value);
        let now = unix_now();
        let n = self.conn().execute(
            "INSERT OR IGNORE INTO secrets (kind, owner, name, sealed, created, updated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![kind.as_str(), owner, name, sealed, now],
        )?;
        Ok(n == 1)
    }

    fn update(&self, kind: SecretKind, owner: &str, name: &str, value: &[u8]) -> Result<bool> {
        let sealed = self.key.seal(&aad(kind, owner, name), value);
        let n = self.conn().execute(
            "UPDATE secrets SET sealed = ?4, updated = ?5 WHERE kind = ?1 AND owner = ?2 AND name = ?3",
            params![kind.as_str(), owner, name, sealed, unix_now()],
        )?;
        Ok(n == 1)
    }

    fn get(&self, kind: SecretKind, owner: &str, name: &str) -> Result<Option<Vec<u8>>> {
        let sealed: Option<Vec<u8>> = self
            .conn()
            .query_row(
                "SELECT sealed FROM secrets WHERE kind = ?1 AND owner = ?2 AND name = ?3",
                params![kind.as_str(), owner, name],
                |r| r.get(0),
            )
            .optional()?;
        sealed
            .map(|s| self.key.open(&aad(kind, owner, name), &s))
            .transpose()
    }

    fn exists(&self, kind: SecretKind, owner: &str, name: &str) -> Result<bool> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM secrets WHERE kind = ?1 AND owner = ?2 AND name = ?3",
                params![kind.as_str(), owner, name],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    fn create_session(
        &self,
        session_id: &str,
        task_id: &str,
        worker: &str,
        now: u64,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT INTO sessions (id, task_id, worker, created) VALUES (?1, ?2, ?3, ?4)",
            params![session_id, task_id, worker, now as i64],
        )?;
        Ok(())
    }

    fn session(&self, session_id: &str) -> Result<Option<(String, String, u64, bool)>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT task_id, worker, created, used FROM sessions WHERE id = ?1",
                params![session_id],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get::<_, i64>(2)? as u64,
                        r.get::<_, i64>(3)? != 0,
                    ))
                },
            )
            .optional()?)
    }

    fn consume_session(&self, session_id: &str) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE sessions SET used = 1 WHERE id = ?1 AND used = 0",
            params![session_id],
        )?;
        Ok(n == 1)
    }

    fn append_release(&self, mut entry: Release) -> Result<Release> {
        let conn = self.conn();
        // The lock is held from reading the tail to writing the new entry: no fork in the chain.
        let last: Option<String> = conn
            .query_row(
                "SELECT entry FROM releases ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let (seq, prev) = match last {
            Some(json) => {
                let last: Release = serde_json::from_str(&json)
                    .map_err(|e| SmsError::Store(format!("release log entry: {e}")))?;
                (last.seq + 1, last.hash)
            }
            None => (1, B256::ZERO),
        };
        entry.seq = seq;
        entry.prev = prev;
        entry.hash = entry_hash(&entry);
        let json = serde_json::to_string(&entry)
            .map_err(|e| SmsError::Store(format!("release log entry: {e}")))?;
        conn.execute(
            "INSERT INTO releases (seq, entry) VALUES (?1, ?2)",
            params![seq as i64, json],
        )?;
        Ok(entry)
    }

    fn releases(&self) -> Result<Vec<Release>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT entry FROM releases ORDER BY seq")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|json| {
            serde_json::from_str(&json?)
                .map_err(|e| SmsError::Store(format!("release log entry: {e}")))
        })
        .collect()
    }

    fn ping(&self) -> Result<()> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> SqliteStore {
        SqliteStore::in_memory(MasterKey::new([9; 32])).unwrap()
    }

    #[test]
    fn insert_is_not_an_update_and_update_needs_a_row() {
        let s = store();
        assert!(s.insert(SecretKind::Web2, "0xa", "n", b"v1").unwrap());
        assert!(!s.insert(SecretKind::Web2, "0xa", "n", b"v2").unwrap());
        assert_eq!(s.get(SecretKind::Web2, "0xa", "n").unwrap().unwrap(), b"v1");
        assert!(s.update(SecretKind::Web2, "0xa", "n", b"v3").unwrap());
        assert_eq!(s.get(SecretKind::Web2, "0xa", "n").unwrap().unwrap(), b"v3");
        assert!(!s.update(SecretKind::Web2, "0xb", "n", b"v").unwrap());
        // the same owner and name under another kind is another secret
        assert!(!s.exists(SecretKind::Requester, "0xa", "n").unwrap());
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
    fn a_sealed_value_moved_to_another_row_does_not_open() {
        let k = MasterKey::new([3; 32]);
        let sealed = k.seal(&aad(SecretKind::App, "0xa", "1"), b"x");
        assert!(k.open(&aad(SecretKind::App, "0xb", "1"), &sealed).is_err());
        assert_eq!(
            k.open(&aad(SecretKind::App, "0xa", "1"), &sealed).unwrap(),
            b"x"
        );
    }

    #[test]
    fn a_session_is_consumed_once() {
        let s = store();
        s.create_session("sid", "0xt", "0xw", 5).unwrap();
        assert_eq!(
            s.session("sid").unwrap(),
            Some(("0xt".into(), "0xw".into(), 5, false))
        );
        assert!(s.consume_session("sid").unwrap());
        assert!(!s.consume_session("sid").unwrap());
        assert!(s.session("sid").unwrap().unwrap().3);
        assert_eq!(s.session("other").unwrap(), None);
    }

    #[test]
    fn the_release_log_chains_its_entries() {
        let s = store();
        let entry = |task: &str| Release {
            seq: 0,
            at: 7,
            task_id: task.into(),
            session_id: "sid".into(),
            worker: "0xw".into(),
            measurement: "ab".into(),
            secrets: vec!["dataset:0xd".into()],
            prev: B256::ZERO,
            hash: B256::ZERO,
        };
        let first = s.append_release(entry("0x1")).unwrap();
        let second = s.append_release(entry("0x2")).unwrap();
        assert_eq!((first.seq, second.seq), (1, 2));
        assert_eq!(second.prev, first.hash);
        let log = s.releases().unwrap();
        assert_eq!(log, [first, second]);
        crate::log::verify(&log).unwrap();
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
