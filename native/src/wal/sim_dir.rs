//! [`SimDir`]: a folder in memory that knows what a power cut would leave.
//!
//! Every file has the bytes a reader sees now and the bytes the last `sync` made durable;
//! the folder has the names it shows now and the names the last `sync_dir` made durable,
//! plus the creations, renames and removals since, in order. [`SimFs::crash`] builds the
//! folder a restart would find:
//!
//! * names: the durable ones, plus a prefix of the later operations (file systems with an
//!   ordered journal commit metadata changes in order; which prefix is up to the crash);
//! * contents: the durable bytes, then, of what was appended since, a prefix; every
//!   512-byte sector (counted from the start of the file) written since the last sync,
//!   appended or overwritten in place, is kept, zeroed, garbled or (if it was durable)
//!   left as it was, as [`Tear`] says. Only the bytes a write changed are touched: the
//!   store overwrites nothing but preallocated zeros, and never shares a sector between
//!   a synced batch and the next.
//!
//! After every operation that changes something, the observer set with
//! [`SimDir::observe`] is called with the state: the crash tests crash there.

use super::dir::Dir;
use super::format::SECTOR_BYTES;
use std::collections::BTreeMap;
use std::fmt;
use std::io;

/// How a crash treats what was not synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tear {
    /// Nothing unsynced survives.
    LoseUnsynced,
    /// Everything written survives (the cache was flushed just before the cut).
    KeepUnsynced,
    /// Files keep their new length but every unsynced sector reads as zeros.
    ZeroUnsynced,
    /// Every unsynced sector is garbage.
    GarbleUnsynced,
    /// A random prefix of each file's unsynced appends survives, each written sector kept,
    /// zeroed, garbled or left as it was at random, and a random prefix of the folder
    /// operations; from `seed`.
    Random { seed: u64 },
}

/// What a crash test is told after each operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Create,
    Append,
    WriteAt,
    Sync,
    Truncate,
    Rename,
    Remove,
    SyncDir,
}

#[derive(Clone, Debug, Default)]
struct SimFile {
    data: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Clone, Debug)]
enum DirOp {
    Link { name: String, inode: u64 },
    Rename { from: String, to: String },
    Remove { name: String },
}

/// The state of a simulated folder (what [`SimDir`] observers see).
#[derive(Clone, Debug, Default)]
pub struct SimFs {
    files: BTreeMap<u64, SimFile>,
    names: BTreeMap<String, u64>,
    durable_names: BTreeMap<String, u64>,
    /// Folder operations since the last `sync_dir`.
    unsynced: Vec<DirOp>,
    next_inode: u64,
}

/// Called after every operation that changed the folder.
pub type Observer = Box<dyn FnMut(&SimFs, Op)>;

/// A folder in memory with crash semantics. See the module docs.
#[derive(Default)]
pub struct SimDir {
    fs: SimFs,
    observer: Option<Observer>,
    /// Operations that changed something, in total.
    pub ops: u64,
}

impl fmt::Debug for SimDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimDir")
            .field("files", &self.fs.names.len())
            .field("ops", &self.ops)
            .finish()
    }
}

impl SimDir {
    pub fn new() -> SimDir {
        SimDir::default()
    }

    /// Calls `observer` after every operation that changes something.
    pub fn observe(&mut self, observer: Observer) {
        self.observer = Some(observer);
    }

    pub fn fs(&self) -> &SimFs {
        &self.fs
    }

    fn changed(&mut self, op: Op) {
        self.ops += 1;
        if let Some(mut observer) = self.observer.take() {
            observer(&self.fs, op);
            self.observer = Some(observer);
        }
    }

    fn inode(&self, name: &str) -> io::Result<u64> {
        self.fs
            .names
            .get(name)
            .copied()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no file {name}")))
    }

    fn file_mut(&mut self, name: &str) -> io::Result<&mut SimFile> {
        let inode = self.inode(name)?;
        self.fs
            .files
            .get_mut(&inode)
            .ok_or_else(|| io::Error::other("dangling name"))
    }
}

impl SimFs {
    /// The folder as a restart after a power cut now would find it.
    pub fn crash(&self, tear: Tear) -> SimDir {
        let mut rng = SplitMix(match tear {
            Tear::Random { seed } => seed,
            _ => 0,
        });
        let survive = match tear {
            Tear::LoseUnsynced => 0,
            Tear::Random { .. } => rng.below(self.unsynced.len() as u64 + 1) as usize,
            _ => self.unsynced.len(),
        };
        let mut names = self.durable_names.clone();
        for op in &self.unsynced[..survive] {
            match op {
                DirOp::Link { name, inode } => {
                    names.insert(name.clone(), *inode);
                }
                DirOp::Rename { from, to } => {
                    if let Some(inode) = names.remove(from) {
                        names.insert(to.clone(), inode);
                    }
                }
                DirOp::Remove { name } => {
                    names.remove(name);
                }
            }
        }
        let mut files = BTreeMap::new();
        for inode in names.values() {
            if files.contains_key(inode) {
                continue;
            }
            let file = self.files.get(inode).cloned().unwrap_or_default();
            let data = torn_content(&file, tear, &mut rng);
            files.insert(
                *inode,
                SimFile {
                    durable: data.clone(),
                    data,
                },
            );
        }
        SimDir {
            fs: SimFs {
                files,
                durable_names: names.clone(),
                names,
                unsynced: Vec::new(),
                next_inode: self.next_inode,
            },
            observer: None,
            ops: 0,
        }
    }

    /// Every file, by name, with the bytes a reader sees now.
    pub fn contents(&self) -> BTreeMap<String, Vec<u8>> {
        self.names
            .iter()
            .filter_map(|(name, inode)| Some((name.clone(), self.files.get(inode)?.data.clone())))
            .collect()
    }

