//! The secret store in Postgres ([`PgStore`], feature `postgres`), for deployments where
//! several SMS processes share one store. It keeps every invariant of [`SqliteStore`]:
//!
//! - values are sealed (AES-256-GCM, bound to kind/owner/name/version) before they reach the
//!   database, which never sees a plaintext;
//! - each state change is one transaction (insert, rotate, revoke + epoch bump, counter +
//!   release entry), with row locks where SQLite relied on its single writer (rotation's
//!   compare-and-swap takes `FOR UPDATE` on the secret);
//! - the release log stays one hash chain across processes: an append locks the log table,
//!   reads the tail *from the database* (an in-process tail cache would fork the chain when
//!   another process appends) and inserts in the same transaction;
//! - the revocation epoch lives in the database (`sms_meta`), bumped in the revocation's
//!   transaction, so every process's cache of decrypted values sees another process's
//!   revocations.
//!
//! Tables are prefixed `sms_` and created at open. The sync `postgres` client drives its
//! connection with a private tokio runtime that must not be entered from the SMS's runtime
//! threads, so the client lives on a dedicated thread; each call is sent to it and awaited (a
//! blocking wait, like SQLite's mutex). The thread reconnects after a server restart.
//!
//! [`SqliteStore`]: crate::SqliteStore

use crate::error::{Result, SmsError};
use crate::log::{Release, Tamper};
use crate::store::{
    MasterKey, Pin, Revocation, SecretKind, SecretMeta, SecretStore, Session, aad, next_link,
    readable_releases, seal_entry, store_err, unix_now, verify_read_log,
};
use arca_pg::{OpenError, PgConnection, describe};
use postgres::{Client, GenericClient};
use std::sync::atomic::{AtomicU64, Ordering};

/// The shared Postgres secret store.
#[derive(Debug)]
pub struct PgStore {
    conn: PgConnection,
    key: MasterKey,
    log_key: [u8; 32],
    /// Counts failed epoch reads: each yields a value never returned before (see
    /// [`SecretStore::revocation_epoch`]), so no cache entry is trusted while the database is
    /// unreachable.
    epoch_failures: AtomicU64,
}

