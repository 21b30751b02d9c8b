//! The TEE flow (`iexec-protocol.md` §5.3, §7.2), with every refusal named:
//!
//! 1. `POST /tee/challenges/{taskId}` — the scheduler (workerpool owner) gets the task's enclave
//!    challenge address; the key is created once per task and stored sealed.
//! 2. `POST /tee/sessions` — a worker presents the scheduler's `WorkerpoolAuthorization`; after
//!    the on-chain checks (task, deal, app measurement, the dataset order's restrictions) the SMS
//!    opens a session pinned to the current version of each secret the task may see, and
//!    answers iExec's `{data: {sessionId, secretProvisioningUrl}}`.
//! 3. `POST /tee/sessions/{sessionId}/secrets` (Arca's provisioning step, in place of iExec's
//!    CAS/SPS) — the enclave proves with a quote that it runs the app's registered measurement
//!    and binds a session key it holds (report data = [`arca_tee::report_data::bind`] of the task
//!    id and the 20-byte address of that key; possession is shown by its `personal_sign` of
//!    [`release_challenge`]); the SMS then releases exactly the pinned secrets. The quote is
//!    verified once per session: later releases (one per enclave stage) are signed by the
//!    attested session key over an increasing counter ([`follow_up_challenge`]).

use crate::auth::{self, parse_b256};
use crate::chain::{DealView, TASK_STATUS, TaskView};
use crate::error::{Result, SmsError};
use crate::log::Released;
use crate::secrets::{APP_DEVELOPER_SECRET_INDEX, key_of};
use crate::server::State;
use crate::store::{Pin, SecretKind, Session};
use alloy::primitives::{Address, B256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use arca_tee::{Collateral, Evidence, TeeError};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
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

/// The environment variable(s) and secret a deal entitles its task to, each pinned to the
/// secret's current version; denies if one the deal needs is missing or revoked, so the worker
/// learns it before running anything.
fn pins(s: &State, deal: &DealView) -> Result<Vec<Pin>> {
    // (kind, owner, name, environment variables, the denial if it is missing — None: optional)
    type Wanted = (SecretKind, String, String, Vec<String>, Option<SmsError>);
    let mut wanted: Vec<Wanted> = Vec::new();
    if deal.dataset != Address::ZERO {
        wanted.push((
            SecretKind::Dataset,
            key_of(deal.dataset),
            String::new(),
            vec!["IEXEC_DATASET_KEY".into()],
            Some(SmsError::denied(
                "dataset-key-missing",
                format!(
                    "the owner of dataset {} has not pushed its key to this SMS",
                    deal.dataset
                ),
            )),
        ));
    }
    // optional: an app without a developer secret runs without one
    wanted.push((
        SecretKind::App,
        key_of(deal.app),
        APP_DEVELOPER_SECRET_INDEX.into(),
        vec![
            "IEXEC_APP_DEVELOPER_SECRET".into(),
            "IEXEC_APP_DEVELOPER_SECRET_1".into(),
        ],
        None,
    ));
    // Only the deal's own requester's namespace is looked up: a name cannot reach another
    // requester's secret.
    for (index, name) in requested_secrets(deal)? {
        let missing = SmsError::denied(
            "requester-secret-missing",
            format!(
                "the deal's requester {} has no secret `{name}` (asked as iexec_secrets[{index}])",
                deal.requester
            ),
        );
        wanted.push((
            SecretKind::Requester,
            key_of(deal.requester),
            name,
            vec![format!("IEXEC_REQUESTER_SECRET_{index}")],
            Some(missing),
        ));
    }
    if result_encryption(deal) {
        wanted.push((
            SecretKind::Web2,
            key_of(deal.beneficiary),
            RESULT_KEY_NAME.into(),
            vec!["RESULT_ENCRYPTION_PUBLIC_KEY".into()],
            Some(SmsError::denied(
                "result-key-missing",
                format!(
                    "the deal asks for result encryption but beneficiary {} pushed no `{RESULT_KEY_NAME}`",
                    deal.beneficiary
                ),
            )),
        ));
    }
    let mut out = Vec::with_capacity(wanted.len());
    for (kind, owner, name, env, missing) in wanted {
        let Some(meta) = s.store.meta(kind, &owner, &name)? else {
            match missing {
                Some(denial) => return Err(denial),
                None => continue,
            }
        };
        let pin = Pin {
            kind,
            owner,
            name,
            version: meta.version,
            env,
        };
        if let Some(r) = meta.revocation_of(meta.version) {
            return Err(revoked(&pin, r));
        }
        out.push(pin);
    }
    Ok(out)
}

/// The name iExec gives a beneficiary's result-encryption public key (web2 secret).
pub const RESULT_KEY_NAME: &str = "iexec-result-encryption-public-key";

/// The label of a secret in the release log and in denials: `kind:owner[:name]`.
pub fn label(kind: SecretKind, owner: &str, name: &str) -> String {
    if name.is_empty() {
        format!("{}:{owner}", kind.as_str())
    } else {
        format!("{}:{owner}:{name}", kind.as_str())
    }
}

fn revoked(pin: &Pin, r: &crate::store::Revocation) -> SmsError {
    SmsError::denied(
        "secret-revoked",
        format!(
            "secret {} version {} was revoked by {} at {} (unix {}); it is never released again",
            label(pin.kind, &pin.owner, &pin.name),
            pin.version,
            r.by,
            crate::server::rfc3339(r.at),
            r.at
        ),
    )
}

/// The pinned secrets' values as the stage environment (§4.2), and what the log records.
/// A revocation since the session opened is a denial.
fn pinned_env(
    s: &State,
    deal: &DealView,
    pins: &[Pin],
) -> Result<(BTreeMap<String, String>, Vec<Released>)> {
    let mut env = BTreeMap::new();
    let mut released = Vec::with_capacity(pins.len());
    for pin in pins {
        let meta = s.store.meta(pin.kind, &pin.owner, &pin.name)?;
        if let Some(r) = meta.as_ref().and_then(|m| m.revocation_of(pin.version)) {
            return Err(revoked(pin, r));
        }
        let value = s
            .store
            .get_version(pin.kind, &pin.owner, &pin.name, pin.version)?
            .ok_or_else(|| {
                SmsError::Store(format!(
                    "version {} of {} vanished",
                    pin.version,
                    label(pin.kind, &pin.owner, &pin.name)
                ))
            })?;
        let value = String::from_utf8_lossy(&value).into_owned();
        for name in &pin.env {
            env.insert(name.clone(), value.clone());
        }
        released.push(Released {
            secret: label(pin.kind, &pin.owner, &pin.name),
            version: pin.version,
        });
    }
    if result_encryption(deal) {
        env.insert("RESULT_ENCRYPTION".into(), "true".into());
    }
    Ok((env, released))
}

/// The deal's dataset order must still allow this task's app, workerpool and requester. The
/// hub enforced the restrictions when it matched the deal, but a restriction naming an ERC-734
/// group is evaluated again here: a member removed from the group since no longer receives the
/// dataset key. The order itself is read once per deal (it never changes).
async fn check_dataset_order(s: &State, deal_id: B256, deal: &DealView) -> Result<()> {
    if deal.dataset == Address::ZERO {
        return Ok(());
    }
    let cached = s
        .orders
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&deal_id)
        .cloned();
    let order = match cached {
        Some(order) => order,
        None => {
            let order = s.chain.dataset_order(deal_id, deal.start_time).await?;
            let mut orders = s.orders.lock().unwrap_or_else(|p| p.into_inner());
            // a bound on memory: orders are cheap to read again from the chain
            if orders.len() >= 100_000 {
                orders.clear();
            }
            orders.insert(deal_id, order.clone());
            order
        }
    };
    for (restriction, account, role, check) in [
        (order.apprestrict, deal.app, "app", "dataset-app-restricted"),
        (
            order.workerpoolrestrict,
            deal.workerpool,
            "workerpool",
            "dataset-workerpool-restricted",
        ),
        (
            order.requesterrestrict,
            deal.requester,
            "requester",
            "dataset-requester-restricted",
        ),
    ] {
        if !s.chain.restriction_allows(restriction, account).await? {
            return Err(SmsError::denied(
                check,
                format!(
                    "the dataset order of dataset {} restricts the {role} to {restriction}; this task's {role} is {account}{}",
                    deal.dataset,
                    if restriction == account {
                        ""
                    } else {
                        " (not that account, nor a member of that group)"
                    }
                ),
            ));
        }
    }
    Ok(())
}

