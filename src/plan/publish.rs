//! `[[publish]]`: a page of the latest run's tables, on a MediaWiki page
//! (`wiki`, the API's URL) or in a folder of a git work tree (`git`). Each
//! published analysis is also rendered in the target's format, so that the
//! page shows the very table files the trial folder keeps.

use std::path::Path;

use super::model::{Analysis, Publish, Secret, Target};
use super::syntax::{RawPlan, RawPublish, Sp};
use crate::diag::Diagnostic;

/// Where a bot password is read from when the plan names no place.
pub const PASSWORD_ENV: &str = "RUNNER_WIKI_PASSWORD";

pub fn validate(
    raw: &RawPlan,
    analyses: &mut [Analysis],
    base: &Path,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Publish> {
    let mut out: Vec<Publish> = Vec::new();
    for p in &raw.publishes {
        let Some(publish) = one(p, analyses, base, diags) else {
            continue;
        };
        if let Some(o) = out.iter().find(|o| same_place(o, &publish)) {
            let span = p.page.as_ref().map(|s| s.span.clone());
            diags.push(
                Diagnostic::new(
                    format!("two `[[publish]]` write the same page (`{}` and `{}`)", o.page, publish.page),
                    span,
                )
                .help("each would replace the other's page on every apply: give one a page of its own"),
            );
            continue;
        }
        if out.iter().any(|o| o.name == publish.name) {
            let span = p.name.as_ref().or(p.page.as_ref()).map(|s| s.span.clone());
            diags.push(
                Diagnostic::new(
                    format!("two `[[publish]]` are named `{}`", publish.name),
                    span,
                )
                .help("give one a `name` of its own"),
            );
            continue;
        }
        // The page shows the table files themselves: render them in its format.
        let format = publish.target.format();
        for a in analyses.iter_mut() {
            if publish.analyses.contains(&a.name) && !a.formats.contains(&format) {
                a.formats.push(format);
                a.templates = super::analyses::templates(&a.formats);
            }
        }
        out.push(publish);
    }
    out
}

/// Whether two publishes write one page: a wiki's titles as MediaWiki
/// reads them (`_` is a space, the first letter a capital), a file by its path.
fn same_place(a: &Publish, b: &Publish) -> bool {
    let title = |t: &str| {
        let t = t.replace('_', " ");
        let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut c = t.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect::<String>())
            .unwrap_or_default()
    };
    match (&a.target, &b.target) {
        (Target::Mediawiki { api: x, .. }, Target::Mediawiki { api: y, .. }) => {
            x == y && title(&a.page) == title(&b.page)
        }
        (Target::Git { folder: x }, Target::Git { folder: y }) => {
            x.join(&a.page) == y.join(&b.page)
        }
        _ => false,
    }
}

fn one(
    p: &RawPublish,
    analyses: &[Analysis],
    base: &Path,
    diags: &mut Vec<Diagnostic>,
) -> Option<Publish> {
    let before = diags.len();
    let page = page(p, diags);
    let target = target(p, base, diags);
    let chosen = chosen(p, analyses, diags);
    let template = p.template.as_ref().and_then(|t| template(t, base, diags));
    if let Some(s) = &p.summary {
        match crate::template::Template::new("summary", &s.value) {
            Ok(t) => names(&t, s, diags),
            Err(e) => diags.push(Diagnostic::at(format!("`summary`: {e}"), s.span.clone())),
        }
    }
    if diags.len() > before {
        return None;
    }
    let page = page?;
    Some(Publish {
        name: p
            .name
            .as_ref()
            .map_or_else(|| page.clone(), |n| n.value.clone()),
        page,
        target: target?,
        summary: p.summary.as_ref().map(|s| s.value.clone()),
        template,
        analyses: chosen,
    })
}

fn page(p: &RawPublish, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let Some(page) = &p.page else {
        diags.push(
            Diagnostic::new("a `[[publish]]` has no `page`", Some(p.span.clone()))
                .help("add `page = \"Performance/Nightly\"`: the wiki page's title, or the file's name in a `git` folder"),
        );
        return None;
    };
    let v = page.value.trim();
    let bad = v.is_empty()
        || v.chars().any(char::is_control)
        || if p.git.is_some() {
            v.starts_with('/')
                || v.split('/').any(|part| {
                    part.is_empty() || part == ".." || part.eq_ignore_ascii_case(".git")
                })
        } else {
            // Not in a MediaWiki title (`#` would cut it to its first part).
            v.contains(['#', '<', '>', '[', ']', '|', '{', '}'])
        };
    if bad {
        diags.push(
            Diagnostic::at(format!("`page = {:?}` cannot be a page", page.value), page.span.clone())
                .help("a wiki page's title (none of `# < > [ ] | { }`), or a file name (without `.md`) inside the `git` folder (no `..` or `.git` part, not absolute); no control characters"),
        );
        return None;
    }
    Some(v.to_string())
}

