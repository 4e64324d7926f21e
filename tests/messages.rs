//! Messages that say where: a repeated case id or YAML key, a bad
//! `output_schema:` and a file that is not UTF-8 are refused (exit 2,
//! nothing written) naming the file and the line; a byte-order mark in a
//! file promptctl parses is skipped; and `init` keeps hashed files byte for
//! byte in git.

use serde_json::Value;

use crate::util::{NAME, PROMPT, Run, SYSTEM, Workspace, line_of, version_dir};

const SUITE: &str = "evals/support.yaml";
const CASES: &str = "evals/support.cases.jsonl";
const CASSETTE: &str = "evals/cassettes/support.jsonl";
const BOM: &[u8] = b"\xef\xbb\xbf";

/// Runs `args`: exit 2, no file written or changed, and stderr has every
/// one of `needles`.
#[track_caller]
fn refused(ws: &Workspace, args: &[&str], needles: &[&str]) -> Run {
    let before = ws.tree();
    let run = ws.run(args);
    run.code(2);
    before.assert_unchanged(&ws.tree(), &run);
    for needle in needles {
        run.stderr_has(needle);
    }
    run
}

/// Every command that loads the draft, the one that writes last.
const READERS: [&[&str]; 4] = [
    &["hash", NAME],
    &["render", NAME, "--var", "question=q"],
    &["show", NAME],
    &["release", NAME, "--bump", "minor", "-m", "m"],
];

/// `bytes` with a UTF-8 byte-order mark in front.
fn with_bom(bytes: &[u8]) -> Vec<u8> {
    [BOM, bytes].concat()
}

fn digest(ws: &Workspace) -> String {
    ws.hash(NAME)["digest"]
        .as_str()
        .expect("a digest")
        .to_string()
}

#[test]
fn a_repeated_case_id_in_jsonl_names_the_file_and_both_lines() {
    let ws = Workspace::init();
    let cases = ws.read(CASES);
    let second: Value = serde_json::from_str(cases.lines().nth(1).unwrap()).unwrap();
    let id = second["id"].as_str().unwrap();
    ws.append(CASES, &format!("{}\n", cases.lines().nth(1).unwrap()));
    let again = cases.lines().count() + 1;
    let message = format!("`{CASES}:{again}`: case id `{id}` appears twice (first at line 2)");
    refused(&ws, &["eval", "support"], &[&message]);
    // `doctor` says the same.
    let run = ws.run(&["doctor", "--json"]);
    assert!(
        run.stdout.contains(&message),
        "doctor lacks the line\n{run}"
    );
}

#[test]
fn a_repeated_case_id_in_yaml_names_the_file_and_both_lines() {
    let ws = Workspace::init();
    let suite = "\
prompt: support_bot
provider: replay
cases:
  - id: first
    vars: { question: q }
  - { id: other, vars: { question: q } }
  - vars: { question: q }
    id: first
";
    ws.write("evals/inline.yaml", suite);
    let again = line_of(suite, "    id: first");
    refused(
        &ws,
        &["eval", "inline"],
        &[
            "`evals/inline.yaml:",
            &format!(":{again}`: case id `first` appears twice (first at line 4)"),
        ],
    );
    // And in a YAML list of cases beside the suite.
    ws.write(
        "evals/listed.yaml",
        "prompt: support_bot\nprovider: replay\ncases: listed.cases.yaml\n",
    );
    ws.write(
        "evals/listed.cases.yaml",
        "- id: a\n  vars: { question: q }\n- id: b\n  vars: { question: q }\n- id: a\n",
    );
    refused(
        &ws,
        &["eval", "listed"],
        &["`evals/listed.cases.yaml:5`: case id `a` appears twice (first at line 1)"],
    );
}

#[test]
fn a_repeated_key_in_prompt_yaml_is_named_at_its_second_line() {
    let ws = Workspace::init();
    ws.replace(
        PROMPT,
        "max_prompt_tokens: 1500",
        "max_prompt_tokens: 1500\ndescription: said twice",
    );
    let text = ws.read(PROMPT);
    let (first, second) = (line_of(&text, "description:"), line_of(&text, "said twice"));
    let message =
        format!("`{PROMPT}:{second}:1`: key `description` appears twice (first at line {first})");
    for args in READERS {
        refused(&ws, args, &[&message]);
    }
}

