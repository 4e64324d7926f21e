//! Strict YAML loading with errors that name file, line and column.
//!
//! Every promptctl file is read into wire structs with `deny_unknown_fields`;
//! unknown keys are usually typos, so the error names the closest valid key.
//! The YAML parser caps alias expansion, so an alias bomb fails fast instead
//! of eating memory; nesting is bounded before the parser starts
//! ([`super::nesting`]), so a document a million brackets deep fails fast too.
//!
//! Positions come from the parser, never from searching the text: a key
//! that a mapping repeats (which serde would report at the mapping's first
//! line, or silently keep the last of for a map) and a place named after
//! parsing ([`line_at`]) are found by walking the document again with a
//! visitor that stops at the node sought, so the parser's error carries
//! that node's line and column.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, Visitor};

use crate::error::Error;
use crate::workspace::text::strip_bom;

/// Parses `text` (read from `path`) into `T`, or an error naming file:line:column.
/// A leading byte-order mark is skipped; a key repeated in a mapping is an
/// error at its second occurrence.
pub(crate) fn from_str<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, Error> {
    use super::nesting::{MAX_DEPTH, too_deep};
    let text = strip_bom(text);
    if let Some((line, column)) = too_deep(text, MAX_DEPTH) {
        return Err(Error::invalid(format!(
            "`{}:{line}:{column}`: nesting deeper than {MAX_DEPTH} levels; refusing to parse",
            path.display()
        )));
    }
    // The second walk runs only where a repeated key may be: after a parse
    // that succeeded (a map keeps the last of two keys without a word), or
    // failed on a repeated struct field. Input that fails otherwise (too
    // deep, say) is parsed once.
    match serde_yaml::from_str(text) {
        Ok(value) => match duplicate_key(text) {
            Some(dup) => Err(dup.error(path)),
            None => Ok(value),
        },
        // serde's "duplicate field `x`", placed at the mapping's first line.
        Err(e) if e.to_string().contains("duplicate ") => match duplicate_key(text) {
            Some(dup) => Err(dup.error(path)),
            None => Err(parse_error(path, &e)),
        },
        Err(e) => Err(parse_error(path, &e)),
    }
}

/// Reads and parses a YAML file.
pub(crate) fn load<T: DeserializeOwned>(path: &Path) -> Result<T, Error> {
    let text = crate::error::read_input_string(path)?;
    from_str(path, &text)
}

/// Serialises a value to YAML.
pub(crate) fn to_string<T: serde::Serialize>(value: &T) -> String {
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
        Some(loc) => {
            format!("{}:{}:{}", path.display(), loc.line(), loc.column())
        }
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
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The 1-based line of the node at `path` in the YAML document `text`, for
/// errors found after parsing (a bad `file:` reference, say). Each step of
/// `path` is a mapping key, or a sequence index in decimal; where the last
/// step is a key, the line is the key's. `None` when the document does not
/// parse or has no such node.
///
/// ```text
/// line_at(text, &["messages", "0", "file"])
/// ```
pub(crate) fn line_at(text: &str, path: &[&str]) -> Option<usize> {
    position(text, path).map(|(line, _)| line)
}

/// The 1-based line and column of the node at `path` (see [`line_at`]).
pub(crate) fn position(text: &str, path: &[&str]) -> Option<(usize, usize)> {
    Walk::new(Goal::Node(path)).run(strip_bom(text))
}

/// A key that a mapping holds twice.
struct Duplicate {
    /// The mapping, from the root (empty for the top level).
    at: Vec<Step>,
    key: String,
    /// The line and column of the second occurrence.
    second: (usize, usize),
    /// The line and column of the first.
    first: Option<(usize, usize)>,
}

impl Duplicate {
    fn error(&self, path: &Path) -> Error {
        let (line, column) = self.second;
        let within = if self.at.is_empty() {
            String::new()
        } else {
            format!("{}: ", Steps(&self.at))
        };
        let first = match self.first {
            Some((l, c)) if l == line => format!(" (first at column {c})"),
            Some((l, _)) => format!(" (first at line {l})"),
            None => String::new(),
        };
        Error::invalid(format!(
            "`{}:{line}:{column}`: {within}key `{}` appears twice{first}",
            path.display(),
            self.key
        ))
        .with_hint("a key may appear once in a mapping: delete or rename one of them")
    }
}

/// The first key repeated within one mapping of `text`, if the document
/// parses that far.
fn duplicate_key(text: &str) -> Option<Duplicate> {
    let walk = Walk::new(Goal::Duplicate);
    let second = walk.run(text)?;
    let (at, key) = walk.found.into_inner()?;
    let mut steps: Vec<String> = at.iter().map(Step::to_string).collect();
    steps.push(key.clone());
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    // The walk for a node stops at the first key that matches: the first.
    let first = position(text, &steps);
    Some(Duplicate {
        at,
        key,
        second,
        first,
    })
}

/// One step from the root of a document to a node.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

impl Step {
    fn is(&self, s: &str) -> bool {
        match self {
            Step::Key(k) => k == s,
            Step::Index(i) => s.parse() == Ok(*i),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Key(k) => f.write_str(k),
            Step::Index(i) => write!(f, "{i}"),
        }
    }
}

/// A path as the parser's own messages write it: `messages[0].file`.
struct Steps<'a>(&'a [Step]);

