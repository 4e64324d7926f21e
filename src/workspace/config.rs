//! `promptctl.yaml`: strict wire structs, then checks across fields.
//!
//! Everything here is `deny_unknown_fields`; a literal `api_key:` gets its own
//! error, because keys live only in environment variables (SPEC §9), and so
//! does a `base_url` with a user or password in it, which the HTTP client
//! would otherwise send as Basic auth in place of the key.

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The whole of `promptctl.yaml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "promptctl.yaml",
    description = "The promptctl workspace config: model providers, prices, environments, redaction and canary thresholds. Unknown keys are errors."
)]
pub(crate) struct Config {
    /// Model providers, by the name that `prompt.yaml`'s `model.provider`,
    /// a suite's `provider` and a judge's `provider` use.
    #[serde(default)]
    pub providers: BTreeMap<String, Provider>,
    /// USD per million tokens, by model name, for cost and the `max_cost_usd`
    /// gate. A model without a price cannot satisfy a cost gate.
    #[serde(default)]
    pub prices: BTreeMap<String, Price>,
    /// Deployment environments that `promote` and `rollback` name, with an
    /// optional promotion path (`requires`).
    #[serde(default)]
    pub environments: BTreeMap<String, Environment>,
    /// How PII and secrets are redacted in everything promptctl writes.
    #[serde(default)]
    pub redaction: Redaction,
    /// Thresholds for `promptctl canary`: how much worse the canary may be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
}

/// The wire protocol of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ProviderType {
    /// Any OpenAI-compatible chat-completions endpoint.
    Openai,
    /// The Anthropic Messages API.
    Anthropic,
    /// Google's Gemini API (`generateContent`, the `x-goog-api-key` header).
    Gemini,
    /// Answers from the suite's recorded cassette.
    Replay,
    /// Returns the rendered prompt; no network.
    Echo,
    /// Azure OpenAI: OpenAI's chat completions at a resource's deployments,
    /// with the `api-key` header.
    AzureOpenai,
}

/// One model provider.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Provider {
    /// The wire protocol: `openai`, `anthropic`, `azure_openai`, `gemini`,
    /// `replay` or `echo`.
    #[serde(rename = "type")]
    pub kind: ProviderType,
    /// The API's address, e.g. `https://api.openai.com/v1` (the default for
    /// `openai`), `https://api.anthropic.com` (the default for `anthropic`)
    /// or `https://generativelanguage.googleapis.com` (the default for
    /// `gemini`); for `azure_openai`, required: the resource's endpoint, e.g.
    /// `https://myres.openai.azure.com`, without `/openai`. Credentials (`user:password@`) are refused: name the key's variable
    /// with `api_key_env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The name of the environment variable that holds the API key, e.g.
    /// `OPENAI_API_KEY`. The key itself never goes in a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// At most this many requests in flight at once (default 16; 1 to 10000).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_max_in_flight"
    )]
    #[schemars(range(min = 1, max = 10000))]
    pub max_in_flight: Option<u32>,
    /// At most this many requests per second (default: no limit; 0.001 to 10000).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_rps"
    )]
    #[schemars(range(min = 0.001, max = 10000))]
    pub rps: Option<f64>,
    /// Seconds one call may take before it is abandoned (default 60; above 0,
    /// at most 3600).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_timeout_s"
    )]
    #[schemars(extend("exclusiveMinimum" = 0, "maximum" = 3600))]
    pub timeout_s: Option<f64>,
    /// How often a 429, 5xx or dropped call is retried, with jittered
    /// exponential backoff (default 4; at most 100).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_retries"
    )]
    #[schemars(range(max = 100))]
    pub retries: Option<u32>,
    /// The circuit breaker: after this many calls in a row that got no
    /// answer (timed out, or could not connect), the provider is down and the
    /// run stops, every unfinished case an error (default 5; 1 to 10000).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_circuit_breaker"
    )]
    #[schemars(range(min = 1, max = 10000))]
    pub circuit_breaker: Option<u32>,
    /// The longest wait a `Retry-After` (or `retry-after-ms`) is obeyed for,
    /// in seconds; a longer one fails the case at once, without waiting
    /// (default 60; 0 to 3600).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_max_retry_wait_s"
    )]
    #[schemars(range(min = 0, max = 3600))]
    pub max_retry_wait_s: Option<f64>,
    /// The largest answer read, in bytes; a larger one fails its case and is
    /// never held in memory whole (default 8388608, 8 MiB; 1024 to
    /// 1073741824, 1 GiB).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_max_response_bytes"
    )]
    #[schemars(range(min = 1024, max = 1073741824))]
    pub max_response_bytes: Option<u64>,
    /// `azure_openai` only: the API version, sent as `api-version` on
    /// `/openai/deployments/{deployment}/chat/completions` (default
    /// `2024-10-21`); `v1` calls the v1 API, `/openai/v1/chat/completions`,
    /// with the deployment as `model` (and `preview` the same with
    /// `api-version=preview`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$"))]
    pub api_version: Option<String>,
    /// `azure_openai` only: the deployment every prompt on this provider
    /// calls, whatever its `model.name` (default: the `model.name` itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9._-]{1,64}$"))]
    pub deployment: Option<String>,
    /// `azure_openai` only: the deployment for each `model.name`, ahead of
    /// `deployment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployments: Option<BTreeMap<String, String>>,
    /// Never accepted: see [`LiteralKey`]. Left out of the schema, so that
    /// `additionalProperties: false` rejects it there too.
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    #[allow(dead_code, reason = "read only by serde, to refuse it")]
    pub api_key: Option<LiteralKey>,
}

