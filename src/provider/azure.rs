//! Azure OpenAI: OpenAI's chat-completions wire (the body and answer of
//! `openai.rs`, tool calls and all) at an Azure resource's URLs, with the
//! key in the `api-key` header.
//!
//! The design decision to know: the deployment, not the model, is what a
//! URL names, and it is chosen per request: `deployments[model.name]`, else
//! the provider's `deployment`, else `model.name` itself (most teams name a
//! deployment after its model). With a dated `api_version` the call goes to
//! `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…`
//! (the body without `model`); with `v1` (or `preview`) to
//! `{endpoint}/openai/v1/chat/completions`, with the deployment as `model`.
//! Azure's content filter is fail-closed: a choice whose
//! `content_filter_results` (or a prompt whose `prompt_filter_results`) say
//! `filtered: true` stops as [`StopReason::ContentFilter`], like
//! `finish_reason: content_filter`; a prompt the filter refuses outright is
//! a 400 `content_filter`, which `http.rs` names and never retries.

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::chat::{CallError, ChatRequest, ChatResponse, Provider, StopReason};
use super::http::{Connection, filtered_categories};
use super::key::ApiKey;
use super::openai;
use crate::workspace::config::deployment_ok;

/// Which of Azure's two URL shapes a provider calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Api {
    /// `/openai/deployments/{d}/…?api-version=VERSION`.
    Deployments { version: String },
    /// `/openai/v1/…`, with `?api-version=preview` for `preview`.
    V1 { preview: bool },
}

impl Api {
    /// The API version a provider block asks for (default [`DEFAULT_API_VERSION`]).
    pub(crate) fn of(p: &crate::workspace::config::Provider) -> Api {
        match p.api_version.as_deref() {
            Some("v1") => Api::V1 { preview: false },
            Some("preview") => Api::V1 { preview: true },
            Some(v) => Api::Deployments {
                version: v.to_string(),
            },
            None => Api::Deployments {
                version: DEFAULT_API_VERSION.to_string(),
            },
        }
    }

    /// The model list, relative to the endpoint: `doctor`'s cheap
    /// authenticated request.
    pub(crate) fn models_path(&self) -> String {
        match self {
            Api::Deployments { version } => format!("/openai/models?api-version={version}"),
            Api::V1 { preview: false } => "/openai/v1/models".into(),
            Api::V1 { preview: true } => "/openai/v1/models?api-version=preview".into(),
        }
    }

    /// The chat-completions URL for a deployment, relative to the endpoint.
    fn chat_path(&self, deployment: &str) -> String {
        match self {
            Api::Deployments { version } => {
                format!("/openai/deployments/{deployment}/chat/completions?api-version={version}")
            }
            Api::V1 { preview: false } => "/openai/v1/chat/completions".into(),
            Api::V1 { preview: true } => "/openai/v1/chat/completions?api-version=preview".into(),
        }
    }
}

/// The API version used when `api_version` is not set: the newest GA
/// version of the dated API.
pub(crate) const DEFAULT_API_VERSION: &str = "2024-10-21";

pub(crate) struct Azure {
    /// Its base URL is the endpoint; URLs are made per request.
    conn: Connection,
    api: Api,
    deployment: Option<String>,
    deployments: BTreeMap<String, String>,
}

impl Azure {
    pub(crate) fn new(conn: Connection, p: &crate::workspace::config::Provider) -> Azure {
        Azure {
            conn,
            api: Api::of(p),
            deployment: p.deployment.clone(),
            deployments: p.deployments.clone().unwrap_or_default(),
        }
    }

    /// The deployment a request for `model` calls.
    fn deployment_for<'a>(&'a self, model: &'a str) -> &'a str {
        self.deployments
            .get(model)
            .or(self.deployment.as_ref())
            .map_or(model, String::as_str)
    }
}

/// Adds the key as Azure's `api-key` header (marked sensitive), when there is one.
pub(crate) fn auth(r: reqwest::RequestBuilder, key: Option<&ApiKey>) -> reqwest::RequestBuilder {
    let Some(k) = key else { return r };
    match reqwest::header::HeaderValue::from_str(k.expose()) {
        Ok(mut value) => {
            value.set_sensitive(true);
            r.header("api-key", value)
        }
        // A key that cannot be a header (a control character in it) is not
        // sent; the server's 401 then names the variable it came from.
        Err(_) => r.header("api-key", ""),
    }
}

