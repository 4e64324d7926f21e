//! Evidence packs (SPEC §6): `promptctl evidence` and `verify` over packs.
//!
//! Packs are built from real offline runs (the init workspace's `support`
//! suite replays its committed cassette), with `SOURCE_DATE_EPOCH` set so
//! that two builds can be compared byte for byte.

use std::path::Path;

use serde_json::Value;

use crate::util::{EPOCH, NAME, Run, SYSTEM, Workspace, files_under, sha256};

const PACK: &str = "evidence/support_bot/1.0.0";
const FILES: [&str; 4] = [
    "SHA256SUMS",
    "evidence.html",
    "evidence.json",
    "evidence.md",
];

fn pc(ws: &Workspace, args: &[&str]) -> Run {
    ws.cmd(args)
        .env("PROMPTCTL_USER", "tester")
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .run()
}

/// Releases the init draft as 1.0.0 and evaluates it offline (a passing run).
fn released_and_evaluated() -> Workspace {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    pc(&ws, &["eval", "support", "--prompt", "support_bot@1.0.0"]).success();
    ws
}

fn pack_files(ws: &Workspace, dir: &str) -> Vec<(String, Vec<u8>)> {
    let mut names: Vec<String> = std::fs::read_dir(ws.path(dir))
        .unwrap_or_else(|e| panic!("read {dir}: {e}"))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let bytes = ws.read_bytes(&format!("{dir}/{n}"));
            (n, bytes)
        })
        .collect()
}

fn pack_json(ws: &Workspace) -> Value {
    serde_json::from_str(&ws.read(&format!("{PACK}/evidence.json"))).expect("evidence.json is JSON")
}