/// The bounds of a provider's numbers (and of the flags that override
/// them). Wide enough for any real endpoint; narrow enough that nothing
/// derived from them overflows (a `Duration` of 1e300 s panics) or stands
/// still (an `rps` of 1e-300 is one request in 10^292 years).
pub(crate) mod bounds {
    use crate::workspace::bounded::Bound;

    pub(crate) const MAX_IN_FLIGHT: Bound = Bound {
        min: 1.0,
        min_excluded: false,
        max: 10_000.0,
        unit: "requests",
    };
    pub(crate) const RPS: Bound = Bound {
        min: 0.001,
        min_excluded: false,
        max: 10_000.0,
        unit: "requests per second",
    };
    /// One call: at most an hour.
    pub(crate) const TIMEOUT_S: Bound = Bound {
        min: 0.0,
        min_excluded: true,
        max: 3600.0,
        unit: "seconds",
    };
    pub(crate) const RETRIES: Bound = Bound {
        min: 0.0,
        min_excluded: false,
        max: 100.0,
        unit: "retries",
    };
    pub(crate) const CIRCUIT_BREAKER: Bound = Bound {
        min: 1.0,
        min_excluded: false,
        max: 10_000.0,
        unit: "calls",
    };
    pub(crate) const MAX_RETRY_WAIT_S: Bound = Bound {
        min: 0.0,
        min_excluded: false,
        max: 3600.0,
        unit: "seconds",
    };
    /// From 1 KiB to 1 GiB.
    pub(crate) const MAX_RESPONSE_BYTES: Bound = Bound {
        min: 1024.0,
        min_excluded: false,
        max: 1_073_741_824.0,
        unit: "bytes",
    };
}

fn de_max_in_flight<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    crate::workspace::bounded::optional_u32(d, &bounds::MAX_IN_FLIGHT)
}

fn de_rps<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    crate::workspace::bounded::optional_f64(d, &bounds::RPS)
}

fn de_timeout_s<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    crate::workspace::bounded::optional_f64(d, &bounds::TIMEOUT_S)
}

fn de_retries<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    crate::workspace::bounded::optional_u32(d, &bounds::RETRIES)
}

