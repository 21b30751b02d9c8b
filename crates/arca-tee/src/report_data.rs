//! The 64 report-data bytes an Arca enclave binds into its quote: they tie the quote to one
//! enclave session key and one task, so a quote cannot be replayed for another session or task.
//!
//! Layout (documented, stable, `v1`):
//! - bytes 0..32: `SHA-256("arca/tee/report-data/v1" ‖ task_id ‖ u32_be(len(session_key)) ‖ session_key)`
//! - bytes 32..64: `task_id` in clear, so a quote found in a log says which task it was made for.
//!
//! `session_key` is the enclave's public session key in whatever encoding the SMS protocol uses
//! (for example SEC1 bytes); it is hashed, never parsed here.

use crate::Result;
use crate::claims::Claims;
use sha2::{Digest, Sha256};

const DOMAIN: &[u8] = b"arca/tee/report-data/v1";

/// The report data binding `session_key` and `task_id` (layout in the module docs).
pub fn bind(task_id: &[u8; 32], session_key: &[u8]) -> [u8; 64] {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(task_id);
    // Length prefix: the key's encoding is free-form, so delimit it explicitly.
    h.update((session_key.len() as u32).to_be_bytes());
    h.update(session_key);
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&h.finalize());
    out[32..].copy_from_slice(task_id);
    out
}

/// Refuses unless `claims` carry the binding of `session_key` and `task_id`.
pub fn check(claims: &Claims, task_id: &[u8; 32], session_key: &[u8]) -> Result<()> {
    claims.require_report_data(&bind(task_id, session_key))
}

/// The task id a report data claims to be for (bytes 32..64), for logs and error messages; it is
/// only trustworthy after [`check`] passed.
pub fn claimed_task_id(report_data: &[u8; 64]) -> [u8; 32] {
    let mut id = [0u8; 32];
    id.copy_from_slice(&report_data[32..]);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_depends_on_key_and_task() {
        let task = [7u8; 32];
        let a = bind(&task, b"key-a");
        assert_eq!(claimed_task_id(&a), task);
        assert_ne!(a, bind(&task, b"key-b"));
        assert_ne!(a, bind(&[8u8; 32], b"key-a"));
        // Deterministic: the SMS recomputes it from the session request.
        assert_eq!(a, bind(&task, b"key-a"));
    }
}
