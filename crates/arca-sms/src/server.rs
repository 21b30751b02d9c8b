//! The axum service: routes, shared state, `/health`, `/ready` and `/metrics`, and [`spawn`] to
//! run it on a listener (port 0 in tests).

use crate::chain::{Chain, DatasetOrderView};
use crate::error::{DeniedCheck, Result, SmsError};
use crate::metrics::Metrics;
use crate::store::SecretStore;
use crate::tee::{Entitlement, Prepared};
use crate::{manage, secrets, tee};
use alloy::primitives::{Address, B256};
use arca_tee::{DcapVerifier, Policy, dev::DevPki};
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State as AxState};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, head, post};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Settings beyond [`Config`] (kept apart so `Config` literals elsewhere stay valid).
#[derive(Debug, Clone)]
pub struct Tuning {
    /// How long a task's on-chain entitlement (task ACTIVE, deal, app measurement, dataset-order
    /// restrictions) is reused by follow-up releases of an attested session. Session creation
    /// and attested releases always read the chain. Zero reads it on every release.
    pub chain_cache: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            chain_cache: Duration::from_secs(1),
        }
    }
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn SecretStore>,
    pub(crate) chain: Chain,
    pub(crate) verifier: DcapVerifier,
    pub(crate) dev_pki: Option<Arc<DevPki>>,
    pub(crate) public_url: String,
    pub(crate) session_ttl: u64,
    pub(crate) chain_cache: Duration,
    pub(crate) entitlements: Mutex<HashMap<B256, (Instant, Entitlement)>>,
    pub(crate) orders: Mutex<HashMap<B256, DatasetOrderView>>,
    pub(crate) prepared: Mutex<HashMap<String, Arc<Prepared>>>,
    pub(crate) metrics: Metrics,
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a unix time (UTC), for messages people read.
pub(crate) fn rfc3339(unix: u64) -> String {
    let (days, secs) = ((unix / 86_400) as i64, unix % 86_400);
    // civil-from-days (H. Hinnant's algorithm): the proleptic Gregorian date of a day count
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The routes, as `'static` labels for the metrics (a client cannot create label values).
const ROUTES: &[&str] = &[
    "/health",
    "/ready",
    "/version",
    "/metrics",
    "/secrets/web3",
    "/secrets/web2",
    "/apps/{app}/secrets",
    "/requesters/{requester}/secrets/{key}",
    "/secrets/info",
    "/secrets/rotate",
    "/secrets/revoke",
    "/secrets/log",
    "/releases/verify",
    "/tee/framework",
    "/tee/challenges/{task_id}",
    "/tee/sessions",
    "/tee/sessions/{session_id}/secrets",
];

fn method_label(m: &axum::http::Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        _ => "OTHER",
    }
}

/// Counts every answer by route and status, its latency, and TEE denials by check.
async fn observe(AxState(s): AxState<State>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|p| ROUTES.iter().find(|r| **r == p.as_str()).copied())
        .unwrap_or("unmatched");
    let method = method_label(req.method());
    let response = next.run(req).await;
    let denial = response.extensions().get::<DeniedCheck>().map(|d| d.0);
    s.metrics.request(
        method,
        route,
        response.status().as_u16(),
        started.elapsed(),
        denial,
    );
    response
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
        .route("/metrics", get(metrics))
        .route("/secrets/info", get(manage::info))
        .route("/secrets/rotate", post(manage::rotate))
        .route("/secrets/revoke", post(manage::revoke))
        .route("/secrets/log", get(manage::log))
        .route("/releases/verify", get(manage::verify))
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
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn metrics(AxState(s): AxState<State>) -> ([(&'static str, &'static str); 1], String) {
    (
        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
        s.metrics.render(),
    )
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
    spawn_with(addr, config, Tuning::default(), store).await
}

/// [`spawn`] with explicit [`Tuning`].
pub async fn spawn_with(
    addr: SocketAddr,
    config: Config,
    tuning: Tuning,
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
        chain_cache: tuning.chain_cache,
        entitlements: Mutex::new(HashMap::new()),
        orders: Mutex::new(HashMap::new()),
        prepared: Mutex::new(HashMap::new()),
        metrics: Metrics::default(),
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

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(1_796_059_159), "2026-11-30T17:19:19Z");
    }
}
