//! Scoring and query processing.
