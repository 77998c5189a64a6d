//! Little-endian codec with bounds checks.
//!
//! [`ByteReader`] walks a byte slice and returns `Error::Corrupt` naming the file and offset
//! whenever a read would run past the end or a value is out of range. [`ByteWriter`] is the
//! mirror image. Lengths are written as `u64` and checked against the bytes that remain before
//! anything is allocated, so a hostile length can never trigger a huge allocation.

use crate::error::{Error, Result};

/// A cursor over the bytes of one file (or part of one).
#[derive(Debug, Clone)]
pub struct ByteReader<'a> {
    file: &'a str,
    bytes: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> ByteReader<'a> {
    /// Reads `bytes`, which belong to `file`; offsets in errors count from the start of `bytes`.
    pub fn new(file: &'a str, bytes: &'a [u8]) -> Self {
        ByteReader {
            file,
            bytes,
            pos: 0,
            base: 0,
        }
    }

    /// Like [`ByteReader::new`] but offsets in errors are shifted by `base`.
    pub fn with_base(file: &'a str, bytes: &'a [u8], base: u64) -> Self {
        ByteReader {
            file,
            bytes,
            pos: 0,
            base,
        }
    }

    /// The error for a problem at the current position.
    pub fn corrupt(&self, what: impl Into<String>) -> Error {
        Error::corrupt(self.file, self.base + self.pos as u64, what)
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// Current offset from the start.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.corrupt(format!(
                "{what}: needs {n} bytes, only {} remain",
                self.remaining()
            )));
        }
        let out = self
            .bytes
            .get(self.pos..self.pos + n)
            .ok_or_else(|| self.corrupt(what))?;
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let s = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    /// Reads a `u8`.
    pub fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    /// Reads a little-endian `u16`.
    pub fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    /// Reads a little-endian `u32`.
    pub fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// Reads a little-endian `u64`.
    pub fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Reads a little-endian `f32`.
    pub fn f32(&mut self, what: &str) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }

    /// Reads `n` little-endian `f32`s.
    pub fn f32_vec(&mut self, n: usize, what: &str) -> Result<Vec<f32>> {
        let bytes = self.take(n.checked_mul(4).ok_or_else(|| self.corrupt(what))?, what)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| c.try_into().map(f32::from_le_bytes).unwrap_or_default())
            .collect())
    }

    /// Reads `n` little-endian `u16`s.
    pub fn u16_vec(&mut self, n: usize, what: &str) -> Result<Vec<u16>> {
        let bytes = self.take(n.checked_mul(2).ok_or_else(|| self.corrupt(what))?, what)?;
        Ok(bytes
            .chunks_exact(2)
            .map(|c| c.try_into().map(u16::from_le_bytes).unwrap_or_default())
            .collect())
    }

    /// Reads `n` little-endian `u32`s.
    pub fn u32_vec(&mut self, n: usize, what: &str) -> Result<Vec<u32>> {
        let bytes = self.take(n.checked_mul(4).ok_or_else(|| self.corrupt(what))?, what)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| c.try_into().map(u32::from_le_bytes).unwrap_or_default())
            .collect())
    }

    /// Reads `n` little-endian `u64`s.
    pub fn u64_vec(&mut self, n: usize, what: &str) -> Result<Vec<u64>> {
        let bytes = self.take(n.checked_mul(8).ok_or_else(|| self.corrupt(what))?, what)?;
        Ok(bytes
            .chunks_exact(8)
            .map(|c| c.try_into().map(u64::from_le_bytes).unwrap_or_default())
            .collect())
    }

    /// Reads a `u64` length and checks that `len * elem_size` bytes remain.
    pub fn len(&mut self, elem_size: usize, what: &str) -> Result<usize> {
        let at = self.pos;
        let len = self.u64(what)?;
        let fits = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_mul(elem_size.max(1)))
            .is_some_and(|b| b <= self.remaining());
        if !fits {
            return Err(Error::corrupt(
                self.file,
                self.base + at as u64,
                format!(
                    "{what}: length {len} exceeds the {} bytes that remain",
                    self.remaining()
                ),
            ));
        }
        Ok(len as usize)
    }

    /// Reads a length-prefixed byte string.
    pub fn bytes(&mut self, what: &str) -> Result<&'a [u8]> {
        let n = self.len(1, what)?;
        self.take(n, what)
    }

    /// Reads a length-prefixed UTF-8 string.
    pub fn str(&mut self, what: &str) -> Result<&'a str> {
        let at = self.pos;
        let b = self.bytes(what)?;
        std::str::from_utf8(b).map_err(|_| {
            Error::corrupt(
                self.file,
                self.base + at as u64,
                format!("{what}: not UTF-8"),
            )
        })
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self, what: &str) -> Result<()> {
        if self.remaining() != 0 {
            return Err(self.corrupt(format!("{what}: {} trailing bytes", self.remaining())));
        }
        Ok(())
    }
}

