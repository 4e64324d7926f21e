//! The domain error type and its class.
//!
//! Every error a domain module returns carries a [`Class`], which decides the
//! process exit code in one place (`crate::cli::exit`). Messages are lower case, put
//! paths and values in backticks, and name the file, line and field when the
//! error comes from user input. A [`Error::hint`] tells the user the next step.

use std::fmt;

/// What kind of "no" an error is. The discriminant is the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// A gate failed or a check found a problem: the answer is "no" (exit 1).
    Failed = 1,
    /// Bad usage or invalid input (exit 2).
    Invalid = 2,
    /// The work could not be completed (exit 3).
    Incomplete = 3,
    /// A released version or evidence pack does not match its hashes (exit 4).
    Integrity = 4,
    /// Too little data to decide (exit 5).
    Inconclusive = 5,
}

/// A domain error: a message, its class and an optional hint.
#[derive(Debug)]
pub struct Error {
    class: Class,
    message: String,
    hint: Option<String>,
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(class: Class, message: impl Into<String>) -> Self {
        Error {
            class,
            message: message.into(),
            hint: None,
        }
    }

    /// Invalid input or usage (exit 2).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Class::Invalid, message)
    }

    /// An integrity failure (exit 4).
    pub fn integrity(message: impl Into<String>) -> Self {
        Self::new(Class::Integrity, message)
    }

    /// The work could not be completed (exit 3).
    pub fn incomplete(message: impl Into<String>) -> Self {
        Self::new(Class::Incomplete, message)
    }

    /// A check said "no" (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(Class::Failed, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn class(&self) -> Class {
        self.class
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Reads a file the user gave us, naming it when that fails (exit 2).
pub(crate) fn read_input(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| io_invalid(path, &e))
}

/// Reads a UTF-8 file the user gave us, naming it when that fails (exit 2).
pub(crate) fn read_input_string(path: &std::path::Path) -> Result<String> {
    let bytes = read_input(path)?;
    String::from_utf8(bytes)
        .map_err(|e| not_utf8(&path.display().to_string(), e.as_bytes(), &e.utf8_error()))
}

/// A file (called `label` in the message) that is not UTF-8: the line and
/// column of the first bad byte, and its offset from the start of the file.
pub(crate) fn not_utf8(label: &str, bytes: &[u8], err: &std::str::Utf8Error) -> Error {
    not_utf8_in(label, bytes, err, 1, 0)
}

/// As [`not_utf8`], for `bytes` that start at line `first_line` and byte
/// `offset` of the file (one line of a JSONL file, say).
pub(crate) fn not_utf8_in(
    label: &str,
    bytes: &[u8],
    err: &std::str::Utf8Error,
    first_line: usize,
    offset: u64,
) -> Error {
    let good = &bytes[..err.valid_up_to()];
    let line = first_line + good.iter().filter(|&&b| b == b'\n').count();
    let start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    // The prefix is valid UTF-8 by definition; columns count characters.
    let column = std::str::from_utf8(&good[start..]).map_or(1, |s| s.chars().count() + 1);
    Error::invalid(format!(
        "`{label}:{line}:{column}`: not valid UTF-8 (byte offset {})",
        offset + err.valid_up_to() as u64
    ))
    .with_hint("save the file as UTF-8")
}

/// An I/O error on a file the user is responsible for, as invalid input.
pub(crate) fn io_invalid(path: &std::path::Path, e: &std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::invalid(format!("`{}` does not exist", path.display()))
        }
        _ => Error::invalid(format!("cannot read `{}`: {e}", path.display())),
    }
}

/// An I/O error while writing our own state: the work could not be completed.
pub(crate) fn io_incomplete(path: &std::path::Path, e: &std::io::Error) -> Error {
    Error::incomplete(format!("cannot write `{}`: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(invalid_from_utf8)] // the point of the test
    fn not_utf8_says_where() {
        let bytes = b"a: 1\nb: caf\xc3\xa9 \xff\n";
        let err = std::str::from_utf8(bytes).unwrap_err();
        let e = not_utf8("f.yaml", bytes, &err);
        assert_eq!(
            e.message(),
            "`f.yaml:2:9`: not valid UTF-8 (byte offset 14)"
        );
        assert_eq!(e.class(), Class::Invalid);
        // One line of a longer file.
        let line = b"{\"id\": \"\xe9\"}";
        let err = std::str::from_utf8(line).unwrap_err();
        let e = not_utf8_in("c.jsonl", line, &err, 7, 100);
        assert_eq!(
            e.message(),
            "`c.jsonl:7:9`: not valid UTF-8 (byte offset 108)"
        );
    }
}
