//! HTTP and WebSocket transport on one port: JSON-RPC 2.0 requests and batches over `POST /`,
//! `eth_subscribe` over a WebSocket upgrade of `GET /`. Malformed input becomes a JSON-RPC error,
//! never a crash.
//!
//! Every connection starts on a small HTTP/1.1 fast path, because per-request overhead is most of
//! the cost of the calls clients make most (`eth_blockNumber` polling): keep-alive `POST /`
//! requests with a `Content-Length` (what JSON-RPC clients send) are parsed in place with
//! `httparse` (hyper's own parser), answered into one buffer with fixed headers, and pipelined
//! requests leave in one write. Anything else (WebSocket upgrades, `GET`, CORS preflights,
//! chunked or oversized bodies, `Expect`, HTTP/1.0, malformed heads) hands the connection, bytes
//! already read included, to hyper serving the axum [`router`], which keeps full HTTP semantics
//! for them.

use crate::{
    backend::ChainEvent,
    error::{RpcError, codes},
    filters,
    rpc::{Node, rpc_header},
};
use alloy::{primitives::U256, rpc::types::Filter};
use axum::{
    Router,
    body::Bytes,
    extract::{
        DefaultBodyLimit, State, WebSocketUpgrade,
        rejection::BytesRejection,
        ws::{Message, WebSocket, rejection::WebSocketUpgradeRejection},
    },
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json, value::RawValue};
use std::{
    collections::HashMap,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Notify, mpsc},
    task::JoinSet,
};

/// Router serving one node.
pub fn router(node: Arc<Node>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/", get(ws_or_info).post(http_rpc).options(preflight))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(node)
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut res = (status, body).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Browser dapps and the explorer call the node from other origins.
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

async fn preflight() -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, GET, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    res
}

async fn http_rpc(State(node): State<Arc<Node>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            let err = RpcError::new(
                codes::INVALID_REQUEST,
                format!("request rejected: {}", rejection.body_text()),
            );
            let status = rejection.status();
            return json_response(
                status,
                error_response(Value::Null, &err).to_string().into_bytes(),
            );
        }
    };
    let mut out = Vec::new();
    answer_into(&node, &body, &mut out);
    json_response(StatusCode::OK, out)
}

async fn ws_or_info(
    State(node): State<Arc<Node>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match ws {
        Ok(ws) => ws.on_upgrade(move |socket| serve_socket(node, socket)),
        Err(_) => (
            StatusCode::OK,
            "arca-chain: send JSON-RPC 2.0 requests with POST, or open a WebSocket on this URL\n",
        )
            .into_response(),
    }
}

fn error_response(id: Value, err: &RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": err.to_json()})
}

/// One request, borrowed from the body: only `params` is parsed further, and only by the method
/// that needs it (most of a request's cost is building JSON trees nobody reads).
#[derive(serde::Deserialize)]
struct Request<'a> {
    #[serde(borrow, default)]
    jsonrpc: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
}

/// Handles a request body (single request or batch); `None` when nothing must be answered.
pub fn handle_text(node: &Node, body: &[u8]) -> Option<String> {
    let mut out = Vec::new();
    answer_into(node, body, &mut out)
        .then(|| String::from_utf8(out).expect("answers are built from UTF-8 JSON"))
}

/// Appends the answer to a request body (single request or batch) to `out`; `false`, with
/// nothing appended, when nothing must be answered (only notifications).
fn answer_into(node: &Node, body: &[u8], out: &mut Vec<u8>) -> bool {
    let text = match std::str::from_utf8(body) {
        Ok(t) => t.trim_start(),
        Err(_) => {
            let err = RpcError::new(codes::PARSE_ERROR, "parse error: the body is not UTF-8");
            push_value(out, &error_response(Value::Null, &err));
            return true;
        }
    };
    if !text.starts_with('[') {
        return answer_one(node, text, out);
    }
    let items: Vec<&RawValue> = match serde_json::from_str(text) {
        Ok(items) => items,
        Err(e) => {
            push_parse_error(out, e);
            return true;
        }
    };
    if items.is_empty() {
        let err = RpcError::new(codes::INVALID_REQUEST, "invalid request: empty batch");
        push_value(out, &error_response(Value::Null, &err));
        return true;
    }
    let start = out.len();
    out.push(b'[');
    for item in items {
        if answer_one(node, item.get(), out) {
            out.push(b',');
        }
    }
    if out.len() == start + 1 {
        // Only notifications: no answer at all, not an empty array (JSON-RPC 2.0 §6).
        out.truncate(start);
        return false;
    }
    *out.last_mut().expect("at least one answer") = b']';
    true
}

