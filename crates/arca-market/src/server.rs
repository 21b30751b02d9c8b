//! The HTTP service (axum) and its chain follower.
//!
//! Routes (iExec market API paths, every one takes `?chainId=`):
//! `GET /version`, `GET /challenge`, `GET|POST|PUT /{app,dataset,workerpool,request}orders`,
//! `GET /{kind}orders/{orderHash}`.
//!
//! Publication and the follower share one async lock: a publish reads `viewConsumed` and
//! stores the order under it, and the follower applies a batch of events under it, so an
//! order can never be stored with a remaining volume older than the events already applied.

use crate::{
    MarketError,
    chain::{HubReader, OrderEvent},
    order::{Order, OrderKind, Uint},
    query::{self, OrderQuery},
    store::{Record, SqliteStore, Status, Store},
};
use alloy::{
    primitives::{Address, B256, Signature},
    sol_types::{SolStruct, eip712_domain},
};
use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::HeaderMap,
    routing::get,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    net::SocketAddr,
    path::PathBuf,
    str::FromStr,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tracing::Instrument;

/// Most blocks asked from `eth_getLogs` at once (providers cap ranges).
const LOG_RANGE: u64 = 2_000;

/// How to run a market.
#[derive(Debug, Clone)]
pub struct MarketConfig {
    /// JSON-RPC endpoint of the chain.
    pub rpc_url: String,
    /// The PoCo hub.
    pub hub: Address,
    /// Where to listen (port 0: any free port).
    pub listen: SocketAddr,
    /// Where `market.sqlite` lives; in memory if `None`.
    pub data_dir: Option<PathBuf>,
    /// How often the chain is polled for new order events.
    pub poll_interval: Duration,
}

impl MarketConfig {
    pub fn new(rpc_url: impl Into<String>, hub: Address) -> MarketConfig {
        MarketConfig {
            rpc_url: rpc_url.into(),
            hub,
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir: None,
            poll_interval: Duration::from_secs(2),
        }
    }
}

/// A published order as the market API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedOrder {
    pub order_hash: B256,
    pub chain_id: u64,
    pub order: Value,
    pub remaining: Uint,
    pub status: String,
    pub publication_timestamp: String,
    pub signer: Address,
}

impl From<&Record> for PublishedOrder {
    fn from(r: &Record) -> Self {
        PublishedOrder {
            order_hash: r.hash,
            chain_id: r.chain_id,
            order: serde_json::to_value(&r.order).expect("orders always serialize"),
            remaining: Uint(r.remaining),
            status: serde_json::to_value(r.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            publication_timestamp: r.published_at.clone(),
            signer: r.signer,
        }
    }
}

/// The body of `PUT /{kind}orders`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnpublishRequest {
    /// `unpublish_orderHash`, `unpublish_last` or `unpublish_all`.
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_hash: Option<B256>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workerpool: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester: Option<Address>,
}

/// The EIP-712 message of the login challenge.
mod auth {
    alloy::sol! { struct Challenge { string challenge; } }
}

#[derive(Debug)]
struct Market {
    store: Arc<dyn Store>,
    chain: HubReader,
    /// Serialises publication against event application (see the module doc).
    sync: tokio::sync::Mutex<()>,
    /// One live challenge per address, single use.
    challenges: Mutex<HashMap<Address, String>>,
}

type Shared = State<Arc<Market>>;

/// A running market; stops when dropped or on [`MarketHandle::shutdown`].
#[derive(Debug)]
pub struct MarketHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    follower: JoinHandle<()>,
}

