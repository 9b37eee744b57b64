//! runner: one TOML test plan → hosts provisioned, configured over SSH,
//! previewed with `runner plan`, carried out with `runner apply`.
//!
//! The pipeline: plan (parse + validate) → graph (compile) → diff (against
//! the state) → exec (apply), each a module that knows nothing of the later ones.

mod analyze;
mod check;
mod cli;
mod commands;
mod diag;
mod diff;
mod error;
mod exec;
mod exit;
mod glob;
mod graph;
mod hash;
mod history;
mod html;
mod kinds;
mod markup;
#[macro_use]
mod os;
mod out;
mod paths;
mod plan;
mod plot;
mod provider;
mod publish;
mod render;
mod reporter;
mod series;
mod sftp;
mod shell;
mod ssh;
mod state;
mod stats;
mod style;
mod table;
mod template;
mod trial;
mod units;

use clap::Parser as _;

pub use error::Error;

/// The command line, run: what `runner` does, and its exit code.
pub fn main() -> std::process::ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Usage errors exit 1 (clap's default is 2, which means "changes").
            let exit = if e.use_stderr() {
                exit::Exit::Failure
            } else {
                exit::Exit::Success
            };
            return exit.into();
        }
    };
    style::init(cli.no_color, cli.quiet, cli.verbose);
    os::raise_open_files();
    let exit = commands::run(cli.command).unwrap_or_else(|e| {
        out::errln!("{}", e.render());
        e.code()
    });
    // Output that could not be written (a full disk behind `>`; not a
    // closed pipe) is an error, whatever the command did.
    if let Some(why) = out::failure() {
        out::errln!("error: cannot write the output to stdout: {why}");
        return exit::Exit::Failure.into();
    }
    exit.into()
}
