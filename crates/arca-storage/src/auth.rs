//! The two signatures an upload carries, and their exact messages.
//!
//! - WorkerpoolAuthorization (iexec-protocol.md §6.2), signed by the workerpool owner (the
//!   scheduler): EIP-191 `personal_sign` of `keccak256(worker(20) ‖ taskId(32) ‖ enclaveChallenge(20))`,
//!   the same signature the worker passes to `contribute`.
//! - Upload signature, signed by the worker: EIP-191 `personal_sign` of
//!   `keccak256(taskId(32) ‖ sha256(body)(32))`, which binds the bytes to the task and the worker.

use alloy::primitives::{Address, B256, Signature, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;

/// `keccak256(worker ‖ taskId ‖ enclaveChallenge)`, the hash the scheduler signs.
pub fn authorization_hash(worker: Address, task_id: B256, enclave_challenge: Address) -> B256 {
    keccak256(
        [
            worker.as_slice(),
            task_id.as_slice(),
            enclave_challenge.as_slice(),
        ]
        .concat(),
    )
}

/// `keccak256(taskId ‖ sha256(body))`, the hash the worker signs.
pub fn upload_hash(task_id: B256, sha256: [u8; 32]) -> B256 {
    keccak256([task_id.as_slice(), &sha256].concat())
}

/// EIP-191 personal_sign of a 32-byte hash, as 65 bytes r ‖ s ‖ v (v = 27/28).
pub fn personal_sign(signer: &PrivateKeySigner, hash: B256) -> alloy::primitives::Bytes {
    let sig = signer
        .sign_message_sync(hash.as_slice())
        .expect("signing a 32-byte message with a local key cannot fail");
    sig.as_bytes().to_vec().into()
}

/// Parses a `0x` hex 65-byte signature; the error says what was found.
pub fn parse_signature(text: &str) -> Result<Signature, String> {
    let hex_part = text.trim().strip_prefix("0x").ok_or_else(|| {
        format!("'{text}' does not start with 0x: expected 0x followed by 130 hex digits (65 bytes r ‖ s ‖ v)")
    })?;
    let bytes = alloy::hex::decode(hex_part).map_err(|e| {
        format!("'{text}' is not hex ({e}): expected 0x followed by 130 hex digits")
    })?;
    if bytes.len() != 65 {
        return Err(format!(
            "it has {} bytes: expected 65 (r ‖ s ‖ v, 0x followed by 130 hex digits)",
            bytes.len()
        ));
    }
    Signature::from_raw(&bytes)
        .map_err(|e| format!("'{text}' is not a valid secp256k1 signature ({e})"))
}

/// The address whose EIP-191 signature of `hash` is `sig`.
pub fn recover(sig: &Signature, hash: B256) -> Option<Address> {
    sig.recover_address_from_msg(hash.as_slice()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_round_trip_and_bind_their_fields() {
        let scheduler = PrivateKeySigner::random();
        let worker = PrivateKeySigner::random();
        let task = B256::repeat_byte(0x11);
        let auth = authorization_hash(worker.address(), task, Address::ZERO);
        let mut packed = worker.address().to_vec();
        packed.extend_from_slice(task.as_slice());
        packed.extend_from_slice(&[0u8; 20]);
        assert_eq!(packed.len(), 72);
        assert_eq!(auth, keccak256(&packed));
        let sig = personal_sign(&scheduler, auth);
        let parsed = parse_signature(&sig.to_string()).unwrap();
        assert_eq!(recover(&parsed, auth), Some(scheduler.address()));
        // another worker, same signature: recovers to someone else
        let other = authorization_hash(Address::repeat_byte(1), task, Address::ZERO);
        assert_ne!(recover(&parsed, other), Some(scheduler.address()));

        let up = upload_hash(task, [7u8; 32]);
        assert_eq!(up, keccak256([task.as_slice(), &[7u8; 32]].concat()));
        let sig = personal_sign(&worker, up);
        assert_eq!(
            recover(&parse_signature(&sig.to_string()).unwrap(), up),
            Some(worker.address())
        );
    }

    #[test]
    fn malformed_signatures_say_what_is_expected() {
        assert!(parse_signature("abcd").unwrap_err().contains("0x"));
        assert!(parse_signature("0xzz").unwrap_err().contains("not hex"));
        assert!(
            parse_signature("0x0102")
                .unwrap_err()
                .contains("expected 65")
        );
    }
}
