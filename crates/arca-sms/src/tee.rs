//! The TEE flow (`iexec-protocol.md` §5.3, §7.2), with every refusal named:
//!
//! 1. `POST /tee/challenges/{taskId}` — the scheduler (workerpool owner) gets the task's enclave
//!    challenge address; the key is created once per task and stored sealed.
//! 2. `POST /tee/sessions` — a worker presents the scheduler's `WorkerpoolAuthorization`; after
//!    the on-chain checks the SMS opens a single-use session and answers iExec's
//!    `{data: {sessionId, secretProvisioningUrl}}`.
//! 3. `POST /tee/sessions/{sessionId}/secrets` (Arca's provisioning step, in place of iExec's
//!    CAS/SPS) — the enclave proves with a quote that it runs the app's registered measurement
//!    and binds a session key it holds (report data = [`arca_tee::report_data::bind`] of the task
//!    id and the 20-byte address of that key; possession is shown by its `personal_sign` of
//!    [`release_challenge`]); the SMS then releases exactly the secrets this task may see.

use crate::auth::{self, parse_b256};
use crate::chain::{DealView, TASK_STATUS, TaskView};
use crate::error::{Result, SmsError};
use crate::secrets::{APP_DEVELOPER_SECRET_INDEX, key_of};
use crate::server::State;
use crate::store::SecretKind;
use alloy::primitives::{Address, B256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use arca_tee::{Collateral, Evidence, TeeError};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::HeaderMap;
use rand::Rng;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The message an enclave signs with its session key to prove it holds it:
/// `keccak256("arca-sms/release/v1" ‖ sessionId)`, EIP-191 signed.
pub fn release_challenge(session_id: &str) -> B256 {
    keccak256([b"arca-sms/release/v1".as_slice(), session_id.as_bytes()].concat())
}

fn header<'a>(headers: &'a HeaderMap, what: &str) -> Result<&'a str> {
    headers
        .get("authorization")
        .ok_or_else(|| SmsError::Unauthorized(format!("missing `Authorization` header ({what})")))?
        .to_str()
        .map_err(|_| SmsError::Unauthorized("the `Authorization` header is not text".into()))
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &Bytes, what: &str) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| SmsError::BadRequest(format!("{what}: {e}")))
}

/// The task must be ACTIVE (initialized, not yet revealed, completed or failed).
async fn active_task(s: &State, task_id: B256) -> Result<(TaskView, DealView)> {
    let task = s.chain.task(task_id).await?;
    if task.status != 1 {
        let status = TASK_STATUS
            .get(task.status as usize)
            .copied()
            .unwrap_or("unknown");
        let hint = if task.status == 0 {
            " (never initialized on chain)"
        } else {
            ""
        };
        return Err(SmsError::denied(
            "task-not-active",
            format!("task {task_id} is {status}{hint}; secrets are released only to ACTIVE tasks"),
        ));
    }
    let deal = s.chain.deal(task.deal_id).await?.ok_or_else(|| {
        SmsError::denied(
            "deal-missing",
            format!("deal {} of task {task_id} does not exist", task.deal_id),
        )
    })?;
    if deal.tag[31] & 1 == 0 {
        return Err(SmsError::denied(
            "not-tee-task",
            format!(
                "task {task_id} is not a TEE task: its deal tag {} lacks the TEE bit",
                deal.tag
            ),
        ));
    }
    Ok((task, deal))
}

/// The enclave challenge key of a task, if one was created.
fn challenge_key(s: &State, task_id: B256) -> Result<Option<PrivateKeySigner>> {
    s.store
        .get(SecretKind::EnclaveChallenge, &format!("{task_id}"), "")?
        .map(|bytes| {
            PrivateKeySigner::from_slice(&bytes)
                .map_err(|e| SmsError::Store(format!("stored enclave challenge key: {e}")))
        })
        .transpose()
}

/// `POST /tee/challenges/{taskId}`: the task's enclave challenge address (created once).
#[tracing::instrument(skip_all, fields(task_id = %task_id))]
pub(crate) async fn challenge(
    AxState(s): AxState<State>,
    Path(task_id): Path<String>,
    headers: HeaderMap,
) -> Result<String> {
    let task_id = parse_b256(&task_id, "task id")?;
    let signature = header(
        &headers,
        "the scheduler's personal_sign of keccak256(taskId)",
    )?;
    let (_, deal) = active_task(&s, task_id).await?;
    auth::require_signer(
        signature,
        auth::authorization_hash(None, task_id, None),
        deal.workerpool_owner,
        "the owner of the deal's workerpool",
    )?;
    if let Some(key) = challenge_key(&s, task_id)? {
        return Ok(format!("{:#x}", key.address()));
    }
    let key = PrivateKeySigner::random();
    let inserted = s.store.insert(
        SecretKind::EnclaveChallenge,
        &format!("{task_id}"),
        "",
        &key.to_bytes()[..],
    )?;
    // A concurrent request may have created it first: the stored key is the one.
    let key = if inserted {
        key
    } else {
        challenge_key(&s, task_id)?
            .ok_or_else(|| SmsError::Store("enclave challenge vanished".into()))?
    };
    tracing::info!(enclave_challenge = %key.address(), created = inserted, "enclave challenge");
    Ok(format!("{:#x}", key.address()))
}

