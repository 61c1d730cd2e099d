//! What the colours and marks in the ring mean.

use yew::prelude::*;

/// What the colours and marks in the ring mean.
#[function_component(Legend)]
pub fn legend() -> Html {
    html! {
        <div class="legend">
            <span><i class="dot leader"></i>{ "leader" }</span>
            <span><i class="dot candidate"></i>{ "candidate" }</span>
            <span><i class="dot pre-candidate"></i>{ "pre-candidate" }</span>
            <span><i class="dot follower"></i>{ "follower" }</span>
            <span><i class="dot crashed"></i>{ "crashed" }</span>
            <span class="sep"></span>
            <span><i class="dot m-append"></i>{ "append" }</span>
            <span><i class="dot m-heartbeat"></i>{ "heartbeat" }</span>
            <span><i class="dot m-vote"></i>{ "vote" }</span>
            <span><i class="dot m-prevote"></i>{ "pre-vote" }</span>
            <span><i class="dot m-snapshot"></i>{ "snapshot" }</span>
            <span><i class="ring-mark"></i>{ "hollow: reply · arc: election timer" }</span>
        </div>
    }
}
