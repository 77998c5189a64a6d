//! The term dictionary: an [`fst::Map`] from term bytes to a `u64` (for example the offset
//! of the term's postings list).
//!
//! The builder writes fst format version 3, which ends in a CRC-32C of its bytes.
//! [`TermDict::open`] checks the structure (`fst::Map::new`) and then that checksum
//! (`Fst::verify`, one pass over the bytes) before any lookup: the fst crate trusts its
//! input when walking nodes and can panic on damaged bytes, so unchecked bytes are refused.

use crate::error::{Error, Result};
use fst::Streamer;

/// Builds a dictionary in memory from terms inserted in strictly increasing byte order.
pub struct TermDictBuilder {
    inner: fst::MapBuilder<Vec<u8>>,
}

impl Default for TermDictBuilder {
    fn default() -> Self {
        TermDictBuilder::new()
    }
}

impl TermDictBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        TermDictBuilder {
            inner: fst::MapBuilder::memory(),
        }
    }

    /// Adds `term` with `value`. Terms must be strictly increasing (bytewise); a repeated or
    /// out-of-order term returns [`Error::InvalidArgument`].
    pub fn insert(&mut self, term: &[u8], value: u64) -> Result<()> {
        self.inner
            .insert(term, value)
            .map_err(|e| Error::InvalidArgument(format!("term dictionary: {e}")))
    }

    /// The dictionary's bytes.
    pub fn finish(self) -> Result<Vec<u8>> {
        self.inner
            .into_inner()
            .map_err(|e| Error::InvalidArgument(format!("term dictionary: {e}")))
    }
}

/// A dictionary over borrowed bytes.
pub struct TermDict<'a> {
    map: fst::Map<&'a [u8]>,
}

impl std::fmt::Debug for TermDict<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TermDict")
            .field("len", &self.map.len())
            .finish()
    }
}

impl<'a> TermDict<'a> {
    /// Opens the dictionary in `bytes` (from the file named `file`): checks its structure
    /// and checksum; damaged bytes return [`Error::Corrupt`].
    pub fn open(file: &str, bytes: &'a [u8]) -> Result<TermDict<'a>> {
        let map = fst::Map::new(bytes)
            .map_err(|e| Error::corrupt(file, 0, format!("term dictionary: {e}")))?;
        map.as_fst()
            .verify()
            .map_err(|e| Error::corrupt(file, 0, format!("term dictionary: {e}")))?;
        Ok(TermDict { map })
    }

    /// Opens bytes that [`TermDict::open`] has verified before (e.g. when their segment was
    /// opened): checks the structure only, skipping the checksum pass over every byte, so it
    /// is cheap enough for every query.
    pub fn open_trusted(file: &str, bytes: &'a [u8]) -> Result<TermDict<'a>> {
        let map = fst::Map::new(bytes)
            .map_err(|e| Error::corrupt(file, 0, format!("term dictionary: {e}")))?;
        Ok(TermDict { map })
    }

    /// The value of `term`, if present.
    pub fn get(&self, term: &[u8]) -> Option<u64> {
        self.map.get(term)
    }

    /// Number of terms.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no terms.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// All `(term, value)` pairs in increasing term order (for merges).
    pub fn stream(&self) -> impl Iterator<Item = (Vec<u8>, u64)> + '_ {
        TermStream {
            inner: self.map.stream(),
        }
    }

    /// Calls `f` on every `(term, value)` in increasing term order, without allocating.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], u64)) {
        let mut s = self.map.stream();
        while let Some((k, v)) = s.next() {
            f(k, v);
        }
    }
}

/// Adapts fst's lending stream to an `Iterator` of owned terms.
struct TermStream<'m> {
    inner: fst::map::Stream<'m>,
}

impl Iterator for TermStream<'_> {
    type Item = (Vec<u8>, u64);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(k, v)| (k.to_vec(), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn build(map: &BTreeMap<Vec<u8>, u64>) -> Vec<u8> {
        let mut b = TermDictBuilder::new();
        for (k, &v) in map {
            b.insert(k, v).unwrap();
        }
        b.finish().unwrap()
    }

    proptest! {
        #[test]
        fn round_trip(map in prop::collection::btree_map(prop::collection::vec(any::<u8>(), 0..12), any::<u64>(), 0..200),
                      probes in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), 0..50)) {
            let bytes = build(&map);
            let dict = TermDict::open("terms", &bytes).unwrap();
            prop_assert_eq!(dict.len(), map.len());
            prop_assert_eq!(dict.is_empty(), map.is_empty());
            for (k, &v) in &map {
                prop_assert_eq!(dict.get(k), Some(v));
            }
            for p in &probes {
                prop_assert_eq!(dict.get(p), map.get(p).copied());
            }
            let streamed: Vec<(Vec<u8>, u64)> = dict.stream().collect();
            let want: Vec<(Vec<u8>, u64)> = map.iter().map(|(k, &v)| (k.clone(), v)).collect();
            prop_assert_eq!(&streamed, &want);
            let mut each = Vec::new();
            dict.for_each(|k, v| each.push((k.to_vec(), v)));
            prop_assert_eq!(each, want);
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(dict) = TermDict::open("terms", &bytes) {
                let _ = dict.get(b"abc");
                let _ = dict.stream().take(1000).count();
            }
        }

        #[test]
        fn damaged_dictionaries_are_refused_or_work(flip in any::<prop::sample::Index>(), bit in 0u8..8, cut in any::<prop::sample::Index>()) {
            let map: BTreeMap<Vec<u8>, u64> =
                (0..50u64).map(|i| (format!("term{i:03}").into_bytes(), i * 7)).collect();
            let bytes = build(&map);
            let mut flipped = bytes.clone();
            let k = flip.index(flipped.len());
            flipped[k] ^= 1 << bit;
            prop_assert!(TermDict::open("terms", &flipped).is_err());
            let cut = &bytes[..cut.index(bytes.len())];
            prop_assert!(TermDict::open("terms", cut).is_err());
        }
    }

    #[test]
    fn unsorted_or_repeated_terms_are_errors() {
        let mut b = TermDictBuilder::new();
        b.insert(b"b", 1).unwrap();
        assert!(matches!(b.insert(b"a", 2), Err(Error::InvalidArgument(_))));
        assert!(matches!(b.insert(b"b", 2), Err(Error::InvalidArgument(_))));
        b.insert(b"c", 3).unwrap();
        let bytes = b.finish().unwrap();
        let dict = TermDict::open("terms", &bytes).unwrap();
        assert_eq!(dict.get(b"b"), Some(1));
        assert_eq!(dict.get(b"c"), Some(3));
        assert_eq!(dict.get(b"a"), None);
    }

    #[test]
    fn corrupt_errors_name_the_file() {
        match TermDict::open("seg.terms", b"not an fst") {
            Err(Error::Corrupt { file, .. }) => assert_eq!(file, "seg.terms"),
            other => panic!("{other:?}"),
        }
    }
}
