//! Sticky canary assignment: the same routing key always gets the same arm.
//!
//! `bucket(name, env, key)` is the first 8 bytes of
//! `sha256(name || 0x00 || env || 0x00 || key)` read as a big-endian u64,
//! modulo 10,000: a number of basis points in 0..10000. A canary's share is
//! a whole number of basis points `bp` (its percent × 100, exactly: a
//! percent has at most two decimals), and a key is served the canary when
//! `bucket < bp`. The rule is integer arithmetic on purpose: with a
//! fractional percent, `round(percent × 100)` rounds half away from zero in
//! Rust and half to even in Python, so the two disagreed at 0.125% or 0.005%.
//! Raising the percent only moves keys from stable to canary, never back.
//! Any language with sha256 can reproduce it; `docs/environments.md` has
//! test vectors.

use std::fmt;

use schemars::JsonSchema;
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

/// Whether `bucket` falls in a canary of `percent`: `bucket < bp`.
pub fn in_canary(bucket: u32, percent: Percent) -> bool {
    bucket < percent.basis_points()
}

/// A canary's share of routing keys: more than 0 and less than 100 percent,
/// in whole basis points (hundredths of a percent), so 1..=9999.
///
/// Written as a percent (`5.0`, `12.5`, `0.05`), read from a decimal string
/// (`--canary`) or a YAML number, never through `percent * 100.0`: in binary
/// floating point `0.29 * 100.0` is `28.999999999999996`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent(u16);

/// Why a percent was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PercentError {
    #[error("`{0}` is not a percent; write a number such as `5` or `12.5`")]
    NotANumber(String),
    #[error("`{0}`: a canary is more than 0 and less than 100 percent")]
    OutOfRange(String),
    #[error(
        "`{0}` has more than two decimals: a canary is a whole number of basis points (hundredths of a percent), such as `12.5` or `0.05`"
    )]
    TooPrecise(String),
}

impl Percent {
    /// Parses a decimal percent: digits, optionally a `.` and more digits
    /// (trailing zeros after the point do not count as decimals).
    pub fn parse(s: &str) -> Result<Percent, PercentError> {
        let not_a_number = || PercentError::NotANumber(s.to_string());
        let (negative, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(not_a_number());
        }
        let int = int.trim_start_matches('0');
        let frac = frac.trim_end_matches('0');
        let out_of_range = || PercentError::OutOfRange(s.to_string());
        if negative || int.len() > 2 {
            return Err(out_of_range());
        }
        if frac.len() > 2 {
            return Err(PercentError::TooPrecise(s.to_string()));
        }
        let whole: u16 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| not_a_number())?
        };
        let hundredths: u16 = format!("{frac:0<2}").parse().map_err(|_| not_a_number())?;
        match whole * 100 + hundredths {
            0 => Err(out_of_range()),
            bp => Ok(Percent(bp)),
        }
    }

    /// A percent read as a binary floating-point number (from YAML or JSON):
    /// exact when it is the double nearest to a decimal of at most two
    /// decimals, which Rust prints as that decimal (shortest round trip).
    pub fn from_f64(v: f64) -> Result<Percent, PercentError> {
        if v.is_nan() {
            return Err(PercentError::NotANumber(v.to_string()));
        }
        if !(v > 0.0 && v < 100.0) {
            return Err(PercentError::OutOfRange(v.to_string()));
        }
        Percent::parse(&v.to_string())
    }

    /// From a number of basis points, 1..=9999.
    pub fn from_basis_points(bp: u32) -> Option<Percent> {
        (1..10_000).contains(&bp).then_some(Percent(bp as u16))
    }

    /// The share in basis points, 1..=9999: what `bucket` is compared with.
    pub fn basis_points(self) -> u32 {
        u32::from(self.0)
    }

    /// The share in percent. Division is correctly rounded, so this is the
    /// double nearest to the decimal, and prints as it.
    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 100.0
    }
}

/// As a percent: `5`, `12.5`, `0.05`.
impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_f64())
    }
}

impl std::str::FromStr for Percent {
    type Err = PercentError;
    fn from_str(s: &str) -> Result<Percent, PercentError> {
        Percent::parse(s)
    }
}

/// Written as a number of percent, as before basis points had a type.
impl serde::Serialize for Percent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_f64())
    }
}

