//! `release`: what it writes, and what it refuses. A refused release exits 2
//! and leaves every file exactly as it was.

use crate::util::{
    CHANGELOG, EPOCH_RFC3339, GREETING, NAME, PROMPT, Run, SYSTEM, Workspace, version_dir,
};

/// Runs a release that must be refused: exit 2, nothing on stdout, no file
/// written, changed or removed (local state in `.promptctl/` aside). Returns
/// the run for further checks of its message.
#[track_caller]
fn refused(ws: &Workspace, args: &[&str]) -> Run {
    let before = ws.tree();
    let mut all = vec!["release", NAME];
    all.extend_from_slice(args);
    let run = ws.run(&all);
    run.code(2).stdout_empty().stderr_has("error: ");
    before.assert_unchanged(&ws.tree(), &run);
    run
}

#[test]
fn a_release_writes_the_version_the_manifest_and_the_changelog() {
    let ws = Workspace::init();
    let run = ws.release(&["--bump", "minor", "-m", "First release"]);
    run.stdout_has("released support_bot@0.1.0");

    let m = ws.manifest("0.1.0");
    assert_eq!(m["name"].as_str(), Some("support_bot"));
    assert_eq!(m["version"].as_str(), Some("0.1.0"));
    assert_eq!(m["changelog"].as_str(), Some("First release"));
    assert_eq!(
        m["created_at"].as_str(),
        Some(EPOCH_RFC3339),
        "SOURCE_DATE_EPOCH pins created_at"
    );
    assert_eq!(m["model"]["name"].as_str(), Some("gpt-4o-mini"));
    for key in ["prompt_hash", "config_hash", "digest", "seal"] {
        assert!(
            m[key].as_str().is_some_and(|h| h.starts_with("sha256:")),
            "{key}: {m:?}"
        );
    }
    // Frozen copies are byte-identical to the draft, but for prompt.yaml's
    // schema line, rebased to resolve from the version's folder.
    for file in ["prompt.yaml", "system.md"] {
        let frozen = ws.read(&format!("{}/{file}", version_dir("0.1.0")));
        let draft = ws.read(&format!("prompts/support_bot/{file}"));
        let want = match file {
            "prompt.yaml" => draft.replacen("$schema=../../", "$schema=../../../../", 1),
            _ => draft,
        };
        assert_eq!(frozen, want, "{file}");
    }
    // Built in a temp folder and renamed: nothing else is left in versions/.
    let entries: Vec<String> = std::fs::read_dir(ws.path("prompts/support_bot/versions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, ["0.1.0"]);
    assert!(ws.read(CHANGELOG).contains("First release"));
}

#[test]
fn bumps_count_from_the_latest_version() {
    let ws = Workspace::init();
    ws.release(&["--bump", "patch", "-m", "a"])
        .stdout_has("support_bot@0.0.1");
    ws.edit_text(1);
    ws.release(&["--bump", "minor", "-m", "b"])
        .stdout_has("support_bot@0.1.0");
    ws.edit_text(2);
    ws.release(&["--bump", "major", "-m", "c"])
        .stdout_has("support_bot@1.0.0");
    ws.edit_text(3);
    ws.release(&["--version", "1.4.2", "-m", "d"])
        .stdout_has("support_bot@1.4.2");
    assert_eq!(ws.manifest("1.4.2")["parent"].as_str(), Some("1.0.0"));
    ws.run(&["verify"]).success();
}

#[test]
fn refuses_an_existing_version() {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First"]);
    ws.edit_text(1);
    refused(&ws, &["--version", "0.1.0", "-m", "again"]).stderr_has("0.1.0 already exists");
}

#[test]
fn refuses_a_version_not_above_the_latest() {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First"]);
    ws.edit_text(1);
    refused(&ws, &["--version", "0.0.5", "-m", "older"])
        .stderr_has("0.0.5 is not above the latest version 0.1.0");
}

#[test]
fn refuses_an_unchanged_draft() {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First"]);
    refused(&ws, &["--bump", "patch", "-m", "again"]).stderr_has("nothing changed");
}

#[test]
fn a_draft_that_differs_only_in_formatting_is_unchanged() {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First"]);
    ws.replace(PROMPT, "{{question}}", "{{ question }}");
    refused(&ws, &["--bump", "patch", "-m", "spacing"]).stderr_has("nothing changed");
}

#[test]
fn refuses_an_invalid_draft() {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First"]);
    ws.replace(
        PROMPT,
        "max_prompt_tokens: 1500",
        "max_prompt_tokens: 1500\nreviewed_by: ana",
    );
    refused(&ws, &["--bump", "patch", "-m", "typo"])
        .stderr_has("draft is invalid")
        .stderr_has("reviewed_by");
}

#[test]
fn refuses_an_invalid_first_release() {
    let ws = Workspace::init();
    ws.replace(PROMPT, "temperature: 0", "temperature: warm");
    refused(&ws, &["--bump", "minor", "-m", "First"]).stderr_has("temperature");
    assert!(!ws.path("prompts/support_bot/versions").exists());
}

#[test]
fn refuses_an_empty_message() {
    let ws = Workspace::init();
    refused(&ws, &["--bump", "minor", "-m", "  "]).stderr_has("message is empty");
}

#[test]
fn refuses_a_pre_release_version() {
    let ws = Workspace::init();
    refused(&ws, &["--version", "1.0.0-rc.1", "-m", "rc"]).stderr_has("pre-release");
}

#[test]
fn refuses_a_smaller_bump_than_a_removed_variable_needs() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "Stable"]);
    ws.drop_user_name();
    for bump in ["patch", "minor"] {
        refused(&ws, &["--bump", bump, "-m", "Drop user_name"])
            .stderr_has("needs major")
            .stderr_has("`user_name`")
            .stderr_has("--allow-bump");
    }
    ws.release(&["--bump", "major", "-m", "Drop user_name"])
        .stdout_has("support_bot@2.0.0");
    ws.run(&["verify"]).success();
}

