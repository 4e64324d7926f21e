//! Sticky canary assignment: the same routing key always gets the same arm.
//!
//! `bucket(name, env, key)` is the first 8 bytes of
//! `sha256(name || 0x00 || env || 0x00 || key)` read as a big-endian u64,
//! modulo 10,000: a number of basis points in 0..10000. A key is served the
//! canary when `bucket < round(percent × 100)`. Raising the percent only moves
//! keys from stable to canary, never back. Any language with sha256 can
//! reproduce it; `docs/environments.md` has test vectors.

use sha2::{Digest, Sha256};

/// The key's bucket, 0..10000.
pub fn bucket(name: &str, env: &str, key: &str) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0u8]);
    h.update(env.as_bytes());
    h.update([0u8]);
    h.update(key.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % 10_000) as u32
}

/// Whether `bucket` falls in a canary of `percent` (0..=100).
pub fn in_canary(bucket: u32, percent: f64) -> bool {
    (bucket as f64) < (percent * 100.0).round()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Test vectors, also in docs/environments.md. Computed with Python:
    /// `int.from_bytes(hashlib.sha256(b"support_bot\0production\0" + k).digest()[:8], "big") % 10000`
    #[test]
    fn vectors() {
        assert_eq!(bucket("support_bot", "production", "user-1"), VECTORS[0]);
        assert_eq!(bucket("support_bot", "production", "user-2"), VECTORS[1]);
        assert_eq!(bucket("support_bot", "production", ""), VECTORS[2]);
    }

    const VECTORS: [u32; 3] = [8391, 7471, 6853];

    #[test]
    fn share_matches_percent() {
        for percent in [1.0, 5.0, 25.0, 50.0] {
            let n = 100_000;
            let hits = (0..n)
                .filter(|i| in_canary(bucket("p", "e", &format!("key-{i}")), percent))
                .count();
            let share = hits as f64 / n as f64 * 100.0;
            assert!((share - percent).abs() <= 0.5, "{percent}%: {share}");
        }
    }

    proptest! {
        #[test]
        fn raising_the_percent_never_moves_a_key_back(key in ".{0,40}", a in 0.0f64..100.0, b in 0.0f64..100.0) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let k = bucket("p", "e", &key);
            prop_assert!(!in_canary(k, lo) || in_canary(k, hi));
            prop_assert_eq!(k, bucket("p", "e", &key));
        }
    }
}
