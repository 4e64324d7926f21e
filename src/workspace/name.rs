//! Prompt names: `[a-z0-9][a-z0-9_-]{0,63}`.
//!
//! A name becomes a directory under `prompts/`, so it is checked before any
//! path is built from it: `..`, `/`, upper case and the empty string never
//! reach the file system.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A validated prompt name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    pub fn parse(s: &str) -> Result<Name, Error> {
        match check(s) {
            Ok(()) => Ok(Name(s.to_string())),
            Err(why) => Err(Error::invalid(format!("invalid prompt name `{s}`: {why}"))
                .with_hint("names match `[a-z0-9][a-z0-9_-]{0,63}`, e.g. `support_bot`")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check(s: &str) -> Result<(), &'static str> {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return Err("it is empty");
    };
    if s.len() > 64 {
        return Err("it is longer than 64 characters");
    }
    if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
        return Err("it must start with a lower-case letter or digit");
    }
    if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-') {
        return Err("only lower-case letters, digits, `_` and `-` are allowed");
    }
    Ok(())
}

/// By hand: a string with the pattern that [`Name::parse`] checks.
impl schemars::JsonSchema for Name {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Name".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A prompt name: `[a-z0-9][a-z0-9_-]{0,63}`, e.g. `support_bot`.",
            "type": "string",
            "pattern": PATTERN,
        })
    }
}

/// The names [`Name::parse`] accepts, as a regular expression.
pub(crate) const PATTERN: &str = "^[a-z0-9][a-z0-9_-]{0,63}$";

impl TryFrom<String> for Name {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Name::parse(&s)
    }
}

impl From<Name> for String {
    fn from(n: Name) -> String {
        n.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects() {
        for ok in ["a", "support_bot", "0-x", &"a".repeat(64)] {
            assert!(Name::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "A",
            "../x",
            "a/b",
            "_a",
            "-a",
            "a.b",
            "é",
            &"a".repeat(65),
            "..",
        ] {
            assert!(Name::parse(bad).is_err(), "{bad}");
        }
    }
}

/// `name` (the draft) or `name@X.Y.Z` (a released version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PromptRef {
    pub name: Name,
    pub version: Option<semver::Version>,
}

impl PromptRef {
    pub(crate) fn parse(s: &str) -> Result<PromptRef, Error> {
        let (name, version) = match s.split_once('@') {
            Some((n, v)) => (n, Some(parse_version(v)?)),
            None => (s, None),
        };
        Ok(PromptRef {
            name: Name::parse(name)?,
            version,
        })
    }
}

impl fmt::Display for PromptRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}@{v}", self.name),
            None => write!(f, "{} (draft)", self.name),
        }
    }
}

/// Parses `X.Y.Z`, naming the bad value.
pub(crate) fn parse_version(s: &str) -> Result<semver::Version, Error> {
    semver::Version::parse(s.strip_prefix('v').unwrap_or(s)).map_err(|e| {
        Error::invalid(format!("invalid version `{s}`: {e}"))
            .with_hint("versions look like `1.2.0`")
    })
}