fn push_value(out: &mut Vec<u8>, value: &Value) {
    serde_json::to_writer(&mut *out, value).expect("a JSON value always serializes");
}

fn push_parse_error(out: &mut Vec<u8>, e: serde_json::Error) {
    let err = RpcError::new(codes::PARSE_ERROR, format!("parse error: {e}"));
    push_value(out, &error_response(Value::Null, &err));
}

/// `true` when `params` is absent, `null` or `[]`: what parameterless methods receive.
fn no_params(params: Option<&RawValue>) -> bool {
    params.is_none_or(|p| {
        let p = p.get();
        p == "[]" || p == "null" || (p.starts_with('[') && p[1..p.len() - 1].trim().is_empty())
    })
}

/// Appends the answer to one request object to `out`; `false` (nothing appended) for
/// notifications (no `id`).
fn answer_one(node: &Node, text: &str, out: &mut Vec<u8>) -> bool {
    let request: Request<'_> = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) if e.is_syntax() || e.is_eof() => {
            push_parse_error(out, e);
            return true;
        }
        Err(_) => {
            let err = RpcError::new(
                codes::INVALID_REQUEST,
                "invalid request: expected a JSON object with a method",
            );
            push_value(out, &error_response(Value::Null, &err));
            return true;
        }
    };
    let id = request.id.map(RawValue::get).unwrap_or("null");
    if let Some(version) = request.jsonrpc
        && version.get() != "\"2.0\""
    {
        let err = RpcError::new(
            codes::INVALID_REQUEST,
            "invalid request: jsonrpc must be \"2.0\"",
        );
        push_raw_error(out, id, &err);
        return true;
    }
    let Some(method) = request.method else {
        let err = RpcError::new(
            codes::INVALID_REQUEST,
            "invalid request: missing method name",
        );
        push_raw_error(out, id, &err);
        return true;
    };
    // Polled parameterless methods (eth_blockNumber, eth_chainId) are written directly; they have
    // no side effects, so a notification of one needs no work at all.
    if no_params(request.params) {
        if request.id.is_none() && node.write_polled_result(&method, &mut Vec::new()) {
            return false;
        }
        let mark = out.len();
        push_result_prefix(out, id);
        if node.write_polled_result(&method, out) {
            out.push(b'}');
            return true;
        }
        out.truncate(mark);
    }
    let params = match request
        .params
        .map(|p| serde_json::from_str::<Value>(p.get()))
        .transpose()
    {
        Ok(p) => p,
        Err(e) => {
            push_parse_error(out, e);
            return true;
        }
    };
    let result = node.dispatch(&method, params);
    if request.id.is_none() {
        return false;
    }
    match result {
        Ok(value) => {
            push_result_prefix(out, id);
            push_value(out, &value);
            out.push(b'}');
        }
        Err(err) => {
            tracing::debug!(target: "arca::chain::rpc", %method, code = err.code, message = %err.message, "rpc error");
            push_raw_error(out, id, &err);
        }
    }
    true
}

fn push_result_prefix(out: &mut Vec<u8>, id: &str) {
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(b",\"result\":");
}

fn push_raw_error(out: &mut Vec<u8>, id: &str, err: &RpcError) {
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(b",\"error\":");
    push_value(out, &err.to_json());
    out.push(b'}');
}

enum Subscription {
    NewHeads,
    Logs(Box<Filter>),
    PendingTransactions,
}

