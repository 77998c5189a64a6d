//! The term dictionary.
