//! One file per subcommand; each returns the process exit code.

mod analyze;
mod apply;
mod destroy;
mod graph;
mod plan;
mod saved;
mod show;
mod validate;

use crate::cli::Command;
use crate::error::Result;

pub fn run(command: Command) -> Result<i32> {
    match command {
        Command::Validate { plan } => validate::run(&plan),
        Command::Plan {
            plan,
            out,
            detailed_exitcode,
            json,
        } => plan::run(&plan, out.as_deref(), detailed_exitcode, json),
        Command::Apply {
            plan,
            yes,
            parallelism,
        } => apply::run(plan.as_deref(), yes, parallelism),
        Command::Destroy {
            plan,
            yes,
            parallelism,
        } => destroy::run(&plan, yes, parallelism),
        Command::Graph { plan } => graph::run(&plan),
        Command::Show { plan, json } => show::run(plan.as_deref(), json),
        Command::Analyze(args) => analyze::run(args),
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
    if !crate::process::stdin_is_terminal() {
        return Err(crate::Error::msg(
            "refusing to continue without confirmation: stdin is not a terminal",
        )
        .help("pass --yes to confirm non-interactively"));
    }
    eprint!("{question} Only `yes` is accepted: ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}