/// The answer, read as OpenAI's, then failed closed on Azure's filter
/// annotations.
pub(crate) fn parse(provider: &str, v: &Value) -> Result<ChatResponse, CallError> {
    let mut answer = openai::parse(provider, v)?;
    if !filtered(v).is_empty() {
        answer.stop_reason = Some(StopReason::ContentFilter);
    }
    Ok(answer)
}

/// The categories Azure's filter flagged, on the first choice's output or on
/// any prompt.
fn filtered(v: &Value) -> Vec<String> {
    let mut out = v
        .pointer("/choices/0/content_filter_results")
        .map(filtered_categories)
        .unwrap_or_default();
    for p in v
        .get("prompt_filter_results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(r) = p.get("content_filter_results") {
            out.extend(filtered_categories(r));
        }
    }
    out
}

impl Provider for Azure {
    fn complete<'a>(
        &'a self,
        req: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, CallError>> {
        Box::pin(async move {
            let deployment = self.deployment_for(&req.model.name);
            if !deployment_ok(deployment) {
                return Err(CallError::Fatal(format!(
                    "provider `{}`: `{deployment}` is not an Azure deployment name \
                     (letters, digits, `.`, `_` and `-`); map the model to one with \
                     `deployments:` or `deployment:`",
                    self.conn.name
                )));
            }
            let mut body = openai::body(req);
            let obj = body.as_object_mut().expect("an object");
            match self.api {
                Api::Deployments { .. } => {
                    obj.remove("model");
                }
                Api::V1 { .. } => {
                    obj.insert("model".into(), Value::from(deployment));
                }
            }
            let url = format!("{}{}", self.conn.base_url, self.api.chat_path(deployment));
            let v = self.conn.post_to(&url, auth, &body).await?;
            parse(&self.conn.name, &v)
        })
    }

    fn identity(&self) -> Value {
        let api_version = match &self.api {
            Api::Deployments { version } => version.as_str(),
            Api::V1 { preview: false } => "v1",
            Api::V1 { preview: true } => "preview",
        };
        json!({
            "type": "azure_openai",
            "base_url": self.conn.base_url,
            "api_version": api_version,
            "deployment": self.deployment,
            "deployments": self.deployments,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(api_version: Option<&str>) -> crate::workspace::config::Provider {
        let text = match api_version {
            Some(v) => {
                format!("{{ type: azure_openai, base_url: \"https://r\", api_version: {v} }}")
            }
            None => "{ type: azure_openai, base_url: \"https://r\" }".into(),
        };
        serde_yaml::from_str(&text).unwrap()
    }

    #[test]
    fn paths_by_api_version() {
        let api = Api::of(&provider(None));
        assert_eq!(
            api.chat_path("gpt-4o-mini"),
            "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(api.models_path(), "/openai/models?api-version=2024-10-21");
        let api = Api::of(&provider(Some("2025-04-01-preview")));
        assert_eq!(
            api.chat_path("d"),
            "/openai/deployments/d/chat/completions?api-version=2025-04-01-preview"
        );
        let api = Api::of(&provider(Some("v1")));
        assert_eq!(api.chat_path("d"), "/openai/v1/chat/completions");
        assert_eq!(api.models_path(), "/openai/v1/models");
        let api = Api::of(&provider(Some("preview")));
        assert_eq!(
            api.chat_path("d"),
            "/openai/v1/chat/completions?api-version=preview"
        );
    }

    #[test]
    fn a_filtered_choice_or_prompt_stops_as_content_filter() {
        let answer = |extra: Value| {
            let mut v = json!({
                "choices": [{ "index": 0, "finish_reason": "stop",
                    "message": { "role": "assistant", "content": "hi" } }],
            });
            for (k, x) in extra.as_object().unwrap() {
                if k == "content_filter_results" {
                    v["choices"][0][k] = x.clone();
                } else {
                    v[k] = x.clone();
                }
            }
            parse("azure", &v).unwrap().stop_reason
        };
        let clean = json!({ "hate": { "filtered": false, "severity": "safe" } });
        assert_eq!(
            answer(json!({ "content_filter_results": clean,
                "prompt_filter_results": [{ "prompt_index": 0, "content_filter_results": clean }] })),
            Some(StopReason::Stop)
        );
        assert_eq!(
            answer(
                json!({ "content_filter_results": { "violence": { "filtered": true, "severity": "medium" } } })
            ),
            Some(StopReason::ContentFilter)
        );
        assert_eq!(
            answer(json!({ "prompt_filter_results": [{ "prompt_index": 0,
                "content_filter_results": { "jailbreak": { "filtered": true, "detected": true } } }] })),
            Some(StopReason::ContentFilter)
        );
    }
}
