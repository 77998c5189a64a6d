//! The tiered merge policy: which segments to merge next.

/// A tiered merge policy: segments are grouped in tiers of `merge_factor`-fold size, and a
/// tier holding `merge_factor` segments is merged into one. A segment with more than
/// `max_deleted_ratio` of its rows deleted is rewritten on its own.
#[derive(Debug, Clone)]
pub struct MergePolicy {
    /// Segments per merge, and the size ratio between tiers.
    pub merge_factor: usize,
    /// Live rows below which all segments count as the smallest tier.
    pub min_segment_rows: u64,
    /// Fraction of deleted rows that triggers a rewrite.
    pub max_deleted_ratio: f64,
}

impl Default for MergePolicy {
    fn default() -> Self {
        MergePolicy {
            merge_factor: 8,
            min_segment_rows: 1000,
            max_deleted_ratio: 0.5,
        }
    }
}

impl MergePolicy {
    fn tier(&self, live: u64) -> u32 {
        let mut t = 0;
        let mut cap = self.min_segment_rows.max(1);
        let f = self.merge_factor.max(2) as u64;
        while live > cap {
            cap = cap.saturating_mul(f);
            t += 1;
        }
        t
    }

    /// The ids of segments to merge next, if any.
    pub fn pick(&self, segs: &[crate::segment::SegmentMeta]) -> Option<Vec<u64>> {
        let factor = self.merge_factor.max(2);
        let mut tiers: std::collections::BTreeMap<u32, Vec<&crate::segment::SegmentMeta>> =
            Default::default();
        for s in segs {
            tiers.entry(self.tier(s.live())).or_default().push(s);
        }
        for group in tiers.values_mut() {
            if group.len() >= factor {
                group.sort_by_key(|s| (s.live(), s.id));
                return Some(group.iter().take(factor).map(|s| s.id).collect());
            }
        }
        segs.iter()
            .find(|s| s.rows > 0 && s.deleted as f64 / s.rows as f64 > self.max_deleted_ratio)
            .map(|s| vec![s.id])
    }
}