fn runs(ws: &Workspace) -> Vec<Value> {
    std::fs::read_dir(ws.path(".promptctl/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

/// The only run in the workspace.
fn only_run(ws: &Workspace) -> Value {
    let mut all = runs(ws);
    assert_eq!(all.len(), 1, "expected exactly one run");
    all.pop().unwrap()
}

#[test]
fn a_pack_built_twice_is_byte_identical_and_its_sums_check() {
    let ws = released_and_evaluated();
    let first = pc(&ws, &["evidence", "support_bot@1.0.0"]);
    first.success().stdout_has("support_bot@1.0.0");
    let a = pack_files(&ws, PACK);
    assert_eq!(
        a.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        FILES,
        "a pack is exactly these four files"
    );

    // Rebuilt in place: nothing changes, nothing is rewritten.
    pc(&ws, &["evidence", "support_bot@1.0.0"])
        .success()
        .stderr_has("up to date");
    assert_eq!(pack_files(&ws, PACK), a);

    // Built again elsewhere from the same inputs: the same bytes.
    pc(&ws, &["evidence", "support_bot@1.0.0", "-o", "copy"]).success();
    assert_eq!(pack_files(&ws, "copy"), a, "same inputs, same bytes");

    // SHA256SUMS is what `sha256sum -c` reads, and it lists the other three.
    let sums = ws.read(&format!("{PACK}/SHA256SUMS"));
    for (name, bytes) in a.iter().filter(|(n, _)| n != "SHA256SUMS") {
        let hex = sha256(bytes);
        let hex = hex.trim_start_matches("sha256:");
        assert!(
            sums.contains(&format!("{hex}  {name}\n")),
            "{name} missing from SHA256SUMS:\n{sums}"
        );
    }
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(ws.path(PACK))
        .output();
    if let Ok(out) = check {
        assert!(
            out.status.success(),
            "sha256sum -c failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    // A different SOURCE_DATE_EPOCH is a different input: generated_at moves.
    ws.cmd(["evidence", "support_bot@1.0.0", "-o", "later"])
        .env("SOURCE_DATE_EPOCH", "1763805600")
        .run()
        .success();
    assert_ne!(pack_files(&ws, "later"), a);
}

#[test]
fn verify_checks_packs_and_names_the_changed_file() {
    let ws = released_and_evaluated();
    pc(&ws, &["evidence", "support_bot@1.0.0"]).success();
    pc(&ws, &["verify"])
        .success()
        .stdout_has("evidence support_bot@1.0.0");

    // One byte of evidence.md.
    let md = format!("{PACK}/evidence.md");
    let original = ws.read_bytes(&md);
    ws.change_one_byte(&md);
    pc(&ws, &["verify"])
        .code(4)
        .stdout_has(&format!("`{md}`"))
        .stderr_has(&md);
    ws.write(&md, &original);
    pc(&ws, &["verify"]).success();

    // A file slipped into the pack.
    ws.write(&format!("{PACK}/notes.txt"), "approved by me");
    pc(&ws, &["verify"]).code(4).stdout_has("notes.txt");
    ws.remove(&format!("{PACK}/notes.txt"));

    // A forger who edits evidence.json and recomputes SHA256SUMS is caught
    // by the digest check against the released manifest.
    let json_path = format!("{PACK}/evidence.json");
    let mut pack = pack_json(&ws);
    pack["prompt"]["digest"] = Value::from(format!("sha256:{}", "0".repeat(64)));
    let forged = serde_json::to_vec_pretty(&pack).unwrap();
    ws.write(&json_path, &forged);
    let sums: String = FILES[1..]
        .iter()
        .map(|f| {
            let h = sha256(&ws.read_bytes(&format!("{PACK}/{f}")));
            format!("{}  {f}\n", h.trim_start_matches("sha256:"))
        })
        .collect();
    ws.write(&format!("{PACK}/SHA256SUMS"), sums);
    let run = pc(&ws, &["verify", "--json"]);
    run.code(4);
    let rows = run.json();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "evidence")
        .expect("an evidence row");
    assert_eq!(row["ok"], false);
    assert!(
        row["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("names digest 000000000000"),
        "{row}"
    );
}

#[test]
fn the_html_is_self_contained_and_shows_every_gate_and_criterion() {
    let ws = released_and_evaluated();
    pc(&ws, &["evidence", "support_bot@1.0.0"]).success();
    let html = ws.read(&format!("{PACK}/evidence.html"));
    assert!(html.starts_with("<!DOCTYPE html>"));
    let lower = html.to_lowercase();
    for forbidden in [
        "src=", "<script", "<link", "@import", "url(", "<iframe", "<img",
    ] {
        assert!(
            !lower.contains(forbidden),
            "the HTML contains `{forbidden}`"
        );
    }
    // Links only within the page.
    for (i, _) in lower.match_indices("href=") {
        let target = &lower[i + 5..];
        assert!(
            target.starts_with("\"#"),
            "an href leaves the file: {}",
            &target[..target.len().min(60)]
        );
    }
    assert!(lower.contains("<svg"), "charts are inline SVG");

    let run = only_run(&ws);
    let gates = run["gates"].as_array().unwrap();
    assert!(gates.len() >= 5, "the bundled suite has its gates");
    for g in gates {
        let name = g["gate"].as_str().unwrap();
        assert!(
            html.contains(&format!("<code>{name}</code>")),
            "gate {name} missing"
        );
        let md = ws.read(&format!("{PACK}/evidence.md"));
        assert!(
            md.contains(&format!("`{name}`")),
            "gate {name} missing from the Markdown"
        );
    }
    let criteria = run["summary"]["criteria"].as_object().unwrap();
    assert_eq!(criteria.len(), 3);
    // The rubric's text, from the suite the run used.
    let suite: serde_yaml::Value = serde_yaml::from_str(&ws.read("evals/support.yaml")).unwrap();
    for (c, text) in suite["rubric"]["criteria"].as_mapping().unwrap() {
        let (c, text) = (c.as_str().unwrap(), text.as_str().unwrap());
        assert!(criteria.contains_key(c));
        assert!(
            html.contains(&format!("<td>{c}</td><td>{text}</td>")),
            "rubric `{c}` missing"
        );
    }
    assert_eq!(pack_json(&ws)["runs"][0]["rubric"]["same_suite_file"], true);
    for c in criteria.keys() {
        assert!(
            html.contains(&format!(">{c}</text>")),
            "criterion {c} is not in the chart"
        );
    }
    for seg in run["summary"]["segments"].as_object().unwrap().keys() {
        assert!(
            html.contains(&format!(">{seg} (")),
            "segment {seg} is not in the chart"
        );
    }
    // Every section a reviewer looks for.
    for heading in [
        "Eval runs",
        "Runbook",
        "Prompt",
        "Refusal policy",
        "Deploy history",
        "Redaction and retention",
        "Changelog",
        "Integrity",
    ] {
        assert!(html.contains(heading), "no `{heading}` section");
    }
}

const PLANTED_KEY: &str = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123";
const PLANTED_EMAIL: &str = "ana.doe@example.com";
const PLANTED_NAME: &str = "Priya Raman";

#[test]
fn nothing_planted_reaches_the_pack() {
    let ws = Workspace::init();
    // A key in the changelog, an email in the prompt text.
    ws.append(
        SYSTEM,
        &format!("\nQuestions about this prompt: {PLANTED_EMAIL}\n"),
    );
    ws.release(&[
        "--version",
        "1.0.0",
        "-m",
        &format!("first; staging key {PLANTED_KEY} rotated"),
    ]);
    // A suite whose case carries the key, the email and a pii name, run
    // through `echo` (the answer repeats the prompt), with an assertion that
    // fails by quoting the email.
    ws.write(
        "evals/pii.yaml",
        format!(
            "prompt: support_bot\nprovider: echo\ncases:\n  - {{ id: leak, segment: s, vars: {{ question: \"key {PLANTED_KEY}, mail {PLANTED_EMAIL}\", user_name: \"{PLANTED_NAME}\" }}, assert: [{{ type: not_contains, value: \"{PLANTED_EMAIL}\" }}] }}\n  - {{ id: fine, segment: s, vars: {{ question: \"hello\" }} }}\ngates:\n  pass_rate: 0.5\n"
        ),
    );
    pc(&ws, &["eval", "pii", "--prompt", "support_bot@1.0.0"]).success();
    // And in a deploy reason.
    pc(
        &ws,
        &[
            "promote",
            "support_bot@1.0.0",
            "--env",
            "staging",
            "--skip-gate",
            "--reason",
            &format!("asked by {PLANTED_EMAIL}"),
        ],
    )
    .success();
    let run = pc(&ws, &["evidence", "support_bot@1.0.0"]);
    run.success();

    let pack = pack_json(&ws);
    assert_eq!(
        pack["runs"][0]["failures"][0]["id"], "leak",
        "the failing case is listed"
    );
    assert_eq!(pack["deploys"].as_array().unwrap().len(), 1);
    for f in files_under(&ws.path(PACK)) {
        let text = std::fs::read_to_string(&f).unwrap();
        for planted in [
            PLANTED_KEY,
            "PLANTEDKEY",
            PLANTED_EMAIL,
            PLANTED_NAME,
            "AbCdEfGhIj",
        ] {
            assert!(
                !text.contains(planted),
                "{} contains `{planted}`",
                f.display()
            );
        }
        if !f.ends_with("SHA256SUMS") {
            assert!(
                text.contains("[REDACTED:"),
                "{} shows no redaction: the planted values went somewhere else",
                f.display()
            );
        }
    }
    for planted in [PLANTED_KEY, PLANTED_EMAIL, PLANTED_NAME] {
        run.output_lacks(planted);
    }
}

#[test]
fn a_tampered_version_gets_no_pack() {
    let ws = released_and_evaluated();
    ws.change_one_byte("prompts/support_bot/versions/1.0.0/system.md");
    let before = ws.tree();
    let run = pc(&ws, &["evidence", "support_bot@1.0.0"]);
    run.code(4).stderr_has("does not match its manifest");
    assert!(
        !ws.path("evidence").exists(),
        "no pack for a tampered version"
    );
    before.assert_unchanged(&ws.tree(), &run);
}

#[test]
fn a_named_run_must_have_evaluated_this_digest() {
    let ws = released_and_evaluated();
    // The same run, as if it had evaluated another digest.
    let mut other = only_run(&ws);
    other["run_id"] = Value::from("20261121T100000Z-other0");
    other["prompt"]["digest"] = Value::from(format!("sha256:{}", "ab".repeat(32)));
    ws.write(
        ".promptctl/runs/20261121T100000Z-other0.json",
        serde_json::to_string(&other).unwrap(),
    );
    let id = "20261121T100000Z-other0";
    pc(&ws, &["evidence", "support_bot@1.0.0", "--run", id])
        .code(2)
        .stderr_has("not this version's");
    pc(
        &ws,
        &["evidence", "support_bot@1.0.0", "--run", "no-such-run"],
    )
    .code(2)
    .stderr_has("no run `no-such-run`");
    assert!(!ws.path("evidence").exists());
}

#[test]
fn without_runs_the_pack_says_nothing_was_evaluated() {
    let ws = Workspace::init();
    ws.release(&["--version", "1.0.0", "-m", "first"]);
    let run = pc(&ws, &["evidence", "support_bot", "--json"]);
    run.success().stderr_has("no eval run");
    let out = run.json();
    assert_eq!(out["status"], "pending");
    let pack = pack_json(&ws);
    let steps: Vec<(&str, &str)> = pack["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("Dataset ready", "pending"),
            ("Rubric scored", "pending"),
            ("Gates passed", "pending"),
            ("Live in staging", "pending"),
            ("Canary", "pending"),
            ("Live in production", "pending"),
        ]
    );
    assert!(
        ws.read(&format!("{PACK}/evidence.html"))
            .contains("PENDING")
    );
}

#[test]
fn the_timeline_follows_the_deploy_history_and_the_parent_comparison_shows_regressions() {
    let ws = released_and_evaluated();
    let base = only_run(&ws);
    // 1.1.0: an edited prompt, whose (rewritten) run fails one case that
    // passed for 1.0.0.
    ws.append(SYSTEM, "\nHouse rule: keep it short.\n");
    ws.release(&["--version", "1.1.0", "-m", "shorter"]);
    let digest = ws.hash("support_bot@1.1.0")["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let mut run = base.clone();
    let id = "20991231T000000Z-regres";
    run["run_id"] = Value::from(id);
    run["finished_at"] = Value::from("2099-12-31T00:00:00Z");
    run["prompt"]["version"] = Value::from("1.1.0");
    run["prompt"]["digest"] = Value::from(digest);
    let cases = run["cases"].as_array_mut().unwrap();
    let victim = cases
        .iter_mut()
        .find(|c| c["passed"] == true)
        .expect("a passing case");
    victim["passed"] = Value::from(false);
    victim["assertions"][0]["passed"] = Value::from(false);
    victim["assertions"][0]["reason"] = Value::from("planted regression");
    let victim_id = victim["id"].as_str().unwrap().to_string();
    ws.write(
        &format!(".promptctl/runs/{id}.json"),
        serde_json::to_string_pretty(&run).unwrap(),
    );
    // 1.0.0 live everywhere; 1.1.0 to staging, then a production canary.
    for env in ["staging", "production"] {
        pc(&ws, &["promote", "support_bot@1.0.0", "--env", env]).success();
    }
    for args in [
        vec![
            "promote",
            "support_bot@1.1.0",
            "--env",
            "staging",
            // The planted regression fails the suite's gates: the gate,
            // which re-applies them, refuses the run, so skip it (recorded).
            "--skip-gate",
            "--reason",
            "planted regression",
        ],
        vec![
            "promote",
            "support_bot@1.1.0",
            "--env",
            "production",
            "--canary",
            "5",
            "--skip-gate",
            "--reason",
            "planted regression",
        ],
    ] {
        pc(&ws, &args).success();
    }
    pc(&ws, &["evidence", "support_bot@1.1.0"]).success();
    let pack: Value =
        serde_json::from_str(&ws.read("evidence/support_bot/1.1.0/evidence.json")).unwrap();

    let parent = &pack["runs"][0]["parent"];
    assert_eq!(parent["parent_version"], "1.0.0");
    assert_eq!(parent["parent_run"], base["run_id"]);
    assert_eq!(parent["regressed"], 1);
    assert_eq!(parent["regressions"][0]["id"], victim_id.as_str());
    assert!(
        parent["regressions"][0]["why"]
            .as_str()
            .unwrap()
            .contains("planted regression")
    );

    let status = |step: &str| {
        pack["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == step)
            .unwrap_or_else(|| panic!("no step {step}"))["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status("Gates passed"), "passed");
    assert_eq!(status("Live in staging"), "passed");
    assert_eq!(status("Canary"), "passed");
    assert_eq!(status("Live in production"), "pending");
    let deploys = pack["deploys"].as_array().unwrap();
    // 1.1.0's two entries, and none of 1.0.0's (which do not concern it).
    assert_eq!(deploys.len(), 2, "{deploys:?}");
    assert_eq!(deploys[1]["action"], "canary");
    assert_eq!(deploys[1]["from"], "1.0.0");

    let md = ws.read("evidence/support_bot/1.1.0/evidence.md");
    assert!(
        md.contains(&format!("`{victim_id}`")),
        "the regression is in the Markdown"
    );
    assert!(md.contains("promptctl rollback support_bot --env production"));
    assert!(
        md.contains("--to 1.0.0"),
        "the runbook names the way back to the parent"
    );
    pc(&ws, &["verify"])
        .success()
        .stdout_has("evidence support_bot@1.1.0");
}

#[test]
fn a_pack_in_another_folder_is_written_whole() {
    let ws = released_and_evaluated();
    let out = ws.tmp().join("outside");
    pc(
        &ws,
        &["evidence", "support_bot@1.0.0", "-o", out.to_str().unwrap()],
    )
    .success();
    let names: Vec<String> = files_under(&out)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(
        !Path::new(&ws.path("evidence")).exists(),
        "-o writes only there"
    );
    // No temp folder is left beside it.
    let left: Vec<_> = std::fs::read_dir(ws.tmp())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-") || n.starts_with(".old-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let _ = NAME;
}

#[test]
fn promote_accepts_the_run_in_an_intact_pack_and_nothing_from_a_tampered_one() {
    let ws = released_and_evaluated();
    pc(&ws, &["evidence", "support_bot@1.0.0"]).success();
    // A fresh clone: the pack is committed, the local runs are not.
    std::fs::remove_dir_all(ws.path(".promptctl/runs")).unwrap();
    // An intact pack that is not committed is nobody's record: its sums
    // are its own, so anyone could have edited it and recomputed them.
    pc(&ws, &["promote", "support_bot@1.0.0", "--env", "staging"])
        .code(1)
        .stderr_has("no run of this digest");
    ws.git(&["init", "-q"]);
    ws.git(&["add", "-A"]);
    ws.git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.test",
        "commit",
        "-q",
        "-m",
        "the pack",
    ]);
    let md = format!("{PACK}/evidence.md");
    let original = ws.read_bytes(&md);
    ws.change_one_byte(&md);
    pc(&ws, &["promote", "support_bot@1.0.0", "--env", "staging"])
        .code(1)
        .stderr_has("no run of this digest");
    ws.write(&md, &original);
    pc(&ws, &["promote", "support_bot@1.0.0", "--env", "staging"]).success();
    // The deploy history, wherever it is kept (releases.yaml or its sidecar).
    let mut history = ws.read("prompts/support_bot/releases.yaml");
    if ws.path("prompts/support_bot/history.jsonl").exists() {
        history.push_str(&ws.read("prompts/support_bot/history.jsonl"));
    }
    let pack = pack_json(&ws);
    let run_id = pack["runs"][0]["run_id"].as_str().unwrap();
    assert!(
        history.contains(run_id),
        "the history names the pack's run:\n{history}"
    );
}
