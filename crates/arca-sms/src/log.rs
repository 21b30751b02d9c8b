//! The release log: one append-only entry per secret release (which task, session, worker and
//! enclave measurement received which secrets, when), each entry hashing its predecessor so a
//! deleted, reordered or edited entry is detected by [`verify`]. Entries name secrets
//! (`dataset:0x…`, `requester:0x…:mail`), never their values.

use alloy::primitives::{B256, keccak256};
use serde::{Deserialize, Serialize};

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
    /// The worker that opened the session.
    pub worker: String,
    /// The enclave measurement the quote proved (hex).
    pub measurement: String,
    /// The released secrets, by name.
    pub secrets: Vec<String>,
    /// Hash of the previous entry (zero for the first).
    pub prev: B256,
    /// This entry's hash: see [`entry_hash`].
    pub hash: B256,
}

/// `keccak256("arca-sms/release-log/v1" ‖ prev ‖ u64_be(seq) ‖ u64_be(at) ‖ fields…)`, each text
/// field length-prefixed (u32 big-endian) so no two entries serialize alike.
pub fn entry_hash(r: &Release) -> B256 {
    let mut bytes = b"arca-sms/release-log/v1".to_vec();
    bytes.extend_from_slice(r.prev.as_slice());
    bytes.extend_from_slice(&r.seq.to_be_bytes());
    bytes.extend_from_slice(&r.at.to_be_bytes());
    let mut field = |s: &str| {
        bytes.extend_from_slice(&(s.len() as u32).to_be_bytes());
        bytes.extend_from_slice(s.as_bytes());
    };
    field(&r.task_id);
    field(&r.session_id);
    field(&r.worker);
    field(&r.measurement);
    for s in &r.secrets {
        field(s);
    }
    keccak256(bytes)
}

/// Checks the chain of `entries` (in log order, from the first): sequence numbers, links and
/// hashes. Returns where it breaks, in plain words.
pub fn verify(entries: &[Release]) -> Result<(), String> {
    let mut prev = B256::ZERO;
    for (i, r) in entries.iter().enumerate() {
        let expected_seq = i as u64 + 1;
        if r.seq != expected_seq {
            return Err(format!(
                "entry {expected_seq} is missing (found seq {})",
                r.seq
            ));
        }
        if r.prev != prev {
            return Err(format!(
                "entry {} does not link to entry {}",
                r.seq,
                r.seq - 1
            ));
        }
        if entry_hash(r) != r.hash {
            return Err(format!(
                "entry {} was altered: its hash does not match its content",
                r.seq
            ));
        }
        prev = r.hash;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<Release> {
        let mut out: Vec<Release> = Vec::new();
        for seq in 1..=n {
            let mut r = Release {
                seq,
                at: 1000 + seq,
                task_id: format!("0xt{seq}"),
                session_id: "s".into(),
                worker: "0xw".into(),
                measurement: "ab".into(),
                secrets: vec!["dataset:0xd".into()],
                prev: out.last().map(|p| p.hash).unwrap_or_default(),
                hash: B256::ZERO,
            };
            r.hash = entry_hash(&r);
            out.push(r);
        }
        out
    }

    #[test]
    fn tampering_is_detected() {
        let log = chain(3);
        verify(&log).unwrap();
        let mut edited = log.clone();
        edited[1].secrets.push("requester:0xr:mail".into());
        assert!(verify(&edited).unwrap_err().contains("entry 2 was altered"));
        let mut removed = log.clone();
        removed.remove(1);
        assert!(verify(&removed).unwrap_err().contains("entry 2 is missing"));
        let mut relinked = log;
        relinked[2].prev = B256::ZERO;
        assert!(verify(&relinked).unwrap_err().contains("does not link"));
    }
}
