//! What the network providers share: the HTTP client, and the mapping from
//! status codes and transport failures to [`CallError`].
//!
//! 429, 408, 409 and 5xx (Anthropic's 529 included) are retried, honouring
//! the wait the server asks for ([`retry_after`]: `retry-after-ms`,
//! `Retry-After`, LiteLLM's and the rate-limit reset headers);
//! 401 and 403 stop the run, and so does a 400 whose Google error details say
//! `API_KEY_INVALID` (Gemini's answer to a wrong key); any other 4xx fails
//! the case at once. A Google error's `google.rpc.RetryInfo` `retryDelay` is
//! the wait when no header gives one. No answer
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

/// What every wire protocol needs to reach an endpoint: its address, key and client.
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
        self.post_to(&self.url, auth, body).await
    }

    /// [`Connection::post`] to another URL than the connection's own: for
    /// an API whose path is chosen per request (Azure's deployment paths,
    /// Gemini's `…/models/{model}:generateContent`).
    pub(crate) async fn post_to(
        &self,
        url: &str,
        auth: impl FnOnce(reqwest::RequestBuilder, Option<&ApiKey>) -> reqwest::RequestBuilder,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, CallError> {
        let request = auth(self.client.post(url), self.key.as_ref());
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
            400 if key_invalid(&bytes) => Probe::KeyRejected {
                status: code,
                message,
            },
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
    let retry_after = retry_after(response.headers(), status);
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
    if status == StatusCode::BAD_REQUEST && key_invalid(&bytes) {
        // Google answers a wrong key with 400, not 401: it stops the run
        // all the same.
        return Err(classify(StatusCode::UNAUTHORIZED, message, None, key_env));
    }
    let retry_after = retry_after.or_else(|| google_retry_delay(&bytes));
    Err(classify(status, message, retry_after, key_env))
}

/// The `details` of a Google API error body (`{error: {code, message,
/// status, details: [{"@type": …}, …]}}`).
fn google_details(bytes: &[u8]) -> Vec<serde_json::Value> {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| {
            v.pointer("/error/details")
                .and_then(|d| d.as_array())
                .cloned()
        })
        .unwrap_or_default()
}

/// Whether a Google API error says the key is not valid (a
/// `google.rpc.ErrorInfo` with reason `API_KEY_INVALID`, which Gemini sends
/// with a 400).
fn key_invalid(bytes: &[u8]) -> bool {
    google_details(bytes)
        .iter()
        .any(|d| d.get("reason").and_then(|r| r.as_str()) == Some("API_KEY_INVALID"))
}