#[test]
fn allow_bump_overrides_the_bump_check() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "Stable"]);
    ws.drop_user_name();
    ws.release(&["--bump", "patch", "--allow-bump", "-m", "Drop user_name"])
        .stdout_has("support_bot@1.0.1")
        .stdout_has("variable `user_name` was removed");
    ws.run(&["verify"]).success();
}

#[test]
fn before_1_0_a_breaking_change_needs_a_minor_bump() {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First"]);
    ws.drop_user_name();
    refused(&ws, &["--bump", "patch", "-m", "Drop user_name"]).stderr_has("needs minor");
    ws.release(&["--bump", "minor", "-m", "Drop user_name"])
        .stdout_has("support_bot@0.2.0");
}

#[test]
fn a_new_optional_variable_needs_a_minor_bump() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "Stable"]);
    ws.replace(
        PROMPT,
        "variables:\n",
        "variables:\n  plan: { type: string, default: \"Free\" }\n",
    );
    ws.replace(
        SYSTEM,
        GREETING,
        &format!("{GREETING} The user is on the {{{{plan}}}} plan."),
    );
    refused(&ws, &["--bump", "patch", "-m", "Plan"]).stderr_has("`plan`");
    ws.release(&["--bump", "minor", "-m", "Plan"])
        .stdout_has("support_bot@1.1.0");
}

#[test]
fn a_text_change_is_a_patch() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "Stable"]);
    ws.edit_text(1);
    ws.release(&["--bump", "patch", "-m", "Wording"])
        .stdout_has("support_bot@1.0.1");
}

