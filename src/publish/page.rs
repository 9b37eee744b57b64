//! A publish's page: its template (runner's, `publish/page.<ext>.j2`, or
//! the plan's `template`) over the latest run — what it is, its status
//! and checks — and the table files its analyses wrote in the target's
//! format, as they are (each with the notes that say where it came from).
//! The same run always makes the same page: its hash says whether it
//! changed.

use std::path::{Path, PathBuf};

use minijinja::context;

use super::{Error, Result};
use crate::plan::Plan;
use crate::plan::model::{Format, Publish, Target};

/// The run a page shows: the plan's latest trial, or its latest series.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: String,
    pub dir: PathBuf,
    pub series: bool,
}

impl Run {
    /// The plan's latest run the state records (its series, if the plan
    /// has one), in `trials` (the plan's trials folder).
    pub fn latest(series: bool, state: &crate::state::State, trials: &Path) -> Option<Run> {
        let id = state.latest_run(series)?.to_string();
        Some(Run {
            dir: trials.join(&id),
            id,
            series,
        })
    }
}

/// A page made: its text, its content hash, the edit summary.
#[derive(Debug, Clone)]
pub struct Page {
    pub text: String,
    pub hash: String,
    pub summary: String,
}

/// `p`'s page of `run`.
pub fn render(plan: &Plan, p: &Publish, run: &Run) -> Result<Page> {
    let format = p.target.format();
    let section = match &p.target {
        Target::Mediawiki { section, .. } => *section,
        Target::Git { .. } => None,
    };
    let about = about(plan, run)?;
    let tables = tables(p, run, format)?;
    let (name, text) = match &p.template {
        Some((name, text)) => (name.as_str(), text.as_str()),
        None if format == Format::Mediawiki => {
            ("page.wiki.j2", include_str!("../../publish/page.wiki.j2"))
        }
        None => ("page.md.j2", include_str!("../../publish/page.md.j2")),
    };
    let context = context! {
        plan => &plan.name,
        run => crate::template::value(&about),
        tables => crate::template::value(&tables),
        section => section,
        // Inside a section the tables are its subsections; before the first
        // heading (section 0) a heading would begin a section of its own.
        heading => match section {
            None => "==",
            Some(0) => "",
            Some(_) => "===",
        },
        format => format.extension(),
    };
    let template = crate::template::Template::new(name, text).map_err(Error::new)?;
    let mut text = template.render(&context).map_err(Error::new)?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let summary = match &p.summary {
        Some(s) => crate::template::Template::new("summary", s)
            .and_then(|t| t.render(&context))
            .map_err(|e| Error::new(format!("`summary`: {e}")))?,
        None => format!(
            "runner: {} {} of plan {}",
            about.kind, about.label, plan.name
        ),
    };
    // What the page says: a new summary alone is no new page.
    let hash = crate::hash::Hasher::default()
        .part("page", text.as_bytes())
        .finish();
    Ok(Page {
        text,
        hash,
        summary: summary.trim().to_string(),
    })
}

/// What the page says of its run.
#[derive(Debug, serde::Serialize)]
struct About {
    kind: &'static str,
    id: String,
    label: String,
    status: String,
    /// `2 passed, 1 failed` (empty without checks).
    checks: String,
    folder: String,
}

fn about(plan: &Plan, run: &Run) -> Result<About> {
    let unreadable = |e: &dyn std::fmt::Display| {
        Error::new(format!(
            "{}: {e}",
            crate::paths::shown(&run.dir.join(if run.series {
                "series.json"
            } else {
                "trial.json"
            }))
        ))
    };
    let (kind, label, status, checks) = if run.series {
        let f = crate::series::SeriesFile::read(&run.dir).map_err(|e| unreadable(&e))?;
        ("series", f.label.clone(), f.progress(), f.checks)
    } else {
        let t = crate::trial::Trial::read(&run.dir).map_err(|e| unreadable(&e))?;
        ("trial", t.label, t.status.name().to_string(), t.checks)
    };
    let failed = checks.iter().filter(|c| !c.passed).count();
    let checks = match (checks.len() - failed, failed) {
        (0, 0) => String::new(),
        (passed, 0) => format!("{passed} passed"),
        (passed, failed) => format!("{passed} passed, {failed} failed"),
    };
    Ok(About {
        kind,
        label: label.unwrap_or_else(|| run.id.clone()),
        id: run.id.clone(),
        status,
        checks,
        folder: format!("trials/{}/{}", plan.name, run.id),
    })
}

/// A table file the page shows.
#[derive(Debug, serde::Serialize)]
struct Shown {
    analysis: String,
    /// `tcp`, or `tcp-wide` (a series' row per point).
    name: String,
    text: String,
    file: String,
}

/// Each analysis' table files in `format`: a series' wide table (a row per
/// point) before its long one.
fn tables(p: &Publish, run: &Run, format: Format) -> Result<Vec<Shown>> {
    let dir = run.dir.join("analysis");
    let mut out = Vec::new();
    for a in &p.analyses {
        let wide = format!("{a}-wide");
        let stems: Vec<&str> = if run.series {
            vec![wide.as_str(), a.as_str()]
        } else {
            vec![a.as_str()]
        };
        for stem in stems {
            let path = dir.join(format!("{stem}.{}", format.extension()));
            if stem != a && !path.exists() {
                continue;
            }
            out.push(Shown {
                analysis: a.clone(),
                name: stem.to_string(),
                text: read(&path, a)?,
                file: crate::paths::shown(&path),
            });
        }
    }
    Ok(out)
}

fn read(path: &Path, analysis: &str) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::new(format!(
            "the page shows analysis `{analysis}`, and its table {} cannot be read: {e}",
            crate::paths::shown(path)
        ))
    })?;
    Ok(text.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::publish::{RUN_FIELDS, TABLE_FIELDS};

    fn keys<T: serde::Serialize>(x: &T) -> Vec<String> {
        let mut k: Vec<String> = serde_json::to_value(x)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        k.sort();
        k
    }

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut n: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        n.sort();
        n
    }

    #[test]
    fn a_page_gives_its_template_the_names_the_plan_checks_templates_against() {
        let about = About {
            kind: "trial",
            id: String::new(),
            label: String::new(),
            status: String::new(),
            checks: String::new(),
            folder: String::new(),
        };
        assert_eq!(keys(&about), sorted(&RUN_FIELDS));
        let shown = Shown {
            analysis: String::new(),
            name: String::new(),
            text: String::new(),
            file: String::new(),
        };
        assert_eq!(keys(&shown), sorted(&TABLE_FIELDS));
    }
}