async fn serve_socket(node: Arc<Node>, mut socket: WebSocket) {
    let (out_tx, mut out_rx) = mpsc::channel::<String>(256);
    let mut subs: HashMap<U256, tokio::task::JoinHandle<()>> = HashMap::new();
    let mut next_id = 1u64;
    loop {
        tokio::select! {
            outgoing = out_rx.recv() => {
                let Some(text) = outgoing else { break };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => {
                let text = match incoming {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                };
                let answer = handle_ws_text(&node, &text, &out_tx, &mut subs, &mut next_id);
                if let Some(answer) = answer
                    && socket.send(Message::Text(answer.into())).await.is_err() {
                        break;
                    }
            }
        }
    }
    for (_, task) in subs {
        task.abort();
    }
}

fn handle_ws_text(
    node: &Arc<Node>,
    text: &str,
    out: &mpsc::Sender<String>,
    subs: &mut HashMap<U256, tokio::task::JoinHandle<()>>,
    next_id: &mut u64,
) -> Option<String> {
    // Subscriptions need the connection; everything else is the same as over HTTP.
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(text) else {
        return handle_text(node, text.as_bytes());
    };
    let method = obj
        .get("method")
        .and_then(|m| m.as_str())
        .unwrap_or_default();
    let id = obj.get("id").cloned().unwrap_or(Value::Null);
    let params = obj
        .get("params")
        .and_then(|p| p.as_array())
        .cloned()
        .unwrap_or_default();
    match method {
        "eth_subscribe" => {
            let kind = params.first().and_then(|k| k.as_str()).unwrap_or_default();
            let sub = match kind {
                "newHeads" => Subscription::NewHeads,
                "newPendingTransactions" => Subscription::PendingTransactions,
                "logs" => {
                    let filter = params.get(1).cloned().unwrap_or_else(|| json!({}));
                    match serde_json::from_value::<Filter>(filter) {
                        Ok(f) => Subscription::Logs(Box::new(f)),
                        Err(e) => {
                            let err = RpcError::invalid_params(format!(
                                "eth_subscribe: invalid logs filter: {e}"
                            ));
                            return Some(error_response(id, &err).to_string());
                        }
                    }
                }
                other => {
                    let err = RpcError::invalid_params(format!(
                        "eth_subscribe: unknown subscription {other:?}; use newHeads, logs or newPendingTransactions"
                    ));
                    return Some(error_response(id, &err).to_string());
                }
            };
            *next_id += 1;
            let sub_id = U256::from(*next_id) | (U256::from(0x5ab0u64) << 64);
            let task = tokio::spawn(run_subscription(node.clone(), sub_id, sub, out.clone()));
            subs.insert(sub_id, task);
            Some(json!({"jsonrpc": "2.0", "id": id, "result": sub_id}).to_string())
        }
        "eth_unsubscribe" => {
            let removed = params
                .first()
                .and_then(|v| serde_json::from_value::<U256>(v.clone()).ok())
                .and_then(|sid| subs.remove(&sid))
                .map(|task| task.abort())
                .is_some();
            Some(json!({"jsonrpc": "2.0", "id": id, "result": removed}).to_string())
        }
        _ => handle_text(node, text.as_bytes()),
    }
}

async fn run_subscription(node: Arc<Node>, id: U256, sub: Subscription, out: mpsc::Sender<String>) {
    let mut events = node
        .backend
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .subscribe();
    loop {
        let number = match events.recv().await {
            Ok(ChainEvent::NewBlock(n)) => n,
            Ok(ChainEvent::Reverted(_)) => continue,
            // Too slow a reader: skip what was missed rather than disconnect.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let results: Vec<Value> = {
            let backend = node.backend.read().unwrap_or_else(|p| p.into_inner());
            let Some(block) = backend.block(number) else {
                continue;
            };
            match &sub {
                Subscription::NewHeads => vec![rpc_header(block)],
                Subscription::PendingTransactions => {
                    block.txs.iter().map(|t| json!(t.hash)).collect()
                }
                Subscription::Logs(filter) => {
                    let mut logs = Vec::new();
                    filters::append_matching_logs(filter, block, &mut logs);
                    logs.into_iter()
                        .filter_map(|l| serde_json::to_value(l).ok())
                        .collect()
                }
            }
        };
        for result in results {
            let msg = json!({"jsonrpc": "2.0", "method": "eth_subscription", "params": {"subscription": id, "result": result}});
            if out.send(msg.to_string()).await.is_err() {
                return;
            }
        }
    }
}

/// What a serving loop shares: the node, the fallback router and the stop signal.
struct Shared {
    node: Arc<Node>,
    router: Router,
    max_body_bytes: usize,
    stopping: AtomicBool,
    stop: Notify,
}

/// Serves `listener` until `shutdown` resolves, then lets open connections finish their current
/// request (at most [`SHUTDOWN_GRACE`]) and closes them.
pub(crate) async fn serve(
    listener: TcpListener,
    node: Arc<Node>,
    max_body_bytes: usize,
    shutdown: impl Future<Output = ()>,
) {
    let shared = Arc::new(Shared {
        router: router(node.clone(), max_body_bytes),
        node,
        max_body_bytes,
        stopping: AtomicBool::new(false),
        stop: Notify::new(),
    });
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Small JSON answers must leave at once, not wait for Nagle's algorithm.
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_connection(stream, shared.clone()));
                }
                Err(err) if is_connection_error(&err) => {}
                Err(err) => {
                    // Out of file descriptors or the like: back off rather than spin on accept.
                    tracing::warn!(target: "arca::chain", %err, "accept failed; retrying in 100 ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                if let Err(err) = done
                    && err.is_panic()
                {
                    tracing::error!(target: "arca::chain", %err, "a connection handler panicked");
                }
            }
        }
    }
    drop(listener);
    shared.stopping.store(true, Ordering::Release);
    shared.stop.notify_waiters();
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(target: "arca::chain", open = connections.len(), "connections still busy after the shutdown grace period; closing them");
    }
}

