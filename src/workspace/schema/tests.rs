//! The schemas against the loader: for each sample, the schema and the
//! strict loader must give the same verdict. The repository-wide checks (every
//! YAML file validates, `schemas/` is up to date) are integration tests.

use std::path::Path;

use serde_json::{Value, json};

use super::*;
use crate::eval::assertions::Compiled;
use crate::eval::suite::{Assertion, AssertionType, SuiteSpec};
use crate::version::artifact::Artifact;
use crate::workspace::name::{Name, PromptRef};

fn validator(name: &str) -> jsonschema::Validator {
    let schema = find(name).expect("a schema").schema();
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("test YAML parses")
}

/// Asserts that the schema and the loader agree on every sample, and that
/// the samples cover both verdicts (so the test can fail both ways).
#[track_caller]
fn agree(kind: &str, samples: &[(&str, bool)], loads: impl Fn(&str) -> Result<(), String>) {
    let v = validator(kind);
    for (text, valid) in samples {
        let loader = loads(text);
        assert_eq!(
            loader.is_ok(),
            *valid,
            "loader verdict on {kind} sample:\n{text}\n{loader:?}"
        );
        let errors: Vec<String> = v.iter_errors(&yaml(text)).map(|e| e.to_string()).collect();
        assert_eq!(
            errors.is_empty(),
            *valid,
            "schema verdict on {kind} sample:\n{text}\nschema errors: {errors:?}"
        );
    }
    assert!(samples.iter().any(|s| s.1) && samples.iter().any(|s| !s.1));
}

#[test]
fn every_schema_is_valid_draft_2020_12_with_an_id_and_title() {
    for k in KINDS {
        let schema = k.schema();
        jsonschema::meta::validate(&schema)
            .unwrap_or_else(|e| panic!("{}: not a valid schema: {e}", k.name));
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(schema["$id"], format!("urn:promptctl:schema:{}", k.name));
        assert!(schema["title"].is_string(), "{}: no title", k.name);
        assert_eq!(
            schema["additionalProperties"], false,
            "{}: unknown keys",
            k.name
        );
    }
}

#[test]
fn descriptions_come_from_doc_comments_unwrapped() {
    let schema = find("promptctl").unwrap().schema();
    let d = schema["$defs"]["Provider"]["properties"]["api_key_env"]["description"]
        .as_str()
        .unwrap();
    assert!(d.contains("environment variable"), "{d}");
    assert!(!d.contains('\n'), "{d:?}");
}

#[test]
fn find_by_name_or_file_name() {
    assert_eq!(find("suite").unwrap().name, "suite");
    assert_eq!(find("suite.schema.json").unwrap().name, "suite");
    assert!(find("nope").is_none());
    assert_eq!(
        find("prompt").unwrap().modeline("../../"),
        "# yaml-language-server: $schema=../../schemas/prompt.schema.json\n"
    );
}

#[test]
fn promptctl_yaml_schema_agrees_with_the_loader() {
    agree(
        "promptctl",
        &[
            ("{}", true),
            (
                "providers: { o: { type: openai, api_key_env: K, rps: 2, timeout_s: 1.5 } }",
                true,
            ),
            ("providers: { o: { type: openia } }", false),
            ("providers: { o: { base_url: x } }", false),
            ("providers: { o: { type: openai, api_key: sk-x } }", false),
            ("providers: { o: { type: openai, rps: 0 } }", false),
            ("providers: { o: { type: openai, timeout_s: -1 } }", false),
            ("providers: { o: { type: openai, retries: -1 } }", false),
            (
                "providers: { o: { type: openai, max_in_flight: 1.5 } }",
                false,
            ),
            ("prices: { m: { input: 1, output: 2 } }", true),
            ("prices: { m: { input: 1 } }", false),
            (
                "environments: { staging: {}, production: { requires: staging } }",
                true,
            ),
            ("environments: { production: { require: staging } }", false),
            (
                "redaction: { builtins: [email, iban], send_to_provider: redacted }",
                true,
            ),
            ("redaction: { builtins: [emails] }", false),
            ("redaction: { send_to_provider: hashed }", false),
            (
                "canary: { min_requests: 10, thresholds: { success_rate: { max_drop: 0.1 } } }",
                true,
            ),
            (
                "canary: { thresholds: { success_rate: { max_dorp: 0.1 } } }",
                false,
            ),
            ("canary: { thresholds: { uptime: {} } }", false),
            ("provider: {}", false),
        ],
        |text| {
            crate::workspace::config::Config::parse(Path::new("promptctl.yaml"), text)
                .map(drop)
                .map_err(|e| e.message().to_string())
        },
    );
}