/// What a task is entitled to, from the chain: its deal and its app's measurement.
#[derive(Debug, Clone)]
pub(crate) struct Entitlement {
    pub(crate) deal: DealView,
    pub(crate) measurement: String,
}

/// The task is ACTIVE, a TEE task of a TEE app, and the deal's dataset order allows it. With
/// `cached`, a result younger than the configured chain cache is reused (releases within a
/// session); session creation always reads the chain.
pub(crate) async fn entitlement(s: &State, task_id: B256, cached: bool) -> Result<Entitlement> {
    if cached
        && let Some((at, e)) = s
            .entitlements
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&task_id)
        && at.elapsed() < s.chain_cache
    {
        return Ok(e.clone());
    }
    let (task, deal) = active_task(s, task_id).await?;
    let measurement = app_measurement(s, &deal).await?;
    check_dataset_order(s, task.deal_id, &deal).await?;
    let e = Entitlement { deal, measurement };
    let mut cache = s.entitlements.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= 10_000 {
        let ttl = s.chain_cache;
        cache.retain(|_, (at, _)| at.elapsed() < ttl);
    }
    cache.insert(task_id, (std::time::Instant::now(), e.clone()));
    Ok(e)
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

/// `POST /tee/sessions`: opens a session for an authorized worker, pinning the current version
/// of every secret the task will receive.
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
    let entitled = entitlement(&s, task_id, false).await?;
    let pins = pins(&s, &entitled.deal)?;
    let mut rng = rand::thread_rng();
    let prefix: String = (0..10)
        .map(|_| rng.sample(rand::distributions::Alphanumeric) as char)
        .collect();
    let session_id = format!("{prefix}0000{task_id}");
    s.store.create_session(&Session {
        id: session_id.clone(),
        task_id: format!("{task_id}"),
        worker: key_of(worker),
        created: crate::server::unix_now(),
        pins,
        session_key: None,
        counter: 0,
    })?;
    tracing::info!(%worker, session_id, "TEE session created");
    Ok(Json(json!({ "data": {
        "sessionId": session_id,
        "secretProvisioningUrl": format!("{}/tee/sessions/{session_id}/secrets", s.public_url),
    }})))
}