impl fmt::Display for Steps<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(k) if i == 0 => f.write_str(k)?,
                Step::Key(k) => write!(f, ".{k}")?,
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// What a [`Walk`] stops at.
enum Goal<'p> {
    /// The first key a mapping repeats.
    Duplicate,
    /// The node at this path; for a last step that is a key, the key.
    Node(&'p [&'p str]),
}

/// One pass over a document that stops, with an error the parser places,
/// at what it looks for. Keys that are not scalars are never compared.
struct Walk<'p> {
    goal: Goal<'p>,
    /// The path from the root to the node being read.
    at: RefCell<Vec<Step>>,
    /// Whether the walk stopped at its goal (any other error is the
    /// document's, reported by the real parse).
    stopped: Cell<bool>,
    /// For [`Goal::Duplicate`]: the mapping and the repeated key.
    found: RefCell<Option<(Vec<Step>, String)>>,
}

impl<'p> Walk<'p> {
    fn new(goal: Goal<'p>) -> Self {
        Walk {
            goal,
            at: RefCell::new(Vec::new()),
            stopped: Cell::new(false),
            found: RefCell::new(None),
        }
    }

    /// Where the walk stopped, or `None` if it did not.
    fn run(&self, text: &str) -> Option<(usize, usize)> {
        match Node(self).deserialize(serde_yaml::Deserializer::from_str(text)) {
            Err(e) if self.stopped.get() => e.location().map(|l| (l.line(), l.column())),
            _ => None,
        }
    }

    fn stop<E: de::Error>(&self) -> E {
        self.stopped.set(true);
        E::custom("stopped at the node sought")
    }

    /// Whether the node being read (or, given `key`, that key of the
    /// mapping being read) is the goal's.
    fn at_goal(&self, key: Option<&str>) -> bool {
        let Goal::Node(path) = self.goal else {
            return false;
        };
        let parent = match key {
            Some(k) => match path.split_last() {
                Some((last, parent)) if *last == k => parent,
                _ => return false,
            },
            None => path,
        };
        let at = self.at.borrow();
        parent.len() == at.len() && at.iter().zip(parent).all(|(a, p)| a.is(p))
    }
}

