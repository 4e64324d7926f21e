//! Hashes are of canonical forms: equal content has an equal digest in any
//! folder, whatever the key order or the spacing inside `{{ }}`, while the
//! per-file hashes still see every byte.

use proptest::prelude::*;
use serde_json::Value;

use crate::util::{NAME, PROMPT, SYSTEM, Workspace, sha256};

const MODEL_LINE: &str =
    "model: { provider: openai, name: gpt-4o-mini, temperature: 0, max_tokens: 400, seed: 42 }";

fn field<'a>(hash: &'a Value, key: &str) -> &'a str {
    hash[key]
        .as_str()
        .unwrap_or_else(|| panic!("hash --json has no string `{key}`: {hash}"))
}

#[test]
fn hash_json_has_every_hash_and_file() {
    let ws = Workspace::init();
    let h = ws.hash(NAME);
    for key in ["prompt_hash", "config_hash", "digest"] {
        let value = field(&h, key);
        assert!(
            value.starts_with("sha256:") && value.len() == 7 + 64,
            "{key} = {value}"
        );
    }
    // The file hashes are the sha256 of the bytes on disk.
    assert_eq!(
        field(&h["files"], "prompt.yaml"),
        sha256(&ws.read_bytes(PROMPT))
    );
    assert_eq!(
        field(&h["files"], "system.md"),
        sha256(&ws.read_bytes(SYSTEM))
    );
    assert_eq!(h["files"].as_object().unwrap().len(), 2, "{h}");
}

#[test]
fn same_content_has_the_same_digest_in_two_folders() {
    let (a, b) = (Workspace::init(), Workspace::init());
    assert_ne!(a.root(), b.root());
    assert_eq!(a.hash(NAME), b.hash(NAME));
}

#[test]
fn a_release_records_the_drafts_hashes() {
    let ws = Workspace::init();
    let draft = ws.hash(NAME);
    ws.release(&["--bump", "minor", "-m", "First"]);
    let m = ws.manifest("0.1.0");
    for key in ["prompt_hash", "config_hash", "digest"] {
        assert_eq!(m[key].as_str(), Some(field(&draft, key)), "{key}");
    }
    let released = ws.hash("support_bot@0.1.0");
    assert_eq!(field(&released, "digest"), field(&draft, "digest"));
    // The files are the draft's bytes, but for prompt.yaml's schema line,
    // rebased to resolve from the version's folder.
    let mut files = draft["files"].clone();
    let rebased = ws.read(PROMPT).replacen(
        "# yaml-language-server: $schema=../../",
        "# yaml-language-server: $schema=../../../../",
        1,
    );
    files["prompt.yaml"] = sha256(rebased.as_bytes()).into();
    assert_ne!(files, draft["files"]);
    assert_eq!(released["files"], files);
    assert_eq!(
        m["files"]["prompt.yaml"].as_str(),
        files["prompt.yaml"].as_str()
    );
}

#[test]
fn moving_the_model_after_messages_keeps_the_digest() {
    let ws = Workspace::init();
    let before = ws.hash(NAME);
    // Move the `model:` line to just before `variables:`, after the messages block.
    ws.replace(PROMPT, &format!("{MODEL_LINE}\n"), "");
    ws.replace(
        PROMPT,
        "variables:\n",
        &format!("{MODEL_LINE}\nvariables:\n"),
    );
    let after = ws.hash(NAME);
    assert_eq!(field(&after, "digest"), field(&before, "digest"));
    assert_eq!(field(&after, "config_hash"), field(&before, "config_hash"));
    assert_ne!(
        field(&after["files"], "prompt.yaml"),
        field(&before["files"], "prompt.yaml")
    );
}

#[test]
fn reordering_the_model_mapping_keeps_the_digest() {
    let ws = Workspace::init();
    let before = ws.hash(NAME);
    ws.replace(
        PROMPT,
        MODEL_LINE,
        "model: { seed: 42, max_tokens: 400, temperature: 0.0, name: gpt-4o-mini, provider: openai }",
    );
    let after = ws.hash(NAME);
    assert_eq!(field(&after, "digest"), field(&before, "digest"));
    assert_eq!(field(&after, "config_hash"), field(&before, "config_hash"));
    assert_ne!(
        field(&after["files"], "prompt.yaml"),
        field(&before["files"], "prompt.yaml")
    );
}

#[test]
fn spaces_inside_braces_keep_the_prompt_hash() {
    let ws = Workspace::init();
    let before = ws.hash(NAME);
    ws.replace(PROMPT, "{{question}}", "{{ question }}");
    ws.replace(SYSTEM, "{{user_name}}", "{{  user_name }}");
    let after = ws.hash(NAME);
    assert_eq!(field(&after, "prompt_hash"), field(&before, "prompt_hash"));
    assert_eq!(field(&after, "digest"), field(&before, "digest"));
    assert_ne!(
        field(&after["files"], "system.md"),
        field(&before["files"], "system.md")
    );
}

#[test]
fn a_text_change_changes_the_prompt_hash_but_not_the_config_hash() {
    let ws = Workspace::init();
    let before = ws.hash(NAME);
    ws.edit_text(1);
    let after = ws.hash(NAME);
    assert_ne!(field(&after, "prompt_hash"), field(&before, "prompt_hash"));
    assert_ne!(field(&after, "digest"), field(&before, "digest"));
    assert_eq!(field(&after, "config_hash"), field(&before, "config_hash"));
}

#[test]
fn a_parameter_change_changes_the_config_hash_but_not_the_prompt_hash() {
    let ws = Workspace::init();
    let before = ws.hash(NAME);
    ws.replace(PROMPT, "max_tokens: 400", "max_tokens: 401");
    let after = ws.hash(NAME);
    assert_ne!(field(&after, "config_hash"), field(&before, "config_hash"));
    assert_ne!(field(&after, "digest"), field(&before, "digest"));
    assert_eq!(field(&after, "prompt_hash"), field(&before, "prompt_hash"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any order of the model's keys and of the variables, with any spacing
    /// after the commas, hashes as the example does.
    #[test]
    fn key_order_and_spacing_never_change_the_digest(
        model in Just(vec!["provider: openai", "name: gpt-4o-mini", "temperature: 0", "max_tokens: 400", "seed: 42"]).prop_shuffle(),
        vars in Just(vec![
            "  question:  { type: string, required: true, max_length: 4000 }",
            "  user_name: { type: string, default: \"there\", pii: true }",
        ]).prop_shuffle(),
        gap in "[ ]{0,3}",
    ) {
        let ws = Workspace::init();
        let expected = field(&ws.hash(NAME), "digest").to_string();
        let model_line = format!("model: {{ {} }}", model.join(&format!(",{gap} ")));
        ws.replace(PROMPT, MODEL_LINE, &model_line);
        let old_vars = "  question:  { type: string, required: true, max_length: 4000 }\n  user_name: { type: string, default: \"there\", pii: true }\n";
        ws.replace(PROMPT, old_vars, &(vars.join("\n") + "\n"));
        let after = ws.hash(NAME);
        prop_assert_eq!(field(&after, "digest"), expected.as_str());
    }
}
