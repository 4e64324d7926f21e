//! What the OpenAI and Anthropic providers share: the HTTP client, and the
//! mapping from status codes and transport failures to [`CallError`].
//!
//! 429, 408, 409 and 5xx (Anthropic's 529 included) are retried, honouring
//! `Retry-After` (seconds or an HTTP date) and OpenAI's `retry-after-ms`;
//! 401 and 403 stop the run; any other 4xx fails the case at once. No answer
//! at all (a timeout, a refused or dropped connection) is
//! [`CallError::NoAnswer`], which the runner's circuit breaker counts.
//!
//! A body is read chunk by chunk and never past the connection's
//! `max_response_bytes`: an answer over it fails its case without being held
//! in memory whole. [`Connection::probe`] is `doctor`'s health check over the
//! same client, with the same scrubbing of every message a server sends back.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::chat::CallError;
use super::key::ApiKey;
use crate::error::Error;

/// What both wire protocols need to reach an endpoint: its address, key and client.
pub(crate) struct Connection {
    pub name: String,
    pub base_url: String,
    pub url: String,
    pub key: Option<ApiKey>,
    pub key_env: Option<String>,
    pub client: reqwest::Client,
    /// The largest answer body read; a larger one fails the call.
    pub max_body: u64,
}

/// How much of an error answer (or a health check's) is read: enough for
/// the provider's message, which is all that is shown of it.
const ERROR_BODY_BYTES: u64 = 64 * 1024;

impl Connection {
    /// `path` is appended to `base_url` (trailing `/` trimmed) to make the URL.
    pub(crate) fn new(
        name: &str,
        base_url: &str,
        path: &str,
        key: Option<ApiKey>,
        key_env: Option<String>,
        timeout: Duration,
        max_body: u64,
    ) -> Result<Connection, Error> {
        let base_url = base_url.trim_end_matches('/').to_string();
        Ok(Connection {
            name: name.to_string(),
            url: format!("{base_url}{path}"),
            base_url,
            key,
            key_env,
            client: client(timeout)?,
            max_body,
        })
    }

    /// POSTs `body` with the headers `auth` adds, and returns the JSON answer.
    pub(crate) async fn post(
        &self,
        auth: impl FnOnce(reqwest::RequestBuilder, Option<&ApiKey>) -> reqwest::RequestBuilder,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, CallError> {
        let request = auth(self.client.post(&self.url), self.key.as_ref());
        post_json(
            &self.name,
            self.key_env.as_deref(),
            self.key.as_ref(),
            request,
            body,
            self.max_body,
        )
        .await
    }
}

/// What a health check of an endpoint found. Every message is scrubbed of
/// the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Probe {
    /// A 2xx answer, after this long.
    Ok { status: u16, elapsed: Duration },
    /// No connection, or no answer in time.
    Unreachable(String),
    /// 401 or 403: the key is missing, wrong or not allowed.
    KeyRejected { status: u16, message: String },
    /// 429: the key works, the server asks to slow down.
    RateLimited(String),
    /// 5xx.
    ServerError { status: u16, message: String },
    /// Any other answer (a 404 from a server without the endpoint, say).
    Unexpected { status: u16, message: String },
}

impl Connection {
    /// GETs the connection's URL with the headers `auth` adds: a cheap
    /// authenticated request, for `doctor`. Never retried.
    pub(crate) async fn probe(
        &self,
        auth: impl FnOnce(reqwest::RequestBuilder, Option<&ApiKey>) -> reqwest::RequestBuilder,
    ) -> Probe {
        let key = self.key.as_ref();
        let scrub = |s: String| match key {
            Some(k) => k.scrub(&s),
            None => crate::privacy::secrets::mask(&s),
        };
        let started = Instant::now();
        let request = auth(self.client.get(&self.url), key);
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Probe::Unreachable(transport(&self.name, &e, &scrub).to_string()),
        };
        let status = response.status();
        let bytes = match read_up_to(&mut response, ERROR_BODY_BYTES).await {
            Ok((b, _)) => b,
            Err(e) => return Probe::Unreachable(transport(&self.name, &e, &scrub).to_string()),
        };
        let elapsed = started.elapsed();
        let code = status.as_u16();
        if status.is_success() {
            return Probe::Ok {
                status: code,
                elapsed,
            };
        }
        let message = scrub(format!(
            "provider `{}` answered {status}: {}",
            self.name,
            error_detail(&bytes)
        ));
        match code {
            401 | 403 => Probe::KeyRejected {
                status: code,
                message,
            },
            429 => Probe::RateLimited(message),
            500..=599 => Probe::ServerError {
                status: code,
                message,
            },
            _ => Probe::Unexpected {
                status: code,
                message,
            },
        }
    }
}

