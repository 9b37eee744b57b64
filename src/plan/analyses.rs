//! `[[analyze]]` sections, validated: a parser, globs, rows (`by`), formats.

use super::model::{Analysis, By};
use super::syntax::{RawAnalysis, RawPlan, Sp};
use super::values::{self, check_name};
use crate::diag::Diagnostic;
use crate::kinds::{Format, Merge, ParserKind};

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
        let merge = keyed(a, name, parser, diags);
        if let Some(parser) = parser {
            out.push(Analysis {
                name: name.value.clone(),
                parser,
                files,
                by,
                formats,
                unit: a
                    .unit
                    .as_ref()
                    .map_or_else(|| "ns".to_string(), |u| u.value.clone()),
                tag: a
                    .tag
                    .as_ref()
                    .map_or_else(|| "each".to_string(), |t| t.value.clone()),
                columns: a.columns.iter().map(|c| c.value.clone()).collect(),
                key: a.key.iter().map(|k| k.value.clone()).collect(),
                merge,
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
            .help("add `parser = \"hdr\"` (or iperf3, iperf2, dstat, csv)"),
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

/// `key` and `merge` (csv summaries): only for the csv parser; a merge
/// needs a key; each rule one of the merge kinds.
fn keyed(
    a: &RawAnalysis,
    name: &Sp<String>,
    parser: Option<ParserKind>,
    diags: &mut Vec<Diagnostic>,
) -> std::collections::BTreeMap<String, Merge> {
    let csv = parser.is_none_or(|p| p == ParserKind::Csv);
    if let Some(k) = a.key.first().filter(|_| !csv) {
        diags.push(
            Diagnostic::at(
                format!("analysis `{}`: `key` is for the csv parser", name.value),
                k.span.clone(),
            )
            .help("remove it; other parsers know their rows"),
        );
    }
    if let Some(span) = a.merge_span.clone().filter(|_| a.key.is_empty()) {
        diags.push(
            Diagnostic::at(
                format!("analysis `{}`: `merge` without `key`", name.value),
                span,
            )
            .help("merge rules say how rows of one key combine: add `key = [\"test\"]` (the column that tells rows apart)"),
        );
    }
    let mut rules = std::collections::BTreeMap::new();
    for (col, rule) in &a.merge {
        match Merge::parse(&rule.value) {
            Some(m) => {
                rules.insert(col.value.clone(), m);
            }
            None => diags.push(values::unknown(
                "merge rule",
                &rule.value,
                rule.span.clone(),
                &Merge::names(),
            )),
        }
    }
    rules
}
