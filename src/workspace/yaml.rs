//! Strict YAML loading with errors that name file, line and column.
//!
//! Every promptctl file is read into wire structs with `deny_unknown_fields`;
//! unknown keys are usually typos, so the error names the closest valid key.
//! The YAML parser caps alias expansion, so an alias bomb fails fast instead
//! of eating memory; nesting is bounded before the parser starts
//! ([`super::nesting`]), so a document a million brackets deep fails fast too.

use std::borrow::Cow;
use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::Error;

/// Parses `text` (read from `path`) into `T`, or an error naming file:line:column.
pub fn from_str<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, Error> {
    use super::nesting::{MAX_DEPTH, too_deep};
    if let Some((line, column)) = too_deep(text, MAX_DEPTH) {
        return Err(Error::invalid(format!(
            "`{}:{line}:{column}`: nesting deeper than {MAX_DEPTH} levels; refusing to parse",
            path.display()
        )));
    }
    serde_yaml::from_str(text).map_err(|e| parse_error(path, &e))
}

/// Reads and parses a YAML file.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T, Error> {
    let text = crate::error::read_input_string(path)?;
    from_str(path, &text)
}

/// Serialises a value to YAML.
pub fn to_string<T: serde::Serialize>(value: &T) -> String {
    serde_yaml::to_string(value).expect("promptctl's own types always serialise to YAML")
}

fn parse_error(path: &Path, err: &serde_yaml::Error) -> Error {
    let full = err.to_string();
    // The parser appends " at line N column M"; we put the position first.
    let message = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full.clone(),
    };
    let message = explain(&message);
    let position = match err.location() {
        Some(loc) => format!("{}:{}:{}", path.display(), loc.line(), loc.column()),
        None => path.display().to_string(),
    };
    let mut error = Error::invalid(format!("`{position}`: {message}"));
    if let Some(hint) = did_you_mean(&message) {
        error = error.with_hint(hint);
    }
    error
}

/// Makes the parser's terse messages say what to do.
fn explain(message: &str) -> String {
    if message.contains("repetition limit exceeded") {
        return "too many alias expansions (is this an alias bomb?); refusing to expand".into();
    }
    if message.contains("recursion limit exceeded") {
        return format!(
            "nesting deeper than {} levels; refusing to parse",
            super::nesting::MAX_DEPTH
        );
    }
    message.to_string()
}

/// For "unknown field `x`, expected one of `a`, `b`", suggests the closest key.
fn did_you_mean(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1)?;
    let (unknown, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let best = closest(unknown, expected.iter().copied())?;
    Some(format!("did you mean `{best}`?"))
}

/// The candidate closest to `word`, if any is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The 1-based line of the first line in `text` containing `needle`, for
/// errors found after parsing (a bad `file:` reference, say). Comment lines
/// are skipped: the `yaml-language-server` line names a `….schema.json`
/// that would otherwise match a search for `schema.json:`.
pub fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines()
        .position(|l| !l.trim_start().starts_with('#') && l.contains(needle))
        .map(|i| i + 1)
}

/// How yaml-language-server (VS Code, Neovim, Helix, Zed, …) is told a
/// file's schema. To YAML it is a comment.
pub const MODELINE_PREFIX: &str = "# yaml-language-server: $schema=";

/// `bytes` without a first line that tells editors the file's schema
/// (`# yaml-language-server: $schema=…`): to YAML it is a comment, and it
/// is not content to compare.
pub fn without_modeline(bytes: &[u8]) -> &[u8] {
    if !bytes.starts_with(MODELINE_PREFIX.as_bytes()) {
        return bytes;
    }
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => &bytes[i + 1..],
        None => &[],
    }
}