/// The enclave's release request: the attested release carries `quote` (and `sessionKey`,
/// `collateral`); a follow-up release carries only `counter` and `signature`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReleaseRequest {
    /// The DCAP quote, hex (attested release only).
    #[serde(default)]
    quote: Option<String>,
    /// The address of the enclave's session key (bound in the quote's report data).
    #[serde(default)]
    session_key: Option<String>,
    /// Attested release: `personal_sign(release_challenge(sessionId))`; follow-up release:
    /// `personal_sign(follow_up_challenge(sessionId, counter))`; by the session key.
    signature: String,
    /// Follow-up release number, above the session's last one.
    #[serde(default)]
    counter: Option<u64>,
    /// Collateral JSON for the quote (Intel-signed, so it may come from the enclave); in `--dev`
    /// mode the dev PKI's is used when absent.
    #[serde(default)]
    collateral: Option<Value>,
}

/// The message a session key signs for follow-up release `counter` (≥ 1) of a session:
/// `keccak256("arca-sms/release/v1" ‖ sessionId ‖ u64_be(counter))`, EIP-191 signed.
pub fn follow_up_challenge(session_id: &str, counter: u64) -> B256 {
    keccak256(
        [
            b"arca-sms/release/v1".as_slice(),
            session_id.as_bytes(),
            &counter.to_be_bytes(),
        ]
        .concat(),
    )
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

/// What a follow-up release of an attested session serves, prepared once: the session, its
/// attested key and the environment of its pinned versions. Valid while no revocation happened
/// since (`epoch`); the decrypted values live in memory no longer than the session does.
#[derive(Debug)]
pub(crate) struct Prepared {
    session: Session,
    key: Address,
    epoch: u64,
    env_json: String,
    released: Vec<Released>,
}

fn expired(s: &State, session: &Session, now: u64) -> Result<()> {
    if now.saturating_sub(session.created) > s.session_ttl {
        return Err(SmsError::denied(
            "session-expired",
            format!(
                "session {} expired {}s after creation (limit {}s)",
                session.id,
                now - session.created,
                s.session_ttl
            ),
        ));
    }
    Ok(())
}

/// `POST /tee/sessions/{sessionId}/secrets`: releases the task's pinned secrets to the attested
/// enclave. The first release verifies the quote (which binds the session key); later ones
/// prove possession of that key with a signature over an increasing counter, so the quote is
/// verified once per session.
#[tracing::instrument(skip_all, fields(task_id, session_id = %session_id))]
pub(crate) async fn release(
    AxState(s): AxState<State>,
    Path(session_id): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let req: ReleaseRequest = parse_json(&body, "release request JSON")?;
    let now = crate::server::unix_now();
    match (&req.quote, req.counter) {
        (Some(_), Some(_)) => Err(SmsError::BadRequest(
            "a release carries either `quote` (the attested release) or `counter` (a follow-up), not both".into(),
        )),
        (Some(quote), None) => {
            let session = s
                .store
                .session(&session_id)?
                .ok_or_else(|| SmsError::NotFound(format!("no session {session_id}")))?;
            expired(&s, &session, now)?;
            attested_release(&s, session, quote, &req, now).await
        }
        (None, Some(counter)) => follow_up_release(&s, &session_id, counter, &req, now).await,
        (None, None) => Err(SmsError::BadRequest(
            "missing `quote` (the attested release) or `counter` (a follow-up release)".into(),
        )),
    }
}

async fn attested_release(
    s: &State,
    session: Session,
    quote: &str,
    req: &ReleaseRequest,
    now: u64,
) -> Result<Response> {
    let session_id = session.id.clone();
    let task_id = parse_b256(&session.task_id, "task id")?;
    if session.session_key.is_some() {
        return Err(SmsError::denied(
            "session-replayed",
            format!(
                "session {session_id} already released its secrets to an attested enclave; the worker must open a new session"
            ),
        ));
    }
    // The chain may have moved since the session was opened (task completed, group changed).
    let entitled = entitlement(s, task_id, false).await?;
    let session_key = auth::parse_address(
        req.session_key.as_deref().ok_or_else(|| {
            SmsError::BadRequest("missing `sessionKey` (the address the quote binds)".into())
        })?,
        "sessionKey",
    )?;
    let holder = auth::recover(&req.signature, release_challenge(&session_id))?;
    if holder != session_key {
        return Err(SmsError::denied(
            "session-key-proof",
            format!(
                "the release is signed by {holder}, not by the session key {session_key} the quote must bind"
            ),
        ));
    }
    let quote = hex::decode(quote.trim().trim_start_matches("0x"))
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
            &[&entitled.measurement],
        )
        .map_err(quote_denial)?;
    // Claim the session before reading any value: of two racing enclaves, one wins.
    if !s.store.attest_session(&session_id, &key_of(session_key))? {
        return Err(SmsError::denied(
            "session-replayed",
            format!("session {session_id} already released its secrets"),
        ));
    }
    let measurement = hex::encode(claims.measurements.primary());
    tracing::info!(task_id = %task_id, anchor = ?claims.trust_anchor, %session_key, "enclave attested");
    let mut session = session;
    session.session_key = Some(key_of(session_key));
    let prepared = prepare(s, session, session_key, &entitled.deal)?;
    let entry = s
        .store
        .append_release(log_entry(&prepared, &measurement, 0, now))?;
    let answer = answer(s, &prepared, &entry, &measurement);
    remember(s, prepared, now);
    Ok(answer)
}

