//! Editor schemas: `schemas/` is what `promptctl schema` generates, every
//! YAML file in the repository and in a new workspace validates against its
//! schema and names it on its first line, unknown keys are rejected, and the
//! schema line changes nothing that is hashed.
//!
//! `UPDATE_SCHEMAS=1 cargo test --test integration schemas::` rewrites the
//! committed `schemas/` from the binary.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{NAME, PROMPT, Workspace, files_under, sha256, version_dir};

/// The repository root, which is itself a workspace.
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Which schema each YAML file is checked against, by path (`**` is any
/// number of folders, `*` any part of one name). A YAML file that matches no
/// line here and is not in [`NOT_PROMPTCTL`] fails the walk, so a new kind of
/// file cannot go unchecked.
const MAPPING: &[(&str, &str)] = &[
    ("**/promptctl.yaml", "promptctl"),
    ("**/prompts/*/prompt.yaml", "prompt"),
    ("**/prompts/*/versions/*/prompt.yaml", "prompt"),
    ("**/prompts/*/versions/*/manifest.yaml", "manifest"),
    ("**/prompts/*/releases.yaml", "releases"),
    ("**/evals/*.yaml", "suite"),
    ("**/evals/*.yml", "suite"),
];

/// YAML files that are not promptctl's: GitHub Actions workflows.
const NOT_PROMPTCTL: &[&str] = &["examples/github-actions/*.yml"];

/// Folders the walk skips: build output, git, local state.
const SKIP_DIRS: &[&str] = &["target", ".git", ".promptctl"];

fn glob(pattern: &str, path: &str) -> bool {
    fn segments(p: &[&str], s: &[&str]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(&"**"), _) => segments(&p[1..], s) || (!s.is_empty() && segments(p, &s[1..])),
            (Some(pat), Some(seg)) => name(pat, seg) && segments(&p[1..], &s[1..]),
            _ => false,
        }
    }
    fn name(pat: &str, s: &str) -> bool {
        match pat.split_once('*') {
            None => pat == s,
            Some((pre, post)) => {
                s.len() >= pre.len() + post.len() && s.starts_with(pre) && s.ends_with(post)
            }
        }
    }
    let p: Vec<&str> = pattern.split('/').collect();
    let s: Vec<&str> = path.split('/').collect();
    segments(&p, &s)
}

/// The schema kind of a YAML file, `Ok(None)` for a file that is not
/// promptctl's, and `Err` for a YAML file no mapping covers.
fn kind_of(rel: &str) -> Result<Option<&'static str>, String> {
    if NOT_PROMPTCTL.iter().any(|p| glob(p, rel)) {
        return Ok(None);
    }
    let kinds: Vec<&str> = MAPPING
        .iter()
        .filter(|(p, _)| glob(p, rel))
        .map(|(_, k)| *k)
        .collect();
    match kinds.as_slice() {
        [k] => Ok(Some(k)),
        [] => Err(format!("`{rel}`: no schema covers this YAML file")),
        many => Err(format!("`{rel}`: several mappings match: {many:?}")),
    }
}

/// Every `.yaml`/`.yml` file under `root`, by `/`-separated relative path.
fn yaml_files(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry"))
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let ty = entry.file_type().expect("a file type");
            if ty.is_dir() {
                if !SKIP_DIRS.contains(&name.as_str()) {
                    walk(&entry.path(), &rel, out);
                }
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, "", &mut out);
    out
}

