//! Throughput and memory of the result store over real HTTP on loopback: Arca's in-process
//! chain with PoCo, a matched deal, a store on a temp directory, then one upload of a
//! `--mib`-sized archive streamed from a file, a full download, and `--small` small uploads
//! (one task each) one at a time for the per-upload latency (chain reads included).
//!
//! The peak resident memory (VmHWM) is printed before and after the large transfer: it must not
//! grow by the archive size (bodies are streamed, never buffered).
//!
//! Prints a Markdown table. Usage: `cargo run --release -p arca-storage --example storage_load --
//! [--mib N] [--small N]`.

#[path = "../tests/common/mod.rs"]
mod common;

use alloy::primitives::Address;
use arca_storage::Client;
use arca_testkit::{DealSpec, Stack};
use common::{Fx, authorize, content};
use std::io::Write;
use std::time::Instant;

fn arg(name: &str, default: u64) -> u64 {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter()
        .position(|a| a == name)
        .and_then(|i| argv.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident set size of this process, in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mib = arg("--mib", 256);
    let small = arg("--small", 50);
    let fx = Fx::start_with_limit((mib + 1) << 20).await;

    // the archive on disk, written in 1 MiB slices so the generator itself stays small
    let src = fx.dir.path().join("big.zip");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&src).unwrap());
        for i in 0..mib {
            f.write_all(&content(1 << 20, i + 1)).unwrap();
        }
    }
    let rss_before = peak_rss_mib();
    let t = Instant::now();
    let receipt = fx
        .client
        .upload(
            fx.task,
            src.as_path(),
            &fx.worker,
            fx.authorization.clone(),
            Address::ZERO,
        )
        .await
        .unwrap();
    let up = t.elapsed().as_secs_f64();
    let dest = fx.dir.path().join("back.zip");
    let t = Instant::now();
    fx.client
        .download(&receipt.location, &dest, |_, _| {})
        .await
        .unwrap();
    let down = t.elapsed().as_secs_f64();
    let rss_after = peak_rss_mib();
    assert_eq!(
        std::fs::metadata(&dest).unwrap().len(),
        receipt.size,
        "downloaded size"
    );

    // small uploads: one task each, on a deal of `small` tasks
    let stack: &Stack = &fx.stack;
    let app = stack
        .app("load-app", "arca/app:1", Default::default(), "")
        .await;
    let pool = stack.workerpool("load-pool").await;
    let mut spec = DealSpec::new(stack, app, pool);
    spec.volume = small.max(1);
    let deal = stack.deal(&spec).await;
    let mut tasks = Vec::new();
    for i in 0..small {
        tasks.push(stack.initialize(deal, i).await);
    }
    let client = Client::new(fx.store.url()).unwrap();
    let mut latencies = Vec::new();
    for (i, task) in tasks.iter().enumerate() {
        let auth = authorize(&stack.actors.scheduler, fx.worker.address(), *task);
        let body = content(16 * 1024, 1000 + i as u64);
        let t = Instant::now();
        client
            .upload(*task, body, &fx.worker, auth, Address::ZERO)
            .await
            .unwrap();
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };

    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| upload {mib} MiB (file → store, sha256 both sides, fsync) | {up:.2} s, {:.0} MiB/s |",
        mib as f64 / up
    );
    println!(
        "| download {mib} MiB (store → .part, sha256 check, rename) | {down:.2} s, {:.0} MiB/s |",
        mib as f64 / down
    );
    println!(
        "| peak RSS before / after the transfers | {rss_before:.0} MiB / {rss_after:.0} MiB |"
    );
    println!(
        "| {} uploads of 16 KiB, one at a time: p50 / p99 | {:.1} ms / {:.1} ms |",
        latencies.len(),
        pct(0.5),
        pct(0.99)
    );
}
