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
mod html;
mod kinds;
#[macro_use]
mod out;
mod os;
mod paths;
mod plan;
mod provider;
mod render;
mod reporter;
mod sftp;
mod shell;
mod ssh;
mod state;
mod style;
mod table;
mod template;
mod trial;
mod units;

use clap::Parser as _;

pub use error::Error;

fn main() {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Usage errors exit 1 (clap's default is 2, which means "changes").
            let code = if e.use_stderr() { 1 } else { 0 };
            std::process::exit(code);
        }
    };
    style::init(cli.no_color, cli.quiet, cli.verbose);
    os::raise_open_files();
    let code = match commands::run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", e.render());
            1
        }
    };
    std::process::exit(code);
}
