//! Replay links: the URL fragment holds a whole run (format version, seed, options, the
//! user's actions with their virtual times, and the time to show), short enough to paste
//! into a chat and readable enough to edit by hand:
//!
//! ```text
//! #v1&s=7&n=5&e=150-300&h=50&pv=1&cq=1&...&t=2400&a=900c3,1500r3,1700q1:p:x:1
//! ```
//!
//! Every option is written out, so a link does not change meaning when the page's defaults
//! do. Actions are `<virtual ms><code><arguments>`, comma-separated; see [`encode_action`].
//! `mode=auto` links hold only a seed (and maybe a planted bug): the simulator's auto mode
//! draws everything else from the seed, exactly as `flotilla sim --seed S` does.

use super::session::Run;
use flotilla_core::raft::PlantedBug;
use flotilla_core::sim::{Action, ClientCommand, Mode, ScheduledAction, SimOptions};
use flotilla_core::types::{Millis, NodeId};
use std::fmt::Write;

/// The link format's version; a link of another version is refused, not misread.
pub const FORMAT_VERSION: &str = "v1";

/// A run and the virtual time the link shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub run: Run,
    pub at_ms: Millis,
}

/// Writes the fragment (without `#`).
pub fn encode(link: &Link) -> String {
    let run = &link.run;
    let o = &run.options;
    let mut out = String::from(FORMAT_VERSION);
    let mut put = |key: &str, value: String| {
        let _ = write!(out, "&{key}={value}");
    };
    if o.mode == Mode::Auto {
        put("mode", "auto".into());
        put("s", run.seed.to_string());
        if let Some(bug) = o.planted_bug {
            put("bug", bug.name().into());
        }
        put("t", link.at_ms.to_string());
        return out;
    }
    let flag = |b: bool| if b { "1" } else { "0" }.to_string();
    let r = &o.raft;
    let n = &o.network;
    let d = &o.disk;
    let w = &o.workload;
    put("s", run.seed.to_string());
    put("n", o.nodes.to_string());
    put(
        "e",
        format!(
            "{}-{}",
            r.election_timeout_min_ms, r.election_timeout_max_ms
        ),
    );
    put("h", r.heartbeat_interval_ms.to_string());
    put("pv", flag(r.pre_vote));
    put("cq", flag(r.check_quorum));
    put("se", r.snapshot_entries.to_string());
    put("ae", r.append_entries_max.to_string());
    put("l", format!("{}-{}", n.latency_min_ms, n.latency_max_ms));
    put("j", n.jitter_ms.to_string());
    put("lo", n.loss_permille.to_string());
    put("du", n.duplicate_permille.to_string());
    put("cl", n.client_latency_ms.to_string());
    put("f", format!("{}-{}", d.fsync_min_ms, d.fsync_max_ms));
    put("tw", flag(d.torn_writes));
    put("w", w.clients.to_string());
    put("k", w.keys.to_string());
    put("th", w.think_ms_max.to_string());
    put("rt", w.request_timeout_ms.to_string());
    put("ot", w.operation_timeout_ms.to_string());
    put(
        "mx",
        format!(
            "{}.{}.{}",
            w.read_permille, w.delete_permille, w.cas_permille
        ),
    );
    if let Some(bug) = o.planted_bug {
        put("bug", bug.name().into());
    }
    put("t", link.at_ms.to_string());
    if !run.tape.is_empty() {
        let actions: Vec<String> = run.tape.iter().map(encode_action).collect();
        put("a", actions.join(","));
    }
    out
}