#[test]
fn prompt_yaml_schema_agrees_with_the_loader() {
    let head = "name: p\nmodel: { provider: openai, name: m }\n";
    let with = |rest: &str| format!("{head}{rest}");
    let samples: Vec<(String, bool)> = vec![
        (with("messages: [ { role: user, template: hi } ]"), true),
        (with("messages: [ { role: system, file: system.md } ]"), true),
        (with("messages: [ { role: system, file: sub/x.md } ]"), true),
        (with("messages: []"), false),
        (with("messages: [ { role: user } ]"), false),
        (with("messages: [ { role: user, file: system.md, template: hi } ]"), false),
        (with("messages: [ { role: user, file: ~, template: hi } ]"), true),
        (with("messages: [ { role: robot, template: hi } ]"), false),
        (with("messages: [ { role: user, template: hi, name: x } ]"), false),
        (with("messages: [ { role: system, file: ../x.md } ]"), false),
        (with("messages: [ { role: system, file: a/../x.md } ]"), false),
        (with("messages: [ { role: system, file: /etc/passwd } ]"), false),
        (with("messages: [ { role: system, file: 'a\\b.md' } ]"), false),
        (with("messages: [ { role: system, file: 'c:x.md' } ]"), false),
        (with("messages: [ { role: system, file: versions/1.0.0/system.md } ]"), false),
        (with("messages: [ { role: system, file: manifest.yaml } ]"), false),
        (with("messages: [ { role: system, file: a//b.md } ]"), false),
        (with("messages: [ { role: system, file: '' } ]"), false),
        (with("messages: [ { role: system, file: versions.md } ]"), true),
        (
            with("messages: [ { role: user, template: '{{q}}' } ]\nvariables: { q: { type: string, required: true, max_length: 10 } }"),
            true,
        ),
        (
            with("messages: [ { role: user, template: '{{q}}' } ]\nvariables: { q: { required: true, default: x } }"),
            false,
        ),
        (
            with("messages: [ { role: user, template: '{{q}}' } ]\nvariables: { q: { required: false, default: x } }"),
            true,
        ),
        (
            with("messages: [ { role: user, template: '{{q}}' } ]\nvariables: { q: { type: text } }"),
            false,
        ),
        (
            with("messages: [ { role: user, template: hi } ]\nvariables: { 1q: { type: string } }"),
            false,
        ),
        (
            with("messages: [ { role: user, template: hi } ]\nvariables: { q: { type: string, maxlength: 3 } }"),
            false,
        ),
        (with("messages: [ { role: user, template: hi } ]\noutput_schema: out.json"), true),
        (with("messages: [ { role: user, template: hi } ]\noutput_schema: { type: object }"), true),
        (with("messages: [ { role: user, template: hi } ]\noutput_schema: 3"), false),
        (with("messages: [ { role: user, template: hi } ]\noutput_schema: ../out.json"), false),
        (with("messages: [ { role: user, template: hi } ]\ntools: { file: tools.json, schema_version: '2' }"), true),
        (with("messages: [ { role: user, template: hi } ]\ntools: { schema_version: '2' }"), false),
        (with("messages: [ { role: user, template: hi } ]\nretrieval: { anything: [1, 2] }"), true),
        (with("messages: [ { role: user, template: hi } ]\nmax_prompt_tokens: -3"), false),
        (with("messages: [ { role: user, template: hi } ]\nlimitation: [x]"), false),
        (
            "name: Bad\nmodel: { provider: openai, name: m }\nmessages: [ { role: user, template: hi } ]".into(),
            false,
        ),
        (
            "name: p\nmodel: { provider: openai, name: m, temprature: 0 }\nmessages: [ { role: user, template: hi } ]".into(),
            false,
        ),
        (
            "name: p\nmodel: { provider: openai }\nmessages: [ { role: user, template: hi } ]".into(),
            false,
        ),
    ];
    // The whole loader, with the files a sample names present.
    let loads = |text: &str| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("p");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("system.md"), "sys").unwrap();
        std::fs::write(dir.join("versions.md"), "sys").unwrap();
        std::fs::write(dir.join("sub/x.md"), "sys").unwrap();
        std::fs::write(dir.join("out.json"), "{}").unwrap();
        std::fs::write(dir.join("tools.json"), "[]").unwrap();
        std::fs::write(dir.join("prompt.yaml"), text).unwrap();
        Artifact::load(&dir, "prompts/p", &Name::parse("p").unwrap())
            .map(drop)
            .map_err(|e| e.message().to_string())
    };
    let samples: Vec<(&str, bool)> = samples.iter().map(|(t, v)| (t.as_str(), *v)).collect();
    agree("prompt", &samples, loads);
}

