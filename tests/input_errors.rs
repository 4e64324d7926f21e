//! Bad input exits 2 with an error naming the file, the line and the key,
//! for every command that reads it, and writes nothing.

use std::ffi::OsStr;

use crate::util::{NAME, PROMPT, Run, SYSTEM, Workspace, alias_bomb, line_of, version_dir};

/// Every command that loads the draft; each must refuse bad input the same way.
const READERS: [&[&str]; 5] = [
    &["render", NAME, "--var", "question=q"],
    &["hash", NAME],
    &["show", NAME],
    &["lint", NAME],
    &["release", NAME, "--bump", "minor", "-m", "m"],
];

/// Runs every reader: exit 2, nothing written, and the output (stderr, or
/// stdout for lint's findings) contains each of `needles`.
#[track_caller]
fn every_reader_refuses(ws: &Workspace, needles: &[&str]) {
    for args in READERS {
        let before = ws.tree();
        let run = ws.run(args);
        run.code(2);
        before.assert_unchanged(&ws.tree(), &run);
        let text = if args[0] == "lint" {
            format!("{}{}", run.stdout, run.stderr)
        } else {
            run.stderr.clone()
        };
        for needle in needles {
            assert!(text.contains(needle), "output lacks {needle:?}\n{run}");
        }
    }
}

/// `prompts/support_bot/prompt.yaml:LINE` for the line that contains `needle`.
fn at(ws: &Workspace, needle: &str) -> String {
    format!("{PROMPT}:{}", line_of(&ws.read(PROMPT), needle))
}

#[test]
fn an_unknown_key_is_named_with_its_line_and_a_suggestion() {
    let ws = Workspace::init();
    ws.replace(PROMPT, "temperature: 0", "temprature: 0");
    let place = at(&ws, "temprature");
    every_reader_refuses(&ws, &[&format!("{place}:"), "unknown field `temprature`"]);
    ws.run(&["render", NAME, "--var", "question=q"])
        .stderr_has("did you mean `temperature`?");
}

#[test]
fn an_unknown_top_level_key_is_named_with_its_line() {
    let ws = Workspace::init();
    ws.replace(PROMPT, "limitations:\n", "limitatons:\n");
    let place = at(&ws, "limitatons:");
    every_reader_refuses(&ws, &[&format!("{place}:"), "limitatons"]);
    ws.run(&["hash", NAME])
        .stderr_has("did you mean `limitations`?");
}

#[test]
fn a_value_of_the_wrong_type_is_named_with_its_line() {
    let ws = Workspace::init();
    ws.replace(PROMPT, "temperature: 0", "temperature: hot");
    let place = at(&ws, "temperature: hot");
    every_reader_refuses(&ws, &[&format!("{place}:"), "temperature", "\"hot\""]);
}

#[test]
fn a_variable_with_a_wrong_type_is_named_with_its_line() {
    let ws = Workspace::init();
    ws.replace(PROMPT, "max_length: 4000", "max_length: lots");
    let place = at(&ws, "max_length: lots");
    every_reader_refuses(&ws, &[&format!("{place}:"), "max_length"]);
}

#[test]
fn broken_yaml_is_named_with_its_line() {
    let ws = Workspace::init();
    ws.replace(PROMPT, "messages:\n", "messages: [\n");
    every_reader_refuses(&ws, &[&format!("{PROMPT}:")]);
}

#[test]
fn an_undefined_variable_in_the_system_text_is_named() {
    let ws = Workspace::init();
    ws.replace(SYSTEM, "{{user_name}}", "{{username}}");
    every_reader_refuses(&ws, &["system.md", "`username`"]);
    ws.run(&["hash", NAME])
        .stderr_has("did you mean `user_name`?");
}

