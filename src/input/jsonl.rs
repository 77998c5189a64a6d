//! JSON Lines documents.