/// How long a stopping server waits for requests in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// A request head larger than this is left to hyper (which answers 431).
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// More headers than this are left to hyper too (clients send about five).
const MAX_HEADERS: usize = 32;
/// Buffers that grew past this for one large request are not kept for the next ones.
const KEEP_BUFFER_BYTES: usize = 64 * 1024;

/// One connection on the fast path: keep-alive `POST /` requests with a `Content-Length`, parsed
/// in place from one read buffer; every complete request in it is answered into one write buffer,
/// so pipelined requests leave in a single write. Anything else hands the connection, bytes already
/// read included, to hyper serving the axum router.
async fn serve_connection(mut stream: TcpStream, shared: Arc<Shared>) {
    let stopped = shared.stop.notified();
    tokio::pin!(stopped);
    stopped.as_mut().enable();
    let mut input: Vec<u8> = Vec::with_capacity(4096);
    let mut output: Vec<u8> = Vec::with_capacity(4096);
    let mut body: Vec<u8> = Vec::with_capacity(256);
    loop {
        let mut consumed = 0;
        let mut close = false;
        let mut hand_off = false;
        while consumed < input.len() {
            match parse_head(&input[consumed..], shared.max_body_bytes) {
                Head::Complete {
                    head_len,
                    body_len,
                    close: last,
                } => {
                    let start = consumed + head_len;
                    body.clear();
                    answer_into(&shared.node, &input[start..start + body_len], &mut body);
                    push_json_response(&mut output, &body, last);
                    consumed = start + body_len;
                    if last {
                        close = true;
                        break;
                    }
                }
                Head::Partial { total } => {
                    // Room for the whole request at once rather than growing read by read (up
                    // to 1 MiB: a claimed length is not yet data, and idle claims must not pin
                    // memory; beyond that the buffer doubles as bytes arrive).
                    input.reserve(total.saturating_sub(input.len() - consumed).min(1 << 20));
                    break;
                }
                Head::Other => {
                    hand_off = true;
                    break;
                }
            }
        }
        if !output.is_empty() {
            if stream.write_all(&output).await.is_err() {
                return;
            }
            output.clear();
            if output.capacity() > KEEP_BUFFER_BYTES {
                output = Vec::with_capacity(4096);
            }
        }
        input.drain(..consumed);
        if hand_off {
            return serve_with_hyper(stream, input, &shared, stopped).await;
        }
        if close {
            let _ = stream.shutdown().await;
            return;
        }
        if input.is_empty() {
            if shared.stopping.load(Ordering::Acquire) {
                return;
            }
            if input.capacity() > KEEP_BUFFER_BYTES {
                input = Vec::with_capacity(4096);
            }
        }
        if input.capacity() - input.len() < 1024 {
            input.reserve(4096);
        }
        let read = tokio::select! {
            biased;
            read = stream.read_buf(&mut input) => read,
            // Idle when the server stops: close; a request in progress is finished first.
            () = stopped.as_mut(), if input.is_empty() => return,
        };
        if !matches!(read, Ok(n) if n > 0) {
            return;
        }
    }
}

