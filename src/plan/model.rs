//! The validated plan: names checked, references resolved, resources read.
//! Later stages take only this; nothing here can be malformed.

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::analyze::ParserKind;
pub use crate::kinds::{Format, Provider};
use crate::units::{Better, Quantity};

pub type Vars = serde_json::Map<String, serde_json::Value>;

#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    /// The plan file as given on the command line.
    pub file: PathBuf,
    /// sha256 of the plan file's bytes.
    pub file_hash: String,
    pub provider: Provider,
    /// `[provider] workdir`: where commands run on static hosts.
    pub workdir: Option<String>,
    /// `[provider]` of `kind = "ec2"`.
    pub ec2: Option<Ec2Config>,
    /// `[provider] network` of local hosts.
    pub network: Network,
    pub vars: Vars,
    pub groups: Vec<Group>,
    pub steps: Vec<Step>,
    pub monitors: Vec<Monitor>,
    pub tests: Vec<Test>,
    pub collects: Vec<Collect>,
    pub analyses: Vec<Analysis>,
    pub checks: Vec<Check>,
    /// `[series]`: the trial swept over points and repeated.
    pub series: Option<Series>,
    /// `[[publish]]`: where the latest trial's or series' tables go.
    pub publishes: Vec<Publish>,
}

/// `[[publish]]`, validated: a page made of the latest run's tables
/// (a template over them), and where it goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    /// The node's name (`publish <name>`): `name`, else the page.
    pub name: String,
    /// The wiki page's title, or the file's name (without `.md`) in the folder.
    pub page: String,
    pub target: Target,
    /// The edit summary or commit message (a template).
    pub summary: Option<String>,
    /// The project's own page template: its path (as written) and text.
    pub template: Option<(String, String)>,
    /// The analyses whose tables the page shows, in the order listed.
    pub analyses: Vec<String>,
}

/// Where a page is published.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A MediaWiki page, through its API (`…/api.php`), logged in with a
    /// bot password (`Name@bot`) read from `secret` when it is published.
    Mediawiki {
        api: String,
        user: String,
        secret: Secret,
        /// Replace this section only (0: the text before the first heading).
        section: Option<u32>,
        /// Replace the page whoever edited it last.
        overwrite: bool,
    },
    /// A Markdown file in a folder of a git work tree, committed.
    Git { folder: std::path::PathBuf },
}

impl Target {
    /// The format the page's tables are in.
    pub fn format(&self) -> Format {
        match self {
            Target::Mediawiki { .. } => Format::Mediawiki,
            Target::Git { .. } => Format::Markdown,
        }
    }
}

/// Where a wiki password is: never the plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Secret {
    Env(String),
    File(std::path::PathBuf),
}

/// `[series]`, validated: every point (the cartesian product of `vars`)
/// runs `repeat` measured trials and `discard` warm-ups first.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub repeat: usize,
    pub discard: usize,
    pub order: SeriesOrder,
    /// In the order written: a var's name and its values.
    pub vars: Vec<(String, Vec<serde_json::Value>)>,
}

/// The order of a series' trials: rounds of every point once each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesOrder {
    /// Each round in its own shuffled order (the seed in series.json).
    Shuffled,
    /// Each round in the order the points are written.
    InOrder,
}

/// Which statistic of a figure over a series' trials a `max`/`min` check holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    Mean,
    Median,
    Ci95Low,
    Ci95High,
    Min,
    Max,
    MedianCi95Low,
    MedianCi95High,
}

impl Statistic {
    pub const NAMES: [&str; 8] = [
        "mean",
        "median",
        "ci95_low",
        "ci95_high",
        "min",
        "max",
        "median_ci95_low",
        "median_ci95_high",
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "mean" => Statistic::Mean,
            "median" => Statistic::Median,
            "ci95_low" => Statistic::Ci95Low,
            "ci95_high" => Statistic::Ci95High,
            "min" => Statistic::Min,
            "max" => Statistic::Max,
            "median_ci95_low" => Statistic::MedianCi95Low,
            "median_ci95_high" => Statistic::MedianCi95High,
            _ => return None,
        })
    }

    /// The series table's column of this statistic.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// A `[[monitor]]`: started on its hosts before the first test of a trial,
/// stopped (TERM, then KILL after `stop_timeout`) after the last one.
#[derive(Debug, Clone)]
pub struct Monitor {
    pub name: String,
    pub hosts: Vec<String>,
    /// The `run` template as written.
    pub run: String,
    pub run_span: Range<usize>,
    pub stop_timeout: Duration,
}

/// A `[[test]]`: armed on each of its hosts to start at `at`.
#[derive(Debug, Clone)]
pub struct Test {
    pub name: String,
    pub hosts: Vec<String>,
    pub run: String,
    pub run_span: Range<usize>,
    pub at: At,
    pub timeout: Duration,
}

