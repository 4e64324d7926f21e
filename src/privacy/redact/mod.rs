//! Redaction: personal data and credentials become `[REDACTED:<kind>]` before
//! anything that can be shared is written — results, cassettes, evidence,
//! logs (SPEC §9). The local response cache is the one thing not redacted: it
//! keeps raw answers, so a cached run and a live run agree. The workspace's
//! own keys ([`Secrets`], given with [`Redactor::with_secrets`]) go first,
//! before any detector can split one, and the runner takes them out of
//! every answer before it is cached.
//!
//! The design decision: every detector proposes spans over the whole text and
//! overlaps are resolved once, across detectors, leftmost-longest (the span
//! that starts first wins; of those starting together, the longest; an exact
//! tie goes to a named pattern, as the more specific). Markers this redactor
//! writes are never matched inside, and a pass is repeated until it changes
//! nothing, so `redact` is idempotent even for named patterns whose anchors or
//! word boundaries only match once a neighbour has been replaced.

mod detectors;

use std::borrow::Cow;
use std::cmp::Reverse;
use std::ops::Range;

use regex::Regex;

use crate::error::Error;
use crate::privacy::secrets::Secrets;
use crate::workspace::config::{Builtin, Redaction};

/// Replaces personal data and credentials in text with `[REDACTED:<kind>]`.
///
/// Built once per run from the workspace's `redaction` settings; cheap to
/// share between threads.
#[derive(Debug, Clone)]
pub(crate) struct Redactor {
    /// In tie-break order: named patterns, then builtins by kind.
    detectors: Vec<Detector>,
    /// Matches exactly the markers `detectors` and `secrets` write.
    markers: Regex,
    /// The configured keys, replaced before any detector runs.
    secrets: Secrets,
}

#[derive(Debug, Clone)]
struct Detector {
    kind: String,
    marker: String,
    find: Find,
}

#[derive(Debug, Clone)]
enum Find {
    Builtin(Builtin),
    Pattern(Regex),
}

/// A proposed replacement: a byte span and the detector that found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
    detector: usize,
}

impl Redactor {
    /// Builds a redactor from the workspace's `redaction` config (builtins +
    /// named patterns).
    ///
    /// A named pattern that does not compile is invalid input (exit 2).
    pub(crate) fn new(config: &Redaction) -> Result<Redactor, Error> {
        let mut detectors = Vec::new();
        for (name, pattern) in &config.patterns {
            let re = Regex::new(pattern).map_err(|e| {
                Error::invalid(format!(
                    "`redaction.patterns.{name}`: invalid regular expression: {e}"
                ))
            })?;
            detectors.push(Detector::new(name, Find::Pattern(re)));
        }
        let mut builtins = config.builtins.clone();
        builtins.sort_by_key(|&b| detectors::kind(b));
        builtins.dedup();
        for b in builtins {
            detectors.push(Detector::new(detectors::kind(b), Find::Builtin(b)));
        }
        // `api_key` is what `secrets` writes, whichever builtins are on.
        let mut kinds: Vec<&str> = detectors.iter().map(|d| d.kind.as_str()).collect();
        kinds.push("api_key");
        kinds.sort_unstable();
        kinds.dedup();
        let alternatives: Vec<String> = kinds.iter().map(|k| regex::escape(k)).collect();
        let markers = Regex::new(&format!(r"\[REDACTED:(?:{})\]", alternatives.join("|")))
            .map_err(|e| {
                Error::invalid(format!("redaction: cannot build the marker pattern: {e}"))
            })?;
        Ok(Redactor {
            detectors,
            markers,
            secrets: Secrets::default(),
        })
    }

    /// The same redactor, which also replaces the workspace's own keys (and
    /// any 12 characters of one) with `[REDACTED:api_key]`, first.
    pub(crate) fn with_secrets(mut self, secrets: Secrets) -> Redactor {
        self.secrets = secrets;
        self
    }