/// Serves the rest of a connection with hyper and the axum router (WebSocket upgrades, `GET`,
/// `OPTIONS`, chunked bodies, oversized bodies, malformed heads…), replaying `buffered` first.
async fn serve_with_hyper(
    stream: TcpStream,
    buffered: Vec<u8>,
    shared: &Shared,
    stopped: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
) {
    let io = hyper_util::rt::TokioIo::new(Rewind {
        buffered,
        pos: 0,
        stream,
    });
    let service = hyper_util::service::TowerToHyperService::new(shared.router.clone());
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .serve_connection(io, service)
        .with_upgrades();
    tokio::pin!(conn);
    let served = tokio::select! {
        served = conn.as_mut() => served,
        () = stopped => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(err) = served {
        tracing::debug!(target: "arca::chain", %err, "connection ended with an error");
    }
}

/// A parsed request head at the start of a buffer.
#[derive(Debug, PartialEq)]
enum Head {
    /// A fast-path request whose body is fully buffered.
    Complete {
        head_len: usize,
        body_len: usize,
        /// The client asked to close the connection after this answer.
        close: bool,
    },
    /// Not all of it is buffered yet; `total` bytes make the whole request (0 = unknown yet).
    Partial { total: usize },
    /// Not for the fast path: hyper handles it (and answers errors with the right status).
    Other,
}

fn parse_head(buf: &[u8], max_body_bytes: usize) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD_BYTES => {
            return Head::Partial { total: 0 };
        }
        _ => return Head::Other,
    };
    let path = req.path.unwrap_or_default();
    if req.method != Some("POST")
        || req.version != Some(1)
        || !(path == "/" || path.starts_with("/?"))
    {
        return Head::Other;
    }
    let mut content_length = None;
    let mut close = false;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            if content_length.is_some() {
                return Head::Other;
            }
            match parse_length(h.value) {
                Some(n) => content_length = Some(n),
                None => return Head::Other,
            }
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|b| *b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"upgrade") {
                    return Head::Other;
                }
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding")
            || h.name.eq_ignore_ascii_case("expect")
            || h.name.eq_ignore_ascii_case("upgrade")
        {
            return Head::Other;
        }
    }
    let Some(body_len) = content_length.filter(|n| *n <= max_body_bytes) else {
        return Head::Other;
    };
    if buf.len() < head_len + body_len {
        return Head::Partial {
            total: head_len + body_len,
        };
    }
    Head::Complete {
        head_len,
        body_len,
        close,
    }
}

/// A `Content-Length` value: decimal digits only (no sign, no spaces inside), as RFC 9110 says.
fn parse_length(value: &[u8]) -> Option<usize> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 15 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        value
            .iter()
            .fold(0usize, |n, d| n * 10 + usize::from(d - b'0')),
    )
}

/// A 200 answer with a JSON body; the headers are the same as the router's.
fn push_json_response(out: &mut Vec<u8>, body: &[u8], close: bool) {
    out.extend_from_slice(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\naccess-control-allow-origin: *\r\ncontent-length: ",
    );
    push_decimal(out, body.len());
    out.extend_from_slice(b"\r\ndate: ");
    push_http_date(out);
    if close {
        out.extend_from_slice(b"\r\nconnection: close");
    }
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

fn push_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// The `Date` header (RFC 9110 §6.6.1: origin servers with a clock send it), formatted once per
/// second per thread.
fn push_http_date(out: &mut Vec<u8>) {
    thread_local! {
        static DATE: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((0, String::new())) };
    }
    let now = std::time::SystemTime::now();
    let secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    DATE.with_borrow_mut(|(at, text)| {
        if *at != secs || text.is_empty() {
            *at = secs;
            *text = httpdate::fmt_http_date(now);
        }
        out.extend_from_slice(text.as_bytes());
    });
}

