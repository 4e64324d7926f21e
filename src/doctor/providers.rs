//! Providers: which ones the workspace needs, their key variables, and a
//! cheap authenticated request to each.

use super::check::Check;
use super::needs::Use;
use crate::error::{Class, Error};
use crate::provider::http::Probe;
use crate::workspace::config::ProviderType;
use crate::workspace::{CONFIG_FILE, Workspace};
use std::collections::BTreeMap;
use std::time::Duration;

pub(super) fn providers(
    ws: &Workspace,
    uses: &BTreeMap<String, Use>,
    opts: &Options,
) -> Result<Vec<Check>, Error> {
    let mut checks = Vec::new();
    let mut probes = Vec::new();
    for (name, used) in uses {
        let row = format!("provider {name}");
        let Some(p) = ws.config.providers.get(name) else {
            let mut hint = format!("define `{name}` under `providers:` in `{CONFIG_FILE}`");
            let names = ws.config.providers.keys().map(String::as_str);
            if let Some(best) = crate::workspace::yaml::closest(name, names) {
                hint = format!("did you mean `{best}`?");
            }
            checks.push(Check::fail(
                Class::Invalid,
                row,
                format!("not defined in `{CONFIG_FILE}`; {}", used.describe()),
                hint,
            ));
            continue;
        };
        let needed = used.needed();
        let network = matches!(
            p.kind,
            ProviderType::Openai
                | ProviderType::Anthropic
                | ProviderType::AzureOpenai
                | ProviderType::Gemini
        );
        if !network {
            let what = match p.kind {
                ProviderType::Replay => "offline: answers from each suite's cassette",
                _ => "offline: answers with the rendered prompt",
            };
            checks.push(Check::ok(row, format!("{what}; {}", used.describe())));
            continue;
        }
        if let Some(var) = &p.api_key_env {
            let key_row = format!("key {name}");
            if crate::provider::key::ApiKey::from_env(name, var).is_err() {
                checks.push(Check::bad(
                    needed,
                    Class::Incomplete,
                    key_row,
                    format!(
                        "`{var}` is not set, so `{name}` was not tried; {}",
                        used.describe()
                    ),
                    format!("export {var}=… (promptctl reads keys only from the environment)"),
                ));
                continue;
            }
            checks.push(Check::ok(key_row, format!("`{var}` is set")));
        }
        match crate::provider::HealthCheck::new(&ws.config, name, opts.timeout) {
            Ok(Some(check)) => probes.push((name.clone(), needed, check)),
            Ok(None) => {}
            Err(e) => checks.push(Check::bad(
                needed,
                e.class(),
                row,
                e.message(),
                e.hint().unwrap_or("check the provider in `promptctl.yaml`"),
            )),
        }
    }
    if probes.is_empty() {
        return Ok(checks);
    }
    // Every provider at once, so the whole report takes one timeout at most.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::incomplete(format!("cannot start the async runtime: {e}")))?;
    let results = runtime.block_on(futures_util::future::join_all(
        probes.iter().map(|(_, _, check)| check.run()),
    ));
    for ((name, needed, check), probe) in probes.iter().zip(results) {
        let p = &ws.config.providers[name];
        checks.push(probe_row(
            name,
            *needed,
            check.url(),
            p,
            probe,
            opts.timeout,
        ));
    }
    Ok(checks)
}

pub(super) fn probe_row(
    name: &str,
    needed: bool,
    url: &str,
    p: &crate::workspace::config::Provider,
    probe: Probe,
    timeout: Duration,
) -> Check {
    let row = format!("provider {name}");
    let get = format!("`GET {url}`");
    match probe {
        Probe::Ok { status, elapsed } => Check::ok(
            row,
            format!(
                "reachable: {get} answered {status} in {} ms",
                elapsed.as_millis()
            ),
        ),
        Probe::Unreachable(message) => {
            let message = if message.contains("timed out") {
                format!(
                    "unreachable: no answer within {} s ({message})",
                    timeout.as_secs_f64()
                )
            } else {
                format!("unreachable: {message}")
            };
            Check::bad(
                needed,
                Class::Incomplete,
                row,
                message,
                "is the server up, and is `base_url` right? (`doctor --timeout SECS` waits longer)",
            )
        }
        Probe::KeyRejected { status, message } => Check::bad(
            needed,
            Class::Incomplete,
            row,
            format!("key rejected ({status}): {message}"),
            match &p.api_key_env {
                Some(var) => format!("check the key in `{var}`: the server refused it"),
                None => format!("the server wants a key: set `api_key_env` for `{name}`"),
            },
        ),
        Probe::ServerError { status, message } => Check::bad(
            needed,
            Class::Incomplete,
            row,
            format!("server error ({status}): {message}"),
            "the provider is failing; try again later or check its status page",
        ),
        Probe::RateLimited(message) => Check::warn(
            row,
            format!("reachable, but rate-limited: {message}"),
            "the key works; the provider asks to slow down (`rps` in `promptctl.yaml`)",
        ),
        Probe::Unexpected { status, message } => Check::warn(
            row,
            format!("reachable, but {get} answered {status}: {message}"),
            "the server may not offer a model list; `eval` will tell whether chat calls work",
        ),
    }
}

/// What `doctor` may spend.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// For each provider's request, connecting included.
    pub timeout: Duration,
}
