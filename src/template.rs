//! minijinja rendering with undefined names as errors, never empty strings.

use minijinja::{Environment, UndefinedBehavior, Value, syntax::SyntaxConfig};

/// Renders `text` (named `name` in errors) with `context`. The error names the
/// template, the line, and what was undefined or malformed.
pub fn render(name: &str, text: &str, context: &serde_json::Value) -> Result<String, String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let syntax = SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
        .map_err(|e| e.to_string())?;
    env.set_syntax(syntax);
    env.add_template(name, text)
        .map_err(|e| describe(name, &e))?;
    let tmpl = env.get_template(name).map_err(|e| describe(name, &e))?;
    tmpl.render(Value::from(minijinja::value::Serde(context)))
        .map_err(|e| describe(name, &e))
}

fn describe(name: &str, e: &minijinja::Error) -> String {
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
    }
}