/// Reads a fragment (with or without `#`). `base` gives the options a manual-mode link
/// does not name (links written by this version name them all).
pub fn decode(fragment: &str, base: &SimOptions) -> Result<Link, String> {
    let fragment = fragment.trim_start_matches('#');
    let mut parts = fragment.split('&');
    let version = parts.next().unwrap_or("");
    if version != FORMAT_VERSION {
        return Err(format!(
            "this link is format {version:?}; this page reads {FORMAT_VERSION}"
        ));
    }
    let mut seed = None;
    let mut auto = false;
    let mut options = base.clone();
    let mut at_ms = 0;
    let mut tape = Vec::new();
    for part in parts.filter(|p| !p.is_empty()) {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not key=value"))?;
        let num = |v: &str| -> Result<u64, String> {
            v.parse::<u64>()
                .map_err(|_| format!("{key}={v}: not a number"))
        };
        let num32 = |v: &str| -> Result<u32, String> {
            v.parse::<u32>()
                .map_err(|_| format!("{key}={v}: not a number"))
        };
        let pair = |v: &str| -> Result<(u64, u64), String> {
            let (a, b) = v
                .split_once('-')
                .ok_or_else(|| format!("{key}={v}: expected min-max"))?;
            Ok((num(a)?, num(b)?))
        };
        let flag = |v: &str| v == "1";
        let r = &mut options.raft;
        let n = &mut options.network;
        let d = &mut options.disk;
        let w = &mut options.workload;
        match key {
            "mode" => auto = value == "auto",
            "s" => seed = Some(num(value)?),
            "n" => options.nodes = num32(value)?,
            "e" => (r.election_timeout_min_ms, r.election_timeout_max_ms) = pair(value)?,
            "h" => r.heartbeat_interval_ms = num(value)?,
            "pv" => r.pre_vote = flag(value),
            "cq" => r.check_quorum = flag(value),
            "se" => r.snapshot_entries = num(value)?,
            "ae" => r.append_entries_max = num32(value)?,
            "l" => (n.latency_min_ms, n.latency_max_ms) = pair(value)?,
            "j" => n.jitter_ms = num(value)?,
            "lo" => n.loss_permille = num32(value)?,
            "du" => n.duplicate_permille = num32(value)?,
            "cl" => n.client_latency_ms = num(value)?,
            "f" => (d.fsync_min_ms, d.fsync_max_ms) = pair(value)?,
            "tw" => d.torn_writes = flag(value),
            "w" => w.clients = num32(value)?,
            "k" => w.keys = num32(value)?,
            "th" => w.think_ms_max = num(value)?,
            "rt" => w.request_timeout_ms = num(value)?,
            "ot" => w.operation_timeout_ms = num(value)?,
            "mx" => {
                let mix: Vec<u32> = value.split('.').map(num32).collect::<Result<_, _>>()?;
                let [read, delete, cas] = mix[..] else {
                    return Err(format!("mx={value}: expected read.delete.cas"));
                };
                (w.read_permille, w.delete_permille, w.cas_permille) = (read, delete, cas);
            }
            "bug" => {
                options.planted_bug = Some(
                    PlantedBug::from_name(value).ok_or_else(|| format!("no bug named {value}"))?,
                )
            }
            "t" => at_ms = num(value)?,
            "a" => {
                tape = value
                    .split(',')
                    .filter(|a| !a.is_empty())
                    .map(decode_action)
                    .collect::<Result<_, _>>()?
            }
            // Unknown keys are someone's later additions: ignore rather than refuse.
            _ => {}
        }
    }
    let seed = seed.ok_or("the link has no seed (s=...)")?;
    if auto {
        let bug = options.planted_bug;
        options = SimOptions::swarm(seed);
        options.planted_bug = bug;
        tape.clear();
    }
    options.validate()?;
    let mut sorted = tape.clone();
    sorted.sort_by_key(|a: &ScheduledAction| a.at_ms);
    if sorted != tape {
        return Err("actions are not in time order".into());
    }
    Ok(Link {
        run: Run {
            seed,
            options,
            tape,
        },
        at_ms,
    })
}

/// One action as `<at><code><args>`.
pub fn encode_action(scheduled: &ScheduledAction) -> String {
    let at = scheduled.at_ms;
    let body = match &scheduled.action {
        Action::Crash { node } => format!("c{}", node.0),
        Action::Restart { node } => format!("r{}", node.0),
        Action::Pause { node } => format!("p{}", node.0),
        Action::Resume { node } => format!("u{}", node.0),
        Action::Isolate { node } => format!("i{}", node.0),
        Action::Campaign { node } => format!("e{}", node.0),
        Action::AddNode { node } => format!("A{}", node.0),
        Action::Promote { node } => format!("P{}", node.0),
        Action::Remove { node } => format!("R{}", node.0),
        Action::Snapshot { node } => format!("S{}", node.0),
        Action::CutLink { from, to } => format!("x{}-{}", from.0, to.0),
        Action::RestoreLink { from, to } => format!("y{}-{}", from.0, to.0),
        Action::SetJitter { ms } => format!("J{ms}"),
        Action::Partition { groups } => {
            let groups: Vec<String> = groups
                .iter()
                .map(|g| {
                    g.iter()
                        .map(|n| n.0.to_string())
                        .collect::<Vec<_>>()
                        .join("+")
                })
                .collect();
            format!("g{}", groups.join("."))
        }
        Action::Heal => "h".into(),
        Action::SetLoss { permille } => format!("L{permille}"),
        Action::SetDuplication { permille } => format!("D{permille}"),
        Action::SetLatency { min_ms, max_ms } => format!("T{min_ms}-{max_ms}"),
        Action::SetClockRate { node, permille } => format!("k{}:{permille}", node.0),
        Action::TransferLeadership { node, to } => format!("m{}-{}", node.0, to.0),
        Action::Autopilot { on } => format!("W{}", u8::from(*on)),
        Action::Request { node, command } => {
            let (op, args) = match command {
                ClientCommand::Get { key } => ("g", vec![Some(key)]),
                ClientCommand::Put { key, value } => ("p", vec![Some(key), Some(value)]),
                ClientCommand::Delete { key } => ("d", vec![Some(key)]),
                ClientCommand::Cas { key, expected, new } => {
                    ("c", vec![Some(key), expected.as_ref(), new.as_ref()])
                }
            };
            let args: Vec<String> = args
                .into_iter()
                .map(|a| a.map_or_else(|| "~".to_string(), |s| escape(s)))
                .collect();
            format!("q{}:{op}:{}", node.0, args.join(":"))
        }
    };
    format!("{at}{body}")
}

