//! The iExec-compatible secret endpoints (`iexec-protocol.md` §5.1): push (POST), update (PUT,
//! web2 only) and existence checks (HEAD), each authenticated by the owner's `personal_sign` of
//! the §5.2 challenge. Owners of datasets and apps are read on chain at each push.

use crate::auth::{self, parse_address};
use crate::error::{Result, SmsError};
use crate::server::State;
use crate::store::SecretKind;
use alloy::primitives::Address;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use std::collections::HashMap;

/// iExec's `SecretUtils.SECRET_MAX_SIZE`: larger values are refused with 413.
pub const SECRET_MAX_SIZE: usize = 4096;
/// The index iExec gives the (single) app developer secret.
pub const APP_DEVELOPER_SECRET_INDEX: &str = "1";

type Query_ = Query<HashMap<String, String>>;

/// Lower-case hex, the form iExec stores addresses under.
pub(crate) fn key_of(address: Address) -> String {
    format!("{address:#x}")
}

fn param<'a>(q: &'a HashMap<String, String>, name: &str) -> Result<&'a str> {
    q.get(name)
        .map(String::as_str)
        .ok_or_else(|| SmsError::BadRequest(format!("missing query parameter `{name}`")))
}

fn authorization(headers: &HeaderMap) -> Result<&str> {
    let value = headers.get("authorization").ok_or_else(|| {
        SmsError::Unauthorized(
            "missing `Authorization` header (the owner's personal_sign of the push challenge)"
                .into(),
        )
    })?;
    value
        .to_str()
        .map_err(|_| SmsError::Unauthorized("the `Authorization` header is not text".into()))
}

pub(crate) fn value(body: &Bytes) -> Result<&[u8]> {
    if body.len() > SECRET_MAX_SIZE {
        return Err(SmsError::TooLarge(format!(
            "the secret has {} bytes; the limit is {SECRET_MAX_SIZE}",
            body.len()
        )));
    }
    if body.is_empty() {
        return Err(SmsError::BadRequest("the secret is empty".into()));
    }
    std::str::from_utf8(body)
        .map_err(|_| SmsError::BadRequest("the secret is not UTF-8 text".into()))?;
    Ok(body)
}

fn exists(found: bool, what: impl FnOnce() -> String) -> Result<StatusCode> {
    if found {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(SmsError::NotFound(what()))
    }
}

fn created(inserted: bool, what: impl FnOnce() -> String) -> Result<StatusCode> {
    if inserted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(SmsError::Conflict(what()))
    }
}

/// Requester secret keys: iExec's `^[\p{Alnum}-_]{1,64}$`.
pub fn check_secret_key(key: &str) -> Result<()> {
    let ok = (1..=64).contains(&key.chars().count())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(SmsError::BadRequest(format!(
            "secret key `{key}` is invalid: 1 to 64 letters, digits, `-` or `_`"
        )))
    }
}

// ---------------------------------------------------------------- web3 (dataset keys)

pub(crate) async fn web3_exists(
    AxState(s): AxState<State>,
    Query(q): Query_,
) -> Result<StatusCode> {
    let dataset = parse_address(param(&q, "secretAddress")?, "secretAddress")?;
    exists(
        s.store.exists(SecretKind::Dataset, &key_of(dataset), "")?,
        || format!("no key for dataset {dataset}"),
    )
}

pub(crate) async fn web3_push(
    AxState(s): AxState<State>,
    Query(q): Query_,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let dataset = parse_address(param(&q, "secretAddress")?, "secretAddress")?;
    let signature = authorization(&headers)?;
    let value = value(&body)?;
    let owner = s.chain.dataset_owner(dataset).await?.ok_or_else(|| {
        SmsError::NotFound(format!("{dataset} is not a dataset registered on this hub"))
    })?;
    auth::require_signer(
        signature,
        auth::web3_challenge(dataset, value),
        owner,
        "the dataset owner",
    )?;
    let inserted = s
        .store
        .insert(SecretKind::Dataset, &key_of(dataset), "", value)?;
    tracing::info!(%dataset, inserted, "dataset key push");
    created(inserted, || {
        format!("dataset {dataset} already has a key (dataset keys are not updatable)")
    })
}

// ---------------------------------------------------------------- web2 (account secrets)

fn web2_target(q: &HashMap<String, String>) -> Result<(Address, String)> {
    let owner = parse_address(param(q, "ownerAddress")?, "ownerAddress")?;
    let name = param(q, "secretName")?;
    if name.is_empty() || name.len() > 256 {
        return Err(SmsError::BadRequest(
            "secretName must have 1 to 256 characters".into(),
        ));
    }
    Ok((owner, name.to_owned()))
}

