//! Canonical JSON and the sha256 digests built on it.
//!
//! Hashes are of canonical forms so that re-serialising the same content
//! (reordered keys, other whitespace, `1.0` for `1`) gives the same digest on
//! every machine: object keys sorted by their UTF-8 bytes, no insignificant
//! whitespace, integral numbers written as integers, strings escaped as
//! serde_json escapes them. This is RFC 8785 (JCS) for every value promptctl
//! hashes; it differs only for non-integral floats, which keep Rust's shortest
//! round-trip form.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The canonical JSON text of a value.
pub(crate) fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value);
    out
}

/// The canonical JSON text of any serialisable value.
pub(crate) fn of<T: Serialize + ?Sized>(value: &T) -> String {
    let value = serde_json::to_value(value).expect("promptctl's own types serialise to JSON");
    to_string(&value)
}

fn write(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sort explicitly: serde_json's map is insertion-ordered when any
            // crate in the build enables its `preserve_order` feature.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write(out, v);
            }
            out.push('}');
        }
    }
}

fn write_number(out: &mut String, n: &serde_json::Number) {
    if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
        // 2^53: beyond it, not every integer is representable.
        if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
            out.push_str(&(f as i64).to_string());
            return;
        }
    }
    out.push_str(&n.to_string());
}

fn write_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("a string always serialises"));
}

/// `sha256:<hex>` of bytes.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `sha256:<hex>` of a value's canonical JSON.
pub(crate) fn hash_of<T: Serialize + ?Sized>(value: &T) -> String {
    sha256(of(value).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        let v = json!({"b": 1, "a": {"d": [1, 2.5, "x"], "c": null}});
        assert_eq!(to_string(&v), r#"{"a":{"c":null,"d":[1,2.5,"x"]},"b":1}"#);
    }

    #[test]
    fn integral_floats_are_integers() {
        assert_eq!(to_string(&json!(0.0)), "0");
        assert_eq!(to_string(&json!(-3.0)), "-3");
        assert_eq!(to_string(&json!(0.7)), "0.7");
    }

    #[test]
    fn sha256_has_a_prefix_and_hex() {
        assert_eq!(
            sha256(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            (-1.0e9..1.0e9f64).prop_map(|f| json!(f)),
            "\\PC{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("\\PC{0,8}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Rebuilds every object with its keys in reverse order.
    fn reverse_keys(v: &Value) -> Value {
        match v {
            Value::Array(items) => Value::Array(items.iter().map(reverse_keys).collect()),
            Value::Object(map) => {
                let mut m = serde_json::Map::new();
                for (k, v) in map.iter().rev() {
                    m.insert(k.clone(), reverse_keys(v));
                }
                Value::Object(m)
            }
            other => other.clone(),
        }
    }

    proptest! {
        #[test]
        fn canonical_form_survives_a_round_trip(v in arb_json()) {
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            let reparsed: Value = serde_json::from_str(&pretty).unwrap();
            prop_assert_eq!(to_string(&v), to_string(&reparsed));
        }

        #[test]
        fn canonical_form_ignores_key_order(v in arb_json()) {
            prop_assert_eq!(to_string(&v), to_string(&reverse_keys(&v)));
        }

        #[test]
        fn canonical_form_is_valid_json_of_the_same_value(v in arb_json()) {
            let text = to_string(&v);
            let back: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(to_string(&back), text);
        }

        #[test]
        fn yaml_and_json_of_the_same_value_agree(v in arb_json()) {
            let yaml = serde_yaml::to_string(&v).unwrap();
            let from_yaml: Value = serde_yaml::from_str(&yaml).unwrap();
            prop_assert_eq!(to_string(&v), to_string(&from_yaml));
        }
    }
}