/// A client with rustls, a per-request timeout and connection reuse.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_max_idle_per_host(256)
        .user_agent(concat!("promptctl/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::incomplete(format!("cannot build the HTTP client: {e}")))
}

/// Sends a JSON POST and returns the parsed JSON body of a 2xx answer. A
/// 2xx body over `max_body` bytes is [`CallError::Fatal`], found out from
/// its `Content-Length` before a byte is read or, without one, once that
/// many bytes have come.
pub(crate) async fn post_json(
    provider: &str,
    key_env: Option<&str>,
    key: Option<&ApiKey>,
    request: reqwest::RequestBuilder,
    body: &serde_json::Value,
    max_body: u64,
) -> Result<serde_json::Value, CallError> {
    let scrub = |s: String| match key {
        Some(k) => k.scrub(&s),
        None => crate::privacy::secrets::mask(&s),
    };
    let mut response = request
        .json(body)
        .send()
        .await
        .map_err(|e| transport(provider, &e, &scrub))?;
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let too_large = |this: String| {
        CallError::Fatal(format!(
            "provider `{provider}` sent an answer larger than `max_response_bytes` \
             ({max_body} bytes; {this}); it was not read"
        ))
    };
    if status.is_success()
        && let Some(length) = response.content_length().filter(|n| *n > max_body)
    {
        return Err(too_large(format!("this one: {length} bytes")));
    }
    let cap = if status.is_success() {
        max_body
    } else {
        ERROR_BODY_BYTES
    };
    let (bytes, whole) = read_up_to(&mut response, cap)
        .await
        .map_err(|e| transport(provider, &e, &scrub))?;
    if status.is_success() && !whole {
        return Err(too_large("reading stopped there".into()));
    }
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| CallError::Retryable {
            message: format!("provider `{provider}` sent a body that is not JSON ({e})"),
            retry_after: None,
        });
    }
    let detail = error_detail(&bytes);
    let message = scrub(format!("provider `{provider}` answered {status}: {detail}"));
    Err(classify(status, message, retry_after, key_env))
}

/// Reads at most `cap` bytes of a body, chunk by chunk, and whether that
/// was all of it. Reading stops at the cap: whatever else the server sends
/// is never held in memory, and the connection is dropped with the response.
async fn read_up_to(
    response: &mut reqwest::Response,
    cap: u64,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let expected = response
        .content_length()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    let mut body = Vec::with_capacity(expected.min(cap).min(1 << 20));
    while let Some(chunk) = response.chunk().await? {
        let room = cap - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, false));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, true))
}

fn classify(
    status: StatusCode,
    message: String,
    retry_after: Option<Duration>,
    key_env: Option<&str>,
) -> CallError {
    match status.as_u16() {
        401 | 403 => CallError::Auth(match key_env {
            Some(var) => format!("{message} (the key comes from `{var}`)"),
            None => format!("{message} (no key is configured: set `api_key_env`)"),
        }),
        408 | 409 | 429 | 500..=599 => CallError::Retryable {
            message,
            retry_after,
        },
        _ => CallError::Fatal(message),
    }
}

fn transport<F: Fn(String) -> String>(provider: &str, e: &reqwest::Error, scrub: &F) -> CallError {
    let what = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "connection failed".to_string()
    };
    // The innermost cause says most ("connection reset by peer", …).
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    CallError::NoAnswer(scrub(format!("provider `{provider}`: {what}: {cause}")))
}

/// The provider's own error message, from either API's error shape.
fn error_detail(bytes: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(bytes).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.pointer("/message"))
            .and_then(|m| m.as_str())
            .map(str::to_string)
    });
    match message {
        Some(m) => m,
        None => {
            let text = String::from_utf8_lossy(bytes);
            let text = text.trim();
            if text.is_empty() {
                "(empty body)".into()
            } else {
                text.chars().take(200).collect()
            }
        }
    }
}

/// `retry-after-ms`, else `Retry-After` as seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
    {
        return (ms.is_finite() && ms >= 0.0).then(|| Duration::from_secs_f64(ms / 1000.0));
    }
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, jiff::Timestamp::now())
}

/// Parses a `Retry-After` value relative to `now`.
pub(crate) fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let wait = when.duration_since(now);
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now: jiff::Timestamp = "2015-10-21T07:27:30Z".parse().unwrap();
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("0.5", now),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn classification() {
        let c = |s: u16| {
            classify(
                StatusCode::from_u16(s).unwrap(),
                "m".into(),
                None,
                Some("K"),
            )
        };
        assert!(matches!(c(401), CallError::Auth(m) if m.contains("`K`")));
        assert!(matches!(c(403), CallError::Auth(_)));
        for s in [408, 409, 429, 500, 502, 503, 529] {
            assert!(c(s).is_retryable(), "{s}");
        }
        for s in [400, 404, 422] {
            assert!(matches!(c(s), CallError::Fatal(_)), "{s}");
        }
    }
}
