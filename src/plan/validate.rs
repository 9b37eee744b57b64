//! `RawPlan` → `Plan`: names, references, resource files, provider facts.
//! Every problem becomes a `Diagnostic`; all of them are returned together.

use std::path::Path;
use std::time::Duration;

use super::model::{
    Action, Analysis, At, By, Collect, FixedHost, Group, HostSpec, Monitor, Plan, Provider, Step,
    Test,
};
use super::syntax::{RawPlan, RawStep, Sp};
use super::values;
use crate::diag::Diagnostic;

/// Steps run at most this long unless they say otherwise.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(600);

pub struct Context<'a> {
    pub file: &'a Path,
    pub file_hash: String,
    /// Resource paths are relative to this directory (the working directory).
    pub base: &'a Path,
}

pub fn validate(raw: RawPlan, cx: Context<'_>) -> Result<Plan, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let name = match &raw.name {
        None => {
            diags.push(
                Diagnostic::new("the plan has no `name`", Some(0..0))
                    .help("add `name = \"my-test\"` at the top (lowercase letters, digits, `-`)"),
            );
            String::new()
        }
        Some(n) => {
            check_name(n, "plan name", &mut diags);
            n.value.clone()
        }
    };
    let provider = match &raw.provider.kind {
        None => Provider::Local,
        Some(k) => Provider::parse(&k.value).unwrap_or_else(|| {
            diags.push(values::unknown(
                "provider",
                &k.value,
                k.span.clone(),
                &Provider::names(),
            ));
            Provider::Local
        }),
    };
    let ec2 = (provider == Provider::Ec2)
        .then(|| super::ec2::validate_config(&raw, &name, &mut diags))
        .flatten();
    if provider != Provider::Ec2 {
        super::ec2::refuse_ec2_keys(&raw, &mut diags);
    }
    let groups = validate_groups(&raw, &provider, &mut diags);
    if let Some(config) = &ec2 {
        super::ec2::check_groups(&raw, config, &groups, &mut diags);
    }
    if raw.groups.is_empty() {
        diags.push(
            Diagnostic::new("the plan defines no groups", Some(0..0))
                .help("add a group, for example `[groups.server]` with `count = 1`"),
        );
    }
    let mut steps = Vec::new();
    for (i, s) in raw.steps.iter().enumerate() {
        if let Some(step) =
            validate_step(s, &raw.steps[..i], &raw.steps, &groups, cx.base, &mut diags)
        {
            steps.push(step);
        }
    }
    let analyses = validate_analyses(&raw, &mut diags);
    let monitors = validate_monitors(&raw, &groups, &mut diags);
    let tests = validate_tests(&raw, &groups, &mut diags);
    let collects = validate_collects(&raw, &groups, &mut diags);
    let checks = super::checks::validate(&raw, &analyses, &mut diags);
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(Plan {
        name,
        file: cx.file.to_path_buf(),
        file_hash: cx.file_hash,
        provider,
        workdir: raw.provider.workdir.as_ref().map(|w| w.value.clone()),
        ec2,
        vars: raw.vars,
        groups,
        steps,
        monitors,
        tests,
        collects,
        analyses,
        checks,
    })
}

/// How long a monitor gets between TERM and KILL unless it says otherwise.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a test may run unless it says otherwise.
pub const DEFAULT_TEST_TIMEOUT: Duration = Duration::from_secs(600);

/// A section's `name`: present, well-formed and not used twice in `seen`.
fn section_name(
    name: Option<&Sp<String>>,
    kind: &str,
    span: &std::ops::Range<usize>,
    seen: &mut Vec<String>,
    diags: &mut Vec<Diagnostic>,
) -> Option<String> {
    let Some(name) = name else {
        diags.push(
            Diagnostic::at(
                format!("a `[[{kind}]]` has no `name`"),
                span.start..span.start,
            )
            .help(format!(
                "add `name = \"…\"`: it names the {kind}'s output folder and its node"
            )),
        );
        return None;
    };
    check_name(name, &format!("{kind} name"), diags);
    if seen.contains(&name.value) {
        diags.push(Diagnostic::at(
            format!("{kind} `{}` is defined twice", name.value),
            name.span.clone(),
        ));
    }
    seen.push(name.value.clone());
    Some(name.value.clone())
}

