//! Prometheus text exposition (`GET /metrics`), hand-written: request counts by route and
//! status, a latency histogram by route, releases, released secrets and denials by check. The
//! counters live behind one mutex (a handful of map updates per request, far below the cost of
//! the request itself); no label value ever comes from the client (routes are the router's
//! templates, checks are the crate's own names).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: BTreeMap<(&'static str, &'static str, u16), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    denials: BTreeMap<&'static str, u64>,
}

/// The SMS's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
    releases: AtomicU64,
    secrets_released: AtomicU64,
}

impl Metrics {
    /// Records one answered request. `route` is the router's path template (or `unmatched`).
    pub fn request(
        &self,
        method: &'static str,
        route: &'static str,
        status: u16,
        elapsed: Duration,
        denial: Option<&'static str>,
    ) {
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        *c.requests.entry((method, route, status)).or_default() += 1;
        let h = c.latency.entry(route).or_default();
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            h.counts[i] += 1;
        }
        h.count += 1;
        h.sum += secs;
        if let Some(check) = denial {
            *c.denials.entry(check).or_default() += 1;
        }
    }

    /// Records one release of `secrets` secrets.
    pub fn released(&self, secrets: usize) {
        self.releases.fetch_add(1, Ordering::Relaxed);
        self.secrets_released
            .fetch_add(secrets as u64, Ordering::Relaxed);
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP arca_sms_requests_total HTTP requests answered, by method, route and status.\n",
        );
        out.push_str("# TYPE arca_sms_requests_total counter\n");
        for ((method, route, status), n) in &c.requests {
            let _ = writeln!(
                out,
                "arca_sms_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP arca_sms_request_duration_seconds Time to answer a request, by route.\n",
        );
        out.push_str("# TYPE arca_sms_request_duration_seconds histogram\n");
        for (route, h) in &c.latency {
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "arca_sms_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "arca_sms_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "arca_sms_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "arca_sms_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP arca_sms_denials_total TEE requests refused, by the failed check.\n");
        out.push_str("# TYPE arca_sms_denials_total counter\n");
        for (check, n) in &c.denials {
            let _ = writeln!(out, "arca_sms_denials_total{{check=\"{check}\"}} {n}");
        }
        out.push_str("# HELP arca_sms_releases_total Releases of secrets to attested enclaves.\n");
        out.push_str("# TYPE arca_sms_releases_total counter\n");
        let _ = writeln!(
            out,
            "arca_sms_releases_total {}",
            self.releases.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP arca_sms_secrets_released_total Secrets handed over by those releases.\n",
        );
        out.push_str("# TYPE arca_sms_secrets_released_total counter\n");
        let _ = writeln!(
            out,
            "arca_sms_secrets_released_total {}",
            self.secrets_released.load(Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_counts_and_buckets() {
        let m = Metrics::default();
        m.request(
            "POST",
            "/tee/sessions",
            200,
            Duration::from_micros(300),
            None,
        );
        m.request(
            "POST",
            "/tee/sessions",
            403,
            Duration::from_millis(30),
            Some("task-not-active"),
        );
        m.released(3);
        let text = m.render();
        assert!(text.contains(
            "arca_sms_requests_total{method=\"POST\",route=\"/tee/sessions\",status=\"403\"} 1"
        ));
        // cumulative buckets: 300 µs is in every bucket from 0.5 ms, 30 ms from 50 ms
        assert!(text.contains(
            "arca_sms_request_duration_seconds_bucket{route=\"/tee/sessions\",le=\"0.0005\"} 1"
        ));
        assert!(text.contains(
            "arca_sms_request_duration_seconds_bucket{route=\"/tee/sessions\",le=\"0.05\"} 2"
        ));
        assert!(text.contains(
            "arca_sms_request_duration_seconds_bucket{route=\"/tee/sessions\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains("arca_sms_denials_total{check=\"task-not-active\"} 1"));
        assert!(text.contains("arca_sms_releases_total 1"));
        assert!(text.contains("arca_sms_secrets_released_total 3"));
        // every sample line is `name{labels} value` or `name value`
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
