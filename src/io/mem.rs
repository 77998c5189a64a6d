//! An in-memory backend: files live in a shared map and vanish with it.

use super::{Directory, FileBytes, FileWriter, LockGuard};
use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Default)]
struct State {
    files: BTreeMap<String, Vec<u8>>,
    locks: BTreeMap<String, ()>,
}

/// A directory held in memory. Clones share the same files.
#[derive(Debug, Default, Clone)]
pub struct MemDirectory {
    state: Arc<Mutex<State>>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn not_found(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{name}: no such file"))
}

fn already_exists(name: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{name}: already exists"),
    )
}

impl MemDirectory {
    /// An empty directory.
    pub fn new() -> MemDirectory {
        MemDirectory::default()
    }

    /// Replaces the bytes of `name` (tests use this to damage files).
    pub fn put(&self, name: &str, bytes: Vec<u8>) {
        lock(&self.state).files.insert(name.to_owned(), bytes);
    }
}

struct MemWriter {
    state: Arc<Mutex<State>>,
    name: String,
}

impl FileWriter for MemWriter {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut st = lock(&self.state);
        match st.files.get_mut(&self.name) {
            Some(f) => {
                f.extend_from_slice(buf);
                Ok(())
            }
            None => Err(not_found(&self.name)),
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug)]
struct MemLock {
    state: Arc<Mutex<State>>,
    name: String,
}

impl LockGuard for MemLock {}

impl Drop for MemLock {
    fn drop(&mut self) {
        lock(&self.state).locks.remove(&self.name);
    }
}

impl Directory for MemDirectory {
    fn describe(&self) -> String {
        "<memory>".to_owned()
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn FileWriter>> {
        let mut st = lock(&self.state);
        if st.files.contains_key(name) {
            return Err(already_exists(name));
        }
        st.files.insert(name.to_owned(), Vec::new());
        Ok(Box::new(MemWriter {
            state: self.state.clone(),
            name: name.to_owned(),
        }))
    }

    fn read(&self, name: &str) -> io::Result<FileBytes> {
        let st = lock(&self.state);
        st.files
            .get(name)
            .map(|d| FileBytes::copy_from(d))
            .ok_or_else(|| not_found(name))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut st = lock(&self.state);
        let data = st.files.remove(from).ok_or_else(|| not_found(from))?;
        st.files.insert(to.to_owned(), data);
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        lock(&self.state)
            .files
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| not_found(name))
    }

    fn list(&self) -> io::Result<Vec<String>> {
        Ok(lock(&self.state).files.keys().cloned().collect())
    }

    fn sync_dir(&self) -> io::Result<()> {
        Ok(())
    }

    fn try_lock(&self, name: &str) -> io::Result<Option<Box<dyn LockGuard>>> {
        let mut st = lock(&self.state);
        if st.locks.contains_key(name) {
            return Ok(None);
        }
        st.locks.insert(name.to_owned(), ());
        Ok(Some(Box::new(MemLock {
            state: self.state.clone(),
            name: name.to_owned(),
        })))
    }
}