impl From<postgres::Error> for SmsError {
    fn from(e: postgres::Error) -> Self {
        SmsError::Store(describe(&e))
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`, or libpq's
    /// `key=value` form) and creates the tables if needed. Errors name the URL with its
    /// password redacted.
    pub fn open(url: &str, key: MasterKey) -> Result<Self> {
        let conn = PgConnection::open(
            url,
            "sms-postgres",
            "drop --postgres-url to use the embedded SQLite store (--db)",
        )
        .map_err(|e| match e {
            OpenError::BadUrl(m) => SmsError::Config(m),
            other => SmsError::Store(other.to_string()),
        })?;
        let log_key = key.log_key();
        let store = PgStore {
            conn,
            key,
            log_key,
            epoch_failures: AtomicU64::new(0),
        };
        store.run(|c| {
            let mut tx = c.transaction()?;
            // concurrent first starts of several SMS would race on the catalog
            tx.execute("SELECT pg_advisory_xact_lock(7358116063)", &[])?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS sms_secrets (
                    kind TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL,
                    version BIGINT NOT NULL, created BIGINT NOT NULL, updated BIGINT NOT NULL,
                    revoked_through BIGINT NOT NULL DEFAULT 0, revoked_at BIGINT, revoked_by TEXT,
                    PRIMARY KEY (kind, owner, name));
                 CREATE TABLE IF NOT EXISTS sms_secret_versions (
                    kind TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL,
                    version BIGINT NOT NULL, sealed BYTEA NOT NULL, created BIGINT NOT NULL,
                    created_by TEXT NOT NULL, PRIMARY KEY (kind, owner, name, version));
                 CREATE TABLE IF NOT EXISTS sms_sessions (
                    id TEXT PRIMARY KEY, task_id TEXT NOT NULL, worker TEXT NOT NULL,
                    created BIGINT NOT NULL, used BOOLEAN NOT NULL DEFAULT FALSE,
                    pins TEXT NOT NULL DEFAULT '[]', session_key TEXT,
                    counter BIGINT NOT NULL DEFAULT 0);
                 CREATE TABLE IF NOT EXISTS sms_releases (
                    seq BIGINT PRIMARY KEY, entry TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS sms_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
                 INSERT INTO sms_meta (key, value) VALUES ('revocation_epoch', 0)
                    ON CONFLICT (key) DO NOTHING;",
            )?;
            tx.commit()?;
            Ok(())
        })?;
        tracing::info!(target = %store.target(), "secret store in Postgres");
        Ok(store)
    }

    /// The URL this store was opened with, its password replaced by `***`.
    pub fn target(&self) -> &str {
        self.conn.target()
    }

    /// Runs `job` on the connection thread and waits for its answer; store errors are prefixed
    /// with the (redacted) URL.
    fn run<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Client) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        self.conn
            .run(job)
            .map_err(SmsError::Store)?
            .map_err(|e| match e {
                SmsError::Store(msg) => {
                    SmsError::Store(format!("Postgres {}: {msg}", self.target()))
                }
                other => other,
            })
    }

    /// Every log row that parses, in order, and the seq of the first that does not.
    fn read_log(&self) -> Result<(Vec<Release>, Option<u64>)> {
        let rows = self.run(|c| {
            Ok(
                c.query("SELECT seq, entry FROM sms_releases ORDER BY seq", &[])?
                    .iter()
                    .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)))
                    .collect::<Vec<_>>(),
            )
        })?;
        let mut entries = Vec::new();
        let mut unreadable = None;
        for (seq, json) in rows {
            match serde_json::from_str::<Release>(&json) {
                Ok(entry) => entries.push(entry),
                Err(_) => {
                    unreadable.get_or_insert(seq as u64);
                }
            }
        }
        Ok((entries, unreadable))
    }
}

/// Links `entry` after the log's tail and inserts it, in the caller's transaction, which
/// holds the log table's lock: no other process can append between the read and the insert.
fn append_locked(
    tx: &mut postgres::Transaction<'_>,
    log_key: &[u8; 32],
    entry: Release,
) -> Result<Release> {
    // EXCLUSIVE: other appenders wait, plain readers (verify_log) do not
    tx.batch_execute("LOCK TABLE sms_releases IN EXCLUSIVE MODE")?;
    let last = tx.query_opt(
        "SELECT entry FROM sms_releases ORDER BY seq DESC LIMIT 1",
        &[],
    )?;
    let (seq, prev) = next_link(last.as_ref().map(|row| row.get::<_, &str>(0)))?;
    let entry = seal_entry(entry, seq, prev, log_key);
    let json = serde_json::to_string(&entry).map_err(|e| store_err("release log entry", e))?;
    tx.execute(
        "INSERT INTO sms_releases (seq, entry) VALUES ($1, $2)",
        &[&(entry.seq as i64), &json],
    )?;
    Ok(entry)
}

fn current_version(
    c: &mut impl GenericClient,
    kind: &str,
    owner: &str,
    name: &str,
    lock: bool,
) -> Result<Option<u64>> {
    let sql = if lock {
        "SELECT version FROM sms_secrets WHERE kind = $1 AND owner = $2 AND name = $3 FOR UPDATE"
    } else {
        "SELECT version FROM sms_secrets WHERE kind = $1 AND owner = $2 AND name = $3"
    };
    Ok(c.query_opt(sql, &[&kind, &owner, &name])?
        .map(|r| r.get::<_, i64>(0) as u64))
}

impl SecretStore for PgStore {
    fn insert(&self, kind: SecretKind, owner: &str, name: &str, value: &[u8]) -> Result<bool> {
        let sealed = self.key.seal(&aad(kind, owner, name, 1), value);
        let (owner, name, now) = (owner.to_owned(), name.to_owned(), unix_now());
        self.run(move |c| {
            let mut tx = c.transaction()?;
            let n = tx.execute(
                "INSERT INTO sms_secrets (kind, owner, name, version, created, updated)
                 VALUES ($1, $2, $3, 1, $4, $4) ON CONFLICT DO NOTHING",
                &[&kind.as_str(), &owner, &name, &now],
            )?;
            if n == 1 {
                tx.execute(
                    "INSERT INTO sms_secret_versions
                        (kind, owner, name, version, sealed, created, created_by)
                     VALUES ($1, $2, $3, 1, $4, $5, $2)",
                    &[&kind.as_str(), &owner, &name, &sealed, &now],
                )?;
            }
            tx.commit()?;
            Ok(n == 1)
        })
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
        let (owner, name, by, value) = (
            owner.to_owned(),
            name.to_owned(),
            by.to_owned(),
            value.to_vec(),
        );
        let key = self.key.clone();
        self.run(move |c| {
            let now = unix_now();
            let mut tx = c.transaction()?;
            // FOR UPDATE: a concurrent rotation (another SMS) waits, then sees our version
            let current = current_version(&mut tx, kind.as_str(), &owner, &name, true)?
                .ok_or_else(|| {
                    SmsError::NotFound(format!(
                        "no {} secret `{name}` of {owner} to rotate; push it first",
                        kind.as_str()
                    ))
                })?;
            let next = current + 1;
            if let Some(expected) = expected
                && expected != next
            {
                return Err(SmsError::Conflict(format!(
                    "the secret is at version {current}, so a rotation creates version {next}, not {expected}; sign the challenge for version {next}"
                )));
            }
            let sealed = key.seal(&aad(kind, &owner, &name, next), &value);
            tx.execute(
                "INSERT INTO sms_secret_versions
                    (kind, owner, name, version, sealed, created, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &kind.as_str(),
                    &owner,
                    &name,
                    &(next as i64),
                    &sealed,
                    &now,
                    &by,
                ],
            )?;
            tx.execute(
                "UPDATE sms_secrets SET version = $4, updated = $5
                 WHERE kind = $1 AND owner = $2 AND name = $3",
                &[&kind.as_str(), &owner, &name, &(next as i64), &now],
            )?;
            tx.commit()?;
            Ok(next)
        })
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
        let (owner, name, by) = (owner.to_owned(), name.to_owned(), by.to_owned());
        self.run(move |c| {
            let mut tx = c.transaction()?;
            // One statement: the version check and the revocation cannot be split by a rotation.
            let n = tx.execute(
                "UPDATE sms_secrets SET revoked_through = version, revoked_at = $5, revoked_by = $6
                 WHERE kind = $1 AND owner = $2 AND name = $3 AND version = $4",
                &[
                    &kind.as_str(),
                    &owner,
                    &name,
                    &(version as i64),
                    &(at as i64),
                    &by,
                ],
            )?;
            if n == 1 {
                // in the same transaction: no process sees the revocation without the new epoch
                tx.execute(
                    "UPDATE sms_meta SET value = value + 1 WHERE key = 'revocation_epoch'",
                    &[],
                )?;
                tx.commit()?;
                return Ok(Revocation {
                    through: version,
                    at,
                    by,
                });
            }
            Err(
                match current_version(&mut tx, kind.as_str(), &owner, &name, false)? {
                    None => SmsError::NotFound(format!(
                        "no {} secret `{name}` of {owner} to revoke",
                        kind.as_str()
                    )),
                    Some(current) => SmsError::Conflict(format!(
                        "the secret is at version {current}, not {version}; sign the revocation of version {current}"
                    )),
                },
            )
        })
    }

    fn get(&self, kind: SecretKind, owner: &str, name: &str) -> Result<Option<Vec<u8>>> {
        let (o, n) = (owner.to_owned(), name.to_owned());
        let row: Option<(i64, Vec<u8>)> = self.run(move |c| {
            Ok(c.query_opt(
                "SELECT v.version, v.sealed FROM sms_secrets s JOIN sms_secret_versions v
                   ON v.kind = s.kind AND v.owner = s.owner AND v.name = s.name
                  AND v.version = s.version
                 WHERE s.kind = $1 AND s.owner = $2 AND s.name = $3",
                &[&kind.as_str(), &o, &n],
            )?
            .map(|r| (r.get(0), r.get(1))))
        })?;
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
        let (o, n) = (owner.to_owned(), name.to_owned());
        let sealed: Option<Vec<u8>> = self.run(move |c| {
            Ok(c.query_opt(
                "SELECT sealed FROM sms_secret_versions
                 WHERE kind = $1 AND owner = $2 AND name = $3 AND version = $4",
                &[&kind.as_str(), &o, &n, &(version as i64)],
            )?
            .map(|r| r.get(0)))
        })?;
        sealed
            .map(|s| self.key.open(&aad(kind, owner, name, version), &s))
            .transpose()
    }

    fn meta(&self, kind: SecretKind, owner: &str, name: &str) -> Result<Option<SecretMeta>> {
        let (owner, name) = (owner.to_owned(), name.to_owned());
        self.run(move |c| {
            Ok(c.query_opt(
                "SELECT version, created, updated, revoked_through, revoked_at, revoked_by
                 FROM sms_secrets WHERE kind = $1 AND owner = $2 AND name = $3",
                &[&kind.as_str(), &owner, &name],
            )?
            .map(|r| {
                let through = r.get::<_, i64>(3) as u64;
                SecretMeta {
                    version: r.get::<_, i64>(0) as u64,
                    created: r.get::<_, i64>(1) as u64,
                    updated: r.get::<_, i64>(2) as u64,
                    revoked: (through != 0).then(|| Revocation {
                        through,
                        at: r.get::<_, Option<i64>>(4).unwrap_or(0) as u64,
                        by: r.get::<_, Option<String>>(5).unwrap_or_default(),
                    }),
                }
            }))
        })
    }

    fn create_session(&self, session: &Session) -> Result<()> {
        let pins =
            serde_json::to_string(&session.pins).map_err(|e| store_err("session pins", e))?;
        let s = session.clone();
        self.run(move |c| {
            c.execute(
                "INSERT INTO sms_sessions (id, task_id, worker, created, pins)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&s.id, &s.task_id, &s.worker, &(s.created as i64), &pins],
            )?;
            Ok(())
        })
    }

    fn session(&self, session_id: &str) -> Result<Option<Session>> {
        let id = session_id.to_owned();
        let row = self.run(move |c| {
            Ok(c.query_opt(
                "SELECT id, task_id, worker, created, pins, session_key, counter
                 FROM sms_sessions WHERE id = $1",
                &[&id],
            )?
            .map(|r| {
                (
                    Session {
                        id: r.get(0),
                        task_id: r.get(1),
                        worker: r.get(2),
                        created: r.get::<_, i64>(3) as u64,
                        pins: Vec::new(),
                        session_key: r.get(5),
                        counter: r.get::<_, i64>(6) as u64,
                    },
                    r.get::<_, String>(4),
                )
            }))
        })?;
        row.map(|(mut session, pins)| {
            session.pins = serde_json::from_str::<Vec<Pin>>(&pins)
                .map_err(|e| store_err("session pins", e))?;
            Ok(session)
        })
        .transpose()
    }

    fn attest_session(&self, session_id: &str, session_key: &str) -> Result<bool> {
        let (id, key) = (session_id.to_owned(), session_key.to_owned());
        self.run(move |c| {
            // the row lock of the UPDATE makes a concurrent attestation wait, then match nothing
            let n = c.execute(
                "UPDATE sms_sessions SET used = TRUE, session_key = $2, counter = 0
                 WHERE id = $1 AND NOT used",
                &[&id, &key],
            )?;
            Ok(n == 1)
        })
    }

    fn advance_session(&self, session_id: &str, counter: u64) -> Result<bool> {
        let id = session_id.to_owned();
        self.run(move |c| {
            let n = c.execute(
                "UPDATE sms_sessions SET counter = $2 WHERE id = $1 AND used AND counter < $2",
                &[&id, &(counter as i64)],
            )?;
            Ok(n == 1)
        })
    }

    fn append_release(&self, entry: Release) -> Result<Release> {
        let log_key = self.log_key;
        self.run(move |c| {
            let mut tx = c.transaction()?;
            let entry = append_locked(&mut tx, &log_key, entry)?;
            tx.commit()?;
            Ok(entry)
        })
    }

    fn follow_up_release(
        &self,
        session_id: &str,
        counter: u64,
        entry: Release,
    ) -> Result<Option<Release>> {
        let (id, log_key) = (session_id.to_owned(), self.log_key);
        self.run(move |c| {
            // One transaction: the counter moves if and only if the release is logged.
            let mut tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE sms_sessions SET counter = $2 WHERE id = $1 AND used AND counter < $2",
                &[&id, &(counter as i64)],
            )?;
            if n != 1 {
                return Ok(None);
            }
            let entry = append_locked(&mut tx, &log_key, entry)?;
            tx.commit()?;
            Ok(Some(entry))
        })
    }

    fn revocation_epoch(&self) -> u64 {
        let read = self.run(|c| {
            Ok(c.query_one(
                "SELECT value FROM sms_meta WHERE key = 'revocation_epoch'",
                &[],
            )?
            .get::<_, i64>(0) as u64)
        });
        match read {
            Ok(epoch) => epoch,
            Err(e) => {
                tracing::warn!(error = %e, "reading the revocation epoch; cached secrets are not reused");
                // top of the range, never the same twice: matches no cache entry
                u64::MAX - self.epoch_failures.fetch_add(1, Ordering::AcqRel)
            }
        }
    }

    fn releases(&self) -> Result<Vec<Release>> {
        readable_releases(self.read_log()?)
    }

    fn verify_log(&self) -> Result<(Vec<Release>, std::result::Result<(), Tamper>)> {
        Ok(verify_read_log(self.read_log()?, &self.log_key))
    }

    fn ping(&self) -> Result<()> {
        self.run(|c| {
            c.query_one("SELECT 1", &[])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    use arca_pg::test_schema_url as test_url;

    fn raw(url: &str) -> Client {
        Client::connect(url, postgres::NoTls).unwrap()
    }

    #[test]
    fn postgres_insert_is_not_an_update_and_update_needs_a_row() {
        if let Some(url) = test_url("sms_t_insert") {
            conformance::insert_is_not_an_update(&PgStore::open(&url, key(9)).unwrap());
        }
    }

    #[test]
    fn postgres_rotation_adds_versions_and_revocation_covers_them() {
        if let Some(url) = test_url("sms_t_rotation") {
            conformance::rotation_and_revocation(&PgStore::open(&url, key(9)).unwrap());
        }
    }

    #[test]
    fn postgres_a_session_is_attested_once_and_its_counter_only_grows() {
        if let Some(url) = test_url("sms_t_session") {
            conformance::sessions(&PgStore::open(&url, key(9)).unwrap());
        }
    }

    #[test]
    fn postgres_the_release_log_chains_its_entries() {
        if let Some(url) = test_url("sms_t_log") {
            conformance::release_log(&|k| PgStore::open(&url, k).unwrap());
        }
    }

    #[test]
    fn postgres_follow_ups_move_the_counter_with_the_log() {
        if let Some(url) = test_url("sms_t_follow") {
            conformance::follow_ups(&PgStore::open(&url, key(9)).unwrap());
        }
    }

    #[test]
    fn postgres_the_database_holds_no_plaintext_and_needs_the_right_key() {
        let Some(url) = test_url("sms_t_sealed") else {
            return;
        };
        let secret = b"super-secret-dataset-key-0123456789";
        PgStore::open(&url, key(1))
            .unwrap()
            .insert(SecretKind::Dataset, "0xd", "", secret)
            .unwrap();
        let mut db = raw(&url);
        let mut dump = Vec::new();
        for row in db
            .query("SELECT sealed FROM sms_secret_versions", &[])
            .unwrap()
        {
            dump.extend(row.get::<_, Vec<u8>>(0));
        }
        assert!(dump.len() > secret.len());
        assert!(!dump.windows(secret.len()).any(|w| w == secret));
        let wrong = PgStore::open(&url, key(2)).unwrap();
        assert!(matches!(
            wrong.get(SecretKind::Dataset, "0xd", ""),
            Err(SmsError::Store(_))
        ));
        // a ciphertext copied onto another version does not open as that version
        let s = PgStore::open(&url, key(1)).unwrap();
        s.rotate(SecretKind::Dataset, "0xd", "", b"k2", "0xo", None)
            .unwrap();
        db.execute(
            "UPDATE sms_secret_versions SET sealed =
               (SELECT sealed FROM sms_secret_versions WHERE version = 1) WHERE version = 2",
            &[],
        )
        .unwrap();
        assert!(matches!(
            s.get(SecretKind::Dataset, "0xd", ""),
            Err(SmsError::Store(_))
        ));
        assert_eq!(
            s.get_version(SecretKind::Dataset, "0xd", "", 1)
                .unwrap()
                .unwrap(),
            secret
        );
    }

    #[test]
    fn postgres_an_unreadable_log_row_is_reported_as_the_tampered_entry() {
        let Some(url) = test_url("sms_t_tamper") else {
            return;
        };
        let s = PgStore::open(&url, key(9)).unwrap();
        conformance::unreadable_log_row(&s, &mut || {
            raw(&url)
                .execute(
                    "UPDATE sms_releases SET entry = 'garbage' WHERE seq = 2",
                    &[],
                )
                .unwrap();
        });
    }

    /// Two processes (two stores, two connections) share one log and one revocation epoch.
    #[test]
    fn postgres_two_sms_share_one_log_chain_and_see_each_others_revocations() {
        let Some(url) = test_url("sms_t_shared") else {
            return;
        };
        let a = std::sync::Arc::new(PgStore::open(&url, key(9)).unwrap());
        let b = std::sync::Arc::new(PgStore::open(&url, key(9)).unwrap());
        let threads: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                std::thread::spawn(move || {
                    for n in 0..20 {
                        s.append_release(conformance::entry(&format!("0x{i}{n}")))
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let (entries, verdict) = a.verify_log().unwrap();
        assert_eq!(entries.len(), 40);
        verdict.unwrap();
        assert_eq!(
            entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (1..=40).collect::<Vec<_>>()
        );
        // a revocation through one store changes the epoch the other reads
        a.insert(SecretKind::App, "0xa", "1", b"v").unwrap();
        let before = b.revocation_epoch();
        a.revoke(SecretKind::App, "0xa", "1", 1, "0xa", 3).unwrap();
        assert_ne!(b.revocation_epoch(), before);
        assert_eq!(b.revocation_epoch(), a.revocation_epoch());
        // concurrent compare-and-swap rotations: exactly one creates version 2
        let results: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .map(|s| {
                std::thread::spawn(move || {
                    s.rotate(SecretKind::App, "0xa", "1", b"w", "0xa", Some(2))
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        assert!(
            results
                .iter()
                .any(|r| matches!(r, Err(SmsError::Conflict(_))))
        );
    }

    fn key(b: u8) -> MasterKey {
        MasterKey::new([b; 32])
    }
}