/// iExec's `WorkerpoolAuthorization` (the signature as `{value}` or as a bare string).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WorkerpoolAuthorization {
    chain_task_id: String,
    worker_wallet: String,
    enclave_challenge: String,
    signature: SignatureField,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SignatureField {
    Object { value: String },
    Text(String),
}

impl SignatureField {
    fn as_str(&self) -> &str {
        match self {
            SignatureField::Object { value } | SignatureField::Text(value) => value,
        }
    }
}

/// The app's registered measurement: the `fingerprint` of its mrenclave JSON.
async fn app_measurement(s: &State, deal: &DealView) -> Result<String> {
    let (_, mrenclave) = s.chain.app(deal.app).await?.ok_or_else(|| {
        SmsError::denied(
            "app-not-registered",
            format!("the deal's app {} is not registered", deal.app),
        )
    })?;
    let not_tee = |why: &str| {
        SmsError::denied(
            "app-not-tee",
            format!(
                "app {} is not a TEE app with a registered measurement: {why}",
                deal.app
            ),
        )
    };
    if mrenclave.is_empty() {
        return Err(not_tee("its mrenclave field is empty"));
    }
    let json: Value = serde_json::from_slice(&mrenclave)
        .map_err(|_| not_tee("its mrenclave field is not JSON"))?;
    let fingerprint = json
        .get("fingerprint")
        .and_then(Value::as_str)
        .ok_or_else(|| not_tee("its mrenclave JSON has no `fingerprint`"))?;
    let fingerprint = fingerprint.trim_start_matches("0x").to_ascii_lowercase();
    if fingerprint.is_empty() || hex::decode(&fingerprint).is_err() {
        return Err(not_tee("its `fingerprint` is not hex"));
    }
    Ok(fingerprint)
}

/// The requester secrets the deal asks for: params `iexec_secrets` = `{"1": "name", …}`.
fn requested_secrets(deal: &DealView) -> Result<BTreeMap<String, String>> {
    let Ok(params) = serde_json::from_str::<Value>(&deal.params) else {
        return Ok(BTreeMap::new());
    };
    let mut out = BTreeMap::new();
    if let Some(map) = params.get("iexec_secrets").and_then(Value::as_object) {
        for (index, name) in map {
            let name = name.as_str().ok_or_else(|| {
                SmsError::denied(
                    "deal-params",
                    format!("iexec_secrets[{index}] is not a string"),
                )
            })?;
            out.insert(index.clone(), name.to_owned());
        }
    }
    Ok(out)
}

fn result_encryption(deal: &DealView) -> bool {
    serde_json::from_str::<Value>(&deal.params)
        .ok()
        .and_then(|p| p.get("iexec_result_encryption").and_then(Value::as_bool))
        .unwrap_or(false)
}