fn de_circuit_breaker<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    crate::workspace::bounded::optional_u32(d, &bounds::CIRCUIT_BREAKER)
}

fn de_max_retry_wait_s<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    crate::workspace::bounded::optional_f64(d, &bounds::MAX_RETRY_WAIT_S)
}

fn de_max_response_bytes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    crate::workspace::bounded::optional_u64(d, &bounds::MAX_RESPONSE_BYTES)
}

/// A key written into YAML. Deserialising one is always an error, raised
/// inside the parser so that it carries the line and column.
#[derive(Debug, Clone)]
pub(crate) struct LiteralKey;

impl<'de> Deserialize<'de> for LiteralKey {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom(
            "a literal `api_key` is not allowed: keys never go in files; \
             put it in an environment variable and name that with `api_key_env`",
        ))
    }
}

/// The price of one model, in USD per million tokens.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Price {
    /// USD per million input (prompt) tokens.
    #[serde(deserialize_with = "de_price")]
    pub input: f64,
    /// USD per million output (completion) tokens.
    #[serde(deserialize_with = "de_price")]
    pub output: f64,
}

fn de_price<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    crate::workspace::bounded::required_f64(d, &crate::workspace::bounded::AMOUNT)
}

/// One deployment environment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Environment {
    /// Another environment (defined here) where a version must have been live
    /// before it can be promoted to this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires: Option<String>,
    /// The suites whose newest complete run must pass before a version is
    /// promoted here (default: every suite whose `prompt` is the prompt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suites: Option<Vec<String>>,
}

/// A built-in PII or secret detector.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Builtin {
    /// E-mail addresses.
    Email,
    /// Phone numbers.
    Phone,
    /// Credit card numbers (Luhn-checked).
    CreditCard,
    /// US social security numbers.
    Ssn,
    /// International bank account numbers.
    Iban,
    /// IPv4 and IPv6 addresses.
    IpAddress,
    /// API keys and bearer tokens.
    ApiKey,
}

/// What the model is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SendToProvider {
    /// Inputs reach the model as they are; what promptctl writes is redacted.
    #[default]
    Raw,
    /// Inputs are redacted before they are sent, too.
    Redacted,
}

/// Redaction rules: matches become `[REDACTED:<kind>]` in results,
/// cassettes, evidence and logs.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Redaction {
    /// The built-in detectors to apply (default: all of them).
    #[serde(default = "all_builtins")]
    pub builtins: Vec<Builtin>,
    /// Extra detectors: kind → regular expression, redacted as
    /// `[REDACTED:<kind>]`.
    #[serde(default)]
    pub patterns: BTreeMap<String, String>,
    /// `raw` (default) or `redacted`: whether inputs are redacted before they
    /// are sent to the model.
    #[serde(default)]
    pub send_to_provider: SendToProvider,
}

impl Default for Redaction {
    fn default() -> Self {
        Redaction {
            builtins: all_builtins(),
            patterns: BTreeMap::new(),
            send_to_provider: SendToProvider::Raw,
        }
    }
}

fn all_builtins() -> Vec<Builtin> {
    use Builtin::*;
    vec![Email, Phone, CreditCard, Ssn, Iban, IpAddress, ApiKey]
}

/// Canary analysis settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Canary {
    /// Minimum requests per arm before a verdict; fewer means "hold" (exit 5).
    #[serde(default = "default_min_requests")]
    pub min_requests: u64,
    /// How much worse than the stable arm the canary may be, per KPI.
    #[serde(default)]
    pub thresholds: CanaryThresholds,
}

fn default_min_requests() -> u64 {
    200
}

/// Canary thresholds per KPI.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CanaryThresholds {
    /// Share of requests with outcome `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<Threshold>,
    /// Share of requests with outcome `refusal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal_rate: Option<Threshold>,
    /// Share of requests with outcome `escalation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation_rate: Option<Threshold>,
    /// Share of requests with outcome `fallback`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_rate: Option<Threshold>,
    /// Share of requests whose answer was corrected by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction_rate: Option<Threshold>,
    /// Median latency in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p50_ms: Option<Threshold>,
    /// 95th-percentile latency in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p95_ms: Option<Threshold>,
}

