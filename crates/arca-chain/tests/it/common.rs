//! Shared fixtures: a node on a random port, a wallet-backed alloy provider, the ChainProbe contract.

use alloy::{
    network::EthereumWallet,
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
    sol,
};
use arca_chain::{NodeConfig, NodeHandle};

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    ChainProbe,
    "../../contracts/artifacts/ChainProbe.json"
);

/// Starts an in-memory node on a free port.
pub async fn node() -> NodeHandle {
    arca_chain::spawn(NodeConfig::test())
        .await
        .expect("node starts")
}

/// A provider that signs with `signer` (fills nonce, gas and EIP-1559 fees like any dapp).
pub fn provider(url: &str, signer: PrivateKeySigner) -> DynProvider {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url.parse().expect("valid url"))
        .erased()
}

/// A raw JSON-RPC call, for what typed clients cannot express (bad input, dev methods).
pub async fn raw(url: &str, body: serde_json::Value) -> serde_json::Value {
    let res = reqwest_post(url, body.to_string()).await;
    serde_json::from_str(&res).unwrap_or_else(|e| panic!("not JSON ({e}): {res}"))
}

/// POSTs a body and returns the text (no JSON parsing, so malformed answers show).
pub async fn reqwest_post(url: &str, body: String) -> String {
    use alloy::transports::http::reqwest;
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request sent")
        .text()
        .await
        .expect("body read")
}

/// Calls a method with params and returns `result`, panicking on an error answer.
pub async fn call(url: &str, method: &str, params: serde_json::Value) -> serde_json::Value {
    let answer = raw(
        url,
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
    )
    .await;
    match answer.get("result") {
        Some(r) => r.clone(),
        None => panic!("{method} failed: {answer}"),
    }
}

/// Sends `increment(by, 0)` and waits for its receipt.
pub async fn increment<P: Provider>(
    probe: &ChainProbe::ChainProbeInstance<P>,
    by: u64,
) -> alloy::rpc::types::TransactionReceipt {
    probe
        .increment(
            alloy::primitives::U256::from(by),
            alloy::primitives::B256::ZERO,
        )
        .send()
        .await
        .expect("increment sent")
        .get_receipt()
        .await
        .expect("increment mined")
}

/// Timestamp of the latest block.
pub async fn latest_timestamp(p: &DynProvider) -> u64 {
    p.get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .expect("rpc answers")
        .expect("latest block exists")
        .header
        .timestamp
}

/// Number of items in an array result.
pub async fn result_len(url: &str, method: &str, params: serde_json::Value) -> usize {
    call(url, method, params)
        .await
        .as_array()
        .expect("an array result")
        .len()
}
