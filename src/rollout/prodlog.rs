//! Production request logs (SPEC §8): one JSON object a line, read as a stream.
//!
//! The listed fields are required and typed strictly, but a line may carry
//! any other fields as well: production loggers add their own, and
//! `ab analyze --segment-by` can split on them. A bad line stops the read
//! with an error naming `file:line` and the field, never a silent skip,
//! because a dropped line would bias every rate computed from the rest.

use std::fmt;
use std::io::BufRead;
use std::path::Path;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;

/// One request as production logged it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LogLine {
    /// When the request was served (kept as written; not interpreted).
    pub ts: String,
    pub prompt: String,
    /// The prompt version that served the request.
    pub version: String,
    pub env: String,
    /// The routing key (user, account, session).
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    pub latency_ms: f64,
    pub outcome: Outcome,
    /// Whether a human corrected the answer; absent when not tracked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_out: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Every other field on the line.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Outcome {
    Ok,
    Refusal,
    Escalation,
    Fallback,
    Error,
}

impl LogLine {
    /// The value of a field as text, for grouping: the named fields, then
    /// any extra field (strings as written, numbers and booleans as JSON).
    /// `None` when the line lacks it or it is null, an array or an object.
    pub(crate) fn field(&self, name: &str) -> Option<String> {
        match name {
            "ts" => Some(self.ts.clone()),
            "prompt" => Some(self.prompt.clone()),
            "version" => Some(self.version.clone()),
            "env" => Some(self.env.clone()),
            "key" => Some(self.key.clone()),
            "segment" => self.segment.clone(),
            "outcome" => Some(self.outcome.name().to_string()),
            "corrected" => self.corrected.map(|c| c.to_string()),
            _ => match self.extra.get(name)? {
                Value::String(s) => Some(s.clone()),
                v @ (Value::Number(_) | Value::Bool(_)) => Some(v.to_string()),
                _ => None,
            },
        }
    }
}

impl Outcome {
    /// The name as logged.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refusal => "refusal",
            Outcome::Escalation => "escalation",
            Outcome::Fallback => "fallback",
            Outcome::Error => "error",
        }
    }
}

/// A KPI read from log lines: a rate (a share of requests) or a mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Metric {
    SuccessRate,
    RefusalRate,
    EscalationRate,
    FallbackRate,
    ErrorRate,
    CorrectionRate,
    LatencyMs,
    TokensIn,
    TokensOut,
    CostUsd,
}

/// Whether a metric is a share of requests or a mean of values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    Rate,
    Mean,
}

