//! What a run records: per-case results, the summary, the gates, the verdict.
//!
//! Case results are streamed to a temporary JSONL file as cases finish, so
//! memory holds only the small numbers the summary needs; the run file
//! (`.promptctl/runs/<run-id>.json`) is assembled from it at the end, in case
//! order. Everything in a run file has been through the redactor.

use std::io::{BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub(crate) use super::case::CaseResult;
use super::judge::Identity;
use crate::error::Error;

pub(crate) const SCHEMA: &str = "promptctl.run/v1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SuiteInfo {
    pub name: String,
    pub path: String,
    /// sha256 of the suite file's bytes.
    pub sha256: String,
    /// sha256 of the cases file's bytes (or of the inline cases).
    pub dataset_sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PromptInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub digest: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ProviderInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub model: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Settings {
    pub repeat: u32,
    pub concurrency: usize,
    pub cache: bool,
    pub record: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter_id: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter_segment: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_time_s: Option<f64>,
    /// Stopped by SIGINT or SIGTERM before its end: a partial run, which
    /// never counts for `promote`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

/// Everything but the cases: written first, then the cases are spliced in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunHeader {
    pub schema: String,
    pub run_id: String,
    pub suite: SuiteInfo,
    pub prompt: PromptInfo,
    pub provider: ProviderInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<Identity>,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: f64,
    pub settings: Settings,
    pub summary: super::summary::Summary,
    pub gates: Vec<super::gates::GateResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<super::summary::Comparison>,
    pub verdict: super::gates::Verdict,
}

/// A whole run, as read back from its file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Run {
    #[serde(flatten)]
    pub header: RunHeader,
    pub cases: Vec<CaseResult>,
}

impl Run {
    pub(crate) fn load(path: &Path) -> Result<Run, Error> {
        let file = std::fs::File::open(path).map_err(|e| crate::error::io_invalid(path, &e))?;
        let run: Run = serde_json::from_reader(std::io::BufReader::new(file))
            .map_err(|e| not_a_run(path, &e))?;
        check_schema(path, &run.header)?;
        Ok(run)
    }

    /// Reads only a run's header: the cases are skipped as they are
    /// parsed, never held in memory (serde's `flatten` would buffer them).
    pub(crate) fn load_header(path: &Path) -> Result<RunHeader, Error> {
        let file = std::fs::File::open(path).map_err(|e| crate::error::io_invalid(path, &e))?;
        let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(file));
        let header = serde::Deserializer::deserialize_map(&mut de, WithoutCases)
            .and_then(|map| serde_json::from_value::<RunHeader>(Value::Object(map)))
            .map_err(|e| not_a_run(path, &e))?;
        check_schema(path, &header)?;
        Ok(header)
    }

    /// Writes a whole in-memory run (after `gate` or `merge`).
    pub(crate) fn save(&self, path: &Path) -> Result<(), Error> {
        let mut text = serde_json::to_vec_pretty(self).expect("a run serialises");
        text.push(b'\n');
        crate::workspace::fsio::write_atomic(path, &text, crate::workspace::fsio::Access::Private)
    }
}

/// The run files in `dir` (`.promptctl/runs/`), oldest first by name;
/// hidden files (spools of runs in progress) are not runs.
pub(crate) fn run_files(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|e| e.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.retain(|p| {
        p.extension().is_some_and(|e| e == "json")
            && !p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
    });
    paths.sort();
    paths
}

/// Case results spilled to disk as they finish, with their case order.
/// The spool file is owner-only and is removed when the spool is dropped,
/// whether the run was saved or failed (a full disk, say).
pub(crate) struct Spool {
    path: PathBuf,
    file: BufWriter<std::fs::File>,
    offset: u64,
    index: Vec<(usize, u32, u64, u32)>,
}

