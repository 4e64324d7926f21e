//! Exit statuses, and the one function that maps an error to its code.
//!
//! The codes are part of the product contract (SPEC §4) and identical for
//! every command; CI jobs branch on them. The design decision to know: an
//! expected "no" (a gate failed, verify found a mismatch, canary says hold)
//! is an [`ExitStatus`] that a command returns once its verdict is computed,
//! not an error; errors are for work that could not be done. Output is
//! written after the verdict, and what happens to it can only make a pass
//! worse (an output the user asked for that could not be written is 3),
//! never a "no" better: a broken pipe stops the output and keeps the verdict.
//! An error we cannot classify is a `3`, never a `0`.

use std::io::Write;
use std::process::ExitCode;

use super::output::Printer;
use crate::error::{Class, Error};

/// What a command answers, as the process's exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: success; every gate passed.
    Success,
    /// 1: a gate failed, or a check said no.
    Failed,
    /// 2: bad usage or invalid input.
    Invalid,
    /// 3: the work could not be completed.
    Incomplete,
    /// 4: integrity: a released version or evidence pack does not match.
    Integrity,
    /// 5: inconclusive: too little data to decide.
    Inconclusive,
    /// 130 (128 + SIGINT): the command was stopped by Ctrl-C; what it had
    /// done was saved, marked interrupted (`eval`).
    Interrupted,
    /// 143 (128 + SIGTERM): the same, stopped by SIGTERM.
    Terminated,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failed => 1,
            ExitStatus::Invalid => 2,
            ExitStatus::Incomplete => 3,
            ExitStatus::Integrity => 4,
            ExitStatus::Inconclusive => 5,
            ExitStatus::Interrupted => 130,
            ExitStatus::Terminated => 143,
        }
    }

    /// The word for the status, as verdict lines print it.
    pub fn label(self) -> &'static str {
        match self {
            ExitStatus::Success => "PASS",
            ExitStatus::Failed => "FAIL",
            ExitStatus::Invalid => "INVALID",
            ExitStatus::Incomplete => "INCOMPLETE",
            ExitStatus::Integrity => "INTEGRITY",
            ExitStatus::Inconclusive => "INCONCLUSIVE",
            ExitStatus::Interrupted | ExitStatus::Terminated => "INTERRUPTED",
        }
    }

    /// The status for an eval verdict's recorded exit code; a code it does
    /// not know is an integrity problem of the run file, never a pass.
    pub fn from_code(code: u8) -> ExitStatus {
        match code {
            0 => ExitStatus::Success,
            1 => ExitStatus::Failed,
            2 => ExitStatus::Invalid,
            3 => ExitStatus::Incomplete,
            5 => ExitStatus::Inconclusive,
            _ => ExitStatus::Integrity,
        }
    }

    /// The error class of a "no"; `None` for success.
    pub fn class(self) -> Option<Class> {
        match self {
            ExitStatus::Success => None,
            ExitStatus::Failed => Some(Class::Failed),
            ExitStatus::Invalid => Some(Class::Invalid),
            ExitStatus::Incomplete => Some(Class::Incomplete),
            ExitStatus::Integrity => Some(Class::Integrity),
            ExitStatus::Inconclusive => Some(Class::Inconclusive),
            // The work was not completed.
            ExitStatus::Interrupted | ExitStatus::Terminated => Some(Class::Incomplete),
        }
    }

    /// This status, or 3 when it is a pass and an output the user asked
    /// for could not be written: a failed write never makes a "no" better.
    pub fn with_outputs_written(self, written: bool) -> ExitStatus {
        match (self, written) {
            (ExitStatus::Success, false) => ExitStatus::Incomplete,
            (status, _) => status,
        }
    }

    /// Success, or the status of `class` when there is one.
    pub fn from_class(class: Option<Class>) -> ExitStatus {
        class.map_or(ExitStatus::Success, ExitStatus::from)
    }
}

impl From<Class> for ExitStatus {
    fn from(class: Class) -> ExitStatus {
        match class {
            Class::Failed => ExitStatus::Failed,
            Class::Invalid => ExitStatus::Invalid,
            Class::Incomplete => ExitStatus::Incomplete,
            Class::Integrity => ExitStatus::Integrity,
            Class::Inconclusive => ExitStatus::Inconclusive,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(status.code())
    }
}

/// The class of an error: the first classified error in its chain decides.
pub(crate) fn class_of(err: &anyhow::Error) -> Class {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Error>() {
            return e.class();
        }
        if cause.downcast_ref::<clap::Error>().is_some() {
            return Class::Invalid;
        }
    }
    Class::Incomplete
}

/// The process's exit status once a command has run: its verdict, made
/// worse (never better) by what happened to its output. A pass whose
/// stdout could not be written (other than a closed pipe, which only means
/// the reader has read enough) is 3.
pub(crate) fn finish(printer: &Printer, result: anyhow::Result<ExitStatus>) -> ExitCode {
    let status = match result {
        Ok(status) => status,
        Err(err) => return report(printer, &err),
    };
    if let Some(e) = printer.stdout_error() {
        let err = anyhow::Error::new(e).context("could not write the output to stdout");
        if status == ExitStatus::Success {
            return report(printer, &err);
        }
        // The "no" stands; say that its report was lost.
        printer.warn(&format!("{err:#}"));
    }
    status.into()
}

/// Prints `error: …`, each cause, and a hint, once, on stderr, and returns
/// the error's exit code.
pub(crate) fn report(printer: &Printer, err: &anyhow::Error) -> ExitCode {
    print_error(printer, err);
    ExitStatus::from(class_of(err)).into()
}

/// Prints `error: …`, each cause, and a hint, once, on stderr.
pub(crate) fn print_error(printer: &Printer, err: &anyhow::Error) {
    let mut out = String::new();
    let mut chain = err.chain();
    if let Some(top) = chain.next() {
        out.push_str(&format!("{}: {top}\n", printer.err_style_error("error")));
    }
    for cause in chain {
        out.push_str(&format!("  caused by: {cause}\n"));
    }
    if let Some(hint) = err
        .chain()
        .find_map(|c| c.downcast_ref::<Error>().and_then(Error::hint))
    {
        out.push_str(&format!("{}: {hint}\n", printer.err_style_hint("hint")));
    }
    let _ = std::io::stderr().write_all(out.as_bytes());
}

/// A command's "no" (a failed gate, a mismatch, a hold): printed on stderr
/// as `FAIL (exit 1): …` with its hint, and returned as the status. Not an
/// error: the command did its work, and this is its answer.
pub(crate) fn answer(printer: &Printer, no: &Error) -> ExitStatus {
    answer_as(printer, ExitStatus::from(no.class()), no)
}

/// [`answer`] with the status given: `INTERRUPTED (exit 130): …`.
pub(crate) fn answer_as(printer: &Printer, status: ExitStatus, no: &Error) -> ExitStatus {
    let mut out = format!(
        "{} (exit {}): {}\n",
        printer.err_style_error(status.label()),
        status.code(),
        no.message()
    );
    if let Some(hint) = no.hint() {
        out.push_str(&format!("{}: {hint}\n", printer.err_style_hint("hint")));
    }
    let _ = std::io::stderr().write_all(out.as_bytes());
    status
}
