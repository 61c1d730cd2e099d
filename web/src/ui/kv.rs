//! Each node's key-value state machine: one column per node, one row per key. A value that
//! differs from the leader's is highlighted: that node has not applied as far yet.

use super::shared::{node_name, SessionRef};
use flotilla_core::types::NodeId;
use std::collections::BTreeSet;
use yew::prelude::*;

/// Keys shown at most (the autopilot uses a handful).
const KEYS_MAX: usize = 24;

#[derive(Properties, PartialEq)]
pub struct KvProps {
    pub session: SessionRef,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[function_component(KvView)]
pub fn kv_view(props: &KvProps) -> Html {
    let session = props.session.borrow();
    let sim = session.sim();
    let ids: Vec<NodeId> = (1..=u64::from(sim.node_count())).map(NodeId).collect();
    let reference = session.leader().and_then(|l| sim.replica(l));
    let keys: BTreeSet<Vec<u8>> = ids
        .iter()
        .filter_map(|&id| sim.replica(id))
        .flat_map(|r| r.kv().iter().map(|(k, _)| k.to_vec()).collect::<Vec<_>>())
        .collect();
    let shown = keys.len().min(KEYS_MAX);
    let header: Html = ids
        .iter()
        .map(|&id| {
            let applied = sim
                .replica(id)
                .map_or("down".to_string(), |r| format!("@{}", r.kv().applied().0));
            html! { <th>{ node_name(id) }<div class="muted small">{ applied }</div></th> }
        })
        .collect();
    let rows: Html = keys
        .iter()
        .take(KEYS_MAX)
        .map(|key| {
            let expected = reference.and_then(|r| r.kv().get(key));
            let cells: Html = ids
                .iter()
                .map(|&id| match sim.replica(id) {
                    None => html! { <td class="muted">{ "–" }</td> },
                    Some(r) => {
                        let value = r.kv().get(key);
                        let stale = reference.is_some() && value != expected;
                        html! {
                            <td class={classes!(stale.then_some("stale"))}>
                                { value.map_or("∅".to_string(), text) }
                            </td>
                        }
                    }
                })
                .collect();
            html! { <tr><th>{ text(key) }</th>{ cells }</tr> }
        })
        .collect();
    html! {
        <div class="card kv-card">
            <div class="card-head">
                <h2>{ "Key-value state" }</h2>
                <span class="muted small">{ format!("{} keys{}", keys.len(), if keys.len() > shown { format!(", first {shown} shown") } else { String::new() }) }</span>
            </div>
            if keys.is_empty() {
                <p class="muted">{ "Empty. Put a key with the client box, or switch on the autopilot." }</p>
            } else {
                <div class="table-scroll">
                    <table id="kv-table" class="grid-table kv">
                        <tr><th>{ "key" }</th>{ header }</tr>
                        { rows }
                    </table>
                </div>
            }
        </div>
    }
}
