//! Where the commands write: results to stdout through [`out!`], notes to stderr through
//! [`note!`].
//!
//! `println!` panics when stdout is a pipe whose reader has gone (`strata search ... | head -1`).
//! Here a closed reader is the normal end of the output: the write returns
//! [`CliError::Closed`], the command stops at its next `?`, and `main` exits with 0. Any other
//! write failure (a full disk behind a redirect) is an I/O error naming stdout. Notes on stderr
//! are best effort: losing one is never a reason to fail or panic.

use crate::{CliError, CliResult};
use std::io::{ErrorKind, Write};

/// Writes `args` and a newline to stdout (see the module docs).
pub fn line(args: std::fmt::Arguments<'_>) -> CliResult {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .map_err(stdout_error)
}

/// Writes `args` and a newline to stderr, ignoring failure.
pub fn note_line(args: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// The error for a failed write to stdout: a reader that went away ends the output cleanly.
pub fn stdout_error(e: std::io::Error) -> CliError {
    if e.kind() == ErrorKind::BrokenPipe {
        CliError::Closed
    } else {
        strata::Error::io("write", "stdout", e).into()
    }
}

/// `println!` for results: evaluates to a [`CliResult`], `Err(CliError::Closed)` when the
/// reader of stdout has gone.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::line(format_args!($($arg)*))
    };
}

/// `eprintln!` for progress, warnings and notes: never fails, never panics.
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::out::note_line(format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_reader_is_the_clean_end_and_other_failures_are_errors() {
        let closed = stdout_error(std::io::Error::from(ErrorKind::BrokenPipe));
        assert!(matches!(closed, CliError::Closed));
        assert_eq!(closed.exit_code(), 0);
        let full = stdout_error(std::io::Error::from(ErrorKind::StorageFull));
        assert_eq!(full.exit_code(), 1);
        assert!(full.to_string().contains("stdout"), "{full}");
    }
}
