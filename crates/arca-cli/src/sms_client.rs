//! The SDK side of the SMS secret API (iexec-protocol.md §5.1–5.2): existence checks (`HEAD`) and
//! pushes signed with the owner's `personal_sign` of the exact challenges `arca_sms::auth` verifies,
//! so `arca` pushes to Arca's SMS and to iExec's alike.

use alloy::primitives::Address;
use alloy::signers::{SignerSync, local::PrivateKeySigner};
use anyhow::{Context as _, bail};
use arca_sms::auth::{named_challenge, web3_challenge};
use reqwest::{Method, StatusCode};

/// The web2 secret name of a beneficiary's result-encryption public key.
pub(crate) const RESULT_KEY_SECRET: &str = "iexec-result-encryption-public-key";

/// A client of one SMS.
#[derive(Debug, Clone)]
pub(crate) struct SmsClient {
    http: reqwest::Client,
    base: String,
}

/// Hex `personal_sign` of a 32-byte challenge, as the SDK's `signer.signMessage(getBytes(challenge))`.
fn sign(signer: &PrivateKeySigner, challenge: alloy::primitives::B256) -> anyhow::Result<String> {
    let signature = signer
        .sign_message_sync(challenge.as_slice())
        .context("signing the SMS challenge")?;
    Ok(format!("0x{}", alloy::hex::encode(signature.as_bytes())))
}