impl Spool {
    pub(crate) fn create(dir: &Path, run_id: &str) -> Result<Spool, Error> {
        std::fs::create_dir_all(dir).map_err(|e| crate::error::io_incomplete(dir, &e))?;
        let path = dir.join(format!(".{run_id}.cases.tmp"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(&path)
            .map_err(|e| crate::error::io_incomplete(&path, &e))?;
        Ok(Spool {
            path,
            file: BufWriter::new(file),
            offset: 0,
            index: Vec::new(),
        })
    }

    /// Appends the result of the case at position `order`.
    pub(crate) fn push(&mut self, order: usize, result: &CaseResult) -> Result<(), Error> {
        let line = serde_json::to_vec(result).expect("a case result serialises");
        self.file
            .write_all(&line)
            .map_err(|e| crate::error::io_incomplete(&self.path, &e))?;
        self.index
            .push((order, result.sample, self.offset, line.len() as u32));
        self.offset += line.len() as u64;
        Ok(())
    }

    /// Writes the run file (owner-only): the header with the cases spliced
    /// in, in case order; then removes the spool. Atomic, like every write.
    pub(crate) fn finish(mut self, header: &RunHeader, dest: &Path) -> Result<(), Error> {
        let io = |e: std::io::Error| crate::error::io_incomplete(dest, &e);
        self.file.flush().map_err(io)?;
        self.index
            .sort_by_key(|(order, sample, _, _)| (*order, *sample));
        let mut head = serde_json::to_vec(header).expect("a header serialises");
        head.pop(); // the closing brace; the cases follow
        let dir = dest.parent().unwrap_or(Path::new("."));
        let mut tmp = tempfile::Builder::new()
            .prefix(".promptctl-tmp-")
            .tempfile_in(dir)
            .map_err(io)?;
        {
            let mut out = BufWriter::new(tmp.as_file_mut());
            out.write_all(&head).map_err(io)?;
            out.write_all(b",\"cases\":[").map_err(io)?;
            let mut src = std::fs::File::open(&self.path).map_err(io)?;
            let mut buf = Vec::new();
            for (i, (_, _, offset, len)) in self.index.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",\n").map_err(io)?;
                }
                buf.resize(*len as usize, 0);
                src.seek(std::io::SeekFrom::Start(*offset)).map_err(io)?;
                src.read_exact(&mut buf).map_err(io)?;
                out.write_all(&buf).map_err(io)?;
            }
            out.write_all(b"]}\n").map_err(io)?;
            out.flush().map_err(io)?;
        }
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(dest).map_err(|e| io(e.error))?;
        Ok(())
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A run id: UTC time to the second, then 6 random hex digits.
pub(crate) fn new_run_id() -> String {
    let now = jiff::Timestamp::now();
    format!(
        "{}-{:06x}",
        now.strftime("%Y%m%dT%H%M%SZ"),
        fastrand::u32(..0x100_0000)
    )
}

fn not_a_run(path: &Path, e: &serde_json::Error) -> Error {
    Error::invalid(format!(
        "`{}:{}:{}`: not a promptctl run: {e}",
        path.display(),
        e.line(),
        e.column()
    ))
}

fn check_schema(path: &Path, header: &RunHeader) -> Result<(), Error> {
    if header.schema == SCHEMA {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "`{}` is a `{}` file; this promptctl reads `{SCHEMA}`",
        path.display(),
        header.schema
    )))
}

/// A run file's top-level fields but `cases`, which is skipped unread.
struct WithoutCases;

impl<'de> serde::de::Visitor<'de> for WithoutCases {
    type Value = serde_json::Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a promptctl run (a JSON object)")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "cases" {
                map.next_value::<serde::de::IgnoredAny>()?;
            } else {
                out.insert(key, map.next_value()?);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spool_dropped_unfinished_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::create(dir.path(), "r1").unwrap();
        let path = dir.path().join(".r1.cases.tmp");
        assert!(path.is_file());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        drop(spool); // as when a push fails on a full disk and the run errors
        assert!(!path.exists());
    }
}