/// The secrets the task may see, as the environment iExec gives each stage (§4.2); denies if
/// one the deal needs is missing, so the worker learns it before running anything.
fn task_secrets(s: &State, deal: &DealView) -> Result<(BTreeMap<String, String>, Vec<String>)> {
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    let mut env = BTreeMap::new();
    // names of the released secrets, for the release log (values never go there)
    let mut names = Vec::new();
    if deal.dataset != Address::ZERO {
        let key = s
            .store
            .get(SecretKind::Dataset, &key_of(deal.dataset), "")?
            .ok_or_else(|| {
                SmsError::denied(
                    "dataset-key-missing",
                    format!(
                        "the owner of dataset {} has not pushed its key to this SMS",
                        deal.dataset
                    ),
                )
            })?;
        env.insert("IEXEC_DATASET_KEY".into(), text(key));
        names.push(format!("dataset:{}", key_of(deal.dataset)));
    }
    if let Some(secret) = s.store.get(
        SecretKind::App,
        &key_of(deal.app),
        APP_DEVELOPER_SECRET_INDEX,
    )? {
        let secret = text(secret);
        env.insert("IEXEC_APP_DEVELOPER_SECRET".into(), secret.clone());
        env.insert("IEXEC_APP_DEVELOPER_SECRET_1".into(), secret);
        names.push(format!("app:{}:1", key_of(deal.app)));
    }
    // Only the deal's own requester's namespace is looked up: a name cannot reach another
    // requester's secret.
    for (index, name) in requested_secrets(deal)? {
        let secret = s.store.get(SecretKind::Requester, &key_of(deal.requester), &name)?.ok_or_else(|| {
            SmsError::denied(
                "requester-secret-missing",
                format!("the deal's requester {} has no secret `{name}` (asked as iexec_secrets[{index}])", deal.requester),
            )
        })?;
        env.insert(format!("IEXEC_REQUESTER_SECRET_{index}"), text(secret));
        names.push(format!("requester:{}:{name}", key_of(deal.requester)));
    }
    if result_encryption(deal) {
        let key = s
            .store
            .get(SecretKind::Web2, &key_of(deal.beneficiary), "iexec-result-encryption-public-key")?
            .ok_or_else(|| {
                SmsError::denied(
                    "result-key-missing",
                    format!("the deal asks for result encryption but beneficiary {} pushed no `iexec-result-encryption-public-key`", deal.beneficiary),
                )
            })?;
        env.insert("RESULT_ENCRYPTION".into(), "true".into());
        env.insert("RESULT_ENCRYPTION_PUBLIC_KEY".into(), text(key));
        names.push(format!(
            "web2:{}:iexec-result-encryption-public-key",
            key_of(deal.beneficiary)
        ));
    }
    Ok((env, names))
}

/// Session checks shared by session creation and release: the worker authorization, the
/// enclave challenge, the app measurement and the presence of every secret the deal needs.
async fn check_authorization(
    s: &State,
    task_id: B256,
    deal: &DealView,
    worker: Address,
    enclave: Address,
    authorization: &str,
) -> Result<()> {
    let stored = challenge_key(s, task_id)?.ok_or_else(|| {
        SmsError::denied("no-enclave-challenge", format!("no enclave challenge was created for task {task_id}; the scheduler asks for it first"))
    })?;
    if stored.address() != enclave {
        return Err(SmsError::denied(
            "wrong-enclave-challenge",
            format!(
                "the authorization names enclave challenge {enclave}; this task's is {}",
                stored.address()
            ),
        ));
    }
    let signer = auth::recover(
        authorization,
        auth::authorization_hash(Some(worker), task_id, Some(enclave)),
    )?;
    let broker = s.chain.tee_broker().await?;
    let (expected, role) = if broker != Address::ZERO {
        (broker, "the hub's TEE broker")
    } else {
        (deal.workerpool_owner, "the owner of the deal's workerpool")
    };
    if signer != expected {
        return Err(SmsError::denied(
            "worker-not-authorized",
            format!(
                "the authorization of worker {worker} is signed by {signer}; it must be signed by {role} {expected} (workerpool {})",
                deal.workerpool
            ),
        ));
    }
    Ok(())
}

/// `POST /tee/sessions`: opens a single-use session for an authorized worker.
#[tracing::instrument(skip_all, fields(task_id))]
pub(crate) async fn create_session(
    AxState(s): AxState<State>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>> {
    let worker_sig = header(
        &headers,
        "the worker's personal_sign of the authorization hash",
    )?;
    let wa: WorkerpoolAuthorization = parse_json(&body, "WorkerpoolAuthorization JSON")?;
    let task_id = parse_b256(&wa.chain_task_id, "chainTaskId")?;
    tracing::Span::current().record("task_id", tracing::field::display(task_id));
    let worker = auth::parse_address(&wa.worker_wallet, "workerWallet")?;
    let enclave = auth::parse_address(&wa.enclave_challenge, "enclaveChallenge")?;
    auth::require_signer(
        worker_sig,
        auth::authorization_hash(Some(worker), task_id, Some(enclave)),
        worker,
        "the worker",
    )?;
    let (_, deal) = active_task(&s, task_id).await?;
    check_authorization(&s, task_id, &deal, worker, enclave, wa.signature.as_str()).await?;
    app_measurement(&s, &deal).await?;
    task_secrets(&s, &deal)?;
    let mut rng = rand::thread_rng();
    let prefix: String = (0..10)
        .map(|_| rng.sample(rand::distributions::Alphanumeric) as char)
        .collect();
    let session_id = format!("{prefix}0000{task_id}");
    s.store.create_session(
        &session_id,
        &format!("{task_id}"),
        &key_of(worker),
        crate::server::unix_now(),
    )?;
    tracing::info!(%worker, session_id, "TEE session created");
    Ok(Json(json!({ "data": {
        "sessionId": session_id,
        "secretProvisioningUrl": format!("{}/tee/sessions/{session_id}/secrets", s.public_url),
    }})))
}

/// The enclave's release request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReleaseRequest {
    /// The DCAP quote, hex.
    quote: String,
    /// The address of the enclave's session key (bound in the quote's report data).
    session_key: String,
    /// `personal_sign(release_challenge(sessionId))` by the session key.
    signature: String,
    /// Collateral JSON for the quote (Intel-signed, so it may come from the enclave); in `--dev`
    /// mode the dev PKI's is used when absent.
    #[serde(default)]
    collateral: Option<Value>,
}

