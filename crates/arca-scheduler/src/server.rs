//! The axum service: worker login and heartbeat, replicate assignment and reports, the public
//! task view, the requester-only logs (EIP-712 challenge, as iExec's core), `/health`,
//! `/ready`, and [`spawn`], which also runs the chain loop.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, Signature};
use alloy::sol_types::{SolStruct, eip712_domain};
use arca_worker::agent::{StatusReport, WorkerInfo};
use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::api::{LoginAnswer, LoginRequest};
use crate::chain::Chain;
use crate::config::SchedulerConfig;
use crate::engine::Engine;
use crate::error::{Result, SchedulerError};
use crate::store::{Store, WorkerRow};

/// Status reports carry capped logs (2 × 100 kB per stream at most); anything bigger is refused.
const BODY_LIMIT: usize = 1024 * 1024;
/// Login and log challenges expire after this.
const CHALLENGE_TTL: Duration = Duration::from_secs(300);
/// Worker sessions last this long; a restarted scheduler forgets them (workers log in again).
const SESSION_TTL: Duration = Duration::from_secs(24 * 3600);

/// The EIP-712 challenge of the logs endpoint (iexec-protocol.md §6.1).
mod typed {
    alloy::sol! { struct Challenge { string challenge; } }
}

#[derive(Debug, Default)]
struct Sessions {
    login_challenges: HashMap<Address, (String, Instant)>,
    tokens: HashMap<String, (Address, Instant)>,
    log_challenges: HashMap<Address, (String, Instant)>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) engine: Engine,
    sessions: Mutex<Sessions>,
}

