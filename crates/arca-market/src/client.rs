//! A typed client of the market API, used by the `arca` CLI (and by anything that speaks to
//! an iExec-compatible market): publish, read, query and unpublish orders.

use crate::{
    MarketError,
    order::{Order, OrderKind},
    query::OrderQuery,
    server::{PublishedOrder, UnpublishRequest},
};
use alloy::{
    primitives::B256,
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{SolStruct, eip712_domain},
};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};

/// One page of `GET /{kind}orders`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPage {
    pub orders: Vec<PublishedOrder>,
    pub count: usize,
    pub next_page: Option<usize>,
}

/// A market API client bound to one chain.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    chain_id: u64,
}

mod auth {
    alloy::sol! { struct Challenge { string challenge; } }
}

impl Client {
    /// `base` is the market URL (chain.json's `iexecGateway`).
    pub fn new(base: impl Into<String>, chain_id: u64) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: base.into().trim_end_matches('/').to_owned(),
            chain_id,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn answer<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, MarketError> {
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() || body.get("ok") != Some(&Value::Bool(true)) {
            let message = body
                .get("error")
                .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
                .unwrap_or_else(|| body.to_string());
            return Err(MarketError::Remote {
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_value(body)
            .map_err(|e| MarketError::Chain(format!("unexpected market answer: {e}")))
    }

    /// Publishes a signed order; returns it as the market stored it.
    pub async fn publish(&self, order: &Order) -> Result<PublishedOrder, MarketError> {
        #[derive(Deserialize)]
        struct Published {
            published: PublishedOrder,
        }
        let response = self
            .http
            .post(self.url(&format!("/{}orders", order.kind())))
            .query(&[("chainId", self.chain_id)])
            .json(&json!({ "order": order }))
            .send()
            .await?;
        Ok(Self::answer::<Published>(response).await?.published)
    }

    /// One order by hash (any status).
    pub async fn order(&self, kind: OrderKind, hash: B256) -> Result<PublishedOrder, MarketError> {
        let response = self
            .http
            .get(self.url(&format!("/{kind}orders/{hash}")))
            .query(&[("chainId", self.chain_id)])
            .send()
            .await?;
        Self::answer(response).await
    }

    /// The open orders matching `query` (its `chainId` is filled in).
    pub async fn orderbook(
        &self,
        kind: OrderKind,
        query: &OrderQuery,
    ) -> Result<OrderPage, MarketError> {
        let mut query = query.clone();
        query.chain_id = Some(self.chain_id.to_string());
        let response = self
            .http
            .get(self.url(&format!("/{kind}orders")))
            .query(&query)
            .send()
            .await?;
        Self::answer(response).await
    }

    /// Logs in with `signer` (challenge signed EIP-712) and unpublishes; returns the hashes
    /// taken off the orderbook.
    pub async fn unpublish(
        &self,
        kind: OrderKind,
        signer: &PrivateKeySigner,
        request: &UnpublishRequest,
    ) -> Result<Vec<B256>, MarketError> {
        #[derive(Deserialize)]
        struct Unpublished {
            unpublished: Vec<B256>,
        }
        let authorization = self.authorization(signer).await?;
        let response = self
            .http
            .put(self.url(&format!("/{kind}orders")))
            .query(&[("chainId", self.chain_id)])
            .header("authorization", authorization)
            .json(request)
            .send()
            .await?;
        Ok(Self::answer::<Unpublished>(response).await?.unpublished)
    }

    /// `<hash>_<signature>_<address>` for the market's current challenge to `signer`.
    pub async fn authorization(&self, signer: &PrivateKeySigner) -> Result<String, MarketError> {
        let address = signer.address();
        let response = self
            .http
            .get(self.url("/challenge"))
            .query(&[
                ("chainId", self.chain_id.to_string()),
                ("address", address.to_string()),
            ])
            .send()
            .await?;
        let body: Value = Self::answer(response).await?;
        let challenge = body["data"]["message"]["challenge"]
            .as_str()
            .ok_or_else(|| {
                MarketError::Chain("the market's challenge has no message.challenge".into())
            })?;
        let domain =
            eip712_domain! { name: "iExec Gateway", version: "1", chain_id: self.chain_id, };
        let hash = auth::Challenge {
            challenge: challenge.to_owned(),
        }
        .eip712_signing_hash(&domain);
        let sig = signer
            .sign_hash_sync(&hash)
            .map_err(|e| MarketError::BadSignature(format!("cannot sign the challenge: {e}")))?;
        Ok(format!(
            "{hash}_0x{}_{address}",
            alloy::hex::encode(sig.as_bytes())
        ))
    }
}
