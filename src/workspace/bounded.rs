//! Numbers with bounds, refused while the YAML is parsed.
//!
//! The design decision to know: a bound is checked by the visitor that
//! reads the number, inside the parser, so an absurd value (`timeout_s:
//! 1e300`, `max_in_flight: 0`) fails like any other parse error: with the
//! file, line, column and the key's path, before anything is built from it
//! (a `Duration` of 1e300 seconds would panic). Command-line flags check the
//! same [`Bound`]s with [`Bound::check`].

use std::fmt;

use serde::Deserializer;
use serde::de::{self, Visitor};

/// An interval a number must be in; the low end may be open.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bound {
    pub min: f64,
    /// Whether `min` itself is excluded (`timeout_s` must be above 0).
    pub min_excluded: bool,
    pub max: f64,
    /// What the number counts, for messages: `"seconds"`, `"requests per second"`.
    pub unit: &'static str,
}

impl Bound {
    pub(crate) fn contains(&self, v: f64) -> bool {
        v.is_finite() && (v > self.min || (!self.min_excluded && v == self.min)) && v <= self.max
    }

    /// `v`, or a message saying what it should have been.
    pub(crate) fn check(&self, v: f64) -> Result<f64, String> {
        if self.contains(v) {
            Ok(v)
        } else {
            Err(format!(
                "must be {}, not {}",
                self.describe(false),
                shown(v)
            ))
        }
    }

    /// "a number of seconds above 0 and at most 3600"; "a whole number …";
    /// "a number from 0 to 1" for a unitless bound.
    pub(crate) fn describe(&self, whole: bool) -> String {
        let low = if self.min_excluded {
            "above"
        } else {
            "at least"
        };
        let of = if self.unit.is_empty() {
            String::new()
        } else {
            format!(" of {}", self.unit)
        };
        format!(
            "a {}number{of} {low} {} and at most {}",
            if whole { "whole " } else { "" },
            shown(self.min),
            shown(self.max)
        )
    }
}

/// A number as a person wrote it: `1e300`, not 301 digits; `60`, not `60.0`.
fn shown(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:?}")
    }
}

/// A rate (a share of cases, a judge's mean score): from 0 to 1.
pub(crate) const RATE: Bound = Bound {
    min: 0.0,
    min_excluded: false,
    max: 1.0,
    unit: "",
};

/// An amount (a latency in ms, a cost or price in USD): finite, 0 or more.
pub(crate) const AMOUNT: Bound = Bound {
    min: 0.0,
    min_excluded: false,
    max: 1e12,
    unit: "",
};

/// A number within `bound`: `deserialize_with` for an `f64` field.
pub(crate) fn required_f64<'de, D: Deserializer<'de>>(
    d: D,
    bound: &'static Bound,
) -> Result<f64, D::Error> {
    d.deserialize_any(InBound { bound })
}

/// A map of names to numbers within `bound` (a suite's `criteria:`): each
/// value is checked as it is read, so an error has the value's own line.
pub(crate) fn map_f64<'de, D: Deserializer<'de>>(
    d: D,
    bound: &'static Bound,
) -> Result<std::collections::BTreeMap<String, f64>, D::Error> {
    d.deserialize_map(Map(InBound { bound }))
}

struct Map(InBound);

impl<'de> Visitor<'de> for Map {
    type Value = std::collections::BTreeMap<String, f64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a map of names to {}", self.0.bound.describe(false))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = std::collections::BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let v = map.next_value_seed(self.0)?;
            out.insert(key, v);
        }
        Ok(out)
    }
}

impl<'de> de::DeserializeSeed<'de> for InBound {
    type Value = f64;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<f64, D::Error> {
        d.deserialize_any(self)
    }
}

/// An optional number within `bound`: `deserialize_with` for an
/// `Option<f64>` field with `#[serde(default)]`.
pub(crate) fn optional_f64<'de, D: Deserializer<'de>>(
    d: D,
    bound: &'static Bound,
) -> Result<Option<f64>, D::Error> {
    d.deserialize_option(Optional(InBound { bound }))
}

/// An optional whole number within `bound`: `deserialize_with` for an
/// `Option<u32>` or `Option<u64>` field with `#[serde(default)]`.
pub(crate) fn optional_u64<'de, D: Deserializer<'de>>(
    d: D,
    bound: &'static Bound,
) -> Result<Option<u64>, D::Error> {
    d.deserialize_option(Optional(Whole { bound }))
}

/// Like [`optional_u64`], for a `u32` field (the bound's maximum must fit).
pub(crate) fn optional_u32<'de, D: Deserializer<'de>>(
    d: D,
    bound: &'static Bound,
) -> Result<Option<u32>, D::Error> {
    debug_assert!(bound.max <= f64::from(u32::MAX));
    Ok(optional_u64(d, bound)?.map(|n| n as u32))
}