/// Reads a node, descending into sequences and mappings.
struct Node<'w, 'p>(&'w Walk<'p>);

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.0.at_goal(None) {
            // Every visit fails, and the parser places the error at this
            // node's start.
            self.0.stopped.set(true);
            return d.deserialize_any(Stop);
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for i in 0.. {
            self.0.at.borrow_mut().push(Step::Index(i));
            let more = seq.next_element_seed(Node(self.0));
            self.0.at.borrow_mut().pop();
            if more?.is_none() {
                break;
            }
        }
        Ok(())
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key_seed(Key {
            walk: self.0,
            seen: &mut seen,
        })? {
            // A key that is not a scalar gets a name no path step can have.
            let step = Step::Key(key.unwrap_or_else(|| "\0".into()));
            self.0.at.borrow_mut().push(step);
            let value = map.next_value_seed(Node(self.0));
            self.0.at.borrow_mut().pop();
            value?;
        }
        Ok(())
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        // A tagged node (`!tag value`): read the value.
        let (_, variant) = data.variant::<IgnoredAny>()?;
        de::VariantAccess::newtype_variant_seed(variant, Node(self.0))
    }
}

/// Reads a mapping key: its text if it is a scalar, checked against the goal.
struct Key<'w, 'p, 's> {
    walk: &'w Walk<'p>,
    /// The keys of this mapping read so far.
    seen: &'s mut HashSet<String>,
}

impl Key<'_, '_, '_> {
    fn check<E: de::Error>(self, key: String) -> Result<Option<String>, E> {
        let w = self.walk;
        let stop = match w.goal {
            Goal::Node(_) => w.at_goal(Some(&key)),
            Goal::Duplicate if self.seen.contains(&key) => {
                *w.found.borrow_mut() = Some((w.at.borrow().clone(), key.clone()));
                true
            }
            Goal::Duplicate => {
                self.seen.insert(key.clone());
                false
            }
        };
        if stop {
            return Err(w.stop());
        }
        Ok(Some(key))
    }
}