fn quote_denial(e: TeeError) -> SmsError {
    let check = match &e {
        TeeError::DevRootRefused => "sim-quote-without-dev",
        TeeError::MeasurementMismatch { .. } => "wrong-measurement",
        TeeError::ReportDataMismatch { .. } => "quote-binding",
        TeeError::MalformedQuote(_) => "malformed-quote",
        _ => "quote-refused",
    };
    SmsError::denied(check, e.to_string())
}

/// `POST /tee/sessions/{sessionId}/secrets`: releases the task's secrets to an attested enclave.
#[tracing::instrument(skip_all, fields(task_id, session_id = %session_id))]
pub(crate) async fn release(
    AxState(s): AxState<State>,
    Path(session_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>> {
    let req: ReleaseRequest = parse_json(&body, "release request JSON")?;
    let (task, worker, created, used) = s
        .store
        .session(&session_id)?
        .ok_or_else(|| SmsError::NotFound(format!("no session {session_id}")))?;
    tracing::Span::current().record("task_id", tracing::field::display(&task));
    if used {
        return Err(SmsError::denied(
            "session-replayed",
            format!(
                "session {session_id} already released its secrets; the worker must open a new session"
            ),
        ));
    }
    let now = crate::server::unix_now();
    if now.saturating_sub(created) > s.session_ttl {
        return Err(SmsError::denied(
            "session-expired",
            format!(
                "session {session_id} expired {}s after creation (limit {}s)",
                now - created,
                s.session_ttl
            ),
        ));
    }
    let task_id = parse_b256(&task, "task id")?;
    // The chain may have moved since the session was opened (task completed, app changed owner).
    let (_, deal) = active_task(&s, task_id).await?;
    let measurement = app_measurement(&s, &deal).await?;
    let session_key = auth::parse_address(&req.session_key, "sessionKey")?;
    let holder = auth::recover(&req.signature, release_challenge(&session_id))?;
    if holder != session_key {
        return Err(SmsError::denied(
            "session-key-proof",
            format!(
                "the release is signed by {holder}, not by the session key {session_key} the quote must bind"
            ),
        ));
    }
    let quote = hex::decode(req.quote.trim().trim_start_matches("0x"))
        .map_err(|_| SmsError::BadRequest("quote is not hex".into()))?;
    let collateral = match (&req.collateral, &s.dev_pki) {
        (Some(c), _) => Collateral::from_json(c.to_string().as_bytes())
            .map_err(|e| SmsError::BadRequest(format!("collateral: {e}")))?,
        (None, Some(pki)) => pki.collateral(now.saturating_sub(3600)),
        (None, None) => {
            return Err(SmsError::BadRequest(
                "collateral is required (PCCS collateral JSON for the quote)".into(),
            ));
        }
    };
    let claims = s
        .verifier
        .verify_session(
            &Evidence::new(quote),
            &collateral,
            now,
            task_id.as_ref(),
            session_key.as_slice(),
            &[measurement],
        )
        .map_err(quote_denial)?;
    let challenge = challenge_key(&s, task_id)?
        .ok_or_else(|| SmsError::Store("enclave challenge vanished".into()))?;
    let (mut env, names) = task_secrets(&s, &deal)?;
    if !s.store.consume_session(&session_id)? {
        return Err(SmsError::denied(
            "session-replayed",
            format!("session {session_id} already released its secrets"),
        ));
    }
    let measurement = hex::encode(claims.measurements.primary());
    let entry = s.store.append_release(crate::log::Release {
        seq: 0,
        at: now,
        task_id: task.clone(),
        session_id: session_id.clone(),
        worker: worker.clone(),
        measurement: measurement.clone(),
        secrets: names,
        prev: B256::ZERO,
        hash: B256::ZERO,
    })?;
    env.insert("IEXEC_TASK_ID".into(), task.clone());
    env.insert("SIGN_WORKER_ADDRESS".into(), worker);
    env.insert(
        "SIGN_TEE_CHALLENGE_PRIVATE_KEY".into(),
        format!("0x{}", hex::encode(challenge.to_bytes())),
    );
    tracing::info!(log_seq = entry.seq, measurement, anchor = ?claims.trust_anchor, secrets = env.len(), "secrets released");
    Ok(Json(
        json!({ "taskId": task, "measurement": measurement, "environment": env }),
    ))
}