#[test]
fn an_invalid_version_is_named() {
    let ws = Workspace::init();
    let before = ws.tree();
    let run = ws.run(&["release", NAME, "--version", "1.x", "-m", "m"]);
    run.code(2)
        .stderr_has("invalid version `1.x`")
        .stdout_empty();
    before.assert_unchanged(&ws.tree(), &run);
    ws.run(&["render", "support_bot@1.x", "--var", "question=q"])
        .code(2)
        .stderr_has("1.x");
}

#[test]
fn invalid_prompt_names_are_refused_before_any_file_is_touched() {
    let ws = Workspace::init();
    let commands: [&[&str]; 5] = [
        &["render", "@@"],
        &["hash", "@@"],
        &["release", "@@", "--bump", "minor", "-m", "m"],
        &["new", "@@"],
        &["verify", "@@"],
    ];
    for bad in ["../x", "A", "a/b", "", "..", "Support_bot", "x y"] {
        for args in commands {
            let args: Vec<&str> = args
                .iter()
                .map(|a| if *a == "@@" { bad } else { a })
                .collect();
            let before = ws.tree();
            let run = ws.run(&args);
            run.code(2).stdout_empty();
            if !bad.is_empty() {
                run.stderr_has(&format!("invalid prompt name `{bad}`"));
            }
            before.assert_unchanged(&ws.tree(), &run);
        }
    }
}

#[test]
fn a_file_reference_outside_the_folder_is_refused() {
    let ws = Workspace::init();
    ws.replace(PROMPT, "file: system.md", "file: ../../promptctl.yaml");
    let place = at(&ws, "../../promptctl.yaml");
    every_reader_refuses(
        &ws,
        &[&format!("{place}:"), "`../../promptctl.yaml`", "outside"],
    );
}

#[test]
fn an_absolute_file_reference_is_refused() {
    let ws = Workspace::init();
    ws.replace(PROMPT, "file: system.md", "file: /etc/passwd");
    let place = at(&ws, "/etc/passwd");
    every_reader_refuses(&ws, &[&format!("{place}:"), "outside"]);
}

#[cfg(unix)]
#[test]
fn a_file_reference_that_is_a_symlink_out_of_the_folder_is_refused() {
    let ws = Workspace::init();
    std::os::unix::fs::symlink("/etc/passwd", ws.path("prompts/support_bot/policy.md")).unwrap();
    ws.replace(PROMPT, "file: system.md", "file: policy.md");
    let place = at(&ws, "policy.md");
    every_reader_refuses(&ws, &[&format!("{place}`"), "`policy.md`", "symlink"]);
    ws.run(&["render", NAME, "--var", "question=q"])
        .output_lacks("root:");
}

#[cfg(unix)]
#[test]
fn a_symlink_to_a_file_inside_the_folder_is_frozen_as_a_regular_file() {
    let ws = Workspace::init();
    std::fs::rename(ws.path(SYSTEM), ws.path("prompts/support_bot/policy.md")).unwrap();
    std::os::unix::fs::symlink("policy.md", ws.path(SYSTEM)).unwrap();
    ws.release(&["--bump", "minor", "-m", "via a symlink"]);
    let frozen = ws.path(&format!("{}/system.md", version_dir("0.1.0")));
    assert!(
        frozen.symlink_metadata().unwrap().file_type().is_file(),
        "a version holds copies, not links"
    );
    ws.run(&["verify"]).success();
}

#[test]
fn a_missing_referenced_file_is_named() {
    let ws = Workspace::init();
    ws.remove(SYSTEM);
    let place = at(&ws, "file: system.md");
    every_reader_refuses(&ws, &[&format!("{place}`"), "`system.md` does not exist"]);
}

#[test]
fn a_missing_output_schema_file_is_named() {
    let ws = Workspace::init();
    ws.replace(
        PROMPT,
        "limitations:\n",
        "output_schema: answer.schema.json\nlimitations:\n",
    );
    let place = at(&ws, "answer.schema.json");
    every_reader_refuses(&ws, &[&format!("{place}`"), "answer.schema.json"]);
}