fn required_run<'a>(
    run: Option<&'a Sp<String>>,
    what: &str,
    at: std::ops::Range<usize>,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'a Sp<String>> {
    if run.is_none() {
        diags.push(Diagnostic::at(format!("{what} has no `run`"), at).help(
            "give the command: `run = \"…\"` (a template: `{{ out }}` is its output folder)",
        ));
    }
    run
}

fn validate_monitors(raw: &RawPlan, groups: &[Group], diags: &mut Vec<Diagnostic>) -> Vec<Monitor> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for m in &raw.monitors {
        let Some(name) = section_name(m.name.as_ref(), "monitor", &m.span, &mut seen, diags) else {
            continue;
        };
        let what = format!("monitor `{name}`");
        let at = m.name.as_ref().map_or(m.span.clone(), |n| n.span.clone());
        let hosts = resolve_on(m.on.as_ref(), &what, at.clone(), groups, diags);
        let stop_timeout = values::duration(
            m.stop_timeout.as_ref(),
            "stop_timeout",
            DEFAULT_STOP_TIMEOUT,
            diags,
        );
        if let Some(run) = required_run(m.run.as_ref(), &what, at, diags) {
            out.push(Monitor {
                name,
                hosts,
                run: run.value.clone(),
                run_span: run.span.clone(),
                stop_timeout,
            });
        }
    }
    out
}

fn validate_tests(raw: &RawPlan, groups: &[Group], diags: &mut Vec<Diagnostic>) -> Vec<Test> {
    let mut seen: Vec<String> = raw
        .monitors
        .iter()
        .filter_map(|m| m.name.as_ref().map(|n| n.value.clone()))
        .collect();
    let monitors = seen.len();
    let mut out = Vec::new();
    for t in &raw.tests {
        let name_clash = t
            .name
            .as_ref()
            .filter(|n| seen[..monitors].contains(&n.value));
        if let Some(n) = name_clash {
            diags.push(
                Diagnostic::at(
                    format!("test `{}` has the name of a monitor", n.value),
                    n.span.clone(),
                )
                .help("tests and monitors share the trial's folders: give them different names"),
            );
            continue;
        }
        let Some(name) = section_name(t.name.as_ref(), "test", &t.span, &mut seen, diags) else {
            continue;
        };
        let what = format!("test `{name}`");
        let head = t.name.as_ref().map_or(t.span.clone(), |n| n.span.clone());
        let hosts = resolve_on(t.on.as_ref(), &what, head.clone(), groups, diags);
        let timeout = values::duration(t.timeout.as_ref(), "timeout", DEFAULT_TEST_TIMEOUT, diags);
        let at = match &t.at {
            None => At::Offset(Duration::ZERO),
            Some(a) => parse_at(a, diags),
        };
        if let Some(run) = required_run(t.run.as_ref(), &what, head, diags) {
            out.push(Test {
                name,
                hosts,
                run: run.value.clone(),
                run_span: run.span.clone(),
                at,
                timeout,
            });
        }
    }
    out
}

/// `+30s` (after the trigger) or an RFC 3339 UTC time.
fn parse_at(a: &Sp<String>, diags: &mut Vec<Diagnostic>) -> At {
    let text = a.value.trim();
    if let Some(rest) = text.strip_prefix('+') {
        match values::checked_duration(rest) {
            Ok(d) => return At::Offset(d),
            // A duration, but too long: said with the maximum.
            Err(help) if super::model::parse_duration(rest).is_some() => {
                diags.push(
                    Diagnostic::at(format!("invalid `at` time `{}`", a.value), a.span.clone())
                        .help(help),
                );
                return At::Offset(Duration::ZERO);
            }
            Err(_) => {}
        }
    } else if let Ok(t) = humantime::parse_rfc3339(text)
        && let Ok(d) = t.duration_since(std::time::UNIX_EPOCH)
    {
        return At::Epoch(d.as_secs_f64());
    }
    diags.push(
        Diagnostic::at(format!("invalid `at` time `{}`", a.value), a.span.clone()).help(
            "write `+30s` (after the trial's trigger) or a UTC time such as `2026-11-23T18:00:00Z`",
        ),
    );
    At::Offset(Duration::ZERO)
}