type State = Arc<Inner>;

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("0x{}", hex::encode(bytes))
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Inner {
    fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The worker behind a `Bearer` token.
    fn worker(&self, headers: &HeaderMap) -> Result<Address> {
        let header = headers
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .ok_or_else(|| {
                SchedulerError::Unauthorized(
                    "missing `Authorization: Bearer <token>`: log in".into(),
                )
            })?;
        let token = header.strip_prefix("Bearer ").unwrap_or(header).trim();
        let sessions = self.sessions();
        match sessions.tokens.get(token) {
            Some((worker, since)) if since.elapsed() < SESSION_TTL => Ok(*worker),
            Some(_) => Err(SchedulerError::Unauthorized(
                "session expired: log in again".into(),
            )),
            None => Err(SchedulerError::Unauthorized(
                "unknown session (the scheduler may have restarted): log in again".into(),
            )),
        }
    }

    fn domain(&self) -> alloy::sol_types::Eip712Domain {
        eip712_domain! {
            name: "iExec Core",
            version: "1",
            chain_id: self.engine.chain.client().chain_id(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WalletQuery {
    wallet_address: Address,
}

async fn login_challenge(AxState(s): AxState<State>, Query(q): Query<WalletQuery>) -> String {
    let challenge = random_hex();
    s.sessions()
        .login_challenges
        .insert(q.wallet_address, (challenge.clone(), Instant::now()));
    challenge
}

async fn login(
    AxState(s): AxState<State>,
    Json(req): Json<LoginRequest>,
) -> Result<Json<LoginAnswer>> {
    let challenge = {
        let mut sessions = s.sessions();
        // single use: taken out whatever the outcome
        match sessions.login_challenges.remove(&req.wallet_address) {
            Some((c, at)) if at.elapsed() < CHALLENGE_TTL => c,
            _ => {
                return Err(SchedulerError::Unauthorized(format!(
                    "no pending login challenge for {}: GET /workers/challenge?walletAddress= first",
                    req.wallet_address
                )));
            }
        }
    };
    let signature: Signature = req.signature.parse().map_err(|_| {
        SchedulerError::BadRequest("signature: expected 0x + 130 hex digits (r ‖ s ‖ v)".into())
    })?;
    let signer = signature
        .recover_address_from_msg(challenge.as_bytes())
        .map_err(|e| {
            SchedulerError::Unauthorized(format!("the signature does not recover: {e}"))
        })?;
    if signer != req.wallet_address {
        return Err(SchedulerError::Unauthorized(format!(
            "the challenge was signed by {signer}, not by {}",
            req.wallet_address
        )));
    }
    if req.info.max_tasks == 0 {
        return Err(SchedulerError::BadRequest(
            "maxTasks: must be at least 1".into(),
        ));
    }
    s.engine.worker_seen(&WorkerRow {
        address: signer,
        tee: req.info.tee_enabled,
        max_tasks: req.info.max_tasks,
        last_seen: unix_now(),
    })?;
    let token = random_hex();
    s.sessions()
        .tokens
        .insert(token.clone(), (signer, Instant::now()));
    tracing::info!(worker = %signer, tee = req.info.tee_enabled, "worker logged in");
    Ok(Json(LoginAnswer { token }))
}

async fn ping(
    AxState(s): AxState<State>,
    headers: HeaderMap,
    Json(info): Json<WorkerInfo>,
) -> Result<StatusCode> {
    let worker = s.worker(&headers)?;
    s.engine.worker_seen(&WorkerRow {
        address: worker,
        tee: info.tee_enabled,
        max_tasks: info.max_tasks.max(1),
        last_seen: unix_now(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}

async fn available(AxState(s): AxState<State>, headers: HeaderMap) -> Result<Response> {
    let worker = s.worker(&headers)?;
    if let Some(mut w) = s.engine.store.worker(worker)? {
        w.last_seen = unix_now();
        s.engine.worker_seen(&w)?;
    }
    Ok(match s.engine.available(worker).await? {
        Some(spec) => Json(spec).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

fn task_id(text: &str) -> Result<B256> {
    text.parse().map_err(|_| {
        SchedulerError::BadRequest(format!(
            "task id {text:?}: expected 0x followed by 64 hex digits"
        ))
    })
}

async fn report(
    AxState(s): AxState<State>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(report): Json<StatusReport>,
) -> Result<Response> {
    let worker = s.worker(&headers)?;
    // a reporting worker is alive, even if its heartbeat is late
    if let Some(mut w) = s.engine.store.worker(worker)? {
        w.last_seen = unix_now();
        s.engine.worker_seen(&w)?;
    }
    let action = s.engine.report(worker, task_id(&id)?, report).await?;
    Ok(Json(action).into_response())
}

async fn next_action(
    AxState(s): AxState<State>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let worker = s.worker(&headers)?;
    Ok(Json(s.engine.next_action(worker, task_id(&id)?).await?).into_response())
}

async fn task(AxState(s): AxState<State>, Path(id): Path<String>) -> Result<Response> {
    Ok(Json(s.engine.task_view(task_id(&id)?).await?).into_response())
}

#[derive(Deserialize)]
struct AddressQuery {
    address: Address,
}

/// `GET /tasks/logs/challenge?address=`: EIP-712 typed data to sign (iExec's `EIP712Challenge`).
async fn logs_challenge(AxState(s): AxState<State>, Query(q): Query<AddressQuery>) -> Json<Value> {
    let challenge = random_hex();
    s.sessions()
        .log_challenges
        .insert(q.address, (challenge.clone(), Instant::now()));
    Json(json!({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"}
            ],
            "Challenge": [{"name": "challenge", "type": "string"}]
        },
        "domain": {"name": "iExec Core", "version": "1", "chainId": s.engine.chain.client().chain_id()},
        "primaryType": "Challenge",
        "message": {"challenge": challenge}
    }))
}

/// `Authorization: <typedDataHash>_<signature>_<address>` with a pending, single-use challenge.
fn logs_caller(s: &Inner, headers: &HeaderMap) -> Result<Address> {
    let header = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| {
            SchedulerError::Unauthorized(
                "missing `Authorization: <challengeHash>_<signature>_<address>`; get a challenge from GET /tasks/logs/challenge?address=".into(),
            )
        })?;
    let parts: Vec<&str> = header.split('_').collect();
    let [hash, signature, address] = parts[..] else {
        return Err(SchedulerError::Unauthorized(
            "Authorization must be <challengeHash>_<signature>_<address>".into(),
        ));
    };
    let bad = |what: &str| SchedulerError::Unauthorized(format!("Authorization: {what}"));
    let hash: B256 = hash
        .parse()
        .map_err(|_| bad("the challenge hash is not a bytes32"))?;
    let signature: Signature = signature
        .parse()
        .map_err(|_| bad("the signature is not 65 hex bytes"))?;
    let address: Address = address
        .parse()
        .map_err(|_| bad("the address is not an address"))?;
    let challenge = s
        .sessions()
        .log_challenges
        .remove(&address)
        .filter(|(_, at)| at.elapsed() < CHALLENGE_TTL)
        .map(|(c, _)| c)
        .ok_or_else(|| bad("no pending challenge for this address (challenges are single-use and expire after 5 minutes)"))?;
    let expected = typed::Challenge { challenge }.eip712_signing_hash(&s.domain());
    if expected != hash {
        return Err(bad("the hash is not the one of the pending challenge"));
    }
    let signer = signature
        .recover_address_from_prehash(&hash)
        .map_err(|e| bad(&format!("the signature does not recover: {e}")))?;
    if signer != address {
        return Err(bad(&format!("signed by {signer}, not by {address}")));
    }
    Ok(address)
}

async fn logs(
    AxState(s): AxState<State>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let task_id = task_id(&id)?;
    let caller = logs_caller(&s, &headers)?;
    Ok(Json(s.engine.logs(task_id, caller).await?).into_response())
}

async fn ready(AxState(s): AxState<State>) -> Result<String> {
    s.engine.store.ping()?;
    let block = s.engine.chain.block_number().await?;
    Ok(format!("ready: store OK, chain at block {block}"))
}

fn router(state: State) -> Router {
    Router::new()
        .route("/health", get(|| async { "OK" }))
        .route("/ready", get(ready))
        .route("/version", get(|| async { env!("CARGO_PKG_VERSION") }))
        .route("/workers/challenge", get(login_challenge))
        .route("/workers/login", post(login))
        .route("/workers/ping", post(ping))
        .route("/replicates/available", get(available))
        .route("/replicates/{task_id}/status", post(report))
        .route("/replicates/{task_id}/next", get(next_action))
        .route("/tasks/logs/challenge", get(logs_challenge))
        .route("/tasks/{task_id}", get(task))
        .route("/tasks/{task_id}/logs", get(logs))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// A running scheduler: HTTP server and chain loop. Dropping it stops both.
#[derive(Debug)]
pub struct SchedulerHandle {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    chain_loop: tokio::task::JoinHandle<()>,
}

impl SchedulerHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the chain loop after its current round and the server; waits for both.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let _ = (&mut self.chain_loop).await;
        self.server.abort();
        let _ = (&mut self.server).await;
    }

    /// Waits until the server stops (it only does on error).
    pub async fn wait(mut self) {
        let _ = (&mut self.server).await;
    }
}

impl Drop for SchedulerHandle {
    fn drop(&mut self) {
        self.server.abort();
        self.chain_loop.abort();
    }
}

/// Connects to the chain, opens the store, publishes the workerpool order if configured, and
/// serves the scheduler in the background.
pub async fn spawn(config: SchedulerConfig) -> Result<SchedulerHandle> {
    let client =
        arca_client::Client::connect("scheduler", &config.chain, Some(config.owner.clone()))
            .await?;
    let pool =
        arca_contracts::bindings::Workerpool::new(config.workerpool, client.provider().clone());
    let pool_owner = pool.owner().call().await.map_err(|e| {
        SchedulerError::Config(format!(
            "workerpool {}: not a workerpool on this chain ({e}); deploy it with `arca workerpool deploy` or fix the address",
            config.workerpool
        ))
    })?;
    if pool_owner != config.owner.address() {
        return Err(SchedulerError::Config(format!(
            "workerpool {} is owned by {pool_owner}, but the scheduler's wallet is {}: run the scheduler with the owner's wallet",
            config.workerpool,
            config.owner.address()
        )));
    }
    let store = Store::from_config(&config)?;
    let chain = Chain::new(client, config.workerpool);
    let listen = config.listen;
    let poll = config.poll_interval;
    let engine = Engine::new(store, chain, config);
    engine.publish_order().await?;
    let inner = Arc::new(Inner {
        engine,
        sessions: Mutex::new(Sessions::default()),
    });
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| SchedulerError::Config(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| SchedulerError::Config(format!("listener address: {e}")))?;
    let app = router(inner.clone());
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "scheduler server stopped");
        }
    });
    let (stop, mut stopped) = watch::channel(false);
    let workerpool = inner.engine.config.workerpool;
    let chain_loop = tokio::spawn(async move {
        loop {
            if let Err(e) = inner.engine.tick().await {
                tracing::warn!(error = %e, "chain round failed; retrying");
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = stopped.changed() => {}
            }
            if *stopped.borrow() {
                break;
            }
        }
    });
    tracing::info!(%addr, %workerpool, "scheduler listening");
    Ok(SchedulerHandle {
        addr,
        stop,
        server,
        chain_loop,
    })
}