fn target(p: &RawPublish, base: &Path, diags: &mut Vec<Diagnostic>) -> Option<Target> {
    let wiki_only: [(&str, Option<std::ops::Range<usize>>); 5] = [
        ("user", p.user.as_ref().map(|s| s.span.clone())),
        (
            "password_env",
            p.password_env.as_ref().map(|s| s.span.clone()),
        ),
        (
            "password_file",
            p.password_file.as_ref().map(|s| s.span.clone()),
        ),
        ("section", p.section.as_ref().map(|s| s.span.clone())),
        ("overwrite", p.overwrite.as_ref().map(|s| s.span.clone())),
    ];
    match (&p.wiki, &p.git) {
        (Some(w), None) => wiki(p, w, diags),
        (None, Some(g)) => {
            for (key, span) in wiki_only {
                if let Some(span) = span {
                    let help = match key {
                        "section" => "a git target's page is a file of its own: remove `section`",
                        "overwrite" => {
                            "a git target's file is committed over, its history kept: remove `overwrite`"
                        }
                        _ => "a git folder is committed to as the repository's own user: no login",
                    };
                    diags.push(
                        Diagnostic::at(format!("`{key}` is for a `wiki` target, not `git`"), span)
                            .help(help),
                    );
                }
            }
            let folder = super::values::expand_home(&g.value);
            Some(Target::Git {
                folder: if folder.is_absolute() {
                    folder
                } else {
                    base.join(folder)
                },
            })
        }
        (Some(_), Some(g)) => {
            diags.push(
                Diagnostic::at("a `[[publish]]` has both `wiki` and `git`", g.span.clone())
                    .help("one target each: write a second `[[publish]]` for the other"),
            );
            None
        }
        (None, None) => {
            diags.push(
                Diagnostic::new("a `[[publish]]` has no target", Some(p.span.clone())).help(
                    "add `wiki = \"https://wiki.example.org/w/api.php\"` (MediaWiki's API) or `git = \"../project.wiki\"` (a folder of a git clone)",
                ),
            );
            None
        }
    }
}

fn wiki(p: &RawPublish, w: &Sp<String>, diags: &mut Vec<Diagnostic>) -> Option<Target> {
    let api = w.value.trim();
    let authority = api
        .split_once("://")
        .map_or("", |(_, rest)| rest.split('/').next().unwrap_or(""));
    let host_ok = match authority.rsplit_once(':') {
        _ if authority.starts_with('[') => authority.contains(']'),
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0),
        None => !authority.is_empty(),
    };
    if !(api.starts_with("http://") || api.starts_with("https://"))
        || !api.ends_with(".php")
        || !host_ok
    {
        diags.push(
            Diagnostic::at(format!("`wiki = {:?}` is not a MediaWiki API URL", w.value), w.span.clone())
                .help("the wiki's `api.php`, as its Special:Version page lists it: `https://wiki.example.org/w/api.php`"),
        );
        return None;
    }
    let Some(user) = &p.user else {
        diags.push(
            Diagnostic::new("a `[[publish]]` to a wiki has no `user`", Some(p.span.clone())).help(
                "the bot password's user name, as Special:BotPasswords shows it: `user = \"Perfbot@runner\"`",
            ),
        );
        return None;
    };
    let secret = match (&p.password_env, &p.password_file) {
        (Some(_), Some(f)) => {
            diags.push(
                Diagnostic::at(
                    "`password_env` and `password_file` are both given",
                    f.span.clone(),
                )
                .help("name one place the bot password is read from"),
            );
            return None;
        }
        (Some(e), None) if e.value.is_empty() || e.value.contains(['=', '\0']) => {
            diags.push(
                Diagnostic::at(
                    format!("`password_env = {:?}` is not a variable's name", e.value),
                    e.span.clone(),
                )
                .help(format!(
                    "the environment variable that holds the bot password (default {PASSWORD_ENV})"
                )),
            );
            return None;
        }
        (Some(e), None) => Secret::Env(e.value.clone()),
        (None, Some(f)) if f.value.trim().is_empty() => {
            diags.push(
                Diagnostic::at("`password_file` is empty", f.span.clone())
                    .help("the path of a file that holds the bot password on its first line"),
            );
            return None;
        }
        (None, Some(f)) => Secret::File(super::values::expand_home(&f.value)),
        (None, None) => Secret::Env(PASSWORD_ENV.to_string()),
    };
    let section = match &p.section {
        Some(s) if !(0..=10_000).contains(&s.value) => {
            diags.push(
                Diagnostic::at(format!("`section = {}` is not a section", s.value), s.span.clone())
                    .help("a section's number on the page: 0 is the text before the first heading, 1 the first section"),
            );
            return None;
        }
        s => s.as_ref().map(|s| s.value as u32),
    };
    Some(Target::Mediawiki {
        api: api.to_string(),
        user: user.value.clone(),
        secret,
        section,
        overwrite: p.overwrite.as_ref().is_some_and(|o| o.value),
    })
}

