//! Storage backends behind one small trait.
//!
//! Everything strata persists goes through [`Directory`]: whole files are written once
//! (create, write, fsync), renamed into place, read back whole, and removed when no manifest
//! or live snapshot refers to them. Files are never modified after they are written, which is
//! what makes mapping them safe.
//!
//! - [`FsDirectory`]: a directory on the local file system; [`Directory::map`] memory-maps
//!   (read-only) the large, immutable segment files (see `mmap.rs`).
//! - [`MemDirectory`]: everything in memory, for tests and ephemeral indexes.
//! - [`FaultDirectory`]: an in-memory model of a disk that distinguishes what was written from
//!   what was made durable, can crash after the Nth operation (tearing or dropping what was not
//!   synced) and can fail a chosen operation with EIO or ENOSPC.

mod bytes;
mod fault;
mod fs;
mod mem;
mod mmap;

pub use bytes::FileBytes;
pub use fault::{CrashMode, FaultDirectory, FaultKind};
pub use fs::FsDirectory;
pub use mem::MemDirectory;

use std::fmt;
use std::io;

/// A file being written. Bytes become durable only after [`FileWriter::sync`].
pub trait FileWriter: Send {
    /// Appends `buf` to the file.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Makes everything written so far durable (fsync).
    fn sync(&mut self) -> io::Result<()>;
}

/// Held while a lock file is locked; dropping it releases the lock.
pub trait LockGuard: Send + Sync + fmt::Debug {}

/// A flat directory of immutable files.
pub trait Directory: Send + Sync + fmt::Debug {
    /// Where this directory is, for messages.
    fn describe(&self) -> String;
    /// Creates `name` for writing. The name must not exist: an existing file, link or anything
    /// else under that name fails with [`io::ErrorKind::AlreadyExists`], so strata never
    /// writes through a link planted in its directory nor over a file it did not create.
    fn create(&self, name: &str) -> io::Result<Box<dyn FileWriter>>;
    /// Reads the whole of `name` into memory.
    fn read(&self, name: &str) -> io::Result<FileBytes>;
    /// Like `read`, but backends that can may memory-map the file instead of copying it.
    /// Only ever called on complete, immutable files.
    fn map(&self, name: &str) -> io::Result<FileBytes> {
        self.read(name)
    }
    /// Atomically renames `from` to `to`, replacing `to` if it exists.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Removes `name`.
    fn remove(&self, name: &str) -> io::Result<()>;
    /// Lists the names in the directory that are not directories: files, and also links and
    /// other entries, so that recovery and verification see (and can remove) a link planted
    /// under a name strata uses.
    fn list(&self) -> io::Result<Vec<String>>;
    /// Makes creates, renames and removes so far durable (fsync of the directory).
    fn sync_dir(&self) -> io::Result<()>;
    /// Tries to take the directory's exclusive writer lock, whose lock file is `name`
    /// (created if needed). `Ok(None)` means another holder (this process or another) has it.
    /// The lock must stay exclusive whatever happens to the name `name` afterwards (the file
    /// system backend also locks the directory itself, so removing the lock file by hand does
    /// not let a second writer in).
    fn try_lock(&self, name: &str) -> io::Result<Option<Box<dyn LockGuard>>>;
    /// Total size in bytes of `name`.
    fn file_len(&self, name: &str) -> io::Result<u64> {
        Ok(self.read(name)?.len() as u64)
    }
}

/// Writes `data` to `name` and fsyncs it. The name is not yet durable: call `sync_dir`.
pub fn write_file_synced(dir: &dyn Directory, name: &str, data: &[u8]) -> io::Result<()> {
    let mut w = dir.create(name)?;
    w.write_all(data)?;
    w.sync()
}

#[cfg(test)]
mod tests;
