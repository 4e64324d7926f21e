//! `doctor`: is this workspace ready to work? One row per check, each ok,
//! warn or fail, with a hint for everything that is not ok.
//!
//! The design decision to know: a provider's problems are failures only when
//! something promptctl runs needs it: the provider a suite runs on, and its
//! judge unless the suite replays its cassette (as `eval` does). A provider
//! that only a prompt's `model.provider` names, with every suite overriding
//! it, gets warnings: the workspace works without it. Each failure carries the
//! class of error the command that hits it would exit with, so `doctor`
//! exits with the code CI would see later: 3 for a missing key or a provider
//! down, 2 for a broken file, 4 for a tampered version.

use crate::error::Error;
use crate::workspace::{CONFIG_FILE, Workspace};

mod check;
mod needs;
mod providers;
mod suites;
mod versions;

use check::plural;
pub(crate) use check::{Check, Status, worst};
use needs::{suites, uses};

pub(crate) use providers::Options;
use providers::providers;
use suites::suite_checks;
use versions::versions;

/// Runs every check. `ws` was loaded, so `promptctl.yaml` is valid.
pub(crate) fn run(ws: &Workspace, opts: &Options) -> Result<Vec<Check>, Error> {
    let mut checks = vec![config(ws)];
    let prompts = ws.prompt_names()?;
    let suites = suites(ws);
    let uses = uses(ws, &prompts, &suites);
    checks.extend(providers(ws, &uses, opts)?);
    for suite in &suites {
        checks.extend(suite_checks(ws, suite));
    }
    checks.extend(versions(ws, &prompts)?);
    Ok(checks)
}

fn config(ws: &Workspace) -> Check {
    let c = &ws.config;
    Check::ok(
        "config",
        format!(
            "`{CONFIG_FILE}`: {} provider{}, {} environment{}",
            c.providers.len(),
            plural(c.providers.len()),
            c.environments.len(),
            plural(c.environments.len())
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::providers::probe_row;
    use super::*;
    use crate::error::Class;
    use crate::provider::http::Probe;
    use crate::workspace::config::ProviderType;
    use std::time::Duration;

    fn provider(key: Option<&str>) -> crate::workspace::config::Provider {
        crate::workspace::config::Provider {
            kind: ProviderType::Openai,
            base_url: None,
            api_key_env: key.map(str::to_string),
            max_in_flight: None,
            rps: None,
            timeout_s: None,
            retries: None,
            circuit_breaker: None,
            max_retry_wait_s: None,
            max_response_bytes: None,
            api_version: None,
            deployment: None,
            deployments: None,
            api_key: None,
        }
    }

    #[test]
    fn probe_outcomes_by_need() {
        let cases = [
            (
                Probe::Ok {
                    status: 200,
                    elapsed: Duration::from_millis(3),
                },
                (Status::Ok, None),
                (Status::Ok, None),
            ),
            (
                Probe::Unreachable("could not connect".into()),
                (Status::Fail, Some(Class::Incomplete)),
                (Status::Warn, None),
            ),
            (
                Probe::KeyRejected {
                    status: 401,
                    message: "m".into(),
                },
                (Status::Fail, Some(Class::Incomplete)),
                (Status::Warn, None),
            ),
            (
                Probe::ServerError {
                    status: 503,
                    message: "m".into(),
                },
                (Status::Fail, Some(Class::Incomplete)),
                (Status::Warn, None),
            ),
            (
                Probe::RateLimited("m".into()),
                (Status::Warn, None),
                (Status::Warn, None),
            ),
            (
                Probe::Unexpected {
                    status: 404,
                    message: "m".into(),
                },
                (Status::Warn, None),
                (Status::Warn, None),
            ),
        ];
        for (probe, if_needed, if_not) in cases {
            for (needed, (status, class)) in [(true, if_needed), (false, if_not)] {
                let c = probe_row(
                    "o",
                    needed,
                    "http://x/models",
                    &provider(Some("K")),
                    probe.clone(),
                    Duration::from_secs(3),
                );
                assert_eq!(
                    (c.status, c.class),
                    (status, class),
                    "{probe:?} needed={needed}"
                );
                assert_eq!(c.hint.is_some(), status != Status::Ok, "{c:?}");
            }
        }
    }

    #[test]
    fn a_timeout_says_how_long_was_waited_and_a_401_without_a_key_says_so() {
        let c = probe_row(
            "o",
            true,
            "u",
            &provider(None),
            Probe::Unreachable("provider `o`: timed out: operation timed out".into()),
            Duration::from_millis(1500),
        );
        assert!(c.detail.contains("no answer within 1.5 s"), "{}", c.detail);
        let c = probe_row(
            "o",
            true,
            "u",
            &provider(None),
            Probe::KeyRejected {
                status: 401,
                message: "m".into(),
            },
            Duration::from_secs(3),
        );
        assert!(c.hint.unwrap().contains("set `api_key_env`"));
    }

    #[test]
    fn the_worst_failure_decides() {
        let f = |class| Check::fail(class, "c", "d", "h");
        assert_eq!(
            worst(&[Check::ok("a", "b"), Check::warn("a", "b", "c")]),
            None
        );
        assert_eq!(
            worst(&[f(Class::Invalid), f(Class::Incomplete)]),
            Some(Class::Incomplete)
        );
        assert_eq!(
            worst(&[f(Class::Integrity), f(Class::Incomplete), f(Class::Invalid)]),
            Some(Class::Integrity)
        );
    }
}
