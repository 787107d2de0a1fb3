//! A tiny deterministic PRNG (splitmix64).
//!
//! The generator must produce byte-identical catalogs from the same seed on every platform
//! and toolchain, forever: a benchmark result is only comparable if its input is. Owning a
//! 10-line generator guarantees that; `rand`'s algorithms and value mappings may change
//! between releases.

/// splitmix64: fast, full-period over u64, good enough statistics for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// An independent stream for sub-object `index` of kind `salt`, so that a package's
    /// bytes depend only on (seed, index): the V2 copy can be regenerated instead of kept in
    /// memory, and changing N does not reshuffle the packages that remain.
    pub fn derive(seed: u64, salt: u64, index: u64) -> Self {
        let mut r = Rng(seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.0 ^= r.next_u64() ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant for test data.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    /// A random (version 4 shaped) GUID in the lower-case form WSUS prints.
    pub fn guid(&mut self) -> String {
        let mut b = [0u8; 16];
        self.fill(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(b);
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::derive(7, 1, 3).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Rng::derive(7, 1, 3).next_u64(),
            Rng::derive(7, 1, 4).next_u64()
        );
        assert_ne!(
            Rng::derive(7, 1, 3).next_u64(),
            Rng::derive(7, 2, 3).next_u64()
        );
    }

    #[test]
    fn guid_has_the_wsus_shape() {
        let g = Rng::derive(1, 0, 0).guid();
        assert!(supctl::ids::is_guid(&g));
        assert_eq!(g, g.to_ascii_lowercase());
    }
}
