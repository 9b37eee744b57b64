//! `[[analyze]]` sections, validated: a parser, globs, rows (`by`),
//! formats, and the parser's options as its declaration takes them.

use super::model::{Analysis, By};
use super::syntax::{ANALYZE_KEYS, RawAnalysis, RawPlan, Sp};
use super::values::{self, check_name};
use crate::analyze::{Options, ParserKind};
use crate::diag::Diagnostic;
use crate::kinds::Format;

pub fn validate_analyses(raw: &RawPlan, diags: &mut Vec<Diagnostic>) -> Vec<Analysis> {
    let mut out: Vec<Analysis> = Vec::new();
    for a in &raw.analyses {
        let head = a.span.start..a.span.start;
        let Some(name) = &a.name else {
            diags.push(Diagnostic::at("an `[[analyze]]` has no `name`", head).help(
                "add `name = \"throughput\"`; the tables are written as analysis/<name>.<format>",
            ));
            continue;
        };
        check_name(name, "analysis name", diags);
        if out.iter().any(|o| o.name == name.value) {
            diags.push(Diagnostic::at(
                format!("analysis `{}` is defined twice", name.value),
                name.span.clone(),
            ));
        }
        let parser = parser(a, name, diags);
        let files = files(a, name, diags);
        let by = by(a, diags);
        let formats = formats(a, diags);
        if let Some(parser) = parser {
            let options = options(a, name, parser, diags);
            out.push(Analysis {
                name: name.value.clone(),
                parser,
                files,
                by,
                formats,
                options,
            });
        }
    }
    out
}

fn parser(a: &RawAnalysis, name: &Sp<String>, diags: &mut Vec<Diagnostic>) -> Option<ParserKind> {
    let Some(p) = &a.parser else {
        diags.push(
            Diagnostic::at(
                format!("analysis `{}` has no `parser`", name.value),
                name.span.clone(),
            )
            .help(format!(
                "add `parser = \"hdr\"`; parsers are {}",
                ParserKind::names().join(", ")
            )),
        );
        return None;
    };
    let kind = ParserKind::parse(&p.value);
    if kind.is_none() {
        diags.push(values::unknown(
            "parser",
            &p.value,
            p.span.clone(),
            &ParserKind::names(),
        ));
    }
    kind
}

fn files(a: &RawAnalysis, name: &Sp<String>, diags: &mut Vec<Diagnostic>) -> Vec<String> {
    let Some(f) = &a.files else {
        diags.push(
            Diagnostic::at(
                format!("analysis `{}` has no `files`", name.value),
                name.span.clone(),
            )
            .help("add `files = \"*/tcp/stdout\"` (globs relative to the trial directory: <host>/<test>/…)"),
        );
        return Vec::new();
    };
    if f.value.is_empty() {
        diags.push(Diagnostic::at(
            format!("analysis `{}` names no files", name.value),
            f.span.clone(),
        ));
        return Vec::new();
    }
    for g in &f.value {
        if let Err(e) = crate::glob::glob_set(std::slice::from_ref(&g.value)) {
            diags.push(
                Diagnostic::at(e.to_string(), g.span.clone()).help(
                    "globs take `*`, `?`, `[abc]` within a path component and `**` across them",
                ),
            );
        }
    }
    f.value.iter().map(|g| g.value.clone()).collect()
}

fn by(a: &RawAnalysis, diags: &mut Vec<Diagnostic>) -> Vec<By> {
    let mut by = Vec::new();
    for b in &a.by {
        match b.value.as_str() {
            "test" => by.push(By::Test),
            "host" => by.push(By::Host),
            "file" => by.push(By::File),
            other => {
                let d = Diagnostic::at(format!("unknown `by` value `{other}`"), b.span.clone())
                    .help("expected `test`, `host` or `file`");
                diags.push(d.suggest(other, ["test", "host", "file"]));
            }
        }
    }
    by
}

/// Default: CSV, Markdown and Mediawiki.
fn formats(a: &RawAnalysis, diags: &mut Vec<Diagnostic>) -> Vec<Format> {
    let Some(list) = &a.formats else {
        return vec![Format::Csv, Format::Markdown, Format::Mediawiki];
    };
    let mut formats = Vec::new();
    for f in &list.value {
        match Format::parse(&f.value) {
            Some(x) => formats.push(x),
            None => diags.push(values::unknown(
                "format",
                &f.value,
                f.span.clone(),
                &Format::names(),
            )),
        }
    }
    formats
}

/// The keys that are not the analysis's own: the parser's options, each
/// of the shape it declares, then checked by the parser itself.
fn options(
    a: &RawAnalysis,
    name: &Sp<String>,
    parser: ParserKind,
    diags: &mut Vec<Diagnostic>,
) -> Options {
    let mut opts = Options::default();
    let mut spans = std::collections::HashMap::new();
    for (key, value) in &a.options {
        let Some(decl) = parser.option(&key.value) else {
            diags.push(not_an_option(&key.value, key.span.clone(), name, parser));
            continue;
        };
        match decl.kind.of_json(&value.value) {
            Some(v) => {
                opts.values.insert(key.value.clone(), v);
                spans.insert(key.value.clone(), value.span.clone());
            }
            None => diags.push(
                Diagnostic::at(
                    format!(
                        "`{}` of analysis `{}` must be {}",
                        key.value,
                        name.value,
                        decl.kind.shown()
                    ),
                    value.span.clone(),
                )
                .help(decl.help),
            ),
        }
    }
    for r in parser.parser().check(&opts) {
        let span = spans
            .get(&r.option)
            .cloned()
            .unwrap_or_else(|| name.span.clone());
        diags.push(
            Diagnostic::at(format!("analysis `{}`: {}", name.value, r.message), span).help(r.help),
        );
    }
    opts
}

/// A key that is neither the analysis's own nor an option of its parser:
/// named as another parser's option if it is one, else a typo.
fn not_an_option(
    key: &str,
    span: std::ops::Range<usize>,
    name: &Sp<String>,
    parser: ParserKind,
) -> Diagnostic {
    let own: Vec<&str> = parser.decl().options.iter().map(|o| o.name).collect();
    let takes = if own.is_empty() {
        format!("parser `{}` takes no options", parser.name())
    } else {
        format!(
            "parser `{}` takes {}",
            parser.name(),
            own.iter()
                .map(|o| format!("`{o}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let elsewhere: Vec<&str> = ParserKind::all()
        .filter(|p| p.option(key).is_some())
        .map(ParserKind::name)
        .collect();
    if !elsewhere.is_empty() {
        return Diagnostic::at(
            format!(
                "analysis `{}`: `{key}` is an option of {}, not of `{}`",
                name.value,
                elsewhere
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                parser.name()
            ),
            span,
        )
        .help(format!("remove it; {takes}"));
    }
    let typo =
        crate::diag::did_you_mean(key, ANALYZE_KEYS.iter().copied().chain(own.iter().copied()))
            .map_or(String::new(), |d| format!("{d} "));
    Diagnostic::at(
        format!("unknown key `{key}` in analysis `{}`", name.value),
        span,
    )
    .help(format!(
        "{typo}an analysis has {}; {takes}",
        ANALYZE_KEYS
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}