/// When a test starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum At {
    /// After the trial's trigger epoch.
    Offset(Duration),
    /// A fixed time, seconds since the epoch (UTC).
    Epoch(f64),
}

impl At {
    /// As written for people: `+10s`, or the RFC 3339 time.
    pub fn show(&self) -> String {
        match self {
            At::Offset(d) => format!("+{}", humantime::format_duration(*d)),
            At::Epoch(e) => humantime::format_rfc3339_millis(
                std::time::UNIX_EPOCH + Duration::from_secs_f64(*e),
            )
            .to_string(),
        }
    }
}

/// A `[[collect]]`: files (globs relative to each host's working directory)
/// fetched into the trial as `<host>/<name>/<path>`.
#[derive(Debug, Clone)]
pub struct Collect {
    pub name: String,
    pub hosts: Vec<String>,
    pub files: Vec<String>,
}

/// An `[[analyze]]` section, validated.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub name: String,
    pub parser: ParserKind,
    /// Globs relative to the trial directory (`*/tcp/stdout`).
    pub files: Vec<String>,
    pub by: Vec<By>,
    pub formats: Vec<Format>,
    /// The parser's options, as its declaration takes them.
    pub options: crate::analyze::Options,
    /// How a series shows it (`x`, `scale`, `wide`).
    pub shown: Shown,
    /// The project's own table templates it is rendered with
    /// (`analysis/<format template>`): (file name, content), hashed into
    /// its node, so that adding or editing one renders again.
    pub templates: Vec<(String, String)>,
}

/// How a series report and tables show an analysis.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shown {
    /// The figure other figures are plotted against (latency against
    /// achieved throughput), besides the first series var.
    pub x: Option<String>,
    pub scale: Scale,
    pub wide: Option<Wide>,
}

/// The y axis of a series chart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Scale {
    /// Log when the figure spans more than a decade.
    #[default]
    Auto,
    Linear,
    Log,
}

/// A series' wide table: a row per point, a column per figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Wide {
    /// Figure names as the tables have them, without their unit (`p99`).
    pub figures: Vec<String>,
    /// The unit figures of its dimension are shown in (`ms`).
    pub unit: Option<String>,
    pub statistic: WideStatistic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WideStatistic {
    Mean,
    Median,
}

impl WideStatistic {
    pub fn name(self) -> &'static str {
        match self {
            WideStatistic::Mean => "mean",
            WideStatistic::Median => "median",
        }
    }
}

/// What rows an analysis has: one per test, host and/or file; none = all merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Test,
    Host,
    File,
}

/// One `[[check]]`, validated: a figure of an analysis table held to a limit.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub table: String,
    pub row: Vec<(String, String)>,
    pub column: String,
    pub limit: Limit,
    /// The trial to compare with (`regression`); default: the trial before.
    pub baseline: Option<String>,
    /// The limit as written, for messages and the report.
    pub shown: String,
    /// On a series, a regression fails only when this significant (α).
    pub significance: f64,
    /// On a series, what `max`/`min` hold.
    pub statistic: Statistic,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Limit {
    Max(Quantity),
    Min(Quantity),
    /// Worse than the baseline by more than this fraction (0.1 = 10 %).
    Regression {
        fraction: f64,
        better: Option<Better>,
    },
}

/// `[provider] kind = "ec2"`, validated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ec2Config {
    pub region: String,
    /// `http://127.0.0.1:5000` (tests, other clouds); none = AWS's own.
    pub endpoint: Option<String>,
    /// An existing key pair (with `identity` its private key); none = runner
    /// generates a key here and imports its public half as `runner-<plan>`.
    pub key_name: Option<String>,
    pub identity: Option<PathBuf>,
    pub subnet: Option<String>,
    /// An existing security group; none = runner creates `runner-<plan>`
    /// allowing SSH from `ssh_from` only.
    pub security_group: Option<String>,
    pub ssh_from: Vec<String>,
    pub user: String,
    /// Where commands run on the instances (default `runner/<plan>` in the
    /// login directory).
    pub workdir: Option<String>,
    pub max_instances: usize,
    #[serde(with = "humantime_serde_secs")]
    pub expire_after: Duration,
    #[serde(with = "humantime_serde_secs")]
    pub ssh_timeout: Duration,
    /// `name_tags = "host"`: each instance's `Name` tag is `<plan>/<host>`
    /// (one CreateTags per instance launched with others); default
    /// `"group"`: `<plan>/<group>`, set at launch at no cost.
    #[serde(default)]
    pub name_each_host: bool,
}

mod humantime_serde_secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<std::time::Duration, D::Error> {
        let secs: u64 = serde::Deserialize::deserialize(d)?;
        Ok(std::time::Duration::from_secs(secs))
    }
}

/// What an EC2 host is launched as (its group's overrides applied).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ec2Host {
    pub ami: String,
    pub instance_type: String,
    pub spot: bool,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub vars: Vars,
    pub hosts: Vec<HostSpec>,
}

