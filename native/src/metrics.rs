//! Counters and histograms the event loop updates and the gateway renders in the Prometheus
//! text format. Plain atomics: the loop never waits for a reader.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// A histogram with fixed upper bounds (Prometheus `le` buckets).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One count per bound, plus one for +Inf; not cumulative (rendering sums them).
    counts: Vec<AtomicU64>,
    /// Sum of observations, in millionths of the unit (micro-units), to stay integral.
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: f64) {
        let slot = self
            .bounds
            .iter()
            .position(|&b| value <= b)
            .unwrap_or(self.bounds.len());
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((value * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, bound) in self.bounds.iter().enumerate() {
            cumulative += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.counts[self.bounds.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");
    }
}

/// Seconds: from 50 µs (a page-cache fdatasync) to 1 s (a stalled disk).
const LATENCY_BOUNDS_SECONDS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
/// Entries per append to the WAL.
const BATCH_BOUNDS_ENTRIES: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0];

/// Everything `/metrics` shows.
#[derive(Debug)]
pub struct Metrics {
    pub proposals: AtomicU64,
    pub commits: AtomicU64,
    pub elections: AtomicU64,
    pub term: AtomicU64,
    pub is_leader: AtomicU64,
    pub client_requests: AtomicU64,
    pub forwarded_requests: AtomicU64,
    pub peer_messages_dropped: AtomicU64,
    pub clients_refused: AtomicU64,
    pub fsync_seconds: Histogram,
    pub append_batch_entries: Histogram,
    pub request_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            proposals: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            elections: AtomicU64::new(0),
            term: AtomicU64::new(0),
            is_leader: AtomicU64::new(0),
            client_requests: AtomicU64::new(0),
            forwarded_requests: AtomicU64::new(0),
            peer_messages_dropped: AtomicU64::new(0),
            clients_refused: AtomicU64::new(0),
            fsync_seconds: Histogram::new(LATENCY_BOUNDS_SECONDS),
            append_batch_entries: Histogram::new(BATCH_BOUNDS_ENTRIES),
            request_seconds: Histogram::new(LATENCY_BOUNDS_SECONDS),
        }
    }
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = [
            (
                "flotilla_proposals_total",
                "Entries this node proposed as leader.",
                &self.proposals,
            ),
            (
                "flotilla_commits_total",
                "Entries applied to the state machine.",
                &self.commits,
            ),
            (
                "flotilla_elections_total",
                "Elections this node started.",
                &self.elections,
            ),
            (
                "flotilla_client_requests_total",
                "RESP commands received.",
                &self.client_requests,
            ),
            (
                "flotilla_forwarded_requests_total",
                "Commands forwarded to the leader.",
                &self.forwarded_requests,
            ),
            (
                "flotilla_peer_messages_dropped_total",
                "Messages to peers dropped (unreachable or slow).",
                &self.peer_messages_dropped,
            ),
            (
                "flotilla_clients_refused_total",
                "RESP connections refused at --clients-max.",
                &self.clients_refused,
            ),
        ];
        for (name, help, value) in counters {
            let value = value.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        let gauges = [
            ("flotilla_term", "The current Raft term.", &self.term),
            (
                "flotilla_is_leader",
                "1 when this node leads.",
                &self.is_leader,
            ),
        ];
        for (name, help, value) in gauges {
            let value = value.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        self.fsync_seconds
            .render(&mut out, "flotilla_fsync_seconds", "WAL sync latency.");
        self.append_batch_entries.render(
            &mut out,
            "flotilla_append_batch_entries",
            "Entries written to the WAL per Ready (group commit).",
        );
        self.request_seconds.render(
            &mut out,
            "flotilla_request_seconds",
            "Client request latency, from parse to reply.",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.fsync_seconds.observe(0.0003);
        metrics.fsync_seconds.observe(2.0);
        Metrics::add(&metrics.commits, 3);
        let text = metrics.render();
        assert!(text.contains("flotilla_commits_total 3\n"), "{text}");
        assert!(
            text.contains("flotilla_fsync_seconds_bucket{le=\"0.0005\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("flotilla_fsync_seconds_bucket{le=\"+Inf\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("flotilla_fsync_seconds_count 2\n"), "{text}");
    }
}
