//! The file operations the store needs, on one folder of named files: the seam between the
//! write-ahead log's logic and the operating system.
//!
//! The file store never touches `std::fs` itself. It runs on [`OsDir`] in a node, and on
//! [`SimDir`](super::SimDir) in the crash tests, which keeps what each `fsync` made durable
//! apart from what is only in the page cache and can therefore stop the world after any
//! single operation and show what a power cut would leave.
//!
//! The operations are the ones whose durability rules differ, named after the system calls:
//! file contents become durable with [`Dir::sync`] (fdatasync); creations, renames and
//! removals of names become durable with [`Dir::sync_dir`] (fsync of the folder).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// One folder of files, addressed by name.
pub trait Dir: Debug {
    /// The names of the files in the folder, in no particular order.
    fn list(&mut self) -> io::Result<Vec<String>>;
    /// The whole content of a file, or `None` if there is no such file.
    fn read(&mut self, name: &str) -> io::Result<Option<Vec<u8>>>;
    /// Creates an empty file, emptying it if it exists.
    fn create(&mut self, name: &str) -> io::Result<()>;
    /// Appends `bytes` to a file with one `write`.
    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Writes `bytes` at `offset` with one `write`, over what is there (the preallocated
    /// zeros of a segment) and past the end if it reaches that far.
    fn write_at(&mut self, name: &str, offset: u64, bytes: &[u8]) -> io::Result<()>;
    /// Makes a file's content durable (fdatasync).
    fn sync(&mut self, name: &str) -> io::Result<()>;
    /// Cuts a file to `len` bytes.
    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to` if it exists.
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()>;
    /// Removes a file.
    fn remove(&mut self, name: &str) -> io::Result<()>;
    /// Makes the creations, renames and removals so far durable (fsync of the folder).
    fn sync_dir(&mut self) -> io::Result<()>;
    /// How to name a file in messages to an operator (for real files, the path).
    fn describe(&self, name: &str) -> String;
}

/// A real folder. Keeps files open between appends, so that a segment is not reopened for
/// every write.
#[derive(Debug)]
pub struct OsDir {
    path: PathBuf,
    open: BTreeMap<String, File>,
}

impl OsDir {
    /// Opens (creating if needed) the folder at `path`.
    pub fn open(path: &Path) -> io::Result<OsDir> {
        fs::create_dir_all(path)?;
        Ok(OsDir {
            path: path.to_path_buf(),
            open: BTreeMap::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn file(&mut self, name: &str) -> io::Result<&mut File> {
        if !self.open.contains_key(name) {
            // Not O_APPEND: batches are written inside the preallocated part of a segment.
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(self.path.join(name))?;
            self.open.insert(name.to_string(), file);
        }
        self.open
            .get_mut(name)
            .ok_or_else(|| io::Error::other("a file just opened is missing"))
    }
}

impl Dir for OsDir {
    fn list(&mut self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for dirent in fs::read_dir(&self.path)? {
            if let Some(name) = dirent?.file_name().to_str() {
                names.push(name.to_string());
            }
        }
        Ok(names)
    }

    fn read(&mut self, name: &str) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.path.join(name)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn create(&mut self, name: &str) -> io::Result<()> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(self.path.join(name))?;
        drop(file);
        self.open.remove(name);
        Ok(())
    }

    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let file = self.file(name)?;
        let end = file.metadata()?.len();
        file.write_all_at(bytes, end)
    }

    fn write_at(&mut self, name: &str, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.file(name)?.write_all_at(bytes, offset)
    }

    fn sync(&mut self, name: &str) -> io::Result<()> {
        self.file(name)?.sync_data()
    }

    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()> {
        self.file(name)?.set_len(len)
    }

    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        self.open.remove(from);
        self.open.remove(to);
        fs::rename(self.path.join(from), self.path.join(to))
    }

    fn remove(&mut self, name: &str) -> io::Result<()> {
        self.open.remove(name);
        fs::remove_file(self.path.join(name))
    }

    fn sync_dir(&mut self) -> io::Result<()> {
        File::open(&self.path)?.sync_all()
    }

    fn describe(&self, name: &str) -> String {
        self.path.join(name).display().to_string()
    }
}
