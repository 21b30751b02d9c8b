//! HTTP and WebSocket transport on one port: JSON-RPC 2.0 requests and batches over `POST /`,
//! `eth_subscribe` over a WebSocket upgrade of `GET /`. Malformed input becomes a JSON-RPC error,
//! never a crash.

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
use std::{collections::HashMap, sync::Arc};
use tokio::sync::mpsc;

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
    match handle_text(&node, &body) {
        Some(out) => json_response(StatusCode::OK, out.into_bytes()),
        None => json_response(StatusCode::OK, Vec::new()),
    }
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
    let text = match std::str::from_utf8(body) {
        Ok(t) => t.trim_start(),
        Err(_) => {
            let err = RpcError::new(codes::PARSE_ERROR, "parse error: the body is not UTF-8");
            return Some(error_response(Value::Null, &err).to_string());
        }
    };
    if text.starts_with('[') {
        let items: Vec<&RawValue> = match serde_json::from_str(text) {
            Ok(items) => items,
            Err(e) => return Some(parse_error(e)),
        };
        if items.is_empty() {
            let err = RpcError::new(codes::INVALID_REQUEST, "invalid request: empty batch");
            return Some(error_response(Value::Null, &err).to_string());
        }
        let answers: Vec<String> = items
            .into_iter()
            .filter_map(|r| handle_one(node, r.get()))
            .collect();
        if answers.is_empty() {
            None
        } else {
            Some(format!("[{}]", answers.join(",")))
        }
    } else {
        handle_one(node, text)
    }
}

fn parse_error(e: serde_json::Error) -> String {
    let err = RpcError::new(codes::PARSE_ERROR, format!("parse error: {e}"));
    error_response(Value::Null, &err).to_string()
}

/// Handles one request object; `None` for notifications (no `id`).
fn handle_one(node: &Node, text: &str) -> Option<String> {
    let request: Request<'_> = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) if e.is_syntax() || e.is_eof() => return Some(parse_error(e)),
        Err(_) => {
            let err = RpcError::new(
                codes::INVALID_REQUEST,
                "invalid request: expected a JSON object with a method",
            );
            return Some(error_response(Value::Null, &err).to_string());
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
        return Some(raw_error(id, &err));
    }
    let Some(method) = request.method else {
        let err = RpcError::new(
            codes::INVALID_REQUEST,
            "invalid request: missing method name",
        );
        return Some(raw_error(id, &err));
    };
    let params = match request
        .params
        .map(|p| serde_json::from_str::<Value>(p.get()))
        .transpose()
    {
        Ok(p) => p,
        Err(e) => return Some(parse_error(e)),
    };
    let result = node.dispatch(&method, params);
    request.id?;
    Some(match result {
        Ok(value) => {
            let mut out = String::with_capacity(64);
            out.push_str("{\"jsonrpc\":\"2.0\",\"id\":");
            out.push_str(id);
            out.push_str(",\"result\":");
            out.push_str(&value.to_string());
            out.push('}');
            out
        }
        Err(err) => {
            tracing::debug!(target: "arca::chain::rpc", %method, code = err.code, message = %err.message, "rpc error");
            raw_error(id, &err)
        }
    })
}

fn raw_error(id: &str, err: &RpcError) -> String {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":{}}}",
        err.to_json()
    )
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
