//! `flotilla sim election`: Figure 16 of the Raft paper (see
//! `flotilla_core::sim::figure16`). Runs every row of the figure with pre-vote off (as in
//! the paper) and on, prints a table (`--markdown` for docs), and draws the cumulative
//! distributions as an SVG (`--svg PATH`): the top panel varies the randomness of the
//! timeouts on a log time axis, the bottom panel scales them on a linear one.

use crate::cli::CommandResult;
use clap::Args as ClapArgs;
use flotilla_core::sim::figure16::{Election, ElectionResult, PAPER_ROWS, TRIAL_MS_MAX};
use std::fmt::Write as _;
use std::sync::Mutex;

/// Arguments of `flotilla sim election`.
#[derive(Debug, ClapArgs)]
pub struct ElectionArgs {
    /// Servers in the cluster (the paper: 5; it reports 9 as similar).
    #[arg(long, default_value_t = 5)]
    pub servers: u32,
    /// Trials per row (default: the paper's, 100 for 150-150 ms and 1,000 otherwise).
    #[arg(long)]
    pub trials: Option<u32>,
    /// Seed of the experiment.
    #[arg(long, default_value_t = 16)]
    pub seed: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub jobs: Option<u32>,
    /// One-way message delays, uniform in MIN-MAX ms (the paper's ~15 ms broadcast: 5-10).
    #[arg(long, value_name = "MIN-MAX", default_value = "5-10")]
    pub delay_ms: String,
    /// Only the rows with these election timeouts (MIN-MAX ms), e.g. --only 12-24.
    #[arg(long, value_name = "MIN-MAX")]
    pub only: Vec<String>,
    /// Print the table as Markdown.
    #[arg(long)]
    pub markdown: bool,
    /// Write the CDFs as an SVG to this file.
    #[arg(long, value_name = "PATH")]
    pub svg: Option<std::path::PathBuf>,
}

