//! The scripted tool loop and multi-turn cases, against the fake server in
//! both wire formats: results go back in each API's shape, a loop ends in a
//! final answer or in an error (out of turns, no scripted result), never in
//! a silent pass; a case's prior `messages:` follow the prompt's; a
//! recorded loop replays offline; a key the model puts in a call's
//! arguments is written nowhere.

use serde_json::{Value, json};

use crate::fake::{Api, ChatCall, FakeConfig, FakeServer, Reply};
use crate::tools::{
    ANTHROPIC_KEY, BOTH, CASSETTE, OPENAI_KEY, SYSTEM_TEXT, anthropic_body, case, chat_bodies,
    eval, eval_cached, no_run_saved, openai_body, order_tools, reason, run_file, suite, workspace,
};
use crate::util::{Run, files_under};

/// Three turns: text and a lookup, then a refund, then the final answer,
/// built from the two results the model was sent.
fn lookup_then_refund(call: &ChatCall) -> Reply {
    match call.results.as_slice() {
        [] => Reply {
            content: Some("Let me look that up.".into()),
            ..Reply::calls(0, &[("lookup_order", r#"{"order_id":"A1"}"#)])
        },
        [_] => Reply::calls(1, &[("request_refund", r#"{"order_id":"A1","amount":5}"#)]),
        [looked, refunded] => Reply::text(format!(
            "Order A1: {}. Refund: {}.",
            looked.content, refunded.content
        )),
        more => panic!("{} results: the loop went on", more.len()),
    }
}

/// The case that runs [`lookup_then_refund`] to its end: text assertions
/// on the final answer, tool assertions on the calls of every turn.
const LOOP_CASE: &str = "  - id: loop\n    \
    vars: { question: \"Where is order A1? Refund 5.\" }\n    \
    tools: { lookup_order: { status: shipped }, request_refund: \"R-9 issued\" }\n    \
    assert:\n      \
    - { type: contains, value: \"Order A1: {\\\"status\\\":\\\"shipped\\\"}. Refund: R-9 issued.\" }\n      \
    - { type: not_contains, value: \"look that up\" }\n      \
    - { type: tool_sequence, value: { names: [lookup_order, request_refund], mode: exact } }\n      \
    - { type: tool_called, value: { name: lookup_order, times: 1 } }\n      \
    - { type: valid_tool_calls }\n";

/// A message of a request body, parsed back where OpenAI sends a string:
/// each call's `arguments` as JSON.
fn with_parsed_arguments(mut m: Value) -> Value {
    if let Some(calls) = m.get_mut("tool_calls").and_then(Value::as_array_mut) {
        for c in calls {
            let args = c["function"]["arguments"].as_str().expect("a string");
            c["function"]["arguments"] = serde_json::from_str(args).expect("JSON arguments");
        }
    }
    m
}

fn messages(body: &Value) -> Vec<Value> {
    body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .cloned()
        .map(with_parsed_arguments)
        .collect()
}

#[test]
fn a_scripted_loop_reaches_a_final_answer_with_results_in_each_apis_shape() {
    let server = FakeServer::start(FakeConfig::agent(lookup_then_refund));
    let ws = workspace(&server, Some(&order_tools()));
    for provider in BOTH {
        suite(&ws, provider, &format!("cases:\n{LOOP_CASE}"));
        let run = eval(&ws, &[]);
        run.code(0);
        let file = run_file(&ws, &run);
        let c = case(&file, "loop");
        assert_eq!(c["passed"], true, "{provider}: {c}");
        assert_eq!(c["turns"], 3, "{provider}: {c}");
        assert_eq!(c["tool_calls"], 2, "{provider}: {c}");
        assert_eq!(
            c["output"], "Order A1: {\"status\":\"shipped\"}. Refund: R-9 issued.",
            "{provider}"
        );
        assert_eq!(
            c["transcript"],
            json!([
                { "role": "assistant", "content": "Let me look that up.", "tool_calls": [
                    { "id": "call_1", "name": "lookup_order", "arguments": { "order_id": "A1" } }] },
                { "role": "tool", "content": "{\"status\":\"shipped\"}", "tool_call_id": "call_1" },
                { "role": "assistant", "content": "", "tool_calls": [
                    { "id": "call_2", "name": "request_refund", "arguments": { "order_id": "A1", "amount": 5 } }] },
                { "role": "tool", "content": "R-9 issued", "tool_call_id": "call_2" },
                { "role": "assistant", "content": "Order A1: {\"status\":\"shipped\"}. Refund: R-9 issued." },
            ]),
            "{provider}"
        );
    }
    let bodies = chat_bodies(&server);
    assert_eq!(bodies.len(), 6, "three model calls per API");
    let (openai, anthropic) = (&bodies[..3], &bodies[3..]);
    for body in openai.iter().chain(anthropic) {
        assert_eq!(body["tools"].as_array().map(Vec::len), Some(3), "{body}");
    }

    // OpenAI: the calls as `tool_calls`, each result a `tool` message naming
    // its call.
    let question = json!({ "role": "user", "content": "Where is order A1? Refund 5." });
    let system = json!({ "role": "system", "content": SYSTEM_TEXT });
    let turn1 = json!({ "role": "assistant", "content": "Let me look that up.", "tool_calls": [
        { "id": "call_1", "type": "function",
          "function": { "name": "lookup_order", "arguments": { "order_id": "A1" } } }] });
    let result1 =
        json!({ "role": "tool", "tool_call_id": "call_1", "content": "{\"status\":\"shipped\"}" });
    assert_eq!(messages(&openai[0]), vec![system.clone(), question.clone()]);
    assert_eq!(
        messages(&openai[1]),
        vec![
            system.clone(),
            question.clone(),
            turn1.clone(),
            result1.clone()
        ]
    );
    assert_eq!(
        messages(&openai[2]),
        vec![
            system,
            question.clone(),
            turn1,
            result1,
            json!({ "role": "assistant", "content": null, "tool_calls": [
                { "id": "call_2", "type": "function",
                  "function": { "name": "request_refund", "arguments": { "order_id": "A1", "amount": 5 } } }] }),
            json!({ "role": "tool", "tool_call_id": "call_2", "content": "R-9 issued" }),
        ]
    );

    // Anthropic: the calls as `tool_use` blocks, each result a
    // `tool_result` block in a user turn, naming the call by `tool_use_id`.
    assert_eq!(anthropic[1]["system"], SYSTEM_TEXT);
    let turn1 = json!({ "role": "assistant", "content": [
        { "type": "text", "text": "Let me look that up." },
        { "type": "tool_use", "id": "call_1", "name": "lookup_order", "input": { "order_id": "A1" } }] });
    let result1 = json!({ "role": "user", "content": [
        { "type": "tool_result", "tool_use_id": "call_1", "content": "{\"status\":\"shipped\"}" }] });
    assert_eq!(
        messages(&anthropic[1]),
        vec![question.clone(), turn1.clone(), result1.clone()]
    );
    assert_eq!(
        messages(&anthropic[2]),
        vec![
            question,
            turn1,
            result1,
            json!({ "role": "assistant", "content": [
                { "type": "tool_use", "id": "call_2", "name": "request_refund",
                  "input": { "order_id": "A1", "amount": 5 } }] }),
            json!({ "role": "user", "content": [
                { "type": "tool_result", "tool_use_id": "call_2", "content": "R-9 issued" }] }),
        ]
    );
}

/// A model that never stops calling `lookup_order`.
fn always_looking(call: &ChatCall) -> Reply {
    Reply::calls(
        call.calls.len(),
        &[("lookup_order", r#"{"order_id":"A1"}"#)],
    )
}

#[test]
fn a_model_that_keeps_calling_tools_runs_out_of_turns_and_errors() {
    let server = FakeServer::start(FakeConfig::agent(always_looking));
    let ws = workspace(&server, Some(&order_tools()));
    // An assertion the calls would pass: running out is still no pass.
    let case_of = |id: &str, extra: &str| {
        format!(
            "  - {{ id: {id}, vars: {{ question: \"Where is A1? ({id})\" }}, {extra}tools: {{ lookup_order: {{ status: pending }} }}, \
             assert: [{{ type: tool_called, value: lookup_order }}] }}\n"
        )
    };
    let mut sent = 0;
    for provider in BOTH {
        suite(
            &ws,
            provider,
            &format!(
                "defaults: {{ max_turns: 3 }}\ncases:\n{}{}",
                case_of("suite-default", ""),
                case_of("own", "max_turns: 2, ")
            ),
        );
        let run = eval(&ws, &[]);
        run.code(3).stdout_has("ran out of turns");
        let file = run_file(&ws, &run);
        for (id, turns) in [("suite-default", 3usize), ("own", 2)] {
            let c = case(&file, id);
            assert_eq!(c["passed"], false, "{provider} {id}: {c}");
            assert_eq!(
                c["error"],
                format!(
                    "ran out of turns: the model was still calling tools after {turns} model calls (`max_turns`)"
                ),
                "{provider} {id}"
            );
            assert_eq!(c["turns"], turns, "{provider} {id}: {c}");
            assert_eq!(c["tool_calls"], turns, "{provider} {id}: {c}");
            // Each turn's call, and the result of each but the last.
            let roles: Vec<&str> = c["transcript"]
                .as_array()
                .expect("a transcript")
                .iter()
                .map(|m| m["role"].as_str().unwrap_or_default())
                .collect();
            let mut want = ["assistant", "tool"].repeat(turns - 1);
            want.push("assistant");
            assert_eq!(roles, want, "{provider} {id}");
        }
        assert_eq!(file["summary"]["errors"], 2, "{provider}");
        assert_eq!(file["summary"]["passed"], 0, "{provider}");
        sent += 5;
        assert_eq!(
            server.request_count(),
            sent,
            "{provider}: 3 + 2 model calls"
        );
    }

    // Without `max_turns` anywhere, five model calls.
    suite(&ws, "fake", &format!("cases:\n{}", case_of("default", "")));
    let run = eval(&ws, &[]);
    run.code(3);
    let file = run_file(&ws, &run);
    assert_eq!(case(&file, "default")["turns"], 5);
    assert_eq!(server.request_count(), sent + 5);
}

#[test]
fn a_call_with_no_scripted_result_is_a_case_error() {
    let server = FakeServer::start(FakeConfig::agent(|call: &ChatCall| {
        if call.last_user().starts_with("unscripted") {
            Reply::calls(0, &[("escalate", r#"{"reason":"angry customer"}"#)])
        } else {
            // Two lookups in one turn; the script has one result.
            Reply::calls(
                0,
                &[
                    ("lookup_order", r#"{"order_id":"A1"}"#),
                    ("lookup_order", r#"{"order_id":"B2"}"#),
                ],
            )
        }
    }));
    let ws = workspace(&server, Some(&order_tools()));
    for (n, provider) in BOTH.into_iter().enumerate() {
        suite(
            &ws,
            provider,
            "cases:\n  \
             - { id: unscripted, vars: { question: \"unscripted: get me a human\" }, tools: { lookup_order: shipped }, \
                 assert: [{ type: tool_called, value: escalate }] }\n  \
             - { id: dry, vars: { question: \"dry: A1 and B2?\" }, tools: { lookup_order: [shipped] }, \
                 assert: [{ type: tool_called, value: lookup_order }] }\n",
        );
        let run = eval(&ws, &[]);
        run.code(3);
        let file = run_file(&ws, &run);
        let c = case(&file, "unscripted");
        assert_eq!(c["passed"], false, "{provider}: {c}");
        assert_eq!(
            c["error"],
            "turn 1: the model called `escalate`, and the case scripts no result for it",
            "{provider}"
        );
        assert_eq!(c["tool_calls"], 1, "{provider}: {c}");
        assert_eq!(
            c["transcript"][0]["tool_calls"][0]["name"], "escalate",
            "{provider}: the call is recorded"
        );
        let c = case(&file, "dry");
        assert_eq!(c["passed"], false, "{provider}: {c}");
        assert_eq!(
            c["error"],
            "turn 1: the model called `lookup_order` 2 times, and the case scripts 1 result",
            "{provider}"
        );
        assert_eq!(
            server.request_count(),
            2 * (n + 1),
            "{provider}: no second turn"
        );
    }
}

/// Looks an order up; when the lookup failed, escalates; then answers
/// according to what it was told.
fn handles_a_failure(call: &ChatCall) -> Reply {
    match call.results.as_slice() {
        [] => Reply::calls(0, &[("lookup_order", r#"{"order_id":"A1"}"#)]),
        [r] if r.is_error || r.content.starts_with("error") => {
            Reply::calls(1, &[("escalate", r#"{"reason":"order lookup failed"}"#)])
        }
        [r] => Reply::text(format!("Your order: {}", r.content)),
        [_, ticket] => Reply::text(format!(
            "I could not look up your order; a colleague will follow up ({}).",
            ticket.content
        )),
        more => panic!("{} results", more.len()),
    }
}

#[test]
fn a_failing_tool_reaches_the_model_which_handles_it() {
    let server = FakeServer::start(FakeConfig::agent(handles_a_failure));
    let ws = workspace(&server, Some(&order_tools()));
    for provider in BOTH {
        suite(
            &ws,
            provider,
            "cases:\n  - id: down\n    vars: { question: \"Where is A1?\" }\n    \
             tools: { lookup_order: { error: \"order service unavailable\" }, escalate: \"ticket T-1\" }\n    \
             assert:\n      \
             - { type: contains, value: \"could not look up your order\" }\n      \
             - { type: contains, value: \"T-1\" }\n      \
             - { type: tool_sequence, value: { names: [lookup_order, escalate], mode: exact } }\n",
        );
        let run = eval(&ws, &[]);
        run.code(0);
        let file = run_file(&ws, &run);
        let c = case(&file, "down");
        assert_eq!(c["passed"], true, "{provider}: {c}");
        assert_eq!(c["turns"], 3, "{provider}: {c}");
        assert_eq!(
            c["transcript"][1],
            json!({ "role": "tool", "content": "order service unavailable", "tool_call_id": "call_1", "is_error": true }),
            "{provider}"
        );
    }
    let bodies = chat_bodies(&server);
    assert_eq!(bodies.len(), 6);
    // OpenAI has no error flag: the result's content says so.
    let result = &bodies[1]["messages"][3];
    assert_eq!(result["role"], "tool", "{result}");
    assert_eq!(result["tool_call_id"], "call_1", "{result}");
    let content = result["content"].as_str().unwrap_or_default();
    assert!(
        content.starts_with("error") && content.contains("order service unavailable"),
        "{result}"
    );
    // Anthropic: `is_error: true` on the `tool_result` block.
    assert_eq!(
        bodies[4]["messages"][2],
        json!({ "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "call_1",
            "content": "order service unavailable", "is_error": true }] })
    );
}

#[test]
fn a_list_script_is_consumed_call_by_call() {
    // Turn 1: two lookups; turn 2: a third; turn 3: the three results.
    let server = FakeServer::start(FakeConfig::agent(|call: &ChatCall| {
        match call.results.len() {
            0 => Reply::calls(
                0,
                &[
                    ("lookup_order", r#"{"order_id":"A1"}"#),
                    ("lookup_order", r#"{"order_id":"B2"}"#),
                ],
            ),
            2 => Reply::calls(2, &[("lookup_order", r#"{"order_id":"C3"}"#)]),
            // A failed call reads `failed`, whichever way the API says so.
            3 => Reply::text(
                call.results
                    .iter()
                    .map(|r| {
                        if r.is_error || r.content.starts_with("error") {
                            "failed"
                        } else {
                            r.content.as_str()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            n => panic!("{n} results"),
        }
    }));
    let ws = workspace(&server, Some(&order_tools()));
    for provider in BOTH {
        suite(
            &ws,
            provider,
            "cases:\n  - { id: list, vars: { question: \"A1, B2 and C3?\" }, \
             tools: { lookup_order: [shipped, lost, { error: \"no such order\" }] }, \
             assert: [{ type: equals, value: \"shipped, lost, failed\" }, \
                      { type: tool_called, value: { name: lookup_order, times: 3 } }, \
                      { type: tool_args, value: { name: lookup_order, call: 3, args: { order_id: C3 } } }] }\n",
        );
        let run = eval(&ws, &[]);
        run.code(0);
        let file = run_file(&ws, &run);
        let c = case(&file, "list");
        assert_eq!(c["passed"], true, "{provider}: {c}");
        let results: Vec<(String, String, bool)> = c["transcript"]
            .as_array()
            .expect("a transcript")
            .iter()
            .filter(|m| m["role"] == "tool")
            .map(|m| {
                (
                    m["tool_call_id"].as_str().unwrap_or_default().to_string(),
                    m["content"].as_str().unwrap_or_default().to_string(),
                    m["is_error"] == true,
                )
            })
            .collect();
        assert_eq!(
            results,
            [
                ("call_1".into(), "shipped".into(), false),
                ("call_2".into(), "lost".into(), false),
                ("call_3".into(), "no such order".into(), true),
            ],
            "{provider}"
        );
    }
    let bodies = chat_bodies(&server);
    assert_eq!(bodies.len(), 6);
    // OpenAI: one `tool` message a result, in call order.
    let tools: Vec<(Value, Value)> = bodies[1]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| (m["tool_call_id"].clone(), m["content"].clone()))
        .collect();
    assert_eq!(
        tools,
        [
            (json!("call_1"), json!("shipped")),
            (json!("call_2"), json!("lost"))
        ]
    );
    // Anthropic: both results of the turn in one user turn.
    assert_eq!(
        bodies[4]["messages"][2],
        json!({ "role": "user", "content": [
            { "type": "tool_result", "tool_use_id": "call_1", "content": "shipped" },
            { "type": "tool_result", "tool_use_id": "call_2", "content": "lost" }] })
    );
}

#[test]
fn a_refusal_in_the_middle_of_a_loop_ends_it_as_a_refusal() {
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([
        openai_body(
            json!({ "role": "assistant", "content": "", "tool_calls": [{ "id": "call_1", "type": "function",
                "function": { "name": "lookup_order", "arguments": "{\"order_id\":\"B2\"}" } }] }),
            "tool_calls",
        ),
        openai_body(
            json!({ "role": "assistant", "content": null, "refusal": "That order is not yours to see." }),
            "stop",
        ),
        anthropic_body(
            json!([{ "type": "tool_use", "id": "toolu_1", "name": "lookup_order", "input": { "order_id": "B2" } }]),
            "tool_use",
        ),
        anthropic_body(json!([]), "refusal"),
    ]);
    let ws = workspace(&server, Some(&order_tools()));
    for (n, provider) in BOTH.into_iter().enumerate() {
        suite(
            &ws,
            provider,
            "cases:\n  - { id: c1, vars: { question: \"Show me B2\" }, tools: { lookup_order: { owner: someone else } }, \
             assert: [{ type: refusal }, { type: tool_called, value: lookup_order }] }\n",
        );
        let run = eval(&ws, &[]);
        run.code(0);
        let file = run_file(&ws, &run);
        let c = case(&file, "c1");
        assert_eq!(c["passed"], true, "{provider}: {c}");
        assert_eq!(c["refused"], true, "{provider}: {c}");
        assert_eq!(c["turns"], 2, "{provider}: {c}");
        assert_eq!(file["summary"]["refused"], 1, "{provider}");
        assert_eq!(server.request_count(), 2 * (n + 1), "{provider}");
    }
    assert_eq!(server.pending_faults(), 0);
    let c = {
        let bodies = chat_bodies(&server);
        bodies[3]["messages"][2].clone()
    };
    assert_eq!(
        c["content"][0]["tool_use_id"], "toolu_1",
        "Anthropic's own call id goes back: {c}"
    );
}

/// The prior turns of [`prior_messages_follow_the_prompts_messages_in_each_apis_shape`]: a
/// lookup that worked, a refund that failed, a reply, a follow-up question.
const PRIOR: &str = "    messages:\n      \
    - { role: assistant, tool_calls: [{ id: k1, name: lookup_order, arguments: { order_id: A1 } }, \
                                      { id: k2, name: request_refund, arguments: { order_id: A1, amount: 5 } }] }\n      \
    - { role: tool, tool_call_id: k1, content: \"shipped on Monday\" }\n      \
    - { role: tool, tool_call_id: k2, content: \"payments down\", is_error: true }\n      \
    - { role: assistant, content: \"Order A1 shipped on Monday; the refund did not go through.\" }\n      \
    - { role: user, content: \"When will it arrive?\" }\n";

#[test]
fn prior_messages_follow_the_prompts_messages_in_each_apis_shape() {
    let server = FakeServer::start(FakeConfig::agent(|call: &ChatCall| {
        if call.last_user() == "When will it arrive?" {
            Reply::text("It arrives on Thursday.")
        } else {
            Reply::text(format!("I was asked {:?}", call.last_user()))
        }
    }));
    let ws = workspace(&server, Some(&order_tools()));
    for provider in BOTH {
        suite(
            &ws,
            provider,
            &format!(
                "cases:\n  - id: follow-up\n    vars: {{ question: \"Where is my order A1?\" }}\n{PRIOR}    \
                 assert: [{{ type: contains, value: Thursday }}]\n"
            ),
        );
        let run = eval(&ws, &[]);
        run.code(0);
        let file = run_file(&ws, &run);
        let c = case(&file, "follow-up");
        assert_eq!(c["passed"], true, "{provider}: {c}");
        // The calls in prior turns were written by the suite, not made by
        // the model: they are in the transcript, not in the counts.
        assert!(c.get("tool_calls").is_none(), "{provider}: {c}");
        let transcript = c["transcript"].as_array().expect("a transcript");
        assert_eq!(
            transcript.len(),
            6,
            "{provider}: five prior turns and the answer"
        );
        assert_eq!(transcript[0]["tool_calls"][1]["id"], "k2", "{provider}");
        assert_eq!(transcript[2]["is_error"], true, "{provider}");
        assert_eq!(
            transcript[5],
            json!({ "role": "assistant", "content": "It arrives on Thursday." })
        );
    }
    let bodies = chat_bodies(&server);
    assert_eq!(bodies.len(), 2);
    let prompt = [
        json!({ "role": "system", "content": SYSTEM_TEXT }),
        json!({ "role": "user", "content": "Where is my order A1?" }),
    ];
    let reply = json!({ "role": "assistant", "content": "Order A1 shipped on Monday; the refund did not go through." });
    let follow_up = json!({ "role": "user", "content": "When will it arrive?" });
    // OpenAI: after the prompt's system and user messages.
    let openai = messages(&bodies[0]);
    assert_eq!(openai[..2], prompt);
    assert_eq!(
        openai[2],
        json!({ "role": "assistant", "content": null, "tool_calls": [
            { "id": "k1", "type": "function", "function": { "name": "lookup_order", "arguments": { "order_id": "A1" } } },
            { "id": "k2", "type": "function", "function": { "name": "request_refund", "arguments": { "order_id": "A1", "amount": 5 } } }] })
    );
    assert_eq!(
        openai[3],
        json!({ "role": "tool", "tool_call_id": "k1", "content": "shipped on Monday" })
    );
    assert_eq!(openai[4]["role"], "tool");
    assert_eq!(openai[4]["tool_call_id"], "k2");
    let failed = openai[4]["content"].as_str().unwrap_or_default();
    assert!(
        failed.starts_with("error") && failed.contains("payments down"),
        "{failed}"
    );
    assert_eq!(openai[5..], [reply.clone(), follow_up.clone()]);
    assert_eq!(openai.len(), 7);
    // Anthropic: the prompt's system text in `system`, its user message
    // first, then the prior turns, results in one user turn.
    assert_eq!(bodies[1]["system"], SYSTEM_TEXT);
    assert_eq!(
        messages(&bodies[1]),
        vec![
            prompt[1].clone(),
            json!({ "role": "assistant", "content": [
                { "type": "tool_use", "id": "k1", "name": "lookup_order", "input": { "order_id": "A1" } },
                { "type": "tool_use", "id": "k2", "name": "request_refund", "input": { "order_id": "A1", "amount": 5 } }] }),
            json!({ "role": "user", "content": [
                { "type": "tool_result", "tool_use_id": "k1", "content": "shipped on Monday" },
                { "type": "tool_result", "tool_use_id": "k2", "content": "payments down", "is_error": true }] }),
            reply,
            follow_up,
        ]
    );
}

#[test]
fn bad_prior_messages_are_exit_2_before_any_call() {
    // (the prompt has tools, the case's `messages:`, what stderr says)
    let table: &[(bool, &str, &str)] = &[
        (
            true,
            "[{ role: tool, tool_call_id: k9, content: shipped }]",
            "case `c1`: messages[0]: `tool_call_id: k9` answers no earlier unanswered assistant tool call",
        ),
        (
            true,
            "[{ role: assistant, tool_calls: [{ id: k1, name: lookup_order, arguments: { order_id: A1 } }] }, \
              { role: tool, tool_call_id: k1, content: shipped }, { role: tool, tool_call_id: k1, content: again }]",
            "messages[2]: `tool_call_id: k1` answers no earlier unanswered assistant tool call",
        ),
        (
            true,
            "[{ role: assistant, tool_calls: [{ id: k1, name: lookup_order, arguments: { order_id: A1 } }] }, \
              { role: user, content: hello }]",
            "messages: the tool call `k1` has no `tool` turn answering it",
        ),
        (
            true,
            "[{ role: assistant, tool_calls: [{ id: k1, name: cancel_order }] }, { role: tool, tool_call_id: k1, content: ok }]",
            "messages[0]: `cancel_order` is not a tool the prompt declares",
        ),
        (
            true,
            "[{ role: tool, content: shipped }]",
            "messages[0]: a `tool` turn needs the `tool_call_id` it answers",
        ),
        (
            false,
            "[{ role: assistant, tool_calls: [{ id: k1, name: lookup_order }] }, { role: tool, tool_call_id: k1, content: ok }]",
            "messages[0]: an assistant turn calls tools, and the prompt declares none",
        ),
    ];
    for (with_tools, turns, says) in table {
        let server = FakeServer::start(FakeConfig::default());
        let tools = order_tools();
        let ws = workspace(&server, with_tools.then_some(&tools));
        suite(
            &ws,
            "fake",
            &format!(
                "cases:\n  - {{ id: c1, vars: {{ question: \"Where is A1?\" }}, messages: {turns}, \
                 assert: [{{ type: contains, value: A1 }}] }}\n"
            ),
        );
        let run = eval(&ws, &[]);
        run.code(2)
            .stdout_empty()
            .stderr_has("evals/t.yaml")
            .stderr_has(says);
        no_run_saved(&ws, &run);
        assert_eq!(server.request_count(), 0, "{turns}: nothing is sent");
    }
}

/// The cassette's lines, parsed.
fn cassette_lines(ws: &crate::util::Workspace) -> Vec<Value> {
    ws.read(CASSETTE)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// What a run decided about each case, to compare a replay with its
/// recording.
fn verdicts(file: &Value) -> Vec<Value> {
    file["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            json!({
                "id": c["id"], "passed": c["passed"], "error": c["error"],
                "output": c["output"], "turns": c["turns"], "tool_calls": c["tool_calls"],
                "transcript": c["transcript"], "assertions": c["assertions"],
            })
        })
        .collect()
}

#[test]
fn a_recorded_loop_replays_offline_with_the_same_verdict() {
    let server = FakeServer::start(FakeConfig::agent(lookup_then_refund));
    let ws = workspace(&server, Some(&order_tools()));
    // A second case whose final answer fails its assertion: the replay
    // must fail it too.
    let failing = LOOP_CASE
        .replace("id: loop", "id: wrong")
        .replace("Refund 5.", "Refund 5!")
        .replace(
            "- { type: not_contains, value: \"look that up\" }",
            "- { type: contains, value: delivered }",
        );
    for provider in BOTH {
        suite(&ws, provider, &format!("cases:\n{LOOP_CASE}{failing}"));
        if ws.path(CASSETTE).exists() {
            ws.remove(CASSETTE);
        }
        let before = server.request_count();
        let live = eval(&ws, &["--record"]);
        live.code(1);
        assert_eq!(
            server.request_count(),
            before + 6,
            "{provider}: 3 turns a case"
        );
        let lines = cassette_lines(&ws);
        let kinds: Vec<(String, String)> = lines
            .iter()
            .map(|l| {
                (
                    l["case"].as_str().unwrap_or_default().to_string(),
                    l["kind"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        for id in ["loop", "wrong"] {
            for kind in ["prompt", "prompt turn 2", "prompt turn 3"] {
                assert!(
                    kinds.contains(&(id.to_string(), kind.to_string())),
                    "{provider}: no {id} {kind} in {kinds:?}"
                );
            }
        }
        assert_eq!(lines.len(), 6, "{provider}: one line a turn: {kinds:?}");
        let keys: std::collections::BTreeSet<&str> =
            lines.iter().filter_map(|l| l["key"].as_str()).collect();
        assert_eq!(keys.len(), 6, "{provider}: each turn its own key");

        let replayed = eval(&ws, &["--provider", "replay"]);
        replayed.code(1);
        assert_eq!(
            server.request_count(),
            before + 6,
            "{provider}: the replay sent nothing"
        );
        let (live, replayed) = (run_file(&ws, &live), run_file(&ws, &replayed));
        assert_eq!(verdicts(&replayed), verdicts(&live), "{provider}");
        assert_eq!(case(&replayed, "loop")["passed"], true, "{provider}");
        assert_eq!(case(&replayed, "wrong")["passed"], false, "{provider}");
    }
}

#[test]
fn a_recorded_loop_whose_arguments_were_redacted_still_replays() {
    // The order id is redacted (`ORD-` and 8 digits, in `workspace`) in the
    // recorded call; the replay must find the next turn all the same.
    let server = FakeServer::start(FakeConfig::agent(|call: &ChatCall| {
        match call.results.as_slice() {
            [] => Reply::calls(0, &[("lookup_order", r#"{"order_id":"ORD-12345678"}"#)]),
            [r] => Reply::text(format!("Your order has {}.", r.content)),
            more => panic!("{} results", more.len()),
        }
    }));
    let ws = workspace(&server, Some(&order_tools()));
    for provider in BOTH {
        suite(
            &ws,
            provider,
            "cases:\n  - { id: c1, vars: { question: \"Where is ORD-12345678?\" }, tools: { lookup_order: shipped }, \
             assert: [{ type: contains, value: \"has shipped\" }, { type: tool_called, value: lookup_order }] }\n",
        );
        if ws.path(CASSETTE).exists() {
            ws.remove(CASSETTE);
        }
        let live = eval(&ws, &["--record"]);
        live.code(0);
        let cassette = ws.read(CASSETTE);
        assert!(
            cassette.contains("[REDACTED:order_id]") && !cassette.contains("ORD-12345678"),
            "{provider}: {cassette}"
        );
        let before = server.request_count();
        let replayed = eval(&ws, &["--provider", "replay"]);
        replayed.code(0);
        assert_eq!(server.request_count(), before, "{provider}");
        let (live, replayed) = (run_file(&ws, &live), run_file(&ws, &replayed));
        assert_eq!(verdicts(&replayed), verdicts(&live), "{provider}");
    }
}

/// Whether `text` holds any 12 characters of `key`, in any case (as in
/// `secrets.rs`).
fn leaks(text: &str, key: &str) -> bool {
    let text = text.to_ascii_lowercase();
    let key = key.to_ascii_lowercase();
    key.as_bytes()
        .windows(12)
        .any(|w| text.contains(std::str::from_utf8(w).expect("keys are ASCII")))
}

#[track_caller]
fn no_key_in_output(run: &Run) {
    for key in [OPENAI_KEY, ANTHROPIC_KEY] {
        assert!(
            !leaks(&run.stdout, key) && !leaks(&run.stderr, key),
            "part of a key is in the output\n{run}"
        );
    }
}

#[test]
fn a_key_the_model_puts_in_tool_arguments_is_written_nowhere() {
    // The model echoes its provider's key in a call's arguments, whole in
    // one and upper-cased in the other, then in its final answer.
    let server = FakeServer::start(FakeConfig::agent(|call: &ChatCall| {
        let key = match call.api {
            Api::OpenAi => OPENAI_KEY,
            Api::Anthropic => ANTHROPIC_KEY,
            Api::Gemini => crate::gemini::KEY,
        };
        match call.results.len() {
            0 => Reply::calls(
                0,
                &[
                    ("lookup_order", &format!(r#"{{"order_id":"{key}"}}"#)),
                    (
                        "escalate",
                        &format!(r#"{{"reason":"key {} leaked"}}"#, key.to_uppercase()),
                    ),
                ],
            ),
            _ => Reply::text(format!("Done; your key is {key}.")),
        }
    }));
    let ws = workspace(&server, Some(&order_tools()));
    for provider in BOTH {
        suite(
            &ws,
            provider,
            "cases:\n  - { id: c1, vars: { question: \"Look up my order\" }, \
             tools: { lookup_order: shipped, escalate: ok }, \
             assert: [{ type: contains, value: \"your key is\" }, { type: tool_called, value: escalate }] }\n",
        );
        if ws.path(CASSETTE).exists() {
            ws.remove(CASSETTE);
        }
        let before = server.request_count();
        // Live, recorded and cached; again from the cache; then offline.
        let runs = [
            eval_cached(&ws, &["--record", "--format", "json"]),
            eval_cached(&ws, &["--format", "json"]),
            eval(&ws, &["--provider", "replay", "--format", "json"]),
        ];
        for (i, run) in runs.iter().enumerate() {
            run.code(0);
            no_key_in_output(run);
            let file: Value = run.json();
            let c = case(&file, "c1");
            assert_eq!(c["passed"], true, "{provider} run {i}: {c}");
            assert_eq!(c["cached"], i == 1, "{provider} run {i}: both turns cached");
            assert_eq!(
                c["transcript"][0]["tool_calls"][0]["arguments"]["order_id"], "[REDACTED:api_key]",
                "{provider} run {i}"
            );
            assert!(
                c["output"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("[REDACTED:api_key]"),
                "{provider} run {i}: {c}"
            );
        }
        assert_eq!(
            server.request_count(),
            before + 2,
            "{provider}: two turns, live once; the cache and the cassette answer the rest"
        );
        assert!(
            ws.read(CASSETTE).contains("[REDACTED:api_key]"),
            "{provider}"
        );
        // The key went out as the credential, never back in a message.
        let second = &chat_bodies(&server)[before + 1];
        for key in [OPENAI_KEY, ANTHROPIC_KEY] {
            assert!(!leaks(&second.to_string(), key), "{provider}: {second}");
        }
    }
    // Every file: run files, cassette, cache, anything else.
    let leaking: Vec<String> = files_under(&ws.tmp())
        .into_iter()
        .filter(|p| {
            let text = String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
            leaks(&text, OPENAI_KEY) || leaks(&text, ANTHROPIC_KEY)
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(leaking.is_empty(), "part of a key is in {leaking:?}");
    assert!(!files_under(&ws.path(".promptctl/cache")).is_empty());
}

#[test]
fn text_assertions_read_the_final_answer_and_tool_assertions_every_turn() {
    // A call only in turn 1, text only in turn 1: a check of the last turn
    // alone would see neither.
    let server = FakeServer::start(FakeConfig::agent(|call: &ChatCall| {
        match call.results.len() {
            0 => Reply {
                content: Some("Checking order A1 now.".into()),
                ..Reply::calls(0, &[("lookup_order", r#"{"order_id":"A1"}"#)])
            },
            _ => Reply::text("It has shipped."),
        }
    }));
    let ws = workspace(&server, Some(&order_tools()));
    suite(
        &ws,
        "fake",
        "cases:\n  \
         - { id: calls, vars: { question: q1 }, tools: { lookup_order: shipped }, \
             assert: [{ type: tool_called, value: lookup_order }, { type: tool_args, value: { name: lookup_order, args: { order_id: A1 } } }] }\n  \
         - { id: text, vars: { question: q2 }, tools: { lookup_order: shipped }, \
             assert: [{ type: contains, value: \"Checking order\" }] }\n\
         gates: { pass_rate: 0.5 }\n",
    );
    let run = eval(&ws, &[]);
    run.code(0);
    let file = run_file(&ws, &run);
    assert_eq!(case(&file, "calls")["passed"], true);
    let c = case(&file, "text");
    assert_eq!(c["passed"], false, "{c}");
    assert_eq!(c["output"], "It has shipped.", "{c}");
    assert!(reason(c, "contains").contains("Checking order"), "{c}");
}

#[test]
fn calls_made_before_a_case_error_count_toward_validity() {
    // An error ends a case, not the record of the calls the model made.
    let server = FakeServer::start(FakeConfig::agent(|call: &ChatCall| {
        if call.last_user().starts_with("undeclared") {
            Reply::calls(0, &[("cancel_order", r#"{"order_id":"A1"}"#)])
        } else {
            Reply::calls(
                call.calls.len(),
                &[("lookup_order", r#"{"order_id":"A1","rush":true}"#)],
            )
        }
    }));
    let ws = workspace(&server, Some(&order_tools()));
    for provider in BOTH {
        suite(
            &ws,
            provider,
            "cases:\n  \
             - { id: undeclared, vars: { question: \"undeclared: cancel A1\" }, tools: { lookup_order: ok } }\n  \
             - { id: turns, vars: { question: \"turns: where is A1?\" }, max_turns: 2, tools: { lookup_order: ok } }\n",
        );
        let run = eval(&ws, &[]);
        run.code(3);
        let file = run_file(&ws, &run);
        let c = case(&file, "undeclared");
        assert!(
            c["error"]
                .as_str()
                .is_some_and(|e| e.contains("scripts no result")),
            "{provider}: {c}"
        );
        assert_eq!(c["tool_calls"], 1, "{provider}: {c}");
        assert_eq!(c["invalid_tool_calls"], 1, "{provider}: {c}");
        let c = case(&file, "turns");
        assert!(
            c["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("ran out of turns")),
            "{provider}: {c}"
        );
        assert_eq!(c["tool_calls"], 2, "{provider}: {c}");
        assert_eq!(c["invalid_tool_calls"], 2, "{provider}: {c}");
        assert_eq!(
            file["summary"]["tool_calls"],
            json!({ "total": 3, "valid": 0, "validity": 0.0 }),
            "{provider}"
        );
    }

    // The call of turn 1 counts when turn 2 fails.
    let server = FakeServer::start(FakeConfig::default());
    server.push_faults([
        openai_body(
            json!({ "role": "assistant", "content": null, "tool_calls": [{ "id": "call_1", "type": "function",
                "function": { "name": "lookup_order", "arguments": "{\"order_id\":\"A1\"}" } }] }),
            "tool_calls",
        ),
        crate::fake::Fault::Status(400),
    ]);
    let ws = workspace(&server, Some(&order_tools()));
    suite(
        &ws,
        "fake",
        "cases:\n  - { id: c1, vars: { question: \"Where is A1?\" }, tools: { lookup_order: ok } }\n",
    );
    let run = eval(&ws, &[]);
    run.code(3);
    let file = run_file(&ws, &run);
    let c = case(&file, "c1");
    assert!(
        c["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("turn 2: ")),
        "{c}"
    );
    assert_eq!(c["tool_calls"], 1, "{c}");
    assert_eq!(
        file["summary"]["tool_calls"],
        json!({ "total": 1, "valid": 1, "validity": 1.0 })
    );
    assert_eq!(server.request_count(), 2);
}

#[test]
fn a_call_without_an_id_gets_one_its_result_can_name() {
    // A local server's legacy `function_call`: no id. The fake 400s a tool
    // result that names no earlier call, as OpenAI does.
    let server = FakeServer::start(FakeConfig::agent(|call: &ChatCall| {
        match call.results.as_slice() {
            [] => Reply::text("unused"),
            [r] => Reply::text(format!("done: {}", r.content)),
            more => panic!("{} results", more.len()),
        }
    }));
    server.push_faults([crate::fake::Fault::Json(json!({
        "choices": [{ "index": 0, "finish_reason": "function_call", "message": {
            "role": "assistant", "content": null,
            "function_call": { "name": "lookup_order", "arguments": "{\"order_id\":\"A1\"}" } } }],
        "usage": { "prompt_tokens": 5, "completion_tokens": 3 },
    }))]);
    let ws = workspace(&server, Some(&order_tools()));
    suite(
        &ws,
        "fake",
        "cases:\n  - id: legacy\n    vars: { question: \"Where is A1?\" }\n    \
         tools: { lookup_order: shipped }\n    \
         assert: [ { type: contains, value: \"done: shipped\" } ]\n",
    );
    let run = eval(&ws, &[]);
    run.code(0);
    let file = run_file(&ws, &run);
    let c = case(&file, "legacy");
    assert_eq!(
        c["transcript"][0]["tool_calls"][0]["id"], "promptctl_call_1_1",
        "{c}"
    );
    assert_eq!(
        c["transcript"][1]["tool_call_id"], "promptctl_call_1_1",
        "{c}"
    );
    let bodies = chat_bodies(&server);
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        bodies[1]["messages"][2]["tool_calls"][0]["id"],
        "promptctl_call_1_1"
    );
    assert_eq!(
        bodies[1]["messages"][3]["tool_call_id"],
        "promptctl_call_1_1"
    );
}
