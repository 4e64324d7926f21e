//! Credentials: the shapes that must never be committed in a prompt, and
//! the workspace's own keys, which must never be written anywhere.
//!
//! Shapes are those the providers issue (OpenAI `sk-…`, `sk-proj-…`,
//! Anthropic `sk-ant-…`, Google `AIza…`), plus bearer tokens, AWS access
//! keys, GitHub and Slack tokens and PEM private keys. Matches are reported
//! by kind and line, never by value.
//!
//! A key with no recognisable shape (an Azure key is 32 hex digits) is found
//! by value instead: [`Secrets`] holds the configured keys and replaces any
//! run of 12 or more of a key's characters, in any case, so a model that
//! echoes a key, a prefix of it or a shouted copy leaks none of it.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// Each credential kind and the pattern that finds it; `redact` reuses them.
pub(crate) static DETECTORS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        ("anthropic_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
        (
            "openai_key",
            r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
        ),
        ("bearer_token", r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{20,}"),
        ("aws_access_key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        ("github_token", r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
        ("slack_token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
        ("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}"),
        ("private_key", r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
    ]
    .into_iter()
    .map(|(kind, re)| (kind, Regex::new(re).expect("secret patterns compile")))
    .collect()
});

/// A credential found in text: its kind and 1-based line, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub kind: &'static str,
    pub line: usize,
}

/// Every credential-shaped string in `text`, one per kind and line.
pub(crate) fn scan(text: &str) -> Vec<Found> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for (kind, re) in DETECTORS.iter() {
            if re.is_match(line) {
                // An Anthropic key also looks like an OpenAI one; report it once.
                if *kind == "openai_key"
                    && out
                        .iter()
                        .any(|f: &Found| f.line == i + 1 && f.kind == "anthropic_key")
                {
                    continue;
                }
                out.push(Found { kind, line: i + 1 });
            }
        }
    }
    out
}

/// Every credential-shaped string in a prompt's files (path relative to the
/// prompt → bytes), by file and line: what `lint` reports and `release`
/// refuses.
pub(crate) fn scan_files(files: &BTreeMap<String, Vec<u8>>) -> Vec<(&str, Found)> {
    files
        .iter()
        .flat_map(|(rel, bytes)| {
            scan(&String::from_utf8_lossy(bytes))
                .into_iter()
                .map(move |f| (rel.as_str(), f))
        })
        .collect()
}

/// `text` with every credential-shaped string replaced by `(redacted)`.
pub(crate) fn mask(text: &str) -> String {
    let mut out = text.to_string();
    for (_, re) in DETECTORS.iter() {
        if re.is_match(&out) {
            out = re.replace_all(&out, "(redacted)").into_owned();
        }
    }
    out
}

/// What a configured key's value becomes wherever it is found.
pub(crate) const MARKER: &str = "[REDACTED:api_key]";

/// The shortest run of a key's characters that counts as the key.
pub(crate) const WINDOW: usize = 12;

/// Values shorter than this are placeholders (`ollama`, `none`), not keys:
/// scrubbing them would eat ordinary words.
pub(crate) const MIN_KEY: usize = 8;

/// The workspace's own API keys, to be found in any text: a whole key, and
/// any run of [`WINDOW`] or more of its characters, ASCII case ignored.
/// A key shorter than [`WINDOW`] is found whole.
///
/// Built once per run; `Debug` prints `(redacted)`. Each key is kept as
/// the set of its lowercased windows, packed into integers, so a scan slides
/// one window over the text and costs a shift and a bit test per byte; the
/// matching windows are then merged, so a longer echo is replaced whole.
#[derive(Clone, Default)]
pub(crate) struct Secrets {
    /// Every window of every key: its bytes little-endian in the low bytes,
    /// its length in the top byte.
    windows: HashSet<u128>,
    /// A 2^16-bit filter over `windows`: most positions stop here.
    filter: Vec<u64>,
    /// The distinct window lengths, at most [`WINDOW`].
    lengths: Vec<usize>,
}