/// Runs the experiment.
pub fn run(args: ElectionArgs) -> CommandResult {
    if !(3..=9).contains(&args.servers) {
        return Err("--servers must be 3 to 9".into());
    }
    let (delay_min_ms, delay_max_ms) = range(&args.delay_ms)?;
    let only: Vec<(u64, u64)> = args
        .only
        .iter()
        .map(|r| range(r))
        .collect::<Result<_, _>>()?;
    let rows: Vec<Election> = [false, true]
        .into_iter()
        .flat_map(|pre_vote| {
            PAPER_ROWS.iter().map(move |&(min, max, trials)| Election {
                servers: args.servers,
                timeout_min_ms: min,
                timeout_max_ms: max,
                pre_vote,
                trials: args.trials.unwrap_or(trials),
                seed: args.seed,
                delay_min_ms,
                delay_max_ms,
            })
        })
        .filter(|row| only.is_empty() || only.contains(&(row.timeout_min_ms, row.timeout_max_ms)))
        .collect();
    let results = run_rows(&rows, args.jobs)?;
    print!("{}", table(&results, args.markdown));
    if let Some(path) = &args.svg {
        std::fs::write(path, svg(&results))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Parses `MIN-MAX` (ms).
fn range(text: &str) -> Result<(u64, u64), String> {
    let parse = |t: &str| {
        t.trim()
            .parse::<u64>()
            .map_err(|e| format!("{text:?}: {e}"))
    };
    let (min, max) = text
        .split_once('-')
        .ok_or_else(|| format!("{text:?}: expected MIN-MAX"))?;
    let (min, max) = (parse(min)?, parse(max)?);
    if min > max || max > 10_000 {
        return Err(format!("{text:?}: need MIN <= MAX <= 10000"));
    }
    Ok((min, max))
}

fn run_rows(rows: &[Election], jobs: Option<u32>) -> Result<Vec<ElectionResult>, String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let jobs = jobs.unwrap_or(cores).clamp(1, 64) as usize;
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<Result<ElectionResult, String>>>> =
        Mutex::new(vec![None; rows.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let index = {
                    let Ok(mut next) = next.lock() else { return };
                    let index = *next;
                    *next += 1;
                    index
                };
                let Some(row) = rows.get(index) else { return };
                let result = row.run();
                if let Ok(mut results) = results.lock() {
                    results[index] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("a row did not run".into())))
        .collect()
}

fn ms(value: Option<u64>) -> String {
    value.map_or_else(|| format!(">{TRIAL_MS_MAX}"), |v| v.to_string())
}

fn table(results: &[ElectionResult], markdown: bool) -> String {
    let mut out = String::new();
    let header = [
        "servers",
        "timeout ms",
        "pre-vote",
        "trials",
        "min",
        "p50",
        "mean",
        "p90",
        "p99",
        "max",
        ">10 s",
    ];
    if markdown {
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let _ = writeln!(out, "|{}", "---:|".repeat(header.len()));
    } else {
        let _ = writeln!(out, "{}", header.map(|h| format!("{h:>10}")).join(""));
    }
    for r in results {
        let row = &r.row;
        let cells = [
            row.servers.to_string(),
            format!("{}-{}", row.timeout_min_ms, row.timeout_max_ms),
            if row.pre_vote { "on" } else { "off" }.to_string(),
            row.trials.to_string(),
            ms(r.min()),
            ms(r.percentile(50)),
            ms(r.mean()),
            ms(r.percentile(90)),
            ms(r.percentile(99)),
            ms(r.max()),
            r.over_limit.to_string(),
        ];
        if markdown {
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        } else {
            let _ = writeln!(out, "{}", cells.map(|c| format!("{c:>10}")).join(""));
        }
    }
    out
}

/// Panel geometry, in SVG user units.
const WIDTH: f64 = 900.0;
const PANEL_HEIGHT: f64 = 300.0;
const MARGIN_LEFT: f64 = 60.0;
const MARGIN_RIGHT: f64 = 215.0;
const MARGIN_TOP: f64 = 40.0;
const MARGIN_BOTTOM: f64 = 50.0;
const COLOURS: [&str; 6] = [
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#a6761d",
];

/// How a panel maps time to x.
#[derive(Clone, Copy)]
enum Axis {
    /// Log scale from `min` to `max` ms.
    Log { min: f64, max: f64 },
    /// Linear from 0 to `max` ms.
    Linear { max: f64 },
}

impl Axis {
    fn x(self, ms: f64) -> f64 {
        let plot = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
        let fraction = match self {
            Axis::Log { min, max } => (ms.max(min).ln() - min.ln()) / (max.ln() - min.ln()),
            Axis::Linear { max } => ms / max,
        };
        MARGIN_LEFT + plot * fraction.clamp(0.0, 1.0)
    }

    fn ticks(self) -> Vec<f64> {
        match self {
            Axis::Log { .. } => vec![100.0, 200.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0],
            Axis::Linear { max } => (0..=5).map(|i| max * f64::from(i) / 5.0).collect(),
        }
    }
}

fn svg(results: &[ElectionResult]) -> String {
    let randomness: Vec<&ElectionResult> = results
        .iter()
        .filter(|r| r.row.timeout_min_ms == 150)
        .collect();
    let scaled: Vec<&ElectionResult> = results
        .iter()
        .filter(|r| r.row.timeout_max_ms == 2 * r.row.timeout_min_ms)
        .collect();
    let height = 2.0 * (PANEL_HEIGHT + MARGIN_TOP + MARGIN_BOTTOM);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let top = Axis::Log {
        min: 100.0,
        max: 20_000.0,
    };
    let bottom = Axis::Linear { max: 1_000.0 };
    panel(
        &mut out,
        0.0,
        top,
        &randomness,
        "Varying randomness (log time axis)",
    );
    let offset = PANEL_HEIGHT + MARGIN_TOP + MARGIN_BOTTOM;
    panel(
        &mut out,
        offset,
        bottom,
        &scaled,
        "Scaling the minimum timeout",
    );
    let _ = writeln!(out, "</svg>");
    out
}

fn panel(out: &mut String, offset: f64, axis: Axis, rows: &[&ElectionResult], title: &str) {
    let (top, bottom) = (offset + MARGIN_TOP, offset + MARGIN_TOP + PANEL_HEIGHT);
    let y = |fraction: f64| bottom - PANEL_HEIGHT * fraction;
    let (left, right) = (MARGIN_LEFT, WIDTH - MARGIN_RIGHT);
    let _ = writeln!(
        out,
        r#"<text x="{left}" y="{}" font-weight="bold">{title}</text>"#,
        top - 12.0
    );
    let _ = writeln!(
        out,
        r##"<rect x="{left}" y="{top}" width="{}" height="{PANEL_HEIGHT}" fill="none" stroke="#888"/>"##,
        right - left
    );
    for tick in axis.ticks() {
        let x = axis.x(tick);
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="#eee"/><text x="{x:.1}" y="{}" text-anchor="middle">{tick}</text>"##,
            bottom + 16.0
        );
    }
    for percent in [0, 25, 50, 75, 100] {
        let yy = y(f64::from(percent) / 100.0);
        let _ = writeln!(
            out,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{right}" y2="{yy:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{percent}%</text>"##,
            left - 6.0,
            yy + 4.0
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">time without a leader (ms); cumulative % of trials</text>"#,
        (left + right) / 2.0,
        bottom + 36.0
    );
    let mut legend_y = top + 10.0;
    let timeouts: Vec<(u64, u64)> = {
        let mut t: Vec<(u64, u64)> = rows
            .iter()
            .map(|r| (r.row.timeout_min_ms, r.row.timeout_max_ms))
            .collect();
        t.dedup();
        t
    };
    for result in rows {
        let row = &result.row;
        let index = timeouts
            .iter()
            .position(|&t| t == (row.timeout_min_ms, row.timeout_max_ms))
            .unwrap_or(0);
        let colour = COLOURS[index % COLOURS.len()];
        let dash = if row.pre_vote {
            r#" stroke-dasharray="5,3""#
        } else {
            ""
        };
        let total = (result.times_ms.len() + result.over_limit as usize).max(1) as f64;
        let mut points = vec![format!("{:.1},{:.1}", axis.x(0.0), y(0.0))];
        for (i, &time) in result.times_ms.iter().enumerate() {
            let x = axis.x(time as f64);
            points.push(format!("{x:.1},{:.1}", y(i as f64 / total)));
            points.push(format!("{x:.1},{:.1}", y((i + 1) as f64 / total)));
        }
        let reached = result.times_ms.len() as f64 / total;
        points.push(format!("{right:.1},{:.1}", y(reached)));
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5"{dash} points="{}"/>"#,
            points.join(" ")
        );
        let label = format!(
            "{}-{} ms, pre-vote {}",
            row.timeout_min_ms,
            row.timeout_max_ms,
            if row.pre_vote { "on" } else { "off" }
        );
        let _ = writeln!(
            out,
            r#"<line x1="{}" y1="{legend_y:.1}" x2="{}" y2="{legend_y:.1}" stroke="{colour}" stroke-width="1.5"{dash}/><text x="{}" y="{:.1}">{label}</text>"#,
            right + 8.0,
            right + 30.0,
            right + 34.0,
            legend_y + 4.0
        );
        legend_y += 16.0;
    }
}