impl MarketHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ip:port`, what chain.json calls `iexecGateway`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests, lets in-flight ones finish, stops the follower.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.follower.abort();
    }
}

impl Drop for MarketHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.follower.abort();
    }
}

/// Opens the store, connects to the hub, binds and serves; returns once listening.
pub async fn spawn(config: MarketConfig) -> Result<MarketHandle, MarketError> {
    let store: Arc<dyn Store> = match &config.data_dir {
        Some(dir) => Arc::new(SqliteStore::open(dir)?),
        None => Arc::new(SqliteStore::in_memory()?),
    };
    spawn_with_store(config, store).await
}

/// [`spawn`] on a store of the caller's choice.
pub async fn spawn_with_store(
    config: MarketConfig,
    store: Arc<dyn Store>,
) -> Result<MarketHandle, MarketError> {
    let chain = HubReader::connect(&config.rpc_url, config.hub).await?;
    if store.cursor()?.is_none() {
        // a fresh orderbook holds no order older than now: start following from here
        store.set_cursor(chain.block_number().await?)?;
    }
    let market = Arc::new(Market {
        store,
        chain,
        sync: tokio::sync::Mutex::new(()),
        challenges: Mutex::new(HashMap::new()),
    });
    // catch up before answering, so a restarted market never serves orders consumed while it
    // was down
    market.follow_once().await?;
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router(market.clone());
    let span = tracing::info_span!("market", %addr, hub = %config.hub);
    tracing::info!(parent: &span, "market API listening");
    let server = tokio::spawn(
        async move {
            let graceful = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = graceful.await {
                tracing::error!(error = %e, "market server stopped");
            }
        }
        .instrument(span.clone()),
    );
    let follower = tokio::spawn(
        async move {
            loop {
                tokio::time::sleep(config.poll_interval).await;
                if let Err(e) = market.follow_once().await {
                    // transient (chain restarting): the cursor did not move, retry next tick
                    tracing::warn!(error = %e, "following the chain failed");
                }
            }
        }
        .instrument(span),
    );
    Ok(MarketHandle {
        addr,
        stop: Some(stop),
        server: Some(server),
        follower,
    })
}

fn router(market: Arc<Market>) -> Router {
    let mut router = Router::new()
        .route("/version", get(version))
        .route("/challenge", get(challenge));
    for kind in OrderKind::ALL {
        router = router
            .route(
                &format!("/{kind}orders"),
                get(move |s: Shared, q: Query<OrderQuery>| list(kind, s, q))
                    .post(
                        move |s: Shared, q: Query<OrderQuery>, h: HeaderMap, b: Bytes| {
                            publish(kind, s, q, h, b)
                        },
                    )
                    .put(
                        move |s: Shared, q: Query<OrderQuery>, h: HeaderMap, b: Bytes| {
                            unpublish(kind, s, q, h, b)
                        },
                    ),
            )
            .route(
                &format!("/{kind}orders/{{hash}}"),
                get(move |s: Shared, q: Query<OrderQuery>, p: Path<String>| one(kind, s, q, p)),
            );
    }
    router.with_state(market)
}

type Answer = Result<Json<Value>, MarketError>;

async fn version() -> Json<Value> {
    Json(json!({ "ok": true, "version": concat!("arca-market/", env!("CARGO_PKG_VERSION")) }))
}

impl Market {
    fn check_chain(&self, q: &OrderQuery) -> Result<(), MarketError> {
        let want = self.chain.chain_id;
        match q.chain_id.as_deref().map(str::parse::<u64>) {
            Some(Ok(id)) if id == want => Ok(()),
            Some(_) => Err(MarketError::bad(
                "chainId",
                format!("this market serves chain {want}"),
            )),
            None => Err(MarketError::bad(
                "chainId",
                format!("required; this market serves chain {want}"),
            )),
        }
    }

    fn challenge_hash(&self, challenge: &str) -> B256 {
        let domain = eip712_domain! {
            name: "iExec Gateway",
            version: "1",
            chain_id: self.chain.chain_id,
        };
        auth::Challenge {
            challenge: challenge.to_owned(),
        }
        .eip712_signing_hash(&domain)
    }

    /// Checks `Authorization: <hash>_<signature>_<address>` against the address's live
    /// challenge and consumes it.
    fn authenticate(&self, headers: &HeaderMap) -> Result<Address, MarketError> {
        let header = headers
            .get("authorization")
            .ok_or_else(|| MarketError::Unauthorized("missing Authorization header".into()))?
            .to_str()
            .map_err(|_| MarketError::Unauthorized("Authorization is not ASCII".into()))?;
        let parts: Vec<&str> = header.split('_').collect();
        let [hash, sig, address] = parts[..] else {
            return Err(MarketError::Unauthorized(
                "expected <hash>_<signature>_<address>".into(),
            ));
        };
        let bad = |what: &str| MarketError::Unauthorized(format!("malformed {what}"));
        let hash = B256::from_str(hash).map_err(|_| bad("hash"))?;
        let address = Address::from_str(address).map_err(|_| bad("address"))?;
        let sig_bytes = alloy::hex::decode(sig).map_err(|_| bad("signature"))?;
        let sig = Signature::from_raw(&sig_bytes).map_err(|_| bad("signature"))?;
        let mut challenges = self.challenges.lock().unwrap_or_else(|p| p.into_inner());
        let challenge = challenges
            .get(&address)
            .ok_or_else(|| MarketError::Unauthorized(format!("no live challenge for {address}")))?;
        if self.challenge_hash(challenge) != hash {
            return Err(MarketError::Unauthorized(
                "the hash is not that of your challenge".into(),
            ));
        }
        match sig.recover_address_from_prehash(&hash) {
            Ok(signer) if signer == address => {
                challenges.remove(&address);
                Ok(address)
            }
            _ => Err(MarketError::Unauthorized(format!(
                "the challenge was not signed by {address}"
            ))),
        }
    }

    /// Applies the hub events of the blocks after the cursor, then moves the cursor.
    #[tracing::instrument(level = "debug", skip(self))]
    async fn follow_once(&self) -> Result<(), MarketError> {
        let _sync = self.sync.lock().await;
        let latest = self.chain.block_number().await?;
        let mut from = self.store.cursor()?.map_or(0, |c| c + 1);
        while from <= latest {
            let to = latest.min(from + LOG_RANGE - 1);
            for event in self.chain.events(from, to).await? {
                self.apply(event).await?;
            }
            // updates are recomputed from chain state, so replaying a batch after a crash
            // between the updates and this line is harmless
            self.store.set_cursor(to)?;
            from = to + 1;
        }
        Ok(())
    }

    async fn apply(&self, event: OrderEvent) -> Result<(), MarketError> {
        let (hash, closed) = match event {
            OrderEvent::Matched(h) => (h, false),
            OrderEvent::Closed(h) => (h, true),
        };
        let Some(record) = self.store.get(hash)? else {
            return Ok(());
        };
        if record.status != Status::Open {
            return Ok(());
        }
        let consumed = self.chain.consumed(hash).await?;
        let remaining = record.order.volume().saturating_sub(consumed);
        let status = match (remaining.is_zero(), closed) {
            (false, _) => Status::Open,
            (true, true) => Status::Canceled,
            (true, false) => Status::Filled,
        };
        tracing::info!(%hash, %remaining, ?status, "order updated from chain");
        self.store.set_state(hash, remaining, status)
    }
}

async fn challenge(State(m): Shared, Query(q): Query<HashMap<String, String>>) -> Answer {
    let oq = OrderQuery {
        chain_id: q.get("chainId").cloned(),
        ..OrderQuery::default()
    };
    m.check_chain(&oq)?;
    let address = q.get("address").ok_or_else(|| {
        MarketError::bad(
            "address",
            "required: the address that will sign the challenge",
        )
    })?;
    let address = Address::from_str(address)
        .map_err(|_| MarketError::bad("address", format!("{address:?} is not an address")))?;
    let text = {
        let mut challenges = m.challenges.lock().unwrap_or_else(|p| p.into_inner());
        challenges
            .entry(address)
            .or_insert_with(|| {
                // 32 bytes from the OS CSPRNG (a fresh key is exactly that)
                let nonce = alloy::signers::local::PrivateKeySigner::random().to_bytes();
                format!(
                    "Sign this message to log into iExec Gateway: {}",
                    alloy::hex::encode(nonce)
                )
            })
            .clone()
    };
    Ok(Json(json!({
        "ok": true,
        "data": {
            "types": {
                "EIP712Domain": [
                    { "name": "name", "type": "string" },
                    { "name": "version", "type": "string" },
                    { "name": "chainId", "type": "uint256" }
                ],
                "Challenge": [ { "name": "challenge", "type": "string" } ]
            },
            "domain": { "name": "iExec Gateway", "version": "1", "chainId": m.chain.chain_id },
            "primaryType": "Challenge",
            "message": { "challenge": text }
        }
    })))
}

async fn list(kind: OrderKind, State(m): Shared, Query(q): Query<OrderQuery>) -> Answer {
    m.check_chain(&q)?;
    let page = query::run(kind, &q, m.store.open_orders(kind)?)?;
    let orders: Vec<PublishedOrder> = page.orders.iter().map(PublishedOrder::from).collect();
    let mut body = json!({ "ok": true, "count": page.count, "orders": orders });
    if let Some(next) = page.next_page {
        body["nextPage"] = json!(next);
    }
    Ok(Json(body))
}

fn parse_hash(field: &str, s: &str) -> Result<B256, MarketError> {
    B256::from_str(s).map_err(|_| {
        MarketError::bad(
            field,
            format!("{s:?} is not an order hash (0x + 64 hex digits)"),
        )
    })
}

async fn one(
    kind: OrderKind,
    State(m): Shared,
    Query(q): Query<OrderQuery>,
    Path(hash): Path<String>,
) -> Answer {
    m.check_chain(&q)?;
    let hash = parse_hash("orderHash", &hash)?;
    let not_found = || MarketError::NotFound {
        kind: kind.as_str(),
        hash: hash.to_string(),
    };
    let record = m.store.get(hash)?.ok_or_else(not_found)?;
    if record.order.kind() != kind {
        return Err(not_found());
    }
    let mut body = serde_json::to_value(PublishedOrder::from(&record)).expect("serializable");
    body["ok"] = json!(true);
    Ok(Json(body))
}

fn parse_body(body: &Bytes) -> Result<Value, MarketError> {
    serde_json::from_slice(body).map_err(|e| MarketError::MalformedJson(e.to_string()))
}

#[tracing::instrument(skip_all, fields(%kind))]
async fn publish(
    kind: OrderKind,
    State(m): Shared,
    Query(q): Query<OrderQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    m.check_chain(&q)?;
    // The order's own signature already proves its owner's consent, so authentication is
    // optional here; when given (as the SDK does) it must be the signer's.
    let authenticated = match headers.contains_key("authorization") {
        true => Some(m.authenticate(&headers)?),
        false => None,
    };
    let mut body = parse_body(&body)?;
    let value = body
        .get_mut("order")
        .map(Value::take)
        .ok_or_else(|| MarketError::bad("order", "missing; send {\"order\": <signed order>}"))?;
    let order = Order::from_json(kind, value)?;
    let hash = order.hash(&m.chain.domain);
    if let Some(existing) = m.store.get(hash)?
        && existing.status == Status::Open
    {
        return Err(MarketError::AlreadyPublished {
            hash: hash.to_string(),
        });
    }
    let owner = m.chain.owner(&order).await?;
    if let Some(who) = authenticated
        && who != owner
    {
        return Err(MarketError::Unauthorized(format!(
            "you are {who} but the {kind}order belongs to {owner}"
        )));
    }
    // ECDSA first (names the wrong signer), then the hub's verifier for presigned orders and
    // EIP-1271 contract owners
    let recovered = Signature::from_raw(order.sign())
        .ok()
        .and_then(|s| s.recover_address_from_prehash(&hash).ok());
    if recovered != Some(owner) && !m.chain.verify(owner, hash, order.sign()).await? {
        let by = recovered.map_or_else(
            || "it is not a valid signature".to_owned(),
            |r| format!("it was signed by {r}"),
        );
        return Err(MarketError::BadSignature(format!(
            "not a valid signature of the {kind} owner {owner} over order {hash} ({by}); sign the order with the owner's wallet (EIP-712 domain iExecODB 5.0.0, chain {}, hub {})",
            m.chain.chain_id,
            m.chain.hub()
        )));
    }
    let record = {
        let _sync = m.sync.lock().await;
        let consumed = m.chain.consumed(hash).await?;
        let remaining = order.volume().saturating_sub(consumed);
        if remaining.is_zero() {
            return Err(MarketError::Consumed {
                hash: hash.to_string(),
            });
        }
        let record = Record {
            hash,
            chain_id: m.chain.chain_id,
            order,
            remaining,
            status: Status::Open,
            signer: owner,
            published_at: now_iso(),
        };
        m.store.put(&record)?;
        record
    };
    tracing::info!(%hash, remaining = %record.remaining, "order published");
    Ok(Json(
        json!({ "ok": true, "published": PublishedOrder::from(&record) }),
    ))
}

#[tracing::instrument(skip_all, fields(%kind))]
async fn unpublish(
    kind: OrderKind,
    State(m): Shared,
    Query(q): Query<OrderQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    m.check_chain(&q)?;
    let who = m.authenticate(&headers)?;
    let req: UnpublishRequest = serde_json::from_value(parse_body(&body)?).map_err(|e| {
        MarketError::bad(
            "body",
            format!("{e}; send {{\"target\": \"unpublish_orderHash\", \"orderHash\": …}}"),
        )
    })?;
    let mine = |r: &Record| r.signer == who;
    let hashes: Vec<B256> = match req.target.as_str() {
        "unpublish_orderHash" => {
            let hash = req.order_hash.ok_or_else(|| {
                MarketError::bad("orderHash", "required with target unpublish_orderHash")
            })?;
            let record = m
                .store
                .get(hash)?
                .filter(|r| r.order.kind() == kind && r.status == Status::Open)
                .ok_or_else(|| MarketError::NotFound {
                    kind: kind.as_str(),
                    hash: hash.to_string(),
                })?;
            if !mine(&record) {
                return Err(MarketError::Unauthorized(format!(
                    "order {hash} belongs to {}, not {who}",
                    record.signer
                )));
            }
            vec![hash]
        }
        target @ ("unpublish_last" | "unpublish_all") => {
            let (field, resource) = match kind {
                OrderKind::App => ("app", req.app),
                OrderKind::Dataset => ("dataset", req.dataset),
                OrderKind::Workerpool => ("workerpool", req.workerpool),
                OrderKind::Request => ("requester", req.requester.or(Some(who))),
            };
            let resource = resource
                .ok_or_else(|| MarketError::bad(field, format!("required with target {target}")))?;
            let mut open: Vec<Record> = m
                .store
                .open_orders(kind)?
                .into_iter()
                .filter(|r| r.order.resource() == resource && mine(r))
                .collect();
            open.sort_by(|a, b| a.published_at.cmp(&b.published_at));
            if target == "unpublish_last" {
                open.split_off(open.len().saturating_sub(1))
            } else {
                open
            }
            .into_iter()
            .map(|r| r.hash)
            .collect()
        }
        other => {
            return Err(MarketError::bad(
                "target",
                format!("{other:?}: use unpublish_orderHash, unpublish_last or unpublish_all"),
            ));
        }
    };
    for hash in &hashes {
        let record = m.store.get(*hash)?.expect("listed above");
        m.store
            .set_state(*hash, record.remaining, Status::Canceled)?;
        tracing::info!(%hash, "order unpublished");
    }
    Ok(Json(json!({ "ok": true, "unpublished": hashes })))
}

/// Now as ISO 8601 UTC with milliseconds (`2026-11-24T10:00:00.000Z`), like the market API.
fn now_iso() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // civil-from-days (H. Hinnant), valid for any date after 1970
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_timestamps_are_well_formed() {
        let t = super::now_iso();
        assert_eq!(t.len(), 24, "{t}");
        assert!(
            t.starts_with("20") && t.ends_with('Z') && &t[10..11] == "T",
            "{t}"
        );
    }
}
