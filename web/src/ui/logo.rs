//! The page's mark: a small ring of five nodes, one of them leading.

use yew::prelude::*;

/// A small ring of five nodes, one of them leading: the page's mark.
#[function_component(Logo)]
pub fn logo() -> Html {
    let dots: Html = (0..5)
        .map(|i| {
            let (x, y) = ring_point(i);
            let class = if i == 0 { "logo-dot lead" } else { "logo-dot" };
            html! { <circle class={class} cx={format!("{x:.1}")} cy={format!("{y:.1}")} r="3.2" /> }
        })
        .collect();
    html! {
        <svg class="logo" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true">
            <circle class="logo-ring" cx="12" cy="12" r="8" />
            { dots }
        </svg>
    }
}

fn ring_point(i: u32) -> (f64, f64) {
    let angle = -std::f64::consts::FRAC_PI_2 + std::f64::consts::TAU * f64::from(i) / 5.0;
    (12.0 + 8.0 * angle.cos(), 12.0 + 8.0 * angle.sin())
}