fn validate_collects(raw: &RawPlan, groups: &[Group], diags: &mut Vec<Diagnostic>) -> Vec<Collect> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for (i, c) in raw.collects.iter().enumerate() {
        let name = match &c.name {
            Some(_) => section_name(c.name.as_ref(), "collect", &c.span, &mut seen, diags),
            None => {
                // Unnamed: `files`, `files-2`, …
                let n = if i == 0 {
                    "files".to_string()
                } else {
                    format!("files-{}", i + 1)
                };
                seen.push(n.clone());
                Some(n)
            }
        };
        let Some(name) = name else { continue };
        let what = format!("collect `{name}`");
        let head = c
            .name
            .as_ref()
            .map_or(c.span.start..c.span.start, |n| n.span.clone());
        let hosts = resolve_on(c.on.as_ref(), &what, head.clone(), groups, diags);
        let Some(files) = &c.files else {
            diags.push(Diagnostic::at(format!("{what} has no `files`"), head).help(
                "add `files = [\"*.csv\"]` (globs relative to each host's working directory)",
            ));
            continue;
        };
        for g in &files.value {
            if g.value.trim().is_empty() || g.value.trim() == "." {
                diags.push(
                    Diagnostic::at(
                        format!("{what}: `{}` names no file", g.value),
                        g.span.clone(),
                    )
                    .help("give globs such as `logs/*.csv` or `**/*.hlog`"),
                );
                continue;
            }
            let escapes = g.value.starts_with('/')
                || std::path::Path::new(&g.value)
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir));
            if escapes {
                diags.push(
                    Diagnostic::at(
                        format!("{what}: `{}` leaves the host's working directory", g.value),
                        g.span.clone(),
                    )
                    .help("collect globs are relative to the host's working directory; `..` and absolute paths are refused"),
                );
            } else if let Err(e) = crate::glob::glob_set(std::slice::from_ref(&g.value)) {
                diags.push(Diagnostic::at(e.to_string(), g.span.clone()).help(
                    "globs take `*`, `?`, `[abc]` within a path component and `**` across them",
                ));
            }
        }
        out.push(Collect {
            name,
            hosts,
            files: files.value.iter().map(|g| g.value.clone()).collect(),
        });
    }
    out
}

