//! `history.jsonl`: the history, one JSON event a line, of which
//! `releases.yaml` commits a prefix (see the parent module for the protocol).
//!
//! Readers take exactly the committed prefix and check it: as long as
//! committed and made of exactly the committed number of whole lines.
//! Writers only stat the file before appending, so a change that does not
//! need the history never reads it.

use std::io::Read;
use std::path::{Component, Path};

use super::state::{Event, HistoryFile, RELEASES_FILE};
use crate::error::Error;

/// One entry as a line of JSON. serde_json leaves U+0085, U+2028 and U+2029
/// unescaped, and some line readers (Python's `str.splitlines`, some
/// editors; YAML, where these lines used to live) break lines there, so
/// they are escaped: an entry is one line for every reader.
pub(super) fn line(e: &Event) -> String {
    let json = serde_json::to_string(e).expect("an event serialises");
    let mut line = json
        .replace('\u{85}', "\\u0085")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    line.push('\n');
    line
}

/// The committed history of the prompt in `dir` (`label` as errors name it).
pub(super) fn read(dir: &Path, label: &str, h: &HistoryFile) -> Result<Vec<Event>, Error> {
    let text = committed(dir, label, h)?;
    let file = format!("{label}/{}", h.file);
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| {
                Error::invalid(format!(
                    "`{file}:{}:{}`: history entry: {e}",
                    i + 1,
                    e.column()
                ))
            })
        })
        .collect()
}

/// The committed prefix: exactly `h.bytes` bytes holding `h.entries` whole
/// lines, or an integrity error.
pub(super) fn committed(dir: &Path, label: &str, h: &HistoryFile) -> Result<String, Error> {
    let path = dir.join(&h.file);
    let mut bytes = Vec::new();
    match std::fs::File::open(&path) {
        Ok(f) => {
            f.take(h.bytes)
                .read_to_end(&mut bytes)
                .map_err(|e| crate::error::io_invalid(&path, &e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if h.bytes > 0 {
                return Err(lost(label, h, None));
            }
        }
        Err(e) => return Err(crate::error::io_invalid(&path, &e)),
    }
    if (bytes.len() as u64) < h.bytes {
        return Err(lost(label, h, Some(bytes.len() as u64)));
    }
    let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
    if bytes.last().is_some_and(|&b| b != b'\n') || lines != h.entries {
        return Err(Error::integrity(format!(
            "`{label}/{}`: its first {} bytes hold {lines} whole line{}{}, but `{RELEASES_FILE}` commits {} entr{}: the committed history was changed",
            h.file,
            h.bytes,
            if lines == 1 { "" } else { "s" },
            if bytes.last().is_some_and(|&b| b != b'\n') { " and end mid-line" } else { "" },
            h.entries,
            if h.entries == 1 { "y" } else { "ies" },
        ))
        .with_hint(restore(label, h)));
    }
    String::from_utf8(bytes)
        .map_err(|_| Error::invalid(format!("`{label}/{}` is not valid UTF-8", h.file)))
}

/// Refuses to build on a history that lost committed bytes. A stat, not a
/// read: writers that do not need the history never read it.
pub(super) fn check_len(dir: &Path, label: &str, h: &HistoryFile) -> Result<(), Error> {
    if h.bytes == 0 {
        return Ok(());
    }
    let path = dir.join(&h.file);
    match std::fs::metadata(&path) {
        Ok(m) if m.len() >= h.bytes => Ok(()),
        Ok(m) => Err(lost(label, h, Some(m.len()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(lost(label, h, None)),
        Err(e) => Err(crate::error::io_invalid(&path, &e)),
    }
}

/// The history file must sit beside `releases.yaml`: a plain file name.
pub(super) fn check_name(file: &str, label: &str) -> Result<(), Error> {
    let mut parts = Path::new(file).components();
    let plain = matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(_)), None)
    ) && file != RELEASES_FILE
        && !file.contains('\\');
    if plain {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "`{label}`: `history.file` is `{file}`; it must name a file beside `{RELEASES_FILE}`, like `{}`",
        super::state::HISTORY_FILE
    )))
}

/// `have`: the file's length, `None` when it is missing.
fn lost(label: &str, h: &HistoryFile, have: Option<u64>) -> Error {
    let what = match have {
        None => "is missing".to_string(),
        Some(n) => format!("has {n} byte{}", if n == 1 { "" } else { "s" }),
    };
    Error::integrity(format!(
        "`{label}/{}` {what}, but `{RELEASES_FILE}` commits its first {} bytes ({} entries): committed history was lost",
        h.file, h.bytes, h.entries
    ))
    .with_hint(restore(label, h))
}

fn restore(label: &str, h: &HistoryFile) -> String {
    format!(
        "restore it from version control (`git checkout -- {label}/{}`); promptctl will not write on top of a damaged history",
        h.file
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_file_is_a_plain_name_beside_releases_yaml() {
        for ok in ["history.jsonl", "h.jsonl", ".history"] {
            assert!(check_name(ok, "r").is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../history.jsonl",
            "/etc/passwd",
            "a/b.jsonl",
            "./history.jsonl",
            "..",
            "releases.yaml",
            "a\\b",
        ] {
            assert!(check_name(bad, "r").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lines_escape_what_line_readers_break_on() {
        let e: Event = serde_json::from_str(
            r#"{"at":"x","env":"p","action":"promote","version":"1.0.0","by":"a","digest":"d","reason":"a\u2028b\u0085c\u2029d\ne"}"#,
        )
        .unwrap();
        let l = line(&e);
        assert_eq!(l.lines().count(), 1, "{l}");
        assert_eq!(l.split(['\u{85}', '\u{2028}', '\u{2029}']).count(), 1);
        assert!(l.ends_with("}\n"));
        assert_eq!(serde_json::from_str::<Event>(&l).unwrap(), e);
    }
}
