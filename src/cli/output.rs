//! The one place that writes to stdout and stderr.
//!
//! stdout carries data (text or `--json`), stderr carries diagnostics. Colour
//! is decided per stream: `--color` beats `NO_COLOR`, which beats terminal
//! detection, so piping into `jq` or a file never gets escape codes.
//!
//! Writing never fails a command: the verdict is computed before output is
//! written, and a write that fails stops further output to that stream and
//! is remembered. A closed pipe (`| head -1`) is the reader saying it has
//! enough and changes nothing; any other failure of stdout turns a pass
//! into exit 3 ([`super::exit::finish`]), never a "no" into a "yes".

use std::io::{ErrorKind, IsTerminal, Write};
use std::sync::Mutex;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Writes data to stdout and diagnostics to stderr, with the colour decided
/// once; owns the progress bar.
#[derive(Debug)]
pub(crate) struct Printer {
    pub json: bool,
    /// `--quiet`: no status lines and no progress bar; data, warnings and
    /// errors are still written.
    pub quiet: bool,
    color_out: bool,
    color_err: bool,
    stdout: Mutex<StreamState>,
}

/// What became of stdout so far.
#[derive(Debug, Default)]
enum StreamState {
    #[default]
    Open,
    /// The reader went away: output stops, the verdict stands.
    Closed,
    /// A write failed (a full disk, say): output stops, a pass becomes 3.
    Failed(std::io::Error),
}

pub(crate) const RED: Style = AnsiColor::Red.on_default();
pub(crate) const GREEN: Style = AnsiColor::Green.on_default();
pub(crate) const YELLOW: Style = AnsiColor::Yellow.on_default();
pub(crate) const CYAN: Style = AnsiColor::Cyan.on_default();
pub(crate) const BOLD: Style = Style::new().bold();
pub(crate) const DIM: Style = Style::new().dimmed();

impl Printer {
    pub(crate) fn new(choice: ColorChoice, json: bool, quiet: bool) -> Self {
        let no_color =
            std::env::var_os(crate::workspace::env::NO_COLOR).is_some_and(|v| !v.is_empty());
        let decide = |is_tty: bool| match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !no_color && is_tty,
        };
        Printer {
            json,
            quiet,
            color_out: decide(std::io::stdout().is_terminal()),
            color_err: decide(std::io::stderr().is_terminal()),
            stdout: Mutex::new(StreamState::Open),
        }
    }

    /// Writes data to stdout. After a failed write nothing more is written;
    /// the failure is kept for the exit status.
    pub(crate) fn out(&self, text: &str) {
        let mut state = self.stdout.lock().unwrap_or_else(|e| e.into_inner());
        if !matches!(*state, StreamState::Open) {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            *state = match e.kind() {
                ErrorKind::BrokenPipe => StreamState::Closed,
                _ => StreamState::Failed(e),
            };
        }
    }

    /// Writes a value as pretty JSON (and a newline) to stdout.
    pub(crate) fn json<T: Serialize + ?Sized>(&self, value: &T) {
        match serde_json::to_string_pretty(value) {
            Ok(mut text) => {
                text.push('\n');
                self.out(&text);
            }
            Err(e) => {
                *self.stdout.lock().unwrap_or_else(|e| e.into_inner()) =
                    StreamState::Failed(std::io::Error::other(e))
            }
        }
    }

    /// The error that stopped stdout, unless it was a closed pipe.
    pub(crate) fn stdout_error(&self) -> Option<std::io::Error> {
        let mut state = self.stdout.lock().unwrap_or_else(|e| e.into_inner());
        match std::mem::replace(&mut *state, StreamState::Closed) {
            StreamState::Failed(e) => Some(e),
            other => {
                *state = other;
                None
            }
        }
    }

    /// A progress bar on stderr: drawn only on a terminal, and never with
    /// `--quiet` or `--json`; otherwise hidden (its calls do nothing).
    pub(crate) fn progress(&self, template: &str) -> indicatif::ProgressBar {
        if self.quiet || self.json || !std::io::stderr().is_terminal() {
            return indicatif::ProgressBar::hidden();
        }
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template(template)
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        bar
    }

    /// Styles text for stdout.
    pub(crate) fn paint(&self, style: Style, text: &str) -> String {
        paint(self.color_out, style, text)
    }

    /// Styles text for stderr.
    pub(crate) fn paint_err(&self, style: Style, text: &str) -> String {
        paint(self.color_err, style, text)
    }

    /// A diagnostic line on stderr: `warning: …`.
    pub(crate) fn warn(&self, message: &str) {
        let label = self.paint_err(YELLOW.bold(), "warning");
        let _ = writeln!(std::io::stderr(), "{label}: {message}");
    }

    /// A progress or status line on stderr; none with `--quiet`.
    pub(crate) fn status(&self, message: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr(), "{message}");
        }
    }

    pub(crate) fn err_style_error(&self, text: &str) -> String {
        self.paint_err(RED.bold(), text)
    }

    pub(crate) fn err_style_hint(&self, text: &str) -> String {
        self.paint_err(CYAN.bold(), text)
    }
}

fn paint(enabled: bool, style: Style, text: &str) -> String {
    if enabled {
        format!("{style}{text}{style:#}")
    } else {
        text.to_string()
    }
}

/// A plain table with a header row, for human output.
pub(crate) fn table<I, R>(header: &[&str], rows: I) -> String
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = String>,
{
    table_wrapped(header, rows, &[])
}

/// A table whose columns `(index, width)` wrap at word boundaries, for
/// columns of prose that would otherwise make rows hundreds of characters wide.
pub(crate) fn table_wrapped<I, R>(header: &[&str], rows: I, wrap: &[(usize, usize)]) -> String
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = String>,
{
    let mut builder = tabled::builder::Builder::default();
    builder.push_record(header.iter().map(|s| s.to_string()));
    for row in rows {
        builder.push_record(row.into_iter().enumerate().map(|(i, cell)| {
            match wrap.iter().find(|(column, _)| *column == i) {
                Some(&(_, width)) => wrap_words(&cell, width),
                None => cell,
            }
        }));
    }
    let mut table = builder.build();
    table.with(tabled::settings::Style::sharp());
    let mut text = table.to_string();
    text.push('\n');
    text
}

/// Breaks `text` into lines of at most `width` characters at spaces; a
/// word longer than `width` gets a line of its own.
pub(crate) fn wrap_words(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_words_breaks_at_spaces() {
        assert_eq!(wrap_words("a bb ccc dddd", 6), "a bb\nccc\ndddd");
        assert_eq!(wrap_words("averylongword x", 4), "averylongword\nx");
        assert_eq!(wrap_words("", 4), "");
        assert_eq!(wrap_words("fits exactly", 12), "fits exactly");
    }
}
