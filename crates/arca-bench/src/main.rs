//! `arca-bench`: load generators used by `scripts/bench.sh`. Each subcommand measures one JSON-RPC
//! endpoint and prints one JSON object of figures on stdout, so the script can run the same
//! measurement against Arca and against its reference (anvil) in one run and print a table.

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    network::TxSignerSync,
    primitives::{Address, Bytes, TxKind, U256},
    signers::local::PrivateKeySigner,
    transports::http::reqwest,
};
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use std::{
    sync::Arc,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

/// Standard dev key #0 (`test test … junk`, m/44'/60'/0'/0/0): funded on anvil and Arca alike.
const DEV_KEY_0: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

#[derive(Debug, Parser)]
#[command(about = "JSON-RPC load generator for scripts/bench.sh")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Requests per second of one method with N concurrent keep-alive clients.
    Rps {
        /// Node URL.
        #[arg(long)]
        url: String,
        /// Method to call (params `[]`), or `call` for an eth_call of a view function.
        #[arg(long, default_value = "eth_blockNumber")]
        method: String,
        /// Concurrent clients.
        #[arg(long, default_value_t = 1)]
        clients: usize,
        /// Measurement duration in seconds (after a 1 s warm-up).
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Contract to eth_call (for `--method call`): `counter()` of ChainProbe.
        #[arg(long)]
        contract: Option<Address>,
    },
    /// Signed EIP-1559 value transfers, each sent and then its receipt fetched, one after another.
    Transfers {
        /// Node URL.
        #[arg(long)]
        url: String,
        /// Number of transfers.
        #[arg(long, default_value_t = 2000)]
        count: u64,
    },
    /// Deploys ChainProbe (bytecode given in hex) and prints its address.
    Deploy {
        /// Node URL.
        #[arg(long)]
        url: String,
        /// Init code, 0x-hex.
        #[arg(long)]
        code: Bytes,
    },
}

struct Rpc {
    http: reqwest::Client,
    url: String,
}

impl Rpc {
    fn new(url: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .expect("client"),
            url: url.to_string(),
        }
    }

    async fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let answer: Value = self
            .http
            .post(&self.url)
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        match answer.get("result") {
            Some(r) => Ok(r.clone()),
            None => bail!("{method} failed: {answer}"),
        }
    }
}

fn hex_u64(v: &Value) -> anyhow::Result<u64> {
    let s = v.as_str().context("expected a hex string")?;
    Ok(u64::from_str_radix(s.trim_start_matches("0x"), 16)?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Rps {
            url,
            method,
            clients,
            seconds,
            contract,
        } => {
            let (method, params) = if method == "call" {
                let to = contract.context("--method call needs --contract")?;
                // counter() of ChainProbe.
                (
                    "eth_call".to_string(),
                    json!([{"to": to, "data": "0x61bc221a"}, "latest"]),
                )
            } else {
                (method, json!([]))
            };
            let figures = rps(
                &url,
                &method,
                params,
                clients,
                Duration::from_secs_f64(seconds),
            )
            .await?;
            println!("{figures}");
        }
        Command::Transfers { url, count } => println!("{}", transfers(&url, count).await?),
        Command::Deploy { url, code } => println!("{}", deploy(&url, code).await?),
    }
    Ok(())
}

