//! The other commands: init, new, list, show, log, diff, lint, completions,
//! help and the global flags.

use crate::util::{
    CHANGELOG, EPOCH_RFC3339, GREETING, GREETING_NO_NAME, NAME, PROMPT, SYSTEM, Workspace, line_of,
    version_dir,
};

/// The subcommands that `promptctl --help` lists (except `help`), so a new
/// command is covered as soon as it exists.
fn subcommands(ws: &Workspace) -> Vec<String> {
    let help = ws.run(&["--help"]).success().stdout.clone();
    let list = help
        .split("Commands:\n")
        .nth(1)
        .expect("--help lists commands");
    let names: Vec<String> = list
        .lines()
        .take_while(|l| !l.trim().is_empty())
        // A wrapped description continues on a deeper-indented line.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_string)
        .collect();
    assert!(names.len() >= 12, "too few commands in --help: {names:?}");
    names
}

#[test]
fn top_level_help() {
    let ws = Workspace::empty();
    let run = ws.run(&["--help"]);
    run.success();
    insta::assert_snapshot!("help", run.stdout);
}

#[test]
fn every_subcommand_help_has_an_example() {
    let ws = Workspace::empty();
    for sub in subcommands(&ws) {
        ws.run(&[&sub, "--help"])
            .success()
            .stdout_has("Example")
            .stdout_has(&format!("promptctl {sub}"));
    }
}

#[test]
fn help_documents_the_exit_codes() {
    let ws = Workspace::empty();
    let run = ws.run(&["--help"]);
    for code in [
        "0  success",
        "1  a gate failed",
        "2  bad usage",
        "3  the work",
        "4  integrity",
        "5  inconclusive",
    ] {
        run.stdout_has(code);
    }
}

#[test]
fn completions_for_each_shell() {
    let ws = Workspace::empty();
    for shell in ["bash", "zsh", "fish"] {
        ws.run(&["completions", shell])
            .success()
            .stdout_has("promptctl")
            .stdout_has("release");
    }
    ws.run(&["completions", "cmd.exe"]).code(2);
}

#[test]
fn init_writes_a_workspace_that_lints_clean() {
    let ws = Workspace::init();
    let tree = ws.tree();
    let files: Vec<&str> = tree
        .paths()
        .filter(|p| p.starts_with("ws/"))
        .map(|p| p.strip_prefix("ws/").unwrap())
        .collect();
    for expected in [
        ".gitignore",
        "promptctl.yaml",
        "prompts/support_bot/prompt.yaml",
        "prompts/support_bot/system.md",
        "evals/support.yaml",
        "evals/support.cases.jsonl",
    ] {
        assert!(
            files.contains(&expected),
            "init did not write {expected}: {files:?}"
        );
    }
    assert!(ws.read(".gitignore").contains(".promptctl/"));
    ws.run(&["lint"]).success();
    ws.run(&["lint", "--strict"]).success();
}

#[test]
fn init_refuses_to_overwrite_a_workspace() {
    let ws = Workspace::init();
    ws.edit_text(1);
    let before = ws.tree();
    let run = ws.run(&["init", "."]);
    run.code(2)
        .stderr_has("refusing to overwrite")
        .stderr_has("promptctl.yaml");
    before.assert_unchanged(&ws.tree(), &run);
}

#[test]
fn init_refuses_a_folder_with_any_of_its_files() {
    let ws = Workspace::empty();
    ws.write("promptctl.yaml", "providers: {}\n");
    let before = ws.tree();
    let run = ws.run(&["init", "."]);
    run.code(2).stderr_has("`promptctl.yaml`");
    before.assert_unchanged(&ws.tree(), &run);
}

#[test]
fn init_with_dash_c_creates_the_folder() {
    let ws = Workspace::empty();
    ws.run(&["-C", "sub", "init", "."]).success();
    assert!(ws.path("sub/promptctl.yaml").is_file());
    ws.run(&["-C", "sub", "list"]).success().stdout_has(NAME);
}

