//! Tables pasted into the real engines: every Markdown table rendered by
//! cmark-gfm (GitHub's extensions), every MediaWiki table by MediaWiki
//! 1.39's parser — also after saving it as a page, when the pre-save
//! transform turns `~~~~` into a signature — and every Trac table by Trac
//! 1.6's formatter; what a reader sees (title, headers, cells, notes) is
//! compared with the CSV of the same table, and the engine must have made
//! no link. The cells, headers and file names carry what breaks tables in
//! those engines (`tests/wiki/cells.py` renders and reads them back).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{BIN, csv_rows, output_of};

/// A Python with Trac (`scripts/install-tools --tests` makes it).
const PY: &str = "/opt/runner-trac/bin/python";

/// Text that is markup somewhere: MediaWiki, Trac, GitHub Markdown.
const ODD: &[&str] = &[
    "a|b",
    "x||y",
    "h!!k",
    "''i'' '''b'''",
    "[[Main Page]]",
    "{{PAGENAME}}",
    "{{{ opens",
    "closes }}}",
    "~~~~ signed",
    "__TOC__",
    "{| t |}",
    "|- row",
    "**s** ~~d~~ ,,sub,, ^sup^ __u__ //i//",
    "`code` ``two``",
    "CamelCase #1 r12 [1] ticket:1 wiki:Foo source:/x",
    "_u_ *e* \\\\ \\| \\*",
    "<b>bold</b> &amp; &lt; &#124;",
    "line\nbreak",
    "ünï 日本 — é",
    "!x ! !CamelCase",
    "'single' \"double\"",
    "a=b; c: d # e * f + g",
    "-5",
    "1:2 [1:2] r1:3",
    "[http://127.0.0.1/x y] http://127.0.0.1/z",
    "}}}}{{{{",
    "trailing}",
    "mail foo@bar.example and a\u{2028}line",
    "$x$ and $$y$$",
];

/// The figure columns' headers: markup too.
const HEADERS: &[&str] = &[
    "p|99",
    "a!!b",
    "''x''",
    "{{y}}",
    "[[z]]",
    "HdrHistogram",
    "_u_",
    "`c`",
];

