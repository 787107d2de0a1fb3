//! Mutation tests over the committed fixtures: flipped and truncated bytes must give an error
//! or a report, never a panic. They call the inner functions, which do not catch panics, so a
//! panic anywhere in supctl's own parsing fails the test.

use chrono::{TimeZone, Utc};

use super::{verify_cab_inner, verify_msi_inner, verify_pe_inner};

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/fixtures/signed/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

type Inner = fn(
    &[u8],
    chrono::DateTime<Utc>,
) -> Result<Option<Vec<super::SignerReport>>, super::AuthenticodeError>;

/// Deterministic xorshift, so failures reproduce.
pub(crate) struct XorShift(pub(crate) u64);

impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn mutate(data: &[u8], verify: Inner, rounds: usize, seed: u64) -> usize {
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut rng = XorShift(seed);
    let mut next = move || rng.next();
    let mut rejected = 0;
    for round in 0..rounds {
        let mut d = data.to_vec();
        match round % 3 {
            0 => {
                let i = next() as usize % d.len();
                d[i] ^= 1 << (next() % 8);
            }
            1 => {
                let i = next() as usize % d.len();
                d[i] = next() as u8;
                let j = next() as usize % d.len();
                d[j] = 0xFF;
            }
            _ => d.truncate(next() as usize % d.len()),
        }
        if verify(&d, now).is_err() {
            rejected += 1;
        }
    }
    rejected
}

#[test]
fn mutated_cabs_never_panic() {
    for name in ["catalog-dual.cab", "catalog-ts.cab", "catalog-ecdsa.cab"] {
        let rejected = mutate(
            &fixture(name),
            verify_cab_inner,
            1500,
            0x9E37_79B9_7F4A_7C15,
        );
        // Nearly every mutation lands in hashed or signed bytes; a handful hit excluded header
        // bytes or the signature's unsigned attributes without changing the outcome.
        assert!(
            rejected > 1000,
            "{name}: only {rejected} of 1500 mutations rejected"
        );
    }
}

#[test]
fn mutated_pe_and_msi_never_panic() {
    let rejected = mutate(
        &fixture("pe-nested.exe"),
        verify_pe_inner,
        1500,
        0xD1B5_4A32_D192_ED03,
    );
    assert!(rejected > 500, "PE: only {rejected} rejected");
    let msi = fixture("msi-signed-dse.msi");
    let rejected = mutate(&msi, verify_msi_inner, 300, 0x2545_F491_4F6C_DD1D);
    assert!(rejected > 50, "MSI: only {rejected} rejected");
}

#[test]
fn truncation_at_every_length_of_the_signature_is_rejected() {
    let d = fixture("catalog-dual.cab");
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    for len in 0..d.len() {
        assert!(verify_cab_inner(&d[..len], now).is_err(), "len {len}");
    }
}