fn validator(schemas: &Path, kind: &str) -> jsonschema::Validator {
    let path = schemas.join(format!("{kind}.schema.json"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).expect("a schema is JSON");
    jsonschema::validator_for(&schema).expect("a schema compiles")
}

fn yaml_value(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The schema path a file's first line names, if it has that line.
fn modeline(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let first = text.lines().next()?;
    first
        .strip_prefix("# yaml-language-server: $schema=")
        .map(str::to_string)
}

/// Checks every YAML file of the workspace at `root` against the schemas in
/// `schemas`: each is covered by a mapping and valid; each that is not a
/// released copy names the schema of its kind on its first line, by a path
/// that resolves to that schema. Returns how many files of each kind it saw.
fn check_tree(root: &Path, schemas: &Path) -> std::collections::BTreeMap<&'static str, usize> {
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeMap::new();
    for rel in yaml_files(root) {
        let kind = match kind_of(&rel) {
            Ok(Some(k)) => k,
            Ok(None) => continue,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        *seen.entry(kind).or_insert(0) += 1;
        let path = root.join(&rel);
        let errors: Vec<String> = validator(schemas, kind)
            .iter_errors(&yaml_value(&path))
            .map(|e| format!("{} at `{}`", e, e.instance_path()))
            .collect();
        if !errors.is_empty() {
            problems.push(format!("`{rel}` is not a valid {kind} file: {errors:?}"));
        }
        let released = rel.contains("/versions/");
        match modeline(&path) {
            // A released copy has the line when its draft had it; a manifest
            // never has one; releases.yaml is written by promote and
            // rollback, not by hand (its schema still checks it here).
            None if released || kind == "releases" => {}
            None => problems.push(format!("`{rel}` does not name its schema on line 1")),
            Some(target) => {
                let resolved = path.parent().unwrap().join(&target);
                if !target.ends_with(&format!("/{kind}.schema.json")) {
                    problems.push(format!("`{rel}` names `{target}`, not the {kind} schema"));
                } else if !resolved.is_file() {
                    problems.push(format!("`{rel}` names `{target}`, which does not exist"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    seen
}

#[test]
fn the_mapping_covers_what_it_should() {
    for (path, kind) in [
        ("promptctl.yaml", Some("promptctl")),
        ("examples/minimal/promptctl.yaml", Some("promptctl")),
        ("prompts/a/prompt.yaml", Some("prompt")),
        ("examples/minimal/prompts/a/prompt.yaml", Some("prompt")),
        ("prompts/a/versions/1.0.0/prompt.yaml", Some("prompt")),
        ("prompts/a/versions/1.0.0/manifest.yaml", Some("manifest")),
        ("prompts/a/releases.yaml", Some("releases")),
        ("evals/support.yaml", Some("suite")),
        ("examples/github-actions/promptctl.yml", None),
    ] {
        assert_eq!(kind_of(path), Ok(kind), "{path}");
    }
    for stray in [
        "prompts/a/notes.yaml",
        "evals/cassettes/x.yaml",
        "config.yml",
        ".github/workflows/ci.yml",
    ] {
        assert!(kind_of(stray).is_err(), "{stray} should be unmapped");
    }
}

#[test]
fn committed_schemas_match_the_generator() {
    let ws = Workspace::empty();
    ws.run(&["schema", "--write", "out"]).success();
    let generated = ws.path("out");
    let committed = repo().join("schemas");
    let names = |dir: &Path| -> Vec<String> {
        files_under(dir)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        if committed.exists() {
            for stale in files_under(&committed) {
                std::fs::remove_file(stale).unwrap();
            }
        }
        std::fs::create_dir_all(&committed).unwrap();
        for name in names(&generated) {
            std::fs::copy(generated.join(&name), committed.join(&name)).unwrap();
        }
    }
    assert_eq!(
        names(&committed),
        names(&generated),
        "schemas/ lists other files than `promptctl schema --write` writes; \
         run `UPDATE_SCHEMAS=1 cargo test --test integration schemas::`"
    );
    for name in names(&generated) {
        assert!(
            std::fs::read(committed.join(&name)).unwrap()
                == std::fs::read(generated.join(&name)).unwrap(),
            "schemas/{name} differs from what the binary generates; \
             run `UPDATE_SCHEMAS=1 cargo test --test integration schemas::`"
        );
    }
    assert_eq!(
        names(&generated),
        [
            "manifest.schema.json",
            "prompt.schema.json",
            "promptctl.schema.json",
            "releases.schema.json",
            "suite.schema.json"
        ]
    );
}

#[test]
fn every_yaml_file_in_the_repository_validates_and_names_its_schema() {
    let seen = check_tree(&repo(), &repo().join("schemas"));
    // The walk really saw the files: root and examples/minimal configs, the
    // drafts and released copies, both suites, both manifests.
    assert!(seen["promptctl"] >= 2, "{seen:?}");
    assert!(seen["prompt"] >= 5, "{seen:?}");
    assert!(seen["suite"] >= 2, "{seen:?}");
    assert!(seen["manifest"] >= 2, "{seen:?}");
}

#[test]
fn a_workspace_from_init_and_new_validates_and_names_its_schemas() {
    let ws = Workspace::init();
    ws.run(&["new", "faq_bot"]).success();
    assert!(
        ws.read("prompts/faq_bot/prompt.yaml")
            .starts_with("# yaml-language-server: $schema=../../schemas/prompt.schema.json\n")
    );
    ws.release(&["--bump", "minor", "-m", "First release"]);
    // A promotion writes releases.yaml (and its history sidecar).
    ws.cmd([
        "promote",
        "support_bot@0.1.0",
        "--env",
        "staging",
        "--skip-gate",
        "--reason",
        "schema test",
    ])
    .env("PROMPTCTL_USER", "tester")
    .run()
    .success();
    let seen = check_tree(ws.root(), &ws.path("schemas"));
    assert_eq!(seen["releases"], 1, "{seen:?}");
    assert_eq!(seen["promptctl"], 1, "{seen:?}");
    assert_eq!(seen["prompt"], 4, "{seen:?}"); // three drafts and one released copy
    assert_eq!(seen["suite"], 2, "{seen:?}");
    assert_eq!(seen["manifest"], 1, "{seen:?}");
    // init's schemas are the generator's.
    ws.run(&["schema", "--write", "schemas"])
        .success()
        .stderr_has("unchanged `schemas/prompt.schema.json`")
        .stderr_lacks("wrote");
}

/// A key no loader knows, added at the top level and inside a nested object
/// of each kind of file: its schema rejects it, and so does the binary.
#[test]
fn an_unknown_key_is_rejected_by_each_schema_and_by_promptctl() {
    let ws = Workspace::init();
    ws.release(&["--bump", "minor", "-m", "First release"]);
    ws.cmd([
        "promote",
        "support_bot@0.1.0",
        "--env",
        "staging",
        "--skip-gate",
        "--reason",
        "test",
    ])
    .env("PROMPTCTL_USER", "tester")
    .run()
    .success();
    let manifest = format!("{}/manifest.yaml", version_dir("0.1.0"));
    let releases = "prompts/support_bot/releases.yaml";
    type Edit = fn(&str) -> String;
    let cases: Vec<(&str, &str, Edit, &[&str], i32)> = vec![
        (
            "promptctl.yaml",
            "promptctl",
            |t| format!("{t}providerz: {{}}\n"),
            &["lint"],
            2,
        ),
        (
            "promptctl.yaml",
            "promptctl",
            |t| t.replace("    type: replay\n", "    type: replay\n    colour: blue\n"),
            &["lint"],
            2,
        ),
        (
            PROMPT,
            "prompt",
            |t| format!("{t}temprature: 0\n"),
            &["lint"],
            2,
        ),
        (
            PROMPT,
            "prompt",
            |t| t.replace("model: { provider:", "model: { colour: blue, provider:"),
            &["lint"],
            2,
        ),
        (
            "evals/support.yaml",
            "suite",
            |t| format!("{t}threshold: 1\n"),
            &["eval", "support"],
            2,
        ),
        (
            "evals/support.yaml",
            "suite",
            |t| {
                t.replace(
                    "  max_cost_usd: 2.00",
                    "  max_cost_usd: 2.00\n  segments: { billing: { pass_rat: 1 } }",
                )
            },
            &["eval", "support"],
            2,
        ),
        (
            &manifest,
            "manifest",
            |t| format!("{t}approved_by: me\n"),
            &["verify"],
            4,
        ),
        (
            &manifest,
            "manifest",
            |t| t.replace("model:\n", "model:\n  colour: blue\n"),
            &["verify"],
            4,
        ),
        (
            releases,
            "releases",
            |t| format!("{t}approved_by: me\n"),
            &["status"],
            2,
        ),
        (
            releases,
            "releases",
            |t| {
                t.replace(
                    "    active: 0.1.0\n",
                    "    active: 0.1.0\n    colour: blue\n",
                )
            },
            &["status"],
            2,
        ),
    ];
    let schemas = ws.path("schemas");
    for (i, (rel, kind, edit, command, code)) in cases.into_iter().enumerate() {
        let original = ws.read(rel);
        let text = edit(&original);
        assert_ne!(text, original, "case {i} changed nothing");
        ws.write(rel, &text);
        let value: Value = serde_yaml::from_str(&text).unwrap();
        assert!(
            !validator(&schemas, kind).is_valid(&value),
            "case {i}: the {kind} schema accepts\n{text}"
        );
        ws.run(command).code(code);
        ws.write(rel, &original);
        ws.run(command).success();
    }
}

/// A draft that only gained the schema line (as `new` writes it, or as a user
/// adds it to an older workspace) is still its release: same digest, `list`
/// says clean, `diff` says identical, `release` says nothing changed, and the
/// released version still verifies.
#[test]
fn the_schema_line_does_not_change_a_released_version() {
    let ws = Workspace::init();
    let line = "# yaml-language-server: $schema=../../schemas/prompt.schema.json\n";
    let draft = ws.read(PROMPT);
    let bare = draft
        .strip_prefix(line)
        .expect("init's prompt.yaml names its schema");
    ws.write(PROMPT, bare);
    ws.release(&["--bump", "minor", "-m", "First release"]);
    let frozen = ws.read(&format!("{}/prompt.yaml", version_dir("0.1.0")));
    assert!(!frozen.starts_with('#'), "{frozen}");
    let before = ws.hash(NAME);

    ws.write(PROMPT, format!("{line}{bare}"));
    assert_eq!(ws.hash(NAME)["digest"], before["digest"]);
    assert_eq!(ws.hash(NAME)["prompt_hash"], before["prompt_hash"]);
    assert_eq!(ws.hash(NAME)["config_hash"], before["config_hash"]);
    let rows = ws.run(&["list", "--json"]).success().json();
    assert_eq!(named(&rows, NAME)["draft"], "clean", "{rows}");
    ws.run(&["diff", &format!("{NAME}@0.1.0"), NAME])
        .success()
        .stdout_has("are identical");
    let diff = ws
        .run(&["diff", &format!("{NAME}@0.1.0"), NAME, "--json"])
        .success()
        .json();
    assert_eq!(diff["files"], serde_json::json!([]), "{diff}");
    ws.run(&[
        "release",
        NAME,
        "--bump",
        "patch",
        "-m",
        "Only the schema line",
    ])
    .code(2)
    .stderr_has("nothing changed");
    ws.run(&["verify"]).success();
    ws.run(&["lint", "--strict"]).success();

    // Any other edit still shows, the schema line with it.
    ws.edit_text(1);
    ws.run(&["diff", &format!("{NAME}@0.1.0"), NAME])
        .success()
        .stdout_has("House rule 1");
}

/// A released prompt.yaml kept its draft's `$schema=../../schemas/…` line,
/// which from `versions/X.Y.Z/` names nothing. `release` rebases it; the
/// line is a comment, so a draft released with and without it gets the
/// same digest, and the manifest records the bytes on disk, so `verify`
/// passes.
#[test]
fn a_released_schema_line_resolves_from_the_version_folder_and_changes_no_digest() {
    let line = "# yaml-language-server: $schema=../../schemas/prompt.schema.json\n";
    let with = Workspace::init();
    let without = Workspace::init();
    let bare = with
        .read(PROMPT)
        .strip_prefix(line)
        .expect("init's prompt.yaml names its schema")
        .to_string();
    without.write(PROMPT, &bare);
    let draft_digest = with.hash(NAME)["digest"].clone();
    assert_eq!(without.hash(NAME)["digest"], draft_digest);
    for ws in [&with, &without] {
        ws.release(&["--version", "1.0.0", "-m", "First release"]);
        ws.run(&["verify"]).success();
    }
    let frozen = format!("{}/prompt.yaml", version_dir("1.0.0"));
    let (a, b) = (with.manifest("1.0.0"), without.manifest("1.0.0"));
    for field in ["digest", "prompt_hash", "config_hash"] {
        assert_eq!(a[field], b[field], "{field}");
    }
    assert_eq!(a["digest"].as_str(), draft_digest.as_str());

    // The released line names the schema from the version's folder.
    let released = with.read(&frozen);
    let target = released
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# yaml-language-server: $schema="))
        .expect("the released copy keeps the schema line");
    assert_eq!(target, "../../../../schemas/prompt.schema.json");
    let dir = with.path(&version_dir("1.0.0"));
    let resolved = dir
        .join(target)
        .canonicalize()
        .expect("the schema path resolves");
    assert_eq!(resolved, with.path("schemas/prompt.schema.json"));
    // Nothing else differs from the draft, and the manifest hashes what is on disk.
    assert_eq!(&released[released.find('\n').unwrap() + 1..], bare);
    assert_eq!(
        a["files"]["prompt.yaml"].as_str(),
        Some(sha256(released.as_bytes()).as_str())
    );
    assert_eq!(without.read(&frozen), bare);
    assert_eq!(
        b["files"]["prompt.yaml"].as_str(),
        Some(sha256(bare.as_bytes()).as_str())
    );

    // The rebased copy is still the draft: clean, identical, nothing to release.
    let rows = with.run(&["list", "--json"]).success().json();
    assert_eq!(named(&rows, NAME)["draft"], "clean", "{rows}");
    with.run(&["diff", &format!("{NAME}@1.0.0"), NAME])
        .success()
        .stdout_has("are identical");
    with.run(&["release", NAME, "--bump", "patch", "-m", "again"])
        .code(2)
        .stderr_has("nothing changed");
    check_tree(with.root(), &with.path("schemas"));
}

#[test]
fn schema_prints_one_schema_or_all_of_them() {
    let ws = Workspace::empty();
    let one = ws.run(&["schema", "prompt"]).success().json();
    assert_eq!(one["$id"], "urn:promptctl:schema:prompt");
    assert_eq!(one["title"], "prompt.yaml");
    let all = ws.run(&["schema"]).success().json();
    let files: Vec<&String> = all.as_object().unwrap().keys().collect();
    assert_eq!(
        files,
        [
            "manifest.schema.json",
            "prompt.schema.json",
            "promptctl.schema.json",
            "releases.schema.json",
            "suite.schema.json"
        ]
    );
    assert_eq!(all["prompt.schema.json"], one);
    ws.run(&["schema", "history"])
        .code(2)
        .stderr_has("no schema `history`");
    ws.write("file", "x");
    ws.run(&["schema", "--write", "file"])
        .code(2)
        .stderr_has("is not a folder");
}

#[test]
fn new_in_a_workspace_without_schemas_says_how_to_write_them() {
    let ws = Workspace::init();
    std::fs::remove_dir_all(ws.path("schemas")).unwrap();
    ws.run(&["new", "faq_bot"])
        .success()
        .stderr_has("`promptctl schema --write schemas`");
    ws.run(&["schema", "--write", "schemas"]).success();
    ws.run(&["new", "other_bot"])
        .success()
        .stderr_lacks("promptctl schema");
    check_tree(ws.root(), &ws.path("schemas"));
}

/// The row of `list --json` for one prompt.
fn named<'a>(rows: &'a Value, name: &str) -> &'a Value {
    rows.as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no row for `{name}`: {rows}"))
}
