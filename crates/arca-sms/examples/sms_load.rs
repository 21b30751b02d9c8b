//! Load generator of `scripts/bench.sh sms`: Arca's in-process chain with the PoCo contracts,
//! an SMS on a SQLite file (WAL, as deployed) in `--dev` mode, TEE tasks whose release carries a
//! dataset key, an app developer secret and a requester secret, then over real HTTP:
//!
//! 1. attested releases — one per session, each verifying a (sim) DCAP quote;
//! 2. follow-up releases — the same sessions' enclaves asking again, each request signed by the
//!    attested session key over an increasing counter (signatures made before timing: the
//!    enclave's cost is not the SMS's), `--concurrency` requests in flight;
//! 3. push and existence-check latency, one request at a time.
//!
//! Prints a Markdown table. Usage: `cargo run --release -p arca-sms --example sms_load --
//! [--seconds S] [--sessions N] [--concurrency C]`.

#[path = "../tests/common/mod.rs"]
mod common;

use alloy::primitives::B256;
use alloy::signers::local::PrivateKeySigner;
use arca_sms::SecretStore as _;
use common::{APP_IMAGE, Fx};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Args {
    seconds: f64,
    sessions: usize,
    concurrency: usize,
}

fn args() -> Args {
    let mut a = Args {
        seconds: 5.0,
        sessions: 64,
        concurrency: 32,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        let bad = |what: &str| -> ! {
            eprintln!("{} needs {what}, got `{value}`", argv[i]);
            std::process::exit(2)
        };
        match argv[i].as_str() {
            "--seconds" => a.seconds = value.parse().unwrap_or_else(|_| bad("a number")),
            "--sessions" => a.sessions = value.parse().unwrap_or_else(|_| bad("an integer")),
            "--concurrency" => a.concurrency = value.parse().unwrap_or_else(|_| bad("an integer")),
            other => {
                eprintln!(
                    "unknown option `{other}`; options: --seconds S --sessions N --concurrency C"
                );
                std::process::exit(2)
            }
        }
        i += 2;
    }
    a
}

/// CPU seconds (user + system) this process has used, from `/proc/self/stat` (clock ticks of
/// 1/100 s): with other work on the machine, wall-clock rates understate what the SMS does.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // fields after the `(comm)`: state is field 3, utime 14, stime 15
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(a));
}

