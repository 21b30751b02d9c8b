//! The client against real network failures: a TCP proxy in front of the store cuts the first
//! connection mid-transfer (the download resumes with a Range request in the same call, the
//! upload is retried whole and the store drops the interrupted temp file), and an upload started
//! before the store listens succeeds once it does (connection refused is retried).

mod common;

use alloy::primitives::Address;
use arca_storage::{Cid, Client, Receipt};
use common::{Fx, config, content};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// The bytes a client sent on one connection (its first 4 KiB).
type Log = Arc<Mutex<Vec<u8>>>;
/// One log per accepted connection, in order.
type Logs = Arc<Mutex<Vec<Log>>>;

/// Copies until EOF, or cuts after `limit` bytes (returns true); logs the first 4 KiB.
async fn pipe(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    limit: Option<usize>,
    log: Log,
) -> bool {
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return false;
            }
            Ok(n) => n,
        };
        {
            let mut log = log.lock().unwrap();
            let room = 4096usize.saturating_sub(log.len()).min(n);
            log.extend_from_slice(&buf[..room]);
        }
        if let Some(limit) = limit
            && total + n >= limit
        {
            let _ = to.write_all(&buf[..limit - total]).await;
            return true;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return false;
        }
        total += n;
    }
}

/// A proxy to `upstream` whose first connection is cut after `request_limit` bytes sent or
/// `response_limit` bytes received; returns its address and each connection's request log.
async fn cutting_proxy(
    upstream: SocketAddr,
    request_limit: Option<usize>,
    response_limit: Option<usize>,
) -> (SocketAddr, Logs) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let logs: Logs = Arc::default();
    let seen = logs.clone();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((client, _)) = listener.accept().await {
            let up = TcpStream::connect(upstream).await.unwrap();
            let (cut_req, cut_resp) = if first {
                (request_limit, response_limit)
            } else {
                (None, None)
            };
            first = false;
            let log = Arc::new(Mutex::new(Vec::new()));
            seen.lock().unwrap().push(log.clone());
            let (cr, cw) = client.into_split();
            let (ur, uw) = up.into_split();
            tokio::spawn(async move {
                let mut a = tokio::spawn(pipe(cr, uw, cut_req, log));
                let mut b = tokio::spawn(pipe(ur, cw, cut_resp, Arc::default()));
                // a cut closes the whole connection: abort the other direction (drops its halves)
                tokio::select! {
                    cut = &mut a => if cut.unwrap_or(false) { b.abort() } else { let _ = b.await; },
                    cut = &mut b => if cut.unwrap_or(false) { a.abort() } else { let _ = a.await; },
                }
            });
        }
    });
    (addr, logs)
}

fn request_head(log: &Log) -> String {
    String::from_utf8_lossy(&log.lock().unwrap()).to_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_cut_mid_way_are_resumed_or_retried_in_the_same_call() {
    let fx = Fx::start().await;
    let data = content(3 * 1024 * 1024, 11);
    let cid = Cid::of(&data);

    // upload cut after 512 KiB of the request: the client retries, the store cleans up
    let (proxy, logs) = cutting_proxy(fx.store.addr(), Some(512 * 1024), None).await;
    let client = Client::new(format!("http://{proxy}"))
        .unwrap()
        .with_retries(4, Duration::from_millis(50));
    let receipt = client
        .upload(
            fx.task,
            data.clone(),
            &fx.worker,
            fx.authorization.clone(),
            Address::ZERO,
        )
        .await
        .unwrap();
    assert_eq!(receipt, Receipt::new(cid, data.len() as u64));
    assert_eq!(logs.lock().unwrap().len(), 2, "one cut attempt, one retry");
    let tmp = fx.dir.path().join("tmp");
    let mut left = usize::MAX;
    for _ in 0..50 {
        left = std::fs::read_dir(&tmp).unwrap().count();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left, 0, "the interrupted upload's temp file is removed");

    // download cut after 1 MiB of the response: resumed with a Range request in the same call
    let (proxy, logs) = cutting_proxy(fx.store.addr(), None, Some(1024 * 1024)).await;
    let client = Client::new(format!("http://{proxy}"))
        .unwrap()
        .with_retries(4, Duration::from_millis(50));
    let dest = fx.dir.path().join("result.zip");
    let got = client
        .download(&receipt.location, &dest, |_, _| {})
        .await
        .unwrap();
    assert_eq!(got, receipt);
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    let logs = logs.lock().unwrap();
    assert_eq!(logs.len(), 2, "one cut connection, one resumed");
    assert!(!request_head(&logs[0]).contains("range:"));
    let second = request_head(&logs[1]);
    let offset: u64 = second
        .split("range: bytes=")
        .nth(1)
        .and_then(|r| r.split('-').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the retry asks a range: {second}"));
    assert!(
        offset > 0 && offset < data.len() as u64,
        "resumed from {offset}, not from the start"
    );
    assert!(second.contains(&format!("if-range: \"{cid}\"")), "{second}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_waits_for_a_store_that_is_starting() {
    let fx = Fx::start().await;
    // a port nobody listens on yet
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let client = Client::new(&url)
        .unwrap()
        .with_retries(8, Duration::from_millis(100));
    let data = content(100_000, 21);
    let upload = {
        let (client, data, worker, auth, task) = (
            client.clone(),
            data.clone(),
            fx.worker.clone(),
            fx.authorization.clone(),
            fx.task,
        );
        tokio::spawn(async move {
            client
                .upload(task, data, &worker, auth, Address::ZERO)
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&fx.stack, dir.path(), 1 << 20);
    cfg.listen = SocketAddr::from(([127, 0, 0, 1], port));
    let late = arca_storage::spawn(cfg).await.unwrap();
    let receipt = upload.await.unwrap().unwrap();
    assert_eq!(receipt.cid, Cid::of(&data));
    assert_eq!(client.lookup(fx.task).await.unwrap(), Some(receipt));

    // and gives up, naming the URL, when nothing ever answers
    late.shutdown().await;
    let gone = Client::new(&url)
        .unwrap()
        .with_retries(2, Duration::from_millis(10));
    let e = gone.lookup(fx.task).await.unwrap_err();
    assert_eq!(e.check(), "unreachable");
    assert!(e.to_string().contains(&url), "{e}");

    // a server that is not a result store (here the chain's JSON-RPC): an error, never "no result"
    let wrong = Client::new(fx.stack.rpc.trim_end_matches('/'))
        .unwrap()
        .with_retries(1, Duration::from_millis(10));
    let e = wrong.lookup(fx.task).await.unwrap_err();
    assert!(
        e.to_string().contains(fx.stack.rpc.trim_end_matches('/')),
        "{e}"
    );
}
