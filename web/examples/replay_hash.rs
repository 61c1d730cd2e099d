//! Replays a page link natively and prints its trace hash, for the browser test that checks
//! the page (wasm) and the host agree on a run:
//!
//! ```sh
//! cargo run -q -p flotilla-web --example replay_hash -- 'v1&s=82&n=5&...&t=2400&a=...'
//! ```
//!
//! It uses the core alone, not the page's session, so it also pins down what a link means:
//! for each action in order, run the simulator up to the action's time, then apply it; then
//! run up to the link's time. Prints one JSON object.

use flotilla_web::model::defaults::page_options;
use flotilla_web::model::replay;

fn main() {
    let Some(fragment) = std::env::args().nth(1) else {
        eprintln!("usage: replay_hash <link fragment>");
        std::process::exit(2);
    };
    let link = match replay::decode(&fragment, &page_options(5)) {
        Ok(link) => link,
        Err(error) => {
            eprintln!("replay_hash: {error}");
            std::process::exit(1);
        }
    };
    let mut sim = match flotilla_core::sim::Sim::new(link.run.seed, link.run.options.clone()) {
        Ok(sim) => sim,
        Err(error) => {
            eprintln!("replay_hash: {error}");
            std::process::exit(1);
        }
    };
    for scheduled in &link.run.tape {
        if scheduled.at_ms > link.at_ms {
            break;
        }
        sim.run_until(scheduled.at_ms);
        sim.act(scheduled.action.clone());
    }
    sim.run_until(link.at_ms);
    println!(
        "{{\"seed\":{},\"virtual_ms\":{},\"trace_lines\":{},\"trace_hash\":\"{:016x}\"}}",
        link.run.seed,
        sim.now(),
        sim.trace().count(),
        sim.trace().hash()
    );
}