/// The connection handed to hyper: replays the bytes the fast path already read, then reads on.
struct Rewind {
    buffered: Vec<u8>,
    pos: usize,
    stream: TcpStream,
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.pos < this.buffered.len() {
            let n = (this.buffered.len() - this.pos).min(buf.remaining());
            buf.put_slice(&this.buffered[this.pos..this.pos + n]);
            this.pos += n;
            if this.pos == this.buffered.len() {
                this.buffered = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 1024;

    fn post(body: &str, extra_headers: &str) -> Vec<u8> {
        format!(
            "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{extra_headers}content-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    #[test]
    fn fast_path_takes_plain_keep_alive_posts_only() {
        let req = post("{}", "");
        let head_len = req.len() - 2;
        assert_eq!(
            parse_head(&req, LIMIT),
            Head::Complete {
                head_len,
                body_len: 2,
                close: false
            }
        );
        // A query string still routes to `/`.
        let with_query =
            String::from_utf8(req.clone())
                .unwrap()
                .replacen("POST / ", "POST /?a=1 ", 1);
        assert!(matches!(
            parse_head(with_query.as_bytes(), LIMIT),
            Head::Complete { .. }
        ));
        assert_eq!(
            parse_head(&req[..head_len + 1], LIMIT),
            Head::Partial {
                total: head_len + 2
            }
        );
        assert_eq!(parse_head(&req[..10], LIMIT), Head::Partial { total: 0 });
        assert!(matches!(
            parse_head(&post("{}", "Connection: keep-alive, Close\r\n"), LIMIT),
            Head::Complete { close: true, .. }
        ));
        for other in [
            post("{}", "transfer-encoding: chunked\r\n"),
            post("{}", "expect: 100-continue\r\n"),
            post("{}", "connection: upgrade\r\nupgrade: websocket\r\n"),
            post("{}", "content-length: 2\r\n"),
            post(&"x".repeat(LIMIT + 1), ""),
            b"POST / HTTP/1.1\r\ncontent-length: +2\r\n\r\n{}".to_vec(),
            b"POST / HTTP/1.1\r\n\r\n".to_vec(),
            b"POST / HTTP/1.0\r\ncontent-length: 2\r\n\r\n{}".to_vec(),
            b"POST /other HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}".to_vec(),
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            b"OPTIONS / HTTP/1.1\r\n\r\n".to_vec(),
            b"NOT HTTP\r\n\r\n".to_vec(),
            [
                b"POST / HTTP/1.1\r\nx: ".as_slice(),
                &[b'a'; MAX_HEAD_BYTES],
            ]
            .concat(),
        ] {
            assert_eq!(
                parse_head(&other, LIMIT),
                Head::Other,
                "{}",
                String::from_utf8_lossy(&other[..other.len().min(80)])
            );
        }
    }

    #[test]
    fn response_head_is_well_formed() {
        let mut out = Vec::new();
        push_json_response(&mut out, b"{\"a\":1}", true);
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut res = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(head) = res.parse(&out).unwrap() else {
            panic!("incomplete head")
        };
        assert_eq!(res.code, Some(200));
        let get = |name: &str| {
            res.headers
                .iter()
                .find(|h| h.name == name)
                .map(|h| std::str::from_utf8(h.value).unwrap().to_string())
        };
        assert_eq!(get("content-length").as_deref(), Some("7"));
        assert_eq!(get("content-type").as_deref(), Some("application/json"));
        assert_eq!(get("access-control-allow-origin").as_deref(), Some("*"));
        assert_eq!(get("connection").as_deref(), Some("close"));
        assert!(httpdate::parse_http_date(&get("date").unwrap()).is_ok());
        assert_eq!(&out[head..], b"{\"a\":1}");
    }

    /// Reads `n` whole responses (Content-Length framed) and returns (status, body) pairs.
    async fn read_responses(stream: &mut TcpStream, n: usize) -> Vec<(u16, String)> {
        let mut buf = Vec::new();
        let mut answers = Vec::new();
        while answers.len() < n {
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut res = httparse::Response::new(&mut headers);
            if let Ok(httparse::Status::Complete(head)) = res.parse(&buf) {
                let len: usize = res
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
                    .unwrap_or(0);
                if buf.len() >= head + len {
                    let body = String::from_utf8(buf[head..head + len].to_vec()).unwrap();
                    answers.push((res.code.unwrap(), body));
                    buf.drain(..head + len);
                    continue;
                }
            }
            let read = tokio::time::timeout(Duration::from_secs(5), stream.read_buf(&mut buf))
                .await
                .expect("answer within 5 s")
                .unwrap();
            assert!(
                read > 0,
                "connection closed after {} answers",
                answers.len()
            );
        }
        answers
    }

    #[tokio::test]
    async fn pipelined_split_and_handed_off_requests_on_one_connection() {
        let node = crate::spawn(crate::NodeConfig::test()).await.unwrap();
        let mut stream = TcpStream::connect(node.addr()).await.unwrap();
        let call = |id: u32, method: &str| {
            post(
                &format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":[]}}"#),
                "",
            )
        };
        // Two pipelined requests in one write, then one split inside its head and its body.
        let mut bytes = [call(1, "eth_chainId"), call(2, "eth_blockNumber")].concat();
        let third = call(3, "eth_gasPrice");
        bytes.extend_from_slice(&third[..20]);
        stream.write_all(&bytes).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        stream.write_all(&third[20..third.len() - 5]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        stream.write_all(&third[third.len() - 5..]).await.unwrap();
        let answers = read_responses(&mut stream, 3).await;
        let ids: Vec<Value> = answers
            .iter()
            .map(|(status, body)| {
                assert_eq!(*status, 200);
                serde_json::from_str::<Value>(body).unwrap()
            })
            .collect();
        assert_eq!(
            ids[0],
            json!({"jsonrpc": "2.0", "id": 1, "result": "0x539"})
        );
        assert_eq!(ids[1], json!({"jsonrpc": "2.0", "id": 2, "result": "0x0"}));
        assert_eq!(ids[2]["id"], 3);
        assert!(ids[2]["result"].as_str().unwrap().starts_with("0x"));

        // A chunked request then a CORS preflight: hyper takes over the same connection.
        let chunked_body = r#"{"jsonrpc":"2.0","id":4,"method":"eth_chainId"}"#;
        let chunked = format!(
            "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{chunked_body}\r\n0\r\n\r\nOPTIONS / HTTP/1.1\r\nhost: x\r\n\r\n",
            chunked_body.len()
        );
        stream.write_all(chunked.as_bytes()).await.unwrap();
        let answers = read_responses(&mut stream, 2).await;
        assert_eq!(answers[0].0, 200);
        assert_eq!(
            serde_json::from_str::<Value>(&answers[0].1).unwrap()["result"],
            "0x539"
        );
        assert_eq!(answers[1].0, 204);

        // `Connection: close` is answered, then the server closes.
        let mut stream = TcpStream::connect(node.addr()).await.unwrap();
        let mut bytes = post(
            r#"{"jsonrpc":"2.0","id":5,"method":"eth_blockNumber"}"#,
            "connection: close\r\n",
        );
        bytes.extend_from_slice(&call(6, "eth_chainId"));
        stream.write_all(&bytes).await.unwrap();
        let answers = read_responses(&mut stream, 1).await;
        assert!(answers[0].1.contains("\"id\":5"));
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "nothing after the close: {rest:?}");

        // Notifications only: an empty 200, as before.
        let mut stream = TcpStream::connect(node.addr()).await.unwrap();
        let batch = r#"[{"jsonrpc":"2.0","method":"eth_blockNumber"},{"jsonrpc":"2.0","method":"eth_chainId","params":[]}]"#;
        stream.write_all(&post(batch, "")).await.unwrap();
        assert_eq!(
            read_responses(&mut stream, 1).await[0],
            (200, String::new())
        );
        node.shutdown().await;
    }
}