fn validate_analyses(raw: &RawPlan, diags: &mut Vec<Diagnostic>) -> Vec<Analysis> {
    use crate::kinds::Format;
    use crate::kinds::ParserKind;
    let mut out: Vec<Analysis> = Vec::new();
    for a in &raw.analyses {
        let head = a.span.start..a.span.start;
        let Some(name) = &a.name else {
            diags.push(Diagnostic::at("an `[[analyze]]` has no `name`", head).help(
                "add `name = \"throughput\"`; the tables are written as analysis/<name>.<format>",
            ));
            continue;
        };
        check_name(name, "analysis name", diags);
        if out.iter().any(|o| o.name == name.value) {
            diags.push(Diagnostic::at(
                format!("analysis `{}` is defined twice", name.value),
                name.span.clone(),
            ));
        }
        let parser = match &a.parser {
            None => {
                diags.push(
                    Diagnostic::at(
                        format!("analysis `{}` has no `parser`", name.value),
                        name.span.clone(),
                    )
                    .help("add `parser = \"hdr\"` (or iperf3, iperf2, dstat, csv)"),
                );
                None
            }
            Some(p) => {
                let kind = ParserKind::parse(&p.value);
                if kind.is_none() {
                    diags.push(values::unknown(
                        "parser",
                        &p.value,
                        p.span.clone(),
                        &ParserKind::names(),
                    ));
                }
                kind
            }
        };
        let files: Vec<String> = match &a.files {
            Some(f) if !f.value.is_empty() => {
                for g in &f.value {
                    if let Err(e) = crate::glob::glob_set(std::slice::from_ref(&g.value)) {
                        diags.push(Diagnostic::at(e.to_string(), g.span.clone()).help(
                            "globs take `*`, `?`, `[abc]` within a path component and `**` across them",
                        ));
                    }
                }
                f.value.iter().map(|g| g.value.clone()).collect()
            }
            Some(f) => {
                diags.push(Diagnostic::at(
                    format!("analysis `{}` names no files", name.value),
                    f.span.clone(),
                ));
                Vec::new()
            }
            None => {
                diags.push(Diagnostic::at(format!("analysis `{}` has no `files`", name.value), name.span.clone()).help("add `files = \"*/tcp/stdout\"` (globs relative to the trial directory: <host>/<test>/…)"));
                Vec::new()
            }
        };
        let mut by = Vec::new();
        for b in &a.by {
            match b.value.as_str() {
                "test" => by.push(By::Test),
                "host" => by.push(By::Host),
                "file" => by.push(By::File),
                other => {
                    let d = Diagnostic::at(format!("unknown `by` value `{other}`"), b.span.clone())
                        .help("expected `test`, `host` or `file`");
                    diags.push(d.suggest(other, ["test", "host", "file"]));
                }
            }
        }
        let mut formats = Vec::new();
        match &a.formats {
            None => formats.extend([Format::Csv, Format::Markdown, Format::Mediawiki]),
            Some(list) => {
                for f in &list.value {
                    match Format::parse(&f.value) {
                        Some(x) => formats.push(x),
                        None => diags.push(values::unknown(
                            "format",
                            &f.value,
                            f.span.clone(),
                            &Format::names(),
                        )),
                    }
                }
            }
        }
        if let Some(parser) = parser {
            out.push(Analysis {
                name: name.value.clone(),
                parser,
                files,
                by,
                formats,
                unit: a
                    .unit
                    .as_ref()
                    .map_or_else(|| "ns".to_string(), |u| u.value.clone()),
                tag: a
                    .tag
                    .as_ref()
                    .map_or_else(|| "each".to_string(), |t| t.value.clone()),
                columns: a.columns.iter().map(|c| c.value.clone()).collect(),
            });
        }
    }
    out
}

fn check_name(n: &Sp<String>, what: &str, diags: &mut Vec<Diagnostic>) -> bool {
    let ok = !n.value.is_empty()
        && n.value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        diags.push(
            Diagnostic::at(format!("invalid {what} `{}`", n.value), n.span.clone())
                .help("use lowercase letters, digits, `-` and `_`"),
        );
    }
    ok
}

