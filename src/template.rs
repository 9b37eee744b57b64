//! minijinja, as every template of runner is rendered: a plan's `run`
//! commands and template files, the tables' Markdown/Mediawiki/Trac
//! templates, the HTML report. One environment: undefined names are
//! errors, never empty strings; a template's trailing newline is kept;
//! runner's own HTML templates (`runner/….html`) escape HTML
//! (auto-escaping; a plan's templates are the user's and stay as
//! written); `cell`, `wiki` and `trac` make text literal in a Markdown,
//! MediaWiki or Trac table (crate::markup). A plan's template is parsed once and
//! rendered per host with a context whose shared parts (`groups`, `vars`)
//! are reference-counted, not copied.

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, syntax::SyntaxConfig};

/// The environment every template is rendered in.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    if let Ok(syntax) = SyntaxConfig::builder().keep_trailing_newline(true).build() {
        env.set_syntax(syntax);
    }
    env.set_auto_escape_callback(|name| {
        if name.starts_with("runner/") && name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    // Table text made literal for each engine (crate::markup).
    env.add_filter("cell", |s: String| crate::markup::markdown(&s));
    env.add_filter("wiki", |s: String| crate::markup::mediawiki(&s));
    env.add_filter("trac", |s: String| crate::markup::trac(&s));
    env
}

pub struct Template {
    env: Environment<'static>,
    name: String,
}

impl Template {
    /// Parses `text`, named `name` in errors.
    pub fn new(name: &str, text: &str) -> Result<Self, String> {
        let mut env = environment();
        env.add_template_owned(name.to_string(), text.to_string())
            .map_err(|e| describe(name, &e))?;
        Ok(Template {
            env,
            name: name.to_string(),
        })
    }

    /// The names the template reads and does not set itself, dotted
    /// (`vars.streams`, `host.name`).
    pub fn references(&self) -> std::collections::HashSet<String> {
        self.env
            .get_template(&self.name)
            .map(|t| t.undeclared_variables(true))
            .unwrap_or_default()
    }

    pub fn render(&self, context: &Value) -> Result<String, String> {
        let tmpl = self
            .env
            .get_template(&self.name)
            .map_err(|e| describe(&self.name, &e))?;
        tmpl.render(context).map_err(|e| describe(&self.name, &e))
    }
}

/// A template value from anything serde serializes.
pub fn value<T: serde::Serialize>(x: &T) -> Value {
    Value::from(minijinja::value::Serde(x))
}

/// Whether `text` has template syntax at all (plain text renders to itself).
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// Renders `text` once with a JSON context.
#[cfg(test)]
pub fn render(name: &str, text: &str, context: &serde_json::Value) -> Result<String, String> {
    Template::new(name, text)?.render(&value(context))
}

/// A minijinja error as `name:line: what`.
pub fn describe(name: &str, e: &minijinja::Error) -> String {
    let line = e.line().map_or(String::new(), |l| format!(":{l}"));
    let detail = e
        .detail()
        .map_or_else(|| e.kind().to_string(), str::to_string);
    format!("{name}{line}: {detail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_rejects_undefined() {
        let ctx = serde_json::json!({"host": {"name": "a[0]"}, "vars": {"n": 3}});
        assert_eq!(
            render("t", "{{ host.name }} {{ vars.n }}\n", &ctx).unwrap(),
            "a[0] 3\n"
        );
        let err = render("t.j2", "ok\n{{ hots.name }}\n", &ctx).unwrap_err();
        assert!(err.starts_with("t.j2:2: "), "{err}");
        assert!(err.contains("hots"), "{err}");
        assert_eq!(render("t", r#"{{ "{{" }} x"#, &ctx).unwrap(), "{{ x");
    }
}
