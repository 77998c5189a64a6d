//! splitmix64 (Steele, Lea and Flood): the one small seeded generator strata uses wherever it
//! needs reproducible pseudo-random choices — k-means seeding, torn crashes in the fault
//! backend, the demo's synthetic data, and test and bench data. Not for cryptography.

/// Advances `state` and returns the next 64 random bits.
#[inline]
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A fresh random, non-zero 64-bit id (the standard library's randomly keyed hasher mixed
/// with the time, the process id and `salt`): for ids that must differ between indexes and
/// models, never for reproducible choices.
pub fn random_id(salt: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(salt);
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.finish().max(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_the_reference_sequence() {
        // First outputs for seed 0 of the reference implementation.
        let mut s = 0u64;
        assert_eq!(super::splitmix64(&mut s), 0xE220_A839_7B1D_CDAF);
        assert_eq!(super::splitmix64(&mut s), 0x6E78_9E6A_A1B9_65F4);
    }
}
