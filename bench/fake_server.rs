//! The fake LLM API server of the tests (`tests/fake/`), standalone, for
//! benchmarks that point the release binary at it.
//!
//! ```text
//! cargo run --release --example fake_server -- --latency-ms 50 --rps-limit 20
//! ```
//!
//! The first line of stdout is the base address, `http://127.0.0.1:PORT`
//! (OpenAI base URL: add `/v1`). It serves until SIGTERM, ctrl-c, or stdin
//! closing, then prints one line of JSON to stderr:
//! `{"requests":N,"rate_limited":M,"peak_concurrency":P}`. A stdin that is
//! `/dev/null` (a background job of a script) does not count as closing.
//!
//! `--script FILE` answers from a JSONL file of `{"match", "content"?,
//! "calls"?, "judge"?}` lines: a call whose last message (the user's, or the
//! last tool result) contains `match` gets `content` and/or calls the
//! `calls` (`[{"name", "arguments"}]`, with ids `call_1`, `call_2`, … in the
//! order of the conversation); a judge call (system text of promptctl's
//! judge) whose input contains `match` gets `judge` as JSON.
//! `bench/record-example.sh` records the bundled cassettes this way.
//!
//! `--agent-turns N` makes every answer an agent's: it calls the tool
//! `lookup` until the conversation holds N - 1 tool results, then answers
//! `done after N turns` (a benchmark of tool loops).

#[path = "../tests/fake/mod.rs"]
mod fake;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use fake::{FakeConfig, FakeServer, Reply};

const USAGE: &str =
    "usage: fake_server [--latency-ms N] [--rps-limit N] [--script FILE] [--agent-turns N]";

fn main() -> ExitCode {
    let config = match parse(std::env::args().skip(1)) {
        Ok(Some(config)) => config,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = FakeServer::start(config);
    let mut stdout = std::io::stdout();
    if writeln!(stdout, "http://{}", server.addr)
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    wait_for_exit();
    let summary = serde_json::json!({
        "requests": server.request_count(),
        "rate_limited": server.rps_limited(),
        "peak_concurrency": server.peak_concurrency(),
    });
    eprintln!("{summary}");
    ExitCode::SUCCESS
}

/// The flags, or `None` for `--help`.
fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<FakeConfig>, String> {
    let mut config = FakeConfig::default();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_string(), Some(value.to_string())),
            None => (arg, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("`{flag}` needs a value"))
        };
        match flag.as_str() {
            "--latency-ms" => {
                let v = value()?;
                let ms: u64 = v
                    .parse()
                    .map_err(|_| format!("`--latency-ms` wants milliseconds, got `{v}`"))?;
                config.latency = Duration::from_millis(ms);
            }
            "--rps-limit" => {
                let v = value()?;
                let limit: u32 = v
                    .parse()
                    .map_err(|_| format!("`--rps-limit` wants a whole number, got `{v}`"))?;
                config.rps_limit = Some(limit);
            }
            "--script" => {
                let path = value()?;
                config.agent = Some(script(&path)?);
            }
            "--agent-turns" => {
                let v = value()?;
                let turns: usize =
                    v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        format!("`--agent-turns` wants a number from 1, got `{v}`")
                    })?;
                config.agent = Some(std::sync::Arc::new(move |call: &fake::ChatCall| {
                    let done = call.results.len();
                    if done + 1 >= turns {
                        Reply::text(format!("done after {turns} turns"))
                    } else {
                        Reply::calls(call.calls.len(), &[("lookup", r#"{"id":"x"}"#)])
                    }
                }));
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    Ok(Some(config))
}

/// An agent that answers from a script of `{"match", "content"?, "calls"?,
/// "judge"?}` lines.
fn script(path: &str) -> Result<fake::Agent, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
    struct Line {
        matches: String,
        content: Option<String>,
        calls: Vec<(String, String)>,
        judge: Option<String>,
    }
    let mut lines = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let at = format!("`{path}:{}`", i + 1);
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("{at}: {e}"))?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let Some(matches) = field("match") else {
            return Err(format!("{at}: needs `match`"));
        };
        let mut calls = Vec::new();
        for c in v
            .get("calls")
            .and_then(|c| c.as_array())
            .into_iter()
            .flatten()
        {
            let name = c.get("name").and_then(|n| n.as_str());
            let arguments = match c.get("arguments") {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => "{}".to_string(),
            };
            match name {
                Some(name) => calls.push((name.to_string(), arguments)),
                None => return Err(format!("{at}: every call needs a `name`")),
            }
        }
        let content = field("content");
        if content.is_none() && calls.is_empty() {
            return Err(format!("{at}: needs `content` or `calls`"));
        }
        lines.push(Line {
            matches,
            content,
            calls,
            judge: v.get("judge").map(|j| j.to_string()),
        });
    }
    Ok(std::sync::Arc::new(move |call: &fake::ChatCall| {
        let judging = call
            .system
            .starts_with("You are an impartial evaluation judge");
        let haystack = if judging {
            call.last_user()
        } else {
            call.messages.last().map_or("", |(_, c)| c.as_str())
        };
        let hit = lines.iter().find(|l| haystack.contains(l.matches.as_str()));
        match (hit, judging) {
            (
                Some(Line {
                    judge: Some(verdict),
                    ..
                }),
                true,
            ) => Reply::text(verdict.clone()),
            (Some(l), false) => {
                let calls: Vec<(&str, &str)> = l
                    .calls
                    .iter()
                    .map(|(n, a)| (n.as_str(), a.as_str()))
                    .collect();
                let mut reply = Reply::calls(call.calls.len(), &calls);
                reply.content = l.content.clone();
                reply
            }
            _ => Reply::text("NO SCRIPTED ANSWER"),
        }
    }))
}

/// Blocks until SIGTERM, ctrl-c, or the end of stdin.
fn wait_for_exit() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("fake_server: tokio runtime");
    let (stdin_tx, stdin_rx) = tokio::sync::oneshot::channel::<()>();
    if watch_stdin() {
        std::thread::spawn(move || {
            let mut sink = [0u8; 1024];
            let mut stdin = std::io::stdin().lock();
            while matches!(std::io::Read::read(&mut stdin, &mut sink), Ok(n) if n > 0) {}
            let _ = stdin_tx.send(());
        });
    } else {
        drop(stdin_tx); // disables the branch below: it matches only `Ok`
    }
    runtime.block_on(async {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminated() => {}
            Ok(()) = stdin_rx => {}
        }
    });
}

#[cfg(unix)]
async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut sigterm) => {
            sigterm.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminated() {
    std::future::pending().await
}

/// Whether the end of stdin should stop the server: not when stdin is
/// `/dev/null` or not open at all, where it would end at once.
#[cfg(unix)]
fn watch_stdin() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(stdin) = std::fs::File::from(fd).metadata() else {
        return false;
    };
    let dev_null = std::fs::metadata("/dev/null");
    !(stdin.file_type().is_char_device() && dev_null.is_ok_and(|null| null.rdev() == stdin.rdev()))
}

#[cfg(not(unix))]
fn watch_stdin() -> bool {
    true
}