fn engine(engine: &str, file: &Path, wiki: &Path) -> Value {
    let out = Command::new(PY)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wiki/cells.py"))
        .args([engine, file.to_str().unwrap(), wiki.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{engine} on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn analyze(dir: &Path, args: &[&str]) -> crate::common::Run {
    let r = output_of(
        Command::new(BIN)
            .arg("analyze")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    r
}

/// What a reader should see of a CSV cell in `engine`: blanks at the ends
/// trimmed (every engine does); Markdown has no line break in a cell.
fn seen(engine: &str, text: &str) -> String {
    let t = text.trim();
    match engine {
        "gfm" => t.replace('\n', " "),
        // Trac breaks lines at U+2028 and U+2029: a line break.
        "trac" => t.replace(['\u{2028}', '\u{2029}'], "\n"),
        _ => t.to_string(),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// One table (`args` to `runner analyze`) in every format and engine:
/// the same title, headers, cells and notes as its CSV, and no link.
fn same_in_every_engine(dir: &Path, wiki: &Path, args: &[&str], title: &str) {
    let csv = analyze(dir, &[args, &["--format", "csv"]].concat());
    let headers: Vec<String> = {
        let mut r = csv::Reader::from_reader(csv.stdout.as_bytes());
        r.headers().unwrap().iter().map(str::to_string).collect()
    };
    let rows = csv_rows(&csv.stdout);
    let notes: Vec<String> = csv
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .map(str::to_string)
        .collect();
    assert!(!notes.is_empty(), "{csv:?}");
    for (name, format) in [
        ("gfm", "markdown"),
        ("mediawiki", "mediawiki"),
        ("mediawiki-saved", "mediawiki"),
        ("trac", "trac"),
    ] {
        let out = analyze(dir, &[args, &["--format", format]].concat());
        let file = dir.join(format!("table.{format}"));
        std::fs::write(&file, &out.stdout).unwrap();
        let got = engine(name, &file, wiki);
        let html = got["html"].as_str().unwrap();
        assert_eq!(got["title"].as_str(), Some(title), "{name}: title\n{html}");
        let want_headers: Vec<String> = headers.iter().map(|h| seen(name, h)).collect();
        assert_eq!(
            strings(&got["headers"]),
            want_headers,
            "{name}: headers\n{html}"
        );
        let got_rows = got["rows"].as_array().unwrap();
        assert_eq!(
            got_rows.len(),
            rows.len(),
            "{name}: a row per CSV row\n{html}"
        );
        for (g, want) in got_rows.iter().zip(&rows) {
            let g = strings(g);
            assert_eq!(
                g.len(),
                headers.len(),
                "{name}: a cell per column: {g:?}\n{html}"
            );
            for (cell, h) in g.iter().zip(&headers) {
                let w = &want[h];
                match (w.parse::<f64>(), cell.parse::<f64>()) {
                    // A number is shown rounded to its column's decimals.
                    (Ok(x), Ok(y)) => assert!(
                        (x - y).abs() <= 5e-4 * x.abs().max(1.0),
                        "{name}: {h}: {cell} for {w}"
                    ),
                    _ => assert_eq!(cell, &seen(name, w), "{name}: column {h}\n{html}"),
                }
            }
        }
        let want_notes: Vec<String> = notes.iter().map(|n| seen(name, n)).collect();
        assert_eq!(strings(&got["notes"]), want_notes, "{name}: notes\n{html}");
        assert_eq!(
            got["links"],
            Value::Array(Vec::new()),
            "{name}: links made\n{html}"
        );
    }
}

#[test]
fn tables_show_their_csv_cell_for_cell_in_mediawiki_trac_and_gfm() {
    let dir = tempfile::tempdir().unwrap();
    let wiki = dir.path().join("wiki");
    let setup = Command::new(PY)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wiki/cells.py"))
        .args(["setup", wiki.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        setup.status.success(),
        "{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    // Two files with odd names; a row per odd text, figure columns with
    // odd headers.
    let names = ["_u_ {{x}} [[y]] *e*.csv", "Camel||Case ~~~~ #1 `c`.csv"];
    for (f, name) in names.iter().enumerate() {
        let mut w = csv::Writer::from_path(dir.path().join(name)).unwrap();
        w.write_record(std::iter::once("test").chain(HEADERS.iter().copied()))
            .unwrap();
        for (i, odd) in ODD.iter().enumerate().filter(|(i, _)| f == 0 || i % 5 == 0) {
            let figures = (0..HEADERS.len()).map(|j| ((i * 7 + j * 3 + f) % 50).to_string());
            // Each file's own rows: no merge rule needed.
            let key = if f == 0 {
                odd.to_string()
            } else {
                format!("{odd} (2)")
            };
            w.write_record(std::iter::once(key).chain(figures)).unwrap();
        }
        w.flush().unwrap();
    }
    let merged = [&["--parser", "csv", "--set", "key=test"][..], &names[..]].concat();
    same_in_every_engine(dir.path(), &wiki, &merged, "summary rows (CSV)");
    let by_file = [
        &["--parser", "csv", "--set", "key=test", "--by", "file"][..],
        &names[..],
    ]
    .concat();
    same_in_every_engine(dir.path(), &wiki, &by_file, "summary rows (CSV)");
    // A real table: HdrHistogram (CamelCase in Trac) in its title and notes.
    let hdr = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples/hdr");
    for f in ["loader1.hlog", "loader3_tagged.hlog"] {
        std::fs::copy(hdr.join(f), dir.path().join(f)).unwrap();
    }
    same_in_every_engine(
        dir.path(),
        &wiki,
        &[
            "--parser",
            "hdr",
            "--unit",
            "us",
            "loader1.hlog",
            "loader3_tagged.hlog",
        ],
        "latency (HdrHistogram, merged)",
    );
}