/// Read from a number; the error says which rule it breaks, and the YAML
/// loader puts the file, line and column in front.
impl<'de> serde::Deserialize<'de> for Percent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Percent, D::Error> {
        struct Number;
        impl serde::de::Visitor<'_> for Number {
            type Value = Percent;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a percent, more than 0 and less than 100, with at most two decimals")
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Percent, E> {
                u32::try_from(v)
                    .ok()
                    .and_then(|v| v.checked_mul(100))
                    .and_then(Percent::from_basis_points)
                    .ok_or_else(|| E::custom(PercentError::OutOfRange(v.to_string())))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Percent, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(PercentError::OutOfRange(v.to_string()))),
                }
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Percent, E> {
                Percent::from_f64(v).map_err(E::custom)
            }
        }
        d.deserialize_any(Number)
    }
}

/// By hand: the range. Not `multipleOf: 0.01`, though that is the rule:
/// validators that divide in binary floating point refuse 1,363 of the
/// 9,999 valid values with it, `0.07` and `0.29` among them (measured with
/// Python's `jsonschema` 4.26; Ajv without `multipleOfPrecision` divides
/// the same way). A schema must not refuse what promptctl writes, so the
/// two decimals are in the description and the loader checks them.
impl JsonSchema for Percent {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Percent".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A share of routing keys in percent: more than 0 and less than 100, with at most two decimals (whole basis points), e.g. `5`, `12.5`, `0.05`.",
            "type": "number",
            "exclusiveMinimum": 0,
            "exclusiveMaximum": 100,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pc(s: &str) -> Percent {
        Percent::parse(s).unwrap()
    }

    /// Test vectors, also in docs/environments.md. Computed with Python:
    /// `int.from_bytes(hashlib.sha256(b"support_bot\0production\0" + k).digest()[:8], "big") % 10000`
    #[test]
    fn vectors() {
        for (key, want) in VECTORS.iter().chain(&TIES) {
            assert_eq!(bucket("support_bot", "production", key), *want, "{key:?}");
        }
    }

    const VECTORS: [(&str, u32); 3] = [("user-1", 8391), ("user-2", 7471), ("", 6853)];

    /// Keys in the buckets next to the percents where rounding or binary
    /// floating point used to decide: 0.125% was 13 bp in Rust and 12 in
    /// Python, and `0.29 * 100.0` is 28.999999999999996.
    const TIES: [(&str, u32); 11] = [
        ("user-48413", 0),
        ("user-11899", 4),
        ("user-2950", 5),
        ("user-6963", 12),
        ("user-4039", 13),
        ("user-6661", 28),
        ("user-67", 29),
        ("user-6931", 1249),
        ("user-5732", 1250),
        ("user-1", 8391),
        ("user-102", 9999),
    ];

