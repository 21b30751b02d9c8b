//! The axum service: routes, shared state, `/health` and `/ready`, and [`spawn`] to run it on a
//! listener (port 0 in tests).

use crate::chain::Chain;
use crate::error::{Result, SmsError};
use crate::store::SecretStore;
use crate::{secrets, tee};
use alloy::primitives::Address;
use arca_tee::{DcapVerifier, Policy, dev::DevPki};
use axum::Router;
use axum::extract::{DefaultBodyLimit, State as AxState};
use axum::http::StatusCode;
use axum::routing::{get, head, post};
use std::net::SocketAddr;
use std::sync::Arc;

/// Bodies above this are refused with 413 before any handler runs; a quote with its collateral
/// is well under it, a secret is limited to 4096 bytes by its handler.
const BODY_LIMIT: usize = 256 * 1024;

/// How to run the SMS.
#[derive(Debug, Clone)]
pub struct Config {
    /// The chain's JSON-RPC URL.
    pub rpc_url: String,
    /// The hub (PoCo diamond) address.
    pub hub: Address,
    /// Accept quotes from the Arca dev PKI (sim enclaves). Never in production.
    pub dev: bool,
    /// The URL the SMS is reachable at by enclaves (for `secretProvisioningUrl`); defaults to
    /// `http://<bound address>`.
    pub public_url: Option<String>,
    /// Seconds a TEE session stays usable after creation.
    pub session_ttl: u64,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn SecretStore>,
    pub(crate) chain: Chain,
    pub(crate) verifier: DcapVerifier,
    pub(crate) dev_pki: Option<Arc<DevPki>>,
    pub(crate) public_url: String,
    pub(crate) session_ttl: u64,
}

/// The handlers' shared state.
pub(crate) type State = Arc<Inner>;

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn router(state: State) -> Router {
    Router::new()
        .route("/health", get(|| async { "OK" }))
        .route("/ready", get(ready))
        .route("/version", get(|| async { env!("CARGO_PKG_VERSION") }))
        .route(
            "/secrets/web3",
            head(secrets::web3_exists).post(secrets::web3_push),
        )
        .route(
            "/secrets/web2",
            head(secrets::web2_exists)
                .post(secrets::web2_push)
                .put(secrets::web2_update),
        )
        .route(
            "/apps/{app}/secrets",
            head(secrets::app_exists).post(secrets::app_push),
        )
        .route(
            "/requesters/{requester}/secrets/{key}",
            head(secrets::requester_exists).post(secrets::requester_push),
        )
        .route("/tee/framework", get(|| async { "TDX" }))
        .route("/tee/challenges/{task_id}", post(tee::challenge))
        .route("/tee/sessions", post(tee::create_session))
        .route("/tee/sessions/{session_id}/secrets", post(tee::release))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Ready when the store answers and the chain serves blocks.
async fn ready(AxState(s): AxState<State>) -> Result<(StatusCode, String)> {
    s.store.ping()?;
    let block = s.chain.block_number().await?;
    Ok((
        StatusCode::OK,
        format!("ready: store OK, chain at block {block}"),
    ))
}

/// A running SMS; it stops when dropped.
#[derive(Debug)]
pub struct SmsHandle {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl SmsHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until the server stops (it only does on error).
    pub async fn wait(self) -> Result<()> {
        let mut task = self;
        (&mut task.task)
            .await
            .map_err(|e| SmsError::Config(format!("server task: {e}")))
    }
}

impl Drop for SmsHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr`, connects to the chain and serves the SMS in the background.
pub async fn spawn(
    addr: SocketAddr,
    config: Config,
    store: Arc<dyn SecretStore>,
) -> Result<SmsHandle> {
    let chain = Chain::connect(&config.rpc_url, config.hub).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| SmsError::Config(format!("cannot listen on {addr}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| SmsError::Config(format!("listener address: {e}")))?;
    let (verifier, dev_pki) = if config.dev {
        let pki = Arc::new(DevPki::default());
        let verifier =
            DcapVerifier::new(Policy::production()).with_dev_root(pki.root_der().to_vec());
        tracing::warn!("--dev: quotes from simulated enclaves (Arca dev PKI) are accepted");
        (verifier, Some(pki))
    } else {
        (DcapVerifier::new(Policy::production()), None)
    };
    let state = Arc::new(Inner {
        store,
        chain,
        verifier,
        dev_pki,
        public_url: config
            .public_url
            .unwrap_or_else(|| format!("http://{addr}")),
        session_ttl: config.session_ttl,
    });
    let app = router(state);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "SMS server stopped");
        }
    });
    tracing::info!(%addr, "SMS listening");
    Ok(SmsHandle { addr, task })
}
