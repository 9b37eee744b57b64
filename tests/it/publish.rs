//! `[[publish]]` against a real MediaWiki (Debian's, on SQLite, served by
//! `php -S` on 127.0.0.1, started and stopped by PID) and a git folder:
//! the page rendered by the wiki has the CSV's cells; an unchanged page is
//! not edited again (its revision stays); a changed analysis makes one new
//! revision; a wrong password, a protected page, someone else's edit and
//! a wiki that is down are clear errors, and the trial stays complete.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Project, Run, wait_bounded};

const MW_PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wiki/mw.py");
const PAGE: &str = "Performance/Nightly";
/// A page people wrote, whose intro (section 0) runner replaces.
const INTRO: &str = "Performance/Intro";
/// Cells that break a wiki table when pasted as they are.
const NAME: &str = "a|b || [[x]] {{y}}";

/// A scratch MediaWiki, served until dropped.
struct Wiki {
    dir: tempfile::TempDir,
    server: Child,
    api: String,
    password: String,
}

impl Wiki {
    fn start() -> Wiki {
        let dir = tempfile::Builder::new()
            .prefix("runner-mw-")
            .tempdir()
            .unwrap();
        let out = Command::new("python3")
            .args([MW_PY, "setup", dir.path().to_str().unwrap()])
            .output()
            .expect("python3 and MediaWiki (scripts/install-tools --tests installs them)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let password = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = Command::new("php")
            .args([
                "-S",
                &format!("127.0.0.1:{port}"),
                "-t",
                "/usr/share/mediawiki",
            ])
            .env("MW_CONFIG_FILE", dir.path().join("conf/LocalSettings.php"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let wiki = Wiki {
            dir,
            server,
            api: format!("http://127.0.0.1:{port}/api.php"),
            password,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "php -S did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        wiki
    }

    fn py(&self, args: &[&str], stdin: &str) -> String {
        let mut child = Command::new("python3")
            .arg(MW_PY)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
        let out = wait_bounded(child, Duration::from_secs(60));
        assert_eq!(out.code, 0, "mw.py {args:?}: {out:?}");
        out.stdout
    }

    /// The page's revision ids, newest first.
    fn revisions(&self) -> Vec<u64> {
        let v: Value = serde_json::from_str(&self.py(&["revisions", &self.api, PAGE], "")).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["revid"].as_u64().unwrap())
            .collect()
    }

    fn tables(&self) -> Vec<Value> {
        let v: Value = serde_json::from_str(&self.py(&["cells", &self.api, PAGE], "")).unwrap();
        v.as_array().unwrap().clone()
    }

    fn dir(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }
}

impl Drop for Wiki {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// One host; the test writes a row named [`NAME`] with the time a sleep
/// took; the table is published to `target`.
fn plan(units: &str, target: &str) -> String {
    format!(
        r#"name = "pub"
[groups.h]
count = 1
[[test]]
name = "t"
on = ["h"]
run = "printf 'name,ms\n\"{NAME}\",1%s\n' $(date +%S) > {{{{ out }}}}/value.csv"
[[analyze]]
name = "sleep"
parser = "csv"
files = "*/t/value.csv"
key = ["name"]
units = {{ ms = "{units}" }}
formats = ["csv"]
[[publish]]
page = "{PAGE}"
{target}
"#
    )
    .replace("{{y}}", "{{ '{{' }}y}}")
}

fn wiki_target(wiki: &Wiki) -> String {
    format!(
        "wiki = \"{api}\"\nuser = \"Admin@runner\"\n[[publish]]\npage = \"{INTRO}\"\nsection = 0\nwiki = \"{api}\"\nuser = \"Admin@runner\"",
        api = wiki.api
    )
}

/// The intro page: runner's table in its section 0, once, and what people
/// wrote below it kept.
fn intro_is_kept(wiki: &Wiki) {
    let text = wiki.py(&["text", &wiki.api, INTRO], "");
    assert_eq!(text.matches("{| class=\"wikitable\"").count(), 1, "{text}");
    assert_eq!(text.matches("== Notes ==").count(), 1, "{text}");
    assert!(text.contains("Written by people."), "{text}");
    assert!(!text.contains("Old intro."), "{text}");
}

fn apply(p: &Project, password: &str, extra: &[&str]) -> Run {
    let mut args = vec!["apply", "plan.toml", "--yes"];
    args.extend(extra);
    let child = p
        .command(&args)
        .env("RUNNER_WIKI_PASSWORD", password)
        .spawn()
        .unwrap();
    wait_bounded(child, Duration::from_secs(120))
}

fn plan_output(p: &Project) -> String {
    let r = p.run(&["plan", "plan.toml"]);
    assert_eq!(r.code, 0, "{r:?}");
    r.stdout
}

/// The latest trial's folder and its status.
fn latest_trial(p: &Project) -> (PathBuf, String) {
    let id = p.run_folders("pub").pop().unwrap();
    let dir = p.path().join("trials/pub").join(&id);
    let t: Value = serde_json::from_str(&p.read(&format!("trials/pub/{id}/trial.json"))).unwrap();
    (dir, t["status"].as_str().unwrap().to_string())
}

/// The analysis' CSV as the page must show it: its header and cells
/// (numbers as the table rounds them are checked apart).
fn csv_cells(dir: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(dir.join("analysis/sleep.csv")).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    (headers, rows)
}

#[test]
fn tables_are_published_to_a_real_mediawiki_once_per_change_and_failures_leave_the_trial_complete()
{
    let wiki = Wiki::start();
    wiki.py(
        &["edit", wiki.dir(), INTRO, "Other"],
        "Old intro.\n== Notes ==\nWritten by people.\n",
    );
    let p = Project::new();
    p.write("plan.toml", &plan("ms", &wiki_target(&wiki)));
    assert!(plan_output(&p).contains("+ publish Performance/Nightly"));

    // Published: the wiki renders the CSV's cells, those that break
    // tables included.
    apply(&p, &wiki.password, &[]).ok();
    let first = wiki.revisions();
    assert_eq!(first.len(), 1, "{first:?}");
    let (dir, status) = latest_trial(&p);
    assert_eq!(status, "complete");
    intro_is_kept(&wiki);
    let (headers, rows) = csv_cells(&dir);
    let tables = wiki.tables();
    assert_eq!(tables.len(), 1, "{tables:?}");
    let shown: Vec<String> = tables[0]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_string())
        .collect();
    assert_eq!(shown, headers);
    let body = &tables[0]["rows"][0];
    assert!(rows[0].contains(&NAME.to_string()), "{rows:?}");
    for (i, cell) in rows[0].iter().enumerate() {
        let on_wiki = body[i].as_str().unwrap();
        match (on_wiki.parse::<f64>(), cell.parse::<f64>()) {
            // Rounded as the table's column says.
            (Ok(w), Ok(c)) => assert!((w - c).abs() < 0.5, "{on_wiki} vs {cell}"),
            _ => assert_eq!(on_wiki, cell),
        }
    }

    // Unchanged: no plan change, and an apply makes no edit.
    assert!(plan_output(&p).contains("No changes."));
    apply(&p, &wiki.password, &[]).ok();
    assert_eq!(wiki.revisions(), first);

    // The analysis changes: the plan says the page will, one new revision.
    p.write("plan.toml", &plan("s", &wiki_target(&wiki)));
    let shown = plan_output(&p);
    assert!(shown.contains("~ publish Performance/Nightly"), "{shown}");
    let r = apply(&p, &wiki.password, &[]);
    r.ok();
    let second = wiki.revisions();
    assert_eq!(second.len(), 2, "{second:?}");
    assert!(wiki.tables()[0]["headers"].to_string().contains("ms (s)"));
    intro_is_kept(&wiki);

    // A wrong password: a clear error, the new trial complete, no edit;
    // the page is still to be published.
    let r = apply(&p, "0123456789abcdefghijklmnopqrstuu", &["--new-trial"]);
    assert_eq!(r.code, 1, "{r:?}");
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(said.contains("refused the login of Admin@runner"), "{said}");
    assert!(said.contains("Special:BotPasswords"), "{said}");
    assert_eq!(latest_trial(&p).1, "complete");
    assert_eq!(wiki.revisions(), second);
    assert!(plan_output(&p).contains("~ publish Performance/Nightly"));

    // Someone else's edit where runner writes: an edit conflict, not an overwrite.
    wiki.py(&["edit", wiki.dir(), PAGE, "Other"], "Rewritten by hand.\n");
    let r = apply(&p, &wiki.password, &[]);
    assert_eq!(r.code, 1, "{r:?}");
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(said.contains("edit conflict"), "{said}");
    assert_eq!(wiki.revisions().len(), 3);
    // Nor when the publish's own settings change meanwhile.
    let target = format!(
        "summary = \"nightly {{{{ run.label }}}}\"\n{}",
        wiki_target(&wiki)
    );
    p.write("plan.toml", &plan("s", &target));
    let r = apply(&p, &wiki.password, &[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(format!("{r:?}").contains("edit conflict"), "{r:?}");
    assert_eq!(wiki.revisions().len(), 3);
    intro_is_kept(&wiki);

    // A protected page: said so, with what to do.
    wiki.py(&["protect", wiki.dir(), PAGE], "");
    let r = apply(&p, &wiki.password, &[]);
    assert_eq!(r.code, 1, "{r:?}");
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(said.contains("is protected"), "{said}");

    // No password at all, and a wiki that is down: said, trial complete.
    let child = p
        .command(&["apply", "plan.toml", "--yes"])
        .env_remove("RUNNER_WIKI_PASSWORD")
        .spawn()
        .unwrap();
    let r = wait_bounded(child, Duration::from_secs(120));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        format!("{r:?}").contains("RUNNER_WIKI_PASSWORD is not set"),
        "{r:?}"
    );
    drop(wiki);
    let r = apply(&p, "x", &["--new-trial"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        format!("{r:?}").contains("cannot reach http://127.0.0.1:"),
        "{r:?}"
    );
    assert_eq!(latest_trial(&p).1, "complete");
}

#[test]
fn a_page_is_committed_to_a_git_folder_once_per_change() {
    let p = Project::new();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(p.path().join("wiki"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Not a repository yet: a clear error, the trial complete.
    std::fs::create_dir(p.path().join("wiki")).unwrap();
    p.write("plan.toml", &plan("ms", "git = \"wiki\""));
    let r = p.run(&["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        format!("{r:?}").contains("is not in a git work tree"),
        "{r:?}"
    );
    assert_eq!(latest_trial(&p).1, "complete");

    git(&["init", "-q"]);
    git(&["config", "user.email", "perf@example.org"]);
    git(&["config", "user.name", "Perf"]);
    // Something else staged stays staged, out of runner's commit.
    p.write("wiki/Other.md", "draft\n");
    git(&["add", "Other.md"]);
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    let page = p.read(&format!("wiki/{PAGE}.md"));
    assert!(page.contains("| name |"), "{page}");
    assert!(page.contains(r"a\|b \|\| \[\[x\]\] {{y}}"), "{page}");
    assert_eq!(git(&["rev-list", "--count", "HEAD"]).trim(), "1");
    assert_eq!(git(&["diff", "--cached", "--name-only"]).trim(), "Other.md");

    p.run(&["apply", "plan.toml", "--yes"]).ok();
    assert_eq!(git(&["rev-list", "--count", "HEAD"]).trim(), "1");

    p.write("plan.toml", &plan("s", "git = \"wiki\""));
    assert!(plan_output(&p).contains("~ publish Performance/Nightly"));
    p.run(&["apply", "plan.toml", "--yes"]).ok();
    assert_eq!(git(&["rev-list", "--count", "HEAD"]).trim(), "2");
    assert!(git(&["log", "-1", "--format=%s"]).contains("runner: trial"));
}

#[test]
fn a_password_in_the_plan_is_refused_and_a_publish_names_what_it_lacks() {
    let p = Project::new();
    // `runner plan` of the test's plan with this `[[publish]]` target.
    let planned = |target: &str| {
        p.write("plan.toml", &plan("ms", target));
        p.run(&["plan", "plan.toml"])
    };
    let r = planned("wiki = \"http://127.0.0.1:9/api.php\"\nuser = \"A@b\"\npassword = \"x\"");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("a password is never written in the plan"),
        "{r:?}"
    );
    assert!(r.stderr.contains("password_env"), "{r:?}");
    let r = planned("wiki = \"http://127.0.0.1:9/\"");
    assert!(r.stderr.contains("is not a MediaWiki API URL"), "{r:?}");
    let r = planned("");
    assert!(r.stderr.contains("has no target"), "{r:?}");
    // A name the page's summary does not have: said before the trial runs.
    let r = planned("git = \"w\"\nsummary = \"{{ run.lable }}\"");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("reads `run.lable`, which a page does not have"),
        "{r:?}"
    );
    // One page written by two publishes (MediaWiki capitalises a title's
    // first letter): each would undo the other.
    let r = planned(
        "wiki = \"http://127.0.0.1:9/api.php\"\nuser = \"A@b\"\n[[publish]]\npage = \"performance/Nightly\"\nwiki = \"http://127.0.0.1:9/api.php\"\nuser = \"A@b\"",
    );
    assert!(
        r.stderr.contains("two `[[publish]]` write the same page"),
        "{r:?}"
    );
    // A loop's misspelt field: the template is rehearsed at plan time.
    p.write("page.j2", "{% for t in tables %}{{ t.nme }}{% endfor %}");
    let r = planned("git = \"w\"\ntemplate = \"page.j2\"");
    assert!(r.stderr.contains("`page.j2` cannot make a page"), "{r:?}");
    // A password about to cross a network in clear text: said before.
    let r = planned("wiki = \"http://wiki.invalid/w/api.php\"\nuser = \"A@b\"");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        format!("{r:?}").contains("goes to http://wiki.invalid/w/api.php unencrypted"),
        "{r:?}"
    );
}

/// A TLS server (Python's, a certificate for 127.0.0.1 signed by a CA made
/// here) that answers every GET with a login token and refuses POSTs: the
/// wiki's first call goes over TLS or not at all.
struct TlsWiki {
    server: Child,
    api: String,
    ca: PathBuf,
}

impl TlsWiki {
    fn start(dir: &Path) -> TlsWiki {
        let sh = |script: &str| {
            let out = Command::new("sh")
                .args(["-c", script])
                .current_dir(dir)
                .output()
                .unwrap();
            assert!(out.status.success(), "{script}: {out:?}");
        };
        sh(
            "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj '/CN=runner test CA'",
        );
        sh("openssl req -newkey rsa:2048 -nodes -keyout key.pem -out leaf.csr -subj /CN=127.0.0.1");
        sh(
            "printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf && openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 1 -extfile ext.cnf",
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = format!(
            r#"import http.server, ssl
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{{"query": {{"tokens": {{"logintoken": "t+\\\\"}}}}}}'
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
s = http.server.HTTPServer(("127.0.0.1", {port}), H)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain("cert.pem", "key.pem")
s.socket = c.wrap_socket(s.socket, server_side=True)
s.timeout = 30
for _ in range(20): s.handle_request()
"#
        );
        std::fs::write(dir.join("tls.py"), script).unwrap();
        let server = Command::new("python3")
            .arg("tls.py")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the TLS server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        TlsWiki {
            server,
            api: format!("https://127.0.0.1:{port}/api.php"),
            ca: dir.join("ca.pem"),
        }
    }
}

impl Drop for TlsWiki {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

#[test]
fn an_https_wiki_is_reached_over_tls_and_an_unknown_authority_is_said() {
    let p = Project::new();
    let tls = TlsWiki::start(p.path());
    let target = format!("wiki = \"{}\"\nuser = \"A@b\"", tls.api);
    p.write("plan.toml", &plan("ms", &target));
    // Its authority unknown here: refused, said with what to do.
    let r = apply(&p, "x", &[]);
    assert_eq!(r.code, 1, "{r:?}");
    let said = format!("{r:?}");
    assert!(
        said.contains("invalid peer certificate: UnknownIssuer"),
        "{said}"
    );
    assert!(said.contains("SSL_CERT_FILE"), "{said}");
    assert_eq!(latest_trial(&p).1, "complete");
    // Trusted: the login token came over TLS; the login itself is refused
    // (this server is no wiki), and said so.
    let child = p
        .command(&["apply", "plan.toml", "--yes"])
        .env("RUNNER_WIKI_PASSWORD", "x")
        .env("SSL_CERT_FILE", &tls.ca)
        .spawn()
        .unwrap();
    let r = wait_bounded(child, Duration::from_secs(120));
    assert_eq!(r.code, 1, "{r:?}");
    let said = format!("{r:?}");
    assert!(!said.contains("certificate"), "{said}");
    assert!(
        said.contains("answered 501") || said.contains("refused the login"),
        "{said}"
    );
}