#[test]
fn new_creates_a_draft_with_five_sections_and_refuses_twice() {
    let ws = Workspace::init();
    ws.run(&["new", "faq_bot", "--description", "Answers FAQs"])
        .success();
    let prompt = ws.read("prompts/faq_bot/prompt.yaml");
    assert!(
        prompt.contains("name: faq_bot") && prompt.contains("Answers FAQs"),
        "{prompt}"
    );
    let system = ws.read("prompts/faq_bot/system.md");
    for heading in [
        "## Identity & role",
        "## Behaviour",
        "## Capabilities & limits",
        "## Output format",
        "## Safety & escalation",
    ] {
        assert!(system.contains(heading), "no {heading:?} in\n{system}");
    }
    // The new draft is valid and has no lint warnings.
    ws.run(&["lint", "faq_bot", "--strict"]).success();
    ws.run(&["render", "faq_bot", "--var", "input=hi"])
        .success()
        .stdout_has("hi");

    let before = ws.tree();
    let run = ws.run(&["new", "faq_bot"]);
    run.code(2).stderr_has("`prompts/faq_bot` already exists");
    before.assert_unchanged(&ws.tree(), &run);
}

#[test]
fn list_json_shows_the_draft_state() {
    let ws = Workspace::init();
    let state = |ws: &Workspace| {
        let rows = ws.run(&["list", "--json"]).success().json();
        let row = rows
            .as_array()
            .and_then(|r| r.iter().find(|r| r["name"] == NAME))
            .cloned();
        row.unwrap_or_else(|| panic!("no {NAME} in {rows}"))
    };
    let row = state(&ws);
    assert_eq!(row["draft"], "unreleased");
    assert!(row["latest"].is_null());
    assert_eq!(row["versions"], 0);

    ws.release(&["--bump", "minor", "-m", "First"]);
    let row = state(&ws);
    assert_eq!(row["draft"], "clean");
    assert_eq!(row["latest"], "0.1.0");
    assert_eq!(row["versions"], 1);

    ws.edit_text(1);
    assert_eq!(state(&ws)["draft"], "changed");

    ws.replace(PROMPT, "temperature: 0", "temperature: hot");
    assert_eq!(state(&ws)["draft"], "invalid");
}

#[test]
fn list_table_names_each_prompt() {
    let ws = Workspace::init();
    ws.run(&["new", "faq_bot"]).success();
    ws.run(&["list"])
        .success()
        .stdout_has(NAME)
        .stdout_has("faq_bot")
        .stdout_has("unreleased");
}

#[test]
fn log_lists_releases_newest_first() {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First release"]);
    ws.edit_text(1);
    ws.release(&["--bump", "patch", "-m", "Second release"]);

    let log = ws.run(&["log", NAME, "--json"]).success().json();
    let versions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["0.1.1", "0.1.0"]);
    assert_eq!(log[0]["changelog"], "Second release");
    assert_eq!(log[0]["parent"], "0.1.0");

    let text = ws.run(&["log", NAME]).success().stdout.clone();
    let (second, first) = (
        text.find("Second release").unwrap(),
        text.find("First release").unwrap(),
    );
    assert!(second < first, "{text}");
}

#[test]
fn log_of_a_prompt_without_releases_says_how_to_release() {
    let ws = Workspace::init();
    ws.run(&["log", NAME])
        .success()
        .stdout_empty()
        .stderr_has("no releases yet");
}

#[test]
fn show_json_has_the_artifact_and_its_hashes() {
    let ws = Workspace::init();
    let draft = ws.run(&["show", NAME, "--json"]).success().json();
    assert_eq!(draft["name"], NAME);
    assert!(draft["version"].is_null() && draft["manifest"].is_null());
    assert_eq!(draft["model"]["provider"], "openai");
    assert_eq!(draft["variables"]["question"]["required"], true);
    assert_eq!(draft["messages"][0]["file"], "system.md");
    assert_eq!(draft["messages"][1]["text"], "{{question}}");
    assert_eq!(draft["hashes"]["digest"], ws.hash(NAME)["digest"]);

    ws.release(&["--bump", "minor", "-m", "First"]);
    let released = ws
        .run(&["show", "support_bot@0.1.0", "--json"])
        .success()
        .json();
    assert_eq!(released["version"], "0.1.0");
    assert_eq!(released["manifest"]["changelog"], "First");
    assert_eq!(released["manifest"]["digest"], released["hashes"]["digest"]);
}

