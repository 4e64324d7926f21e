//! The fake server's own tests: every protocol, every fault, seen from reqwest
//! (as promptctl sees it) and, for socket behaviour, from a raw TCP stream.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn openai_body(user: &str) -> Value {
    json!({
        "model": "gpt-4o-mini",
        "messages": [
            { "role": "system", "content": "Be brief." },
            { "role": "user", "content": user },
        ],
        "temperature": 0.0,
        "max_tokens": 400,
        "seed": 42,
    })
}

fn anthropic_body(user: &str) -> Value {
    json!({
        "model": "claude-3-5-haiku-latest",
        "system": "Be brief.",
        "messages": [{ "role": "user", "content": [{ "type": "text", "text": user }] }],
        "max_tokens": 400,
        "temperature": 0.0,
    })
}

async fn openai(
    server: &FakeServer,
    client: &reqwest::Client,
    user: &str,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("{}/chat/completions", server.openai_base_url()))
        .bearer_auth("sk-test")
        .json(&openai_body(user))
        .send()
        .await
}

async fn anthropic(
    server: &FakeServer,
    client: &reqwest::Client,
    user: &str,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("{}/v1/messages", server.anthropic_base_url()))
        .header("x-api-key", "sk-ant-test")
        .header("anthropic-version", "2023-06-01")
        .json(&anthropic_body(user))
        .send()
        .await
}

/// Sends raw bytes on a fresh connection and reads until the server closes
/// it or `timeout` passes; returns what was read and whether it closed.
fn raw(server: &FakeServer, request: &[u8], timeout: Duration) -> (String, bool) {
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream.write_all(request).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break false;
            }
            Err(_) => break true,
        }
    };
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

#[tokio::test]
async fn openai_answers_in_the_chat_completion_envelope() {
    let server = FakeServer::start(FakeConfig::default());
    let response = openai(&server, &client(), "hello there").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["object"], "chat.completion");
    assert!(body["created"].as_u64().unwrap() > 1_700_000_000);
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["choices"][0]["index"], 0);
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "echo: hello there"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    // "Be brief." + "hello there" in, "echo: hello there" out
    assert_eq!(
        body["usage"],
        json!({ "prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7 })
    );

    let recorded = server.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].method, "POST");
    assert_eq!(recorded[0].path, "/v1/chat/completions");
    assert_eq!(recorded[0].header("Authorization"), Some("Bearer sk-test"));
    assert_eq!(recorded[0].body, openai_body("hello there"));
    assert_eq!(recorded[0].fault, None);
}

#[tokio::test]
async fn anthropic_answers_in_the_messages_envelope() {
    let server = FakeServer::start(FakeConfig::responding(|call| {
        format!(
            "{:?}|{}|{}|{:?}",
            call.api, call.model, call.system, call.messages
        )
    }));
    let response = anthropic(&server, &client(), "hi").await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("request-id"));
    let body: Value = response.json().await.unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "claude-3-5-haiku-latest");
    assert_eq!(body["content"][0]["type"], "text");
    assert_eq!(
        body["content"][0]["text"],
        r#"Anthropic|claude-3-5-haiku-latest|Be brief.|[("user", "hi")]"#
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["usage"]["input_tokens"], 3);
    assert_eq!(body["usage"]["output_tokens"], 3);

    let recorded = &server.requests()[0];
    assert_eq!(recorded.path, "/v1/messages");
    assert_eq!(recorded.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(recorded.header("anthropic-version"), Some("2023-06-01"));
}

