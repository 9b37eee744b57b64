//! One file per subcommand; each returns the process exit code.

mod analyze;
mod apply;
mod check;
mod destroy;
mod graph;
mod history;
mod hosts;
mod init;
mod plan;
mod planning;
mod proxy;
mod report;
mod saved;
mod show;
mod validate;

use crate::cli::Command;
use std::path::Path;

use crate::error::{Error, Result};
use crate::exit::Exit;

/// `runner completions SHELL`.
fn completions(shell: clap_complete::Shell) -> Result<Exit> {
    use clap::CommandFactory as _;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut crate::cli::Cli::command(), "runner", &mut out);
    crate::out::write(&String::from_utf8_lossy(&out));
    Ok(Exit::Success)
}

pub fn run(command: Command) -> Result<Exit> {
    match command {
        Command::Init { dir, example, list } => init::command(&dir, example.as_deref(), list),
        Command::Completions { shell } => completions(shell),
        Command::Validate { plan } => validate::run(&plan),
        Command::DelayLine { netns, dir } => proxy::delay_line(&netns, &dir),
        Command::Proxy { netns, host, port } => proxy::run(&netns, &host, port),
        Command::Plan {
            plan,
            out,
            detailed_exitcode,
            json,
            force_new,
            new_trial,
        } => plan::run(
            &plan,
            out.as_deref(),
            detailed_exitcode,
            json,
            planning::Flags {
                force_new,
                new_trial,
            },
        ),
        Command::Apply {
            plan,
            yes,
            parallelism,
            force_new,
            new_trial,
            baseline,
            label,
        } => apply::run(
            plan.as_deref(),
            yes,
            parallelism,
            crate::exec::Given { baseline, label },
            planning::Flags {
                force_new,
                new_trial,
            },
        ),
        Command::Destroy {
            plan,
            yes,
            parallelism,
        } => destroy::run(&plan, yes, parallelism),
        Command::Graph { plan } => graph::run(&plan),
        Command::Show { plan, json } => show::run(plan.as_deref(), json),
        Command::Analyze(args) => analyze::run(args),
        Command::Report {
            plan,
            trial,
            compare,
            test,
            index,
        } => match index {
            true => report::index(&plan),
            false => report::run(&plan, trial.as_deref(), compare.as_deref(), test),
        },
        Command::History(args) => history::run(&args),
        Command::Check {
            plan,
            trial,
            baseline,
        } => check::run(&plan, trial.as_deref(), baseline.as_deref()),
        Command::Ping { plan } => hosts::ping(&plan),
        Command::Ssh {
            plan,
            host,
            command,
        } => hosts::ssh(&plan, &host, &command),
        Command::Inventory { plan, format } => hosts::inventory(&plan, format),
    }
}

/// A runtime for the commands that talk to hosts.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::Error::msg(format!("cannot start the async runtime: {e}")))
}

/// Asks on the terminal; never waits on a stdin that is not a terminal.
fn confirm(question: &str, yes: bool) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !crate::os::stdin_is_terminal() {
        return Err(crate::Error::msg(
            "refusing to continue without confirmation: stdin is not a terminal",
        )
        .help("pass --yes to confirm non-interactively"));
    }
    crate::out::err!("{question} Only `yes` is accepted: ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// The plan's name from its file. Only the name is needed: commands that
/// work from the state (destroy, ping, ssh, inventory) work even when the
/// plan no longer validates.
fn plan_name(path: &Path) -> Result<String> {
    let text = fs_err::read_to_string(path)?;
    let raw = crate::plan::syntax::parse(&text).map_err(|d| {
        let src = crate::plan::Source {
            path: path.to_path_buf(),
            text: text.clone(),
        };
        Error::Diagnostics {
            report: Box::new(src.report(d)),
            outcome: Some("nothing was destroyed"),
        }
    });
    match raw.ok().and_then(|r| r.name) {
        Some(n) => Ok(n.value),
        None => {
            // Fall back to a plain read of `name = "…"`.
            let v: toml::Table = toml::from_str(&text)
                .map_err(|e| Error::msg(format!("{}: {e}", path.display())))?;
            v.get("name")
                .and_then(|n| n.as_str())
                .map(str::to_string)
                .ok_or_else(|| Error::msg(format!("{}: the plan has no `name`", path.display())))
        }
    }
}
