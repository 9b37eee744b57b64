//! Malformed plans: one file per case in `tests/malformed/`, each with the
//! exact stderr of `runner validate` beside it (`.stderr`). Bless changes
//! with `UPDATE_SNAPSHOTS=1 cargo test malformed`.

use std::path::Path;
use std::process::Command;

use crate::common::BIN;

#[test]
fn malformed_plans_report_every_error_with_its_location() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/malformed");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 15, "only {} malformed plans", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let file = case.file_name().unwrap().to_str().unwrap();
        let out = Command::new(BIN)
            .args(["validate", file])
            .current_dir(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).replace(dir.to_str().unwrap(), "[DIR]");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{file}: exit {:?}\n{stderr}",
            out.status
        );
        assert!(out.stdout.is_empty(), "{file}: printed to stdout");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
            "{file}: {stderr}"
        );
        let snap = case.with_extension("stderr");
        if update {
            std::fs::write(&snap, &stderr).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&snap).unwrap_or_default();
        if expected != stderr {
            failures.push(format!("--- {file}: expected\n{expected}--- got\n{stderr}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} snapshots differ (UPDATE_SNAPSHOTS=1 to bless):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
