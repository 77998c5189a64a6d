//! A fault-injecting, in-memory model of a disk for crash and error tests.
//!
//! The model keeps two views of everything:
//! - each file (inode) has the bytes written so far and the bytes made durable by its last
//!   successful `sync`;
//! - the directory has the names as they are now and the names made durable by the last
//!   successful `sync_dir`.
//!
//! Every mutating call (create, write, sync, rename, remove, sync_dir) is one numbered
//! operation. The directory can be told to *crash after operation N*: from then on every call
//! fails, as if the process had died. [`FaultDirectory::crash`] then yields the disk a reboot
//! would see, under a [`CrashMode`]: only what was synced, everything that was written, or a
//! seeded mix in which each unsynced name change may or may not have happened and each file's
//! unsynced bytes are torn at a random point. It can also fail one chosen operation with EIO or
//! ENOSPC and go on working, as a real disk does after a transient error.

use super::{Directory, FileBytes, FileWriter, LockGuard};
use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// What a reboot after a crash finds of the data that was not synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// Unsynced bytes and unsynced name changes are all lost.
    DropUnsynced,
    /// Everything written survives, as if the OS flushed it all before power went.
    KeepAll,
    /// A seeded mix: each unsynced name change survives or not, each file keeps a random prefix
    /// of its unsynced bytes.
    Torn(u64),
}

/// The error an injected failure returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// `EIO`: the device failed.
    Eio,
    /// `ENOSPC`: the device is full.
    NoSpace,
}

#[derive(Debug, Default, Clone)]
struct Inode {
    data: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Debug, Default)]
struct State {
    inodes: Vec<Inode>,
    names: BTreeMap<String, usize>,
    durable_names: BTreeMap<String, usize>,
    ops: u64,
    crash_after: Option<u64>,
    crashed: bool,
    fail_at: Option<(u64, FaultKind)>,
    trace: Vec<String>,
    locked: bool,
}

/// The fault-injecting directory. Clones share one disk.
#[derive(Debug, Default, Clone)]
pub struct FaultDirectory {
    state: Arc<Mutex<State>>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn crashed_error() -> io::Error {
    io::Error::other("simulated crash: the process is gone")
}

impl State {
    /// Counts one mutating operation; fails it if a crash or a fault is due.
    fn op(&mut self, what: String) -> io::Result<()> {
        if self.crashed {
            return Err(crashed_error());
        }
        if self.crash_after.is_some_and(|n| self.ops >= n) {
            self.crashed = true;
            return Err(crashed_error());
        }
        self.ops += 1;
        self.trace.push(what);
        if let Some((n, kind)) = self.fail_at
            && n == self.ops
        {
            return Err(match kind {
                FaultKind::Eio => io::Error::from_raw_os_error(5),
                FaultKind::NoSpace => io::Error::from_raw_os_error(28),
            });
        }
        Ok(())
    }

    fn check_alive(&self) -> io::Result<()> {
        if self.crashed {
            Err(crashed_error())
        } else {
            Ok(())
        }
    }

    fn inode_of(&self, name: &str) -> io::Result<usize> {
        self.names
            .get(name)
            .copied()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{name}: no such file")))
    }
}

/// Small deterministic generator for torn crashes (splitmix64).
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        crate::rng::splitmix64(&mut self.0)
    }
}

impl FaultDirectory {
    /// An empty disk.
    pub fn new() -> FaultDirectory {
        FaultDirectory::default()
    }

    /// Mutating operations performed so far.
    pub fn ops(&self) -> u64 {
        lock(&self.state).ops
    }

    /// The description of each operation so far, in order.
    pub fn trace(&self) -> Vec<String> {
        lock(&self.state).trace.clone()
    }

    /// Resets the operation counter and trace (e.g. to count only the ops of one commit).
    pub fn reset_counter(&self) {
        let mut st = lock(&self.state);
        st.ops = 0;
        st.trace.clear();
    }

    /// After `n` more operations have succeeded, every call fails as if the process died.
    pub fn crash_after(&self, n: u64) {
        let mut st = lock(&self.state);
        st.crash_after = Some(st.ops + n);
    }

    /// Fails the `n`th operation from now (1-based) with `kind`; later ones succeed.
    pub fn fail_op(&self, n: u64, kind: FaultKind) {
        let mut st = lock(&self.state);
        st.fail_at = Some((st.ops + n, kind));
    }

    /// Whether a scheduled crash has happened.
    pub fn has_crashed(&self) -> bool {
        lock(&self.state).crashed
    }

