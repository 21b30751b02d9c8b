//! Arca's owner operations beyond iExec, authenticated like pushes (an EIP-191 signature in
//! `Authorization`, challenges in [`crate::auth::owner_challenge`]):
//!
//! - `GET /secrets/info?kind=&address=&name=` — version and revocation (public, like `HEAD`).
//! - `POST /secrets/rotate?kind=&address=&name=` — body = the new value: a new version, served
//!   to sessions opened from now on (open sessions keep the version they pinned).
//! - `POST /secrets/revoke?kind=&address=&name=&version=` — no version up to `version` (the
//!   current one) is ever released again; a later rotation makes a new, releasable version.
//! - `GET /secrets/log?kind=&address=&name=&at=` — the releases of the owner's secret(s) and the
//!   verdict of recomputing the whole log's hash chain (`name` empty: every secret of `address`
//!   of that kind).
//! - `GET /releases/verify` — the log's length, head and verdict (no entry content).
//!
//! `kind` is `dataset`, `app`, `requester` or `web2`; `address` the dataset, the app, the
//! requester or the web2 owner; the signer must be the dataset's or app's on-chain owner, or the
//! address itself.

use crate::auth::{self, parse_address};
use crate::error::{Result, SmsError};
use crate::log::{Release, Tamper};
use crate::secrets::{APP_DEVELOPER_SECRET_INDEX, check_secret_key, key_of};
use crate::server::{State, unix_now};
use crate::store::SecretKind;
use crate::tee::label;
use alloy::primitives::{Address, B256};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State as AxState};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;

/// How far a log query's `at` may be from the SMS's clock, in seconds.
pub const LOG_QUERY_WINDOW: u64 = 300;

type Q = Query<HashMap<String, String>>;

fn param<'a>(q: &'a HashMap<String, String>, name: &str) -> Result<&'a str> {
    q.get(name)
        .map(String::as_str)
        .ok_or_else(|| SmsError::BadRequest(format!("missing query parameter `{name}`")))
}

fn authorization<'a>(headers: &'a HeaderMap, what: &str) -> Result<&'a str> {
    headers
        .get("authorization")
        .ok_or_else(|| {
            SmsError::Unauthorized(format!(
                "missing `Authorization` header (the owner's personal_sign of the {what} challenge)"
            ))
        })?
        .to_str()
        .map_err(|_| SmsError::Unauthorized("the `Authorization` header is not text".into()))
}

/// The addressed secret: kind, address and name, validated as the push endpoints do. With
/// `any_name`, an absent or empty name stands for every secret of the address.
fn target(q: &HashMap<String, String>, any_name: bool) -> Result<(SecretKind, Address, String)> {
    let kind = SecretKind::parse_managed(param(q, "kind")?)?;
    let address = parse_address(param(q, "address")?, "address")?;
    let name = q.get("name").cloned().unwrap_or_default();
    if any_name && name.is_empty() {
        return Ok((kind, address, name));
    }
    match kind {
        SecretKind::Dataset if !name.is_empty() => {
            return Err(SmsError::BadRequest(
                "a dataset has one key: leave `name` out".into(),
            ));
        }
        SecretKind::App if !name.is_empty() && name != APP_DEVELOPER_SECRET_INDEX => {
            return Err(SmsError::BadRequest(format!(
                "an app has one developer secret, named `{APP_DEVELOPER_SECRET_INDEX}`; got `{name}`"
            )));
        }
        SecretKind::App => return Ok((kind, address, APP_DEVELOPER_SECRET_INDEX.into())),
        SecretKind::Requester => check_secret_key(&name)?,
        SecretKind::Web2 if name.is_empty() || name.len() > 256 => {
            return Err(SmsError::BadRequest(
                "`name` must have 1 to 256 characters for a web2 secret".into(),
            ));
        }
        _ => {}
    }
    Ok((kind, address, name))
}

/// Who may manage the secrets of `address`: the on-chain owner of a dataset or app, else the
/// address itself.
async fn owner_of(
    s: &State,
    kind: SecretKind,
    address: Address,
) -> Result<(Address, &'static str)> {
    match kind {
        SecretKind::Dataset => Ok((
            s.chain.dataset_owner(address).await?.ok_or_else(|| {
                SmsError::NotFound(format!("{address} is not a dataset registered on this hub"))
            })?,
            "the dataset owner",
        )),
        SecretKind::App => Ok((
            s.chain
                .app(address)
                .await?
                .ok_or_else(|| {
                    SmsError::NotFound(format!("{address} is not an app registered on this hub"))
                })?
                .0,
            "the app owner",
        )),
        _ => Ok((address, "the owner")),
    }
}

fn not_found(kind: SecretKind, address: Address, name: &str) -> SmsError {
    SmsError::NotFound(format!("no secret {}", label(kind, &key_of(address), name)))
}

/// `GET /secrets/info`.
pub(crate) async fn info(AxState(s): AxState<State>, Query(q): Q) -> Result<Json<Value>> {
    let (kind, address, name) = target(&q, false)?;
    let meta = s
        .store
        .meta(kind, &key_of(address), &name)?
        .ok_or_else(|| not_found(kind, address, &name))?;
    Ok(Json(json!({
        "secret": label(kind, &key_of(address), &name),
        "version": meta.version,
        "created": meta.created,
        "updated": meta.updated,
        "revoked": meta.revoked,
        "currentRevoked": meta.revocation_of(meta.version).is_some(),
    })))
}

