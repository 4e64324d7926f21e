//! A strict `{{name}}` template engine.
//!
//! Chosen over minijinja because prompts need exactly one construct, and a
//! small single-pass renderer gives three guarantees cheaply: a placeholder
//! that is not a plain name is a syntax error (no silent Jinja subset), an
//! undefined variable is an error naming it, and values are inserted literally
//! in one pass, so a value containing `{{x}}` is never expanded again.
//! `\{{` writes a literal `{{`.

use serde::Serialize;

/// One parsed piece of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Segment {
    Text(String),
    Var(String),
}

/// A parsed template; its segments are the "rendered structure" that
/// `prompt_hash` covers, so `{{ x }}` and `{{x}}` hash alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub(crate) struct Template {
    segments: Vec<Segment>,
}

/// A syntax error at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl Template {
    pub(crate) fn parse(text: &str) -> Result<Template, SyntaxError> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(i) = rest.find("{{") {
            if rest[..i].ends_with('\\') {
                literal.push_str(&rest[..i - 1]);
                literal.push_str("{{");
                rest = &rest[i + 2..];
                continue;
            }
            literal.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let offset = text.len() - rest.len() + i;
            let Some(end) = after.find("}}") else {
                return Err(error_at(
                    text,
                    offset,
                    "`{{` is never closed by `}}`".into(),
                ));
            };
            let name = after[..end].trim();
            if !is_identifier(name) {
                return Err(error_at(
                    text,
                    offset,
                    format!(
                        "invalid placeholder `{{{{{}}}}}`: a placeholder is a variable name \
                         (letters, digits, `_`); write `\\{{{{` for a literal `{{{{`",
                        &after[..end]
                    ),
                ));
            }
            if !literal.is_empty() {
                segments.push(Segment::Text(std::mem::take(&mut literal)));
            }
            segments.push(Segment::Var(name.to_string()));
            rest = &after[end + 2..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            segments.push(Segment::Text(literal));
        }
        Ok(Template { segments })
    }

    /// The variable names used, in order of first use.
    pub(crate) fn variables(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for s in &self.segments {
            if let Segment::Var(n) = s
                && !names.contains(&n.as_str())
            {
                names.push(n);
            }
        }
        names
    }

    /// Renders with `lookup`; the first name it cannot answer is the error.
    pub(crate) fn render<'a>(
        &self,
        lookup: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<String, String> {
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Text(t) => out.push_str(t),
                Segment::Var(n) => out.push_str(lookup(n).ok_or_else(|| n.clone())?),
            }
        }
        Ok(out)
    }

    /// The text with placeholders written back as `{{name}}`.
    pub(crate) fn source_form(&self) -> String {
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Text(t) => out.push_str(t),
                Segment::Var(n) => {
                    out.push_str("{{");
                    out.push_str(n);
                    out.push_str("}}");
                }
            }
        }
        out
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn error_at(text: &str, offset: usize, message: String) -> SyntaxError {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    SyntaxError {
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &str, vars: &[(&str, &str)]) -> Result<String, String> {
        Template::parse(t)
            .unwrap()
            .render(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| *v))
    }

    #[test]
    fn renders_and_trims_inside_braces() {
        assert_eq!(
            render("Hi {{ name }}, {{name}}!", &[("name", "Ana")]).unwrap(),
            "Hi Ana, Ana!"
        );
    }

    #[test]
    fn values_are_inserted_literally() {
        assert_eq!(
            render("Q: {{q}}", &[("q", "{{x}}"), ("x", "boom")]).unwrap(),
            "Q: {{x}}"
        );
    }

    #[test]
    fn undefined_variable_is_an_error_naming_it() {
        assert_eq!(render("{{a}} {{b}}", &[("a", "1")]), Err("b".to_string()));
    }

    #[test]
    fn escaped_braces_are_literal() {
        assert_eq!(render(r"a \{{b}} c", &[]).unwrap(), "a {{b}} c");
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = Template::parse("line one\nsay {{ user.name }}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 5));
        let e = Template::parse("{{open").unwrap_err();
        assert!(e.message.contains("never closed"));
    }

    #[test]
    fn variables_in_order_of_first_use() {
        let t = Template::parse("{{b}} {{a}} {{b}}").unwrap();
        assert_eq!(t.variables(), vec!["b", "a"]);
    }

    #[test]
    fn whitespace_inside_braces_does_not_change_structure() {
        assert_eq!(
            Template::parse("{{ x }}").unwrap(),
            Template::parse("{{x}}").unwrap()
        );
    }
}
