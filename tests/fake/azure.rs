//! Azure OpenAI's paths over the OpenAI wire: which path is which, what
//! Azure refuses before it reads a body (no `api-key`: 401; no
//! `api-version` where the dated API needs one: 404), the filter
//! annotations it adds to every answer, and its content-filter 400.

use serde_json::{Value, json};

use super::http::{Request, Response};

/// An Azure request, as the OpenAI path it stands for.
pub(super) struct Route {
    /// `/v1/chat/completions` or `/v1/models`.
    pub path: &'static str,
    /// The deployment the URL names (`/openai/deployments/{d}/…`).
    pub deployment: Option<String>,
    /// Whether `api-version` is required (the dated API) or optional (v1).
    pub dated: bool,
}

/// The route of a request on one of Azure's paths, if it is one.
pub(super) fn route(request: &Request) -> Option<Route> {
    let path = request.path.as_str();
    let (path, deployment, dated) = match path {
        "/openai/v1/chat/completions" => ("/v1/chat/completions", None, false),
        "/openai/v1/models" => ("/v1/models", None, false),
        "/openai/models" => ("/v1/models", None, true),
        _ => {
            let d = path
                .strip_prefix("/openai/deployments/")?
                .strip_suffix("/chat/completions")?;
            if d.is_empty() || d.contains('/') {
                return None;
            }
            ("/v1/chat/completions", Some(d.to_string()), true)
        }
    };
    Some(Route {
        path,
        deployment,
        dated,
    })
}

/// The value of a query parameter.
fn query<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Azure's answer to a request it will not serve: 401 without an `api-key`
/// header (or a bearer token, on the v1 API), 404 without the
/// `api-version` the dated API needs.
pub(super) fn refuse(request: &Request, route: &Route) -> Option<Response> {
    let key = request.header("api-key").filter(|k| !k.is_empty());
    let bearer = !route.dated && request.header("authorization").is_some();
    if key.is_none() && !bearer {
        return Some(Response::json(
            401,
            &json!({ "error": {
                "code": "401",
                "message": "Access denied due to invalid subscription key or wrong API endpoint. \
                            Make sure to provide a valid key for an active subscription and use \
                            a correct regional API endpoint for your resource.",
            } }),
        ));
    }
    if route.dated && query(request, "api-version").is_none_or(str::is_empty) {
        return Some(Response::json(
            404,
            &json!({ "error": { "code": "404", "message": "Resource not found" } }),
        ));
    }
    None
}

/// The filter results Azure puts on every answer: nothing filtered.
pub(super) fn annotate(answer: &mut Value) {
    let clean = json!({
        "hate": { "filtered": false, "severity": "safe" },
        "self_harm": { "filtered": false, "severity": "safe" },
        "sexual": { "filtered": false, "severity": "safe" },
        "violence": { "filtered": false, "severity": "safe" },
    });
    answer["prompt_filter_results"] =
        json!([{ "prompt_index": 0, "content_filter_results": clean }]);
    if let Some(choices) = answer.get_mut("choices").and_then(Value::as_array_mut) {
        for c in choices {
            c["content_filter_results"] = clean.clone();
        }
    }
}

/// The body of Azure's 400 for a prompt its filter refused.
pub(super) fn content_filter_error() -> Value {
    json!({ "error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content \
                    management policy. Please modify your prompt and retry. To learn more about our \
                    content filtering policies please read our documentation: \
                    https://go.microsoft.com/fwlink/?linkid=2198766",
        "type": null,
        "param": "prompt",
        "code": "content_filter",
        "status": 400,
        "innererror": {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": {
                "hate": { "filtered": false, "severity": "safe" },
                "jailbreak": { "filtered": false, "detected": false },
                "self_harm": { "filtered": false, "severity": "safe" },
                "sexual": { "filtered": false, "severity": "safe" },
                "violence": { "filtered": true, "severity": "high" },
            },
        },
    } })
}
