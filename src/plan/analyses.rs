//! `[[analyze]]` sections, validated: a parser, globs, rows (`by`),
//! formats, and the parser's options as its declaration takes them.

use super::model::{Analysis, By, Scale, Shown, Wide, WideStatistic};
use super::syntax::{ANALYZE_KEYS, RawAnalysis, RawPlan, RawWide, Sp};
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
        let shown = shown(a, diags);
        if let Some(parser) = parser {
            let options = options(a, name, parser, diags);
            out.push(Analysis {
                name: name.value.clone(),
                parser,
                files,
                templates: templates(&formats),
                by,
                formats,
                options,
                shown,
            });
        }
    }
    out
}

/// The project's own templates for these formats, as they are now.
pub(super) fn templates(formats: &[Format]) -> Vec<(String, String)> {
    formats
        .iter()
        .filter_map(|f| f.template_name())
        .filter_map(|name| {
            let path = std::path::Path::new(crate::paths::TABLE_TEMPLATES).join(name);
            let text = std::fs::read_to_string(path).ok()?;
            Some((name.to_string(), text))
        })
        .collect()
}

/// `x`, `scale` and `wide`: how a series shows the analysis.
fn shown(a: &RawAnalysis, diags: &mut Vec<Diagnostic>) -> Shown {
    let scale = match a.scale.as_ref().map(|s| (s.value.as_str(), s)) {
        None | Some(("auto", _)) => Scale::Auto,
        Some(("log", _)) => Scale::Log,
        Some(("linear", _)) => Scale::Linear,
        Some((other, s)) => {
            diags.push(values::unknown(
                "scale",
                other,
                s.span.clone(),
                &["auto", "log", "linear"],
            ));
            Scale::Auto
        }
    };
    Shown {
        x: a.x.as_ref().map(|x| x.value.clone()),
        scale,
        wide: a.wide.as_ref().and_then(|w| wide(w, diags)),
    }
}

fn wide(w: &RawWide, diags: &mut Vec<Diagnostic>) -> Option<Wide> {
    let Some(figures) = w.figures.as_ref().filter(|f| !f.value.is_empty()) else {
        diags.push(
            Diagnostic::at("`wide` names no `figures`", w.span.clone()).help(
                "add `figures = [\"tps\", \"p50\", \"p99\"]`: a column each, a row per point",
            ),
        );
        return None;
    };
    if let Some(u) = &w.unit
        && crate::units::unit(&u.value).is_none()
    {
        diags.push(
            Diagnostic::at(format!("`wide` unit `{}` is not a unit runner converts", u.value), u.span.clone())
                .help("a time (ns, us, ms, s), a size (bytes, KB, MB, GB, KiB, MiB, GiB), a rate (bit/s, Mbit/s, Gbit/s) or a throughput (1/s)"),
        );
    }
    let statistic = match w.statistic.as_ref().map(|s| (s.value.as_str(), s)) {
        None | Some(("mean", _)) => WideStatistic::Mean,
        Some(("median", _)) => WideStatistic::Median,
        Some((other, s)) => {
            diags.push(values::unknown(
                "statistic",
                other,
                s.span.clone(),
                &["mean", "median"],
            ));
            WideStatistic::Mean
        }
    };
    Some(Wide {
        figures: figures.value.iter().map(|f| f.value.clone()).collect(),
        unit: w.unit.as_ref().map(|u| u.value.clone()),
        statistic,
    })
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