#[test]
fn suite_schema_agrees_with_what_eval_accepts() {
    agree(
        "suite",
        &[
            ("prompt: p\ncases: p.cases.jsonl", true),
            (
                "prompt: p@1.2.0\nprovider: replay\ncases: [ { id: a, vars: { q: x } } ]",
                true,
            ),
            ("prompt: p@1.2\ncases: x.jsonl", false),
            ("prompt: P\ncases: x.jsonl", false),
            ("cases: x.jsonl", false),
            ("prompt: p", false),
            ("prompt: p\ncases: 3", false),
            ("prompt: p\ncases: [ { vars: {} } ]", false),
            ("prompt: p\ncases: [ { id: a, var: {} } ]", false),
            (
                "prompt: p\ncases: x.jsonl\ndefaults: { assert: [ { type: is_json } ] }",
                true,
            ),
            (
                "prompt: p\ncases: x.jsonl\ndefaults: { asserts: [] }",
                false,
            ),
            (
                "prompt: p\ncases: x.jsonl\ndefaults: { assert: [ { type: is_jsn } ] }",
                false,
            ),
            (
                "prompt: p\ncases: x.jsonl\ndefaults: { assert: [ { type: contains } ] }",
                false,
            ),
            (
                "prompt: p\ncases: x.jsonl\ndefaults: { assert: [ { type: contains, value: [a] } ] }",
                false,
            ),
            (
                "prompt: p\ncases: x.jsonl\ndefaults: { assert: [ { type: contains, value: a, weight: -1 } ] }",
                false,
            ),
            (
                "prompt: p\ncases: x.jsonl\ndefaults: { assert: [ { type: contains, value: a, weight: 2, metric: m } ] }",
                true,
            ),
            (
                "prompt: p\ncases: x.jsonl\nrubric: { judge: { provider: openai, model: gpt-4o }, criteria: { tone: concise } }",
                true,
            ),
            (
                "prompt: p\ncases: x.jsonl\nrubric: { judge: { provider: openai }, criteria: {} }",
                false,
            ),
            (
                "prompt: p\ncases: x.jsonl\nrubric: { judge: { provider: o, model: m } }",
                false,
            ),
            (
                "prompt: p\ncases: x.jsonl\ngates: { pass_rate: 0.9, criteria: { tone: 0.5 }, segments: { b: { pass_rate: 1 } } }",
                true,
            ),
            ("prompt: p\ncases: x.jsonl\ngates: { passrate: 0.9 }", false),
            (
                "prompt: p\ncases: x.jsonl\ngates: { segments: { b: { max_cost_usd: 1 } } }",
                false,
            ),
            (
                "prompt: p\ncases: x.jsonl\ngates: { pass_rate: high }",
                false,
            ),
        ],
        |text| {
            let spec: SuiteSpec = crate::workspace::yaml::from_str(Path::new("evals/s.yaml"), text)
                .map_err(|e| e.message().to_string())?;
            PromptRef::parse(&spec.prompt).map_err(|e| e.message().to_string())?;
            let mut asserts = spec.defaults.asserts.clone();
            if let crate::eval::suite::CasesSpec::Inline(cases) = &spec.cases {
                asserts.extend(cases.iter().flat_map(|c| c.asserts.clone()));
            }
            for a in &asserts {
                Compiled::new(a, "here").map_err(|e| e.message().to_string())?;
            }
            Ok(())
        },
    );
}

