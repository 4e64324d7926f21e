//! A prompt artifact read from disk and resolved: every referenced file read
//! once, every template parsed, every schema parsed.
//!
//! The same loader reads a draft (`prompts/<name>/`) and a frozen version
//! (`prompts/<name>/versions/<X.Y.Z>/`), so a version hashes exactly as its
//! draft did. The bytes read here are the bytes that `release` copies, so
//! what is hashed is what is frozen.

pub(crate) mod spec;
pub(crate) mod template;
pub(crate) mod tokens;
pub(crate) mod tools;
pub(crate) mod variables;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::Error;
use crate::version::artifact::template::Template;
use crate::workspace::name::Name;
use spec::{MessageSource, PromptSpec, RelPath, Role, SchemaSpec};

pub(crate) const PROMPT_FILE: &str = "prompt.yaml";

/// A loaded, checked prompt artifact.
#[derive(Debug, Clone)]
pub(crate) struct Artifact {
    /// How errors and output name the folder, e.g. `prompts/support_bot`.
    pub label: String,
    pub spec: PromptSpec,
    /// The text of `prompt.yaml`.
    pub source: String,
    /// Every file of the artifact (relative path → bytes), `prompt.yaml` included.
    pub files: BTreeMap<String, Vec<u8>>,
    pub messages: Vec<Message>,
    pub output_schema: Option<Value>,
    pub tools: Option<Value>,
}

#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub role: Role,
    pub template: Template,
    /// The message text before rendering.
    pub text: String,
    /// The file the text came from, if not inline.
    pub file: Option<String>,
}

/// A message after rendering.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Rendered {
    pub role: &'static str,
    pub content: String,
}

/// The three hashes that identify an artifact's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Hashes {
    pub prompt_hash: String,
    pub config_hash: String,
    pub digest: String,
}

