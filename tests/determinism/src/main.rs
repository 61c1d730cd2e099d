//! The native side of the cross-target determinism test: `swarm-reports 1,2,3` prints the
//! reports of those swarm seeds, one JSON line each (see the library's documentation).

fn main() {
    let Some(seeds) = std::env::args().nth(1) else {
        eprintln!("usage: swarm-reports SEED[,SEED...]");
        std::process::exit(2);
    };
    print!("{}", flotilla_determinism::swarm_reports(&seeds));
}
