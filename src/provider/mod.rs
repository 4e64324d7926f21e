//! Model providers behind one trait, and the errors a call can end in.
//!
//! A provider turns a [`ChatRequest`] into a [`ChatResponse`]; it does not
//! retry, wait or cache: the runner (`eval::runner`) owns concurrency, rate
//! limits, retries and the response cache, so every provider gets them the
//! same way. Errors are classified here, once, by what the runner should do
//! next: retry, give up on this case, or stop the whole run (auth refused).
//! No answer at all is its own kind ([`CallError::NoAnswer`]), which the
//! runner's circuit breaker counts to declare a provider down.

pub(crate) mod anthropic;
pub(crate) mod azure;
pub(crate) mod chat;
pub(crate) mod echo;
pub(crate) mod gemini;
pub(crate) mod http;
pub(crate) mod key;
pub(crate) mod openai;
pub(crate) mod params;
pub(crate) mod replay;

pub(crate) use chat::{CallError, ChatMessage, ChatRequest, ChatResponse};

use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::workspace::config::{Config, ProviderType};
use chat::{Limits, Provider};

/// A provider ready to call, with its name and limits.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub name: String,
    pub kind: ProviderType,
    pub provider: Arc<dyn Provider>,
    pub limits: Limits,
}

/// Builds the named provider from `promptctl.yaml`. `cassette` is where the
/// replay provider reads its recordings.
pub(crate) fn build(
    config: &Config,
    name: &str,
    cassette: Option<&std::path::Path>,
    root: &std::path::Path,
) -> Result<Endpoint, Error> {
    let Some(p) = config.providers.get(name) else {
        let mut err = Error::invalid(format!("unknown provider `{name}`"));
        if let Some(best) =
            crate::workspace::yaml::closest(name, config.providers.keys().map(String::as_str))
        {
            err = err.with_hint(format!("did you mean `{best}`?"));
        }
        return Err(err);
    };
    let limits = limits(p);
    let connect = |default_base: &str, path: &str| {
        connection(
            name,
            p,
            default_base,
            path,
            limits.timeout,
            limits.max_response_bytes,
        )
    };
    let provider: Arc<dyn Provider> = match p.kind {
        ProviderType::Openai => Arc::new(openai::OpenAi::new(connect(
            openai::OpenAi::DEFAULT_BASE_URL,
            openai::OpenAi::PATH,
        )?)),
        ProviderType::Anthropic => Arc::new(anthropic::Anthropic::new(connect(
            anthropic::Anthropic::DEFAULT_BASE_URL,
            anthropic::Anthropic::PATH,
        )?)),
        // The endpoint is required (config.rs); URLs are made per request.
        ProviderType::AzureOpenai => Arc::new(azure::Azure::new(connect("", "")?, p)),
        ProviderType::Gemini => Arc::new(gemini::Gemini::new(connect(
            gemini::Gemini::DEFAULT_BASE_URL,
            gemini::Gemini::MODELS_PATH,
        )?)),
        ProviderType::Echo => Arc::new(echo::Echo),
        ProviderType::Replay => {
            let path = cassette
                .ok_or_else(|| Error::invalid("the replay provider needs a suite's cassette"))?;
            Arc::new(replay::Replay::open(path, root)?)
        }
    };
    Ok(Endpoint {
        name: name.to_string(),
        kind: p.kind,
        provider,
        limits,
    })
}

/// Calls in a row without an answer after which a provider is down, when
/// `circuit_breaker` is not set.
pub(crate) const DEFAULT_CIRCUIT_BREAKER: u32 = 5;
/// The longest `Retry-After` obeyed, when `max_retry_wait_s` is not set.
pub(crate) const DEFAULT_MAX_RETRY_WAIT_S: f64 = 60.0;
/// The largest answer read (8 MiB), when `max_response_bytes` is not set.
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: u64 = 8 * 1024 * 1024;

/// A provider's limits from `promptctl.yaml`, with the defaults for those
/// not set. The config loader has checked every value's bounds.
fn limits(p: &crate::workspace::config::Provider) -> Limits {
    Limits {
        max_in_flight: p.max_in_flight.unwrap_or(16).max(1) as usize,
        rps: p.rps,
        timeout: Duration::from_secs_f64(p.timeout_s.unwrap_or(60.0)),
        retries: p.retries.unwrap_or(4),
        circuit_breaker: p.circuit_breaker.unwrap_or(DEFAULT_CIRCUIT_BREAKER).max(1),
        max_retry_wait: Duration::from_secs_f64(
            p.max_retry_wait_s.unwrap_or(DEFAULT_MAX_RETRY_WAIT_S),
        ),
        max_response_bytes: p.max_response_bytes.unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
    }
}

/// The connection to a network provider at `path` under its base URL, with
/// its key read from the environment (an error naming the variable if unset).
fn connection(
    name: &str,
    p: &crate::workspace::config::Provider,
    default_base: &str,
    path: &str,
    timeout: Duration,
    max_body: u64,
) -> Result<http::Connection, Error> {
    let key = match &p.api_key_env {
        Some(var) => Some(key::ApiKey::from_env(name, var)?),
        None => None,
    };
    let base = p.base_url.as_deref().unwrap_or(default_base);
    http::Connection::new(
        name,
        base,
        path,
        key,
        p.api_key_env.clone(),
        timeout,
        max_body,
    )
}

/// A health check of one network provider: `GET …/models` with its key and
/// headers, abandoned after `timeout` (connecting included).
pub(crate) struct HealthCheck {
    kind: ProviderType,
    conn: http::Connection,
}

impl HealthCheck {
    /// The check for provider `name`; `Ok(None)` for providers that need no
    /// network (`replay`, `echo`). A missing key is the error [`build`]
    /// gives, so no request is ever made without one.
    pub(crate) fn new(
        config: &Config,
        name: &str,
        timeout: Duration,
    ) -> Result<Option<HealthCheck>, Error> {
        let Some(p) = config.providers.get(name) else {
            return Err(Error::invalid(format!("unknown provider `{name}`")));
        };
        let azure_models;
        let (base, path) = match p.kind {
            ProviderType::Openai => (
                openai::OpenAi::DEFAULT_BASE_URL,
                openai::OpenAi::MODELS_PATH,
            ),
            ProviderType::Anthropic => (
                anthropic::Anthropic::DEFAULT_BASE_URL,
                anthropic::Anthropic::MODELS_PATH,
            ),
            ProviderType::AzureOpenai => {
                azure_models = azure::Api::of(p).models_path();
                ("", azure_models.as_str())
            }
            ProviderType::Gemini => (
                gemini::Gemini::DEFAULT_BASE_URL,
                gemini::Gemini::MODELS_PATH,
            ),
            ProviderType::Replay | ProviderType::Echo => return Ok(None),
        };
        let max_body = limits(p).max_response_bytes;
        let conn = connection(name, p, base, path, timeout, max_body)?;
        Ok(Some(HealthCheck { kind: p.kind, conn }))
    }

    /// The URL the check requests.
    pub(crate) fn url(&self) -> &str {
        &self.conn.url
    }

    /// Sends the request; never retried.
    pub(crate) async fn run(&self) -> http::Probe {
        match self.kind {
            ProviderType::Anthropic => self.conn.probe(anthropic::auth).await,
            ProviderType::AzureOpenai => self.conn.probe(azure::auth).await,
            ProviderType::Gemini => self.conn.probe(gemini::auth).await,
            _ => self.conn.probe(openai::auth).await,
        }
    }
}
