//! iExec's SMS authentication, byte for byte (`iexec-protocol.md` §5.2–5.3): the challenges the
//! iexec SDK signs with `personal_sign`, and the recovery of their signer.

use crate::error::{Result, SmsError};
use alloy::primitives::{Address, B256, Signature, keccak256};

/// keccak256("IEXEC_SMS_DOMAIN"), the first word of every push challenge.
pub fn domain_hash() -> B256 {
    keccak256(b"IEXEC_SMS_DOMAIN")
}

/// Challenge of a dataset key push (web3 secret):
/// `keccak256(domain ‖ secretAddress ‖ keccak256(value))`.
pub fn web3_challenge(secret_address: Address, value: &[u8]) -> B256 {
    keccak256(
        [
            domain_hash().as_slice(),
            secret_address.as_slice(),
            keccak256(value).as_slice(),
        ]
        .concat(),
    )
}

/// Challenge of a web2, requester or app-developer secret push:
/// `keccak256(domain ‖ owner ‖ keccak256(name) ‖ keccak256(value))` (app secret: name = "1").
pub fn named_challenge(owner: Address, name: &str, value: &[u8]) -> B256 {
    keccak256(
        [
            domain_hash().as_slice(),
            owner.as_slice(),
            keccak256(name.as_bytes()).as_slice(),
            keccak256(value).as_slice(),
        ]
        .concat(),
    )
}

/// Arca's owner operations beyond iExec, each an EIP-191 `personal_sign` of
/// `keccak256(domain ‖ keccak256(action) ‖ keccak256(kind) ‖ address ‖ keccak256(name) ‖
/// u64_be(n) ‖ extra)` where `address` is the secret's address (the dataset, the app, the web2
/// owner or the requester), `name` its name (`""` for a dataset key) and:
///
/// | action | `n` | `extra` |
/// |---|---|---|
/// | `rotate` | the version the rotation creates (current + 1) | `keccak256(value)` |
/// | `revoke` | the current version, which the revocation covers | — |
/// | `release-log` | the unix time of the request (accepted ±300 s) | — |
///
/// `n` makes a captured signature useless once the secret moved on (a replayed rotation cannot
/// roll a secret back, a replayed revocation cannot revoke a later version) or after 5 minutes.
pub fn owner_challenge(
    action: &str,
    kind: &str,
    address: Address,
    name: &str,
    n: u64,
    extra: Option<B256>,
) -> B256 {
    let mut bytes = Vec::with_capacity(32 * 5 + 20 + 8);
    bytes.extend_from_slice(domain_hash().as_slice());
    bytes.extend_from_slice(keccak256(action.as_bytes()).as_slice());
    bytes.extend_from_slice(keccak256(kind.as_bytes()).as_slice());
    bytes.extend_from_slice(address.as_slice());
    bytes.extend_from_slice(keccak256(name.as_bytes()).as_slice());
    bytes.extend_from_slice(&n.to_be_bytes());
    if let Some(extra) = extra {
        bytes.extend_from_slice(extra.as_slice());
    }
    keccak256(bytes)
}

/// Challenge of a rotation to `version` with `value`: see [`owner_challenge`].
pub fn rotate_challenge(
    kind: &str,
    address: Address,
    name: &str,
    version: u64,
    value: &[u8],
) -> B256 {
    owner_challenge(
        "rotate",
        kind,
        address,
        name,
        version,
        Some(keccak256(value)),
    )
}

/// Challenge of the revocation of every version up to `version`: see [`owner_challenge`].
pub fn revoke_challenge(kind: &str, address: Address, name: &str, version: u64) -> B256 {
    owner_challenge("revoke", kind, address, name, version, None)
}

/// Challenge of a release-log query made at unix time `at`: see [`owner_challenge`].
pub fn log_challenge(kind: &str, address: Address, name: &str, at: u64) -> B256 {
    owner_challenge("release-log", kind, address, name, at, None)
}

/// `WorkerpoolAuthorization` hash: `keccak256(worker ‖ taskId ‖ enclaveChallenge)`. With an
/// empty worker and challenge (the enclave-challenge request) it is `keccak256(taskId)`.
pub fn authorization_hash(
    worker: Option<Address>,
    task_id: B256,
    enclave: Option<Address>,
) -> B256 {
    let mut bytes = Vec::with_capacity(72);
    if let Some(w) = worker {
        bytes.extend_from_slice(w.as_slice());
    }
    bytes.extend_from_slice(task_id.as_slice());
    if let Some(e) = enclave {
        bytes.extend_from_slice(e.as_slice());
    }
    keccak256(bytes)
}

/// Parses a 65-byte hex signature (`0x` optional).
pub fn parse_signature(text: &str) -> Result<Signature> {
    let text = text.trim();
    let hex_part = text.strip_prefix("0x").unwrap_or(text);
    let bytes = hex::decode(hex_part).map_err(|_| {
        SmsError::Unauthorized("the signature is not hex (expected 0x + 130 hex digits)".into())
    })?;
    if bytes.len() != 65 {
        return Err(SmsError::Unauthorized(format!(
            "the signature has {} bytes, expected 65",
            bytes.len()
        )));
    }
    Signature::from_raw(&bytes)
        .map_err(|e| SmsError::Unauthorized(format!("malformed signature: {e}")))
}

fn secp() -> &'static secp256k1::Secp256k1<secp256k1::VerifyOnly> {
    static CONTEXT: std::sync::OnceLock<secp256k1::Secp256k1<secp256k1::VerifyOnly>> =
        std::sync::OnceLock::new();
    CONTEXT.get_or_init(secp256k1::Secp256k1::verification_only)
}