/// Every assertion type against every shape of `value`: the hand-written
/// `value_by_type` part of the suite schema says what `Compiled::new` does.
#[test]
fn assertion_values_match_compiled() {
    let schema = find("suite").unwrap().schema();
    let mut assertion = schema["$defs"]["Assertion"].clone();
    assertion["$defs"] = schema["$defs"].clone();
    let v = jsonschema::validator_for(&assertion).unwrap();
    let values = [
        None,
        Some(json!(null)),
        Some(json!("text")),
        Some(json!("(")),
        Some(json!(["a", "b"])),
        Some(json!([])),
        Some(json!([1])),
        Some(json!(3)),
        Some(json!(2.5)),
        Some(json!({ "type": "object" })),
        Some(json!(true)),
    ];
    let types: Vec<AssertionType> = serde_json::from_value(
        schema["$defs"]["AssertionType"]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["const"].clone())
            .collect(),
    )
    .unwrap();
    assert_eq!(types.len(), 22);
    // Tool assertions name tools, which only the prompt declares.
    let tools = crate::version::artifact::tools::Tools::parse(
        json!([{ "name": "text" }, { "name": "a" }, { "name": "b" }]),
    )
    .unwrap();
    for kind in types {
        for value in &values {
            let mut instance = json!({ "type": kind });
            if let Some(value) = value {
                instance["value"] = value.clone();
            }
            // As the loader reads it (`value: null` is no value).
            let a: Assertion = serde_json::from_value(instance.clone()).unwrap();
            let compiled = Compiled::with_tools(&a, "here", Some(&tools));
            // An invalid regex is the one thing a schema cannot see.
            if value == &Some(json!("(")) && compiled.is_err() {
                continue;
            }
            assert_eq!(
                v.is_valid(&instance),
                compiled.is_ok(),
                "{instance}: compiled {:?}",
                compiled.err()
            );
        }
    }
}

#[test]
fn manifest_schema_agrees_with_the_loader() {
    let hash = format!("sha256:{}", "ab".repeat(32));
    let body = |version: &str, extra: &str| {
        format!(
            "name: p\nversion: {version}\nparent: null\ncreated_at: 2025-11-21T10:00:00Z\n\
             git_commit: null\nchangelog: x\nmodel: {{ provider: o, name: m }}\n\
             files: {{ prompt.yaml: '{hash}' }}\nprompt_hash: '{hash}'\nconfig_hash: '{hash}'\n\
             digest: '{hash}'\nseal: '{hash}'\n{extra}"
        )
    };
    let samples = [
        (body("1.0.0", ""), true),
        (body("1.0", ""), false),
        (body("1.0.0", "signed_by: me\n"), false),
        (body("1.0.0", "").replace("changelog: x\n", ""), false),
    ];
    let samples: Vec<(&str, bool)> = samples.iter().map(|(t, v)| (t.as_str(), *v)).collect();
    agree("manifest", &samples, |text| {
        crate::workspace::yaml::from_str::<crate::version::manifest::Manifest>(
            Path::new("manifest.yaml"),
            text,
        )
        .map(drop)
        .map_err(|e| e.message().to_string())
    });
}
