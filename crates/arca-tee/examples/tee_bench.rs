//! Benchmark behind `scripts/bench.sh tee`: verifications per second with cold collateral (a
//! fresh verifier each time: the full Intel QVL path) and warm (collateral already verified and
//! cached; the quote and QE report signatures still checked every time), on the recorded Intel
//! vectors of dcap-qvl 0.7.1 and on dev quotes. The reference is dcap-qvl's one-shot `verify`.
//! Prints a Markdown table.
//!
//! Usage: `cargo run --release -p arca-tee --example tee_bench [-- --seconds S]`

#[path = "../tests/common/mod.rs"]
mod common;

use arca_tee::dev::DevPki;
use arca_tee::sim::SimEnclave;
use arca_tee::{Attester, Collateral, DcapVerifier, Evidence, Policy, Verifier};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// CPU time of the calling thread (Linux `/proc/thread-self/schedstat`, nanoseconds on CPU):
/// other builds share this 2-core machine, so rates per CPU-second are reported beside wall-clock
/// rates.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// A measured rate: calls per wall-clock second and per CPU second of the measuring thread.
#[derive(Debug, Clone, Copy)]
struct Rate {
    wall: f64,
    cpu: Option<f64>,
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.cpu {
            Some(cpu) => write!(f, "{:.0} ({:.0}/CPU-s)", self.wall, cpu),
            None => write!(f, "{:.0}", self.wall),
        }
    }
}

/// Runs `f` repeatedly for about `budget` (at least 20 times) and returns its rate.
fn rate(budget: Duration, mut f: impl FnMut()) -> Rate {
    // One untimed call: first-touch allocations and lazy tables are not what is measured.
    f();
    let (start, cpu_start) = (Instant::now(), thread_cpu());
    let mut n = 0u64;
    while n < 20 || start.elapsed() < budget {
        f();
        n += 1;
    }
    let wall = n as f64 / start.elapsed().as_secs_f64();
    let cpu = cpu_start
        .zip(thread_cpu())
        .map(|(a, b)| n as f64 / (b - a).as_secs_f64().max(1e-9));
    Rate { wall, cpu }
}

/// Warm rate with `threads` threads sharing one verifier: total verifications per wall second,
/// and the sum of the threads' per-CPU-second rates (what the cores deliver when not shared).
fn warm_parallel(
    v: &Arc<DcapVerifier>,
    e: &Evidence,
    c: &Collateral,
    now: u64,
    threads: usize,
    budget: Duration,
) -> Rate {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    rate(budget, || {
                        v.verify(e, c, now).expect("warm verification");
                    })
                })
            })
            .collect();
        let rates: Vec<Rate> = handles.into_iter().filter_map(|h| h.join().ok()).collect();
        Rate {
            wall: rates.iter().map(|r| r.wall).sum(),
            cpu: rates.iter().map(|r| r.cpu).sum(),
        }
    })
}

fn main() {
    let seconds: f64 = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.5);
    let budget = Duration::from_secs_f64(seconds);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    let pki = Arc::new(DevPki::default());
    let dev_now = 1_800_000_000;
    let dev_quote = SimEnclave::new(
        pki.clone(),
        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "/app/run",
    )
    .expect("sim enclave")
    .attest(&arca_tee::report_data::bind(&[7; 32], b"session-key"))
    .expect("dev quote");
    let mut cases: Vec<(&str, Evidence, Collateral, u64)> = [
        ("SGX v3 (Intel vector)", &common::SGX),
        ("TDX v4 (Intel vector)", &common::TDX_V4),
        ("TDX v5 TD1.5-ex (Intel vector)", &common::TDX_V5),
    ]
    .into_iter()
    .map(|(name, v)| {
        let (e, c, now) = common::load(v);
        (name, e, c, now)
    })
    .collect();
    cases.push((
        "TDX v4 dev quote (Arca dev root)",
        dev_quote,
        pki.collateral(dev_now - 3600),
        dev_now,
    ));

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "Load average at start: {} (2 cores shared with other builds: per-CPU-second rates show the unshared cost).\n",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "| quote | dcap-qvl one-shot verify/s (reference) | Arca cold/s | Arca warm/s (1 thread) | Arca warm/s ({threads} threads) |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (name, evidence, collateral, now) in &cases {
        let dev = name.contains("dev");
        let make = || {
            let v = DcapVerifier::new(Policy::production());
            if dev {
                v.with_dev_root(pki.root_der().to_vec())
            } else {
                v
            }
        };
        let reference = rate(budget, || {
            let result = if dev {
                dcap_qvl::verify::QuoteVerifier::new(pki.root_der().to_vec()).verify(
                    evidence.quote(),
                    collateral.as_dcap(),
                    *now,
                )
            } else {
                dcap_qvl::verify::rustcrypto::verify(evidence.quote(), collateral.as_dcap(), *now)
            };
            result.expect("reference verification");
        });
        let cold = rate(budget, || {
            make()
                .verify(evidence, collateral, *now)
                .expect("cold verification");
        });
        let warm_verifier = Arc::new(make());
        warm_verifier
            .verify(evidence, collateral, *now)
            .expect("priming verification");
        let warm = rate(budget, || {
            warm_verifier
                .verify(evidence, collateral, *now)
                .expect("warm verification");
        });
        let parallel = warm_parallel(&warm_verifier, evidence, collateral, *now, threads, budget);
        let stats = warm_verifier.cache_stats();
        assert_eq!(stats.misses, 1, "warm runs must all hit the cache");
        println!("| {name} | {reference} | {cold} | {warm} | {parallel} |");
    }
}