#[test]
fn show_text_has_the_variables_and_messages() {
    let ws = Workspace::init();
    ws.run(&["show", NAME])
        .success()
        .stdout_has("support_bot (draft)")
        .stdout_has("user_name")
        .stdout_has("--- system (system.md) ---")
        .stdout_has("## Safety & escalation");
}

#[test]
fn diff_shows_the_changed_lines_and_the_bump_they_need() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "Stable"]);
    ws.drop_user_name();
    ws.release(&["--bump", "major", "-m", "Drop user_name"]);

    ws.run(&["diff", "support_bot@1.0.0", "support_bot@2.0.0"])
        .success()
        .stdout_has("--- support_bot@1.0.0/system.md")
        .stdout_has("+++ support_bot@2.0.0/system.md")
        .stdout_has(&format!("-{}", GREETING))
        .stdout_has(&format!("+{}", GREETING_NO_NAME))
        .stdout_has("-  user_name:")
        .stdout_has("needs a major bump")
        .stdout_has("variable `user_name` was removed");

    let json = ws
        .run(&["diff", "support_bot@1.0.0", "support_bot@2.0.0", "--json"])
        .success()
        .json();
    assert_eq!(json["needs"], "major");
    assert_eq!(json["same_digest"], false);
    let files: Vec<&str> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["prompt.yaml", "system.md"]);
}

#[test]
fn diff_of_a_text_edit_needs_a_patch() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "Stable"]);
    ws.edit_text(7);
    ws.run(&["diff", "support_bot@1.0.0", NAME])
        .success()
        .stdout_has("+++ support_bot@draft/system.md")
        .stdout_has("+House rule 7: keep it short.")
        .stdout_has("needs a patch bump");
}

#[test]
fn diff_of_identical_versions_says_so() {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First"]);
    ws.run(&["diff", "support_bot@0.1.0", NAME])
        .success()
        .stdout_has("are identical");
}

/// Before 1.0.0 `release` accepts a minor bump for a breaking change
/// (SPEC §3, as Cargo does), but `diff` still says it needs a major one.
#[test]

fn diff_reports_the_bump_that_release_requires_before_1_0() {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First"]);
    ws.drop_user_name();
    ws.run(&["diff", "support_bot@0.1.0", NAME])
        .success()
        .stdout_has("needs a minor bump");
    ws.release(&["--bump", "minor", "-m", "Drop user_name"]);
}

