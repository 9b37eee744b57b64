//! The house's rules, read from the source: ARCHITECTURE.md's table says
//! what each module may import, and the code must agree; no two files
//! import each other in a circle; the invariants the table's page lists
//! hold. (rust-analyzer's and rustc's "tidy" tests keep their invariants
//! the same way.) The README's exit codes are tested in `src/exit.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every `.rs` file under `src/`, as its module path (`plan/syntax`,
/// `exec`, `main`) and its text with comments and strings blanked out.
fn sources() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![PathBuf::from(ROOT).join("src")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(Path::new(ROOT).join("src")).unwrap();
                let mut name = rel.with_extension("").display().to_string();
                if let Some(parent) = name.strip_suffix("/mod") {
                    name = parent.to_string();
                }
                let text = std::fs::read_to_string(&p).unwrap();
                out.insert(name, code_only(&without_tests(&text)));
            }
        }
    }
    out
}

/// The text before a trailing `#[cfg(test)] mod …`.
fn without_tests(text: &str) -> String {
    match text.find("#[cfg(test)]\nmod ") {
        Some(i) => text[..i].to_string(),
        None => text.to_string(),
    }
}

/// Comments, string and char literals blanked out (newlines kept).
fn code_only(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            while i < b.len() && !(b[i] == '*' && b.get(i + 1) == Some(&'/')) {
                blank(&mut out, b[i]);
                i += 1;
            }
            out.push_str("  ");
            i += 2;
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&b, i) {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            while j < b.len()
                && !(b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')))
            {
                j += 1;
            }
            j += 1 + hashes;
            for &ch in &b[i..j.min(b.len())] {
                blank(&mut out, ch);
            }
            i = j;
        } else if c == '"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != '"' {
                if b[j] == '\\' {
                    j += 1;
                }
                j += 1;
            }
            for &ch in &b[i..(j + 1).min(b.len())] {
                blank(&mut out, ch);
            }
            i = j + 1;
        } else if c == '\'' && is_char_literal(&b, i) {
            let end = b[i + 1..].iter().position(|&x| x == '\'').unwrap() + i + 1;
            for _ in i..=end {
                out.push(' ');
            }
            i = end + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

/// `'x'`, `'\n'`, `'\''` — not a lifetime.
fn is_char_literal(b: &[char], i: usize) -> bool {
    matches!(
        (b.get(i + 1), b.get(i + 2)),
        (Some('\\'), _) | (Some(_), Some('\''))
    )
}

/// `crate::{a::B, c::{D, E}}` → `crate::a::B`, `crate::c::D`, `crate::c::E`.
fn expand(tree: &str) -> Vec<String> {
    let Some(open) = tree.find('{') else {
        return vec![tree.to_string()];
    };
    let close = tree.rfind('}').unwrap_or(tree.len());
    let (prefix, inner) = (&tree[..open], &tree[open + 1..close]);
    let mut parts = Vec::new();
    let (mut depth, mut cur) = (0, String::new());
    for ch in inner.chars() {
        match ch {
            ',' if depth == 0 => parts.push(std::mem::take(&mut cur)),
            '{' => {
                depth += 1;
                cur.push(ch);
            }
            '}' => {
                depth -= 1;
                cur.push(ch);
            }
            _ => cur.push(ch),
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| {
            if p == "self" {
                vec![prefix.trim_end_matches("::").to_string()]
            } else {
                expand(&format!("{prefix}{p}"))
            }
        })
        .collect()
}

/// The modules `name` imports (`crate::x::…`, `super::…`, and a parent's
/// own children), as module paths (`plan/model`), itself and its parent left out.
fn imports(name: &str, code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let parent = name.rsplit_once('/').map(|(p, _)| p.to_string());
    let resolve = |path: &str| -> Option<String> {
        let parts: Vec<&str> = path.split("::").collect();
        (1..=parts.len())
            .rev()
            .map(|i| parts[..i].join("/"))
            .find(|c| modules.contains(c))
    };
    let mut paths: Vec<String> = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let before = rest[..i].chars().last();
        let tail = &rest[i + 4..];
        rest = tail;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(end) = tail.find(';') {
            let tree: String = tail[..end].chars().filter(|c| !c.is_whitespace()).collect();
            paths.extend(expand(&tree));
        }
    }
    for word in code.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
        if word.starts_with("crate::") || word.starts_with("super::") {
            paths.push(word.trim_end_matches(':').to_string());
        } else if let Some((first, _)) = word.split_once("::")
            && !word.starts_with("::")
        {
            // A parent's plain use of a child (`hosts::add(…)`).
            paths.push(format!("{first}::"));
        }
    }
    let mut out = BTreeSet::new();
    for p in paths {
        let target = if let Some(r) = p.strip_prefix("crate::") {
            resolve(r)
        } else if let Some(r) = p.strip_prefix("super::") {
            match &parent {
                Some(par) => resolve(&format!("{}::{r}", par.replace('/', "::"))),
                None => resolve(r),
            }
        } else {
            // A parent's use of its own children: `use child::X`.
            let first = p.split("::").next().unwrap_or("");
            let child = if name == "main" || name == "lib" {
                first.to_string()
            } else {
                format!("{name}/{first}")
            };
            modules.contains(&child).then_some(child)
        };
        if let Some(t) = target
            && t != name
            && Some(&t) != parent.as_ref()
        {
            out.insert(t);
        }
    }
    out
}

