//! The kinds every stage names: which provider makes the hosts, which
//! parser reads a file, which format a table is written in. They sit below
//! the plan (which validates them), the state (which records a host's
//! provider) and the stages that act on them. (A parser is declared by its
//! own file: `analyze::parser`.) Each name is written once,
//! in its `clap::ValueEnum` derive: the command line, the plan and
//! messages all read it from there.

use std::sync::OnceLock;

use clap::ValueEnum;

/// A variant's name as the plan and the command line spell it.
fn name_of<T: ValueEnum + PartialEq>(v: &T, names: &'static OnceLock<Vec<String>>) -> &'static str {
    let all = names.get_or_init(|| {
        T::value_variants()
            .iter()
            .map(|x| {
                x.to_possible_value()
                    .map(|p| p.get_name().to_string())
                    .unwrap_or_default()
            })
            .collect()
    });
    let i = T::value_variants().iter().position(|x| x == v).unwrap_or(0);
    all.get(i).map_or("", String::as_str)
}

/// A name (or an alias) as written in a plan.
fn parse<T: ValueEnum>(name: &str) -> Option<T> {
    T::from_str(name, false).ok()
}

/// Every name a plan may write for a kind, aliases left out.
fn names<T: ValueEnum + PartialEq>(names: &'static OnceLock<Vec<String>>) -> Vec<&'static str> {
    T::value_variants()
        .iter()
        .map(|v| name_of(v, names))
        .collect()
}

macro_rules! named {
    ($t:ty) => {
        // Not every kind needs every accessor.
        #[allow(dead_code)]
        impl $t {
            pub fn name(&self) -> &'static str {
                static NAMES: OnceLock<Vec<String>> = OnceLock::new();
                name_of(self, &NAMES)
            }
            pub fn parse(name: &str) -> Option<Self> {
                parse(name)
            }
            /// Every name, in declaration order.
            pub fn names() -> Vec<&'static str> {
                static NAMES: OnceLock<Vec<String>> = OnceLock::new();
                names::<$t>(&NAMES)
            }
        }
    };
}

/// Who makes a plan's hosts. What each kind is, for the stages before
/// the providers (the plan's validation, the templates), is said here by
/// what it can do; the kinds themselves are handled in `provider/`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    #[default]
    Local,
    Static,
    Ec2,
}
named!(Provider);

impl Provider {
    /// Its hosts are listed by address in the plan (they exist already),
    /// not counted (made).
    pub fn lists_hosts(self) -> bool {
        match self {
            Provider::Static => true,
            Provider::Local | Provider::Ec2 => false,
        }
    }

    /// Its hosts run on this machine (held to `max_instances`; may sit in
    /// network namespaces of their own).
    pub fn on_this_machine(self) -> bool {
        match self {
            Provider::Local => true,
            Provider::Static | Provider::Ec2 => false,
        }
    }

    /// It rents instances from EC2 (`[provider]` region, ami… and group
    /// overrides; a private address beside the public one).
    pub fn is_ec2(self) -> bool {
        match self {
            Provider::Ec2 => true,
            Provider::Local | Provider::Static => false,
        }
    }

    /// A host's address as a plan knows it before apply: the listed one
    /// (`None`: ask the plan), loopback, or known only after apply.
    pub fn address_before_apply(self, namespaced: bool) -> Address {
        match self {
            Provider::Static => Address::Listed,
            Provider::Local if !namespaced => Address::Loopback,
            Provider::Local | Provider::Ec2 => Address::AfterApply,
        }
    }
}

/// Where a host's address comes from when a plan is compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Address {
    Listed,
    Loopback,
    AfterApply,
}

/// A table's format on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    #[value(alias = "md")]
    Markdown,
    #[value(alias = "wiki")]
    Mediawiki,
    Trac,
}
named!(Format);

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Markdown => "md",
            Format::Mediawiki => "wiki",
            Format::Trac => "trac",
        }
    }

    /// The template a table is rendered with (none for CSV): runner's
    /// own, or a project's `analysis/<this name>`.
    pub fn template_name(self) -> Option<&'static str> {
        match self {
            Format::Csv => None,
            Format::Markdown => Some("markdown.md.j2"),
            Format::Mediawiki => Some("mediawiki.wiki.j2"),
            Format::Trac => Some("trac.trac.j2"),
        }
    }
}

/// How figures of several rows (files, hosts) are merged into one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Merge {
    Sum,
    Mean,
    Min,
    Max,
}
named!(Merge);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_come_from_the_derive() {
        assert_eq!(Provider::Ec2.name(), "ec2");
        assert_eq!(Provider::parse("static"), Some(Provider::Static));
        assert_eq!(Format::parse("md"), Some(Format::Markdown));
        assert_eq!(Format::names(), ["csv", "markdown", "mediawiki", "trac"]);
    }
}

/// Which two-sample test a comparison uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum TestKind {
    /// Mann–Whitney U, two-sided (no assumption of normality).
    #[default]
    #[value(name = "utest")]
    UTest,
    /// Welch's t, two-sided (unequal variances).
    Welch,
}

impl TestKind {
    pub fn name(self) -> &'static str {
        match self {
            TestKind::UTest => "Mann–Whitney U",
            TestKind::Welch => "Welch's t",
        }
    }
}