#[test]
fn a_variable_declared_twice_is_refused_at_its_second_line() {
    // serde keeps the last of two map keys: the first declaration vanished.
    let ws = Workspace::init();
    ws.replace(
        PROMPT,
        "  user_name: ",
        "  question: { type: integer }\n  user_name: ",
    );
    let text = ws.read(PROMPT);
    let first = line_of(&text, "question:");
    let second = line_of(&text, "question: { type: integer }");
    let message = format!(
        "`{PROMPT}:{second}:3`: variables: key `question` appears twice (first at line {first})"
    );
    for args in READERS {
        refused(&ws, args, &[&message]);
    }
}

#[test]
fn a_provider_defined_twice_is_refused_at_its_second_line() {
    let ws = Workspace::init();
    ws.replace(
        "promptctl.yaml",
        "  replay:\n    type: replay\n",
        "  replay:\n    type: replay\n  openai:\n    type: echo\n",
    );
    let text = ws.read("promptctl.yaml");
    let first = line_of(&text, "  openai:");
    let second = line_of(&text, "type: echo") - 1;
    // (Errors in `promptctl.yaml` name it by its full path.)
    let message = format!(
        "promptctl.yaml:{second}:3`: providers: key `openai` appears twice (first at line {first})"
    );
    for args in [&["list"][..], &["hash", NAME], &["eval", "support"]] {
        refused(&ws, args, &[&message]);
    }
}

#[test]
fn an_output_schema_outside_the_folder_is_named_at_its_line() {
    let ws = Workspace::init();
    ws.replace(
        PROMPT,
        "limitations:\n",
        "output_schema: ../..\nlimitations:\n",
    );
    let line = line_of(&ws.read(PROMPT), "output_schema:");
    let place = format!("`{PROMPT}:{line}:16`: output_schema: `../..` points outside");
    for args in READERS {
        refused(&ws, args, &[&place]);
    }
}

#[test]
fn a_missing_variable_default_is_named_at_the_variable_not_at_a_mention() {
    // The description mentions `user_name:` before `variables:` does; the
    // line is the declaration's.
    let ws = Workspace::init();
    ws.replace(
        PROMPT,
        "description: Customer support assistant",
        "description: \"user_name: the customer\" # Customer support assistant",
    );
    ws.replace(
        PROMPT,
        "user_name: { type: string, default: \"there\"",
        "user_name: { type: string, default: 3",
    );
    let line = line_of(&ws.read(PROMPT), "  user_name:");
    for args in READERS {
        refused(
            &ws,
            args,
            &[&format!("`{PROMPT}:{line}`: variables.user_name.default")],
        );
    }
}

#[test]
fn invalid_utf8_in_a_suite_says_so_and_where() {
    let ws = Workspace::init();
    let mut bytes = ws.read_bytes(SUITE);
    let line = ws.read(SUITE).lines().count() + 1;
    let offset = bytes.len() + "# caf".len();
    bytes.extend_from_slice(b"# caf\xe9\n");
    ws.write(SUITE, &bytes);
    let run = refused(
        &ws,
        &["eval", "support"],
        &[&format!(
            "`{SUITE}:{line}:6`: not valid UTF-8 (byte offset {offset})"
        )],
    );
    run.stderr_lacks("does not exist");
}

#[test]
fn invalid_utf8_in_a_jsonl_case_file_says_so_and_where() {
    let ws = Workspace::init();
    let mut bytes = ws.read_bytes(CASES);
    let line = ws.read(CASES).lines().count() + 1;
    let offset = bytes.len() + "{\"id\": \"".len();
    bytes.extend_from_slice(b"{\"id\": \"\xe9\", \"vars\": {\"question\": \"q\"}}\n");
    ws.write(CASES, &bytes);
    refused(
        &ws,
        &["eval", "support"],
        &[&format!(
            "`{CASES}:{line}:9`: not valid UTF-8 (byte offset {offset})"
        )],
    );
}

#[test]
fn invalid_utf8_in_a_message_file_says_where() {
    let ws = Workspace::init();
    let line = ws.read(SYSTEM).lines().count() + 1;
    let mut bytes = ws.read_bytes(SYSTEM);
    bytes.extend_from_slice(b"Caf\xe9\n");
    ws.write(SYSTEM, &bytes);
    for args in READERS {
        refused(
            &ws,
            args,
            &[&format!("`{SYSTEM}:{line}:4`: not valid UTF-8")],
        );
    }
}