impl<'de> DeserializeSeed<'de> for Key<'_, '_, '_> {
    type Value = Option<String>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Key<'_, '_, '_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<String>, E> {
        self.check(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<String>, E> {
        self.check(v.to_string())
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Option<String>, E> {
        self.check(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<String>, E> {
        self.check(v.to_string())
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Option<String>, E> {
        self.check(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<String>, E> {
        self.check(v.to_string())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<String>, E> {
        self.check(v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
        self.check("null".into())
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Option<String>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// A visitor that refuses every node (each `visit_*` keeps its failing
/// default), so the parser reports where the node is.
struct Stop;

impl Visitor<'_> for Stop {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nothing: the walk stops here")
    }
}

/// How yaml-language-server (VS Code, Neovim, Helix, Zed, …) is told a
/// file's schema. To YAML it is a comment.
pub(crate) const MODELINE_PREFIX: &str = "# yaml-language-server: $schema=";

/// `bytes` without a first line that tells editors the file's schema
/// (`# yaml-language-server: $schema=…`), and the byte-order mark before
/// it if any: to YAML they are a comment and an encoding mark, and they
/// are not content to compare.
pub(crate) fn without_modeline(bytes: &[u8]) -> &[u8] {
    let body = crate::workspace::text::strip_bom_bytes(bytes);
    if !body.starts_with(MODELINE_PREFIX.as_bytes()) {
        return bytes;
    }
    match body.iter().position(|&b| b == b'\n') {
        Some(i) => &body[i + 1..],
        None => &[],
    }
}

/// `bytes` with the schema path on its first line rebased for a copy that
/// sits in a folder below the original: `up` (`"../../"`) leads from the
/// copy's folder back to the original's. A relative path gets `up` in
/// front, so the copy's line names the same file; a URL, an absolute path,
/// or bytes without the line are returned as they are. A byte-order mark
/// before the line is kept.
pub(crate) fn rebase_modeline<'a>(bytes: &'a [u8], up: &str) -> Cow<'a, [u8]> {
    let body = crate::workspace::text::strip_bom_bytes(bytes);
    let bom = &bytes[..bytes.len() - body.len()];
    let Some(rest) = body.strip_prefix(MODELINE_PREFIX.as_bytes()) else {
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
    out.extend_from_slice(bom);
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
    fn line_at_finds_the_node_not_the_text() {
        let text = "# yaml-language-server: $schema=../../schemas/prompt.schema.json\n\
                    description: \"uses output_schema: schema.json and provider\"\n\
                    model: { name: m, provider: openai }\n\
                    messages:\n\
                    \x20 - { role: system, file: a.md }\n\
                    \x20 - role: user\n\
                    \x20   file: schema.json\n\
                    output_schema: schema.json\n\
                    variables:\n\
                    \x20 question:\n\
                    \x20   type: string\n";
        for (path, want) in [
            (&["output_schema"][..], Some((8, 1))),
            (&["model", "provider"], Some((3, 19))),
            (&["messages", "0", "file"], Some((5, 21))),
            (&["messages", "1", "file"], Some((7, 5))),
            (&["messages", "1"], Some((6, 5))),
            (&["variables", "question"], Some((10, 3))),
            (&["variables", "answer"], None),
            (&["messages", "2"], None),
            (&["nowhere"], None),
        ] {
            assert_eq!(position(text, path), want, "{path:?}");
        }
        assert_eq!(line_at(text, &["output_schema"]), Some(8));
        assert_eq!(line_at("- a\n", &["a"]), None);
        assert_eq!(line_at("\u{feff}a: 1\nb: 2\n", &["b"]), Some(2));
    }

    #[test]
    fn a_repeated_key_is_placed_at_its_second_occurrence() {
        let err = |text: &str| {
            from_str::<serde_json::Value>(Path::new("f.yaml"), text)
                .unwrap_err()
                .message()
                .to_string()
        };
        assert_eq!(
            err("a: 1\nb: 2\na: 3\n"),
            "`f.yaml:3:1`: key `a` appears twice (first at line 1)"
        );
        assert_eq!(
            err("m:\n  x: 1\n  y: 2\n  x: 3\n"),
            "`f.yaml:4:3`: m: key `x` appears twice (first at line 2)"
        );
        assert_eq!(
            err("l:\n  - { k: 1, k: 2 }\n"),
            "`f.yaml:2:13`: l[0]: key `k` appears twice (first at column 7)"
        );
        // In a struct, serde would place it at the mapping's first line.
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct S {
            a: u8,
            b: u8,
        }
        let e = from_str::<S>(Path::new("f.yaml"), "# c\na: 1\nb: 2\na: 1\n").unwrap_err();
        assert!(
            e.message().starts_with("`f.yaml:4:1`: key `a`"),
            "{}",
            e.message()
        );
        // The same key in different mappings, and equal values, are fine.
        from_str::<serde_json::Value>(Path::new("f.yaml"), "a: { x: 1 }\nb: { x: 1 }\nc: [x, x]\n")
            .unwrap();
        // Through an alias, a mapping is read twice but holds each key once.
        from_str::<serde_json::Value>(Path::new("f.yaml"), "a: &m { x: 1 }\nb: *m\n").unwrap();
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let v: serde_json::Value = from_str(Path::new("f.yaml"), "\u{feff}a: 1\n").unwrap();
        assert_eq!(v, serde_json::json!({ "a": 1 }));
        let e =
            from_str::<serde_json::Value>(Path::new("f.yaml"), "\u{feff}a: 1\na: 2\n").unwrap_err();
        assert!(e.message().starts_with("`f.yaml:2:1`"), "{}", e.message());
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
        // After a byte-order mark, the line (and the mark) are not content either.
        assert_eq!(
            without_modeline(format!("\u{feff}{line}a: 1\n").as_bytes()),
            b"a: 1\n"
        );
        assert_eq!(
            without_modeline("\u{feff}a: 1\n".as_bytes()),
            "\u{feff}a: 1\n".as_bytes()
        );
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
            (
                format!("\u{feff}{line}\nname: a\n"),
                "\u{feff}# yaml-language-server: $schema=../../../../schemas/prompt.schema.json\nname: a\n",
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