    /// The disk a reboot would find: a new directory holding what survives under `mode`.
    /// The old handle stays crashed.
    pub fn crash(&self, mode: CrashMode) -> FaultDirectory {
        let mut st = lock(&self.state);
        st.crashed = true;
        let mut mix = Mix(match mode {
            CrashMode::Torn(seed) => seed,
            _ => 0,
        });
        // Which name -> inode bindings survive.
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        let all: std::collections::BTreeSet<&String> =
            st.names.keys().chain(st.durable_names.keys()).collect();
        for name in all {
            let (now, durable) = (st.names.get(name), st.durable_names.get(name));
            let survivor = match mode {
                CrashMode::DropUnsynced => durable,
                CrashMode::KeepAll => now,
                CrashMode::Torn(_) if now == durable => now,
                CrashMode::Torn(_) => {
                    if mix.next().is_multiple_of(2) {
                        now
                    } else {
                        durable
                    }
                }
            };
            if let Some(&ino) = survivor {
                names.insert(name.clone(), ino);
            }
        }
        // What each surviving inode holds.
        let mut inodes = Vec::with_capacity(st.inodes.len());
        for ino in &st.inodes {
            let data = match mode {
                CrashMode::DropUnsynced => ino.durable.clone(),
                CrashMode::KeepAll => ino.data.clone(),
                CrashMode::Torn(_) => {
                    if ino.data.starts_with(&ino.durable) && ino.data.len() > ino.durable.len() {
                        let extra = ino.data.len() - ino.durable.len();
                        let keep = ino.durable.len() + (mix.next() as usize % (extra + 1));
                        ino.data.get(..keep).unwrap_or(&ino.data).to_vec()
                    } else if ino.data == ino.durable {
                        ino.data.clone()
                    } else {
                        ino.durable.clone()
                    }
                }
            };
            inodes.push(Inode {
                data: data.clone(),
                durable: data,
            });
        }
        let state = State {
            inodes,
            durable_names: names.clone(),
            names,
            ..State::default()
        };
        FaultDirectory {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Replaces the bytes of `name` durably (tests use this to damage files).
    pub fn put(&self, name: &str, bytes: Vec<u8>) {
        let mut st = lock(&self.state);
        let ino = st.inodes.len();
        st.inodes.push(Inode {
            data: bytes.clone(),
            durable: bytes,
        });
        st.names.insert(name.to_owned(), ino);
        st.durable_names.insert(name.to_owned(), ino);
    }
}

struct FaultWriter {
    state: Arc<Mutex<State>>,
    name: String,
    ino: usize,
}

impl FileWriter for FaultWriter {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut st = lock(&self.state);
        st.op(format!("write {} ({} bytes)", self.name, buf.len()))?;
        let ino = st
            .inodes
            .get_mut(self.ino)
            .ok_or_else(|| io::Error::other("bad inode"))?;
        ino.data.extend_from_slice(buf);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut st = lock(&self.state);
        st.op(format!("fsync {}", self.name))?;
        let ino = st
            .inodes
            .get_mut(self.ino)
            .ok_or_else(|| io::Error::other("bad inode"))?;
        ino.durable = ino.data.clone();
        Ok(())
    }
}

#[derive(Debug)]
struct FaultLock {
    state: Arc<Mutex<State>>,
}

impl LockGuard for FaultLock {}

impl Drop for FaultLock {
    fn drop(&mut self) {
        lock(&self.state).locked = false;
    }
}

impl Directory for FaultDirectory {
    fn describe(&self) -> String {
        "<fault-injecting memory>".to_owned()
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn FileWriter>> {
        let mut st = lock(&self.state);
        st.op(format!("create {name}"))?;
        if st.names.contains_key(name) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{name}: already exists"),
            ));
        }
        let ino = st.inodes.len();
        st.inodes.push(Inode::default());
        st.names.insert(name.to_owned(), ino);
        Ok(Box::new(FaultWriter {
            state: self.state.clone(),
            name: name.to_owned(),
            ino,
        }))
    }

    fn read(&self, name: &str) -> io::Result<FileBytes> {
        let st = lock(&self.state);
        st.check_alive()?;
        let ino = st.inode_of(name)?;
        let data = st
            .inodes
            .get(ino)
            .map(|i| i.data.as_slice())
            .unwrap_or_default();
        Ok(FileBytes::copy_from(data))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut st = lock(&self.state);
        st.op(format!("rename {from} -> {to}"))?;
        let ino = st.inode_of(from)?;
        st.names.remove(from);
        st.names.insert(to.to_owned(), ino);
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let mut st = lock(&self.state);
        st.op(format!("remove {name}"))?;
        st.inode_of(name)?;
        st.names.remove(name);
        Ok(())
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let st = lock(&self.state);
        st.check_alive()?;
        Ok(st.names.keys().cloned().collect())
    }

    fn sync_dir(&self) -> io::Result<()> {
        let mut st = lock(&self.state);
        st.op("fsync dir".to_owned())?;
        st.durable_names = st.names.clone();
        Ok(())
    }

    fn try_lock(&self, _name: &str) -> io::Result<Option<Box<dyn LockGuard>>> {
        let mut st = lock(&self.state);
        st.check_alive()?;
        if st.locked {
            return Ok(None);
        }
        st.locked = true;
        Ok(Some(Box::new(FaultLock {
            state: self.state.clone(),
        })))
    }
}