impl Metric {
    pub(crate) const ALL: [Metric; 10] = [
        Metric::SuccessRate,
        Metric::RefusalRate,
        Metric::EscalationRate,
        Metric::FallbackRate,
        Metric::ErrorRate,
        Metric::CorrectionRate,
        Metric::LatencyMs,
        Metric::TokensIn,
        Metric::TokensOut,
        Metric::CostUsd,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Metric::SuccessRate => "success_rate",
            Metric::RefusalRate => "refusal_rate",
            Metric::EscalationRate => "escalation_rate",
            Metric::FallbackRate => "fallback_rate",
            Metric::ErrorRate => "error_rate",
            Metric::CorrectionRate => "correction_rate",
            Metric::LatencyMs => "latency_ms",
            Metric::TokensIn => "tokens_in",
            Metric::TokensOut => "tokens_out",
            Metric::CostUsd => "cost_usd",
        }
    }

    pub(crate) fn kind(self) -> Kind {
        match self {
            Metric::LatencyMs | Metric::TokensIn | Metric::TokensOut | Metric::CostUsd => {
                Kind::Mean
            }
            _ => Kind::Rate,
        }
    }

    /// Whether a larger value is an improvement (only the success rate);
    /// for every other metric, up is worse.
    pub(crate) fn higher_is_better(self) -> bool {
        self == Metric::SuccessRate
    }

    /// The metric's value on one line: 1 or 0 for a rate, the number for a
    /// mean; `None` when the line does not carry it. The correction rate is
    /// read only from lines that have `corrected`, so a logger that does not
    /// track corrections yields no data rather than a perfect 0%.
    pub(crate) fn value(self, line: &LogLine) -> Option<f64> {
        let is = |o: Outcome| Some(if line.outcome == o { 1.0 } else { 0.0 });
        match self {
            Metric::SuccessRate => is(Outcome::Ok),
            Metric::RefusalRate => is(Outcome::Refusal),
            Metric::EscalationRate => is(Outcome::Escalation),
            Metric::FallbackRate => is(Outcome::Fallback),
            Metric::ErrorRate => is(Outcome::Error),
            Metric::CorrectionRate => line.corrected.map(|c| if c { 1.0 } else { 0.0 }),
            Metric::LatencyMs => Some(line.latency_ms),
            Metric::TokensIn => line.tokens_in.map(|t| t as f64),
            Metric::TokensOut => line.tokens_out.map(|t| t as f64),
            Metric::CostUsd => line.cost_usd,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = Error;

    fn from_str(s: &str) -> Result<Metric, Error> {
        Metric::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Metric::ALL.iter().map(|m| m.name()).collect();
                Error::invalid(format!(
                    "unknown metric `{s}`; expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// Opens a log file for streaming; lines are parsed as they are read.
pub(crate) fn open(path: &Path) -> Result<Reader<std::io::BufReader<std::fs::File>>, Error> {
    let file = std::fs::File::open(path).map_err(|e| crate::error::io_invalid(path, &e))?;
    Ok(Reader::new(
        std::io::BufReader::new(file),
        path.display().to_string(),
    ))
}

/// Log lines from a reader, one `Result` per non-blank line; errors name
/// `label:line`. After an I/O error the reader ends.
pub(crate) struct Reader<R> {
    lines: std::io::Lines<R>,
    label: String,
    line: usize,
    done: bool,
}

impl<R: BufRead> Reader<R> {
    /// Reads from `reader`, calling it `label` (usually the path) in errors.
    pub(crate) fn new(reader: R, label: impl Into<String>) -> Self {
        Reader {
            lines: reader.lines(),
            label: label.into(),
            line: 0,
            done: false,
        }
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<LogLine, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            self.line += 1;
            let text = match self.lines.next()? {
                Ok(t) => t,
                Err(e) => {
                    self.done = true;
                    let what = if e.kind() == std::io::ErrorKind::InvalidData {
                        "not valid UTF-8".to_string()
                    } else {
                        format!("cannot read: {e}")
                    };
                    return Some(Err(Error::invalid(format!(
                        "`{}:{}`: {what}",
                        self.label, self.line
                    ))));
                }
            };
            let text = match self.line {
                1 => crate::workspace::text::strip_bom(&text),
                _ => &text,
            };
            if text.trim().is_empty() {
                continue;
            }
            return Some(parse_line(text).map_err(|(column, message)| {
                let at = match column {
                    Some(c) => format!("{}:{}:{c}", self.label, self.line),
                    None => format!("{}:{}", self.label, self.line),
                };
                Error::invalid(format!("`{at}`: {message}"))
            }));
        }
    }
}

/// Parses one line; on failure, the column (when known) and a message that
/// names the field at fault.
fn parse_line(text: &str) -> Result<LogLine, (Option<usize>, String)> {
    let line: LogLine = serde_json::from_str(text).map_err(|e| {
        let column = Some(e.column()).filter(|c| *c > 0);
        let message = strip_position(&e.to_string());
        // A type error does not say which field it is in; find it. (Some,
        // such as an array where a name belongs, come back as syntax errors.)
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(obj)) => match wrong_field(&obj) {
                Some((field, why)) => (column, format!("field `{field}`: {why}")),
                None => (column, message),
            },
            Ok(_) => (
                None,
                "expected a JSON object, one request a line".to_string(),
            ),
            Err(_) => (column, message),
        }
    })?;
    if !(line.latency_ms.is_finite() && line.latency_ms >= 0.0) {
        return Err((
            None,
            format!(
                "field `latency_ms`: {} is not a duration in milliseconds",
                line.latency_ms
            ),
        ));
    }
    if let Some(c) = line.cost_usd.filter(|c| !(c.is_finite() && *c >= 0.0)) {
        return Err((None, format!("field `cost_usd`: {c} is not a cost")));
    }
    Ok(line)
}

/// serde_json appends " at line N column M"; the caller puts the position first.
fn strip_position(message: &str) -> String {
    message
        .rfind(" at line ")
        .map_or(message, |i| &message[..i])
        .to_string()
}

type Fits = fn(&Value) -> Result<(), serde_json::Error>;

fn fits<T: DeserializeOwned>(v: &Value) -> Result<(), serde_json::Error> {
    T::deserialize(v).map(drop)
}

/// Every named field of [`LogLine`] with a check of its type, in order.
const FIELDS: [(&str, Fits); 12] = [
    ("ts", fits::<String>),
    ("prompt", fits::<String>),
    ("version", fits::<String>),
    ("env", fits::<String>),
    ("key", fits::<String>),
    ("segment", fits::<Option<String>>),
    ("latency_ms", fits::<f64>),
    ("outcome", fits::<Outcome>),
    ("corrected", fits::<Option<bool>>),
    ("tokens_in", fits::<Option<u64>>),
    ("tokens_out", fits::<Option<u64>>),
    ("cost_usd", fits::<Option<f64>>),
];

/// The first named field whose value has the wrong type, and why.
fn wrong_field(obj: &Map<String, Value>) -> Option<(&'static str, serde_json::Error)> {
    FIELDS
        .iter()
        .find_map(|(name, fits)| fits(obj.get(*name)?).err().map(|e| (*name, e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"ts":"2026-11-21T10:00:00Z","prompt":"support_bot","version":"1.2.0","env":"production","key":"u1","latency_ms":812.5,"outcome":"ok"}"#;

    fn read(text: &str) -> Vec<Result<LogLine, Error>> {
        Reader::new(text.as_bytes(), "prod.jsonl").collect()
    }

    fn error_of(text: &str) -> String {
        let mut all = read(text);
        assert_eq!(all.len(), 1, "one line in, one result out");
        all.remove(0).expect_err("a bad line").message().to_string()
    }

    #[test]
    fn reads_required_and_optional_fields_and_keeps_extras() {
        let full = r#"{"ts":"t","prompt":"p","version":"1.3.0","env":"e","key":"k","segment":"eu","latency_ms":10,"outcome":"refusal","corrected":true,"tokens_in":12,"tokens_out":34,"cost_usd":0.002,"region":"west","tier":3}"#;
        let lines: Vec<_> = read(&format!("{GOOD}\n\n  \n{full}\n"))
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].outcome, Outcome::Ok);
        assert_eq!(
            (lines[0].segment.as_deref(), lines[0].corrected),
            (None, None)
        );
        let l = &lines[1];
        assert_eq!(l.outcome, Outcome::Refusal);
        assert_eq!(l.corrected, Some(true));
        assert_eq!(
            (l.tokens_in, l.tokens_out, l.cost_usd),
            (Some(12), Some(34), Some(0.002))
        );
        assert_eq!(l.field("segment").as_deref(), Some("eu"));
        assert_eq!(l.field("region").as_deref(), Some("west"));
        assert_eq!(l.field("tier").as_deref(), Some("3"));
        assert_eq!(l.field("outcome").as_deref(), Some("refusal"));
        assert_eq!(l.field("nope"), None);
    }

    #[test]
    fn a_byte_order_mark_starts_a_log_only() {
        let lines = read(&format!("\u{feff}{GOOD}\n{GOOD}\n"));
        assert!(lines.iter().all(Result::is_ok), "{lines:?}");
        let msg = error_of(&format!("\n\u{feff}{GOOD}\n"));
        assert!(msg.starts_with("`prod.jsonl:2:1`"), "{msg}");
    }

    #[test]
    fn a_bad_line_names_file_line_and_field() {
        let bad = GOOD.replace("812.5", "\"fast\"");
        let msg = read(&format!("{GOOD}\n\n{bad}\n"))
            .into_iter()
            .find_map(Result::err)
            .unwrap()
            .message()
            .to_string();
        assert!(msg.starts_with("`prod.jsonl:3:"), "{msg}");
        assert!(msg.contains("field `latency_ms`"), "{msg}");
        assert!(msg.contains("expected f64"), "{msg}");
    }

    #[test]
    fn a_missing_field_is_named() {
        let msg = error_of(&GOOD.replace(r#","key":"u1""#, ""));
        assert!(msg.starts_with("`prod.jsonl:1"), "{msg}");
        assert!(msg.contains("missing field `key`"), "{msg}");
    }

    #[test]
    fn an_unknown_outcome_is_named_with_the_choices() {
        let msg = error_of(&GOOD.replace(r#""ok""#, r#""timeout""#));
        assert!(msg.contains("field `outcome`"), "{msg}");
        assert!(
            msg.contains("timeout") && msg.contains("escalation"),
            "{msg}"
        );
    }

    #[test]
    fn every_field_with_a_wrong_type_is_named() {
        let full: Map<String, Value> = serde_json::from_str(
            r#"{"ts":"t","prompt":"p","version":"v","env":"e","key":"k","segment":"s","latency_ms":1,"outcome":"ok","corrected":false,"tokens_in":1,"tokens_out":1,"cost_usd":0.1}"#,
        )
        .unwrap();
        for (name, _) in FIELDS {
            let mut obj = full.clone();
            obj.insert(name.to_string(), serde_json::json!([1]));
            let msg = error_of(&Value::Object(obj).to_string());
            assert!(msg.contains(&format!("field `{name}`")), "{name}: {msg}");
        }
    }

    #[test]
    fn the_field_table_matches_the_struct() {
        // A full line serialises every named field; FIELDS must list them all.
        let mut line = read(GOOD).remove(0).unwrap();
        line.segment = Some("s".into());
        line.corrected = Some(true);
        (line.tokens_in, line.tokens_out, line.cost_usd) = (Some(1), Some(1), Some(0.1));
        let value = serde_json::to_value(&line).unwrap();
        let mut keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        let mut names: Vec<_> = FIELDS.iter().map(|(n, _)| n.to_string()).collect();
        keys.sort();
        names.sort();
        assert_eq!(keys, names);
    }

    #[test]
    fn syntax_errors_and_non_objects_are_reported() {
        let msg = error_of(r#"{"ts": "#);
        assert!(msg.starts_with("`prod.jsonl:1:"), "{msg}");
        let msg = error_of("[1, 2]");
        assert!(msg.contains("expected a JSON object"), "{msg}");
        let msg = error_of(&GOOD.replace("812.5", "-3"));
        assert!(msg.contains("field `latency_ms`"), "{msg}");
        let msg = error_of(&GOOD.replace("}", r#","cost_usd":-1}"#));
        assert!(msg.contains("field `cost_usd`"), "{msg}");
    }

    #[test]
    fn invalid_utf8_names_the_line_and_ends_the_read() {
        let mut bytes = format!("{GOOD}\n").into_bytes();
        bytes.extend_from_slice(b"\xff\xfe\n");
        bytes.extend_from_slice(GOOD.as_bytes());
        let all: Vec<_> = Reader::new(&bytes[..], "prod.jsonl").collect();
        assert_eq!(all.len(), 2);
        let msg = all[1].as_ref().unwrap_err().message().to_string();
        assert_eq!(msg, "`prod.jsonl:2`: not valid UTF-8");
    }

    #[test]
    fn metrics_parse_and_read_lines() {
        for m in Metric::ALL {
            assert_eq!(m.name().parse::<Metric>().unwrap(), m);
        }
        let err = "latency".parse::<Metric>().unwrap_err();
        assert!(err.message().contains("unknown metric `latency`"));
        let line = read(GOOD).remove(0).unwrap();
        assert_eq!(Metric::SuccessRate.value(&line), Some(1.0));
        assert_eq!(Metric::RefusalRate.value(&line), Some(0.0));
        assert_eq!(Metric::CorrectionRate.value(&line), None);
        assert_eq!(Metric::LatencyMs.value(&line), Some(812.5));
        assert_eq!(Metric::TokensIn.value(&line), None);
        assert_eq!(Metric::CostUsd.kind(), Kind::Mean);
        assert_eq!(Metric::ErrorRate.kind(), Kind::Rate);
    }
}