/// `null` is "not set"; anything else goes to the inner visitor.
struct Optional<V>(V);

impl<'de, V: Visitor<'de> + Copy> Visitor<'de> for Optional<V> {
    type Value = Option<V::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self.0).map(Some)
    }
}

/// Any number within the bound.
#[derive(Clone, Copy)]
struct InBound {
    bound: &'static Bound,
}

impl<'de> Visitor<'de> for InBound {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.bound.describe(false))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        self.bound.check(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        self.visit_f64(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        self.visit_f64(v as f64)
    }
}

/// A whole number within the bound.
#[derive(Clone, Copy)]
struct Whole {
    bound: &'static Bound,
}

impl<'de> Visitor<'de> for Whole {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.bound.describe(true))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        // Above 2^53 the f64 is rounded, but far outside every bound anyway.
        if self.bound.contains(v as f64) {
            Ok(v)
        } else {
            Err(E::custom(format!(
                "must be {}, not {v}",
                self.bound.describe(true)
            )))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(format!(
                "must be {}, not {v}",
                self.bound.describe(true)
            ))),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        Err(E::custom(format!(
            "must be {}, not {}",
            self.bound.describe(true),
            shown(v)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECONDS: Bound = Bound {
        min: 0.0,
        min_excluded: true,
        max: 3600.0,
        unit: "seconds",
    };
    const SLOTS: Bound = Bound {
        min: 1.0,
        min_excluded: false,
        max: 100.0,
        unit: "requests",
    };

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct T {
        #[serde(default, deserialize_with = "secs")]
        t: Option<f64>,
        #[serde(default, deserialize_with = "slots")]
        n: Option<u32>,
    }

    fn secs<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        optional_f64(d, &SECONDS)
    }

    fn slots<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        optional_u32(d, &SLOTS)
    }

    fn parse(text: &str) -> Result<T, String> {
        crate::workspace::yaml::from_str::<T>(std::path::Path::new("f.yaml"), text)
            .map_err(|e| e.message().to_string())
    }

    #[test]
    fn numbers_within_bounds_are_read() {
        let t = parse("t: 2.5\nn: 100\n").unwrap();
        assert_eq!((t.t, t.n), (Some(2.5), Some(100)));
        let t = parse("t: 60\nn: 1\n").unwrap();
        assert_eq!((t.t, t.n), (Some(60.0), Some(1)));
        let t = parse("t: ~\n").unwrap();
        assert_eq!((t.t, t.n), (None, None));
        assert!(parse("{}\n").unwrap().t.is_none());
    }

    #[test]
    fn numbers_out_of_bounds_name_file_line_column_and_key() {
        for (text, shown) in [
            ("n: 1\nt: 1e300\n", "not 1e300"),
            ("n: 1\nt: 0\n", "not 0"),
            ("n: 1\nt: -5\n", "not -5"),
            ("n: 1\nt: .inf\n", "not inf"),
            ("n: 1\nt: .nan\n", "not NaN"),
            ("n: 1\nt: 3600.5\n", "not 3600.5"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                err.starts_with(
                    "`f.yaml:2:4`: t: must be a number of seconds above 0 and at most 3600"
                ),
                "{text:?}: {err}"
            );
            assert!(err.contains(shown), "{text:?}: {err}");
        }
        for text in [
            "t: 1\nn: 0\n",
            "t: 1\nn: 101\n",
            "t: 1\nn: -1\n",
            "t: 1\nn: 1.5\n",
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                err.starts_with(
                    "`f.yaml:2:4`: n: must be a whole number of requests at least 1 and at most 100"
                ),
                "{text:?}: {err}"
            );
        }
        assert!(parse("t: fast\n").unwrap_err().contains("f.yaml:1:4"));
    }

    #[test]
    fn flags_get_the_same_message() {
        assert_eq!(SECONDS.check(2.0), Ok(2.0));
        assert_eq!(
            SECONDS.check(1e300).unwrap_err(),
            "must be a number of seconds above 0 and at most 3600, not 1e300"
        );
        // Above 0, so a valid number of seconds; far too few requests a second.
        assert_eq!(SECONDS.check(1e-300), Ok(1e-300));
        let rate = Bound {
            min: 0.001,
            min_excluded: false,
            max: 10_000.0,
            unit: "requests per second",
        };
        assert_eq!(
            rate.check(1e-300).unwrap_err(),
            "must be a number of requests per second at least 0.001 and at most 10000, not 1e-300"
        );
    }
}
