//! The local file system backend.

use super::{Directory, FileBytes, FileWriter, LockGuard};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Opens `path` for reading without following a link in its last component: a link planted
/// under a name strata uses is never read through (the open fails with `ELOOP`).
fn open_no_follow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// A directory on the local file system.
#[derive(Debug, Clone)]
pub struct FsDirectory {
    root: PathBuf,
    use_mmap: bool,
}

impl FsDirectory {
    /// Opens (creating if needed) the directory at `root`. Segment files are memory-mapped.
    pub fn open(root: impl AsRef<Path>) -> io::Result<FsDirectory> {
        fs::create_dir_all(root.as_ref())?;
        Ok(FsDirectory {
            root: root.as_ref().to_path_buf(),
            use_mmap: true,
        })
    }

    /// Opens an existing directory without creating it.
    pub fn open_existing(root: impl AsRef<Path>) -> io::Result<FsDirectory> {
        let meta = fs::metadata(root.as_ref())?;
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory",
            ));
        }
        Ok(FsDirectory {
            root: root.as_ref().to_path_buf(),
            use_mmap: true,
        })
    }

    /// Reads segment files into memory instead of mapping them.
    pub fn without_mmap(mut self) -> FsDirectory {
        self.use_mmap = false;
        self
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.root
    }

    fn at(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}

struct FsWriter {
    file: io::BufWriter<File>,
}

impl FileWriter for FsWriter {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_all()
    }
}

/// The writer lock: an `flock` on the lock file and one on the directory itself. The lock
/// file keeps older builds out; the directory lock is what stays exclusive if someone removes
/// or replaces the lock file by hand (a new `LOCK` would be a new inode, free to lock).
#[derive(Debug)]
struct FsLock {
    _file: File,
    _dir: File,
}

impl LockGuard for FsLock {}

impl Directory for FsDirectory {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn FileWriter>> {
        // create_new is O_CREAT | O_EXCL: it fails if the name exists in any form, a link
        // included (O_EXCL never follows a link), so nothing is written outside the directory
        // or over a file strata did not create.
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(self.at(name))?;
        Ok(Box::new(FsWriter {
            file: io::BufWriter::with_capacity(1 << 20, file),
        }))
    }

    fn read(&self, name: &str) -> io::Result<FileBytes> {
        let mut file = open_no_follow(&self.at(name))?;
        let mut data = Vec::new();
        io::Read::read_to_end(&mut file, &mut data)?;
        Ok(FileBytes::copy_from(&data))
    }

    fn map(&self, name: &str) -> io::Result<FileBytes> {
        if !self.use_mmap {
            return self.read(name);
        }
        super::mmap::map_file(open_no_follow(&self.at(name))?)
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        fs::rename(self.at(from), self.at(to))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        fs::remove_file(self.at(name))
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            // Everything but directories: a link or other entry under a strata name must be
            // visible to recovery, garbage collection and verification.
            if !entry.file_type()?.is_dir()
                && let Some(name) = entry.file_name().to_str()
            {
                out.push(name.to_owned());
            }
        }
        out.sort();
        Ok(out)
    }

    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.root)?.sync_all()
    }

    fn try_lock(&self, name: &str) -> io::Result<Option<Box<dyn LockGuard>>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.at(name))?;
        // The directory first: it is the lock that cannot be sidestepped by removing `name`.
        let dir = File::open(&self.root)?;
        match dir.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        match file.try_lock() {
            Ok(()) => Ok(Some(Box::new(FsLock {
                _file: file,
                _dir: dir,
            }))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    fn file_len(&self, name: &str) -> io::Result<u64> {
        Ok(fs::symlink_metadata(self.at(name))?.len())
    }
}
