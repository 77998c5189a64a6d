//! strata's errors as typed Python exceptions, each carrying the library's message.
//!
//! `StrataError` is the base of all of them; the others name the variant of `strata::Error`
//! they stand for, so `except strata.LockedError` catches exactly what the Rust caller would
//! match as `Error::Locked`.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    strata,
    StrataError,
    PyException,
    "Base class of every strata error."
);
create_exception!(
    strata,
    LockedError,
    StrataError,
    "Another writer holds the index's writer lock."
);
create_exception!(
    strata,
    CorruptError,
    StrataError,
    "A file's bytes do not match what strata wrote."
);
create_exception!(
    strata,
    InputError,
    StrataError,
    "Bad input: wrong shape, dtype, NaN, a malformed file."
);
create_exception!(
    strata,
    SchemaError,
    StrataError,
    "A value does not fit the index's schema."
);
create_exception!(
    strata,
    InvalidArgumentError,
    StrataError,
    "An argument is out of range or does not apply in this state."
);
create_exception!(
    strata,
    NotAnIndexError,
    StrataError,
    "The directory holds no strata index."
);
create_exception!(
    strata,
    AlreadyExistsError,
    StrataError,
    "The directory already holds a strata index."
);
create_exception!(
    strata,
    NotEmptyError,
    StrataError,
    "create was pointed at a directory holding other files."
);
create_exception!(
    strata,
    UnsupportedVersionError,
    StrataError,
    "The index was written by a newer format version."
);
create_exception!(
    strata,
    FilterSyntaxError,
    StrataError,
    "A filter expression does not parse."
);
create_exception!(
    strata,
    PoisonedError,
    StrataError,
    "A commit failed after its manifest may have reached the disk; reopen the index."
);
create_exception!(
    strata,
    StrataIOError,
    StrataError,
    "An operation on a file or directory failed."
);
create_exception!(
    strata,
    ClosedError,
    StrataError,
    "The index was closed, or its writer is inside an open transaction."
);

/// `e` as the Python exception of its kind.
pub fn to_py(e: strata::Error) -> PyErr {
    use strata::Error as E;
    let msg = e.to_string();
    match e {
        E::Io { .. } => StrataIOError::new_err(msg),
        E::Corrupt { .. } => CorruptError::new_err(msg),
        E::Locked { .. } => LockedError::new_err(msg),
        E::Input { .. } => InputError::new_err(msg),
        E::Schema(_) => SchemaError::new_err(msg),
        E::InvalidArgument(_) => InvalidArgumentError::new_err(msg),
        E::Poisoned => PoisonedError::new_err(msg),
        E::NotAnIndex { .. } => NotAnIndexError::new_err(msg),
        E::AlreadyExists { .. } => AlreadyExistsError::new_err(msg),
        E::NotEmpty { .. } => NotEmptyError::new_err(msg),
        E::UnsupportedVersion { .. } => UnsupportedVersionError::new_err(msg),
        E::FilterSyntax { .. } => FilterSyntaxError::new_err(msg),
        _ => StrataError::new_err(msg),
    }
}

/// Registers the exception classes on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("StrataError", py.get_type::<StrataError>())?;
    m.add("LockedError", py.get_type::<LockedError>())?;
    m.add("CorruptError", py.get_type::<CorruptError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("SchemaError", py.get_type::<SchemaError>())?;
    m.add(
        "InvalidArgumentError",
        py.get_type::<InvalidArgumentError>(),
    )?;
    m.add("NotAnIndexError", py.get_type::<NotAnIndexError>())?;
    m.add("AlreadyExistsError", py.get_type::<AlreadyExistsError>())?;
    m.add("NotEmptyError", py.get_type::<NotEmptyError>())?;
    m.add(
        "UnsupportedVersionError",
        py.get_type::<UnsupportedVersionError>(),
    )?;
    m.add("FilterSyntaxError", py.get_type::<FilterSyntaxError>())?;
    m.add("PoisonedError", py.get_type::<PoisonedError>())?;
    m.add("StrataIOError", py.get_type::<StrataIOError>())?;
    m.add("ClosedError", py.get_type::<ClosedError>())?;
    Ok(())
}

/// `Result<T, strata::Error>` → `PyResult<T>`.
pub trait IntoPy<T> {
    /// Maps the error to its Python exception.
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for strata::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