impl Artifact {
    /// Loads the artifact in `dir`, which must be named `name`.
    pub(crate) fn load(dir: &Path, label: &str, name: &Name) -> Result<Artifact, Error> {
        let path = dir.join(PROMPT_FILE);
        let at = format!("{label}/{PROMPT_FILE}");
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::invalid(format!("`{at}` does not exist")),
            _ => Error::invalid(format!("cannot read `{at}`: {e}")),
        })?;
        let source = String::from_utf8(bytes.clone())
            .map_err(|e| crate::error::not_utf8(&at, &bytes, &e.utf8_error()))?;
        let spec: PromptSpec = crate::workspace::yaml::from_str(Path::new(&at), &source)?;
        let loader = Loader {
            dir: dir.to_path_buf(),
            label,
            source: &source,
        };
        if spec.name != *name {
            return Err(Error::invalid(format!(
                "`{}`: name `{}` does not match its folder `{name}`",
                loader.at(&["name"]),
                spec.name
            )));
        }

        let mut files = BTreeMap::new();
        files.insert(PROMPT_FILE.to_string(), bytes);

        let mut messages = Vec::new();
        for (i, m) in spec.messages.iter().enumerate() {
            let (text, file) = match &m.source {
                MessageSource::File(rel) => {
                    let bytes = loader.read(
                        rel,
                        &format!("messages[{i}].file"),
                        &["messages", &i.to_string(), "file"],
                    )?;
                    // A BOM here is kept: the text is the prompt, and its
                    // parsed form is hashed (see `workspace::text`).
                    let text = String::from_utf8(bytes.clone()).map_err(|e| {
                        crate::error::not_utf8(
                            &format!("{label}/{}", rel.as_str()),
                            &bytes,
                            &e.utf8_error(),
                        )
                    })?;
                    files.insert(rel.as_str().to_string(), bytes);
                    (text, Some(rel.as_str().to_string()))
                }
                MessageSource::Inline(t) => (t.clone(), None),
            };
            let template = Template::parse(&text).map_err(|e| match &file {
                Some(f) => Error::invalid(format!(
                    "`{label}/{f}:{}:{}`: {}",
                    e.line, e.column, e.message
                )),
                None => Error::invalid(format!(
                    "`{}`: messages[{i}].template: {}",
                    loader.at(&["messages", &i.to_string(), "template"]),
                    e.message
                )),
            })?;
            messages.push(Message {
                role: m.role,
                template,
                text,
                file,
            });
        }
        if messages.is_empty() {
            return Err(Error::invalid(format!(
                "`{at}`: messages: at least one message is needed"
            )));
        }

        let output_schema = match &spec.output_schema {
            None => None,
            Some(SchemaSpec::Inline(map)) => Some(Value::Object(map.clone())),
            Some(SchemaSpec::File(rel)) => {
                let bytes = loader.read(rel, "output_schema", &["output_schema"])?;
                let value = loader.json(rel, &bytes)?;
                if !value.is_object() {
                    return Err(Error::invalid(format!(
                        "`{label}/{}`: a JSON Schema must be an object",
                        rel.as_str()
                    )));
                }
                files.insert(rel.as_str().to_string(), bytes);
                Some(value)
            }
        };
        if spec.model.response_format.is_some() && output_schema.is_none() {
            return Err(Error::invalid(format!(
                "`{}`: model.response_format: `json_schema` asks the API to enforce the prompt's `output_schema`, and there is none",
                loader.at(&["model", "response_format"])
            ))
            .with_hint("add an `output_schema:` (a file beside `prompt.yaml` or an inline schema), or remove `response_format`"));
        }
        let tools = match &spec.tools {
            None => None,
            Some(t) => {
                let bytes = loader.read(&t.file, "tools.file", &["tools", "file"])?;
                let value = loader.json(&t.file, &bytes)?;
                files.insert(t.file.as_str().to_string(), bytes);
                Some(value)
            }
        };

        let artifact = Artifact {
            label: label.to_string(),
            spec,
            source,
            files,
            messages,
            output_schema,
            tools,
        };
        artifact.check_variables()?;
        Ok(artifact)
    }

    /// Every placeholder is declared; every default fits its own schema.
    fn check_variables(&self) -> Result<(), Error> {
        let loader = &Loader {
            dir: PathBuf::new(),
            label: &self.label,
            source: &self.source,
        };
        for (name, var) in &self.spec.variables {
            if !is_variable_name(name) {
                return Err(Error::invalid(format!(
                    "`{}`: variables: `{name}` is not a valid name (letters, digits, `_`)",
                    loader.at(&["variables", name])
                )));
            }
            if var.required && var.default.is_some() {
                return Err(Error::invalid(format!(
                    "`{}`: variables.{name}: `required: true` and a `default` contradict each other",
                    loader.at(&["variables", name])
                )));
            }
            if let Some(p) = &var.pattern {
                regex::Regex::new(p).map_err(|e| {
                    Error::invalid(format!(
                        "`{}`: variables.{name}.pattern: {e}",
                        loader.at(&["variables", name])
                    ))
                })?;
            }
            if let Some(d) = &var.default {
                crate::version::artifact::variables::check(name, var, d).map_err(|e| {
                    Error::invalid(format!(
                        "`{}`: variables.{name}.default: {e}",
                        loader.at(&["variables", name])
                    ))
                })?;
            }
        }
        for m in &self.messages {
            for v in m.template.variables() {
                if !self.spec.variables.contains_key(v) {
                    let place = match &m.file {
                        Some(f) => format!("{}/{f}", self.label),
                        None => format!("{}/{PROMPT_FILE}", self.label),
                    };
                    let mut err = Error::invalid(format!(
                        "`{place}`: the {} message uses undefined variable `{v}`",
                        m.role.as_str()
                    ));
                    let names = self.spec.variables.keys().map(String::as_str);
                    err = match crate::workspace::yaml::closest(v, names) {
                        Some(best) => err.with_hint(format!("did you mean `{best}`?")),
                        None => err.with_hint(format!(
                            "declare it under `variables:` in `{}/{PROMPT_FILE}`",
                            self.label
                        )),
                    };
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    /// The name the API is given for `output_schema` when `model.response_format`
    /// asks it to enforce the schema: the prompt's name. `None` otherwise,
    /// so a request that does not enforce hashes as it always did.
    pub(crate) fn schema_name(&self) -> Option<String> {
        self.spec
            .model
            .response_format
            .map(|_| self.spec.name.to_string())
    }

    /// The message templates as structure: what `prompt_hash` covers.
    pub(crate) fn prompt_structure(&self) -> Value {
        Value::Array(
            self.messages
                .iter()
                .map(|m| json!({ "role": m.role.as_str(), "template": m.template }))
                .collect(),
        )
    }

    /// Model, parameters, variables, schemas, tools, retrieval and limitations:
    /// what `config_hash` covers.
    pub(crate) fn config(&self) -> Value {
        let s = &self.spec;
        json!({
            "model": s.model,
            "variables": s.variables,
            "output_schema": self.output_schema,
            "tools": self.tools.as_ref().map(|t| json!({
                "schema_version": s.tools.as_ref().and_then(|t| t.schema_version.clone()),
                "definition": t,
            })),
            "retrieval": s.retrieval,
            "limitations": s.limitations,
            "max_prompt_tokens": s.max_prompt_tokens,
        })
    }

    pub(crate) fn hashes(&self) -> Hashes {
        let prompt_hash = crate::version::canonical::hash_of(&self.prompt_structure());
        let config_hash = crate::version::canonical::hash_of(&self.config());
        let digest = digest(&self.spec.name, &prompt_hash, &config_hash);
        Hashes {
            prompt_hash,
            config_hash,
            digest,
        }
    }

    /// sha256 of each file's bytes, by relative path.
    pub(crate) fn file_hashes(&self) -> BTreeMap<String, String> {
        self.files
            .iter()
            .map(|(k, v)| (k.clone(), crate::version::canonical::sha256(v)))
            .collect()
    }

    /// Renders every message with `given`, checked against the variable schema.
    pub(crate) fn render(&self, given: &BTreeMap<String, Value>) -> Result<Vec<Rendered>, Error> {
        let values = crate::version::artifact::variables::resolve(&self.spec.variables, given)?;
        let text: BTreeMap<&str, String> = values
            .iter()
            .map(|(k, v)| (k.as_str(), crate::version::artifact::variables::to_text(v)))
            .collect();
        self.messages
            .iter()
            .map(|m| {
                let content = m
                    .template
                    .render(|n| text.get(n).map(String::as_str))
                    .map_err(|missing| {
                        Error::invalid(format!("variable `{missing}` has no value and no default"))
                            .with_hint(format!("pass it with `--var {missing}=…`"))
                    })?;
                Ok(Rendered {
                    role: m.role.as_str(),
                    content,
                })
            })
            .collect()
    }
}

/// A version's identity: sha256 over the canonical JSON of the name and the
/// two content hashes. It leaves out the version number, time and file bytes,
/// so an unchanged draft has the digest of the version it came from.
pub(crate) fn digest(name: &Name, prompt_hash: &str, config_hash: &str) -> String {
    crate::version::canonical::hash_of(&json!({
        "name": name,
        "prompt_hash": prompt_hash,
        "config_hash": config_hash,
    }))
}

fn is_variable_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Reads files referenced from `prompt.yaml`, refusing to leave the folder.
struct Loader<'a> {
    dir: PathBuf,
    label: &'a str,
    source: &'a str,
}

impl Loader<'_> {
    /// `label/prompt.yaml:LINE` for the node at `path` (see
    /// [`crate::workspace::yaml::line_at`]).
    fn at(&self, path: &[&str]) -> String {
        match crate::workspace::yaml::line_at(self.source, path) {
            Some(line) => format!("{}/{PROMPT_FILE}:{line}", self.label),
            None => format!("{}/{PROMPT_FILE}", self.label),
        }
    }

    /// Reads the file that `field` (at `path` in `prompt.yaml`) names.
    fn read(&self, rel: &RelPath, field: &str, path: &[&str]) -> Result<Vec<u8>, Error> {
        let at = self.at(path);
        let path = self.dir.join(rel.as_str());
        let meta = std::fs::symlink_metadata(&path);
        if meta
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        {
            return Err(Error::invalid(format!(
                "`{at}`: {field}: `{}` does not exist",
                rel.as_str()
            )));
        }
        // Resolve symlinks and make sure we are still inside the folder.
        let (Ok(real), Ok(base)) = (path.canonicalize(), self.dir.canonicalize()) else {
            return Err(Error::invalid(format!(
                "`{at}`: {field}: `{}` cannot be resolved (a broken symlink?)",
                rel.as_str()
            )));
        };
        if !real.starts_with(&base) {
            return Err(Error::invalid(format!(
                "`{at}`: {field}: `{}` points outside the prompt's folder through a symlink",
                rel.as_str()
            )));
        }
        if !real.is_file() {
            return Err(Error::invalid(format!(
                "`{at}`: {field}: `{}` is not a file",
                rel.as_str()
            )));
        }
        std::fs::read(&real).map_err(|e| {
            Error::invalid(format!(
                "`{at}`: {field}: cannot read `{}`: {e}",
                rel.as_str()
            ))
        })
    }

    fn json(&self, rel: &RelPath, bytes: &[u8]) -> Result<Value, Error> {
        let bytes = crate::workspace::text::strip_bom_bytes(bytes);
        serde_json::from_slice(bytes).map_err(|e| {
            Error::invalid(format!(
                "`{}/{}:{}:{}`: invalid JSON: {}",
                self.label,
                rel.as_str(),
                e.line(),
                e.column(),
                strip_position(&e.to_string())
            ))
        })
    }
}

fn strip_position(msg: &str) -> &str {
    msg.rfind(" at line ").map_or(msg, |i| &msg[..i])
}

impl Artifact {
    /// The model's provider is one that `promptctl.yaml` defines.
    pub(crate) fn check_provider(
        &self,
        config: &crate::workspace::config::Config,
    ) -> Result<(), Error> {
        let p = &self.spec.model.provider;
        if config.providers.contains_key(p) {
            return Ok(());
        }
        let line = crate::workspace::yaml::line_at(&self.source, &["model", "provider"])
            .map(|l| format!(":{l}"))
            .unwrap_or_default();
        let mut err = Error::invalid(format!(
            "`{}/{PROMPT_FILE}{line}`: model.provider: unknown provider `{p}`",
            self.label
        ));
        let names = config.providers.keys().map(String::as_str);
        err = match crate::workspace::yaml::closest(p, names) {
            Some(best) => err.with_hint(format!("did you mean `{best}`?")),
            None => err.with_hint("providers are defined under `providers:` in `promptctl.yaml`"),
        };
        Err(err)
    }
}
