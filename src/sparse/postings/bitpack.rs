//! Bit-packing of blocks of `u32`s at one width, least significant bits first.
//!
//! `n` values of width `w` (0..=32) take `packed_len(n, w)` bytes: `n * w` bits rounded up to
//! whole little-endian 32-bit words, so a full block of 128 values takes exactly `16 * w`
//! bytes and every group of 32 values starts on a word boundary. Value `i` occupies bits
//! `i * w .. (i + 1) * w` of the word stream (bit `k` is bit `k % 32` of word `k / 32`).

/// Bits needed to represent `max` (0 for 0).
#[inline]
pub(crate) fn bits_for(max: u32) -> u8 {
    (32 - max.leading_zeros()) as u8
}

/// Bytes taken by `n` values packed at width `w`.
#[inline]
pub(crate) fn packed_len(n: usize, w: u8) -> usize {
    (n * usize::from(w)).div_ceil(32) * 4
}

/// Appends `values` packed at width `w` (bits above `w` are dropped) to `out`.
pub(crate) fn pack(values: &[u32], w: u8, out: &mut Vec<u8>) {
    if w == 0 {
        return;
    }
    let w = u32::from(w.min(32));
    let mask = if w == 32 {
        u64::from(u32::MAX)
    } else {
        (1u64 << w) - 1
    };
    let mut acc = 0u64;
    let mut bits = 0u32;
    for &v in values {
        // bits < 32 here, so the shifted value fits in 64 bits.
        acc |= (u64::from(v) & mask) << bits;
        bits += w;
        if bits >= 32 {
            out.extend_from_slice(&(acc as u32).to_le_bytes());
            acc >>= 32;
            bits -= 32;
        }
    }
    if bits > 0 {
        out.extend_from_slice(&(acc as u32).to_le_bytes());
    }
}

/// Unpacks `out.len()` values of width `w` from `packed`. Missing bytes read as zeros and
/// widths above 32 yield zeros: garbage in, garbage out, never a panic.
#[inline]
pub(crate) fn unpack(packed: &[u8], w: u8, out: &mut [u32]) {
    match w {
        1 => unpack_w::<1>(packed, out),
        2 => unpack_w::<2>(packed, out),
        3 => unpack_w::<3>(packed, out),
        4 => unpack_w::<4>(packed, out),
        5 => unpack_w::<5>(packed, out),
        6 => unpack_w::<6>(packed, out),
        7 => unpack_w::<7>(packed, out),
        8 => unpack_w::<8>(packed, out),
        9 => unpack_w::<9>(packed, out),
        10 => unpack_w::<10>(packed, out),
        11 => unpack_w::<11>(packed, out),
        12 => unpack_w::<12>(packed, out),
        13 => unpack_w::<13>(packed, out),
        14 => unpack_w::<14>(packed, out),
        15 => unpack_w::<15>(packed, out),
        16 => unpack_w::<16>(packed, out),
        17 => unpack_w::<17>(packed, out),
        18 => unpack_w::<18>(packed, out),
        19 => unpack_w::<19>(packed, out),
        20 => unpack_w::<20>(packed, out),
        21 => unpack_w::<21>(packed, out),
        22 => unpack_w::<22>(packed, out),
        23 => unpack_w::<23>(packed, out),
        24 => unpack_w::<24>(packed, out),
        25 => unpack_w::<25>(packed, out),
        26 => unpack_w::<26>(packed, out),
        27 => unpack_w::<27>(packed, out),
        28 => unpack_w::<28>(packed, out),
        29 => unpack_w::<29>(packed, out),
        30 => unpack_w::<30>(packed, out),
        31 => unpack_w::<31>(packed, out),
        32 => unpack_w::<32>(packed, out),
        _ => out.fill(0),
    }
}

/// Unpacks at a compile-time width, 32 values (`W` words) at a time: each group is copied
/// into a zero-padded word array, then every value is two word reads and a shift, at
/// positions the compiler knows once the inner loop is unrolled.
#[inline(always)]
fn unpack_w<const W: usize>(packed: &[u8], out: &mut [u32]) {
    let mask = if W == 32 {
        u64::from(u32::MAX)
    } else {
        (1u64 << W) - 1
    };
    if packed.len() < packed_len(out.len(), W as u8) {
        // Callers check lengths first; zero what a short input would leave unwritten.
        out.fill(0);
    }
    for (chunk_out, chunk_in) in out.chunks_mut(32).zip(packed.chunks(4 * W)) {
        let mut words = [0u32; 33];
        for (word, b) in words.iter_mut().zip(chunk_in.chunks_exact(4)) {
            *word = u32::from_le_bytes([
                b.first().copied().unwrap_or(0),
                b.get(1).copied().unwrap_or(0),
                b.get(2).copied().unwrap_or(0),
                b.get(3).copied().unwrap_or(0),
            ]);
        }
        if let Ok(full) = <&mut [u32; 32]>::try_from(&mut *chunk_out) {
            for (i, o) in full.iter_mut().enumerate() {
                *o = extract::<W>(&words, i, mask);
            }
        } else {
            for (i, o) in chunk_out.iter_mut().enumerate() {
                *o = extract::<W>(&words, i, mask);
            }
        }
    }
}

#[inline(always)]
fn extract<const W: usize>(words: &[u32; 33], i: usize, mask: u64) -> u32 {
    let bit = i * W;
    let lo = u64::from(words.get(bit / 32).copied().unwrap_or(0));
    let hi = u64::from(words.get(bit / 32 + 1).copied().unwrap_or(0));
    (((lo | hi << 32) >> (bit % 32)) & mask) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pack_unpack_round_trip(values in proptest::collection::vec(any::<u32>(), 0..300), w in 0u8..=32) {
            let mask = if w == 32 { u32::MAX } else { (1u32 << w) - 1 };
            let values: Vec<u32> = values.into_iter().map(|v| v & mask).collect();
            let mut packed = Vec::new();
            pack(&values, w, &mut packed);
            prop_assert_eq!(packed.len(), packed_len(values.len(), w));
            let mut out = vec![u32::MAX; values.len()];
            unpack(&packed, w, &mut out);
            prop_assert_eq!(out, values);
        }

        #[test]
        fn unpack_of_short_input_does_not_panic(packed in proptest::collection::vec(any::<u8>(), 0..100), w in 0u8..=40, n in 0usize..200) {
            let mut out = vec![0u32; n];
            unpack(&packed, w, &mut out);
        }
    }

    #[test]
    fn widths() {
        assert_eq!(bits_for(0), 0);
        assert_eq!(bits_for(1), 1);
        assert_eq!(bits_for(255), 8);
        assert_eq!(bits_for(256), 9);
        assert_eq!(bits_for(u32::MAX), 32);
        assert_eq!(packed_len(128, 7), 16 * 7);
        assert_eq!(packed_len(1, 1), 4);
        assert_eq!(packed_len(0, 32), 0);
    }
}