/// A limit on one KPI, canary against stable; set the one that fits it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Threshold {
    /// The canary may be at most this much lower (absolute, e.g. `0.02` for
    /// 2 points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_drop: Option<f64>,
    /// The canary may be at most this much higher (absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_increase: Option<f64>,
    /// The canary may be at most this many percent higher (relative, e.g.
    /// `15`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_increase_pct: Option<f64>,
}

impl Config {
    /// Reads and checks `promptctl.yaml`.
    pub(crate) fn load(path: &Path) -> Result<Config, Error> {
        let text = crate::error::read_input_string(path)?;
        Config::parse(path, &text)
    }

    /// Parses and checks the text of `promptctl.yaml` read from `path`.
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Config, Error> {
        let config: Config = crate::workspace::yaml::from_str(path, text).map_err(|e| {
            // The parser marks the provider's mapping; point at the key itself.
            let at = text
                .lines()
                .enumerate()
                .find_map(|(i, l)| l.find("api_key:").map(|c| (i + 1, c + 1)));
            let rest = e.message().split_once("`: ").map(|(_, r)| r.to_string());
            match (at, rest) {
                (Some((line, col)), Some(rest)) if rest.contains("literal `api_key`") => {
                    let mut err =
                        Error::invalid(format!("`{}:{line}:{col}`: {rest}", path.display()));
                    if let Some(h) = e.hint() {
                        err = err.with_hint(h);
                    }
                    err
                }
                _ => e,
            }
        })?;
        config.check(path, text)?;
        Ok(config)
    }

    /// Checks that need more than one field.
    fn check(&self, path: &Path, text: &str) -> Result<(), Error> {
        let at = |steps: &[&str]| match crate::workspace::yaml::line_at(text, steps) {
            Some(line) => format!("{}:{line}", path.display()),
            None => path.display().to_string(),
        };
        for (name, env) in &self.environments {
            if let Some(req) = &env.requires {
                if !self.environments.contains_key(req) {
                    return Err(Error::invalid(format!(
                        "`{}`: environments.{name}.requires: unknown environment `{req}`",
                        at(&["environments", name, "requires"])
                    )));
                }
                if req == name {
                    return Err(Error::invalid(format!(
                        "`{}`: environments.{name}.requires names itself",
                        at(&["environments", name, "requires"])
                    )));
                }
            }
        }
        if let Some(cycle) = self.requires_cycle() {
            let first = &cycle[0];
            return Err(Error::invalid(format!(
                "`{}`: environments.{first}.requires: a cycle ({}): no version could ever be promoted to any of them",
                at(&["environments", first, "requires"]),
                cycle.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(" requires ")
            ))
            .with_hint("a promotion path runs one way, e.g. `production: { requires: staging }` and `staging: {}`"));
        }
        for (name, pattern) in &self.redaction.patterns {
            if let Err(e) = regex::Regex::new(pattern) {
                return Err(Error::invalid(format!(
                    "`{}`: redaction.patterns.{name}: invalid regular expression: {e}",
                    at(&["redaction", "patterns", name])
                )));
            }
        }
        for (name, p) in &self.providers {
            if let Some(url) = p.base_url.as_deref().filter(|u| userinfo(u).is_some()) {
                let line = crate::workspace::yaml::line_at(text, &["providers", name, "base_url"]);
                let at = match line {
                    Some(line) => format!("{}:{line}", path.display()),
                    None => path.display().to_string(),
                };
                return Err(Error::invalid(format!(
                    "`{at}`: providers.{name}.base_url has credentials in it (`{}`): \
                     keys never go in files",
                    without_userinfo(url)
                ))
                .with_hint(
                    "remove the `user:password@` part; put the key in an environment \
                     variable and name that with `api_key_env`",
                ));
            }
            check_azure(name, p, &|steps: &[&str]| {
                let mut full = vec!["providers", name.as_str()];
                full.extend_from_slice(steps);
                at(&full)
            })?;
        }
        Ok(())
    }