#[tokio::test]
async fn openai_system_messages_reach_the_responder_as_system() {
    let server = FakeServer::start(FakeConfig::responding(|call| {
        format!("{}|{:?}", call.system, call.messages)
    }));
    let body = json!({
        "model": "gpt-4o",
        "messages": [
            { "role": "system", "content": "one" },
            { "role": "developer", "content": [{ "type": "text", "text": "two" }] },
            { "role": "user", "content": "q" },
            { "role": "assistant", "content": "a" },
            { "role": "user", "content": "q2" },
        ],
    });
    let response = client()
        .post(format!("{}/chat/completions", server.openai_base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        r#"one

two|[("user", "q"), ("assistant", "a"), ("user", "q2")]"#
    );
}

#[tokio::test]
async fn invalid_requests_get_400_in_each_api_shape() {
    let server = FakeServer::start(FakeConfig::default());
    let client = client();

    let no_model = client
        .post(format!("{}/chat/completions", server.openai_base_url()))
        .json(&json!({ "messages": [{ "role": "user", "content": "x" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(no_model.status(), 400);
    let body: Value = no_model.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(
        body["error"]["message"],
        "you must provide a model parameter"
    );

    let no_version = client
        .post(format!("{}/v1/messages", server.anthropic_base_url()))
        .header("x-api-key", "k")
        .json(&anthropic_body("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_version.status(), 400);
    let body: Value = no_version.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(
        body["error"]["message"],
        "anthropic-version: header is required"
    );

    let mut no_max_tokens = anthropic_body("x");
    no_max_tokens.as_object_mut().unwrap().remove("max_tokens");
    let response = client
        .post(format!("{}/v1/messages", server.anthropic_base_url()))
        .header("anthropic-version", "2023-06-01")
        .json(&no_max_tokens)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "max_tokens: Field required");

    let not_json = client
        .post(format!("{}/chat/completions", server.openai_base_url()))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    assert_eq!(server.requests()[3].body, Value::String("{nope".into()));

    let unknown = client
        .get(format!("{}/nope", server.openai_base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(server.requests().len(), 5);
}

#[tokio::test]
async fn status_faults_use_each_api_error_shape() {
    let server = FakeServer::start(FakeConfig::default());
    let client = client();
    server.push_faults([Fault::Status(500), Fault::Status(529), Fault::Status(503)]);

    let response = openai(&server, &client, "x").await.unwrap();
    assert_eq!(response.status(), 500);
    assert!(response.headers().get("retry-after").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "server_error");
    assert!(body["error"]["message"].is_string());
    assert!(body["error"].as_object().unwrap().contains_key("code"));

    let response = anthropic(&server, &client, "x").await.unwrap();
    assert_eq!(response.status(), 529);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "overloaded_error");
    assert_eq!(body["error"]["message"], "Overloaded");

    let response = anthropic(&server, &client, "x").await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "api_error");

    // The queue is empty: a normal answer.
    assert_eq!(openai(&server, &client, "x").await.unwrap().status(), 200);
    let faults: Vec<_> = server.requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(
        faults,
        [
            Some(Fault::Status(500)),
            Some(Fault::Status(529)),
            Some(Fault::Status(503)),
            None
        ]
    );
}

#[tokio::test]
async fn unauthorized_is_the_real_401_of_each_api() {
    let server = FakeServer::start(FakeConfig {
        always: Some(Fault::Unauthorized),
        ..FakeConfig::default()
    });
    let client = client();
    let response = openai(&server, &client, "x").await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        !body.to_string().contains("sk-test"),
        "the key is never echoed"
    );

    let response = anthropic(&server, &client, "x").await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "authentication_error");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn rate_limited_sends_its_retry_after() {
    let server = FakeServer::start(FakeConfig::default());
    let client = client();
    let date = "Wed, 21 Oct 2015 07:28:00 GMT";
    server.push_faults([
        Fault::RateLimited {
            retry_after: "7".into(),
        },
        Fault::RateLimited {
            retry_after: date.into(),
        },
    ]);
    let response = openai(&server, &client, "x").await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");

    let response = anthropic(&server, &client, "x").await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], date);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
}

#[tokio::test]
async fn drop_is_a_connection_error_not_a_status() {
    let server = FakeServer::start(FakeConfig::default());
    let client = client();
    // A pooled connection first, so the drop hits a reused one.
    assert_eq!(
        openai(&server, &client, "warm").await.unwrap().status(),
        200
    );
    server.push_faults([Fault::Drop]);
    let err = openai(&server, &client, "x").await.unwrap_err();
    assert!(err.is_request(), "{err:?}");
    assert!(!err.is_timeout() && err.status().is_none(), "{err:?}");
    // Not retried under the hood: the server saw exactly one more request.
    assert_eq!(server.request_count(), 2);
    // The client recovers on a new connection.
    assert_eq!(
        openai(&server, &client, "again").await.unwrap().status(),
        200
    );
    assert_eq!(server.connections(), 2);

    server.push_faults([Fault::Drop]);
    let err = anthropic(&server, &client, "x").await.unwrap_err();
    assert!(err.is_request(), "{err:?}");
    assert_eq!(server.requests()[3].fault, Some(Fault::Drop));
}

#[test]
fn drop_closes_the_socket_without_a_byte() {
    let server = FakeServer::start(FakeConfig {
        always: Some(Fault::Drop),
        ..FakeConfig::default()
    });
    let body = openai_body("x").to_string();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let (out, closed) = raw(&server, request.as_bytes(), Duration::from_secs(5));
    assert_eq!((out.as_str(), closed), ("", true));
    assert_eq!(server.requests()[0].body, openai_body("x"));
}

#[tokio::test]
async fn hang_holds_the_request_until_the_client_gives_up() {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([Fault::Hang]);
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = openai(&server, &client, "x").await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(server.request_count(), 1);
    // The server notices the client leaving.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.in_flight() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.in_flight(), 0);
    assert_eq!(openai(&server, &client, "x").await.unwrap().status(), 200);
}

#[test]
fn hang_never_answers_and_keeps_the_socket_open() {
    let server = FakeServer::start(FakeConfig {
        always: Some(Fault::Hang),
        ..FakeConfig::default()
    });
    let (out, closed) = raw(
        &server,
        b"GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n",
        Duration::from_millis(300),
    );
    assert_eq!((out.as_str(), closed), ("", false));
    assert_eq!(server.requests()[0].path, "/v1/models");
}

#[tokio::test]
async fn malformed_is_200_with_a_body_that_is_not_json() {
    let server = FakeServer::start(FakeConfig::default());
    let client = client();
    server.push_faults([Fault::Malformed, Fault::Malformed]);
    for response in [
        openai(&server, &client, "x").await,
        anthropic(&server, &client, "x").await,
    ] {
        let response = response.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let text = response.text().await.unwrap();
        assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    }
}

#[tokio::test]
async fn reply_and_queue_order() {
    let server = FakeServer::start(FakeConfig::default());
    let client = client();
    server.push_faults([
        Fault::Reply("scripted {\"a\":1}".into()),
        Fault::Status(500),
    ]);
    assert_eq!(server.pending_faults(), 2);
    let body: Value = anthropic(&server, &client, "x")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["content"][0]["text"], "scripted {\"a\":1}");
    assert_eq!(openai(&server, &client, "x").await.unwrap().status(), 500);
    let body: Value = openai(&server, &client, "x")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "echo: x");
    assert_eq!(server.pending_faults(), 0);
}

#[tokio::test]
async fn models_lists_gpt_4o_mini() {
    let server = FakeServer::start(FakeConfig::default());
    let response = client()
        .get(format!("{}/models", server.openai_base_url()))
        .bearer_auth("k")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "list");
    assert_eq!(
        body["data"][0],
        json!({
            "id": "gpt-4o-mini",
            "object": "model",
            "created": 1721172741,
            "owned_by": "system",
        })
    );
}

#[tokio::test]
async fn rps_limit_answers_429_past_the_limit() {
    let server = FakeServer::start(FakeConfig {
        rps_limit: Some(3),
        ..FakeConfig::default()
    });
    let client = client();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            openai(&server, &client, "x")
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    assert_eq!(server.rps_limited(), 2);
    assert_eq!(server.request_count(), 5);
    let limited = &server.requests()[3];
    assert_eq!(
        limited.fault,
        Some(Fault::RateLimited {
            retry_after: "1".into()
        })
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let response = openai(&server, &client, "x").await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn latency_does_not_serialize_200_concurrent_requests() {
    let server = FakeServer::start(FakeConfig {
        latency: Duration::from_millis(1000),
        ..FakeConfig::default()
    });
    let client = client();
    let started = Instant::now();
    let calls = (0..200).map(|i| {
        let client = client.clone();
        let server = &server;
        async move {
            let response = openai(server, &client, &format!("n{i}")).await.unwrap();
            let body: Value = response.json().await.unwrap();
            assert_eq!(
                body["choices"][0]["message"]["content"],
                format!("echo: n{i}")
            );
        }
    });
    futures_util::future::join_all(calls).await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(1000));
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(server.peak_concurrency(), 200);
    assert_eq!(server.request_count(), 200);
    // Keep-alive: the pool reuses these connections.
    let again = (0..20).map(|_| openai(&server, &client, "x"));
    for response in futures_util::future::join_all(again).await {
        assert_eq!(response.unwrap().status(), 200);
    }
    assert_eq!(server.connections(), 200);
}

#[test]
fn chunked_and_pipelined_requests() {
    let server = FakeServer::start(FakeConfig::default());
    let body = openai_body("chunky").to_string();
    let (a, b) = body.split_at(10);
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n\
         {:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\n\
         GET /v1/models HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        a.len(),
        b.len()
    );
    let (out, closed) = raw(&server, request.as_bytes(), Duration::from_secs(5));
    assert!(closed);
    assert_eq!(out.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{out}");
    assert!(out.contains("echo: chunky"), "{out}");
    assert!(out.contains("connection: close\r\n"), "{out}");
    assert_eq!(server.requests()[0].body, openai_body("chunky"));
    assert_eq!(server.connections(), 1);
}

#[test]
fn garbage_gets_400_and_a_close() {
    let server = FakeServer::start(FakeConfig::default());
    let (out, closed) = raw(&server, b"NONSENSE\r\n\r\n", Duration::from_secs(5));
    assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
    assert!(closed);
}

#[test]
fn a_panicking_responder_is_a_500_not_a_dropped_connection() {
    let server = FakeServer::start(FakeConfig::responding(|_| panic!("boom")));
    let body = openai_body("x").to_string();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let (out, _) = raw(&server, request.as_bytes(), Duration::from_secs(5));
    assert!(out.starts_with("HTTP/1.1 500 "), "{out}");
    assert!(out.contains("the responder panicked: boom"), "{out}");
}

#[test]
fn dropping_the_server_closes_hung_connections() {
    let server = FakeServer::start(FakeConfig {
        always: Some(Fault::Hang),
        ..FakeConfig::default()
    });
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream
        .write_all(b"GET /v1/models HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    while server.request_count() == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(server);
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(matches!(stream.read(&mut buf), Ok(0) | Err(_)));
}

#[tokio::test]
async fn huge_answers_come_with_or_without_a_length() {
    let server = FakeServer::start(FakeConfig::default());
    let client = client();
    server.push_faults([
        Fault::Huge {
            bytes: 100_000,
            chunked: false,
        },
        Fault::Huge {
            bytes: 100_000,
            chunked: true,
        },
    ]);
    for chunked in [false, true] {
        let response = openai(&server, &client, "x").await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.content_length().is_none(), chunked);
        let body: Value = response.json().await.unwrap();
        let content = body["choices"][0]["message"]["content"].as_str().unwrap();
        assert_eq!(content.len(), 100_000);
    }
    // Keep-alive survives a chunked answer.
    assert_eq!(openai(&server, &client, "x").await.unwrap().status(), 200);
}

#[tokio::test]
async fn rate_limited_ms_sends_retry_after_ms() {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([Fault::RateLimitedMs {
        retry_after_ms: "86400000".into(),
    }]);
    let response = openai(&server, &client(), "x").await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after-ms"], "86400000");
    assert!(response.headers().get("retry-after").is_none());
}

#[tokio::test]
async fn hold_answers_once_enough_requests_are_in_flight() {
    let server = FakeServer::start(FakeConfig {
        hold: Some(Hold {
            requests: 2,
            at_most: Duration::from_secs(60),
        }),
        ..FakeConfig::default()
    });
    let client = client();
    // Neither is answered before the other arrives; a barrier that did not
    // release would time this test out, not pass it.
    let (a, b) = tokio::join!(
        openai(&server, &client, "a"),
        anthropic(&server, &client, "b")
    );
    assert_eq!(a.unwrap().status(), 200);
    assert_eq!(b.unwrap().status(), 200);
    assert_eq!(server.peak_concurrency(), 2);
    assert_eq!(server.held_out(), 0);

    let lonely = FakeServer::start(FakeConfig {
        hold: Some(Hold {
            requests: 2,
            at_most: Duration::from_millis(200),
        }),
        ..FakeConfig::default()
    });
    let started = Instant::now();
    let response = openai(&lonely, &client, "alone").await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(lonely.held_out(), 1, "answered when `at_most` ran out");
}

#[tokio::test]
async fn azure_paths_speak_openai_after_checking_key_and_version() {
    let server = FakeServer::start(FakeConfig::default());
    let client = client();
    let base = server.anthropic_base_url();
    let deployment = format!("{base}/openai/deployments/prod-mini/chat/completions");
    let mut body = openai_body("hi");
    body.as_object_mut().unwrap().remove("model");
    // No key: Azure's 401; no api-version on the dated API: its 404.
    let r = client
        .post(format!("{deployment}?api-version=2024-10-21"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "401");
    let r = client
        .post(&deployment)
        .header("api-key", "k")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Both: the deployment is the model, and the answer carries filter results.
    let r = client
        .post(format!("{deployment}?api-version=2024-10-21"))
        .header("api-key", "k")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["model"], "prod-mini");
    assert_eq!(v["choices"][0]["message"]["content"], "echo: hi");
    assert_eq!(
        v["choices"][0]["content_filter_results"]["hate"]["filtered"],
        false
    );
    assert_eq!(v["prompt_filter_results"][0]["prompt_index"], 0);
    // The v1 API needs no version; the model list is at both.
    let r = client
        .post(format!("{base}/openai/v1/chat/completions"))
        .header("api-key", "k")
        .json(&openai_body("v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for path in ["/openai/models?api-version=2024-10-21", "/openai/v1/models"] {
        let r = client
            .get(format!("{base}{path}"))
            .header("api-key", "k")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let recorded = server.requests();
    assert_eq!(
        recorded[2].path,
        "/openai/deployments/prod-mini/chat/completions"
    );
    assert_eq!(recorded[2].query, "api-version=2024-10-21");
    assert_eq!(recorded[1].query, "");
    // Azure's content-filter 400.
    server.push_faults([Fault::ContentFilter]);
    let r = client
        .post(format!("{deployment}?api-version=2024-10-21"))
        .header("api-key", "k")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "content_filter");
    assert_eq!(
        v["error"]["innererror"]["content_filter_result"]["violence"]["filtered"],
        true
    );
}

async fn gemini(server: &FakeServer, key: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = client().post(format!(
        "{}/v1beta/models/gemini-2.5-flash:generateContent",
        server.gemini_base_url()
    ));
    if let Some(key) = key {
        request = request.header("x-goog-api-key", key);
    }
    let response = request.json(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn gemini_generate_content_round_trip() {
    let server = FakeServer::start(FakeConfig::agent(|call| match call.results.as_slice() {
        [] => Reply::calls(0, &[("lookup", r#"{"id":"A1"}"#)]),
        [r] => Reply::text(format!(
            "{:?}|{}|{:?}|{}",
            call.api, call.system, call.tools, r.content
        )),
        _ => panic!("too many results"),
    }));
    let ask = json!({
        "systemInstruction": { "parts": [{ "text": "Be brief." }] },
        "contents": [{ "role": "user", "parts": [{ "text": "hi" }] }],
        "tools": [{ "functionDeclarations": [{ "name": "lookup", "parametersJsonSchema": { "type": "object" } }] }],
    });
    let (status, body) = gemini(&server, Some("AIzaTest"), &ask).await;
    assert_eq!(status, 200, "{body}");
    let part = &body["candidates"][0]["content"]["parts"][0];
    assert_eq!(
        part["functionCall"],
        json!({ "name": "lookup", "args": { "id": "A1" } })
    );
    assert!(part["thoughtSignature"].is_string(), "{part}");
    assert_eq!(body["candidates"][0]["finishReason"], "STOP");
    assert!(body["usageMetadata"]["promptTokenCount"].is_u64(), "{body}");

    let mut again = ask.clone();
    again["contents"] = json!([
        { "role": "user", "parts": [{ "text": "hi" }] },
        { "role": "model", "parts": [part] },
        { "role": "user", "parts": [{ "functionResponse": { "name": "lookup", "response": { "output": "shipped" } } }] },
    ]);
    let (status, body) = gemini(&server, Some("AIzaTest"), &again).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["candidates"][0]["content"]["parts"][0]["text"],
        r#"Gemini|Be brief.|["lookup"]|shipped"#
    );
}

#[tokio::test]
async fn gemini_refuses_what_the_real_api_refuses() {
    let server = FakeServer::start(FakeConfig::default());
    let ok = json!({ "contents": [{ "role": "user", "parts": [{ "text": "hi" }] }] });
    let (status, body) = gemini(&server, None, &ok).await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    let (status, body) = gemini(&server, Some("sk-not-google"), &ok).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["details"][0]["reason"], "API_KEY_INVALID");
    for bad in [
        json!({ "contents": [] }),
        json!({ "contents": [{ "role": "assistant", "parts": [{ "text": "hi" }] }] }),
        json!({ "contents": [{ "role": "user", "parts": [] }] }),
        json!({ "contents": [
            { "role": "user", "parts": [{ "text": "hi" }] },
            { "role": "model", "parts": [{ "text": "a" }] },
            { "role": "model", "parts": [{ "text": "b" }] },
        ] }),
        // A response to a call that was never made.
        json!({ "contents": [
            { "role": "user", "parts": [{ "text": "hi" }] },
            { "role": "model", "parts": [{ "text": "a" }] },
            { "role": "user", "parts": [{ "functionResponse": { "name": "x", "response": {} } }] },
        ] }),
    ] {
        let (status, body) = gemini(&server, Some("AIzaTest"), &bad).await;
        assert_eq!(status, 400, "{bad} -> {body}");
        assert_eq!(body["error"]["status"], "INVALID_ARGUMENT", "{body}");
    }
    let models = client()
        .get(format!("{}/v1beta/models", server.gemini_base_url()))
        .header("x-goog-api-key", "AIzaTest")
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 200);
    let models: Value = models.json().await.unwrap();
    assert_eq!(models["models"][0]["name"], "models/gemini-2.5-flash");
}
