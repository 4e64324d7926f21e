//! Numbers with bounds, checked while a file is parsed, so that a bad one
//! is reported at its file, line and key like any other parse error: rates
//! are finite and in [0, 1], amounts (latencies, costs, prices) finite and
//! at least 0. Used with `#[serde(deserialize_with = …)]`.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// Whether a parse error is one of these bounds refusing a value (the YAML
/// loader then points at the key, not at the enclosing mapping).
pub fn is_out_of_bounds(message: &str) -> bool {
    message.contains(" is not a rate: ") || message.contains(" is not an amount: ")
}

fn check_rate<E: serde::de::Error>(v: f64) -> Result<f64, E> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(E::custom(format!(
            "{v} is not a rate: it must be a number from 0 to 1"
        )))
    }
}

fn check_amount<E: serde::de::Error>(v: f64) -> Result<f64, E> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(E::custom(format!(
            "{v} is not an amount: it must be a finite number, 0 or more"
        )))
    }
}

/// An optional rate in [0, 1].
pub fn opt_rate<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Option::<f64>::deserialize(d)?.map(check_rate).transpose()
}

/// Rates in [0, 1] by name.
pub fn rate_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
    let map = BTreeMap::<String, f64>::deserialize(d)?;
    for (k, v) in &map {
        check_rate::<D::Error>(*v).map_err(|e| D::Error::custom(format!("`{k}`: {e}")))?;
    }
    Ok(map)
}

/// An optional amount, at least 0.
pub fn opt_amount<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Option::<f64>::deserialize(d)?.map(check_amount).transpose()
}

/// An amount, at least 0.
pub fn amount<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    check_amount(f64::deserialize(d)?)
}

/// A deserialize function for one key: `keyed!(pass_rate, opt_rate, Option<f64>)`
/// is `opt_rate` whose errors start with `pass_rate: `, as the YAML error's
/// location names only the enclosing mapping.
#[macro_export]
macro_rules! keyed {
    ($name:ident, $check:ident, $t:ty) => {
        fn $name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
            $crate::workspace::bounds::$check(d).map_err(|e| {
                <D::Error as serde::de::Error>::custom(format!("{}: {e}", stringify!($name)))
            })
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "opt_rate")]
        r: Option<f64>,
        #[serde(default, deserialize_with = "opt_amount")]
        a: Option<f64>,
    }

    fn parse(s: &str) -> Result<T, serde_json::Error> {
        serde_json::from_str(s)
    }

    #[test]
    fn rates_and_amounts_have_bounds() {
        assert_eq!(parse(r#"{"r": 0, "a": 0}"#).unwrap().r, Some(0.0));
        assert_eq!(parse(r#"{"r": 1}"#).unwrap().r, Some(1.0));
        assert!(parse(r#"{"r": 1.5}"#).is_err());
        assert!(parse(r#"{"r": -0.1}"#).is_err());
        assert!(parse(r#"{"a": -1}"#).is_err());
        assert!(parse(r#"{"a": 1e400}"#).is_err());
        assert_eq!(parse(r#"{"a": 4000}"#).unwrap().a, Some(4000.0));
        assert_eq!(parse("{}").unwrap().r, None);
    }
}
