//! Block-compressed postings lists.