/// One host the plan asks for. For `static` it carries the connection facts;
/// for `local` the provider supplies them when it creates the host.
#[derive(Debug, Clone)]
pub struct HostSpec {
    /// `group[index]`
    pub name: String,
    pub group: String,
    pub index: usize,
    pub fixed: Option<FixedHost>,
    pub ec2: Option<Ec2Host>,
    /// Local hosts in namespaces: the host's access link, shaped.
    pub link: Option<Link>,
}

/// A fraction as a percentage for people and tc: `0.07` → `7` (not
/// `7.000000000000001`), to a millionth.
pub fn percent(fraction: f64) -> f64 {
    (fraction * 1e8).round() / 1e6
}

/// A host's access link, each direction: rate (bit/s as tc counts them:
/// whole frames), delay and jitter (each packet's delay uniform in delay ±
/// jitter, kept in order), loss (a fraction, each direction).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Link {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_bps: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
}

impl Link {
    /// The link for people: `50 Mbit/s, 20 ms ± 2 ms, 0.5 % loss`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(r) = self.rate_bps {
            parts.push(crate::units::human(r as f64, Some("bit/s")));
        }
        match (self.delay_us, self.jitter_us) {
            (Some(d), Some(j)) if j > 0 => {
                parts.push(format!("{} ms ± {} ms", d as f64 / 1e3, j as f64 / 1e3))
            }
            (Some(d), _) => parts.push(format!("{} ms", d as f64 / 1e3)),
            _ => {}
        }
        if let Some(p) = self.loss {
            parts.push(format!("{} % loss", percent(p)));
        }
        parts.join(", ")
    }

    /// Nothing to shape.
    pub fn is_empty(&self) -> bool {
        *self == Link::default()
    }
}

/// How local hosts are networked.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Network {
    /// Every host an sshd on 127.0.0.1 (the default).
    #[default]
    Loopback,
    /// A network namespace per host on a bridge, with its own address in
    /// `subnet` (`10.203.0.0/16`: base address and prefix length).
    Namespaces {
        base: std::net::Ipv4Addr,
        prefix: u8,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FixedHost {
    pub address: String,
    pub port: u16,
    pub user: String,
    pub identity: PathBuf,
    /// `ssh-ed25519 AAAA…`, as in a `.pub` file.
    pub host_key: String,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    /// Hosts, by name, in group order.
    pub hosts: Vec<String>,
    pub action: Action,
    pub after: Vec<String>,
    pub timeout: Duration,
    /// Where the step is written, for diagnostics from later stages.
    pub span: Range<usize>,
    pub action_span: Range<usize>,
    pub after_spans: Vec<Range<usize>>,
}

#[derive(Debug, Clone)]
pub enum Action {
    Run {
        command: String,
    },
    Upload {
        source: PathBuf,
        bytes: std::sync::Arc<Vec<u8>>,
        dest: String,
    },
    Template {
        /// The path as written in the plan, for messages.
        name: String,
        source: PathBuf,
        text: String,
        dest: String,
    },
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Run { .. } => "run",
            Action::Upload { .. } => "upload",
            Action::Template { .. } => "template",
        }
    }
}

impl Plan {
    pub fn hosts(&self) -> impl Iterator<Item = &HostSpec> {
        self.groups.iter().flat_map(|g| g.hosts.iter())
    }

    /// The host named `group[index]`, found by its group (not by a scan of
    /// every host: plans have thousands).
    pub fn host(&self, name: &str) -> Option<&HostSpec> {
        let (group, rest) = name.split_once('[')?;
        let index: usize = rest.strip_suffix(']')?.parse().ok()?;
        self.groups
            .iter()
            .find(|g| g.name == group)?
            .hosts
            .get(index)
            .filter(|h| h.name == name)
    }

    /// Whether anything of the plan runs on `host` over SSH.
    pub fn uses_ssh(&self, host: &str) -> bool {
        let on = |hosts: &[String]| hosts.iter().any(|h| h == host);
        self.steps.iter().any(|s| on(&s.hosts))
            || self.monitors.iter().any(|m| on(&m.hosts))
            || self.tests.iter().any(|t| on(&t.hosts))
            || self.collects.iter().any(|c| on(&c.hosts))
    }

    /// The resource files the plan reads, for staleness checks.
    pub fn resource_files(&self) -> Vec<PathBuf> {
        self.steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::Upload { source, .. } | Action::Template { source, .. } => {
                    Some(source.clone())
                }
                Action::Run { .. } => None,
            })
            .collect()
    }
}

/// Parses `90s`, `5m`, `1h30m`, `500ms` (humantime); a bare number is
/// seconds. Out of range (overflow) is `None`, never a panic.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    humantime::parse_duration(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1x"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("99999999999999999999h"), None);
        assert_eq!(parse_duration("5124095576030432h"), None);
    }
}