/// `POST /secrets/rotate`.
#[tracing::instrument(skip_all)]
pub(crate) async fn rotate(
    AxState(s): AxState<State>,
    Query(q): Q,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>> {
    let (kind, address, name) = target(&q, false)?;
    let signature = authorization(&headers, "rotate")?;
    let value = crate::secrets::value(&body)?;
    let key = key_of(address);
    let meta = s
        .store
        .meta(kind, &key, &name)?
        .ok_or_else(|| not_found(kind, address, &name))?;
    let version = meta.version + 1;
    let (owner, who) = owner_of(&s, kind, address).await?;
    auth::require_signer(
        signature,
        auth::rotate_challenge(kind.as_str(), address, &name, version, value),
        owner,
        who,
    )?;
    let version = s
        .store
        .rotate(kind, &key, &name, value, &key_of(owner), Some(version))?;
    tracing::info!(secret = label(kind, &key, &name), version, "secret rotated");
    Ok(Json(
        json!({ "secret": label(kind, &key, &name), "version": version }),
    ))
}

/// `POST /secrets/revoke`.
#[tracing::instrument(skip_all)]
pub(crate) async fn revoke(
    AxState(s): AxState<State>,
    Query(q): Q,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    let (kind, address, name) = target(&q, false)?;
    let version: u64 = param(&q, "version")?.parse().map_err(|_| {
        SmsError::BadRequest("`version` must be the secret's current version number".into())
    })?;
    let signature = authorization(&headers, "revoke")?;
    let key = key_of(address);
    if s.store.meta(kind, &key, &name)?.is_none() {
        return Err(not_found(kind, address, &name));
    }
    let (owner, who) = owner_of(&s, kind, address).await?;
    auth::require_signer(
        signature,
        auth::revoke_challenge(kind.as_str(), address, &name, version),
        owner,
        who,
    )?;
    let revocation = s
        .store
        .revoke(kind, &key, &name, version, &key_of(owner), unix_now())?;
    tracing::info!(secret = label(kind, &key, &name), version, "secret revoked");
    Ok(Json(
        json!({ "secret": label(kind, &key, &name), "revoked": revocation }),
    ))
}

/// One release as its owner sees it: only the owner's secrets are listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerRelease {
    /// Position in the log.
    pub seq: u64,
    /// Unix seconds.
    pub at: u64,
    /// The task.
    pub task_id: String,
    /// The session.
    pub session_id: String,
    /// The release's number within the session.
    pub counter: u64,
    /// The worker.
    pub worker: String,
    /// The enclave measurement.
    pub measurement: String,
    /// The owner's secrets released, with their versions.
    pub secrets: Vec<crate::log::Released>,
    /// The entry's hash in the chain.
    pub hash: B256,
}

/// The verdict on the whole log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStatus {
    /// Entries in the log.
    pub length: u64,
    /// The last entry's hash (zero when empty).
    pub head: B256,
    /// Whether the chain and every MAC recompute.
    pub verified: bool,
    /// The first inconsistent entry, if any.
    pub tampered: Option<Tamper>,
}

fn status(entries: &[Release], verdict: std::result::Result<(), Tamper>) -> LogStatus {
    LogStatus {
        length: entries.last().map_or(0, |e| e.seq),
        head: entries.last().map_or(B256::ZERO, |e| e.hash),
        verified: verdict.is_ok(),
        tampered: verdict.err(),
    }
}

/// `GET /secrets/log`.
#[tracing::instrument(skip_all)]
pub(crate) async fn log(
    AxState(s): AxState<State>,
    Query(q): Q,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    let (kind, address, name) = target(&q, true)?;
    let at: u64 = param(&q, "at")?.parse().map_err(|_| {
        SmsError::BadRequest("`at` must be the request's unix time in seconds".into())
    })?;
    let now = unix_now();
    if now.abs_diff(at) > LOG_QUERY_WINDOW {
        return Err(SmsError::Unauthorized(format!(
            "`at` = {at} is {}s away from the SMS clock ({now}); sign a fresh query (window ±{LOG_QUERY_WINDOW}s)",
            now.abs_diff(at)
        )));
    }
    let signature = authorization(&headers, "release-log")?;
    let (owner, who) = owner_of(&s, kind, address).await?;
    auth::require_signer(
        signature,
        auth::log_challenge(kind.as_str(), address, &name, at),
        owner,
        who,
    )?;
    let key = key_of(address);
    let prefix = label(kind, &key, &name);
    let wanted = |secret: &str| {
        secret == prefix || (name.is_empty() && secret.starts_with(&format!("{prefix}:")))
    };
    let (entries, verdict) = s.store.verify_log()?;
    let mine: Vec<OwnerRelease> = entries
        .iter()
        .filter_map(|e| {
            let secrets: Vec<_> = e
                .secrets
                .iter()
                .filter(|r| wanted(&r.secret))
                .cloned()
                .collect();
            (!secrets.is_empty()).then(|| OwnerRelease {
                seq: e.seq,
                at: e.at,
                task_id: e.task_id.clone(),
                session_id: e.session_id.clone(),
                counter: e.counter,
                worker: e.worker.clone(),
                measurement: e.measurement.clone(),
                secrets,
                hash: e.hash,
            })
        })
        .collect();
    Ok(Json(json!({
        "secret": prefix,
        "entries": mine,
        "log": status(&entries, verdict),
    })))
}

/// `GET /releases/verify`.
pub(crate) async fn verify(AxState(s): AxState<State>) -> Result<Json<LogStatus>> {
    let (entries, verdict) = s.store.verify_log()?;
    if let Err(t) = &verdict {
        tracing::error!(
            seq = t.seq,
            reason = t.reason,
            "the release log does not verify"
        );
    }
    Ok(Json(status(&entries, verdict)))
}
