//! The typed HTTP client of a scheduler: the worker protocol (it implements
//! [`arca_worker::agent::SchedulerApi`], so an agent talks to a scheduler through it) and the
//! public task API used by the CLI (`task show`, `task debug --logs`).

use alloy::primitives::{Address, B256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolStruct, eip712_domain};
use arca_worker::agent::{ApiError, BoxFuture, NextAction, SchedulerApi, StatusReport, WorkerInfo};
use arca_worker::task::ReplicateSpec;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::{LoginAnswer, LoginRequest, TaskLogs, TaskView};

mod typed {
    alloy::sol! { struct Challenge { string challenge; } }
}

/// A scheduler client.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

fn unavailable(e: reqwest::Error) -> ApiError {
    ApiError::Unavailable(e.to_string())
}

/// Maps a non-success answer to [`ApiError`] with the scheduler's message.
async fn check(response: reqwest::Response) -> Result<reqwest::Response, ApiError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
        .unwrap_or(body);
    Err(match status {
        StatusCode::UNAUTHORIZED => ApiError::Unauthorized(message),
        s if s.is_server_error() => ApiError::Unavailable(format!("HTTP {s}: {message}")),
        s => ApiError::Refused {
            status: s.as_u16(),
            message,
        },
    })
}

async fn json<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ApiError> {
    check(response)
        .await?
        .json()
        .await
        .map_err(|e| ApiError::Unavailable(format!("unexpected answer: {e}")))
}

impl Client {
    /// A client of the scheduler at `base` (`http://host:port`).
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.into().trim_end_matches('/').to_string(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /tasks/{taskId}`.
    pub async fn task(&self, task_id: B256) -> Result<TaskView, ApiError> {
        json(
            self.http
                .get(self.url(&format!("/tasks/{task_id}")))
                .send()
                .await
                .map_err(unavailable)?,
        )
        .await
    }

    /// The requester's view of the app's logs: gets a challenge, signs it (EIP-712, domain
    /// `iExec Core`/`1`/`chain_id`) and reads `GET /tasks/{taskId}/logs`.
    pub async fn logs(
        &self,
        task_id: B256,
        signer: &PrivateKeySigner,
        chain_id: u64,
    ) -> Result<TaskLogs, ApiError> {
        let address = signer.address();
        let typed_data: Value = json(
            self.http
                .get(self.url("/tasks/logs/challenge"))
                .query(&[("address", address.to_string())])
                .send()
                .await
                .map_err(unavailable)?,
        )
        .await?;
        let challenge = typed_data["message"]["challenge"]
            .as_str()
            .ok_or_else(|| {
                ApiError::Unavailable("the challenge answer has no message.challenge".into())
            })?
            .to_string();
        let domain = eip712_domain! { name: "iExec Core", version: "1", chain_id: chain_id, };
        let hash = typed::Challenge { challenge }.eip712_signing_hash(&domain);
        let signature = signer
            .sign_hash_sync(&hash)
            .map_err(|e| ApiError::Refused {
                status: 0,
                message: format!("signing the challenge: {e}"),
            })?;
        let header = format!(
            "{hash}_0x{}_{address}",
            alloy::hex::encode(signature.as_bytes())
        );
        json(
            self.http
                .get(self.url(&format!("/tasks/{task_id}/logs")))
                .header("Authorization", header)
                .send()
                .await
                .map_err(unavailable)?,
        )
        .await
    }

    /// `GET /health`.
    pub async fn health(&self) -> Result<(), ApiError> {
        check(
            self.http
                .get(self.url("/health"))
                .send()
                .await
                .map_err(unavailable)?,
        )
        .await?;
        Ok(())
    }
}

impl SchedulerApi for Client {
    fn challenge(&self, wallet: Address) -> BoxFuture<'_, Result<String, ApiError>> {
        Box::pin(async move {
            let r = self
                .http
                .get(self.url("/workers/challenge"))
                .query(&[("walletAddress", wallet.to_string())])
                .send()
                .await
                .map_err(unavailable)?;
            check(r).await?.text().await.map_err(unavailable)
        })
    }

    fn login<'a>(
        &'a self,
        wallet: Address,
        signature: &'a str,
        info: &'a WorkerInfo,
    ) -> BoxFuture<'a, Result<String, ApiError>> {
        Box::pin(async move {
            let body = LoginRequest {
                wallet_address: wallet,
                signature: signature.to_string(),
                info: info.clone(),
            };
            let r = self
                .http
                .post(self.url("/workers/login"))
                .json(&body)
                .send()
                .await
                .map_err(unavailable)?;
            Ok(json::<LoginAnswer>(r).await?.token)
        })
    }

    fn ping<'a>(
        &'a self,
        token: String,
        info: &'a WorkerInfo,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            let r = self
                .http
                .post(self.url("/workers/ping"))
                .bearer_auth(token)
                .json(info)
                .send()
                .await
                .map_err(unavailable)?;
            check(r).await.map(|_| ())
        })
    }

    fn available(&self, token: String) -> BoxFuture<'_, Result<Option<ReplicateSpec>, ApiError>> {
        Box::pin(async move {
            let r = self
                .http
                .get(self.url("/replicates/available"))
                .bearer_auth(token)
                .send()
                .await
                .map_err(unavailable)?;
            if r.status() == StatusCode::NO_CONTENT {
                return Ok(None);
            }
            json(r).await.map(Some)
        })
    }

    fn report<'a>(
        &'a self,
        token: String,
        task_id: B256,
        report: &'a StatusReport,
    ) -> BoxFuture<'a, Result<NextAction, ApiError>> {
        Box::pin(async move {
            let r = self
                .http
                .post(self.url(&format!("/replicates/{task_id}/status")))
                .bearer_auth(token)
                .json(report)
                .send()
                .await
                .map_err(unavailable)?;
            json(r).await
        })
    }

    fn next_action(
        &self,
        token: String,
        task_id: B256,
    ) -> BoxFuture<'_, Result<NextAction, ApiError>> {
        Box::pin(async move {
            let r = self
                .http
                .get(self.url(&format!("/replicates/{task_id}/next")))
                .bearer_auth(token)
                .send()
                .await
                .map_err(unavailable)?;
            json(r).await
        })
    }
}
