//! A doctor's findings: one [`Check`] a row, with its status and the exit
//! class it stands for; the worst class decides the exit code.

use serde::Serialize;

use crate::error::Class;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Check {
    /// What was checked, e.g. `key openai`, `suite support`.
    pub check: String,
    pub status: Status,
    pub detail: String,
    /// The next step; set for every warning and failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// For a failure: what kind of "no" it is, and so the exit code.
    #[serde(skip)]
    pub class: Option<Class>,
}

impl Check {
    pub(super) fn ok(check: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            check: check.into(),
            status: Status::Ok,
            detail: detail.into(),
            hint: None,
            class: None,
        }
    }

    pub(super) fn warn(
        check: impl Into<String>,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) -> Check {
        Check {
            check: check.into(),
            status: Status::Warn,
            detail: detail.into(),
            hint: Some(hint.into()),
            class: None,
        }
    }

    pub(super) fn fail(
        class: Class,
        check: impl Into<String>,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) -> Check {
        Check {
            check: check.into(),
            status: Status::Fail,
            detail: detail.into(),
            hint: Some(hint.into()),
            class: Some(class),
        }
    }

    /// A failure when `needed`, else a warning.
    pub(super) fn bad(
        needed: bool,
        class: Class,
        check: impl Into<String>,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) -> Check {
        if needed {
            Check::fail(class, check, detail, hint)
        } else {
            Check::warn(check, detail, hint)
        }
    }
}

/// The class of the worst failure (4 over 3 over 2), or `None` when
/// nothing failed.
pub(crate) fn worst(checks: &[Check]) -> Option<Class> {
    checks.iter().filter_map(|c| c.class).max()
}

pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