/// Reads one action written by [`encode_action`].
pub fn decode_action(text: &str) -> Result<ScheduledAction, String> {
    let bad = || format!("cannot read action {text:?}");
    let digits = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let at_ms: Millis = text[..digits].parse().map_err(|_| bad())?;
    let mut chars = text[digits..].chars();
    let code = chars.next().ok_or_else(bad)?;
    let rest = chars.as_str();
    let node = |s: &str| -> Result<NodeId, String> {
        s.parse::<u64>()
            .ok()
            .filter(|&n| n >= 1)
            .map(NodeId)
            .ok_or_else(bad)
    };
    let num = |s: &str| -> Result<u64, String> { s.parse().map_err(|_| bad()) };
    fn two(s: &str, sep: char) -> Option<(&str, &str)> {
        s.split_once(sep)
    }
    let action = match code {
        'c' => Action::Crash { node: node(rest)? },
        'r' => Action::Restart { node: node(rest)? },
        'p' => Action::Pause { node: node(rest)? },
        'u' => Action::Resume { node: node(rest)? },
        'i' => Action::Isolate { node: node(rest)? },
        'e' => Action::Campaign { node: node(rest)? },
        'A' => Action::AddNode { node: node(rest)? },
        'P' => Action::Promote { node: node(rest)? },
        'R' => Action::Remove { node: node(rest)? },
        'S' => Action::Snapshot { node: node(rest)? },
        'x' => {
            let (a, b) = two(rest, '-').ok_or_else(bad)?;
            Action::CutLink {
                from: node(a)?,
                to: node(b)?,
            }
        }
        'y' => {
            let (a, b) = two(rest, '-').ok_or_else(bad)?;
            Action::RestoreLink {
                from: node(a)?,
                to: node(b)?,
            }
        }
        'J' => Action::SetJitter { ms: num(rest)? },
        'g' => Action::Partition {
            groups: rest
                .split('.')
                .map(|g| g.split('+').map(node).collect::<Result<Vec<_>, _>>())
                .collect::<Result<_, _>>()?,
        },
        'h' => Action::Heal,
        'L' => Action::SetLoss {
            permille: num(rest)? as u32,
        },
        'D' => Action::SetDuplication {
            permille: num(rest)? as u32,
        },
        'T' => {
            let (a, b) = two(rest, '-').ok_or_else(bad)?;
            Action::SetLatency {
                min_ms: num(a)?,
                max_ms: num(b)?,
            }
        }
        'k' => {
            let (a, b) = two(rest, ':').ok_or_else(bad)?;
            Action::SetClockRate {
                node: node(a)?,
                permille: num(b)? as u32,
            }
        }
        'm' => {
            let (a, b) = two(rest, '-').ok_or_else(bad)?;
            Action::TransferLeadership {
                node: node(a)?,
                to: node(b)?,
            }
        }
        'W' => Action::Autopilot { on: rest == "1" },
        'q' => {
            let mut fields = rest.split(':');
            let target = node(fields.next().ok_or_else(bad)?)?;
            let op = fields.next().ok_or_else(bad)?;
            let args: Vec<Option<String>> = fields
                .map(|f| {
                    if f == "~" {
                        Ok(None)
                    } else {
                        unescape(f).map(Some)
                    }
                })
                .collect::<Result<_, _>>()?;
            let arg = |i: usize| args.get(i).cloned().flatten().ok_or_else(bad);
            let command = match (op, args.len()) {
                ("g", 1) => ClientCommand::Get { key: arg(0)? },
                ("p", 2) => ClientCommand::Put {
                    key: arg(0)?,
                    value: arg(1)?,
                },
                ("d", 1) => ClientCommand::Delete { key: arg(0)? },
                ("c", 3) => ClientCommand::Cas {
                    key: arg(0)?,
                    expected: args[1].clone(),
                    new: args[2].clone(),
                },
                _ => return Err(bad()),
            };
            Action::Request {
                node: target,
                command,
            }
        }
        _ => return Err(bad()),
    };
    Ok(ScheduledAction { at_ms, action })
}