impl Secrets {
    /// The scrubber for these key values (trimmed; placeholders shorter than
    /// [`MIN_KEY`] are ignored).
    pub(crate) fn new<'a>(keys: impl IntoIterator<Item = &'a str>) -> Secrets {
        let mut s = Secrets {
            windows: HashSet::new(),
            filter: vec![0; 1 << 10],
            lengths: Vec::new(),
        };
        for key in keys {
            let key = key.trim();
            if key.len() < MIN_KEY {
                continue;
            }
            let len = key.len().min(WINDOW);
            let lower = key.as_bytes().to_ascii_lowercase();
            for start in 0..=key.len() - len {
                // Windows on the key's character boundaries match only on the
                // text's, so a replacement never splits a character.
                if !(key.is_char_boundary(start) && key.is_char_boundary(start + len)) {
                    continue;
                }
                let packed = pack(&lower[start..start + len]);
                s.filter[slot(packed) / 64] |= 1 << (slot(packed) % 64);
                s.windows.insert(packed);
            }
            if !s.lengths.contains(&len) {
                s.lengths.push(len);
            }
        }
        s
    }

    /// Whether there is no key to look for.
    pub(crate) fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// `text` with every run of a key's characters replaced by [`MARKER`];
    /// borrows when there was none.
    pub(crate) fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let spans = self.spans(text);
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end) in spans {
            out.push_str(&text[at..start]);
            out.push_str(MARKER);
            at = end;
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }

    /// The maximal byte spans covered by matching windows, in order, merged
    /// where they overlap or touch.
    fn spans(&self, text: &str) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        if self.is_empty() {
            return found;
        }
        // The last 16 bytes seen, lowercased, the newest in the top byte.
        let mut recent: u128 = 0;
        for (i, &b) in text.as_bytes().iter().enumerate() {
            recent = (recent >> 8) | (u128::from(b.to_ascii_lowercase()) << 120);
            let end = i + 1;
            for &len in &self.lengths {
                if end < len {
                    continue;
                }
                let packed = (recent >> (128 - 8 * len)) | ((len as u128) << 120);
                let bit = slot(packed);
                if self.filter[bit / 64] & (1 << (bit % 64)) != 0
                    && self.windows.contains(&packed)
                    && text.is_char_boundary(end - len)
                {
                    found.push((end - len, end));
                }
            }
        }
        found.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(found.len());
        for (start, end) in found {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }
}

/// A window of at most 15 bytes as an integer, its length in the top byte.
fn pack(bytes: &[u8]) -> u128 {
    let mut v = (bytes.len() as u128) << 120;
    for (k, &b) in bytes.iter().enumerate() {
        v |= u128::from(b) << (8 * k);
    }
    v
}