/// The signer of `personal_sign(challenge)` (EIP-191 over the 32 challenge bytes), recovered
/// with libsecp256k1 (the same answer as alloy's k256 path, at a third of the cost).
pub fn recover(signature: &str, challenge: B256) -> Result<Address> {
    use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
    let sig = parse_signature(signature)?;
    let bad = |e: secp256k1::Error| {
        SmsError::Unauthorized(format!("the signature does not recover: {e}"))
    };
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&sig.r().to_be_bytes::<32>());
    compact[32..].copy_from_slice(&sig.s().to_be_bytes::<32>());
    let id = RecoveryId::try_from(i32::from(sig.v())).map_err(bad)?;
    let recoverable = RecoverableSignature::from_compact(&compact, id).map_err(bad)?;
    let digest = alloy::primitives::eip191_hash_message(challenge.as_slice());
    let key = secp()
        .recover_ecdsa(secp256k1::Message::from_digest(digest.0), &recoverable)
        .map_err(bad)?;
    let point = key.serialize_uncompressed();
    Ok(Address::from_slice(&keccak256(&point[1..])[12..]))
}

/// Refuses unless `signature` over `challenge` was made by `expected` (`who` names the role in
/// the message, e.g. "the dataset owner").
pub fn require_signer(
    signature: &str,
    challenge: B256,
    expected: Address,
    who: &str,
) -> Result<()> {
    let signer = recover(signature, challenge)?;
    if signer != expected {
        return Err(SmsError::Unauthorized(format!(
            "the signature is by {signer}, not by {who} {expected} (challenge {challenge})"
        )));
    }
    Ok(())
}

/// Parses a 0x address given in a path or query.
pub fn parse_address(text: &str, what: &str) -> Result<Address> {
    text.trim().parse::<Address>().map_err(|_| {
        SmsError::BadRequest(format!(
            "{what} `{text}` is not an address (0x + 40 hex digits)"
        ))
    })
}

/// Parses a 0x bytes32 (task or deal id).
pub fn parse_b256(text: &str, what: &str) -> Result<B256> {
    text.trim().parse::<B256>().map_err(|_| {
        SmsError::BadRequest(format!(
            "{what} `{text}` is not a bytes32 (0x + 64 hex digits)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::signers::{SignerSync, local::PrivateKeySigner};

    #[test]
    fn domain_hash_is_iexecs() {
        assert_eq!(
            domain_hash().to_string(),
            "0x0a26923d45a019b77e856d0001681f98ab9707ec15b2b98048cc91eed00b6793"
        );
    }

    #[test]
    fn personal_sign_round_trip_and_wrong_signer() {
        let owner = PrivateKeySigner::random();
        let other = PrivateKeySigner::random();
        let c = named_challenge(owner.address(), "name", b"value");
        let sig = hex::encode(owner.sign_message_sync(c.as_slice()).unwrap().as_bytes());
        require_signer(&format!("0x{sig}"), c, owner.address(), "the owner").unwrap();
        let err = require_signer(&sig, c, other.address(), "the owner").unwrap_err();
        assert!(matches!(err, SmsError::Unauthorized(_)), "{err}");
        // a signature over another value does not authorize this one
        let c2 = named_challenge(owner.address(), "name", b"other");
        assert!(require_signer(&sig, c2, owner.address(), "the owner").is_err());
    }

    #[test]
    fn libsecp_recovery_agrees_with_alloys() {
        for i in 0..32u8 {
            let key = PrivateKeySigner::random();
            let challenge = keccak256([i]);
            let sig = key.sign_message_sync(challenge.as_slice()).unwrap();
            let text = format!("0x{}", hex::encode(sig.as_bytes()));
            assert_eq!(recover(&text, challenge).unwrap(), key.address());
            assert_eq!(
                sig.recover_address_from_msg(challenge.as_slice()).unwrap(),
                key.address()
            );
            // v as 0/1 instead of 27/28 is accepted too
            let mut raw = sig.as_bytes();
            raw[64] -= 27;
            assert_eq!(
                recover(&hex::encode(raw), challenge).unwrap(),
                key.address()
            );
        }
    }

    #[test]
    fn malformed_signatures_are_unauthorized_not_panics() {
        for bad in ["", "0x", "zz", "0x1234", &"ab".repeat(66)] {
            assert!(
                matches!(recover(bad, B256::ZERO), Err(SmsError::Unauthorized(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn owner_challenges_differ_by_action_kind_version_and_value() {
        let a = Address::repeat_byte(1);
        let base = rotate_challenge("dataset", a, "", 2, b"v");
        assert_ne!(base, rotate_challenge("dataset", a, "", 3, b"v"));
        assert_ne!(base, rotate_challenge("dataset", a, "", 2, b"w"));
        assert_ne!(base, rotate_challenge("web2", a, "", 2, b"v"));
        assert_ne!(base, rotate_challenge("dataset", a, "x", 2, b"v"));
        assert_ne!(
            revoke_challenge("dataset", a, "", 2),
            log_challenge("dataset", a, "", 2)
        );
        // the formula, spelled out
        let mut bytes = domain_hash().to_vec();
        bytes.extend_from_slice(keccak256("revoke").as_slice());
        bytes.extend_from_slice(keccak256("dataset").as_slice());
        bytes.extend_from_slice(a.as_slice());
        bytes.extend_from_slice(keccak256("").as_slice());
        bytes.extend_from_slice(&2u64.to_be_bytes());
        assert_eq!(revoke_challenge("dataset", a, "", 2), keccak256(bytes));
    }

    #[test]
    fn challenge_request_hash_is_keccak_of_task_id() {
        let t = B256::repeat_byte(4);
        assert_eq!(authorization_hash(None, t, None), keccak256(t));
    }
}