/// The wait a Google API error asks for in its `google.rpc.RetryInfo`
/// detail (`retryDelay: "30s"`), when no header said one.
fn google_retry_delay(bytes: &[u8]) -> Option<Duration> {
    google_details(bytes)
        .iter()
        .filter(|d| {
            d.get("@type")
                .and_then(|t| t.as_str())
                .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"))
        })
        .find_map(|d| d.get("retryDelay").and_then(|r| r.as_str()))
        .and_then(parse_go_duration)
        .filter(|d| !d.is_zero())
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

/// The provider's own error message, from either API's error shape. Azure's
/// refusal of a prompt by its content filter (`error.code:
/// "content_filter"`) says so first, with the categories that tripped it.
fn error_detail(bytes: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(bytes).ok();
    if let Some(error) = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .filter(|e| e.get("code").and_then(|c| c.as_str()) == Some("content_filter"))
    {
        let categories = error
            .pointer("/innererror/content_filter_result")
            .map(filtered_categories)
            .unwrap_or_default();
        let which = if categories.is_empty() {
            String::new()
        } else {
            format!(" ({})", categories.join(", "))
        };
        let said = error
            .get("message")
            .and_then(|m| m.as_str())
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        return format!("the prompt was blocked by Azure's content filter{which}{said}");
    }
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

/// The categories of an Azure `content_filter_result(s)` object that say
/// `filtered: true` (`hate`, `jailbreak`, `custom_blocklists`, …), sorted;
/// a category given as a list (blocklists) counts if any entry is filtered.
pub(crate) fn filtered_categories(results: &serde_json::Value) -> Vec<String> {
    let filtered = |v: &serde_json::Value| {
        v.get("filtered").and_then(|f| f.as_bool()) == Some(true)
            || v.get("details")
                .and_then(|d| d.as_array())
                .is_some_and(|d| {
                    d.iter()
                        .any(|e| e.get("filtered").and_then(|f| f.as_bool()) == Some(true))
                })
    };
    let Some(map) = results.as_object() else {
        return Vec::new();
    };
    let mut out: Vec<String> = map
        .iter()
        .filter(|(_, v)| match v {
            serde_json::Value::Array(list) => list.iter().any(filtered),
            other => filtered(other),
        })
        .map(|(k, _)| k.clone())
        .collect();
    out.sort();
    out
}

/// OpenAI's reset headers: how long until each limit is whole again.
const OPENAI_RESETS: [&str; 2] = ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"];

/// Anthropic's reset headers: when each limit is whole again.
const ANTHROPIC_RESETS: [&str; 4] = [
    "anthropic-ratelimit-requests-reset",
    "anthropic-ratelimit-tokens-reset",
    "anthropic-ratelimit-input-tokens-reset",
    "anthropic-ratelimit-output-tokens-reset",
];

/// How long the server asked to wait, from the first of these that is
/// present and usable: `retry-after-ms`, `Retry-After` (seconds or an HTTP
/// date), LiteLLM's `llm_provider-retry-after` (seconds), then, on a 429
/// only, the largest of the rate-limit reset headers (OpenAI's
/// `x-ratelimit-reset-*` durations, Anthropic's `anthropic-ratelimit-*-reset`
/// timestamps). A hint that cannot be parsed, or names a time already past,
/// is skipped; with none the caller falls back to its own backoff.
pub(crate) fn retry_after(headers: &HeaderMap, status: StatusCode) -> Option<Duration> {
    retry_hint(
        |name| headers.get(name).and_then(|v| v.to_str().ok()),
        status == StatusCode::TOO_MANY_REQUESTS,
        jiff::Timestamp::now(),
    )
}

/// [`retry_after`] over any header lookup, relative to `now`.
fn retry_hint<'a>(
    header: impl Fn(&str) -> Option<&'a str>,
    rate_limited: bool,
    now: jiff::Timestamp,
) -> Option<Duration> {
    if let Some(wait) = header("retry-after-ms")
        .and_then(parse_seconds)
        .map(|ms| ms / 1000.0)
        .map(Duration::from_secs_f64)
    {
        return Some(wait);
    }
    if let Some(wait) = header("retry-after").and_then(|v| parse_retry_after(v, now)) {
        return Some(wait);
    }
    if let Some(secs) = header("llm_provider-retry-after").and_then(parse_seconds) {
        return Some(Duration::from_secs_f64(secs));
    }
    if !rate_limited {
        return None;
    }
    let openai = OPENAI_RESETS
        .iter()
        .filter_map(|name| header(name).and_then(parse_go_duration));
    let anthropic = ANTHROPIC_RESETS
        .iter()
        .filter_map(|name| header(name).and_then(|v| parse_reset_at(v, now)));
    openai.chain(anthropic).filter(|d| !d.is_zero()).max()
}

/// A number of seconds (or milliseconds) at least 0, as a float.
fn parse_seconds(value: &str) -> Option<f64> {
    let n = value.trim().parse::<f64>().ok()?;
    (0.0..1e12).contains(&n).then_some(n)
}

/// Parses a `Retry-After` value relative to `now`: seconds, or an HTTP date
/// still to come (a date already past is no hint).
pub(crate) fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    if let Some(secs) = parse_seconds(value) {
        return Some(Duration::from_secs_f64(secs));
    }
    let when = jiff::fmt::rfc2822::parse(value.trim()).ok()?.timestamp();
    until(when, now)
}

/// Parses an RFC 3339 timestamp (Anthropic's `…-reset` headers) into the
/// wait until then; a time already past is no hint.
fn parse_reset_at(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let when: jiff::Timestamp = value.trim().parse().ok()?;
    until(when, now)
}

/// The wait from `now` until `when`, if `when` is still to come.
fn until(when: jiff::Timestamp, now: jiff::Timestamp) -> Option<Duration> {
    Duration::try_from(when.duration_since(now))
        .ok()
        .filter(|d| !d.is_zero())
}

