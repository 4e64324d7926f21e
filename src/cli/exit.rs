//! Exit codes, and the one function that maps an error to its code.
//!
//! The codes are part of the product contract (SPEC §4) and identical for
//! every command; CI jobs branch on them. An error we cannot classify is a
//! `3` ("could not complete"), never a `0`.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::output::Printer;
use crate::error::{Class, Error};

/// The exit-code table, as printed in `--help` and the README.
pub const TABLE: &str = "\
Exit codes:
  0  success; every gate passed
  1  a gate failed, or a check said no
  2  bad usage or invalid input (bad YAML, unknown key, bad version or name)
  3  the work could not be completed (provider down, auth refused, budget exhausted)
  4  integrity: a released version or evidence pack does not match its hashes
  5  inconclusive: too little data to decide";

/// The class of an error: the first classified error in its chain decides.
pub fn class_of(err: &anyhow::Error) -> Class {
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

pub fn code(class: Class) -> ExitCode {
    ExitCode::from(class as u8)
}

/// Prints `error: …`, each cause, and a hint, once, on stderr.
pub fn report(printer: &Printer, err: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(err) {
        return ExitCode::SUCCESS;
    }
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
    code(class_of(err))
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