pub(crate) async fn web2_exists(
    AxState(s): AxState<State>,
    Query(q): Query_,
) -> Result<StatusCode> {
    let (owner, name) = web2_target(&q)?;
    exists(
        s.store.exists(SecretKind::Web2, &key_of(owner), &name)?,
        || format!("{owner} has no secret named `{name}`"),
    )
}

async fn web2_write(
    s: State,
    q: HashMap<String, String>,
    headers: HeaderMap,
    body: Bytes,
    update: bool,
) -> Result<StatusCode> {
    let (owner, name) = web2_target(&q)?;
    let signature = authorization(&headers)?;
    let value = value(&body)?;
    auth::require_signer(
        signature,
        auth::named_challenge(owner, &name, value),
        owner,
        "the owner",
    )?;
    let key = key_of(owner);
    if update {
        let updated = s.store.update(SecretKind::Web2, &key, &name, value)?;
        tracing::info!(%owner, name, updated, "web2 secret update");
        exists(updated, || {
            format!("{owner} has no secret named `{name}` to update; create it with POST")
        })
    } else {
        let inserted = s.store.insert(SecretKind::Web2, &key, &name, value)?;
        tracing::info!(%owner, name, inserted, "web2 secret push");
        created(inserted, || {
            format!("{owner} already has a secret named `{name}`; update it with PUT")
        })
    }
}

pub(crate) async fn web2_push(
    AxState(s): AxState<State>,
    Query(q): Query_,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    web2_write(s, q, headers, body, false).await
}

pub(crate) async fn web2_update(
    AxState(s): AxState<State>,
    Query(q): Query_,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    web2_write(s, q, headers, body, true).await
}

// ---------------------------------------------------------------- app developer secret

pub(crate) async fn app_exists(
    AxState(s): AxState<State>,
    Path(app): Path<String>,
) -> Result<StatusCode> {
    let app = parse_address(&app, "app")?;
    exists(
        s.store
            .exists(SecretKind::App, &key_of(app), APP_DEVELOPER_SECRET_INDEX)?,
        || "Secret not found".to_owned(),
    )
}

pub(crate) async fn app_push(
    AxState(s): AxState<State>,
    Path(app): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let app = parse_address(&app, "app")?;
    let signature = authorization(&headers)?;
    let value = value(&body)?;
    let (owner, _) =
        s.chain.app(app).await?.ok_or_else(|| {
            SmsError::NotFound(format!("{app} is not an app registered on this hub"))
        })?;
    auth::require_signer(
        signature,
        auth::named_challenge(app, APP_DEVELOPER_SECRET_INDEX, value),
        owner,
        "the app owner",
    )?;
    let inserted = s.store.insert(
        SecretKind::App,
        &key_of(app),
        APP_DEVELOPER_SECRET_INDEX,
        value,
    )?;
    tracing::info!(%app, inserted, "app developer secret push");
    created(inserted, || {
        format!("app {app} already has a developer secret")
    })
}

// ---------------------------------------------------------------- requester secrets

pub(crate) async fn requester_exists(
    AxState(s): AxState<State>,
    Path((requester, key)): Path<(String, String)>,
) -> Result<StatusCode> {
    let requester = parse_address(&requester, "requester")?;
    check_secret_key(&key)?;
    exists(
        s.store
            .exists(SecretKind::Requester, &key_of(requester), &key)?,
        || format!("requester {requester} has no secret `{key}`"),
    )
}

pub(crate) async fn requester_push(
    AxState(s): AxState<State>,
    Path((requester, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let requester = parse_address(&requester, "requester")?;
    check_secret_key(&key)?;
    let signature = authorization(&headers)?;
    let value = value(&body)?;
    auth::require_signer(
        signature,
        auth::named_challenge(requester, &key, value),
        requester,
        "the requester",
    )?;
    let inserted = s
        .store
        .insert(SecretKind::Requester, &key_of(requester), &key, value)?;
    tracing::info!(%requester, key, inserted, "requester secret push");
    created(inserted, || {
        format!("requester {requester} already has a secret `{key}` (not updatable)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requester_secret_keys_follow_iexecs_pattern() {
        for ok in ["a", "my-key_1", &"x".repeat(64)] {
            check_secret_key(ok).unwrap();
        }
        for bad in ["", "a b", "a/b", "é€!", &"x".repeat(65)] {
            assert!(check_secret_key(bad).is_err(), "{bad}");
        }
    }
}