/// A window's bit in the filter (Fibonacci hashing to 16 bits).
fn slot(packed: u128) -> usize {
    let folded = (packed as u64) ^ ((packed >> 64) as u64).rotate_left(29);
    (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) as usize
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_by_kind_and_line() {
        let text = "ok\nkey: sk-proj-abcdefghijklmnopqrstuvwx\nAuthorization: Bearer abcdefghijklmnopqrstuvwxyz012\nx sk-ant-api03-abcdefghijklmnopqrstuv";
        let found = scan(text);
        assert_eq!(
            found,
            vec![
                Found {
                    kind: "openai_key",
                    line: 2
                },
                Found {
                    kind: "bearer_token",
                    line: 3
                },
                Found {
                    kind: "anthropic_key",
                    line: 4
                },
            ]
        );
    }

    #[test]
    fn finds_google_keys() {
        let key = format!("AIza{}", "Sy0_a-B1c2D3e4F5g6H7i8J9k0L1m2N3o4P");
        assert_eq!(key.len(), 39);
        let found = scan(&format!("maps:\n  key: {key}\n"));
        assert_eq!(
            found,
            vec![Found {
                kind: "google_api_key",
                line: 2
            }]
        );
        assert!(!mask(&key).contains("Sy0_a-B1c2"));
        // Too short to be one.
        assert!(scan("AIzaSy0_a-B1c2D3").is_empty());
    }

    #[test]
    fn ignores_ordinary_text() {
        assert!(scan("Ask the user for the task-id; skip small talk.").is_empty());
    }

    /// An Azure OpenAI key: 32 hex digits, no prefix any detector knows.
    const AZURE: &str = "3f9a6c0e1b7d4a2f8e5c9b0d6a1f4e7c";

    #[test]
    fn a_configured_key_is_found_whole_in_part_and_in_any_case() {
        let s = Secrets::new([AZURE, "sk-test-PLANTEDKEY0123456789abcdefXYZ"]);
        assert!(scan(AZURE).is_empty(), "no detector knows the shape");
        let table: &[(String, &str)] = &[
            (format!("key {AZURE}."), "key [REDACTED:api_key]."),
            (
                format!("key {}", AZURE.to_uppercase()),
                "key [REDACTED:api_key]",
            ),
            // 12 characters from anywhere in the key; 11 are not enough.
            (format!("a {} b", &AZURE[..12]), "a [REDACTED:api_key] b"),
            (format!("a {} b", &AZURE[7..19]), "a [REDACTED:api_key] b"),
            (format!("a {} b", &AZURE[..11]), "a 3f9a6c0e1b7 b"),
            // Glued to other text, twice in a row, across two keys: one marker each run.
            (format!("x{AZURE}{AZURE}y"), "x[REDACTED:api_key]y"),
            (
                "sk-test-plantedkey0123 and sk-test-PLANTEDKEY0123456789abcdefXYZ".into(),
                "[REDACTED:api_key] and [REDACTED:api_key]",
            ),
            ("nothing to see".into(), "nothing to see"),
        ];
        for (input, expected) in table {
            let out = s.scrub(input);
            assert_eq!(out, *expected, "scrubbing {input:?}");
            assert_eq!(s.scrub(&out), out, "scrubbing {input:?} twice");
        }
        assert!(matches!(s.scrub("nothing to see"), Cow::Borrowed(_)));
    }

    #[test]
    fn short_keys_are_found_whole_and_placeholders_not_at_all() {
        let s = Secrets::new(["  abcdefghij  ", "ollama", ""]);
        assert_eq!(
            s.scrub("ABCDEFGHIJ abcdefghi"),
            "[REDACTED:api_key] abcdefghi"
        );
        assert_eq!(s.scrub("run ollama"), "run ollama");
        assert!(Secrets::new(["ollama", " "]).is_empty());
        assert!(Secrets::default().scrub(AZURE) == AZURE);
    }

    #[test]
    fn never_splits_a_character() {
        let key = "ключ-0123456789-ключ";
        let s = Secrets::new([key]);
        assert_eq!(s.scrub(&format!("é{key}é")), "é[REDACTED:api_key]é");
        // Windows are 12 bytes: `ч-01234567` is 11, so the `7` stays.
        assert_eq!(s.scrub("ключ-01234567"), "[REDACTED:api_key]7");
        assert_eq!(s.scrub("ééééééééééééééé"), "ééééééééééééééé");
    }

    #[test]
    fn never_formats_a_key() {
        let s = Secrets::new([AZURE]);
        assert_eq!(format!("{s:?}"), "(redacted)");
    }

    proptest::proptest! {
        /// Whatever surrounds it, no 12-character run of a key survives.
        #[test]
        fn no_window_of_a_key_survives(
            key in "[0-9A-Za-z_-]{12,48}",
            before in "\\PC{0,20}",
            after in "\\PC{0,20}",
            from in 0usize..36,
            upper in proptest::bool::ANY,
        ) {
            let s = Secrets::new([key.as_str()]);
            let from = from.min(key.len() - WINDOW);
            let mut part = key[from..].to_string();
            if upper {
                part = part.to_uppercase();
            }
            let text = format!("{before}{part}{after}");
            let out = s.scrub(&text);
            let lower = out.to_ascii_lowercase();
            let key = key.to_ascii_lowercase();
            for w in key.as_bytes().windows(WINDOW) {
                let w = std::str::from_utf8(w).unwrap();
                proptest::prop_assert!(!lower.contains(w), "{:?} survived in {:?}", w, out);
            }
            proptest::prop_assert!(out.contains(MARKER));
        }
    }
}
