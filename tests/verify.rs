//! `verify`: any change to a released version is an integrity failure (exit 4)
//! that names the file and the version; commands that use a version verify it.

use crate::util::{NAME, PROMPT, Workspace, sha256, version_dir};

const FROZEN: [&str; 3] = ["prompt.yaml", "system.md", "manifest.yaml"];

/// A workspace with `support_bot@0.1.0` released and verified.
fn released() -> Workspace {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First release"]);
    ws.run(&["verify"])
        .success()
        .stdout_has("support_bot@0.1.0");
    ws
}

/// Asserts exit 4, with the error on stderr naming the version and `file`.
#[track_caller]
fn assert_names(ws: &Workspace, file: &str) {
    let path = format!("{}/{file}", version_dir("0.1.0"));
    ws.run(&["verify"])
        .code(4)
        .stdout_has("FAIL  support_bot@0.1.0")
        .stdout_has(&format!("`{path}`"))
        .stderr_has("support_bot@0.1.0")
        .stderr_has(&format!("`{path}`"));
}

#[test]
fn first_minor_release_is_0_1_0_and_verifies() {
    let ws = released();
    for file in FROZEN {
        assert!(
            ws.path(&format!("{}/{file}", version_dir("0.1.0")))
                .is_file(),
            "{file} was not frozen"
        );
    }
    let m = ws.manifest("0.1.0");
    assert_eq!(m["version"].as_str(), Some("0.1.0"));
    assert!(m["parent"].is_null(), "a first release has no parent");
}

#[test]
fn one_changed_byte_in_any_frozen_file_fails_verify() {
    for file in FROZEN {
        let ws = released();
        ws.change_one_byte(&format!("{}/{file}", version_dir("0.1.0")));
        assert_names(&ws, file);
    }
}

#[test]
fn a_deleted_frozen_file_fails_verify() {
    for file in FROZEN {
        let ws = released();
        ws.remove(&format!("{}/{file}", version_dir("0.1.0")));
        assert_names(&ws, file);
    }
}

#[test]
fn a_stray_file_in_a_version_fails_verify() {
    let ws = released();
    ws.write(
        &format!("{}/notes.txt", version_dir("0.1.0")),
        "looks harmless\n",
    );
    assert_names(&ws, "notes.txt");
}

#[test]
fn a_stray_file_in_a_subfolder_of_a_version_fails_verify() {
    let ws = released();
    ws.write(&format!("{}/extra/notes.md", version_dir("0.1.0")), "x\n");
    assert_names(&ws, "extra/notes.md");
}

#[test]
fn an_edited_changelog_in_the_manifest_breaks_the_seal() {
    let ws = released();
    let manifest = format!("{}/manifest.yaml", version_dir("0.1.0"));
    ws.replace(
        &manifest,
        "changelog: First release",
        "changelog: Reviewed and approved",
    );
    assert_names(&ws, "manifest.yaml");
    ws.run(&["verify"]).stdout_has("seal");
}

#[test]
fn an_edited_file_with_its_hash_updated_in_the_manifest_still_fails() {
    let ws = released();
    let dir = version_dir("0.1.0");
    let system = format!("{dir}/system.md");
    let manifest = format!("{dir}/manifest.yaml");
    let old = sha256(&ws.read_bytes(&system));
    ws.append(&system, "Always offer a discount.\n");
    let new = sha256(&ws.read_bytes(&system));
    ws.replace(&manifest, &old, &new);
    assert_names(&ws, "manifest.yaml");
}

#[test]
fn a_copied_version_folder_fails_verify() {
    let ws = released();
    let (from, to) = (
        ws.path(&version_dir("0.1.0")),
        ws.path(&version_dir("0.2.0")),
    );
    std::fs::create_dir(&to).unwrap();
    for file in FROZEN {
        std::fs::copy(from.join(file), to.join(file)).unwrap();
    }
    ws.run(&["verify"])
        .code(4)
        .stdout_has("ok    support_bot@0.1.0")
        .stdout_has("FAIL  support_bot@0.2.0")
        .stderr_has("support_bot@0.2.0");
}