    /// The first loop of `requires` (alphabetically by where it is first
    /// met), as the environments along it with the first repeated at the
    /// end: `[production, staging, production]`. Every `requires` names a
    /// known environment other than itself (checked before).
    fn requires_cycle(&self) -> Option<Vec<String>> {
        let envs = &self.environments;
        for start in envs.keys() {
            let mut path: Vec<&String> = vec![start];
            let mut at = start;
            while let Some(next) = envs.get(at).and_then(|e| e.requires.as_ref()) {
                if let Some(i) = path.iter().position(|e| *e == next) {
                    let mut cycle: Vec<String> = path[i..].iter().map(|e| e.to_string()).collect();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                path.push(next);
                at = next;
            }
        }
        None
    }
}

/// The Azure fields: only on `azure_openai`, which needs a `base_url` (its
/// endpoint, without `/openai`), an `api-version` and deployment names that
/// can sit in a URL path. `at` gives the place of a field of the provider.
fn check_azure(name: &str, p: &Provider, at: &dyn Fn(&[&str]) -> String) -> Result<(), Error> {
    let fields = [
        ("api_version", p.api_version.is_some()),
        ("deployment", p.deployment.is_some()),
        ("deployments", p.deployments.is_some()),
    ];
    if p.kind != ProviderType::AzureOpenai {
        if let Some((field, _)) = fields.iter().find(|(_, set)| *set) {
            return Err(Error::invalid(format!(
                "`{}`: providers.{name}.{field}: only a provider of `type: azure_openai` takes `{field}`",
                at(&[field])
            )));
        }
        return Ok(());
    }
    let Some(url) = &p.base_url else {
        return Err(Error::invalid(format!(
            "`{}`: providers.{name}.base_url: missing: `type: azure_openai` needs the resource's endpoint",
            at(&[])
        ))
        .with_hint("e.g. `base_url: \"https://myres.openai.azure.com\"`"));
    };
    if url.trim_end_matches('/').contains("/openai") {
        return Err(Error::invalid(format!(
            "`{}`: providers.{name}.base_url: `{url}` names a path under the endpoint; \
             promptctl adds `/openai/…` itself",
            at(&["base_url"])
        ))
        .with_hint("give the endpoint alone, e.g. `https://myres.openai.azure.com`"));
    }
    if let Some(v) = &p.api_version
        && !azure_version_ok(v)
    {
        return Err(Error::invalid(format!(
            "`{}`: providers.{name}.api_version: `{v}` is not an API version \
             (a date such as `2024-10-21`, `2025-04-01-preview`, or `v1`)",
            at(&["api_version"])
        )));
    }
    let mut names: Vec<(Vec<&str>, &str)> = Vec::new();
    if let Some(d) = &p.deployment {
        names.push((vec!["deployment"], d));
    }
    for (model, d) in p.deployments.iter().flatten() {
        names.push((vec!["deployments", model], d));
    }
    for (steps, d) in names {
        if !deployment_ok(d) {
            return Err(Error::invalid(format!(
                "`{}`: providers.{name}.{}: `{d}` is not a deployment name \
                 (letters, digits, `.`, `_` and `-`, at most 64)",
                at(&steps),
                steps.join(".")
            )));
        }
    }
    Ok(())
}

/// An `api-version` value that can go in a query string as it is.
fn azure_version_ok(v: &str) -> bool {
    (1..=64).contains(&v.len())
        && v.starts_with(|c: char| c.is_ascii_alphanumeric())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
}

/// A deployment name that can go in a URL path as it is.
pub(crate) fn deployment_ok(d: &str) -> bool {
    (1..=64).contains(&d.len())
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && d != "."
        && d != ".."
}

/// The byte range of a URL's `user:password@` part, `@` included: what
/// comes before the last `@` of the authority (after `scheme://`, before the
/// first `/`, `?`, `#` or `\\`, as the WHATWG URL parser reads it).
fn userinfo(url: &str) -> Option<std::ops::Range<usize>> {
    let scheme = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    };
    let start = match url.find("://") {
        Some(i) if scheme(&url[..i]) => i + 3,
        _ => 0,
    };
    let rest = &url[start..];
    let authority = &rest[..rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len())];
    authority.rfind('@').map(|at| start..start + at + 1)
}

