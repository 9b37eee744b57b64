//! A `[[publish]]` node, on a blocking thread: the page of the plan's
//! latest trial or series, published when its content differs from what
//! this node published last (a wiki edit, a commit), recorded with the
//! revision or commit it made. A failure is the node's alone: the trial
//! and its tables stay as they are.

use petgraph::graph::NodeIndex;

use super::{Cx, Done, Shared, Task};
use crate::error::{Error, Result};
use crate::plan::model::{Publish, Secret, Target};
use crate::publish::{Page, Run, git, mediawiki};
use crate::state::{Op, Published};

pub(super) fn run(cx: Cx<'_>, node: NodeIndex, index: usize) -> Task {
    let run = Run::latest(
        cx.graph.plan.series.is_some(),
        cx.state,
        &cx.shared.paths.trials(),
    );
    let id = cx.graph.dag[node].id.clone();
    let hash = cx.graph.dag[node].hash.clone();
    // What it published last, if to the same place: edited on top of,
    // whatever else of the plan's publish changed.
    let to = cx.graph.dag[node].summary.clone();
    let before = cx
        .state
        .nodes
        .get(id.key())
        .and_then(|r| r.published.clone())
        .filter(|b| b.to == to);
    let (shared, fail) = (cx.shared, cx.fail);
    Box::pin(async move {
        let done = tokio::task::spawn_blocking(move || {
            let run = run.ok_or_else(|| Error::msg("no trial or series to publish yet"))?;
            let p = &shared.plan.publishes[index];
            let page = crate::publish::page::render(&shared.plan, p, &run)
                .map_err(|e| Error::msg(e.message))?;
            let (published, line) = match before {
                Some(b) if b.content == page.hash => {
                    let line = format!(
                        "publish {}: the page is as published ({}): not published again",
                        p.name,
                        made(&b)
                    );
                    (
                        Published {
                            run: run.id.clone(),
                            ..b
                        },
                        line,
                    )
                }
                b => deliver(&shared, p, &page, &run, &to, b.as_ref())?,
            };
            let mut op = Op::node(&id, hash, &run.id);
            if let Op::Node { node, .. } = &mut op {
                node.published = Some(published);
            }
            Ok::<_, Error>(Done::Summary {
                op,
                lines: vec![line],
                failures: Vec::new(),
            })
        })
        .await
        .map_err(|e| fail.with(e))?;
        done.map_err(|e| fail.with(e))
    })
}

/// `revision 12`, `commit 3f2a9c1`.
fn made(p: &Published) -> String {
    match (&p.revision, &p.commit) {
        (Some(r), _) => format!("revision {r}"),
        (None, Some(c)) => format!("commit {}", c.get(..7).unwrap_or(c)),
        (None, None) => "nothing".to_string(),
    }
}

fn deliver(
    shared: &Shared,
    p: &Publish,
    page: &Page,
    run: &Run,
    to: &str,
    before: Option<&Published>,
) -> Result<(Published, String)> {
    let mut published = Published {
        content: page.hash.clone(),
        run: run.id.clone(),
        to: to.to_string(),
        revision: None,
        timestamp: None,
        commit: None,
    };
    match &p.target {
        Target::Mediawiki {
            api,
            user,
            secret,
            section,
            overwrite,
        } => {
            let password = password(secret)?;
            shared.say(format!("publish {}: logging in to {api} as {user}", p.name));
            let target = mediawiki::Target {
                api,
                user,
                password: &password,
                page: &p.page,
                section: *section,
                overwrite: *overwrite,
            };
            let last = mediawiki::Last {
                revision: before.and_then(|b| b.revision),
                timestamp: before.and_then(|b| b.timestamp.as_deref()),
            };
            let edited = mediawiki::publish(&target, &page.text, &page.summary, &last)
                .map_err(|e| Error::msg(e.message))?;
            published.revision = Some(edited.revision);
            published.timestamp = Some(edited.timestamp);
            let how = if edited.unchanged {
                "the wiki already had it"
            } else {
                "edited"
            };
            let line = format!(
                "publish {}: page {:?} {how}, {} ({api})",
                p.name,
                p.page,
                made(&published)
            );
            Ok((published, line))
        }
        Target::Git { folder } => {
            let committed = git::publish(folder, &p.page, &page.text, &page.summary)
                .map_err(|e| Error::msg(e.message))?;
            published.commit = Some(committed.commit);
            let how = if committed.unchanged {
                "already committed"
            } else {
                "committed"
            };
            let line = format!(
                "publish {}: {}.md {how}, {} in {}",
                p.name,
                p.page,
                made(&published),
                crate::paths::shown(folder)
            );
            Ok((published, line))
        }
    }
}

/// The bot password, from where the plan says it is (never the plan).
fn password(secret: &Secret) -> Result<String> {
    let text = match secret {
        Secret::Env(var) => std::env::var(var).map_err(|_| {
            Error::msg(format!("no bot password: {var} is not set")).help(format!(
                "set {var} to the bot password (Special:BotPasswords), or name a file with `password_file`"
            ))
        })?,
        Secret::File(path) => fs_err::read_to_string(path).map_err(|e| {
            Error::msg(format!("no bot password: {e}"))
                .help("`password_file` names a file that holds the bot password on its first line")
        })?,
    };
    let line = text.lines().next().unwrap_or("").trim().to_string();
    if line.is_empty() {
        let place = match secret {
            Secret::Env(var) => var.clone(),
            Secret::File(path) => crate::paths::shown(path),
        };
        return Err(Error::msg(format!("no bot password: {place} is empty")).help(
            "put the bot password (Special:BotPasswords) there: on the first line of a `password_file`",
        ));
    }
    Ok(line)
}