/// Percent-encodes everything but letters, digits and `_ . -`, so keys and values never
/// collide with the link's separators.
fn escape(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"_.-".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

fn unescape(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad escape in {text:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::defaults::page_options;

    fn every_action() -> Vec<ScheduledAction> {
        let n = NodeId;
        let actions = vec![
            Action::Crash { node: n(3) },
            Action::Restart { node: n(3) },
            Action::Pause { node: n(1) },
            Action::Resume { node: n(1) },
            Action::Isolate { node: n(2) },
            Action::Campaign { node: n(4) },
            Action::AddNode { node: n(6) },
            Action::Promote { node: n(6) },
            Action::Remove { node: n(6) },
            Action::Snapshot { node: n(2) },
            Action::CutLink {
                from: n(1),
                to: n(2),
            },
            Action::Partition {
                groups: vec![vec![n(1), n(2)], vec![n(3), n(4), n(5)]],
            },
            Action::RestoreLink {
                from: n(2),
                to: n(1),
            },
            Action::SetJitter { ms: 9 },
            Action::Heal,
            Action::SetLoss { permille: 150 },
            Action::SetDuplication { permille: 30 },
            Action::SetLatency {
                min_ms: 5,
                max_ms: 40,
            },
            Action::SetClockRate {
                node: n(2),
                permille: 1_100,
            },
            Action::TransferLeadership {
                node: n(1),
                to: n(5),
            },
            Action::Autopilot { on: true },
            Action::Request {
                node: n(2),
                command: ClientCommand::Put {
                    key: "a:b,c".into(),
                    value: "héllo wörld&#=~%".into(),
                },
            },
            Action::Request {
                node: n(2),
                command: ClientCommand::Get { key: "x".into() },
            },
            Action::Request {
                node: n(2),
                command: ClientCommand::Delete { key: "x".into() },
            },
            Action::Request {
                node: n(2),
                command: ClientCommand::Cas {
                    key: "x".into(),
                    expected: None,
                    new: Some("~".into()),
                },
            },
        ];
        actions
            .into_iter()
            .enumerate()
            .map(|(i, action)| ScheduledAction {
                at_ms: 100 * i as u64,
                action,
            })
            .collect()
    }

    #[test]
    fn every_action_survives_a_round_trip() {
        for action in every_action() {
            let text = encode_action(&action);
            assert_eq!(decode_action(&text), Ok(action), "{text}");
        }
    }

    #[test]
    fn a_link_round_trips_with_its_options_and_actions() {
        let mut options = page_options(5);
        options.raft.pre_vote = false;
        options.network.loss_permille = 25;
        options.raft.append_entries_max = 1;
        options.planted_bug = Some(PlantedBug::StaleRead);
        let link = Link {
            run: Run {
                seed: 42,
                options,
                tape: every_action(),
            },
            at_ms: 3_000,
        };
        let text = encode(&link);
        assert!(text.starts_with("v1&s=42&n=5&"), "{text}");
        // A different base must not matter: the link names every option.
        let decoded = decode(&format!("#{text}"), &SimOptions::manual(3));
        assert_eq!(decoded, Ok(link));
    }

    #[test]
    fn auto_links_hold_only_the_seed() {
        let link = Link {
            run: Run {
                seed: 7,
                options: SimOptions::swarm(7),
                tape: Vec::new(),
            },
            at_ms: 10_000,
        };
        let text = encode(&link);
        assert_eq!(text, "v1&mode=auto&s=7&t=10000");
        assert_eq!(decode(&text, &page_options(5)), Ok(link));
    }

    #[test]
    fn bad_links_are_refused_with_a_reason() {
        let base = page_options(5);
        assert!(decode("v0&s=1", &base).unwrap_err().contains("format"));
        assert!(decode("v1&n=5", &base).unwrap_err().contains("seed"));
        assert!(decode("v1&s=1&n=12", &base).is_err());
        assert!(decode("v1&s=1&a=5z1", &base).is_err());
        assert!(decode("v1&s=1&a=500c1,100c2", &base)
            .unwrap_err()
            .contains("order"));
    }
}
