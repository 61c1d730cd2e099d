//! Every node's log side by side, one row per node, one column per index: each cell shows
//! the entry's term (coloured by term). Solid cells are committed, pale ones are not yet;
//! a dashed outline marks an entry not yet fsynced; a grey block at the left is the
//! compacted prefix, held only as a snapshot. A live node reports the terms of its last
//! entries only; older ones show as `…`.

use super::shared::{node_name, term_class, ClusterRef};
use crate::model::view::{Cell, LogRow};
use flotilla_core::types::NodeId;
use yew::prelude::*;

/// Columns shown: the most recent entries, as many as fit the card at 1280 px (older ones
/// drop off to the left).
const COLUMNS: u64 = 20;

#[derive(Properties, PartialEq)]
pub struct LogGridProps {
    pub cluster: ClusterRef,
    pub selected: Option<NodeId>,
    pub on_select: Callback<Option<NodeId>>,
}

fn cell(i: u64, cell: &Cell) -> Html {
    match cell {
        Cell::Compacted { snapshot, edge } => html! {
            <td class={classes!("cell", "compacted", edge.then_some("edge"))}
                title={format!("{i}: compacted into the snapshot at {snapshot}")}>
                { if *edge { "S" } else { "" } }
            </td>
        },
        Cell::Empty => html! { <td class="cell empty"></td> },
        Cell::Unknown { committed } => html! {
            <td class={classes!("cell", "unknown", if *committed { "committed" } else { "uncommitted" })}
                title={format!("index {i}: older than the part of the log the node reports")}>
                { "…" }
            </td>
        },
        Cell::Entry {
            term,
            committed,
            durable,
            mark,
            what,
        } => {
            let title = format!(
                "index {i}, term {term}{}\n{}{}",
                what.as_ref().map_or(String::new(), |w| format!(": {w}")),
                if *committed {
                    "committed"
                } else {
                    "not committed"
                },
                if *durable {
                    ", durable"
                } else {
                    ", not yet fsynced"
                }
            );
            html! {
                <td class={classes!(
                    "cell",
                    term_class(*term),
                    if *committed { "committed" } else { "uncommitted" },
                    (!durable).then_some("volatile"),
                )} {title}>
                    <span class="cell-term">{ term }</span>
                    <span class="cell-mark">{ *mark }</span>
                </td>
            }
        }
    }
}

#[function_component(LogGrid)]
pub fn log_grid(props: &LogGridProps) -> Html {
    let (ids, columns, rows) = props.cluster.with(|c| {
        let ids: Vec<NodeId> = c.nodes().iter().map(|v| v.id).collect();
        let last = c.log_last_index();
        let first = last.saturating_sub(COLUMNS - 1).max(1);
        let columns: Vec<u64> = (first..=last.max(first)).collect();
        let rows: Vec<LogRow> = ids.iter().map(|&id| c.log_row(id, &columns)).collect();
        (ids, columns, rows)
    });
    let header: Html = columns
        .iter()
        .map(|i| html! { <th class="idx">{ i }</th> })
        .collect();
    let rows: Html = ids
        .iter()
        .zip(&rows)
        .map(|(&id, row)| {
            let selected = props.selected == Some(id);
            let on_select = props.on_select.clone();
            let onclick = Callback::from(move |_: MouseEvent| {
                on_select.emit(if selected { None } else { Some(id) })
            });
            let name = html! {
                <th class={classes!("row-name", selected.then_some("on"))} {onclick}>{ node_name(id) }</th>
            };
            match row {
                LogRow::Note(note) => html! {
                    <tr class="crashed">{ name }
                        <td class="row-note" colspan={columns.len().to_string()}>{ note }</td>
                    </tr>
                },
                LogRow::Cells { cells, commit, leader } => {
                    let cells: Html = columns.iter().zip(cells).map(|(&i, c)| cell(i, c)).collect();
                    html! {
                        <tr class={classes!(leader.then_some("leader-row"))}>{ name }{ cells }
                            <td class="row-meta">{ format!("c{commit}") }</td>
                        </tr>
                    }
                }
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
