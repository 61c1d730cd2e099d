//! Golden-script tests for the Raft core: each file in `tests/scripts/` is a scenario whose
//! trace is checked in. Regenerate with `UPDATE_GOLDENFILES=1 cargo test -p flotilla-core
//! --test golden`, and read the diff before committing it.

#[path = "golden/format.rs"]
mod format;
#[path = "golden/harness.rs"]
mod harness;

use std::path::Path;
use test_each_file::test_each_path;

test_each_path! { in "core/tests/scripts" => run_script }

fn run_script(path: &Path) {
    goldenscript::run(&mut harness::Harness::default(), path).expect("golden script failed");
}
