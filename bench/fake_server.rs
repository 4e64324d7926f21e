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
//! `--script FILE` answers from a JSONL file of `{"match", "content",
//! "judge"?}` lines: a call whose last user message contains `match` gets
//! `content`; a judge call (system text of promptctl's judge) whose input
//! contains `match` gets `judge` as JSON. `bench/record-example.sh` records
//! the bundled cassettes this way.

#[path = "../tests/fake/mod.rs"]
mod fake;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use fake::{FakeConfig, FakeServer};

const USAGE: &str = "usage: fake_server [--latency-ms N] [--rps-limit N] [--script FILE]";

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
                config.responder = script(&path)?;
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    Ok(Some(config))
}

/// A responder that answers from a script of `{"match", "content", "judge"?}` lines.
fn script(path: &str) -> Result<fake::Responder, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
    let mut lines = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("`{path}:{}`: {e}", i + 1))?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let (Some(m), Some(content)) = (field("match"), field("content")) else {
            return Err(format!("`{path}:{}`: needs `match` and `content`", i + 1));
        };
        lines.push((m, content, v.get("judge").map(|j| j.to_string())));
    }
    Ok(std::sync::Arc::new(move |call: &fake::ChatCall| {
        let judging = call
            .system
            .starts_with("You are an impartial evaluation judge");
        let haystack = call.last_user();
        let hit = lines.iter().find(|(m, _, _)| haystack.contains(m.as_str()));
        match (hit, judging) {
            (Some((_, _, Some(verdict))), true) => verdict.clone(),
            (Some((_, content, _)), false) => content.clone(),
            _ => "NO SCRIPTED ANSWER".to_string(),
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