#[test]
fn an_alias_bomb_in_prompt_yaml_fails_fast() {
    let ws = Workspace::init();
    // `retrieval:` takes any value, so the parser itself must refuse to expand it.
    ws.append(PROMPT, &format!("retrieval:\n{}", alias_bomb("  ")));
    every_reader_refuses(&ws, &[PROMPT, "alias"]);
}

#[test]
fn an_alias_bomb_in_promptctl_yaml_fails_fast() {
    let ws = Workspace::init();
    ws.write("promptctl.yaml", alias_bomb(""));
    for args in [
        &["list"][..],
        &["verify"],
        &["render", NAME, "--var", "question=q"],
    ] {
        ws.run(args).code(2).stderr_has("promptctl.yaml:");
    }
}

#[test]
fn an_alias_bomb_in_a_vars_file_fails_fast() {
    let ws = Workspace::init();
    ws.write("vars.yaml", format!("question: hi\n{}", alias_bomb("")));
    ws.run(&["render", NAME, "--vars", "vars.yaml"])
        .code(2)
        .stderr_has("vars.yaml")
        .stderr_has("alias");
}

#[test]
fn an_unknown_key_in_promptctl_yaml_is_named_with_its_line() {
    let ws = Workspace::init();
    ws.replace("promptctl.yaml", "    retries: 4\n", "    retires: 4\n");
    let line = line_of(&ws.read("promptctl.yaml"), "retires: 4");
    let run = ws.run(&["list"]);
    run.code(2)
        .stderr_has(&format!("promptctl.yaml:{line}:"))
        .stderr_has("retires")
        .stderr_has("did you mean `retries`?");
}

#[test]
fn a_literal_api_key_in_promptctl_yaml_is_refused_without_printing_it() {
    let ws = Workspace::init();
    let key = format!("sk-proj-{}", "Zq7".repeat(10));
    ws.replace(
        "promptctl.yaml",
        "    api_key_env: OPENAI_API_KEY\n",
        &format!("    api_key: {key}\n"),
    );
    for args in [&["list"][..], &["lint"], &["verify", "--json"]] {
        let run: Run = ws.run(args);
        run.code(2)
            .stderr_has("promptctl.yaml:")
            .stderr_has("providers.openai")
            .stderr_has("`api_key`")
            .stderr_has("api_key_env")
            .output_lacks(&key);
    }
}

/// The error names line 13 (`type: openai`, where the provider's mapping
/// starts) instead of line 15, where `api_key:` is.
#[test]

fn a_literal_api_key_is_reported_at_its_own_line() {
    let ws = Workspace::init();
    ws.replace(
        "promptctl.yaml",
        "    api_key_env: OPENAI_API_KEY\n",
        "    api_key: sk-proj-abcdefghijklmnopqrstuvwxyz\n",
    );
    let line = line_of(&ws.read("promptctl.yaml"), "api_key:");
    ws.run(&["list"])
        .code(2)
        .stderr_has(&format!("promptctl.yaml:{line}:"));
}

#[test]
fn commands_outside_a_workspace_say_so() {
    let ws = Workspace::empty();
    ws.run(&["list"])
        .code(2)
        .stderr_has("not in a promptctl workspace")
        .stderr_has("promptctl init");
    let missing = ws.tmp().join("nowhere");
    ws.cmd([OsStr::new("-C"), missing.as_os_str(), OsStr::new("list")])
        .run()
        .code(2)
        .stderr_has("not a promptctl workspace");
}

#[test]
fn unknown_flags_and_commands_are_usage_errors() {
    let ws = Workspace::init();
    ws.run(&["lint", "--no-such-flag"]).code(2);
    ws.run(&["frobnicate"]).code(2);
    ws.run(&["render", NAME, "--var", "question"])
        .code(2)
        .stderr_has("`--var question` is not `name=value`");
}
