//! Replays the fuzz corpus (`fuzz/corpus/<target>/*`, and `fuzz/regressions/<target>/*` for
//! inputs that once failed) through the same functions the cargo-fuzz targets call
//! (`flotilla::fuzzing`), so the test command checks every input found so far without
//! libFuzzer or a nightly compiler.
//!
//! `FLOTILLA_WRITE_FUZZ_SEEDS=1 cargo test -p flotilla --test fuzz_corpus` (re)writes the
//! seed inputs built from real values (Raft envelopes, WAL segments, snapshots).

use flotilla::fuzzing;
use std::path::{Path, PathBuf};

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("resp", fuzzing::resp),
    ("peer_frame", fuzzing::peer_frame),
    ("ws_json", fuzzing::ws_json),
    ("wal_log", fuzzing::wal_log),
    ("snapshot", fuzzing::snapshot),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_input_passes_its_target() {
    if std::env::var_os("FLOTILLA_WRITE_FUZZ_SEEDS").is_some() {
        seeds::write(&fuzz_dir().join("corpus"));
    }
    let mut total = 0;
    for (name, target) in TARGETS {
        let mut count = 0;
        for folder in ["corpus", "regressions"] {
            for path in files(&fuzz_dir().join(folder).join(name)) {
                let bytes = std::fs::read(&path).expect("read corpus file");
                let outcome = std::panic::catch_unwind(|| target(&bytes));
                assert!(outcome.is_ok(), "{name} fails on {}", path.display());
                count += 1;
            }
        }
        assert!(count > 0, "no corpus for {name}");
        println!("{name}: {count} inputs");
        total += count;
    }
    println!("{total} corpus inputs replayed");
}

#[test]
fn huge_length_prefixes_allocate_nothing() {
    // 4 GB announced, a few bytes present: every decoder must refuse or wait, not allocate.
    let huge = u32::MAX.to_be_bytes();
    fuzzing::peer_frame(&[&huge[..], b"{}"].concat());
    fuzzing::resp(b"*1\r\n$4294967295\r\nab");
    fuzzing::resp(b"*4294967295\r\n");
    fuzzing::resp(b"$4294967295\r\n");
    fuzzing::wal_log(&[&u32::MAX.to_le_bytes()[..], &[0; 12]].concat());
    fuzzing::snapshot(&[b"FLSNAP".as_slice(), &[1, 0, 0, 0, 255, 255, 255, 255]].concat());
}

/// Seed inputs built from real values.
mod seeds {
    use flotilla::peer::{frame, PeerMessage};
    use flotilla::wal::{FileStore, OsDir};
    use flotilla_core::raft::{
        Entry, Envelope, HardState, Membership, Message, Payload, Snapshot, SnapshotMeta,
    };
    use flotilla_core::storage::{encode_hard_state, encode_snapshot, Storage};
    use flotilla_core::{Index, NodeId, Term};
    use std::path::Path;

    fn entry(index: u64) -> Entry {
        Entry {
            index: Index(index),
            term: Term(2),
            payload: Payload::Command(vec![1, 2, 3]),
        }
    }

    pub fn write(corpus: &Path) {
        let envelope = |message| {
            PeerMessage::Raft(Envelope {
                from: NodeId(1),
                to: NodeId(2),
                term: Term(3),
                message,
            })
        };
        let messages = [
            envelope(Message::Append {
                prev_index: Index(4),
                prev_term: Term(2),
                entries: vec![entry(5), entry(6)],
                commit: Index(4),
            }),
            envelope(Message::Vote {
                last_index: Index(9),
                last_term: Term(2),
                transfer: false,
            }),
            envelope(Message::Heartbeat {
                commit: Index(3),
                read_round: 7,
            }),
            envelope(Message::InstallSnapshot {
                meta: SnapshotMeta {
                    index: Index(10),
                    term: Term(2),
                    membership: Membership::with_voters([(NodeId(1), "127.0.0.1:7001")]),
                },
                offset: 0,
                data: vec![9; 16],
                done: true,
            }),
        ];
        for (i, message) in messages.iter().enumerate() {
            let mut wire = Vec::new();
            frame::encode(message, &mut wire);
            std::fs::write(corpus.join("peer_frame").join(format!("raft{i}")), wire)
                .expect("write seed");
        }
        let snapshot = Snapshot {
            meta: SnapshotMeta {
                index: Index(10),
                term: Term(2),
                membership: Membership::with_voters([(NodeId(1), "a")]),
            },
            data: b"state".to_vec(),
        };
        std::fs::write(
            corpus.join("snapshot").join("snapshot"),
            encode_snapshot(&snapshot),
        )
        .expect("write seed");
        let hard_state = HardState {
            term: Term(3),
            vote: Some(NodeId(2)),
            commit: Index(9),
        };
        std::fs::write(
            corpus.join("snapshot").join("hard_state"),
            encode_hard_state(&hard_state),
        )
        .expect("write seed");
        let dir = std::env::temp_dir().join(format!("flotilla-seeds-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut store = FileStore::with_dir(OsDir::open(&dir).expect("dir"), 1 << 20);
        store.load().expect("load");
        for index in 1..=3 {
            store.append(&[entry(index)]).expect("append");
            store.sync().expect("sync");
        }
        for (name, _) in store.segment_files() {
            let bytes = std::fs::read(dir.join(&name)).expect("segment");
            let mut seed = vec![0u8];
            seed.extend_from_slice(&bytes);
            std::fs::write(corpus.join("wal_log").join("segment"), seed).expect("write seed");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
