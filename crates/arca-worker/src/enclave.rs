//! The TEE side of a replicate (iexec-protocol.md §5.3, §7.2), with arca-tee's sim enclave in
//! place of TDX hardware but the real protocol with the SMS:
//!
//! 1. the worker opens a session: `POST <sms>/tee/sessions` with the scheduler's
//!    `WorkerpoolAuthorization` and, as `Authorization` header, the worker's `personal_sign` of
//!    its hash `keccak256(worker ‖ taskId ‖ enclaveChallenge)`;
//! 2. the enclave — a [`SimEnclave`] measuring the app image digest and the entrypoint it runs —
//!    makes a fresh session key, quotes report data binding that key to the task
//!    ([`arca_tee::report_data::bind`]), and posts the quote with the key's signature of the
//!    release challenge to the session's provisioning URL;
//! 3. the SMS answers the task's environment: dataset key, requester and app-developer secrets,
//!    the beneficiary's result-encryption public key, and `SIGN_TEE_CHALLENGE_PRIVATE_KEY`, the
//!    task's enclave challenge key with which the enclave signs the result (§3.3).
//!
//! What the enclave measures (must equal the app's registered `fingerprint`, see
//! `arca tee measure`):
//! - the image: the digest the worker verified the local image against (the app's on-chain
//!   checksum when set: the image id of a locally built image or its registry digest), else the
//!   image's registry digest, else its id — the same choice `arca tee measure <image>` makes;
//! - the entrypoint: the `entrypoint` field of the app's on-chain mrenclave JSON (as written by
//!   `arca tee measure --json`), empty when absent, meaning the image's own entrypoint. The
//!   worker runs the container with exactly that entrypoint, so what is measured is what runs.
//!
//! Secrets stay in memory ([`Released`], whose `Debug` shows names only); nothing here writes
//! them to disk.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use alloy::primitives::{B256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use arca_tee::Attester as _;
use arca_tee::dev::DevPki;
use arca_tee::sim::SimEnclave;
use serde_json::{Value, json};

use crate::checksum::DigestMatch;
use crate::error::{Error, Result};
use crate::runner::VerifiedImage;
use crate::task::WorkerpoolAuthorization;
use crate::worker_key::{authorization_hash, personal_sign_hex};

/// The message a session key signs to prove the enclave holds it:
/// `keccak256("arca-sms/release/v1" ‖ sessionId)` (the SMS's `arca_sms::tee::release_challenge`).
pub fn release_challenge(session_id: &str) -> B256 {
    keccak256([b"arca-sms/release/v1".as_slice(), session_id.as_bytes()].concat())
}

/// The entrypoint the app's enclave runs: `entrypoint` of its mrenclave JSON, empty if absent.
pub fn enclave_entrypoint(mrenclave: &str) -> Result<String> {
    let refuse = |why: &str| {
        Error::SecretRelease(format!(
            "the app's mrenclave {why}; register the JSON printed by `arca tee measure --json <image>`"
        ))
    };
    if mrenclave.trim().is_empty() {
        return Err(refuse("is empty: the app is not a TEE app"));
    }
    let json: Value = serde_json::from_str(mrenclave).map_err(|_| refuse("is not JSON"))?;
    match json.get("entrypoint") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(refuse("has a non-string `entrypoint`")),
    }
}

/// The image digest the sim enclave measures (module docs).
pub fn measured_digest(image: &VerifiedImage) -> String {
    match &image.digest_match {
        Some(DigestMatch::ImageId) => image.id.clone(),
        Some(DigestMatch::RepoDigest(reference)) => reference.clone(),
        None => image
            .repo_digests
            .first()
            .cloned()
            .unwrap_or_else(|| image.id.clone()),
    }
}

/// The environment the SMS released to the enclave. `Debug` lists variable names, never values.
#[derive(Clone)]
pub struct Released {
    /// The SMS session the release consumed.
    pub session_id: String,
    /// The measurement the SMS accepted (hex).
    pub measurement: String,
    env: BTreeMap<String, String>,
}