fn validate_groups(raw: &RawPlan, provider: &Provider, diags: &mut Vec<Diagnostic>) -> Vec<Group> {
    let mut groups = Vec::new();
    for g in &raw.groups {
        check_name(&g.name, "group name", diags);
        let mut hosts = Vec::new();
        match provider {
            Provider::Local | Provider::Ec2 => {
                if let Some(h) = &g.hosts {
                    diags.push(
                        Diagnostic::at(
                            format!(
                                "group `{}` lists `hosts`, which only the `static` provider uses",
                                g.name.value
                            ),
                            h.span.clone(),
                        )
                        .help(format!(
                            "use `count = N` with the `{}` provider",
                            provider.name()
                        )),
                    );
                }
                match &g.count {
                    None => diags.push(
                        Diagnostic::at(
                            format!("group `{}` has no `count`", g.name.value),
                            g.name.span.clone(),
                        )
                        .help("add `count = 1` (or more) to the group"),
                    ),
                    Some(c) if c.value < 1 => diags.push(
                        Diagnostic::at(
                            format!("group `{}` is empty (`count = {}`)", g.name.value, c.value),
                            c.span.clone(),
                        )
                        .help(
                            "a group needs at least one host; remove the group or set `count = 1`",
                        ),
                    ),
                    Some(c) if c.value > 10_000 => diags.push(Diagnostic::at(
                        format!(
                            "group `{}` asks for {} hosts; the limit is 10000",
                            g.name.value, c.value
                        ),
                        c.span.clone(),
                    )),
                    Some(c) => {
                        for index in 0..c.value as usize {
                            hosts.push(HostSpec {
                                name: format!("{}[{index}]", g.name.value),
                                group: g.name.value.clone(),
                                index,
                                fixed: None,
                                ec2: (*provider == Provider::Ec2)
                                    .then(|| super::ec2::host_of(raw, g)),
                            });
                        }
                    }
                }
            }
            Provider::Static => {
                let Some(list) = &g.hosts else {
                    diags.push(
                        Diagnostic::at(format!("group `{}` lists no `hosts`", g.name.value), g.name.span.clone())
                            .help("the `static` provider needs `hosts = [{ address = \"…\", host_key = \"ssh-ed25519 …\" }]`"),
                    );
                    groups.push(Group {
                        name: g.name.value.clone(),
                        vars: g.vars.clone(),
                        hosts,
                    });
                    continue;
                };
                if list.value.is_empty() {
                    diags.push(Diagnostic::at(
                        format!("group `{}` is empty (`hosts = []`)", g.name.value),
                        list.span.clone(),
                    ));
                }
                if let Some(c) = &g.count
                    && c.value != list.value.len() as i64
                {
                    diags.push(
                        Diagnostic::at(
                            format!(
                                "group `{}` has `count = {}` but lists {} hosts",
                                g.name.value,
                                c.value,
                                list.value.len()
                            ),
                            c.span.clone(),
                        )
                        .help("remove `count`; a static group has as many hosts as it lists"),
                    );
                }
                for (index, h) in list.value.iter().enumerate() {
                    let name = format!("{}[{index}]", g.name.value);
                    let fixed = validate_fixed_host(h, &name, raw, diags);
                    hosts.push(HostSpec {
                        name,
                        group: g.name.value.clone(),
                        index,
                        fixed,
                        ec2: None,
                    });
                }
            }
        }
        groups.push(Group {
            name: g.name.value.clone(),
            vars: g.vars.clone(),
            hosts,
        });
    }
    groups
}

fn validate_fixed_host(
    h: &super::syntax::RawHost,
    name: &str,
    raw: &RawPlan,
    diags: &mut Vec<Diagnostic>,
) -> Option<FixedHost> {
    let missing = |key: &str, example: &str| {
        Diagnostic::at(format!("host `{name}` has no `{key}`"), h.span.clone())
            .help(format!("add `{key} = {example}`"))
    };
    let Some(address) = &h.address else {
        diags.push(missing("address", "\"10.0.0.5\""));
        return None;
    };
    let port = match &h.port {
        None => 22,
        Some(p) if (1..=65535).contains(&p.value) => p.value as u16,
        Some(p) => {
            diags.push(Diagnostic::at(
                format!("port {} of host `{name}` is out of range", p.value),
                p.span.clone(),
            ));
            return None;
        }
    };
    let user = h
        .user
        .as_ref()
        .or(raw.provider.user.as_ref())
        .map(|u| u.value.clone())
        .unwrap_or_else(crate::os::current_user);
    let Some(identity) = h.identity.as_ref().or(raw.provider.identity.as_ref()) else {
        diags.push(
            missing("identity", "\"~/.ssh/id_ed25519\"")
                .help("name the private key to log in with, on the host or in `[provider]`"),
        );
        return None;
    };
    let identity_path = values::expand_home(&identity.value);
    if !identity_path.is_file() {
        diags.push(
            Diagnostic::at(
                format!("identity file `{}` does not exist", identity_path.display()),
                identity.span.clone(),
            )
            .help("give the path of an existing private key"),
        );
    }
    let Some(key) = &h.host_key else {
        diags.push(missing("host_key", "\"ssh-ed25519 AAAA…\"").help(
            "host keys are always pinned: copy the line from the host's /etc/ssh/ssh_host_ed25519_key.pub",
        ));
        return None;
    };
    if russh::keys::PublicKey::from_openssh(key.value.trim()).is_err() {
        diags.push(
            Diagnostic::at(
                format!("`host_key` of host `{name}` is not an OpenSSH public key"),
                key.span.clone(),
            )
            .help("expected `ssh-ed25519 AAAA…` as in a `.pub` file"),
        );
        return None;
    }
    Some(FixedHost {
        address: address.value.clone(),
        port,
        user,
        identity: identity_path,
        host_key: key.value.trim().to_string(),
    })
}

