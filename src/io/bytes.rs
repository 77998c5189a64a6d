//! [`FileBytes`]: the immutable, shareable contents of one file, owned or mapped.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// The bytes of a whole file. Cloning is cheap (a reference count); the bytes stay valid as long
/// as any clone lives, even if the file is removed from its directory meanwhile.
///
/// The start of the bytes is 8-byte aligned whether they were read (copied into a `u64` buffer)
/// or mapped (page aligned), so typed views of aligned offsets can be taken with `bytemuck`.
#[derive(Clone)]
pub struct FileBytes {
    inner: Arc<dyn AsRef<[u8]> + Send + Sync>,
}

/// An owned buffer whose start is 8-byte aligned.
struct Aligned {
    words: Vec<u64>,
    len: usize,
}

impl AsRef<[u8]> for Aligned {
    fn as_ref(&self) -> &[u8] {
        let all: &[u8] = bytemuck::cast_slice(&self.words);
        all.get(..self.len).unwrap_or(all)
    }
}

impl FileBytes {
    /// Copies `data` into an aligned owned buffer.
    pub fn copy_from(data: &[u8]) -> FileBytes {
        let mut words = vec![0u64; data.len().div_ceil(8)];
        let dst: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
        if let Some(d) = dst.get_mut(..data.len()) {
            d.copy_from_slice(data);
        }
        FileBytes {
            inner: Arc::new(Aligned {
                words,
                len: data.len(),
            }),
        }
    }

    /// Wraps any owner of bytes (e.g. a memory map). The caller guarantees 8-byte alignment.
    pub(crate) fn from_owner(owner: Arc<dyn AsRef<[u8]> + Send + Sync>) -> FileBytes {
        FileBytes { inner: owner }
    }
}

impl Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        (*self.inner).as_ref()
    }
}

impl fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileBytes({} bytes)", self.len())
    }
}