impl fmt::Debug for Released {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Released")
            .field("session_id", &self.session_id)
            .field("measurement", &self.measurement)
            .field("variables", &self.env.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Released {
    /// From the SMS's `environment` map.
    pub fn new(session_id: String, measurement: String, env: BTreeMap<String, String>) -> Self {
        Self {
            session_id,
            measurement,
            env,
        }
    }

    /// `IEXEC_DATASET_KEY`: the dataset's base64 AES key.
    pub fn dataset_key(&self) -> Option<&str> {
        self.env.get("IEXEC_DATASET_KEY").map(String::as_str)
    }

    /// `IEXEC_REQUESTER_SECRET_<n>` by index.
    pub fn requester_secrets(&self) -> BTreeMap<u32, String> {
        self.env
            .iter()
            .filter_map(|(k, v)| {
                let n = k.strip_prefix("IEXEC_REQUESTER_SECRET_")?.parse().ok()?;
                Some((n, v.clone()))
            })
            .collect()
    }

    /// `IEXEC_APP_DEVELOPER_SECRET`.
    pub fn app_developer_secret(&self) -> Option<String> {
        self.env.get("IEXEC_APP_DEVELOPER_SECRET").cloned()
    }

    /// `RESULT_ENCRYPTION_PUBLIC_KEY` (base64 of the beneficiary's PEM), when the deal asks for
    /// result encryption.
    pub fn result_encryption_public_key(&self) -> Option<&str> {
        self.env
            .get("RESULT_ENCRYPTION_PUBLIC_KEY")
            .map(String::as_str)
    }

    /// `SIGN_TEE_CHALLENGE_PRIVATE_KEY`, checked to be the authorization's enclave challenge.
    pub fn challenge_key(
        &self,
        authorization: &WorkerpoolAuthorization,
    ) -> Result<PrivateKeySigner> {
        let text = self.env.get("SIGN_TEE_CHALLENGE_PRIVATE_KEY").ok_or_else(|| {
            Error::SecretRelease(
                "the SMS released no SIGN_TEE_CHALLENGE_PRIVATE_KEY: the enclave cannot sign the result; the SMS must be upgraded to one that releases the task's enclave challenge key".into(),
            )
        })?;
        let key: PrivateKeySigner = text.trim().parse().map_err(|_| {
            Error::SecretRelease(
                "SIGN_TEE_CHALLENGE_PRIVATE_KEY is not a secp256k1 private key".into(),
            )
        })?;
        if key.address() != authorization.enclave_challenge {
            return Err(Error::SecretRelease(format!(
                "the SMS released the key of {} but the scheduler authorized enclave challenge {}; the worker's SMS and the scheduler's differ",
                key.address(),
                authorization.enclave_challenge
            )));
        }
        Ok(key)
    }
}

/// What the enclave needs to open a session and get its secrets.
#[derive(Debug)]
pub struct EnclaveRequest<'a> {
    /// HTTP client.
    pub http: &'a reqwest::Client,
    /// SMS base URL.
    pub sms_url: &'a str,
    /// The scheduler's authorization (task id, worker, enclave challenge, signature).
    pub authorization: &'a WorkerpoolAuthorization,
    /// The worker's wallet (signs the session request).
    pub worker: &'a PrivateKeySigner,
    /// The dev PKI the sim enclave's quotes chain to.
    pub pki: Arc<DevPki>,
    /// The measured image digest ([`measured_digest`]).
    pub image_digest: &'a str,
    /// The measured entrypoint ([`enclave_entrypoint`]).
    pub entrypoint: &'a str,
}

/// Opens the session, attests and returns the released environment.
pub async fn open_and_release(req: &EnclaveRequest<'_>) -> Result<Released> {
    let auth = req.authorization;
    let task_id = auth.chain_task_id;
    let hash = authorization_hash(auth.worker_wallet, task_id, auth.enclave_challenge);
    let worker_sig = personal_sign_hex(req.worker, hash)
        .map_err(|e| Error::SecretRelease(format!("signing the session request: {e}")))?;
    let body = json!({
        "chainTaskId": format!("{task_id}"),
        "workerWallet": format!("{:#x}", auth.worker_wallet),
        "enclaveChallenge": format!("{:#x}", auth.enclave_challenge),
        "signature": { "value": format!("0x{}", hex::encode(&auth.signature)) },
    });
    let sms = req.sms_url.trim_end_matches('/');
    let opened = post(
        req.http,
        &format!("{sms}/tee/sessions"),
        Some(&worker_sig),
        &body,
        "open a TEE session",
    )
    .await?;
    let data = &opened["data"];
    let (Some(session_id), Some(provisioning)) = (
        data["sessionId"].as_str(),
        data["secretProvisioningUrl"].as_str(),
    ) else {
        return Err(Error::SecretRelease(format!(
            "the SMS at {sms} answered the session request without data.sessionId/secretProvisioningUrl: {opened}"
        )));
    };

    // A fresh key per session: the quote binds it, so the release serves this enclave only.
    let session_key = PrivateKeySigner::random();
    let enclave = SimEnclave::new(req.pki.clone(), req.image_digest, req.entrypoint)
        .map_err(|e| Error::SecretRelease(format!("sim enclave: {e}")))?;
    let evidence = enclave
        .attest(&arca_tee::report_data::bind(
            &task_id.0,
            session_key.address().as_slice(),
        ))
        .map_err(|e| Error::SecretRelease(format!("sim enclave quote: {e}")))?;
    let proof = personal_sign_hex(&session_key, release_challenge(session_id))
        .map_err(|e| Error::SecretRelease(format!("signing the release: {e}")))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Collateral valid from an hour ago: tolerates clock skew between worker and SMS.
    let collateral: Value =
        serde_json::from_str(&req.pki.collateral(now.saturating_sub(3600)).to_json())
            .map_err(|e| Error::SecretRelease(format!("dev collateral JSON: {e}")))?;
    let body = json!({
        "quote": hex::encode(evidence.quote()),
        "sessionKey": format!("{:#x}", session_key.address()),
        "signature": proof,
        "collateral": collateral,
    });
    let released = post(
        req.http,
        provisioning,
        None,
        &body,
        "release the task's secrets",
    )
    .await?;
    let env: BTreeMap<String, String> = released["environment"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .ok_or_else(|| {
            Error::SecretRelease("the SMS release answer has no `environment` object".into())
        })?;
    Ok(Released::new(
        session_id.to_owned(),
        released["measurement"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        env,
    ))
}

/// POSTs JSON and returns the JSON answer; a refusal becomes an error quoting the SMS's reason
/// and the check that failed.
async fn post(
    http: &reqwest::Client,
    url: &str,
    authorization: Option<&str>,
    body: &Value,
    what: &str,
) -> Result<Value> {
    let mut request = http
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(a) = authorization {
        request = request.header("authorization", a);
    }
    let response = request.send().await.map_err(|e| {
        Error::SecretRelease(format!(
            "cannot reach the SMS to {what} at {url}: {e} (is the SMS running and its URL in the deal's TEE settings right?)"
        ))
    })?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if !status.is_success() {
        let reason = json["error"][0]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| text.trim().to_owned());
        let check = json["check"]
            .as_str()
            .map(|c| format!(" (check `{c}`)"))
            .unwrap_or_default();
        return Err(Error::SecretRelease(format!(
            "the SMS refused to {what}: HTTP {status}{check}: {reason}"
        )));
    }
    if json.is_null() {
        return Err(Error::SecretRelease(format!(
            "the SMS answered a non-JSON body to {what}: {text}"
        )));
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_match_the_sms() {
        let session = "AbCdEfGhIj0000task";
        assert_eq!(
            release_challenge(session),
            arca_sms::tee::release_challenge(session)
        );
        let (w, t, c) = (
            alloy::primitives::Address::repeat_byte(1),
            B256::repeat_byte(2),
            alloy::primitives::Address::repeat_byte(3),
        );
        assert_eq!(
            authorization_hash(w, t, c),
            arca_sms::auth::authorization_hash(Some(w), t, Some(c))
        );
    }

    #[test]
    fn entrypoint_comes_from_the_mrenclave_json() {
        assert_eq!(
            enclave_entrypoint(r#"{"fingerprint":"ab","entrypoint":"python3 /app/main.py"}"#)
                .unwrap(),
            "python3 /app/main.py"
        );
        assert_eq!(enclave_entrypoint(r#"{"fingerprint":"ab"}"#).unwrap(), "");
        for bad in ["", "not json", r#"{"entrypoint":3}"#] {
            let err = enclave_entrypoint(bad).unwrap_err().to_string();
            assert!(err.contains("arca tee measure"), "{bad}: {err}");
        }
    }

    #[test]
    fn measured_digest_is_the_verified_one() {
        let id = format!("sha256:{}", "a".repeat(64));
        let repo = format!("reg/app@sha256:{}", "b".repeat(64));
        let mut image = VerifiedImage {
            id: id.clone(),
            repo_digests: vec![repo.clone()],
            digest_match: Some(DigestMatch::ImageId),
        };
        assert_eq!(measured_digest(&image), id);
        image.digest_match = Some(DigestMatch::RepoDigest(repo.clone()));
        assert_eq!(measured_digest(&image), repo);
        image.digest_match = None;
        assert_eq!(measured_digest(&image), repo);
        image.repo_digests.clear();
        assert_eq!(measured_digest(&image), id);
    }

    #[test]
    fn released_debug_hides_values_and_accessors_parse() {
        let key = PrivateKeySigner::random();
        let env = BTreeMap::from([
            ("IEXEC_DATASET_KEY".to_owned(), "c2VjcmV0".to_owned()),
            ("IEXEC_REQUESTER_SECRET_2".to_owned(), "s3cr3t".to_owned()),
            (
                "SIGN_TEE_CHALLENGE_PRIVATE_KEY".to_owned(),
                format!("0x{}", hex::encode(key.to_bytes())),
            ),
        ]);
        let r = Released::new("s".into(), "m".into(), env);
        let dbg = format!("{r:?}");
        assert!(
            !dbg.contains("s3cr3t") && !dbg.contains("c2VjcmV0"),
            "{dbg}"
        );
        assert_eq!(r.dataset_key(), Some("c2VjcmV0"));
        assert_eq!(
            r.requester_secrets(),
            BTreeMap::from([(2, "s3cr3t".to_owned())])
        );
        let mut auth = WorkerpoolAuthorization {
            worker_wallet: alloy::primitives::Address::ZERO,
            chain_task_id: B256::ZERO,
            enclave_challenge: key.address(),
            signature: Default::default(),
        };
        assert_eq!(r.challenge_key(&auth).unwrap().address(), key.address());
        auth.enclave_challenge = alloy::primitives::Address::repeat_byte(1);
        assert!(
            r.challenge_key(&auth)
                .unwrap_err()
                .to_string()
                .contains("authorized enclave challenge")
        );
    }
}