    /// Whether everything is durable: a crash now loses nothing.
    pub fn is_synced(&self) -> bool {
        self.unsynced.is_empty() && self.files.values().all(|f| f.data == f.durable)
    }

    /// Replaces a file's bytes, durably (for tests that damage synced data).
    pub fn overwrite(&mut self, name: &str, bytes: Vec<u8>) -> bool {
        let Some(file) = self.names.get(name).and_then(|i| self.files.get_mut(i)) else {
            return false;
        };
        file.durable = bytes.clone();
        file.data = bytes;
        true
    }

    /// A folder with these durable files (to run the store on a damaged copy).
    pub fn into_dir(self) -> SimDir {
        SimDir {
            fs: self,
            observer: None,
            ops: 0,
        }
    }
}

/// The content a crash leaves of one file.
fn torn_content(file: &SimFile, tear: Tear, rng: &mut SplitMix) -> Vec<u8> {
    if file.data.len() < file.durable.len() {
        // Truncated or recreated since the last sync: the old or the new content.
        let keep_new = match tear {
            Tear::KeepUnsynced => true,
            Tear::Random { .. } => rng.below(2) == 1,
            _ => false,
        };
        return if keep_new {
            file.data.clone()
        } else {
            file.durable.clone()
        };
    }
    let start = file.durable.len();
    let grown = (file.data.len() - start) as u64;
    let kept = match tear {
        Tear::LoseUnsynced => 0,
        Tear::Random { .. } => rng.below(grown + 1),
        _ => grown,
    } as usize;
    let mut out = file.data[..start + kept].to_vec();
    let mut offset = 0;
    while offset < out.len() {
        let end = ((offset / SECTOR_BYTES + 1) * SECTOR_BYTES).min(out.len());
        let durable = |i: usize| file.durable.get(i).copied();
        let changed: Vec<usize> = (offset..end)
            .filter(|&i| durable(i) != Some(out[i]))
            .collect();
        if !changed.is_empty() {
            tear_sector(&mut out, &changed, &durable, tear, rng);
        }
        offset = end;
    }
    out
}

/// What a crash does to the bytes a write changed in one sector.
fn tear_sector(
    out: &mut [u8],
    changed: &[usize],
    durable: &dyn Fn(usize) -> Option<u8>,
    tear: Tear,
    rng: &mut SplitMix,
) {
    // 0: the write reached the disk; 1: zeros; 2: garbage; 3: the sector as it was.
    let fate = match tear {
        Tear::LoseUnsynced => 3,
        Tear::KeepUnsynced => 0,
        Tear::ZeroUnsynced => 1,
        Tear::GarbleUnsynced => 2,
        Tear::Random { .. } => rng.below(4),
    };
    for &i in changed {
        match fate {
            1 => out[i] = 0,
            2 => out[i] = rng.next() as u8,
            // Appended bytes had no earlier content: they read as zeros.
            3 => out[i] = durable(i).unwrap_or(0),
            _ => {}
        }
    }
}

/// SplitMix64: a tiny deterministic generator, enough for choosing tears.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

impl Dir for SimDir {
    fn list(&mut self) -> io::Result<Vec<String>> {
        Ok(self.fs.names.keys().cloned().collect())
    }

    fn read(&mut self, name: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(self
            .fs
            .names
            .get(name)
            .and_then(|inode| self.fs.files.get(inode))
            .map(|f| f.data.clone()))
    }

    fn create(&mut self, name: &str) -> io::Result<()> {
        if let Ok(file) = self.file_mut(name) {
            file.data.clear();
        } else {
            let inode = self.fs.next_inode;
            self.fs.next_inode += 1;
            self.fs.files.insert(inode, SimFile::default());
            self.fs.names.insert(name.to_string(), inode);
            self.fs.unsynced.push(DirOp::Link {
                name: name.to_string(),
                inode,
            });
        }
        self.changed(Op::Create);
        Ok(())
    }

    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.file_mut(name)?.data.extend_from_slice(bytes);
        self.changed(Op::Append);
        Ok(())
    }

    fn write_at(&mut self, name: &str, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let offset = usize::try_from(offset).map_err(io::Error::other)?;
        let data = &mut self.file_mut(name)?.data;
        let end = offset + bytes.len();
        if data.len() < end {
            data.resize(end, 0);
        }
        data[offset..end].copy_from_slice(bytes);
        self.changed(Op::WriteAt);
        Ok(())
    }

    fn sync(&mut self, name: &str) -> io::Result<()> {
        let file = self.file_mut(name)?;
        file.durable = file.data.clone();
        self.changed(Op::Sync);
        Ok(())
    }

    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(io::Error::other)?;
        self.file_mut(name)?.data.truncate(len);
        self.changed(Op::Truncate);
        Ok(())
    }

    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        let inode = self.inode(from)?;
        self.fs.names.remove(from);
        self.fs.names.insert(to.to_string(), inode);
        self.fs.unsynced.push(DirOp::Rename {
            from: from.to_string(),
            to: to.to_string(),
        });
        self.changed(Op::Rename);
        Ok(())
    }

    fn remove(&mut self, name: &str) -> io::Result<()> {
        self.inode(name)?;
        self.fs.names.remove(name);
        self.fs.unsynced.push(DirOp::Remove {
            name: name.to_string(),
        });
        self.changed(Op::Remove);
        Ok(())
    }

    fn sync_dir(&mut self) -> io::Result<()> {
        self.fs.durable_names = self.fs.names.clone();
        self.fs.unsynced.clear();
        self.changed(Op::SyncDir);
        Ok(())
    }

    fn describe(&self, name: &str) -> String {
        format!("sim:{name}")
    }
}