async fn run(a: Args) {
    let fx = Arc::new(Fx::new().await);
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = *fx.hub.address();
    let (sms, store) = common::start_sms_on_file(
        &fx.rpc,
        hub,
        &dir.path().join("sms.db"),
        Duration::from_secs(1),
    )
    .await;
    let url = sms.url();
    let http = reqwest::Client::new();

    // secrets: the dataset key, the app developer secret, a requester secret
    let push = |path: String, sig: String, value: &'static str| {
        let http = http.clone();
        async move {
            let (status, body) = common::call(&http, &path, "POST", Some(sig), value).await;
            assert_eq!(status, 204, "{body}");
        }
    };
    push(
        format!("{url}/secrets/web3?secretAddress={}", fx.dataset),
        Fx::sig(
            &fx.dataset_owner,
            arca_sms::auth::web3_challenge(fx.dataset, b"ZGF0YXNldC1rZXk="),
        ),
        "ZGF0YXNldC1rZXk=",
    )
    .await;
    push(
        format!("{url}/apps/{}/secrets", fx.tee_app),
        Fx::sig(
            &fx.app_owner,
            arca_sms::auth::named_challenge(fx.tee_app, "1", b"app-dev-secret"),
        ),
        "app-dev-secret",
    )
    .await;
    push(
        format!("{url}/requesters/{}/secrets/mail", fx.requester.address()),
        Fx::sig(
            &fx.requester,
            arca_sms::auth::named_challenge(fx.requester.address(), "mail", b"alice@example.org"),
        ),
        "alice@example.org",
    )
    .await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        tasks.push(
            fx.task(
                fx.tee_app,
                true,
                true,
                r#"{"iexec_secrets":{"1":"mail"}}"#,
                &fx.requester,
                true,
            )
            .await,
        );
    }
    let t0 = Instant::now();
    let mut sessions: Vec<(B256, String, PrivateKeySigner)> = Vec::new();
    for i in 0..a.sessions {
        let task = tasks[i % tasks.len()];
        sessions.push((
            task,
            fx.open_session_at(&url, task).await,
            PrivateKeySigner::random(),
        ));
    }
    let session_rate = a.sessions as f64 / t0.elapsed().as_secs_f64();

    // 1. attested releases (quote verification), `concurrency` at a time
    let t0 = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let sessions = Arc::new(sessions);
    let mut workers = Vec::new();
    for _ in 0..a.concurrency.min(a.sessions) {
        let (fx, sessions, next, url) = (fx.clone(), sessions.clone(), next.clone(), url.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((task, session, key)) = sessions.get(i) else {
                    break;
                };
                let (status, body) = fx
                    .release_at(&url, session, *task, APP_IMAGE, key, key)
                    .await;
                assert_eq!(status, 200, "{body}");
            }
        }));
    }
    for w in workers {
        w.await.expect("worker");
    }
    let attested_rate = a.sessions as f64 / t0.elapsed().as_secs_f64();

    // 2. follow-up releases: pre-signed counters, each worker drives its own sessions in order
    // enough signed requests for 10,000 releases/s over the whole run
    let per_session = (a.seconds * 10_000.0) as usize / a.sessions.max(1) + 1;
    eprintln!(
        "signing {} follow-up requests ({} per session)…",
        per_session * a.sessions,
        per_session
    );
    let mut signed: Vec<Vec<String>> = Vec::new();
    for (_, session, key) in sessions.iter() {
        signed.push(
            (1..=per_session as u64)
                .map(|counter| {
                    serde_json::json!({
                        "counter": counter,
                        "signature": Fx::sig(key, arca_sms::tee::follow_up_challenge(session, counter)),
                    })
                    .to_string()
                })
                .collect(),
        );
    }
    let signed = Arc::new(signed);
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
    let t0 = Instant::now();
    let cpu0 = cpu_seconds();
    let mut workers = Vec::new();
    let c = a.concurrency.min(a.sessions).max(1);
    for w in 0..c {
        let (sessions, signed, url, http) =
            (sessions.clone(), signed.clone(), url.clone(), http.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mine: Vec<usize> = (w..sessions.len()).step_by(c).collect();
            let mut cursor = vec![0usize; mine.len()];
            'outer: while Instant::now() < deadline {
                for (k, &s) in mine.iter().enumerate() {
                    let Some(body) = signed[s].get(cursor[k]) else {
                        break 'outer;
                    };
                    cursor[k] += 1;
                    let started = Instant::now();
                    let resp = http
                        .post(format!("{url}/tee/sessions/{}/secrets", sessions[s].1))
                        .body(body.clone())
                        .send()
                        .await
                        .expect("http");
                    let status = resp.status();
                    let text = resp.text().await.expect("body");
                    assert_eq!(status, 200, "{text}");
                    latencies.push(started.elapsed());
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.expect("worker"));
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let follow_rate = latencies.len() as f64 / elapsed;
    let per_cpu = latencies.len() as f64 / cpu.max(0.01);
    latencies.sort();
    let (r50, r99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));

    // 3. push and check latency, sequential (signatures made beforehand)
    let n = 500;
    let pushes: Vec<(String, String, String)> = (0..n)
        .map(|i| {
            let key = format!("bench-{i}");
            let value = format!("value-{i}");
            let sig = Fx::sig(
                &fx.requester,
                arca_sms::auth::named_challenge(fx.requester.address(), &key, value.as_bytes()),
            );
            (key, value, sig)
        })
        .collect();
    let mut push_lat = Vec::new();
    for (key, value, sig) in &pushes {
        let started = Instant::now();
        let (status, body) = common::call(
            &http,
            &format!("{url}/requesters/{}/secrets/{key}", fx.requester.address()),
            "POST",
            Some(sig.clone()),
            value.clone(),
        )
        .await;
        push_lat.push(started.elapsed());
        assert_eq!(status, 204, "{body}");
    }
    let mut check_lat = Vec::new();
    for i in 0..2000 {
        let started = Instant::now();
        let (status, _) = common::call(
            &http,
            &format!(
                "{url}/requesters/{}/secrets/bench-{}",
                fx.requester.address(),
                i % n
            ),
            "HEAD",
            None,
            "",
        )
        .await;
        check_lat.push(started.elapsed());
        assert_eq!(status, 204);
    }
    push_lat.sort();
    check_lat.sort();

    // the log holds every release, in one verified chain
    let (entries, verdict) = store.verify_log().expect("log");
    verdict.expect("the release log verifies");
    assert_eq!(entries.len(), a.sessions + latencies.len());

    println!("| measure | value |");
    println!("|---|---:|");
    println!("| sessions opened/s (chain checks, sequential) | {session_rate:.0} |");
    println!(
        "| attested releases/s (quote verified; {} sessions, {} concurrent) | {attested_rate:.0} |",
        a.sessions,
        a.concurrency.min(a.sessions)
    );
    println!(
        "| **follow-up releases/s** (session-key signature; {c} concurrent, {} releases in {elapsed:.1} s) | **{follow_rate:.0}** |",
        latencies.len()
    );
    println!(
        "| CPU of this process meanwhile (SMS + load generator + idle chain) | {cpu:.1} core-s of {:.1} ({:.0} %) |",
        2.0 * elapsed,
        100.0 * cpu / (2.0 * elapsed)
    );
    println!("| follow-up releases per CPU-second of this process | {per_cpu:.0} |");
    println!(
        "| follow-up release latency p50 / p99 (ms) | {} / {} |",
        ms(r50),
        ms(r99)
    );
    println!(
        "| push latency p50 / p99 (ms, {n} requester secrets, sequential) | {} / {} |",
        ms(percentile(&push_lat, 0.5)),
        ms(percentile(&push_lat, 0.99))
    );
    println!(
        "| check (HEAD) latency p50 / p99 (ms, 2000, sequential) | {} / {} |",
        ms(percentile(&check_lat, 0.5)),
        ms(percentile(&check_lat, 0.99))
    );
    println!(
        "| release log entries verified after the run | {} |",
        entries.len()
    );
}
