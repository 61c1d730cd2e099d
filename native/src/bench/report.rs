//! What one run measured: operations, errors and an HDR histogram of latencies, kept per
//! thread and merged at the end, then printed as text or as one JSON object.

use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Duration;

/// Highest latency the histogram tracks, in microseconds (longer ones are clamped).
const LATENCY_US_MAX: u64 = 60 * 1_000_000;
/// Significant decimal digits of the histogram.
const HISTOGRAM_DIGITS: u8 = 3;
/// How many distinct error texts are kept with their counts.
const ERROR_KINDS_MAX: usize = 8;

/// Counts and latencies of the measured part of a run.
#[derive(Debug)]
pub struct Recorder {
    latency_us: Histogram<u64>,
    pub ok: u64,
    pub errors: u64,
    /// Error text -> how often; the first [`ERROR_KINDS_MAX`] kinds only.
    pub error_kinds: BTreeMap<String, u64>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            latency_us: Histogram::new_with_bounds(1, LATENCY_US_MAX, HISTOGRAM_DIGITS)
                .expect("constant histogram bounds are valid"),
            ok: 0,
            errors: 0,
            error_kinds: BTreeMap::new(),
        }
    }

    pub fn ok(&mut self, latency: Duration) {
        self.ok += 1;
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_us
            .saturating_record(us.clamp(1, LATENCY_US_MAX));
    }

    pub fn error(&mut self, text: &str, count: u64) {
        if count == 0 {
            return;
        }
        self.errors += count;
        if let Some(n) = self.error_kinds.get_mut(text) {
            *n += count;
        } else if self.error_kinds.len() < ERROR_KINDS_MAX {
            self.error_kinds.insert(text.to_string(), count);
        }
    }

    pub fn merge(&mut self, other: &Recorder) {
        self.ok += other.ok;
        let _ = self.latency_us.add(&other.latency_us);
        for (text, &count) in &other.error_kinds {
            self.error(text, count);
        }
        // `error` counted the kept kinds; count the rest too.
        let kept: u64 = other.error_kinds.values().sum();
        self.errors += other.errors - kept;
    }

    fn ms(&self, quantile: f64) -> f64 {
        if self.latency_us.is_empty() {
            return 0.0;
        }
        self.latency_us.value_at_quantile(quantile) as f64 / 1000.0
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

/// The numbers of a finished run.
#[derive(Debug, serde::Serialize)]
pub struct Summary {
    pub target: String,
    pub endpoints: Vec<String>,
    pub clients: u32,
    pub threads: u32,
    pub pipeline: u32,
    pub read_ratio: f64,
    pub keys: u32,
    pub key_size: usize,
    pub value_size: usize,
    pub duration_s: f64,
    pub ops: u64,
    pub ops_per_sec: f64,
    pub errors: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub error_kinds: BTreeMap<String, u64>,
}

impl Summary {
    /// Fills in the measured fields from `rec`, over `elapsed` of measuring.
    pub fn measured(mut self, rec: &Recorder, elapsed: Duration) -> Summary {
        let secs = elapsed.as_secs_f64().max(1e-9);
        self.duration_s = round3(secs);
        self.ops = rec.ok;
        self.ops_per_sec = round3(rec.ok as f64 / secs);
        self.errors = rec.errors;
        self.mean_ms = round3(if rec.latency_us.is_empty() {
            0.0
        } else {
            rec.latency_us.mean() / 1000.0
        });
        self.p50_ms = round3(rec.ms(0.5));
        self.p90_ms = round3(rec.ms(0.9));
        self.p99_ms = round3(rec.ms(0.99));
        self.p999_ms = round3(rec.ms(0.999));
        self.max_ms = round3(rec.latency_us.max() as f64 / 1000.0);
        self.error_kinds = rec.error_kinds.clone();
        self
    }

    pub fn text(&self) -> String {
        let mut out = format!(
            "target {} at {}\n\
             {} clients on {} threads, pipeline depth {}, {} keys of {} B, values of {} B, read ratio {}\n\
             {} ops in {:.2} s: {:.0} ops/s, {} errors\n\
             latency ms: mean {:.3}  p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}\n",
            self.target,
            self.endpoints.join(","),
            self.clients,
            self.threads,
            self.pipeline,
            self.keys,
            self.key_size,
            self.value_size,
            self.read_ratio,
            self.ops,
            self.duration_s,
            self.ops_per_sec,
            self.errors,
            self.mean_ms,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.p999_ms,
            self.max_ms,
        );
        for (text, count) in &self.error_kinds {
            out.push_str(&format!("  {count} x {text}\n"));
        }
        out
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_counts_latencies_and_error_kinds() {
        let mut a = Recorder::new();
        let mut b = Recorder::new();
        for ms in 1..=100 {
            a.ok(Duration::from_millis(ms));
        }
        b.ok(Duration::from_secs(1));
        b.error("NOLEADER", 2);
        for i in 0..20 {
            b.error(&format!("kind {i}"), 1);
        }
        a.merge(&b);
        assert_eq!(a.ok, 101);
        assert_eq!(a.errors, 22);
        assert_eq!(a.error_kinds.len(), ERROR_KINDS_MAX);
        assert_eq!(a.error_kinds["NOLEADER"], 2);
        let s = Summary::default_for_test().measured(&a, Duration::from_secs(2));
        assert_eq!(s.ops_per_sec, 50.5);
        assert!((50.0..=52.0).contains(&s.p50_ms), "{}", s.p50_ms);
        assert!((999.0..=1001.0).contains(&s.max_ms), "{}", s.max_ms);
        assert!(s.text().contains("2 x NOLEADER"));
    }

    impl Summary {
        fn default_for_test() -> Summary {
            Summary {
                target: "resp".into(),
                endpoints: vec![],
                clients: 1,
                threads: 1,
                pipeline: 1,
                read_ratio: 0.0,
                keys: 1,
                key_size: 8,
                value_size: 8,
                duration_s: 0.0,
                ops: 0,
                ops_per_sec: 0.0,
                errors: 0,
                mean_ms: 0.0,
                p50_ms: 0.0,
                p90_ms: 0.0,
                p99_ms: 0.0,
                p999_ms: 0.0,
                max_ms: 0.0,
                error_kinds: BTreeMap::new(),
            }
        }
    }
}
