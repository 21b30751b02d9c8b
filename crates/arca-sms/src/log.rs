//! The release log: one append-only entry per secret release (which task, session, worker and
//! enclave measurement received which secret versions, when), each entry hashing its
//! predecessor so a deleted, reordered or edited entry is detected by [`verify`]. Entries name
//! secrets (`dataset:0x…`, `requester:0x…:mail`) and their versions, never their values.
//!
//! The chain alone is public-verifiable but not forgery-proof: whoever can write the database
//! can recompute every keccak. So each entry also carries a `mac`, a keyed hash of its `hash`
//! under a key derived from the SMS master key ([`entry_mac`]); the store checks both
//! ([`crate::SecretStore::verify_log`]), so a rewrite needs the master key as well.

use alloy::primitives::{B256, keccak256};
use serde::{Deserialize, Serialize};

/// One secret handed over by a release, with the version that was served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Released {
    /// The secret's label (`dataset:0x…`, `app:0x…:1`, `requester:0x…:name`, `web2:0x…:name`).
    pub secret: String,
    /// The version served (1 = as first pushed; each rotation adds one).
    pub version: u64,
}

/// One release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// Position in the log, from 1.
    pub seq: u64,
    /// Unix seconds.
    pub at: u64,
    /// The task.
    pub task_id: String,
    /// The session that released.
    pub session_id: String,
    /// The release's number within its session: 0 for the attested release, then 1, 2, … for
    /// the follow-up releases signed by the session key.
    pub counter: u64,
    /// The worker that opened the session.
    pub worker: String,
    /// The enclave measurement the quote proved (hex).
    pub measurement: String,
    /// The released secrets, by label and version.
    pub secrets: Vec<Released>,
    /// Hash of the previous entry (zero for the first).
    pub prev: B256,
    /// This entry's hash: see [`entry_hash`].
    pub hash: B256,
    /// Keyed hash of `hash` under the store's log key: see [`entry_mac`].
    pub mac: B256,
}

/// `keccak256("arca-sms/release-log/v2" ‖ prev ‖ u64_be(seq) ‖ u64_be(at) ‖ u64_be(counter) ‖
/// fields…)`, each text field length-prefixed (u32 big-endian) and each secret followed by its
/// u64_be version, so no two entries serialize alike.
pub fn entry_hash(r: &Release) -> B256 {
    let mut bytes = b"arca-sms/release-log/v2".to_vec();
    bytes.extend_from_slice(r.prev.as_slice());
    bytes.extend_from_slice(&r.seq.to_be_bytes());
    bytes.extend_from_slice(&r.at.to_be_bytes());
    bytes.extend_from_slice(&r.counter.to_be_bytes());
    fn field(bytes: &mut Vec<u8>, s: &str) {
        bytes.extend_from_slice(&(s.len() as u32).to_be_bytes());
        bytes.extend_from_slice(s.as_bytes());
    }
    field(&mut bytes, &r.task_id);
    field(&mut bytes, &r.session_id);
    field(&mut bytes, &r.worker);
    field(&mut bytes, &r.measurement);
    for s in &r.secrets {
        field(&mut bytes, &s.secret);
        bytes.extend_from_slice(&s.version.to_be_bytes());
    }
    keccak256(bytes)
}

/// `keccak256("arca-sms/release-log-mac/v1" ‖ key ‖ hash)`: keccak is not open to length
/// extension, so a keyed prefix is a sound MAC.
pub fn entry_mac(key: &[u8; 32], hash: B256) -> B256 {
    keccak256(
        [
            b"arca-sms/release-log-mac/v1".as_slice(),
            key,
            hash.as_slice(),
        ]
        .concat(),
    )
}

/// Where and how a log stops being consistent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("release log entry {seq}: {reason}")]
pub struct Tamper {
    /// The first entry that is missing, out of place, altered or not linked.
    pub seq: u64,
    /// What is wrong with it, in plain words.
    pub reason: String,
}

/// Checks the chain of `entries` (in log order, from the first): sequence numbers, links and
/// hashes; with `mac_key`, also each entry's MAC. Reports the first inconsistent entry.
pub fn verify(entries: &[Release], mac_key: Option<&[u8; 32]>) -> Result<(), Tamper> {
    let mut prev = B256::ZERO;
    for (i, r) in entries.iter().enumerate() {
        let expected_seq = i as u64 + 1;
        let tamper = |reason: String| Tamper {
            seq: expected_seq,
            reason,
        };
        if r.seq != expected_seq {
            return Err(tamper(format!(
                "missing or out of place (the entry found here has seq {})",
                r.seq
            )));
        }
        if r.prev != prev {
            return Err(tamper(format!(
                "does not link to entry {} (its `prev` is not that entry's hash)",
                expected_seq - 1
            )));
        }
        if entry_hash(r) != r.hash {
            return Err(tamper(
                "altered: its hash does not match its content".to_owned(),
            ));
        }
        if let Some(key) = mac_key
            && entry_mac(key, r.hash) != r.mac
        {
            return Err(tamper(
                "rewritten: its MAC does not match (the log key was not used to write it)"
                    .to_owned(),
            ));
        }
        prev = r.hash;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [5; 32];

    fn chain(n: u64) -> Vec<Release> {
        let mut out: Vec<Release> = Vec::new();
        for seq in 1..=n {
            let mut r = Release {
                seq,
                at: 1000 + seq,
                task_id: format!("0xt{seq}"),
                session_id: "s".into(),
                counter: 0,
                worker: "0xw".into(),
                measurement: "ab".into(),
                secrets: vec![Released {
                    secret: "dataset:0xd".into(),
                    version: 1,
                }],
                prev: out.last().map(|p| p.hash).unwrap_or_default(),
                hash: B256::ZERO,
                mac: B256::ZERO,
            };
            r.hash = entry_hash(&r);
            r.mac = entry_mac(&KEY, r.hash);
            out.push(r);
        }
        out
    }

    #[test]
    fn tampering_is_detected() {
        let log = chain(3);
        verify(&log, Some(&KEY)).unwrap();
        let mut edited = log.clone();
        edited[1].secrets[0].version = 2;
        let t = verify(&edited, None).unwrap_err();
        assert_eq!(t.seq, 2);
        assert!(t.reason.contains("altered"), "{t}");
        let mut removed = log.clone();
        removed.remove(1);
        assert_eq!(verify(&removed, None).unwrap_err().seq, 2);
        let mut relinked = log.clone();
        relinked[2].prev = B256::ZERO;
        assert!(
            verify(&relinked, None)
                .unwrap_err()
                .reason
                .contains("does not link")
        );
        // a consistent rewrite without the key: the chain holds, the MAC does not
        let mut rewritten = log;
        rewritten[2].worker = "0xevil".into();
        rewritten[2].hash = entry_hash(&rewritten[2]);
        verify(&rewritten, None).unwrap();
        let t = verify(&rewritten, Some(&KEY)).unwrap_err();
        assert_eq!(t.seq, 3);
        assert!(t.reason.contains("MAC"), "{t}");
    }
}