/// The URL with its credentials shown as `…@`, to name it safely.
fn without_userinfo(url: &str) -> String {
    match userinfo(url) {
        Some(r) => format!("{}…@{}", &url[..r.start], &url[r.end..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_base_url_are_refused_without_printing_them() {
        let text = "providers:\n  local: { type: openai }\n  svc:\n    type: openai\n    base_url: \"http://svc:S3cr3tPa55@gpu.internal:8000/v1\"\n";
        let err = parse(text).unwrap_err();
        let m = err.message();
        assert!(m.contains("promptctl.yaml:5`"), "{m}");
        assert!(m.contains("providers.svc.base_url"), "{m}");
        assert!(m.contains("http://…@gpu.internal:8000/v1"), "{m}");
        assert!(!m.contains("S3cr3tPa55") && !m.contains("svc:S"), "{m}");
        assert!(err.hint().is_some_and(|h| h.contains("api_key_env")));
        assert_eq!(err.class(), crate::error::Class::Invalid);
    }

    #[test]
    fn userinfo_is_found_only_in_the_authority() {
        for (url, found) in [
            ("http://svc:SECRET@host/v1", Some("svc:SECRET@")),
            ("https://token@host", Some("token@")),
            ("http://a@b:p@ss@host:1/v1", Some("a@b:p@ss@")),
            ("svc:SECRET@host/v1", Some("svc:SECRET@")),
            ("http://host:8080/v1", None),
            ("http://host/v1/@scope/models", None),
            ("http://host/v1?user=a@b.c", None),
            ("http://host\\@evil/v1", None),
            ("http://localhost:11434/v1", None),
            ("host/v1?next=http://a@b", None),
        ] {
            assert_eq!(userinfo(url).map(|r| &url[r]), found, "{url}");
        }
    }

    fn parse(text: &str) -> Result<Config, Error> {
        Config::parse(Path::new("promptctl.yaml"), text)
    }

    #[test]
    fn literal_api_key_is_rejected_with_its_line() {
        let err =
            parse("providers:\n  openai:\n    type: openai\n    api_key: sk-abc\n").unwrap_err();
        assert!(
            err.message().contains("promptctl.yaml:4:"),
            "{}",
            err.message()
        );
        assert!(err.message().contains("api_key_env"), "{}", err.message());
        assert!(!err.message().contains("sk-abc"));
    }

    #[test]
    fn unknown_requires_is_rejected() {
        let err = parse("environments:\n  production: { requires: stagin }\n").unwrap_err();
        assert!(
            err.message().contains("unknown environment `stagin`"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn a_requires_cycle_is_rejected_with_its_line() {
        let err = parse(
            "environments:\n  production: { requires: staging }\n  staging: { requires: production }\n",
        )
        .unwrap_err();
        let m = err.message();
        assert!(m.starts_with("`promptctl.yaml:2`: environments.production.requires: a cycle (`production` requires `staging` requires `production`)"), "{m}");
        let err = parse(
            "environments:\n  a: { requires: b }\n  b: { requires: c }\n  c: { requires: a }\n  d: { requires: a }\n",
        )
        .unwrap_err();
        assert!(
            err.message()
                .contains("(`a` requires `b` requires `c` requires `a`)"),
            "{}",
            err.message()
        );
        // A path, however long, is fine.
        parse("environments:\n  a: { requires: b }\n  b: { requires: c }\n  c: {}\n").unwrap();
    }

    #[test]
    fn provider_numbers_out_of_bounds_name_line_and_key() {
        for (key, value) in [
            ("timeout_s", "1e300"),
            ("timeout_s", "0"),
            ("timeout_s", "3601"),
            ("rps", "1e-300"),
            ("rps", "0"),
            ("rps", "10001"),
            ("max_in_flight", "0"),
            ("retries", "101"),
            ("circuit_breaker", "0"),
            ("max_retry_wait_s", "-1"),
            ("max_retry_wait_s", "86400"),
            ("max_response_bytes", "10"),
            ("max_response_bytes", "1e12"),
        ] {
            let text = format!("providers:\n  fake:\n    type: openai\n    {key}: {value}\n");
            let err = parse(&text).unwrap_err();
            let m = err.message();
            assert!(
                m.starts_with(&format!(
                    "`promptctl.yaml:4:{}`: providers.fake.{key}: must be ",
                    7 + key.len()
                )),
                "{key}: {value}: {m}"
            );
        }
        let ok = parse(
            "providers:\n  fake: { type: openai, timeout_s: 3600, rps: 0.001, max_in_flight: 1, retries: 0, circuit_breaker: 1, max_retry_wait_s: 0, max_response_bytes: 1024 }\n",
        )
        .unwrap();
        assert_eq!(ok.providers["fake"].circuit_breaker, Some(1));
    }

    #[test]
    fn azure_needs_an_endpoint_and_its_fields_are_refused_elsewhere() {
        let ok = parse(
            "providers:\n  azure:\n    type: azure_openai\n    base_url: \"https://myres.openai.azure.com\"\n    api_version: 2024-10-21\n    deployment: gpt-4o-mini\n    deployments: { gpt-4o: prod-4o }\n",
        )
        .unwrap();
        assert_eq!(ok.providers["azure"].kind, ProviderType::AzureOpenai);
        for (text, want) in [
            (
                "providers:\n  azure:\n    type: azure_openai\n    api_key_env: K\n",
                "`promptctl.yaml:2`: providers.azure.base_url: missing",
            ),
            (
                "providers:\n  o:\n    type: openai\n    deployment: d\n",
                "`promptctl.yaml:4`: providers.o.deployment: only a provider of `type: azure_openai`",
            ),
            (
                "providers:\n  o:\n    type: anthropic\n    api_version: v1\n",
                "`promptctl.yaml:4`: providers.o.api_version: only",
            ),
            (
                "providers:\n  a:\n    type: azure_openai\n    base_url: \"https://r.openai.azure.com/openai/v1\"\n",
                "`promptctl.yaml:4`: providers.a.base_url: `https://r.openai.azure.com/openai/v1` names a path",
            ),
            (
                "providers:\n  a:\n    type: azure_openai\n    base_url: \"https://r\"\n    api_version: \"2024&x=1\"\n",
                "`promptctl.yaml:5`: providers.a.api_version: `2024&x=1` is not",
            ),
            (
                "providers:\n  a:\n    type: azure_openai\n    base_url: \"https://r\"\n    deployments:\n      gpt-4o: \"../x\"\n",
                "`promptctl.yaml:6`: providers.a.deployments.gpt-4o: `../x` is not a deployment name",
            ),
            (
                "providers:\n  a:\n    type: azure_openai\n    base_url: \"https://r\"\n    deployment_name: x\n",
                "promptctl.yaml:5",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                err.message().starts_with(want) || err.message().contains(want),
                "{}",
                err.message()
            );
            assert_eq!(err.class(), crate::error::Class::Invalid, "{text}");
        }
    }

    #[test]
    fn empty_config_is_valid() {
        let c = parse("{}\n").unwrap();
        assert_eq!(c.redaction.builtins.len(), 7);
    }
}
