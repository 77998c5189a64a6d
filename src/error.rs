//! Error types.
//!
//! One enum for the whole crate keeps the public surface small; every variant names what was
//! wrong (file, offset, row, field) so a message is actionable without a debugger. Variants are
//! grouped by concern: I/O, on-disk corruption, concurrency, user input and API misuse.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// The result type used throughout strata.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in strata.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An operation on a file or directory failed.
    Io {
        /// What was being done ("create", "fsync", "rename", ...).
        op: &'static str,
        /// The file or directory name it was done to.
        path: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A file's bytes do not match what strata wrote: bad trailer, checksum, length or structure.
    Corrupt {
        /// The file that is damaged.
        file: String,
        /// The byte offset where the problem was found.
        offset: u64,
        /// What was wrong.
        what: String,
    },
    /// Another writer (in this or another process) holds the index's writer lock.
    Locked {
        /// The index directory.
        path: String,
    },
    /// Bad user input: a vector of the wrong dimension, NaN, a truncated input file, ...
    Input {
        /// The input file, or `"<api>"` for values passed through the library API.
        file: String,
        /// The row (0-based) or line (1-based, when `line` is said) the problem is in, if any.
        row: Option<u64>,
        /// What was wrong.
        what: String,
    },
    /// A value does not fit the index's schema (wrong key type, wrong dimension, ...).
    Schema(String),
    /// An argument is out of range or the call does not apply in this state.
    InvalidArgument(String),
    /// A previous commit failed after its manifest may have reached the disk: this writer can
    /// no longer know which state is durable. Drop the `Index` and open it again to recover.
    Poisoned,
    /// The directory holds no strata index.
    NotAnIndex {
        /// The directory.
        path: String,
    },
    /// The directory already holds a strata index (from `create`).
    AlreadyExists {
        /// The directory.
        path: String,
    },
    /// `create` was pointed at a directory that holds files but no strata index: it refuses,
    /// so that whatever is there (perhaps what is left of a damaged index) is never removed.
    NotEmpty {
        /// The directory.
        path: String,
        /// One of the names found there.
        found: String,
    },
    /// The index was written by a format version this build cannot read.
    UnsupportedVersion {
        /// The file.
        file: String,
        /// The version found.
        found: u16,
    },
    /// A filter expression does not parse ([`crate::Filter::parse`]).
    FilterSyntax {
        /// The 0-based byte offset in the expression where the problem is.
        at: usize,
        /// What the parser expected there.
        expected: String,
        /// What it found instead.
        found: String,
    },
}

impl Error {
    /// Wraps an I/O error with the operation and the path it concerned.
    pub fn io(op: &'static str, path: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// A corruption error for `file` at `offset`.
    pub fn corrupt(file: impl Into<String>, offset: u64, what: impl Into<String>) -> Error {
        Error::Corrupt {
            file: file.into(),
            offset,
            what: what.into(),
        }
    }

    /// An input error for `file` at `row`.
    pub fn input(file: impl Into<String>, row: Option<u64>, what: impl Into<String>) -> Error {
        Error::Input {
            file: file.into(),
            row,
            what: what.into(),
        }
    }

    /// Path helper for messages.
    pub fn path_string(p: &std::path::Path) -> String {
        PathBuf::from(p).display().to_string()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { op, path, source } => write!(f, "{op} {path}: {source}"),
            Error::Corrupt { file, offset, what } => {
                write!(f, "corrupt file {file} at byte {offset}: {what}")
            }
            Error::Locked { path } => {
                write!(f, "index {path} is locked by another writer")
            }
            Error::Input {
                file,
                row: Some(row),
                what,
            } => write!(f, "{file}, row {row}: {what}"),
            Error::Input {
                file,
                row: None,
                what,
            } => write!(f, "{file}: {what}"),
            Error::Schema(what) => write!(f, "schema mismatch: {what}"),
            Error::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            Error::Poisoned => write!(
                f,
                "a commit failed after its manifest may have been written; reopen the index"
            ),
            Error::NotAnIndex { path } => write!(f, "{path} holds no strata index"),
            Error::AlreadyExists { path } => write!(f, "{path} already holds a strata index"),
            Error::NotEmpty { path, found } => write!(
                f,
                "{path} is not empty (it holds {found}) and holds no strata index: \
                 refusing to create an index there"
            ),
            Error::UnsupportedVersion { file, found } => {
                write!(
                    f,
                    "{file}: format version {found} is not readable by this build"
                )
            }
            Error::FilterSyntax {
                at,
                expected,
                found,
            } => write!(
                f,
                "filter syntax error at byte {at}: expected {expected}, found {found}"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
