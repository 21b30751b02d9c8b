//! The hashes a worker contributes and the signatures over them (iexec-protocol.md §3.3, §7.3):
//!
//! - `resultHash = keccak256(taskId ‖ resultDigest)` — the contribution's commitment, equal across
//!   honest workers;
//! - `resultSeal = keccak256(worker ‖ taskId ‖ resultDigest)` — binds the commitment to one worker
//!   so another cannot copy it;
//! - the enclave signature: EIP-191 `personal_sign` of `keccak256(resultHash ‖ resultSeal)` by the
//!   task's enclave challenge key, which the contract checks against the authorization's
//!   `enclaveChallenge` (standard tasks send none).
//!
//! - a failure report (Arca): the same key's EIP-191 signature over [`failure_report_message`],
//!   so a TEE task's failure is the enclave's word, not only the host's.
//!
//! All concatenations are raw bytes (`abi.encodePacked`), never hex text.

use alloy::primitives::{Address, B256, Bytes, Signature, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;

use crate::logs::ComputeLogs;
use crate::task::{Failure, FailureReport};

/// Domain tag of [`failure_report_message`], versioned so the format can change.
const FAILURE_REPORT_TAG: &[u8] = b"arca.failure-report.v1";

/// `keccak256(taskId ‖ resultDigest)`.
pub fn result_hash(task_id: B256, result_digest: B256) -> B256 {
    keccak256([task_id.as_slice(), result_digest.as_slice()].concat())
}

/// `keccak256(worker ‖ taskId ‖ resultDigest)`.
pub fn result_seal(worker: Address, task_id: B256, result_digest: B256) -> B256 {
    keccak256(
        [
            worker.as_slice(),
            task_id.as_slice(),
            result_digest.as_slice(),
        ]
        .concat(),
    )
}

/// The 32 bytes the enclave challenge key signs: `keccak256(resultHash ‖ resultSeal)`.
pub fn enclave_message(result_hash: B256, result_seal: B256) -> B256 {
    keccak256([result_hash.as_slice(), result_seal.as_slice()].concat())
}

/// The enclave signature of a contribution: 65 bytes `r ‖ s ‖ v` (v = 27/28), EIP-191 over
/// [`enclave_message`] of the worker's hash and seal.
pub fn enclave_signature(
    challenge_key: &PrivateKeySigner,
    worker: Address,
    task_id: B256,
    result_digest: B256,
) -> alloy::signers::Result<Bytes> {
    let m = enclave_message(
        result_hash(task_id, result_digest),
        result_seal(worker, task_id, result_digest),
    );
    let sig = challenge_key.sign_message_sync(m.as_slice())?;
    Ok(Bytes::from(sig.as_bytes().to_vec()))
}

/// The worker's `personal_sign` of a 32-byte hash as `0x…` hex (SMS session requests: the
/// authorization hash `keccak256(worker ‖ taskId ‖ enclaveChallenge)`).
pub fn personal_sign_hex(signer: &PrivateKeySigner, hash: B256) -> alloy::signers::Result<String> {
    let sig = signer.sign_message_sync(hash.as_slice())?;
    Ok(format!("0x{}", hex::encode(sig.as_bytes())))
}

/// `keccak256(worker ‖ taskId ‖ enclaveChallenge)`: the `WorkerpoolAuthorization` hash the
/// scheduler signs for the contract and the worker signs for the SMS.
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

/// The 32 bytes an enclave signs to report a failure: `keccak256("arca.failure-report.v1" ‖
/// taskId ‖ worker ‖ keccak256(stage) ‖ keccak256(cause JSON) ‖ logDigest)`, stage and cause as
/// they serialize (`"compute"`, `{"cause":"app-exit-code","code":1}`).
pub fn failure_report_message(
    task_id: B256,
    worker: Address,
    failure: &Failure,
    log_digest: B256,
) -> B256 {
    // Serializing these plain enums cannot fail.
    let stage = serde_json::to_string(&failure.stage).unwrap_or_default();
    let cause = serde_json::to_string(&failure.cause).unwrap_or_default();
    keccak256(
        [
            FAILURE_REPORT_TAG,
            task_id.as_slice(),
            worker.as_slice(),
            keccak256(stage.as_bytes()).as_slice(),
            keccak256(cause.as_bytes()).as_slice(),
            log_digest.as_slice(),
        ]
        .concat(),
    )
}

fn log_digest(failure: &Failure) -> B256 {
    failure
        .logs
        .as_ref()
        .map_or(B256::ZERO, ComputeLogs::digest)
}

/// Signs `failure` with the task's enclave challenge key (the report goes in `failure.report`).
pub fn sign_failure_report(
    challenge_key: &PrivateKeySigner,
    worker: Address,
    task_id: B256,
    failure: &Failure,
) -> alloy::signers::Result<FailureReport> {
    let log_digest = log_digest(failure);
    let m = failure_report_message(task_id, worker, failure, log_digest);
    let sig = challenge_key.sign_message_sync(m.as_slice())?;
    Ok(FailureReport {
        signer: challenge_key.address(),
        log_digest,
        signature: Bytes::from(sig.as_bytes().to_vec()),
    })
}

/// Checks `failure.report` against the task's enclave challenge: the logs are the ones signed
/// and the signature recovers to `enclave_challenge`. `Err` says what does not hold.
pub fn verify_failure_report(
    failure: &Failure,
    task_id: B256,
    worker: Address,
    enclave_challenge: Address,
) -> Result<(), String> {
    let report = failure
        .report
        .as_ref()
        .ok_or("the failure carries no enclave report")?;
    if report.log_digest != log_digest(failure) {
        return Err("the logs differ from the ones the enclave signed".into());
    }
    let sig = Signature::try_from(report.signature.as_ref())
        .map_err(|e| format!("malformed report signature: {e}"))?;
    let m = failure_report_message(task_id, worker, failure, report.log_digest);
    let signer = sig
        .recover_address_from_msg(m.as_slice())
        .map_err(|e| format!("unrecoverable report signature: {e}"))?;
    if signer != enclave_challenge {
        return Err(format!(
            "signed by {signer}, not by the task's enclave challenge {enclave_challenge}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{address, b256};
    use sha3::{Digest, Keccak256};

    /// Independent keccak over explicit byte vectors (sha3 crate, not alloy).
    fn k(parts: &[&[u8]]) -> [u8; 32] {
        let mut h = Keccak256::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }

    #[test]
    fn hash_and_seal_are_packed_byte_concatenations() {
        let task = b256!("0x1111111111111111111111111111111111111111111111111111111111111111");
        let digest = b256!("0x2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        let worker = address!("0x00000000000000000000000000000000000000aa");
        let hash = result_hash(task, digest);
        assert_eq!(hash.0, k(&[&[0x11; 32], digest.as_slice()]));
        let seal = result_seal(worker, task, digest);
        let mut w = [0u8; 20];
        w[19] = 0xaa;
        assert_eq!(seal.0, k(&[&w, &[0x11; 32], digest.as_slice()]));
        assert_ne!(seal, result_seal(Address::ZERO, task, digest));
        assert_eq!(
            enclave_message(hash, seal).0,
            k(&[hash.as_slice(), seal.as_slice()])
        );
    }

    #[test]
    fn enclave_signature_recovers_to_the_challenge_key() {
        let key = PrivateKeySigner::random();
        let worker = PrivateKeySigner::random().address();
        let (task, digest) = (B256::repeat_byte(3), B256::repeat_byte(4));
        let sig = enclave_signature(&key, worker, task, digest).unwrap();
        assert_eq!(sig.len(), 65);
        assert!(sig[64] == 27 || sig[64] == 28, "v = {}", sig[64]);
        let parsed = alloy::signers::Signature::try_from(sig.as_ref()).unwrap();
        let m = enclave_message(result_hash(task, digest), result_seal(worker, task, digest));
        // EIP-191: what the contract's ecrecover sees is the prefixed hash.
        let recovered = parsed.recover_address_from_msg(m.as_slice()).unwrap();
        assert_eq!(recovered, key.address());
    }

    #[test]
    fn authorization_hash_matches_the_packed_formula() {
        let w = address!("0x00000000000000000000000000000000000000aa");
        let c = address!("0x00000000000000000000000000000000000000bb");
        let t = B256::repeat_byte(9);
        assert_eq!(
            authorization_hash(w, t, c).0,
            k(&[w.as_slice(), t.as_slice(), c.as_slice()])
        );
    }

    fn app_failure(logs: Option<ComputeLogs>) -> Failure {
        Failure {
            stage: crate::task::Stage::Compute,
            cause: crate::task::FailureCause::AppExitCode { code: 3 },
            message: "the app exited with code 3".into(),
            logs,
            report: None,
        }
    }

    #[test]
    fn failure_reports_verify_against_the_challenge_and_bind_their_fields() {
        let key = PrivateKeySigner::random();
        let worker = address!("0x00000000000000000000000000000000000000aa");
        let task = b256!("0x1111111111111111111111111111111111111111111111111111111111111111");
        let logs = ComputeLogs {
            stdout: "working\n".into(),
            stderr: "boom\n".into(),
            ..ComputeLogs::default()
        };
        let mut failure = app_failure(Some(logs));
        failure.report = Some(sign_failure_report(&key, worker, task, &failure).unwrap());
        assert_eq!(failure.report.as_ref().unwrap().signer, key.address());
        verify_failure_report(&failure, task, worker, key.address()).unwrap();

        // the message is the documented concatenation
        let report = failure.report.clone().unwrap();
        assert_eq!(
            failure_report_message(task, worker, &failure, report.log_digest).0,
            k(&[
                b"arca.failure-report.v1",
                task.as_slice(),
                worker.as_slice(),
                &k(&[b"\"compute\""]),
                &k(&[br#"{"cause":"app-exit-code","code":3}"#]),
                report.log_digest.as_slice(),
            ])
        );

        // another key, another task, other logs, another cause: each refused with its reason
        let other = PrivateKeySigner::random();
        let err = verify_failure_report(&failure, task, worker, other.address()).unwrap_err();
        assert!(err.contains("not by the task's enclave challenge"), "{err}");
        assert!(verify_failure_report(&failure, B256::ZERO, worker, key.address()).is_err());
        let mut tampered = failure.clone();
        tampered.logs.as_mut().unwrap().stderr = "all fine\n".into();
        let err = verify_failure_report(&tampered, task, worker, key.address()).unwrap_err();
        assert!(err.contains("logs differ"), "{err}");
        let mut recaused = failure.clone();
        recaused.cause = crate::task::FailureCause::Timeout;
        assert!(verify_failure_report(&recaused, task, worker, key.address()).is_err());
        let err =
            verify_failure_report(&app_failure(None), task, worker, key.address()).unwrap_err();
        assert!(err.contains("no enclave report"), "{err}");
    }

    #[test]
    fn log_digests_separate_the_two_streams() {
        let a = ComputeLogs {
            stdout: "ab".into(),
            stderr: "c".into(),
            ..ComputeLogs::default()
        };
        let b = ComputeLogs {
            stdout: "a".into(),
            stderr: "bc".into(),
            ..ComputeLogs::default()
        };
        assert_ne!(a.digest(), b.digest());
    }
}