/// Parses a Go duration string as OpenAI sends it in `x-ratelimit-reset-*`:
/// `"1s"`, `"6m0s"`, `"20ms"`, `"1h2m3.5s"`, `"0"`. Each part is a decimal
/// number and a unit (`h`, `m`, `s`, `ms`, `us`/`µs`, `ns`).
fn parse_go_duration(value: &str) -> Option<Duration> {
    let mut rest = value.trim();
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut secs = 0.0_f64;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits);
        let n: f64 = number.parse().ok()?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" | "μs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        secs += n * scale;
        rest = next;
    }
    (secs.is_finite() && secs < 1e12).then(|| Duration::from_secs_f64(secs))
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
        // A date already past is no hint.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            None
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("NaN", now), None);
    }

    #[test]
    fn go_durations() {
        let ms = Duration::from_millis;
        for (value, want) in [
            ("1s", Some(ms(1000))),
            ("6m0s", Some(ms(360_000))),
            ("20ms", Some(ms(20))),
            ("1h2m3.5s", Some(ms(3_723_500))),
            ("0.5s", Some(ms(500))),
            ("  2s ", Some(ms(2000))),
            ("1500us", Some(Duration::from_micros(1500))),
            ("1500µs", Some(Duration::from_micros(1500))),
            ("0", Some(Duration::ZERO)),
            ("", None),
            ("1", None),
            ("s", None),
            ("1d", None),
            ("-1s", None),
            ("1s2", None),
            ("soon", None),
        ] {
            assert_eq!(parse_go_duration(value), want, "{value:?}");
        }
    }

    #[test]
    fn reset_timestamps() {
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        for (value, want) in [
            ("2026-01-01T00:00:02Z", Some(Duration::from_secs(2))),
            ("2026-01-01T00:00:00.250Z", Some(Duration::from_millis(250))),
            ("2026-01-01T01:00:01+01:00", Some(Duration::from_secs(1))),
            ("2026-01-01T00:00:00Z", None),
            ("2025-12-31T23:59:00Z", None),
            ("tomorrow", None),
            ("", None),
        ] {
            assert_eq!(parse_reset_at(value, now), want, "{value:?}");
        }
    }

    #[test]
    fn hint_precedence() {
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let s = Duration::from_secs;
        let hint = |headers: &[(&str, &str)], rate_limited: bool| {
            retry_hint(
                |name| {
                    headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(name))
                        .map(|(_, v)| *v)
                },
                rate_limited,
                now,
            )
        };
        let all = [
            ("retry-after-ms", "1500"),
            ("retry-after", "2"),
            ("llm_provider-retry-after", "3"),
            ("x-ratelimit-reset-requests", "4s"),
            ("anthropic-ratelimit-requests-reset", "2026-01-01T00:00:05Z"),
        ];
        for (headers, rate_limited, want) in [
            (&all[..], true, Some(Duration::from_millis(1500))),
            (&all[1..], true, Some(s(2))),
            (&all[2..], true, Some(s(3))),
            (&all[3..], true, Some(s(5))),
            (&all[3..4], true, Some(s(4))),
            (&all[4..], true, Some(s(5))),
            // Reset headers come on every answer; only a 429 makes them a wait.
            (&all[3..], false, None),
            (&all[2..], false, Some(s(3))),
            // The larger of OpenAI's two.
            (
                &[
                    ("x-ratelimit-reset-requests", "1s"),
                    ("x-ratelimit-reset-tokens", "6m0s"),
                ][..],
                true,
                Some(s(360)),
            ),
            // The largest of Anthropic's, a past one ignored.
            (
                &[
                    ("anthropic-ratelimit-requests-reset", "2025-12-31T00:00:00Z"),
                    ("anthropic-ratelimit-tokens-reset", "2026-01-01T00:00:01Z"),
                    (
                        "anthropic-ratelimit-input-tokens-reset",
                        "2026-01-01T00:00:03Z",
                    ),
                    (
                        "anthropic-ratelimit-output-tokens-reset",
                        "2026-01-01T00:00:02Z",
                    ),
                ][..],
                true,
                Some(s(3)),
            ),
            // Unparsable or past hints fall through to the next.
            (
                &[
                    ("retry-after-ms", "soon"),
                    ("retry-after", "Thu, 01 Jan 2015 00:00:00 GMT"),
                    ("llm_provider-retry-after", "-4"),
                    ("x-ratelimit-reset-tokens", "20ms"),
                ][..],
                true,
                Some(Duration::from_millis(20)),
            ),
            (&[("x-ratelimit-reset-tokens", "0s")][..], true, None),
            (&[("retry-after", "later")][..], true, None),
            (&[][..], true, None),
        ] {
            assert_eq!(hint(headers, rate_limited), want, "{headers:?}");
        }
    }

    #[test]
    fn azure_content_filter_is_named_with_its_categories() {
        let body = serde_json::json!({ "error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
            "type": null, "param": "prompt", "code": "content_filter", "status": 400,
            "innererror": { "code": "ResponsibleAIPolicyViolation", "content_filter_result": {
                "hate": { "filtered": false, "severity": "safe" },
                "violence": { "filtered": true, "severity": "high" },
                "jailbreak": { "filtered": true, "detected": true },
                "custom_blocklists": { "filtered": false, "details": [] },
            } },
        } });
        let detail = error_detail(body.to_string().as_bytes());
        assert_eq!(
            detail,
            "the prompt was blocked by Azure's content filter (jailbreak, violence): \
             The response was filtered due to the prompt triggering Azure OpenAI's content management policy."
        );
        let plain = serde_json::json!({ "error": { "message": "bad", "code": "invalid" } });
        assert_eq!(error_detail(plain.to_string().as_bytes()), "bad");
        assert_eq!(
            filtered_categories(&serde_json::json!({
                "custom_blocklists": [{ "id": "b", "filtered": true }],
                "profanity": { "filtered": false, "detected": true },
            })),
            ["custom_blocklists"]
        );
    }

    #[test]
    fn google_error_details() {
        let body = |details: serde_json::Value| {
            serde_json::json!({ "error": {
                "code": 429, "message": "m", "status": "RESOURCE_EXHAUSTED", "details": details,
            } })
            .to_string()
        };
        let retry = body(serde_json::json!([
            { "@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [] },
            { "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s" },
        ]));
        assert_eq!(
            google_retry_delay(retry.as_bytes()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            google_retry_delay(
                body(serde_json::json!([
                    { "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.5s" }
                ]))
                .as_bytes()
            ),
            Some(Duration::from_millis(500))
        );
        assert_eq!(google_retry_delay(b"not json"), None);
        assert!(!key_invalid(retry.as_bytes()));
        let invalid = body(serde_json::json!([
            { "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
              "domain": "googleapis.com" }
        ]));
        assert!(key_invalid(invalid.as_bytes()));
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