#[test]
fn release_needs_bump_or_version() {
    let ws = Workspace::init();
    let before = ws.tree();
    let run = ws.run(&["release", "support_bot", "-m", "no target"]);
    run.code(2);
    before.assert_unchanged(&ws.tree(), &run);
    ws.run(&[
        "release",
        "support_bot",
        "--bump",
        "minor",
        "--version",
        "0.1.0",
        "-m",
        "both",
    ])
    .code(2);
    ws.run(&["release", "support_bot", "--bump", "huge", "-m", "x"])
        .code(2);
}

#[test]
fn concurrent_releases_of_the_same_draft_make_one_version() {
    let ws = Workspace::init();
    let args = ["release", "support_bot", "--bump", "minor", "-m", "race"];
    let runs: Vec<Run> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| ws.run(&args))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a release thread panicked"))
            .collect()
    });
    let codes: Vec<Option<i32>> = runs.iter().map(|r| r.code).collect();
    assert_eq!(
        codes.iter().filter(|c| **c == Some(0)).count(),
        1,
        "exit codes {codes:?}"
    );
    for run in runs.iter().filter(|r| r.code != Some(0)) {
        // The losers see the winner's version: the draft is already released.
        run.code(2).stderr_has("nothing changed");
    }
    let versions: Vec<String> = std::fs::read_dir(ws.path("prompts/support_bot/versions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(versions, ["0.1.0"]);
    ws.run(&["verify"]).success();
}

#[test]
fn the_changelog_lists_versions_newest_first() {
    let ws = Workspace::init();
    ws.release(&["--version", "0.9.0", "-m", "Nine"]);
    ws.edit_text(1);
    ws.release(&["--version", "0.10.0", "-m", "Ten"]);
    ws.edit_text(2);
    ws.release(&["--version", "0.10.1", "-m", "Ten point one"]);
    let text = ws.read(CHANGELOG);
    let at = |heading: &str| {
        text.find(heading)
            .unwrap_or_else(|| panic!("no {heading:?} in\n{text}"))
    };
    assert!(at("## 0.10.1") < at("## 0.10.0"), "{text}");
    assert!(at("## 0.10.0") < at("## 0.9.0"), "{text}");
    assert!(text.contains("Ten point one") && text.contains("Nine"));
}

#[test]
fn git_commit_is_recorded_in_a_git_repository() {
    let ws = Workspace::init();
    ws.git(&["init", "-q", "."]);
    ws.git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    ]);
    let head = ws.git(&["rev-parse", "HEAD"]).stdout.trim().to_string();
    assert_eq!(head.len(), 40, "{head:?}");
    ws.release(&["--bump", "minor", "-m", "First"]);
    assert_eq!(
        ws.manifest("0.1.0")["git_commit"].as_str(),
        Some(head.as_str())
    );
    assert!(
        ws.read(CHANGELOG)
            .contains(&format!("commit `{}`", &head[..12]))
    );
    ws.run(&["log", "support_bot"])
        .success()
        .stdout_has(&head[..10]);
}

#[test]
fn git_commit_is_absent_outside_a_git_repository() {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First"]);
    let m = ws.manifest("0.1.0");
    assert!(
        m["git_commit"].is_null(),
        "git_commit = {:?}",
        m["git_commit"]
    );
    assert!(!ws.read(CHANGELOG).contains("commit `"));
}

#[test]
fn git_commit_is_absent_before_the_first_commit() {
    let ws = Workspace::init();
    ws.git(&["init", "-q", "."]);
    ws.release(&["--bump", "minor", "-m", "First"]);
    assert!(ws.manifest("0.1.0")["git_commit"].is_null());
}

#[test]
fn release_json_prints_the_manifest() {
    let ws = Workspace::init();
    let out = ws
        .run(&[
            "release",
            "support_bot",
            "--bump",
            "minor",
            "-m",
            "First",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(out["manifest"]["version"], "0.1.0");
    assert_eq!(out["path"], version_dir("0.1.0"));
    assert_eq!(
        out["manifest"]["digest"].as_str(),
        ws.manifest("0.1.0")["digest"].as_str()
    );
}