/// The little-endian `u32` at byte `at` of `bytes`, if it lies inside.
#[inline]
pub fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    bytes
        .get(at..at.checked_add(4)?)?
        .try_into()
        .ok()
        .map(u32::from_le_bytes)
}

/// The little-endian `u64` at byte `at` of `bytes`, if it lies inside.
#[inline]
pub fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    bytes
        .get(at..at.checked_add(8)?)?
        .try_into()
        .ok()
        .map(u64::from_le_bytes)
}

/// Appends little-endian values to a buffer.
#[derive(Debug, Default, Clone)]
pub struct ByteWriter {
    buf: Vec<u8>,
}

impl ByteWriter {
    /// An empty writer.
    pub fn new() -> Self {
        ByteWriter::default()
    }

    /// Writes a `u8`.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// Writes a `u16`.
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes a `u32`.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes a `u64`.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes an `f32`.
    pub fn f32(&mut self, v: f32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes a `u64` length.
    pub fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }

    /// Writes a length-prefixed byte string.
    pub fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.buf.extend_from_slice(b);
    }

    /// Writes a length-prefixed UTF-8 string.
    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    /// Appends raw bytes without a length.
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Pads with zeros to a multiple of `align`.
    pub fn pad_to(&mut self, align: usize) {
        while !self.buf.len().is_multiple_of(align) {
            self.buf.push(0);
        }
    }

    /// Bytes written so far.
    pub fn len_bytes(&self) -> usize {
        self.buf.len()
    }

    /// The finished buffer.
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(a in any::<u8>(), b in any::<u16>(), c in any::<u32>(), d in any::<u64>(),
                      e in any::<f32>(), s in ".{0,40}", raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut w = ByteWriter::new();
            w.u8(a); w.u16(b); w.u32(c); w.u64(d); w.f32(e); w.str(&s); w.bytes(&raw);
            let buf = w.into_inner();
            let mut r = ByteReader::new("t", &buf);
            prop_assert_eq!(r.u8("a").unwrap(), a);
            prop_assert_eq!(r.u16("b").unwrap(), b);
            prop_assert_eq!(r.u32("c").unwrap(), c);
            prop_assert_eq!(r.u64("d").unwrap(), d);
            prop_assert_eq!(r.f32("e").unwrap().to_bits(), e.to_bits());
            prop_assert_eq!(r.str("s").unwrap(), s.as_str());
            prop_assert_eq!(r.bytes("raw").unwrap(), raw.as_slice());
            prop_assert!(r.finish("end").is_ok());
        }

        #[test]
        fn truncation_is_an_error_never_a_panic(cut in 0usize..40) {
            let mut w = ByteWriter::new();
            w.u64(7); w.str("hello world"); w.u32(9);
            let buf = w.into_inner();
            let cut = cut.min(buf.len() - 1);
            let mut r = ByteReader::new("t", &buf[..cut]);
            let res = (|| -> Result<()> { r.u64("a")?; r.str("b")?; r.u32("c")?; Ok(()) })();
            let is_corrupt = matches!(res, Err(Error::Corrupt { .. }));
            prop_assert!(is_corrupt);
        }
    }

    #[test]
    fn huge_length_is_rejected_before_allocating() {
        let mut w = ByteWriter::new();
        w.u64(u64::MAX);
        let buf = w.into_inner();
        let err = ByteReader::new("f", &buf).bytes("blob").unwrap_err();
        assert!(err.to_string().contains("exceeds"), "{err}");
    }
}