/// Reads the pinned versions (denying a revoked one) and the enclave challenge key.
fn prepare(s: &State, session: Session, key: Address, deal: &DealView) -> Result<Prepared> {
    let epoch = s.store.revocation_epoch();
    let task_id = parse_b256(&session.task_id, "task id")?;
    // the raw key: deriving its address (a scalar multiplication) is not needed here
    let challenge = s
        .store
        .get(SecretKind::EnclaveChallenge, &format!("{task_id}"), "")?
        .ok_or_else(|| SmsError::Store("enclave challenge vanished".into()))?;
    let (mut env, released) = pinned_env(s, deal, &session.pins)?;
    env.insert("IEXEC_TASK_ID".into(), session.task_id.clone());
    env.insert("SIGN_WORKER_ADDRESS".into(), session.worker.clone());
    env.insert(
        "SIGN_TEE_CHALLENGE_PRIVATE_KEY".into(),
        format!("0x{}", hex::encode(challenge)),
    );
    let env_json = serde_json::to_string(&env)
        .map_err(|e| SmsError::Store(format!("serializing the environment: {e}")))?;
    Ok(Prepared {
        session,
        key,
        epoch,
        env_json,
        released,
    })
}

fn log_entry(p: &Prepared, measurement: &str, counter: u64, now: u64) -> crate::log::Release {
    crate::log::Release {
        seq: 0,
        at: now,
        task_id: p.session.task_id.clone(),
        session_id: p.session.id.clone(),
        counter,
        worker: p.session.worker.clone(),
        measurement: measurement.to_owned(),
        secrets: p.released.clone(),
        prev: B256::ZERO,
        hash: B256::ZERO,
        mac: B256::ZERO,
    }
}