#[test]
fn files_with_a_byte_order_mark_parse_as_without() {
    let ws = Workspace::init();
    let digest_before = digest(&ws);
    for rel in ["promptctl.yaml", PROMPT, SUITE, CASES, CASSETTE] {
        ws.write(rel, with_bom(&ws.read_bytes(rel)));
    }
    // The cases, the cassette and the suite read as before: the example passes.
    ws.run(&["eval", "support"]).success();
    ws.run(&["doctor"]).success();
    // The mark is not content: the digest is the same, the file hash is of
    // the bytes on disk.
    let h = ws.hash(NAME);
    assert_eq!(h["digest"].as_str(), Some(digest_before.as_str()), "{h}");
    assert_eq!(
        h["files"]["prompt.yaml"].as_str(),
        Some(crate::util::sha256(&ws.read_bytes(PROMPT)).as_str())
    );
    // A message file is prompt text, not a format: its mark is kept (it is
    // what the model is sent), so versions released with one keep their
    // digest.
    let prompt_hash = h["prompt_hash"].clone();
    ws.write(SYSTEM, with_bom(&ws.read_bytes(SYSTEM)));
    assert_ne!(ws.hash(NAME)["prompt_hash"], prompt_hash);
    let run = ws.run(&["render", NAME, "--var", "question=q"]);
    assert!(run.success().stdout.contains('\u{feff}'), "{run}");
}

#[test]
fn a_json_schema_file_with_a_byte_order_mark_loads_and_hashes_as_without() {
    let ws = Workspace::init();
    let schema = br#"{"type": "object", "properties": {"answer": {"type": "string"}}}"#;
    ws.write("prompts/support_bot/answer.schema.json", schema);
    ws.replace(
        PROMPT,
        "limitations:\n",
        "output_schema: answer.schema.json\nlimitations:\n",
    );
    let plain = ws.hash(NAME)["config_hash"].clone();
    ws.write("prompts/support_bot/answer.schema.json", with_bom(schema));
    assert_eq!(ws.hash(NAME)["config_hash"], plain);
}

#[test]
fn a_released_prompt_yaml_with_a_byte_order_mark_keeps_it_and_rebases_its_schema_line() {
    let ws = Workspace::init();
    ws.write(PROMPT, with_bom(&ws.read_bytes(PROMPT)));
    ws.release(&["--bump", "minor", "-m", "First"]);
    let frozen = ws.read_bytes(&format!("{}/prompt.yaml", version_dir("0.1.0")));
    let expected = b"# yaml-language-server: $schema=../../../../schemas/prompt.schema.json\n";
    assert!(
        frozen.starts_with(&[BOM, &expected[..]].concat()),
        "{}",
        String::from_utf8_lossy(&frozen[..frozen.len().min(120)])
    );
    ws.run(&["verify"]).success();
    let rows = ws.run(&["list", "--json"]).success().json();
    assert!(rows.to_string().contains("\"clean\""), "{rows}");
}

#[test]
fn init_keeps_hashed_files_byte_for_byte_in_git() {
    let ws = Workspace::init();
    let attributes = ws.read(".gitattributes");
    for rule in ["prompts/** -text", "evals/** -text", "evidence/** -text"] {
        assert!(
            attributes.lines().any(|l| l == rule),
            "no `{rule}` in:\n{attributes}"
        );
    }
    // Git reads it so: no end-of-line conversion for a draft, a released
    // file, a case file or an evidence pack.
    ws.git(&["init", "-q"]);
    for file in [
        SYSTEM,
        "prompts/support_bot/versions/1.0.0/system.md",
        CASES,
        "evidence/support_bot/1.0.0/evidence.md",
    ] {
        let run = ws.git(&["check-attr", "text", "--", file]);
        assert_eq!(run.stdout.trim(), format!("{file}: text: unset"), "{run}");
    }
    let run = ws.git(&["check-attr", "text", "--", "README.md"]);
    assert_eq!(run.stdout.trim(), "README.md: text: unspecified", "{run}");
}