impl SmsClient {
    pub(crate) fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("static client configuration"),
            base: base.trim_end_matches('/').to_string(),
        }
    }

    /// The SMS URL.
    pub(crate) fn url(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<(String, String)>,
    ) -> anyhow::Result<(StatusCode, String)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .query(query);
        if let Some((authorization, value)) = body {
            request = request
                .header("Authorization", authorization)
                .header("Content-Type", "text/plain")
                .body(value);
        }
        let response = request.send().await.with_context(|| {
            format!(
                "SMS at {} did not answer: start it (`arca sms`) or fix \"sms\" in chain.json",
                self.base
            )
        })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        Ok((status, text))
    }

    /// Whether the SMS is up (`GET /version`).
    pub(crate) async fn reachable(&self) -> anyhow::Result<()> {
        let (status, _) = self.send(Method::GET, "/version", &[], None).await?;
        if !status.is_success() {
            bail!(
                "SMS at {} answered {status} to GET /version: is this URL an SMS?",
                self.base
            );
        }
        Ok(())
    }

    async fn exists(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<bool> {
        let (status, text) = self.send(Method::HEAD, path, query, None).await?;
        match status {
            StatusCode::NO_CONTENT | StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            other => bail!("SMS {path} answered {other}: {text}"),
        }
    }

    /// Maps a push answer to a result; `what` names the secret in messages.
    fn pushed(what: &str, status: StatusCode, text: &str) -> anyhow::Result<()> {
        match status {
            s if s.is_success() => Ok(()),
            StatusCode::CONFLICT => bail!(
                "{what} already exists in the SMS and cannot be replaced{}",
                if what.contains("result encryption key") {
                    " without --force-update"
                } else {
                    ""
                }
            ),
            StatusCode::UNAUTHORIZED => {
                bail!("the SMS refused the push of {what}: {text} (use the owner's wallet)")
            }
            StatusCode::PAYLOAD_TOO_LARGE => {
                bail!("{what} is too large: the SMS accepts at most 4096 bytes")
            }
            other => bail!("the SMS refused the push of {what} ({other}): {text}"),
        }
    }

    /// `HEAD /secrets/web3?secretAddress=`: is the dataset key pushed?
    pub(crate) async fn dataset_secret_exists(&self, dataset: Address) -> anyhow::Result<bool> {
        self.exists("/secrets/web3", &[("secretAddress", dataset.to_string())])
            .await
    }

    /// `POST /secrets/web3`: pushes the dataset key (signed by the dataset owner).
    pub(crate) async fn push_dataset_secret(
        &self,
        signer: &PrivateKeySigner,
        dataset: Address,
        value: &str,
    ) -> anyhow::Result<()> {
        let authorization = sign(signer, web3_challenge(dataset, value.as_bytes()))?;
        let (status, text) = self
            .send(
                Method::POST,
                "/secrets/web3",
                &[("secretAddress", dataset.to_string())],
                Some((authorization, value.to_string())),
            )
            .await?;
        Self::pushed(&format!("the key of dataset {dataset}"), status, &text)
    }

    /// `HEAD /secrets/web2`: does `owner` have the web2 secret `name`?
    pub(crate) async fn web2_secret_exists(
        &self,
        owner: Address,
        name: &str,
    ) -> anyhow::Result<bool> {
        self.exists(
            "/secrets/web2",
            &[
                ("ownerAddress", owner.to_string()),
                ("secretName", name.to_string()),
            ],
        )
        .await
    }

    /// `POST` (or `PUT` when `update`) `/secrets/web2`: the signer's web2 secret `name`.
    pub(crate) async fn push_web2_secret(
        &self,
        signer: &PrivateKeySigner,
        name: &str,
        value: &str,
        update: bool,
    ) -> anyhow::Result<()> {
        let owner = signer.address();
        let authorization = sign(signer, named_challenge(owner, name, value.as_bytes()))?;
        let method = if update { Method::PUT } else { Method::POST };
        let (status, text) = self
            .send(
                method,
                "/secrets/web2",
                &[
                    ("ownerAddress", owner.to_string()),
                    ("secretName", name.to_string()),
                ],
                Some((authorization, value.to_string())),
            )
            .await?;
        let what = if name == RESULT_KEY_SECRET {
            format!("the result encryption key of {owner}")
        } else {
            format!("web2 secret \"{name}\" of {owner}")
        };
        Self::pushed(&what, status, &text)
    }

    /// `HEAD /requesters/{requester}/secrets/{name}`.
    pub(crate) async fn requester_secret_exists(
        &self,
        requester: Address,
        name: &str,
    ) -> anyhow::Result<bool> {
        self.exists(&format!("/requesters/{requester:#x}/secrets/{name}"), &[])
            .await
    }

    /// `POST /requesters/{requester}/secrets/{name}` (signed by the requester).
    pub(crate) async fn push_requester_secret(
        &self,
        signer: &PrivateKeySigner,
        name: &str,
        value: &str,
    ) -> anyhow::Result<()> {
        let requester = signer.address();
        let authorization = sign(signer, named_challenge(requester, name, value.as_bytes()))?;
        let (status, text) = self
            .send(
                Method::POST,
                &format!("/requesters/{requester:#x}/secrets/{name}"),
                &[],
                Some((authorization, value.to_string())),
            )
            .await?;
        Self::pushed(
            &format!("requester secret \"{name}\" of {requester}"),
            status,
            &text,
        )
    }

    /// `HEAD /apps/{app}/secrets`.
    pub(crate) async fn app_secret_exists(&self, app: Address) -> anyhow::Result<bool> {
        self.exists(&format!("/apps/{app:#x}/secrets"), &[]).await
    }

    /// `POST /apps/{app}/secrets` (signed by the app owner; the secret's name is iExec's index "1").
    pub(crate) async fn push_app_secret(
        &self,
        signer: &PrivateKeySigner,
        app: Address,
        value: &str,
    ) -> anyhow::Result<()> {
        let authorization = sign(signer, named_challenge(app, "1", value.as_bytes()))?;
        let (status, text) = self
            .send(
                Method::POST,
                &format!("/apps/{app:#x}/secrets"),
                &[],
                Some((authorization, value.to_string())),
            )
            .await?;
        Self::pushed(&format!("the developer secret of app {app}"), status, &text)
    }
}

/// Requester secret names as the SMS accepts them (`^[\p{Alnum}-_]{1,64}$`), checked before any request.
pub(crate) fn check_secret_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
    if !ok {
        bail!("\"{name}\" is not a valid secret name: use 1 to 64 letters, digits, '-' or '_'");
    }
    Ok(())
}
