//! Text files as promptctl reads them: a UTF-8 byte-order mark.
//!
//! Editors on Windows (Notepad, older Visual Studio, Excel's "CSV UTF-8")
//! start a file with U+FEFF. Where promptctl *parses* a file (YAML, JSON,
//! JSONL) the mark is skipped, so such a file reads as it looks. Where bytes
//! are *hashed* (a released file, a dataset's sha256) or text *is* the
//! prompt (a message file), nothing is stripped: a BOM there is part of what
//! the model is sent, and stripping it would change the digest of versions
//! already released.

/// U+FEFF as UTF-8.
pub(crate) const BOM: &str = "\u{feff}";

/// `text` without a leading byte-order mark.
pub(crate) fn strip_bom(text: &str) -> &str {
    text.strip_prefix(BOM).unwrap_or(text)
}

/// `bytes` without a leading UTF-8 byte-order mark.
pub(crate) fn strip_bom_bytes(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(BOM.as_bytes()).unwrap_or(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_leading_mark_is_stripped() {
        assert_eq!(strip_bom("\u{feff}a: 1\n"), "a: 1\n");
        assert_eq!(strip_bom("a: \u{feff}\n"), "a: \u{feff}\n");
        assert_eq!(strip_bom(""), "");
        assert_eq!(strip_bom_bytes(b"\xef\xbb\xbf{}"), b"{}");
        assert_eq!(strip_bom_bytes(b"\xef\xbb{}"), b"\xef\xbb{}");
    }
}
