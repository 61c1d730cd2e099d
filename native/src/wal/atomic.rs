//! Replacing a small file so that a crash leaves the old or the new content, never a mix.

use super::dir::Dir;
use std::io;

/// Writes `bytes` to `name` atomically: a temporary file is written and fsynced, renamed
/// over the target, and the folder is fsynced so that the rename itself is durable.
pub fn write_atomic<D: Dir>(dir: &mut D, name: &str, bytes: &[u8]) -> io::Result<()> {
    let temp = format!("{name}.tmp");
    dir.create(&temp)?;
    dir.append(&temp, bytes)?;
    dir.sync(&temp)?;
    dir.rename(&temp, name)?;
    dir.sync_dir()
}
