//! `promptctl new`: a draft prompt with the five recommended sections.

use super::context::Context;
use crate::error::Error;
use crate::workspace::config::ProviderType;
use crate::workspace::name::Name;

/// Create a new draft prompt
///
/// Writes `prompts/<NAME>/prompt.yaml` and a `system.md` with the five
/// sections lint looks for: identity & role, behaviour, capabilities &
/// limits, output format, safety & escalation. `prompt.yaml` starts with a
/// `yaml-language-server` line naming `schemas/prompt.schema.json`, so
/// editors complete and check it.
///
/// Example:
///   promptctl new refund_helper --description "Answers refund questions"
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// The prompt's name: `[a-z0-9][a-z0-9_-]{0,63}`
    #[arg(value_parser = super::args::prompt_name)]
    name: Name,
    /// A one-line description
    #[arg(long, default_value = "TODO: what this prompt is for")]
    description: String,
}

const SYSTEM: &str = "\
## Identity & role

You are … (who the assistant is, for whom, in which product).

## Behaviour

- How to answer: tone, length, when to ask a clarifying question.

## Capabilities & limits

- What you can help with.
- What you cannot do (and must not pretend to do).

## Output format

- The shape of every answer.

## Safety & escalation

- When to refuse, and how.
- When to hand over to a human, and how to say so.
";

pub(super) fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let ws = ctx.workspace()?;
    let dir = ws.prompt_dir(&args.name);
    if dir.exists() {
        return Err(
            Error::invalid(format!("`{}` already exists", ws.prompt_label(&args.name)))
                .with_hint(format!(
                    "edit it, or see it with `promptctl show {}`",
                    args.name
                ))
                .into(),
        );
    }
    let (provider, model) = pick_model(&ws.config);
    let kind = crate::workspace::schema::find("prompt").expect("there is a prompt schema");
    let prompt = format!(
        "{modeline}\
         name: {name}\n\
         description: {description}\n\
         owners: {{ eng: TODO }}\n\
         model: {{ provider: {provider}, name: {model}, temperature: 0, max_tokens: 400 }}\n\
         messages:\n  \
           - {{ role: system, file: system.md }}\n  \
           - {{ role: user, template: \"{{{{input}}}}\" }}\n\
         variables:\n  \
           input: {{ type: string, required: true, max_length: 4000 }}\n\
         limitations: []\n",
        modeline = kind.modeline("../../"),
        name = args.name,
        description = serde_json::to_string(&args.description)?,
    );
    crate::workspace::fsio::write_new(&dir.join("prompt.yaml"), prompt.as_bytes())?;
    crate::workspace::fsio::write_new(&dir.join("system.md"), SYSTEM.as_bytes())?;
    let label = ws.prompt_label(&args.name);
    let schema = ws
        .root
        .join(crate::workspace::schema::DIR)
        .join(kind.file_name());
    if !schema.is_file() && !ctx.printer.json {
        ctx.printer.status(&format!(
            "editors find `prompt.yaml`'s schema in `{}/{}`, which this workspace lacks: \
             write it with `promptctl schema --write {}`",
            crate::workspace::schema::DIR,
            kind.file_name(),
            crate::workspace::schema::DIR
        ));
    }
    if ctx.printer.json {
        ctx.printer
            .json(&serde_json::json!({ "name": args.name, "dir": label }));
    } else {
        ctx.printer.status(&format!(
            "created `{label}/prompt.yaml` and `{label}/system.md`"
        ));
    }
    Ok(())
}

/// The provider for a new prompt: `openai` if defined, else the first one.
fn pick_model(config: &crate::workspace::config::Config) -> (String, &'static str) {
    let chosen = config
        .providers
        .get_key_value("openai")
        .or_else(|| config.providers.iter().next());
    match chosen {
        Some((name, p)) => {
            let model = match p.kind {
                ProviderType::Anthropic => "claude-sonnet-4-5",
                ProviderType::Gemini => "gemini-2.5-flash",
                ProviderType::Echo | ProviderType::Replay => "echo",
                ProviderType::Openai | ProviderType::AzureOpenai => "gpt-4o-mini",
            };
            (name.clone(), model)
        }
        None => ("openai".into(), "gpt-4o-mini"),
    }
}