/// Requests/s with N keep-alive connections speaking raw HTTP/1.1 (like wrk): the request bytes are
/// built once and answers are only framed, not parsed, so the client costs far less than the
/// server and the figure measures the node.
async fn rps(
    url: &str,
    method: &str,
    params: Value,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Value> {
    use tokio::io::AsyncWriteExt;
    // One real call first: fail loudly if the method does not work.
    Rpc::new(url).call(method, params.clone()).await?;
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let request = Arc::new(
        format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    );
    let done = Arc::new(AtomicU64::new(0));
    let warmup = Duration::from_secs(1);
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (done, request, addr) = (done.clone(), request.clone(), addr.clone());
            tokio::spawn(async move {
                let mut stream = tokio::net::TcpStream::connect(&addr).await?;
                stream.set_nodelay(true)?;
                let mut buf = vec![0u8; 64 * 1024];
                let mut latencies = Vec::new();
                while start.elapsed() < warmup + duration {
                    let t = Instant::now();
                    stream.write_all(&request).await?;
                    read_http_response(&mut stream, &mut buf).await?;
                    if start.elapsed() > warmup {
                        done.fetch_add(1, Ordering::Relaxed);
                        latencies.push(t.elapsed());
                    }
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1e3)
            .unwrap_or_default()
    };
    let n = done.load(Ordering::Relaxed);
    Ok(
        json!({"requests": n, "per_second": n as f64 / duration.as_secs_f64(), "p50_ms": pct(0.5), "p99_ms": pct(0.99)}),
    )
}

/// Reads one HTTP/1.1 response (headers + Content-Length body) from a keep-alive stream.
async fn read_http_response(
    stream: &mut tokio::net::TcpStream,
    buf: &mut [u8],
) -> anyhow::Result<()> {
    use tokio::io::AsyncReadExt;
    let mut filled = 0usize;
    loop {
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            bail!("connection closed by the node");
        }
        filled += n;
        let Some(header_end) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let headers = std::str::from_utf8(&buf[..header_end])?;
        let length: usize = headers
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .context("response without content-length")?;
        let total = header_end + 4 + length;
        if total > buf.len() {
            bail!("response larger than the read buffer");
        }
        while filled < total {
            let n = stream.read(&mut buf[filled..total]).await?;
            if n == 0 {
                bail!("connection closed mid-response");
            }
            filled += n;
        }
        return Ok(());
    }
}

async fn transfers(url: &str, count: u64) -> anyhow::Result<Value> {
    let rpc = Rpc::new(url);
    let signer: PrivateKeySigner = DEV_KEY_0.parse()?;
    let chain_id = hex_u64(&rpc.call("eth_chainId", json!([])).await?)?;
    let mut nonce = hex_u64(
        &rpc.call(
            "eth_getTransactionCount",
            json!([signer.address(), "latest"]),
        )
        .await?,
    )?;
    let start = Instant::now();
    for i in 0..count {
        let mut tx = TxEip1559 {
            chain_id,
            nonce,
            // Generous fee cap: base fees fall block after block on an idle dev chain.
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            gas_limit: 21_000,
            to: TxKind::Call(Address::with_last_byte((i % 200) as u8 + 1)),
            value: U256::from(1),
            ..Default::default()
        };
        let sig = signer.sign_transaction_sync(&mut tx)?;
        let raw = Bytes::from(TxEnvelope::from(tx.into_signed(sig)).encoded_2718());
        let hash = rpc.call("eth_sendRawTransaction", json!([raw])).await?;
        // Wait for the receipt like a client does (automine: usually there at once).
        loop {
            if !rpc
                .call("eth_getTransactionReceipt", json!([hash]))
                .await?
                .is_null()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        nonce += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(json!({"transfers": count, "seconds": secs, "per_second": count as f64 / secs}))
}

async fn deploy(url: &str, code: Bytes) -> anyhow::Result<Value> {
    let rpc = Rpc::new(url);
    let signer: PrivateKeySigner = DEV_KEY_0.parse()?;
    let chain_id = hex_u64(&rpc.call("eth_chainId", json!([])).await?)?;
    let nonce = hex_u64(
        &rpc.call(
            "eth_getTransactionCount",
            json!([signer.address(), "latest"]),
        )
        .await?,
    )?;
    let mut tx = TxEip1559 {
        chain_id,
        nonce,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        gas_limit: 3_000_000,
        to: TxKind::Create,
        input: code,
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx)?;
    let raw = Bytes::from(TxEnvelope::from(tx.into_signed(sig)).encoded_2718());
    let hash = rpc.call("eth_sendRawTransaction", json!([raw])).await?;
    for _ in 0..1000 {
        let receipt = rpc.call("eth_getTransactionReceipt", json!([hash])).await?;
        if let Some(address) = receipt.get("contractAddress").and_then(|a| a.as_str()) {
            return Ok(json!({"address": address}));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bail!("deployment {hash} not mined")
}
