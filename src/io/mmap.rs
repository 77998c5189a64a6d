//! Read-only memory maps of complete, immutable files.
//!
//! One of the few places where strata uses `unsafe` (see docs/UNSAFE.md).
#![allow(unsafe_code)]

use super::FileBytes;
use std::fs::File;
use std::io;
use std::sync::Arc;

struct Mapped(memmap2::Mmap);

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Maps the whole of the opened `file` read-only. Empty files are read instead (a zero-length
/// map fails).
pub(crate) fn map_file(file: File) -> io::Result<FileBytes> {
    if file.metadata()?.len() == 0 {
        return Ok(FileBytes::copy_from(&[]));
    }
    // strata maps only files that were completely written, fsynced and renamed into place,
    // and never writes to or truncates a file after that (files are immutable; the writer
    // only creates new names and removes unreferenced ones, and removing a name keeps the
    // mapped inode alive). A third party truncating the file could still raise SIGBUS; that is
    // outside strata's contract (docs/UNSAFE.md).
    // SAFETY: the file is complete and never modified while mapped (above); the map is
    // read-only and page aligned, which satisfies FileBytes' 8-byte alignment.
    let map = unsafe { memmap2::Mmap::map(&file)? };
    Ok(FileBytes::from_owner(Arc::new(Mapped(map))))
}