fn validate_step(
    s: &RawStep,
    earlier: &[RawStep],
    all: &[RawStep],
    groups: &[Group],
    base: &Path,
    diags: &mut Vec<Diagnostic>,
) -> Option<Step> {
    let head = s.span.start..s.span.start;
    let Some(name) = &s.name else {
        diags.push(
            Diagnostic::at("a `[[step]]` has no `name`", head)
                .help("add `name = \"…\"` to the step"),
        );
        return None;
    };
    check_name(name, "step name", diags);
    if earlier
        .iter()
        .any(|e| e.name.as_ref().is_some_and(|n| n.value == name.value))
    {
        diags.push(
            Diagnostic::at(
                format!("step `{}` is defined twice", name.value),
                name.span.clone(),
            )
            .help("give each step its own name"),
        );
    }
    let hosts = resolve_on(
        s.on.as_ref(),
        &format!("step `{}`", name.value),
        s.name.as_ref().map_or(s.span.clone(), |n| n.span.clone()),
        groups,
        diags,
    );
    let actions: Vec<(&str, &Sp<String>)> = [
        ("run", &s.run),
        ("upload", &s.upload),
        ("template", &s.template),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    .collect();
    let (kind, value) = match actions.as_slice() {
        [one] => *one,
        [] => {
            diags.push(
                Diagnostic::at(format!("step `{}` has nothing to do", name.value), name.span.clone())
                    .help("add one of `run = \"…\"`, `upload = \"resources/…\"` or `template = \"resources/…\"`"),
            );
            return None;
        }
        [_, (second, v), ..] => {
            diags.push(
                Diagnostic::at(
                    format!(
                        "step `{}` has more than one of `run`, `upload`, `template`",
                        name.value
                    ),
                    v.span.clone(),
                )
                .help(format!("split it into two steps; remove `{second}` here")),
            );
            return None;
        }
    };
    let action = match kind {
        "run" => {
            if let Some(d) = &s.dest {
                diags.push(Diagnostic::at(
                    format!("step `{}` runs a command and takes no `dest`", name.value),
                    d.span.clone(),
                ));
            }
            Action::Run {
                command: value.value.clone(),
            }
        }
        _ => {
            let source = base.join(&value.value);
            let dest = match &s.dest {
                Some(d) if !d.value.is_empty() => d.value.clone(),
                _ => {
                    diags.push(
                        Diagnostic::at(format!("step `{}` has no `dest`", name.value), value.span.clone())
                            .help("add `dest = \"path/on/host\"` (relative to the host's working directory)"),
                    );
                    return None;
                }
            };
            let bytes = match fs_err::read(&source) {
                Ok(b) => b,
                Err(_) => {
                    diags.push(
                        Diagnostic::at(
                            format!("resource file `{}` does not exist", value.value),
                            value.span.clone(),
                        )
                        .help(format!(
                            "paths are relative to the working directory {}",
                            base.display()
                        )),
                    );
                    return None;
                }
            };
            if kind == "upload" {
                Action::Upload {
                    source,
                    bytes: std::sync::Arc::new(bytes),
                    dest,
                }
            } else {
                match String::from_utf8(bytes) {
                    Ok(text) => Action::Template {
                        name: value.value.clone(),
                        source,
                        text,
                        dest,
                    },
                    Err(_) => {
                        diags.push(Diagnostic::at(
                            format!("template `{}` is not UTF-8 text", value.value),
                            value.span.clone(),
                        ));
                        return None;
                    }
                }
            }
        }
    };
    let mut after = Vec::new();
    let mut after_spans = Vec::new();
    for a in &s.after {
        if a.value == name.value {
            diags.push(Diagnostic::at(
                format!("step `{}` cannot run after itself", name.value),
                a.span.clone(),
            ));
        } else if all
            .iter()
            .any(|o| o.name.as_ref().is_some_and(|n| n.value == a.value))
        {
            after.push(a.value.clone());
            after_spans.push(a.span.clone());
        } else {
            diags.push(
                Diagnostic::at(
                    format!(
                        "step `{}` runs after `{}`, which is not defined",
                        name.value, a.value
                    ),
                    a.span.clone(),
                )
                .suggest(
                    &a.value,
                    all.iter()
                        .filter_map(|o| o.name.as_ref().map(|n| n.value.as_str())),
                ),
            );
        }
    }
    let timeout = values::duration(s.timeout.as_ref(), "timeout", DEFAULT_STEP_TIMEOUT, diags);
    Some(Step {
        name: name.value.clone(),
        hosts,
        action,
        after,
        timeout,
        span: s.span.clone(),
        action_span: value.span.clone(),
        after_spans,
    })
}

/// `on = ["client", "server[0]"]` → host names, in the order written, no duplicates.
fn resolve_on(
    on: Option<&Sp<Vec<Sp<String>>>>,
    what: &str,
    at: std::ops::Range<usize>,
    groups: &[Group],
    diags: &mut Vec<Diagnostic>,
) -> Vec<String> {
    let Some(on) = on else {
        diags.push(
            Diagnostic::at(format!("{what} has no `on`"), at)
                .help("say where it runs: `on = [\"group\"]`"),
        );
        return Vec::new();
    };
    let names = || groups.iter().map(|g| g.name.as_str());
    let by_name: std::collections::HashMap<&str, &Group> =
        groups.iter().map(|g| (g.name.as_str(), g)).collect();
    let mut hosts: Vec<String> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for target in &on.value {
        let (group_name, index) = match target.value.split_once('[') {
            Some((g, rest)) => match rest.strip_suffix(']').and_then(|i| i.parse::<usize>().ok()) {
                Some(i) => (g, Some(i)),
                None => {
                    diags.push(
                        Diagnostic::at(
                            format!("`{}` is not a group or a host", target.value),
                            target.span.clone(),
                        )
                        .help("write a group name (`client`) or one host (`client[0]`)"),
                    );
                    continue;
                }
            },
            None => (target.value.as_str(), None),
        };
        let Some(group) = by_name.get(group_name) else {
            diags.push(
                Diagnostic::at(
                    format!("group `{group_name}` is not defined"),
                    target.span.clone(),
                )
                .suggest(group_name, names()),
            );
            continue;
        };
        let picked: Vec<&HostSpec> = match index {
            None => group.hosts.iter().collect(),
            Some(i) => match group.hosts.get(i) {
                Some(h) => vec![h],
                None => {
                    diags.push(
                        Diagnostic::at(
                            format!(
                                "host `{}` does not exist: group `{}` has {} hosts",
                                target.value,
                                group.name,
                                group.hosts.len()
                            ),
                            target.span.clone(),
                        )
                        .help(format!(
                            "hosts are numbered from 0 to {}",
                            group.hosts.len().saturating_sub(1)
                        )),
                    );
                    continue;
                }
            },
        };
        for h in picked {
            if seen.insert(h.name.clone()) {
                hosts.push(h.name.clone());
            }
        }
    }
    hosts
}
