//! `render`: strict variables, literal values, JSON output, released versions.

use proptest::prelude::*;

use crate::util::{GREETING, NAME, SYSTEM, Workspace};

#[test]
fn a_missing_required_variable_is_named() {
    let ws = Workspace::init();
    ws.run(&["render", NAME])
        .code(2)
        .stdout_empty()
        .stderr_has("missing required variable `question`")
        .stderr_has("--var question=");
}

#[test]
fn defaults_fill_optional_variables() {
    let ws = Workspace::init();
    ws.run(&[
        "render",
        NAME,
        "--var",
        "question=How do I archive a board?",
    ])
    .success()
    .stdout_has("--- system ---")
    .stdout_has("Greet the user as there in your first sentence")
    .stdout_has("--- user ---\nHow do I archive a board?\n")
    .stdout_lacks("{{");
}

#[test]
fn values_are_inserted_literally() {
    let ws = Workspace::init();
    ws.run(&["render", NAME, "--var", "question={{x}}"])
        .success()
        .stdout_has("--- user ---\n{{x}}\n");
    // A value that names another variable is not expanded either.
    ws.run(&[
        "render",
        NAME,
        "--var",
        "question=Q",
        "--var",
        "user_name={{question}}",
    ])
    .success()
    .stdout_has("Greet the user as {{question}} in your first sentence");
}

#[test]
fn json_output_has_every_message() {
    let ws = Workspace::init();
    let out = ws
        .run(&[
            "render",
            NAME,
            "--var",
            "question=Where is the export?",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(out["name"], NAME);
    assert!(out["version"].is_null(), "the draft has no version: {out}");
    assert_eq!(out["model"]["name"], "gpt-4o-mini");
    let messages = out["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "system");
    assert!(
        messages[0]["content"]
            .as_str()
            .unwrap()
            .contains("Greet the user as there")
    );
    assert_eq!(messages[1]["role"], "user");
    assert_eq!(messages[1]["content"], "Where is the export?");
}

#[test]
fn a_vars_file_supplies_values_and_var_overrides_it() {
    let ws = Workspace::init();
    ws.write("case.yaml", "question: From the file\nuser_name: Priya\n");
    let out = ws
        .run(&["render", NAME, "--vars", "case.yaml", "--json"])
        .success()
        .json();
    assert_eq!(out["messages"][1]["content"], "From the file");
    assert!(
        out["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("Greet the user as Priya")
    );
    let out = ws
        .run(&[
            "render",
            NAME,
            "--vars",
            "case.yaml",
            "--var",
            "question=From the flag",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(out["messages"][1]["content"], "From the flag");
}

#[test]
fn a_missing_vars_file_is_named() {
    let ws = Workspace::init();
    ws.run(&["render", NAME, "--vars", "nope.yaml"])
        .code(2)
        .stderr_has("nope.yaml");
}

#[test]
fn an_unknown_variable_is_refused_with_a_suggestion() {
    let ws = Workspace::init();
    ws.run(&["render", NAME, "--var", "question=q", "--var", "questoin=x"])
        .code(2)
        .stdout_empty()
        .stderr_has("unknown variable `questoin`")
        .stderr_has("did you mean `question`?");
}

#[test]
fn a_value_that_breaks_its_schema_is_named() {
    let ws = Workspace::init();
    let long = format!("question={}", "x".repeat(4001));
    ws.run(&["render", NAME, "--var", &long])
        .code(2)
        .stderr_has("`question`")
        .stderr_has("max_length 4000");
    ws.run(&[
        "render",
        NAME,
        "--var",
        &format!("question={}", "x".repeat(4000)),
    ])
    .success();
}

#[test]
fn a_released_version_renders_its_frozen_text() {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First"]);
    ws.replace(SYSTEM, GREETING, "Greet {{user_name}} warmly.");
    ws.run(&["render", "support_bot@0.1.0", "--var", "question=q"])
        .success()
        .stdout_has("Greet the user as there");
    ws.run(&["render", NAME, "--var", "question=q"])
        .success()
        .stdout_has("Greet there warmly.");
    let out = ws
        .run(&[
            "render",
            "support_bot@0.1.0",
            "--var",
            "question=q",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(out["version"], "0.1.0");
}

#[test]
fn an_unreleased_version_is_invalid_input() {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First"]);
    ws.run(&["render", "support_bot@9.9.9", "--var", "question=q"])
        .code(2)
        .stderr_has("`support_bot@9.9.9` is not released")
        .stderr_has("promptctl log support_bot");
}

#[test]
fn an_unknown_prompt_suggests_the_closest() {
    let ws = Workspace::init();
    ws.run(&["render", "suport_bot", "--var", "question=q"])
        .code(2)
        .stderr_has("did you mean `support_bot`?");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever the value (braces, newlines, unicode), the user message is
    /// exactly that value.
    #[test]
    fn any_value_renders_verbatim(value in "[a-zA-Z0-9 {}$%\\\\\n\u{e9}\u{1F600}_.-]{0,60}") {
        let ws = Workspace::init();
        let out = ws.run(&["render", NAME, "--var", &format!("question={value}"), "--json"]).success().json();
        prop_assert_eq!(out["messages"][1]["content"].as_str(), Some(value.as_str()));
    }
}
