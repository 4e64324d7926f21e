//! Eval suites (`evals/<suite>.yaml`) and their cases: strict wire structs.
//!
//! Cases may be inline or in a JSONL file beside the suite; the JSONL file is
//! read line by line ([`CaseReader`]) so a large dataset never sits in memory
//! whole, and every bad line is reported with its line number.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Error;
use crate::workspace::Workspace;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The prompt under test: `name` (the draft) or `name@X.Y.Z`.
    pub prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub cases: CasesSpec,
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rubric: Option<Rubric>,
    #[serde(default)]
    pub gates: Gates,
}

/// A JSONL/YAML file of cases beside the suite, or an inline list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CasesSpec {
    File(String),
    Inline(Vec<Case>),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default, rename = "assert")]
    pub asserts: Vec<Assertion>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub id: String,
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, rename = "assert", skip_serializing_if = "Vec::is_empty")]
    pub asserts: Vec<Assertion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssertionType {
    Equals,
    Contains,
    ContainsAny,
    ContainsAll,
    NotContains,
    Regex,
    NotRegex,
    StartsWith,
    IsJson,
    JsonSchema,
    MaxChars,
    MaxWords,
    Refusal,
    NotRefusal,
    LatencyMs,
    CostUsd,
    Rubric,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    #[serde(rename = "type")]
    pub kind: AssertionType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rubric {
    pub judge: Judge,
    pub criteria: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Judge {
    pub provider: String,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gates {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub criteria: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p95_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_regression: Option<f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub segments: BTreeMap<String, SegmentGates>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentGates {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub criteria: BTreeMap<String, f64>,
}

/// A suite read from disk.
#[derive(Debug, Clone)]
pub struct Suite {
    pub name: String,
    pub path: PathBuf,
    /// How errors name the file, relative to the workspace.
    pub label: String,
    pub spec: SuiteSpec,
}

impl Suite {
    /// Loads `evals/<name>.yaml`, or a path to a suite file.
    pub fn load(ws: &Workspace, name_or_path: &str) -> Result<Suite, Error> {
        let as_path = Path::new(name_or_path);
        let path = if name_or_path.ends_with(".yaml") || name_or_path.ends_with(".yml") {
            if as_path.is_absolute() {
                as_path.to_path_buf()
            } else {
                ws.root.join(as_path)
            }
        } else {
            ws.evals_dir().join(format!("{name_or_path}.yaml"))
        };
        let label = path
            .strip_prefix(&ws.root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or(name_or_path)
            .to_string();
        let text = crate::error::read_input_string(&path).map_err(|_| {
            Error::invalid(format!(
                "no suite `{name_or_path}`: `{label}` does not exist"
            ))
        })?;
        let spec: SuiteSpec = crate::yaml::from_str(Path::new(&label), &text)?;
        Ok(Suite {
            name,
            path,
            label,
            spec,
        })
    }

    /// Every suite under `evals/`, sorted by name. Files that do not parse
    /// are returned as errors so callers can report them.
    pub fn all(ws: &Workspace) -> Vec<Result<Suite, Error>> {
        let Ok(entries) = std::fs::read_dir(ws.evals_dir()) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| Suite::load(ws, &p.to_string_lossy()))
            .collect()
    }

    /// The suite's cases, read one at a time.
    pub fn cases(&self) -> Result<CaseReader, Error> {
        match &self.spec.cases {
            CasesSpec::Inline(cases) => Ok(CaseReader::Inline(cases.clone().into_iter())),
            CasesSpec::File(file) => {
                let dir = self.path.parent().unwrap_or(Path::new("."));
                let path = dir.join(file);
                let label = Path::new(&self.label)
                    .parent()
                    .unwrap_or(Path::new(""))
                    .join(file)
                    .display()
                    .to_string();
                if file.ends_with(".jsonl") {
                    let f = std::fs::File::open(&path).map_err(|e| {
                        Error::invalid(format!(
                            "`{}`: cases: cannot open `{label}`: {e}",
                            self.label
                        ))
                    })?;
                    Ok(CaseReader::Jsonl {
                        lines: std::io::BufReader::new(f).lines(),
                        label,
                        line: 0,
                    })
                } else {
                    let cases: Vec<Case> = crate::yaml::load(&path).map_err(|e| {
                        Error::invalid(e.message().replace(&path.display().to_string(), &label))
                    })?;
                    Ok(CaseReader::Inline(cases.into_iter()))
                }
            }
        }
    }
}

/// Cases in file order; a line that does not parse is an error naming it.
pub enum CaseReader {
    Inline(std::vec::IntoIter<Case>),
    Jsonl {
        lines: std::io::Lines<std::io::BufReader<std::fs::File>>,
        label: String,
        line: usize,
    },
}

impl Iterator for CaseReader {
    type Item = Result<Case, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            CaseReader::Inline(it) => it.next().map(Ok),
            CaseReader::Jsonl { lines, label, line } => loop {
                let text = match lines.next()? {
                    Ok(t) => t,
                    Err(e) => return Some(Err(Error::invalid(format!("`{label}`: {e}")))),
                };
                *line += 1;
                if text.trim().is_empty() {
                    continue;
                }
                return Some(serde_json::from_str(&text).map_err(|e| {
                    let msg = e.to_string();
                    let msg = msg
                        .rfind(" at line ")
                        .map_or(msg.as_str(), |i| &msg[..i])
                        .to_string();
                    Error::invalid(format!("`{label}:{}:{}`: {msg}", line, e.column()))
                }));
            },
        }
    }
}