#[test]
fn lint_passes_on_the_init_workspace() {
    let ws = Workspace::init();
    let out = ws.run(&["lint", "--json"]).success().json();
    assert_eq!(out["findings"].as_array().map(Vec::len), Some(0), "{out}");
    assert!(
        out["tokens"][NAME]["tokens"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{out}"
    );
}

/// SPEC §1: cases may live beside the suite as a YAML list. Such a file is
/// the suite's dataset, not a broken suite, for `lint` (and `doctor`).
#[test]
fn a_yaml_cases_file_beside_its_suite_is_not_a_suite() {
    let ws = Workspace::init();
    ws.write(
        "evals/faq.yaml",
        "prompt: support_bot\nprovider: echo\ncases: faq.cases.yaml\ngates: { pass_rate: 1.0 }\n",
    );
    ws.write(
        "evals/faq.cases.yaml",
        "- { id: a, vars: { question: \"How do I archive a board?\" } }\n",
    );
    let out = ws.run(&["lint", "--json"]).success().json();
    assert_eq!(out["findings"].as_array().map(Vec::len), Some(0), "{out}");
    // The suite itself still runs on that file.
    ws.run(&["eval", "faq"]).success();
    // And a YAML file no suite names is still checked as a suite.
    ws.write("evals/stray.yaml", "- { id: a }\n");
    ws.run(&["lint"]).code(2).stdout_has("evals/stray.yaml");
}

#[test]
fn lint_finds_an_api_key_without_printing_it() {
    let ws = Workspace::init();
    let key = format!("sk-proj-{}", "a1B2c3D4e5".repeat(3));
    assert_eq!(key.len(), "sk-proj-".len() + 30);
    ws.append(
        SYSTEM,
        &format!("\nInternal: use {key} for the status API.\n"),
    );
    let line = line_of(&ws.read(SYSTEM), "Internal: use");

    ws.run(&["lint"])
        .code(1)
        .stdout_has(&format!("{SYSTEM}:{line}"))
        .stdout_has("openai_key")
        .output_lacks(&key)
        .output_lacks("a1B2c3D4e5");
    let run = ws.run(&["lint", "--json"]);
    run.code(1).output_lacks("a1B2c3D4e5");
    let finding = &run.json()["findings"][0];
    assert_eq!(finding["code"], "secret");
    assert_eq!(finding["file"], SYSTEM);
    assert_eq!(finding["line"], line);
}

#[test]
fn lint_strict_fails_on_an_unused_variable() {
    let ws = Workspace::init();
    ws.replace(SYSTEM, GREETING, GREETING_NO_NAME);
    let line = line_of(&ws.read(PROMPT), "user_name:");
    ws.run(&["lint"])
        .success()
        .stdout_has("unused-variable")
        .stdout_has(&format!("{PROMPT}:{line}"));
    ws.run(&["lint", "--strict"])
        .code(1)
        .stdout_has("`user_name`")
        .stderr_has("--strict");
}

#[test]
fn lint_warns_about_a_missing_section() {
    let ws = Workspace::init();
    ws.replace(SYSTEM, "## Output format", "## Answers");
    ws.run(&["lint"])
        .success()
        .stdout_has("missing-section")
        .stdout_has("output format");
    ws.run(&["lint", "--strict"]).code(1);
}

#[test]
fn lint_errors_on_an_unknown_provider() {
    let ws = Workspace::init();
    ws.replace(PROMPT, "provider: openai", "provider: opneai");
    ws.run(&["lint"])
        .code(1)
        .stdout_has("unknown provider `opneai`");
}

#[test]
fn lint_errors_on_a_system_text_over_budget() {
    let ws = Workspace::init();
    ws.replace(PROMPT, "max_prompt_tokens: 1500", "max_prompt_tokens: 10");
    ws.run(&["lint"])
        .code(1)
        .stdout_has("token-budget")
        .stdout_has("max_prompt_tokens 10");
}

#[test]
fn json_output_is_json_and_nothing_else() {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First"]);
    let commands: [&[&str]; 7] = [
        &["list", "--json"],
        &["log", NAME, "--json"],
        &["show", NAME, "--json"],
        &["hash", NAME, "--json"],
        &["verify", "--json"],
        &["lint", "--json"],
        &["diff", "support_bot@0.1.0", NAME, "--json"],
    ];
    for args in commands {
        ws.run(args).success().json();
    }
}

#[test]
fn color_only_when_asked_and_never_with_no_color() {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First"]);
    ws.run(&["verify"]).success().output_lacks("\x1b[");
    ws.run(&["verify", "--color", "always"])
        .success()
        .stdout_has("\x1b[");
    ws.cmd(["verify"])
        .env_remove("NO_COLOR")
        .run()
        .success()
        .output_lacks("\x1b[");
    ws.run(&["verify", "--json", "--color", "always"])
        .success()
        .json();
}

#[test]
fn promptctl_dir_names_the_workspace() {
    let ws = Workspace::init();
    ws.cmd(["list"])
        .current_dir(ws.tmp())
        .env("PROMPTCTL_DIR", ws.root())
        .run()
        .success()
        .stdout_has(NAME);
    ws.cmd(["list"]).current_dir(ws.tmp()).run().code(2);
}

#[test]
fn the_workspace_is_found_from_a_subfolder() {
    let ws = Workspace::init();
    ws.cmd(["hash", NAME])
        .current_dir(ws.path("prompts/support_bot"))
        .run()
        .success();
}

#[test]
fn changelog_records_each_release() {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First release"]);
    let text = ws.read(CHANGELOG);
    let digest = ws.manifest("0.1.0")["digest"].as_str().unwrap().to_string();
    assert!(text.starts_with("# Changelog: support_bot"), "{text}");
    assert!(
        text.contains(&format!("## 0.1.0 — {}", &EPOCH_RFC3339[..10])),
        "{text}"
    );
    assert!(text.contains(&digest), "{text}");
    assert!(ws.path(&version_dir("0.1.0")).is_dir());
}
