//! The command line as typed (clap). See the README for the contract.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "runner",
    version,
    about = "One TOML test plan → provisioned hosts, configured over SSH, previewed first"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// No colour (also: the NO_COLOR environment variable, or output that is not a terminal).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Print only errors and the closing summary.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more per node (why it changes, its log).
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a starter plan (local hosts, a monitor, a test, a collect, an
    /// analysis) that `runner apply` runs as is.
    ///
    /// Example: `runner init my-test && cd my-test && runner apply plan.toml --yes`
    Init {
        /// Where to write it (created if missing; default: here).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// A ready plan for a load tool instead (fio, pgbench-sweep, http,
        /// redis, sysbench, locust; `--list` names them).
        #[arg(long, value_name = "NAME")]
        example: Option<String>,
        /// List the ready plans.
        #[arg(long, conflicts_with = "example")]
        list: bool,
    },
    /// Print a shell completion script.
    ///
    /// Example: `runner completions bash > /etc/bash_completion.d/runner`
    Completions { shell: clap_complete::Shell },
    /// (internal) A plan's delay line, run by runner in the plan's hub
    /// namespace: it serves the links whose files are in DIR.
    #[command(hide = true)]
    DelayLine {
        netns: String,
        dir: std::path::PathBuf,
    },
    /// (internal) OpenSSH's `ProxyCommand` for a host in a network
    /// namespace: a TCP connection to HOST:PORT made inside NETNS, on
    /// stdin and stdout.
    #[command(hide = true)]
    Proxy {
        netns: String,
        host: String,
        port: u16,
    },
    /// Check a plan and report every problem at once.
    ///
    /// Example: `runner validate plans/quickstart.toml`
    Validate { plan: PathBuf },
    /// Show what apply would change, and save it for `runner apply`.
    ///
    /// Example: `runner plan plans/quickstart.toml` then `runner apply`
    Plan {
        plan: PathBuf,
        /// Where to save the plan (default `.runner/<name>.plan`).
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
        /// Exit 0 when there are no changes, 2 when there are, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Print the changes as JSON.
        #[arg(long)]
        json: bool,
        /// Plan from an empty state although the state file is missing and
        /// the plan's backup or host directories exist.
        #[arg(long)]
        force_new: bool,
        /// Run a new trial even if the last one ran exactly this (a repetition).
        #[arg(long)]
        new_trial: bool,
    },
    /// Apply a saved plan, or plan and apply a plan file.
    ///
    /// Example: `runner apply plans/quickstart.toml --yes --new-trial`
    Apply {
        /// A saved plan (`.runner/<name>.plan`) or a plan file (`*.toml`); default: the newest saved plan.
        plan: Option<PathBuf>,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// How many nodes run at once. 50 by measurement: on 200 local hosts
        /// (CPU-bound, 2 cores) 10 is 10-25 % slower than 50, and 100 or 200
        /// are no faster (see BENCHMARKS.md); across a network, where
        /// latency dominates, more in flight pays more: raise it there. Each
        /// host keeps one connection (one file descriptor): runner raises its
        /// open-file limit to the hard limit and says before it starts when
        /// that is too low. A host's sshd sees one connection from runner; a
        /// machine listed as many hosts (one address and port) sees one per
        /// host, at most 8 being started at once, below sshd's default
        /// MaxStartups (10:30:100), past which it drops connections.
        #[arg(long, default_value_t = 50)]
        parallelism: usize,
        /// Start from an empty state although the state file is missing and
        /// the plan's backup or host directories exist (they are replaced).
        #[arg(long)]
        force_new: bool,
        /// Run a new trial even if the last one ran exactly this (a repetition).
        #[arg(long)]
        new_trial: bool,
        /// The trial `regression` checks compare with (default: each
        /// check's `baseline`, else the trial before).
        #[arg(long, value_name = "TRIAL")]
        baseline: Option<String>,
        /// A label for the trial or series this apply runs (a version, a
        /// commit): recorded in its trial.json or series.json, shown by
        /// `runner history` and the trials' index.
        #[arg(long, value_name = "LABEL")]
        label: Option<String>,
    },
    /// Remove every host the state knows (and local hosts it lost track of).
    ///
    /// Example: `runner destroy plans/quickstart.toml --yes`
    Destroy {
        plan: PathBuf,
        #[arg(long, short = 'y')]
        yes: bool,
        #[arg(long, default_value_t = 50)]
        parallelism: usize,
    },
    /// Print the plan's graph as Graphviz DOT.
    ///
    /// Example: `runner graph plan.toml | dot -Tsvg > graph.svg`
    Graph { plan: PathBuf },
    /// Result tables from collected files: `runner analyze --parser hdr FILE…`,
    /// or a plan's `[[analyze]]` sections on a trial: `runner analyze PLAN [TRIAL]`.
    ///
    /// Example: `runner analyze --parser hdr --unit us --format mediawiki */*.hlog`
    Analyze(AnalyzeArgs),
    /// Write a trial's self-contained `report.html` again (default: the latest trial).
    ///
    /// Example: `runner report plans/quickstart.toml && xdg-open trials/quickstart/*/report.html`
    Report {
        plan: PathBuf,
        /// A trial or series id (a folder under `trials/<plan>/`); default:
        /// the latest trial (the latest series in a plan with `[series]`).
        trial: Option<String>,
        /// Compare two trials, or two series, instead: every figure's
        /// means and n, the change in % with its 95 % interval, a p-value
        /// and a verdict (`~`, better, worse), into
        /// `trials/<plan>/B/analysis/compare-A/` (report.html, delta.csv,
        /// delta.md).
        #[arg(long, num_args = 2, value_names = ["A", "B"])]
        compare: Option<Vec<String>>,
        /// The two-sample test of `--compare`: a Mann–Whitney U test
        /// (default) or Welch's t.
        #[arg(long, value_enum, default_value_t = crate::kinds::TestKind::UTest, requires = "compare")]
        test: crate::kinds::TestKind,
        /// Write `trials/<plan>/index.html` again instead: every trial and
        /// series, newest first, linked to their reports (every apply
        /// writes it too).
        #[arg(long, conflicts_with_all = ["trial", "compare"])]
        index: bool,
    },
    /// Every trial and series of the plan in the order they ran, each
    /// figure per run (a series' mean with its 95 % interval), and the
    /// change points of each figure's history (E-Divisive means with a
    /// seeded permutation test); writes `trials/<plan>/history.html` and
    /// `history.csv`. With `--changes`, exit 3 when a change point goes the
    /// figure's bad way.
    ///
    /// Example: `runner history plans/sweep.toml --changes --since v1.2`
    History(HistoryArgs),
    /// Evaluate the plan's `[[check]]`s on a trial again (default: the latest);
    /// exit 3 when one fails.
    ///
    /// Example: `runner check plans/quickstart.toml --baseline 20261123T192821Z`
    Check {
        plan: PathBuf,
        /// A trial or series id (a folder under `trials/<plan>/`); default:
        /// the latest trial (the latest series in a plan with `[series]`).
        trial: Option<String>,
        /// The trial (or series) `regression` checks compare with (default:
        /// each check's `baseline`, else the one before).
        #[arg(long, value_name = "TRIAL")]
        baseline: Option<String>,
    },
    /// A table of the hosts: reachable, round trip, clock offset.
    ///
    /// Example: `runner ping plans/quickstart.toml`
    Ping { plan: PathBuf },
    /// Log in to a host (OpenSSH, pinned host key), or run a command there.
    ///
    /// Example: `runner ssh plans/quickstart.toml 'client[0]' uptime`
    Ssh {
        plan: PathBuf,
        /// `client[0]` or `client-0`
        host: String,
        /// A command to run instead of a login shell.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// The hosts as an Ansible inventory or an OpenSSH config (pinned host keys).
    ///
    /// Example: `runner inventory plan.toml --format ansible > hosts.ini`
    Inventory {
        plan: PathBuf,
        #[arg(long, value_enum, default_value_t = InventoryFormat::SshConfig)]
        format: InventoryFormat,
    },
    /// Show the hosts in the state and the last trial (`--json`: versioned, see the README).
    ///
    /// Example: `runner show plans/quickstart.toml --json | jq .trial`
    Show {
        plan: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// The files' format (see `runner analyze --help` for each parser's options).
    #[arg(long, value_parser = parser_kind)]
    pub parser: Option<crate::analyze::ParserKind>,
    /// `file`: one row per file instead of all files merged into one.
    #[arg(long, value_enum)]
    pub by: Option<By>,
    /// The table's format.
    #[arg(long, value_enum, default_value_t = crate::kinds::Format::Markdown)]
    pub format: crate::kinds::Format,
    /// hdr, samples: the unit the values were recorded in (a log does not
    /// say; default ns). csv: `COL=UNIT[,COL=UNIT]` gives columns their
    /// units (`--unit tps=1/s,lag_ms=ms`).
    #[arg(long)]
    pub unit: Option<String>,
    /// hdr: `each` (a row per tag, the default), `all`, `untagged`, or a tag name.
    #[arg(long)]
    pub tag: Option<String>,
    /// dstat/csv: columns to summarise, comma-separated (`total cpu usage.usr,net/total.recv`).
    #[arg(long)]
    pub columns: Option<String>,
    /// csv: the columns that tell a summary's rows apart (`--key test`): a
    /// row per file (or all files) and key, each figure as it is.
    #[arg(long)]
    pub key: Option<String>,
    /// csv with --key: how rows of one key from several files merge, per
    /// column (`--merge rps=sum,max_latency_ms=max`; sum, mean, min, max).
    /// A percentile column is never averaged or summed.
    #[arg(long)]
    pub merge: Option<String>,
    /// Histogram-backed parsers: the percentiles to show (`--percentiles 50,95,99,99.9`).
    #[arg(long)]
    pub percentiles: Option<String>,
    /// Any option of the parser, as a plan's `[[analyze]]` would give it
    /// (`--set units=tps=1/s`); lists comma-separated. Repeatable.
    #[arg(long = "set", value_name = "OPTION=VALUE")]
    pub set: Vec<String>,
    /// dstat, iperf3, iperf2: a JSON file of test windows (`{"windows": [{"test", "start_epoch", "end_epoch"}]}`); rows per window.
    #[arg(long)]
    pub windows: Option<PathBuf>,
    /// List the parsers: what each reads, and its options.
    #[arg(long, conflicts_with = "parser")]
    pub parsers: bool,
    /// With --parser: the files. Without: PLAN [TRIAL].
    pub args: Vec<PathBuf>,
}

/// `--parser NAME`: a parser of the registry, or the list of them.
fn parser_kind(name: &str) -> Result<crate::analyze::ParserKind, UnknownParser> {
    crate::analyze::ParserKind::parse(name).ok_or_else(|| UnknownParser(name.to_string()))
}

#[derive(Debug, thiserror::Error)]
#[error("unknown parser `{0}`; expected one of {names}", names = crate::analyze::ParserKind::names().join(", "))]
pub struct UnknownParser(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InventoryFormat {
    /// An OpenSSH client config (`ssh -F`), host keys pinned.
    SshConfig,
    /// An Ansible inventory (INI), groups from the plan.
    Ansible,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    /// One row per file.
    File,
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    pub plan: PathBuf,
    /// Only these analyses (repeat the flag for more).
    #[arg(long, value_name = "NAME")]
    pub analysis: Vec<String>,
    /// Only these figures (`mean`, `p99`, `received (bit/s)`).
    #[arg(long, value_name = "FIGURE")]
    pub figure: Vec<String>,
    /// Only rows whose key column has this value (`host=server[0]`).
    #[arg(long, value_name = "KEY=VALUE")]
    pub row: Vec<String>,
    /// List the change points only; exit 3 when one goes the figure's bad
    /// way (a CI gate over the history).
    #[arg(long)]
    pub changes: bool,
    /// With `--changes`: only changes after the run of this label (or id).
    #[arg(long, value_name = "LABEL")]
    pub since: Option<String>,
    /// The tables' format on stdout.
    #[arg(long, value_enum, default_value_t = crate::kinds::Format::Markdown)]
    pub format: crate::kinds::Format,
    /// The permutation test's significance.
    #[arg(long, default_value_t = 0.05)]
    pub pvalue: f64,
    /// Permutations per candidate change point.
    #[arg(long, default_value_t = 100)]
    pub permutations: usize,
    /// The permutations' seed (recorded in the notes).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}