    /// Replaces each match with `[REDACTED:<kind>]`; borrows when nothing
    /// matched.
    pub(crate) fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.secrets.scrub(text) {
            Cow::Borrowed(text) => self.detect(text),
            Cow::Owned(text) => Cow::Owned(self.detect(&text).into_owned()),
        }
    }

    /// The detectors' passes, repeated until one changes nothing.
    fn detect<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Some(mut out) = self.pass(text) else {
            return Cow::Borrowed(text);
        };
        // Each pass turns at least one unprotected byte into a marker, so this
        // ends; in practice the second pass finds nothing.
        for _ in 0..text.len() {
            match self.pass(&out) {
                Some(next) => out = next,
                None => break,
            }
        }
        Cow::Owned(out)
    }

    /// Redacts every string inside a JSON value, recursively (object keys
    /// untouched). Numbers are left alone: they keep their type.
    pub(crate) fn redact_value(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(s) => {
                if let Cow::Owned(redacted) = self.redact(s) {
                    *s = redacted;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_value(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.redact_value(v)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// One pass: every detector over the whole text, overlaps resolved
    /// leftmost-longest. `None` when nothing matched.
    fn pass(&self, text: &str) -> Option<String> {
        let mut spans = Vec::new();
        self.spans(text, &mut spans);
        if spans.is_empty() {
            return None;
        }
        spans.sort_unstable_by_key(|s| (s.start, Reverse(s.end), s.detector));
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for s in spans {
            if s.start < at {
                continue;
            }
            out.push_str(&text[at..s.start]);
            out.push_str(&self.detectors[s.detector].marker);
            at = s.end;
        }
        out.push_str(&text[at..]);
        Some(out)
    }

    /// Every non-empty span a detector accepts that does not overlap one of
    /// our markers already in `text`.
    fn spans(&self, text: &str, out: &mut Vec<Span>) {
        let protected: Vec<Range<usize>> = if text.contains("[REDACTED:") {
            self.markers.find_iter(text).map(|m| m.range()).collect()
        } else {
            Vec::new()
        };
        let free = |start: usize, end: usize| {
            let i = protected.partition_point(|p| p.end <= start);
            start < end && protected.get(i).is_none_or(|p| p.start >= end)
        };
        for (detector, d) in self.detectors.iter().enumerate() {
            let mut emit = |start: usize, end: usize| {
                if free(start, end) {
                    out.push(Span {
                        start,
                        end,
                        detector,
                    });
                }
            };
            match &d.find {
                Find::Builtin(b) => detectors::find(*b, text, &mut emit),
                Find::Pattern(re) => re.find_iter(text).for_each(|m| emit(m.start(), m.end())),
            }
        }
    }
}

impl Detector {
    fn new(kind: &str, find: Find) -> Detector {
        Detector {
            kind: kind.to_string(),
            marker: format!("[REDACTED:{kind}]"),
            find,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn with_patterns(patterns: &[(&str, &str)]) -> Redactor {
        let config = Redaction {
            patterns: patterns
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            ..Redaction::default()
        };
        Redactor::new(&config).unwrap()
    }

    fn redactor() -> Redactor {
        with_patterns(&[("order_id", "ORD-[0-9]{8}")])
    }

    /// Asserts that `input` redacts to `expected` and that this is stable.
    #[track_caller]
    fn check(r: &Redactor, input: &str, expected: &str) {
        let out = r.redact(input);
        assert_eq!(out, expected, "redacting {input:?}");
        assert_eq!(r.redact(&out), out, "redacting {input:?} twice");
    }

    #[test]
    fn detects_each_kind_and_leaves_look_alikes() {
        let r = redactor();
        let table: &[(&str, &str)] = &[
            // email
            (
                "mail bob.smith+tag@example.co.uk now",
                "mail [REDACTED:email] now",
            ),
            ("<jane_doe@mail.example.com>", "<[REDACTED:email]>"),
            ("mailto:a@b.io.", "mailto:[REDACTED:email]."),
            ("user@localhost", "user@localhost"),
            ("@handle and a@b", "@handle and a@b"),
            ("x@y.c", "x@y.c"),
            // phone
            ("call (555) 123-4567", "call [REDACTED:phone]"),
            ("call 555-123-4567.", "call [REDACTED:phone]."),
            ("call 555.123.4567", "call [REDACTED:phone]"),
            ("call 1-800-555-0199", "call [REDACTED:phone]"),
            ("call +1 555 123 4567", "call [REDACTED:phone]"),
            ("call +44 20 7946 0958", "call [REDACTED:phone]"),
            ("call +44 (0) 20 7946 0958", "call [REDACTED:phone]"),
            ("tel:+4915123456789", "tel:[REDACTED:phone]"),
            ("on 2026-11-21", "on 2026-11-21"),
            (
                "at 2026-11-21T10:15:30+01:00",
                "at 2026-11-21T10:15:30+01:00",
            ),
            ("at 2026-11-21T10:15:30.123Z", "at 2026-11-21T10:15:30.123Z"),
            (
                "at 2026-11-21 10:15:30 +0100",
                "at 2026-11-21 10:15:30 +0100",
            ),
            ("version 1.2.3 and v10.20.30", "version 1.2.3 and v10.20.30"),
            ("id 12-555-123-4567", "id 12-555-123-4567"),
            ("+1 555", "+1 555"),
            ("3+4 = 7", "3+4 = 7"),
            // credit card
            ("card 4111 1111 1111 1111", "card [REDACTED:credit_card]"),
            ("card 4111-1111-1111-1111!", "card [REDACTED:credit_card]!"),
            ("card 4111111111111111", "card [REDACTED:credit_card]"),
            ("amex 3782 822463 10005", "amex [REDACTED:credit_card]"),
            ("amex 378282246310005", "amex [REDACTED:credit_card]"),
            ("in 2 4111 1111 1111 1111", "in 2 [REDACTED:credit_card]"),
            ("card 4111 1111 1111 1112", "card 4111 1111 1111 1112"),
            ("card 4111111111111112", "card 4111111111111112"),
            ("id 41111111111111111111", "id 41111111111111111111"),
            ("pi 3.4111111111111111", "pi 3.4111111111111111"),
            ("zero 0000 0000 0000 0000", "zero 0000 0000 0000 0000"),
            ("hex a4111111111111111", "hex a4111111111111111"),
            // ssn
            ("ssn 123-45-6789", "ssn [REDACTED:ssn]"),
            ("ssn 000-12-3456", "ssn 000-12-3456"),
            ("ssn 666-12-3456", "ssn 666-12-3456"),
            ("ssn 900-12-3456", "ssn 900-12-3456"),
            ("ssn 123-00-4567", "ssn 123-00-4567"),
            ("ssn 123-45-0000", "ssn 123-45-0000"),
            ("ssn 123-45-67890", "ssn 123-45-67890"),
            // iban
            ("iban GB82 WEST 1234 5698 7654 32.", "iban [REDACTED:iban]."),
            ("iban GB82WEST12345698765432", "iban [REDACTED:iban]"),
            ("iban DE89 3704 0044 0532 0130 00", "iban [REDACTED:iban]"),
            ("iban BE68 5390 0754 7034 2024", "iban [REDACTED:iban] 2024"),
            (
                "iban GB82 WEST 1234 5698 7654 33",
                "iban GB82 WEST 1234 5698 7654 33",
            ),
            ("iban DE89370400440532013001", "iban DE89370400440532013001"),
            ("iban gb82west12345698765432", "iban gb82west12345698765432"),
            // ip address
            ("host 192.168.1.1", "host [REDACTED:ip_address]"),
            ("host 10.0.0.255:8080", "host [REDACTED:ip_address]:8080"),
            ("net 10.0.0.0/8", "net [REDACTED:ip_address]/8"),
            (
                "v6 2001:0db8:85a3:0000:0000:8a2e:0370:7334",
                "v6 [REDACTED:ip_address]",
            ),
            ("v6 [2001:db8::1]:443", "v6 [[REDACTED:ip_address]]:443"),
            ("v6 fe80::1%eth0", "v6 [REDACTED:ip_address]%eth0"),
            ("on ::1: ok", "on [REDACTED:ip_address]: ok"),
            ("v6 ::ffff:192.0.2.128", "v6 [REDACTED:ip_address]"),
            ("version 1.2.3", "version 1.2.3"),
            ("ping 10.0.0.1.", "ping [REDACTED:ip_address]."),
            ("bad 256.1.1.1 and 1.2.3.4.5", "bad 256.1.1.1 and 1.2.3.4.5"),
            ("at 10:15:30", "at 10:15:30"),
            (
                "use std::vec and a::b and ::",
                "use std::vec and a::b and ::",
            ),
            ("mac 00:1A:2B:3C:4D:5E", "mac 00:1A:2B:3C:4D:5E"),
            // api key
            (
                "key sk-proj-abcdefghijklmnopqrstuvwx",
                "key [REDACTED:api_key]",
            ),
            (
                "key sk-ant-api03-abcdefghijklmnopqrstuv",
                "key [REDACTED:api_key]",
            ),
            (
                "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012",
                "Authorization: [REDACTED:api_key]",
            ),
            ("aws AKIAIOSFODNN7EXAMPLE", "aws [REDACTED:api_key]"),
            (
                "gh ghp_abcdefghijklmnopqrstuvwxyz0123456789",
                "gh [REDACTED:api_key]",
            ),
            ("slack xoxb-1234567890-abcdef", "slack [REDACTED:api_key]"),
            (
                "k\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAAA==\n-----END RSA PRIVATE KEY-----\nbye",
                "k\n[REDACTED:api_key]\nbye",
            ),
            (
                "k -----BEGIN PRIVATE KEY-----\nMIIEow\nAAAA==\n\nthe end",
                "k [REDACTED:api_key]\n\nthe end",
            ),
            ("key sk-short", "key sk-short"),
            ("the bearer of bad news", "the bearer of bad news"),
            // named pattern
            (
                "order ORD-12345678 shipped",
                "order [REDACTED:order_id] shipped",
            ),
            ("order ORD-1234567 shipped", "order ORD-1234567 shipped"),
        ];
        for (input, expected) in table {
            check(&r, input, expected);
        }
    }

    #[test]
    fn can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Redactor>();
    }

    #[test]
    fn borrows_when_nothing_matched() {
        let r = redactor();
        let text = "Ask the user for the task-id on 2026-11-21; skip small talk.";
        assert!(matches!(r.redact(text), Cow::Borrowed(_)));
        assert!(matches!(r.redact(""), Cow::Borrowed(_)));
        assert!(matches!(
            r.redact("already [REDACTED:email]"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn overlap_at_the_same_start_keeps_the_longest() {
        let r = redactor();
        // A card-shaped local part: the email is longer than the card.
        check(&r, "4111111111111111@example.com", "[REDACTED:email]");
        // `sk-ant-…` is also an OpenAI-shaped key; one marker, not two.
        check(
            &r,
            "sk-ant-api03-abcdefghijklmnopqrstuv",
            "[REDACTED:api_key]",
        );
        // The phone starts with `+`, before the card's first digit.
        check(&r, "+1 4111 1111 1111 1111", "[REDACTED:phone] 1111");
    }

    #[test]
    fn overlap_keeps_the_leftmost() {
        let r = with_patterns(&[("ref", "ref [0-9]{3}-[0-9]{2}")]);
        check(&r, "ref 123-45-6789", "[REDACTED:ref]-6789");
        let r = with_patterns(&[("short", r"\+44 20")]);
        check(&r, "+44 20 7946 0958", "[REDACTED:phone]");
    }

    #[test]
    fn configured_keys_go_before_any_detector() {
        // A key with a card number inside: one `api_key` marker, not a card.
        let key = "tok-4111111111111111-zz";
        let r = redactor().with_secrets(Secrets::new([key]));
        check(&r, &format!("use {key} now"), "use [REDACTED:api_key] now");
        check(
            &r,
            &format!("{} and a@b.com", key.to_uppercase()),
            "[REDACTED:api_key] and [REDACTED:email]",
        );
        // Even with the `api_key` builtin off and a pattern that matches
        // marker text, the key's marker is written once and kept.
        let config = Redaction {
            builtins: vec![Builtin::Email],
            patterns: [("word".to_string(), "[a-z]{3,}".to_string())].into(),
            ..Redaction::default()
        };
        let r = Redactor::new(&config)
            .unwrap()
            .with_secrets(Secrets::new([key]));
        check(&r, &format!("x {key}"), "x [REDACTED:api_key]");
    }

    #[test]
    fn exact_tie_goes_to_the_named_pattern() {
        let r = with_patterns(&[("staff_email", r"[a-z]+@corp\.example")]);
        check(&r, "ask ann@corp.example", "ask [REDACTED:staff_email]");
    }

    #[test]
    fn markers_are_never_matched_inside_or_nested() {
        // These patterns match marker text; markers must survive untouched.
        let r = with_patterns(&[("caps", "[A-Z]{3,}"), ("digit", "[0-9]"), ("br", r"\]")]);
        let out = r.redact("ABC a@b.com 7 ]");
        assert_eq!(
            out,
            "[REDACTED:caps] [REDACTED:email] [REDACTED:digit] [REDACTED:br]"
        );
        assert_eq!(r.redact(&out), out);
        assert!(!out.contains("[REDACTED:["));
    }

    #[test]
    fn word_boundaries_exposed_by_a_replacement_are_caught() {
        // `\bab` matches only the first `ab` of `abab` until that is replaced.
        let r = with_patterns(&[("ab", r"\bab")]);
        check(&r, "abab", "[REDACTED:ab][REDACTED:ab]");
    }

    #[test]
    fn builtins_follow_the_config() {
        let config = Redaction {
            builtins: vec![Builtin::Email, Builtin::Email],
            ..Redaction::default()
        };
        let r = Redactor::new(&config).unwrap();
        check(&r, "a@b.com 555-123-4567", "[REDACTED:email] 555-123-4567");
    }

    #[test]
    fn invalid_named_pattern_is_invalid_input() {
        let config = Redaction {
            patterns: [("order_id".to_string(), "ORD-[0-9".to_string())].into(),
            ..Redaction::default()
        };
        let err = Redactor::new(&config).unwrap_err();
        assert_eq!(err.class(), crate::error::Class::Invalid);
        assert!(
            err.message().contains("redaction.patterns.order_id"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn redact_value_walks_nested_json() {
        let r = redactor();
        let mut value = json!({
            "a@b.com": "contact a@b.com",
            "list": [1, "call 555-123-4567", {"deep": ["ssn 123-45-6789", null, true]}],
            "order": "ORD-12345678",
            "n": 4111111111111111u64,
            "clean": "nothing here",
        });
        r.redact_value(&mut value);
        assert_eq!(
            value,
            json!({
                "a@b.com": "contact [REDACTED:email]",
                "list": [1, "call [REDACTED:phone]", {"deep": ["ssn [REDACTED:ssn]", null, true]}],
                "order": "[REDACTED:order_id]",
                "n": 4111111111111111u64,
                "clean": "nothing here",
            })
        );
    }

    /// A 13 to 19 digit number that passes Luhn, unbroken or in groups of 4.
    fn card() -> impl Strategy<Value = String> {
        (
            3u32..=6,
            prop::collection::vec(0u32..=9, 11..=17),
            0..3usize,
        )
            .prop_map(|(first, rest, style)| {
                let mut digits: Vec<u32> = std::iter::once(first).chain(rest).collect();
                // The check digit makes the Luhn sum a multiple of 10.
                let sum: u32 = digits
                    .iter()
                    .rev()
                    .enumerate()
                    .map(|(k, &d)| {
                        if k % 2 == 0 {
                            (d * 2) / 10 + (d * 2) % 10
                        } else {
                            d
                        }
                    })
                    .sum();
                digits.push((10 - sum % 10) % 10);
                let mut out = String::new();
                for (i, d) in digits.iter().enumerate() {
                    if i > 0 && i % 4 == 0 && style > 0 {
                        out.push(if style == 1 { ' ' } else { '-' });
                    }
                    out.push(char::from_digit(*d, 10).unwrap());
                }
                out
            })
    }

    fn email() -> impl Strategy<Value = String> {
        "[a-z0-9][a-z0-9._+]{0,8}@[a-z0-9]{1,10}\\.(com|org|io|co\\.uk)"
    }

    fn filler() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 .,:;@+()\\-\n\\[\\]]{0,12}",
            "\\PC{0,6}",
            Just("[REDACTED:email]".to_string()),
            Just("2026-11-21T10:15:30+01:00".to_string()),
            Just("(555) 123-4567".to_string()),
            Just("fe80::1".to_string()),
            Just("ORD-12345678".to_string()),
            Just("Bearer abcdefghijklmnopqrstuvwxyz".to_string()),
        ]
    }

    /// Random text with emails and cards sprinkled in; returns the text and
    /// the secrets that were sprinkled.
    fn sprinkled() -> impl Strategy<Value = (String, Vec<String>)> {
        prop::collection::vec(
            prop_oneof![
                2 => filler().prop_map(|f| (f, false)),
                1 => email().prop_map(|e| (e, true)),
                1 => card().prop_map(|c| (c, true)),
            ],
            0..10,
        )
        .prop_map(|parts| {
            let text = parts
                .iter()
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let secrets = parts
                .into_iter()
                .filter(|(_, s)| *s)
                .map(|(p, _)| p)
                .collect();
            (text, secrets)
        })
    }

    static REDACTOR: std::sync::LazyLock<Redactor> = std::sync::LazyLock::new(redactor);

    proptest! {
        #[test]
        fn redact_is_idempotent((text, _) in sprinkled()) {
            let once = REDACTOR.redact(&text);
            prop_assert_eq!(REDACTOR.redact(&once), once.clone());
        }

        #[test]
        fn redact_is_idempotent_on_any_text(text in "\\PC{0,40}") {
            let once = REDACTOR.redact(&text);
            prop_assert_eq!(REDACTOR.redact(&once), once.clone());
        }

        #[test]
        fn no_detector_matches_the_output((text, secrets) in sprinkled()) {
            let out = REDACTOR.redact(&text);
            let mut spans = Vec::new();
            REDACTOR.spans(&out, &mut spans);
            prop_assert!(spans.is_empty(), "{:?} still matches in {:?}", spans, out);
            for secret in &secrets {
                prop_assert!(!out.contains(secret.as_str()), "{:?} survived in {:?}", secret, out);
            }
        }
    }
}