fn top(module: &str) -> &str {
    module.split('/').next().unwrap_or(module)
}

/// ARCHITECTURE.md's table: module → what it may import (`None`: everything).
fn table() -> BTreeMap<String, Option<BTreeSet<String>>> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let mut rows = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
        assert_eq!(cells.len(), 3, "a row of three cells: {line}");
        let module = cells[0].trim().trim_matches('`').to_string();
        let allowed = cells[2].trim();
        let set = match allowed {
            "everything" => None,
            "—" => Some(BTreeSet::new()),
            list => Some(
                list.split(", ")
                    .map(|m| m.trim().trim_matches('`').to_string())
                    .collect(),
            ),
        };
        assert!(
            rows.insert(module.clone(), set).is_none(),
            "`{module}` has two rows"
        );
    }
    rows
}

#[test]
fn every_module_imports_only_what_architecture_md_allows() {
    let src = sources();
    let modules: BTreeSet<String> = src.keys().cloned().collect();
    let rows = table();
    let tops: BTreeSet<&str> = modules.iter().map(|m| top(m)).collect();
    for t in &tops {
        assert!(
            rows.contains_key(*t),
            "ARCHITECTURE.md has no row for `{t}`"
        );
    }
    for m in rows.keys() {
        assert!(
            tops.contains(m.as_str()),
            "ARCHITECTURE.md names `{m}`, which src/ does not have"
        );
    }
    let mut wrong = Vec::new();
    for (name, code) in &src {
        let Some(Some(allowed)) = rows.get(top(name)) else {
            continue;
        };
        for t in imports(name, code, &modules) {
            let t_top = top(&t);
            if t_top != top(name) && !allowed.contains(t_top) {
                wrong.push(format!("{name} imports {t}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports ARCHITECTURE.md does not allow:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_two_files_import_each_other_in_a_circle() {
    let src = sources();
    let modules: BTreeSet<String> = src.keys().cloned().collect();
    let edges: BTreeMap<String, BTreeSet<String>> = src
        .iter()
        .map(|(n, code)| (n.clone(), imports(n, code, &modules)))
        .collect();
    // A circle is a path back to where it started.
    let mut circles = Vec::new();
    for start in &modules {
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((at, path)) = stack.pop() {
            for next in edges.get(&at).into_iter().flatten() {
                if next == start {
                    circles.push(format!("{} → {start}", path.join(" → ")));
                } else if seen.insert(next.clone()) {
                    let mut p = path.clone();
                    p.push(next.clone());
                    stack.push((next.clone(), p));
                }
            }
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

/// Files of `src/` whose code matches any of `needles`, outside `allowed`
/// (module paths or their top-level folders).
fn offenders(needles: &[&str], allowed: &[&str]) -> Vec<String> {
    sources()
        .into_iter()
        .filter(|(name, _)| !allowed.iter().any(|a| name == a || top(name) == *a))
        .filter_map(|(name, code)| {
            let hits: Vec<&str> = needles
                .iter()
                .copied()
                .filter(|n| code.contains(n))
                .collect();
            (!hits.is_empty()).then(|| format!("{name}: {}", hits.join(", ")))
        })
        .collect()
}

#[test]
fn diff_is_pure_and_graph_does_no_io() {
    let io = [
        "fs_err",
        "std::fs",
        "std::io",
        "tokio",
        "std::process",
        "std::net",
        "std::env",
    ];
    let found: Vec<String> = sources()
        .into_iter()
        .filter(|(name, _)| matches!(top(name), "diff" | "graph"))
        .filter_map(|(name, code)| {
            let hits: Vec<&str> = io.iter().copied().filter(|n| code.contains(n)).collect();
            (!hits.is_empty()).then(|| format!("{name}: {}", hits.join(", ")))
        })
        .collect();
    assert!(
        found.is_empty(),
        "I/O in diff or graph:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_exec_provider_ssh_and_sftp_touch_the_network() {
    let net = [
        "TcpStream",
        "TcpListener",
        "UdpSocket",
        "tokio::net",
        "russh::client",
        "client::connect",
        "aws_config",
        "aws_sdk_ec2::Client",
        "rustix::net",
        "socket(",
        "packet_socket",
    ];
    // `os` holds the unsafe setup of the raw packet socket (unsafe lives
    // only there); only the provider (the delay line) may open one.
    // `analyze/promql` asks the throwaway Prometheus it starts on
    // 127.0.0.1 to read a trial's snapshot: no host is reached.
    // `publish/http` is a `[[publish]]` node's way to a wiki's API.
    let found = offenders(
        &net,
        &[
            "exec",
            "provider",
            "ssh",
            "sftp",
            "os",
            "analyze/promql",
            "publish/http",
        ],
    );
    assert!(
        found.is_empty(),
        "network outside exec/provider/ssh/sftp:\n{}",
        found.join("\n")
    );
    let os_sockets = offenders(&["os::packet_socket"], &["provider"]);
    assert!(
        os_sockets.is_empty(),
        "a packet socket outside the provider:\n{}",
        os_sockets.join("\n")
    );
}

/// Signals go only to processes runner recorded (an sshd's pid file, a
/// delay line's) or found inside the plan's own namespaces: the places
/// that send them are the local provider and the namespaces' code, and
/// no code looks processes up by command line alone to signal them.
#[test]
fn signals_go_only_where_the_providers_found_their_own() {
    let senders = offenders(&["os::terminate", "os::signal("], &["os"]);
    let allowed = ["provider/local", "provider/netns"];
    let wrong: Vec<&String> = senders
        .iter()
        .filter(|s| !allowed.iter().any(|a| s.starts_with(&format!("{a}:"))))
        .collect();
    assert!(wrong.is_empty(), "signals sent from:\n{wrong:?}");
    // In the namespaces' code, a process found by its command line is
    // only ever one inside the plan's namespace (`pids_in`).
    for file in [
        "src/provider/netns/mod.rs",
        "src/provider/netns/delay/mod.rs",
        "src/provider/netns/delay/control.rs",
        "src/provider/netns/delay/worker.rs",
    ] {
        let text = std::fs::read_to_string(Path::new(ROOT).join(file)).unwrap();
        assert!(
            !without_tests(&text).contains("read_dir(\"/proc\")"),
            "{file} looks processes up in all of /proc"
        );
    }
}

#[test]
fn only_the_reporter_and_the_commands_write_the_terminal() {
    let terminal = [
        "println!",
        "print!",
        "eprintln!",
        "eprint!",
        "io::stdout()",
        "io::stderr()",
    ];
    let found = offenders(
        &terminal,
        &["reporter", "out", "style", "main", "lib", "commands"],
    );
    assert!(
        found.is_empty(),
        "terminal writes outside the reporter:\n{}",
        found.join("\n")
    );
}

#[test]
fn unsafe_only_in_os_each_with_its_safety_line() {
    let found = offenders(&["unsafe "], &["os"]);
    assert!(found.is_empty(), "unsafe outside os:\n{}", found.join("\n"));
    let text = std::fs::read_to_string(Path::new(ROOT).join("src/os.rs")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if l.trim_start().starts_with("unsafe {") {
            let before = &lines[i.saturating_sub(6)..i];
            assert!(
                before
                    .iter()
                    .any(|b| b.trim_start().starts_with("// SAFETY:")),
                "src/os.rs:{}: `unsafe` without a `// SAFETY:` line",
                i + 1
            );
        }
    }
}

/// The repository stands alone: a clone with nothing beside it passes its
/// tests, so no source, test, script or CI step reads the folder beside it.
#[test]
fn nothing_reads_outside_the_repository() {
    let needle = format!("..{}shared", '/');
    let mut found = Vec::new();
    let mut stack: Vec<PathBuf> = ["src", "tests", "scripts", ".ci", "bench"]
        .iter()
        .map(|d| Path::new(ROOT).join(d))
        .collect();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(text) = std::fs::read_to_string(&p)
                && text.contains(&needle)
            {
                found.push(p.strip_prefix(ROOT).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    assert!(
        found.is_empty(),
        "files that read outside the repository ({needle}):\n{}",
        found.join("\n")
    );
}
