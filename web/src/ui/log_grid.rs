//! Every node's log side by side, one row per node, one column per index: each cell shows
//! the entry's term (coloured by term). Solid cells are committed, pale ones are not yet;
//! a dashed outline marks an entry not yet fsynced; a grey block at the left is the
//! compacted prefix, held only as a snapshot.

use super::shared::{node_name, term_class, SessionRef};
use flotilla_core::kv::{Command, Request};
use flotilla_core::raft::{ConfChange, Entry, Payload};
use flotilla_core::types::NodeId;
use yew::prelude::*;

/// Columns shown: the most recent entries, as many as fit the card at 1280 px (older ones
/// drop off to the left).
const COLUMNS: u64 = 20;

#[derive(Properties, PartialEq)]
pub struct LogGridProps {
    pub session: SessionRef,
    pub selected: Option<NodeId>,
    pub on_select: Callback<Option<NodeId>>,
}

/// What an entry carries, briefly.
pub fn describe(entry: &Entry) -> String {
    match &entry.payload {
        Payload::Noop => "noop (a new leader's first entry)".into(),
        Payload::Bootstrap(_) => "bootstrap: the founding configuration".into(),
        Payload::Config(ConfChange::AddLearner { id, .. }) => {
            format!("add learner {}", node_name(*id))
        }
        Payload::Config(ConfChange::Promote { id }) => format!("promote {}", node_name(*id)),
        Payload::Config(ConfChange::Remove { id }) => format!("remove {}", node_name(*id)),
        Payload::Command(bytes) => match Request::decode(bytes) {
            Ok(request) => command_text(&request.command),
            Err(_) => format!("{} bytes", bytes.len()),
        },
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn command_text(command: &Command) -> String {
    let opt = |v: &Option<Vec<u8>>| v.as_deref().map_or("∅".to_string(), text);
    match command {
        Command::Get { key } => format!("get {}", text(key)),
        Command::Put { key, value } => format!("put {}={}", text(key), text(value)),
        Command::Delete { key } => format!("delete {}", text(key)),
        Command::CompareAndSet { key, expected, new } => {
            format!("cas {} {}→{}", text(key), opt(expected), opt(new))
        }
        other => format!("{other:?}"),
    }
}

fn mark(entry: &Entry) -> &'static str {
    match entry.payload {
        Payload::Noop => "·",
        Payload::Bootstrap(_) => "B",
        Payload::Config(_) => "⚙",
        Payload::Command(_) => "",
    }
}

#[function_component(LogGrid)]
pub fn log_grid(props: &LogGridProps) -> Html {
    let session = props.session.borrow();
    let sim = session.sim();
    let n = sim.node_count();
    let last = (1..=u64::from(n))
        .filter_map(|i| sim.replica(NodeId(i)))
        .map(|r| r.node().log().last_index().0)
        .max()
        .unwrap_or(0);
    let first = last.saturating_sub(COLUMNS - 1).max(1);
    let columns: Vec<u64> = (first..=last.max(first)).collect();
    let header: Html = columns
        .iter()
        .map(|i| html! { <th class="idx">{ i }</th> })
        .collect();
    let rows: Html = (1..=u64::from(n))
        .map(NodeId)
        .map(|id| {
            let selected = props.selected == Some(id);
            let on_select = props.on_select.clone();
            let onclick = Callback::from(move |_: MouseEvent| {
                on_select.emit(if selected { None } else { Some(id) })
            });
            let name = html! {
                <th class={classes!("row-name", selected.then_some("on"))} {onclick}>{ node_name(id) }</th>
            };
            let Some(replica) = sim.replica(id) else {
                return html! {
                    <tr class="crashed">{ name }
                        <td class="row-note" colspan={columns.len().to_string()}>{ "crashed: its log is on its disk, waiting for a restart" }</td>
                    </tr>
                };
            };
            let node = replica.node();
            let log = node.log();
            let commit = node.commit_index().0;
            let persisted = log.persisted().0;
            let snapshot = log.snapshot_index().0;
            let cells: Html = columns
                .iter()
                .map(|&i| {
                    if i <= snapshot {
                        let edge = i == snapshot;
                        return html! {
                            <td class={classes!("cell", "compacted", edge.then_some("edge"))}
                                title={format!("{i}: compacted into the snapshot at {snapshot}")}>
                                { if edge { "S" } else { "" } }
                            </td>
                        };
                    }
                    match log.entry(flotilla_core::types::Index(i)) {
                        None => html! { <td class="cell empty"></td> },
                        Some(entry) => {
                            let committed = i <= commit;
                            let durable = i <= persisted;
                            let term = entry.term.0;
                            let title = format!(
                                "index {i}, term {term}: {}\n{}{}",
                                describe(entry),
                                if committed { "committed" } else { "not committed" },
                                if durable { ", durable" } else { ", not yet fsynced" }
                            );
                            html! {
                                <td class={classes!(
                                    "cell",
                                    term_class(term),
                                    if committed { "committed" } else { "uncommitted" },
                                    (!durable).then_some("volatile"),
                                )} {title}>
                                    <span class="cell-term">{ term }</span>
                                    <span class="cell-mark">{ mark(entry) }</span>
                                </td>
                            }
                        }
                    }
                })
                .collect();
            html! {
                <tr class={classes!(node.is_leader().then_some("leader-row"))}>{ name }{ cells }
                    <td class="row-meta">{ format!("c{commit}") }</td>
                </tr>
            }
        })
        .collect();
    html! {
        <div class="card log-card">
            <div class="card-head">
                <h2>{ "Logs" }</h2>
                <span class="muted small">
                    <span class="swatch committed"></span>{ "committed " }
                    <span class="swatch uncommitted"></span>{ "not yet " }
                    <span class="swatch volatile"></span>{ "not fsynced " }
                    <span class="swatch compacted"></span>{ "snapshot " }
                    { "· number = term · B bootstrap · ⚙ config · · noop" }
                </span>
            </div>
            <div class="log-scroll">
                <table id="log-grid" class="log-grid">
                    <tr><th></th>{ header }<th></th></tr>
                    { rows }
                </table>
            </div>
        </div>
    }
}