/// `bytes` with the schema path on its first line rebased for a copy that
/// sits in a folder below the original: `up` (`"../../"`) leads from the
/// copy's folder back to the original's. A relative path gets `up` in
/// front, so the copy's line names the same file; a URL, an absolute path,
/// or bytes without the line are returned as they are.
pub fn rebase_modeline<'a>(bytes: &'a [u8], up: &str) -> Cow<'a, [u8]> {
    let Some(rest) = bytes.strip_prefix(MODELINE_PREFIX.as_bytes()) else {
        return Cow::Borrowed(bytes);
    };
    let end = rest
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .unwrap_or(rest.len());
    let path = &rest[..end];
    if path.is_empty() || path.starts_with(b"/") || path.contains(&b':') {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() + up.len());
    out.extend_from_slice(MODELINE_PREFIX.as_bytes());
    out.extend_from_slice(up.as_bytes());
    out.extend_from_slice(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_key() {
        let msg = "model: unknown field `temprature`, expected one of `provider`, `name`, `temperature`, `max_tokens`";
        assert_eq!(
            did_you_mean(msg).as_deref(),
            Some("did you mean `temperature`?")
        );
    }

    #[test]
    fn no_suggestion_for_a_distant_key() {
        let msg = "unknown field `zzz`, expected one of `provider`, `name`";
        assert_eq!(did_you_mean(msg), None);
    }

    #[test]
    fn line_of_skips_comments() {
        let text = "# yaml-language-server: $schema=../../schemas/prompt.schema.json\n\
                    output_schema: schema.json\n";
        assert_eq!(line_of(text, "schema.json"), Some(2));
        assert_eq!(line_of(text, "nowhere"), None);
    }

    #[test]
    fn modeline_is_not_content() {
        let line = "# yaml-language-server: $schema=schemas/promptctl.schema.json\n";
        assert_eq!(
            without_modeline(format!("{line}a: 1\n").as_bytes()),
            b"a: 1\n"
        );
        assert_eq!(without_modeline(line.trim_end().as_bytes()), b"");
        // Only a first line, and only that comment.
        assert_eq!(without_modeline(b"# other\na: 1\n"), b"# other\na: 1\n");
        let later = format!("a: 1\n{line}");
        assert_eq!(without_modeline(later.as_bytes()), later.as_bytes());
    }

    #[test]
    fn a_rebased_modeline_names_the_same_file_from_further_down() {
        let up = "../../";
        let line = "# yaml-language-server: $schema=../../schemas/prompt.schema.json";
        for (before, after) in [
            (
                format!("{line}\nname: a\n"),
                "# yaml-language-server: $schema=../../../../schemas/prompt.schema.json\nname: a\n",
            ),
            (
                format!("{line}\r\nname: a\r\n"),
                "# yaml-language-server: $schema=../../../../schemas/prompt.schema.json\r\nname: a\r\n",
            ),
            (
                line.to_string(),
                "# yaml-language-server: $schema=../../../../schemas/prompt.schema.json",
            ),
            (
                "# yaml-language-server: $schema=s.json\n".into(),
                "# yaml-language-server: $schema=../../s.json\n",
            ),
        ] {
            let got = rebase_modeline(before.as_bytes(), up);
            assert_eq!(String::from_utf8_lossy(&got), after);
            // Still not content.
            assert_eq!(without_modeline(&got), without_modeline(before.as_bytes()));
        }
        for same in [
            "name: a\n",
            "# other\nname: a\n",
            "name: a\n# yaml-language-server: $schema=../x.json\n",
            "# yaml-language-server: $schema=https://example.test/p.json\nname: a\n",
            "# yaml-language-server: $schema=/abs/p.json\nname: a\n",
            "# yaml-language-server: $schema=\nname: a\n",
        ] {
            assert!(
                matches!(rebase_modeline(same.as_bytes(), up), Cow::Borrowed(b) if b == same.as_bytes()),
                "{same:?}"
            );
        }
    }

    #[test]
    fn alias_bomb_fails_fast() {
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n\
                    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n\
                    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
                    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n\
                    f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n\
                    g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n\
                    h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n\
                    i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
        let err = from_str::<serde_json::Value>(Path::new("bomb.yaml"), bomb).unwrap_err();
        assert!(err.message().contains("alias"), "{}", err.message());
    }
}
