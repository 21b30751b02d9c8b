//! A typed client of the owner operations ([`crate::manage`]), for the CLI
//! (`arca dataset secret-log`, `arca requester secret-log`, `… secret rotate|revoke`) and tests:
//! it reads the current version, signs the right challenge with the owner's key and decodes the
//! answer. Errors carry the SMS's own message.

use crate::auth::{log_challenge, revoke_challenge, rotate_challenge};
use crate::error::{Result, SmsError};
use crate::manage::{LogStatus, OwnerRelease};
use crate::store::{Revocation, SecretKind};
use alloy::primitives::Address;
use alloy::signers::SignerSync;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Which secret: its kind, address (dataset, app, requester or web2 owner) and name (`""` for a
/// dataset key; `"1"` for the app developer secret; in a log query, `""` = all of the address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretId {
    /// The kind.
    pub kind: SecretKind,
    /// The address the secret belongs to.
    pub address: Address,
    /// The name.
    pub name: String,
}

impl SecretId {
    /// A dataset's key.
    pub fn dataset(dataset: Address) -> Self {
        SecretId {
            kind: SecretKind::Dataset,
            address: dataset,
            name: String::new(),
        }
    }

    /// A requester's named secret (`""` in a log query: all of them).
    pub fn requester(requester: Address, name: &str) -> Self {
        SecretId {
            kind: SecretKind::Requester,
            address: requester,
            name: name.to_owned(),
        }
    }

    /// An app's developer secret.
    pub fn app(app: Address) -> Self {
        SecretId {
            kind: SecretKind::App,
            address: app,
            name: crate::secrets::APP_DEVELOPER_SECRET_INDEX.to_owned(),
        }
    }

    /// A web2 secret of an account (e.g. its result-encryption public key).
    pub fn web2(owner: Address, name: &str) -> Self {
        SecretId {
            kind: SecretKind::Web2,
            address: owner,
            name: name.to_owned(),
        }
    }

    fn query(&self) -> String {
        format!(
            "kind={}&address={:#x}&name={}",
            self.kind.as_str(),
            self.address,
            encode(&self.name)
        )
    }
}

/// Percent-encodes a query value (names are `[A-Za-z0-9_-]` for requesters, free text for web2).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /secrets/info`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretInfo {
    /// The secret's label.
    pub secret: String,
    /// Current version.
    pub version: u64,
    /// Unix seconds of the first push.
    pub created: u64,
    /// Unix seconds of the current version.
    pub updated: u64,
    /// The latest revocation.
    pub revoked: Option<Revocation>,
    /// Whether the current version is revoked.
    pub current_revoked: bool,
}

/// `GET /secrets/log`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SecretLog {
    /// The label (prefix) queried.
    pub secret: String,
    /// The releases of the owner's secret(s).
    pub entries: Vec<OwnerRelease>,
    /// The verdict on the whole log.
    pub log: LogStatus,
}

#[derive(Deserialize)]
struct Rotated {
    version: u64,
}

#[derive(Deserialize)]
struct Revoked {
    revoked: Revocation,
}

/// A client of one SMS.
#[derive(Debug, Clone)]
pub struct SmsClient {
    base: String,
    http: reqwest::Client,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn sign(signer: &dyn SignerSync, challenge: alloy::primitives::B256) -> Result<String> {
    let sig = signer
        .sign_message_sync(challenge.as_slice())
        .map_err(|e| SmsError::Unauthorized(format!("signing the challenge: {e}")))?;
    Ok(format!("0x{}", hex::encode(sig.as_bytes())))
}

impl SmsClient {
    /// A client of the SMS at `base` (e.g. `http://127.0.0.1:13300`).
    pub fn new(base: &str) -> Self {
        SmsClient {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T> {
        let resp = req.send().await.map_err(|e| {
            SmsError::Chain(format!("the SMS at {} does not answer: {e}", self.base))
        })?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| SmsError::Chain(format!("reading the SMS answer: {e}")))?;
        if !status.is_success() {
            // the SMS answers {"error": ["<message>"]}; keep its words
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"][0].as_str().map(str::to_owned))
                .unwrap_or(text);
            return Err(match status.as_u16() {
                400 => SmsError::BadRequest(message),
                401 => SmsError::Unauthorized(message),
                404 => SmsError::NotFound(message),
                409 => SmsError::Conflict(message),
                413 => SmsError::TooLarge(message),
                _ => SmsError::Store(format!("SMS answered {status}: {message}")),
            });
        }
        serde_json::from_str(&text)
            .map_err(|e| SmsError::BadRequest(format!("unexpected SMS answer ({e}): {text}")))
    }

    /// The secret's current version and revocation.
    pub async fn info(&self, id: &SecretId) -> Result<SecretInfo> {
        self.send(
            self.http
                .get(format!("{}/secrets/info?{}", self.base, id.query())),
        )
        .await
    }

    /// Pushes `value` as the secret's next version, signed by `owner`; returns the version.
    pub async fn rotate(&self, owner: &dyn SignerSync, id: &SecretId, value: &str) -> Result<u64> {
        let next = self.info(id).await?.version + 1;
        let challenge = rotate_challenge(
            id.kind.as_str(),
            id.address,
            &id.name,
            next,
            value.as_bytes(),
        );
        let r: Rotated = self
            .send(
                self.http
                    .post(format!("{}/secrets/rotate?{}", self.base, id.query()))
                    .header("authorization", sign(owner, challenge)?)
                    .body(value.to_owned()),
            )
            .await?;
        Ok(r.version)
    }

    /// Revokes every version of the secret up to the current one, signed by `owner`.
    pub async fn revoke(&self, owner: &dyn SignerSync, id: &SecretId) -> Result<Revocation> {
        let version = self.info(id).await?.version;
        let challenge = revoke_challenge(id.kind.as_str(), id.address, &id.name, version);
        let r: Revoked = self
            .send(
                self.http
                    .post(format!(
                        "{}/secrets/revoke?{}&version={version}",
                        self.base,
                        id.query()
                    ))
                    .header("authorization", sign(owner, challenge)?),
            )
            .await?;
        Ok(r.revoked)
    }

    /// The releases of the secret(s) and the verdict on the whole log, signed by `owner`.
    pub async fn release_log(&self, owner: &dyn SignerSync, id: &SecretId) -> Result<SecretLog> {
        let at = unix_now();
        let challenge = log_challenge(id.kind.as_str(), id.address, &id.name, at);
        self.send(
            self.http
                .get(format!("{}/secrets/log?{}&at={at}", self.base, id.query()))
                .header("authorization", sign(owner, challenge)?),
        )
        .await
    }

    /// The whole log's length, head and verdict (no authentication; no content).
    pub async fn verify_log(&self) -> Result<LogStatus> {
        self.send(self.http.get(format!("{}/releases/verify", self.base)))
            .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(super::encode("my-key_1"), "my-key_1");
        assert_eq!(super::encode("a b&c=é"), "a%20b%26c%3D%C3%A9");
    }
}