/// The analyses the page shows: those named, else every one.
fn chosen(p: &RawPublish, analyses: &[Analysis], diags: &mut Vec<Diagnostic>) -> Vec<String> {
    let names: Vec<&str> = analyses.iter().map(|a| a.name.as_str()).collect();
    if analyses.is_empty() {
        diags.push(
            Diagnostic::new(
                "a `[[publish]]` in a plan without `[[analyze]]`",
                Some(p.span.clone()),
            )
            .help("a page is made of the analyses' tables: add an `[[analyze]]`"),
        );
        return Vec::new();
    }
    let Some(list) = &p.analyses else {
        return names.iter().map(|n| n.to_string()).collect();
    };
    for (i, n) in list.value.iter().enumerate() {
        if !names.contains(&n.value.as_str()) {
            diags.push(super::values::unknown(
                "analysis",
                &n.value,
                n.span.clone(),
                &names,
            ));
        } else if list.value[..i].iter().any(|m| m.value == n.value) {
            diags.push(
                Diagnostic::at(
                    format!("analysis `{}` is listed twice", n.value),
                    n.span.clone(),
                )
                .help("a page shows each analysis' tables once"),
            );
        }
    }
    // In the order listed, each once.
    let mut out: Vec<String> = Vec::new();
    for l in &list.value {
        if names.contains(&l.value.as_str()) && !out.contains(&l.value) {
            out.push(l.value.clone());
        }
    }
    out
}

/// The project's page template, read and parsed now.
fn template(t: &Sp<String>, base: &Path, diags: &mut Vec<Diagnostic>) -> Option<(String, String)> {
    let path = base.join(super::values::expand_home(&t.value));
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            diags.push(
                Diagnostic::at(
                    format!("template {}: {e}", crate::paths::shown(&path)),
                    t.span.clone(),
                )
                .help("a page template (minijinja) relative to the folder runner runs in"),
            );
            return None;
        }
    };
    match crate::template::Template::new(&t.value, &text) {
        Ok(template) => names(&template, t, diags),
        Err(e) => {
            diags.push(Diagnostic::at(e, t.span.clone()));
            return None;
        }
    }
    Some((t.value.clone(), text))
}

/// What a page's template and its summary see (`run.…`, `tables[…].…`:
/// their fields; `publish::page` gives them, and its tests hold it to these).
pub const NAMES: [&str; 6] = ["plan", "run", "tables", "section", "heading", "format"];
pub const RUN_FIELDS: [&str; 6] = ["kind", "id", "label", "status", "checks", "folder"];
pub const TABLE_FIELDS: [&str; 4] = ["analysis", "name", "text", "file"];

/// The template rendered on a page of the same shape: a misspelt field in
/// a loop, an unknown filter, are said now, not after the trial.
fn rehearsed(t: &crate::template::Template, at: &Sp<String>, diags: &mut Vec<Diagnostic>) {
    let field = |n: &str| (n.to_string(), serde_json::Value::from(format!("<{n}>")));
    let run: serde_json::Map<_, _> = RUN_FIELDS.iter().map(|n| field(n)).collect();
    let table: serde_json::Map<_, _> = TABLE_FIELDS.iter().map(|n| field(n)).collect();
    for (section, heading) in [(Some(1), "==="), (None, "==")] {
        let sample = serde_json::json!({
            "plan": "plan",
            "run": run,
            "tables": [table],
            "section": section,
            "heading": heading,
            "format": "wiki",
        });
        if let Err(e) = t.render(&crate::template::value(&sample)) {
            diags.push(seen(at, format!("`{}` cannot make a page: {e}", at.value)));
            return;
        }
    }
}

/// A template's problem, with what a page's templates see.
fn seen(at: &Sp<String>, message: String) -> Diagnostic {
    let list = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Diagnostic::at(message, at.span.clone()).help(format!(
        "a page's template and summary see {}; `run` has {}; each of `tables` has {}",
        list(&NAMES),
        list(&RUN_FIELDS),
        list(&TABLE_FIELDS)
    ))
}

/// Every name a template reads is one it is given: a typo is said now,
/// not after the trial has run.
fn names(t: &crate::template::Template, at: &Sp<String>, diags: &mut Vec<Diagnostic>) {
    let mut refs: Vec<String> = t.references().into_iter().collect();
    refs.sort();
    for r in refs {
        let mut parts = r.split('.');
        let root = parts.next().unwrap_or("");
        let field = parts.next();
        let known = NAMES.contains(&root)
            && (root != "run" || field.is_none_or(|f| RUN_FIELDS.contains(&f)));
        if !known {
            diags.push(seen(
                at,
                format!("`{}` reads `{r}`, which a page does not have", at.value),
            ));
            // Said once, by name: the rehearsal would say it again.
            return;
        }
    }
    rehearsed(t, at, diags);
}