/// `{"taskId", "measurement", "counter", "environment"}`, the environment serialized once per
/// prepared session (it is the bulk of the answer).
fn answer(s: &State, p: &Prepared, entry: &crate::log::Release, measurement: &str) -> Response {
    s.metrics.released(entry.secrets.len());
    tracing::debug!(
        log_seq = entry.seq,
        counter = entry.counter,
        "secrets released"
    );
    let body = format!(
        r#"{{"taskId":{},"measurement":{},"counter":{},"environment":{}}}"#,
        Value::from(p.session.task_id.as_str()),
        Value::from(measurement),
        entry.counter,
        p.env_json
    );
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

/// Keeps a prepared session for its follow-up releases; expired ones are dropped when the
/// cache grows.
fn remember(s: &State, prepared: Prepared, now: u64) {
    let mut cache = s.prepared.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= 50_000 {
        let ttl = s.session_ttl;
        cache.retain(|_, p| now.saturating_sub(p.session.created) <= ttl);
    }
    cache.insert(prepared.session.id.clone(), std::sync::Arc::new(prepared));
}

/// The follow-up release `counter` must be signed by the session key the enclave attested.
fn prove_key(session_id: &str, counter: u64, signature: &str, key: Address) -> Result<()> {
    let holder = auth::recover(signature, follow_up_challenge(session_id, counter))?;
    if holder != key {
        return Err(SmsError::denied(
            "session-key-proof",
            format!(
                "follow-up release {counter} is signed by {holder}, not by the session key {key} the enclave attested"
            ),
        ));
    }
    Ok(())
}

async fn follow_up_release(
    s: &State,
    session_id: &str,
    counter: u64,
    req: &ReleaseRequest,
    now: u64,
) -> Result<Response> {
    if req.session_key.is_some() || req.collateral.is_some() {
        return Err(SmsError::BadRequest(
            "a follow-up release carries only `counter` and `signature`".into(),
        ));
    }
    if counter == 0 {
        return Err(SmsError::BadRequest(
            "`counter` starts at 1 (0 is the attested release)".into(),
        ));
    }
    let epoch = s.store.revocation_epoch();
    let cached = s
        .prepared
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(session_id)
        .filter(|p| p.epoch == epoch)
        .cloned();
    let (prepared, deal) = match cached {
        Some(p) => (p, None),
        None => {
            let session = s
                .store
                .session(session_id)?
                .ok_or_else(|| SmsError::NotFound(format!("no session {session_id}")))?;
            let Some(key) = session.session_key.as_deref() else {
                return Err(SmsError::denied(
                    "session-not-attested",
                    format!(
                        "session {session_id} has no attested enclave yet: its first release must carry the quote"
                    ),
                ));
            };
            let key = auth::parse_address(key, "stored session key")?;
            expired(s, &session, now)?;
            // the key's proof comes before anything else is revealed about the session
            prove_key(session_id, counter, &req.signature, key)?;
            let task_id = parse_b256(&session.task_id, "task id")?;
            let entitled = entitlement(s, task_id, true).await?;
            let prepared = std::sync::Arc::new(prepare(s, session, key, &entitled.deal)?);
            (prepared, Some(entitled))
        }
    };
    let session = &prepared.session;
    tracing::Span::current().record("task_id", tracing::field::display(&session.task_id));
    if deal.is_none() {
        expired(s, session, now)?;
        prove_key(session_id, counter, &req.signature, prepared.key)?;
    }
    let entitled = match deal {
        Some(e) => e,
        None => entitlement(s, parse_b256(&session.task_id, "task id")?, true).await?,
    };
    let entry = s
        .store
        .follow_up_release(
            session_id,
            counter,
            log_entry(&prepared, &entitled.measurement, counter, now),
        )?
        .ok_or_else(|| {
            SmsError::denied(
                "session-replayed",
                format!(
                    "release {counter} of session {session_id} was already served, or a later one was (counters must increase)"
                ),
            )
        })?;
    let answer = answer(s, &prepared, &entry, &entitled.measurement);
    if s.prepared
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(session_id)
        .is_none_or(|p| p.epoch != prepared.epoch)
    {
        // first follow-up after a restart or a revocation elsewhere: keep it for the next ones
        if let Ok(p) = std::sync::Arc::try_unwrap(prepared) {
            remember(s, p, now);
        }
    }
    Ok(answer)
}