    fn arm(key: &str, percent: &str) -> &'static str {
        match in_canary(bucket("support_bot", "production", key), pc(percent)) {
            true => "canary",
            false => "stable",
        }
    }

    /// The first table in docs/environments.md.
    #[test]
    fn documented_arms() {
        for ((key, _), arms) in VECTORS.iter().zip([
            ["stable", "stable", "canary"],
            ["stable", "canary", "canary"],
            ["stable", "canary", "canary"],
        ]) {
            for (percent, want) in ["5", "75", "90"].into_iter().zip(arms) {
                assert_eq!(arm(key, percent), want, "{key:?} at {percent}%");
            }
        }
    }

    /// The ties table: a bucket equal to the basis points is stable, one
    /// below them is canary.
    #[test]
    fn a_bucket_equal_to_the_basis_points_is_stable() {
        for (key, b) in TIES {
            let at = |bp: u32| format!("{}.{:02}", bp / 100, bp % 100);
            if b > 0 {
                assert_eq!(arm(key, &at(b)), "stable", "{key} at {}%", at(b));
            }
            if b < 9999 {
                assert_eq!(arm(key, &at(b + 1)), "canary", "{key} at {}%", at(b + 1));
            }
        }
        assert_eq!(arm("user-6963", "0.12"), "stable");
        assert_eq!(arm("user-6963", "0.13"), "canary");
        assert_eq!(arm("user-67", "0.29"), "stable");
        assert_eq!(arm("user-6661", "0.29"), "canary");
    }

    #[test]
    fn percents_are_whole_basis_points() {
        for (s, bp) in [
            ("5", 500),
            ("5.0", 500),
            ("12.5", 1250),
            ("12.50", 1250),
            ("12.500", 1250),
            ("0.05", 5),
            ("0.01", 1),
            ("0.29", 29),
            ("0.57", 57),
            ("1.15", 115),
            ("99.99", 9999),
            (".5", 50),
            ("7.", 700),
            ("+5", 500),
            ("007", 700),
        ] {
            assert_eq!(Percent::parse(s).map(Percent::basis_points), Ok(bp), "{s}");
        }
        for s in ["0.125", "0.005", "12.345", "99.999", "0.001"] {
            assert_eq!(
                Percent::parse(s),
                Err(PercentError::TooPrecise(s.into())),
                "{s}"
            );
        }
        for s in [
            "0", "0.00", "100", "100.0", "150", "-1", "-0.5", "-0", "1000", "150.125",
        ] {
            assert_eq!(
                Percent::parse(s),
                Err(PercentError::OutOfRange(s.into())),
                "{s}"
            );
        }
        for s in [
            "", ".", "NaN", "inf", "1e1", "5%", " 5", "1.2.3", "--5", "0x10",
        ] {
            assert_eq!(
                Percent::parse(s),
                Err(PercentError::NotANumber(s.into())),
                "{s:?}"
            );
        }
    }

    /// Every whole basis point survives the trip through a double (YAML,
    /// JSON) and back, and the double prints as the decimal.
    #[test]
    fn every_basis_point_round_trips_through_a_double() {
        for bp in 1..10_000 {
            let p = Percent::from_basis_points(bp).unwrap();
            assert_eq!(Percent::from_f64(p.as_f64()), Ok(p), "{bp}");
            let text = format!("{}.{:02}", bp / 100, bp % 100);
            assert_eq!(Percent::parse(&text), Ok(p), "{text}");
            assert_eq!(text.parse::<f64>().unwrap(), p.as_f64(), "{text}");
        }
        for v in [0.125, 0.005, 1e-7, 33.333] {
            assert!(
                matches!(Percent::from_f64(v), Err(PercentError::TooPrecise(_))),
                "{v}"
            );
        }
        for v in [0.0, -0.0, 100.0, 150.0, -1.0, f64::INFINITY, 1e300] {
            assert!(
                matches!(Percent::from_f64(v), Err(PercentError::OutOfRange(_))),
                "{v}"
            );
        }
        assert!(matches!(
            Percent::from_f64(f64::NAN),
            Err(PercentError::NotANumber(_))
        ));
    }

    #[test]
    fn yaml_numbers_are_checked_where_they_are() {
        #[derive(Debug, serde::Deserialize)]
        struct Doc {
            #[allow(dead_code)]
            percent: Percent,
        }
        let read = |v: &str| {
            crate::workspace::yaml::from_str::<Doc>(
                std::path::Path::new("r.yaml"),
                &format!("\npercent: {v}\n"),
            )
        };
        for ok in ["5", "5.0", "12.5", "0.05", "0.29", "99.99"] {
            assert!(read(ok).is_ok(), "{ok}");
        }
        for bad in [
            "0", "100", "150", "-1", "0.125", "0.005", ".nan", ".inf", "\"5\"",
        ] {
            let e = read(bad).unwrap_err();
            assert!(
                e.message().starts_with("`r.yaml:2:"),
                "{bad}: {}",
                e.message()
            );
        }
        assert!(
            read("0.125")
                .unwrap_err()
                .message()
                .contains("more than two decimals")
        );
        assert!(
            read("150")
                .unwrap_err()
                .message()
                .contains("less than 100 percent")
        );
    }

    #[test]
    fn share_matches_percent() {
        for percent in ["1", "5", "25", "50"] {
            let n = 100_000;
            let hits = (0..n)
                .filter(|i| in_canary(bucket("p", "e", &format!("key-{i}")), pc(percent)))
                .count();
            let share = hits as f64 / n as f64 * 100.0;
            let want: f64 = percent.parse().unwrap();
            assert!((share - want).abs() <= 0.5, "{percent}%: {share}");
        }
    }

    proptest! {
        #[test]
        fn raising_the_percent_never_moves_a_key_back(key in ".{0,40}", a in 1u32..10_000, b in 1u32..10_000) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let (lo, hi) = (Percent::from_basis_points(lo).unwrap(), Percent::from_basis_points(hi).unwrap());
            let k = bucket("p", "e", &key);
            prop_assert!(!in_canary(k, lo) || in_canary(k, hi));
            prop_assert_eq!(k, bucket("p", "e", &key));
        }

    }
}