#[test]
fn files_in_subfolders_are_frozen_and_verified() {
    let ws = Workspace::init();
    ws.write(
        "prompts/support_bot/parts/style.md",
        "Answer in plain English.\n",
    );
    ws.replace(
        PROMPT,
        "  - { role: user, template: \"{{question}}\" }",
        "  - { role: system, file: parts/style.md }\n  - { role: user, template: \"{{question}}\" }",
    );
    ws.release(&["--bump", "minor", "-m", "Style"]);
    ws.run(&["verify"]).success();
    let manifest = ws.manifest("0.1.0");
    assert!(
        manifest["files"]["parts/style.md"].is_string(),
        "the nested file is not in the manifest"
    );

    ws.change_one_byte(&format!("{}/parts/style.md", version_dir("0.1.0")));
    assert_names(&ws, "parts/style.md");
}

#[test]
fn verify_json_lists_each_problem() {
    let ws = released();
    ws.remove(&format!("{}/system.md", version_dir("0.1.0")));
    let rows = ws.run(&["verify", "--json"]).code(4).json();
    let rows = rows.as_array().expect("an array of versions");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["name"], NAME);
    assert_eq!(rows[0]["version"], "0.1.0");
    assert_eq!(rows[0]["ok"], false);
    let problems = rows[0]["problems"].as_array().expect("problems");
    assert!(
        problems
            .iter()
            .any(|p| p["file"] == format!("{}/system.md", version_dir("0.1.0"))),
        "{problems:?}"
    );
}

#[test]
fn verify_with_no_releases_succeeds() {
    let ws = Workspace::init();
    ws.run(&["verify"])
        .success()
        .stderr_has("verified 0 versions");
}

#[test]
fn verify_of_an_unknown_prompt_is_invalid_input() {
    let ws = released();
    ws.run(&["verify", "suport_bot"])
        .code(2)
        .stderr_has("no prompt named `suport_bot`")
        .stderr_has("did you mean `support_bot`?");
}

#[test]
fn commands_that_use_a_released_version_verify_it_first() {
    let ws = released();
    ws.change_one_byte(&format!("{}/system.md", version_dir("0.1.0")));
    let uses: [&[&str]; 5] = [
        &["render", "support_bot@0.1.0", "--var", "question=q"],
        &["hash", "support_bot@0.1.0"],
        &["show", "support_bot@0.1.0"],
        &["diff", "support_bot@0.1.0", "support_bot"],
        // A release builds on the latest version, so it checks it too.
        &[
            "release",
            "support_bot",
            "--bump",
            "patch",
            "-m",
            "on top of a tampered version",
        ],
    ];
    for args in uses {
        ws.run(args)
            .code(4)
            .stderr_has("support_bot@0.1.0")
            .stderr_has("system.md")
            .stdout_empty();
    }
    assert!(
        !ws.path(&version_dir("0.1.1")).exists(),
        "released on top of a tampered version"
    );
}

/// The seal covers the manifest's parsed fields, not its bytes, so a one-byte
/// edit that YAML reads as the same value (`null` → `Null`, `0.0` → `0e0`, an
/// added comment) is not detected, although the file changed.
#[test]

fn any_byte_change_to_the_manifest_fails_verify() {
    let edits: [(&str, &str); 3] = [
        ("parent: null", "parent: Null"),
        ("temperature: 0.0", "temperature: 0e0"),
        (
            "changelog: First release",
            "changelog: First release # approved by ana",
        ),
    ];
    for (from, to) in edits {
        let ws = released();
        ws.replace(&format!("{}/manifest.yaml", version_dir("0.1.0")), from, to);
        assert_names(&ws, "manifest.yaml");
    }
}
