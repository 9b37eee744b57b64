//! Uploads: over SFTP where the host has the subsystem (local hosts:
//! OpenSSH's internal-sftp; a static host: a real sftp-server), through the
//! shell where it has not; whole files in new folders with odd names,
//! replaced atomically, binary content left as it is, and the OS's own
//! words when the host's disk is full.

use std::path::Path;
use std::process::Command;

use crate::common::*;

/// Deterministic bytes that are not UTF-8 and include the bytes of the
/// markers runner uses for addresses known after apply (U+E000..U+E002).
fn blob(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let marks = "\u{E000}address\u{E002}a[0]\u{E001}".as_bytes();
    out[100..100 + marks.len()].copy_from_slice(marks);
    out
}

const DEST: &str = "new dir/ünï code/blob.bin";

fn upload_steps() -> String {
    format!(
        r#"
[[step]]
name = "up"
on = ["box"]
upload = "resources/blob.bin"
dest = "{DEST}"
"#
    )
}

fn no_temp_files(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "blob.bin")
        .collect();
    assert!(left.is_empty(), "left beside the upload: {left:?}");
}

/// Applies the plan twice with different content; each time the host's
/// file is exactly the resource, mode 0644, with nothing left beside it.
fn uploads_twice(p: &Project, on_host: &Path) {
    for (round, len) in [(1u64, 3 * 1024 * 1024 + 17), (2, 70_001)] {
        let bytes = blob(len, round);
        std::fs::create_dir_all(p.path().join("resources")).unwrap();
        std::fs::write(p.path().join("resources/blob.bin"), &bytes).unwrap();
        let r = p.run(&["apply", "plan.toml", "--yes"]);
        r.ok();
        // Binary content is never read as a template.
        assert!(!r.stdout.contains("address of"), "{r:?}");
        let landed = std::fs::read(on_host.join(DEST)).unwrap();
        assert!(landed == bytes, "round {round}: the file differs");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(on_host.join(DEST)).unwrap().permissions(),
        ) & 0o777;
        assert_eq!(mode, 0o644);
        no_temp_files(on_host.join(DEST).parent().unwrap());
        let again = p.run(&["plan", "plan.toml", "--detailed-exitcode"]);
        assert_eq!(again.code, 0, "{again:?}");
    }
}

#[test]
fn uploads_to_local_hosts_land_whole_over_sftp() {
    let p = Project::new();
    p.write(
        "plan.toml",
        &format!("name = \"up\"\n[groups.box]\ncount = 2\n{}", upload_steps()),
    );
    uploads_twice(&p, &p.path().join(".runner/up/hosts/box-1/work"));
    assert!(
        std::fs::read(p.path().join(".runner/up/hosts/box-0/work").join(DEST)).unwrap()
            == std::fs::read(p.path().join("resources/blob.bin")).unwrap()
    );
    p.run(&["destroy", "plan.toml", "--yes"]).ok();
}

fn static_plan(sshd: &TestSshd, work: &Path) -> String {
    format!(
        r#"name = "st"
[provider]
kind = "static"
identity = "{}"
workdir = "{}"

[groups.box]
hosts = [{{ address = "127.0.0.1", port = {}, host_key = "{}" }}]
{}"#,
        sshd.dir.join("client_key").display(),
        work.display(),
        sshd.port,
        sshd.host_key(),
        upload_steps()
    )
}

#[test]
fn uploads_to_a_static_host_use_its_sftp_server_or_its_shell() {
    let server = Path::new("/usr/lib/openssh/sftp-server");
    assert!(server.exists(), "openssh-server ships {}", server.display());
    // A wrapper around the real server; no subsystem; one configured whose
    // program is missing (it exits 127 before it answers).
    for subsystem in ["wrapper", "none", "missing"] {
        let p = Project::new();
        // The subsystem is a wrapper that leaves a mark, then the real server.
        let wrapper = p.path().join("sftp-wrapper");
        let mark = p.path().join("sftp-used");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\necho used >> '{}'\nexec {} \"$@\"\n",
                mark.display(),
                server.display()
            ),
        )
        .unwrap();
        Command::new("chmod")
            .arg("755")
            .arg(&wrapper)
            .status()
            .unwrap();
        let extra = match subsystem {
            "wrapper" => format!("Subsystem sftp {}\n", wrapper.display()),
            "missing" => "Subsystem sftp /nonexistent/sftp-server\n".to_string(),
            _ => String::new(),
        };
        let sshd = TestSshd::start_with(&p.path().join("sshd"), &extra);
        let work = p.path().join("home work");
        p.write("plan.toml", &static_plan(&sshd, &work));
        uploads_twice(&p, &work);
        assert_eq!(
            mark.exists(),
            subsystem == "wrapper",
            "SFTP used: {}, subsystem: {subsystem}",
            mark.exists()
        );
        // A host without a working subsystem is not an SFTP failure.
        let log = p.read(".runner/st/logs/box-0/up.stderr");
        assert!(!log.contains("SFTP"), "{subsystem}: {log}");
    }
}

#[test]
fn an_upload_to_a_full_disk_fails_in_the_os_words_and_leaves_nothing() {
    let p = Project::new();
    std::fs::create_dir_all(p.path().join("resources")).unwrap();
    std::fs::write(p.path().join("resources/blob.bin"), blob(1024 * 1024, 7)).unwrap();
    let small = p.path().join("small");
    p.write(
        "plan.toml",
        &format!(
            r#"name = "full"
[groups.box]
count = 1

[[step]]
name = "up"
on = ["box"]
upload = "resources/blob.bin"
dest = "{}/blob.bin"
"#,
            small.display()
        ),
    );
    // A real full disk on the host: a 256 KiB tmpfs in a private mount
    // namespace shared by runner and the sshd it starts, nobody else.
    let script = format!(
        r#"mkdir -p small && mount -t tmpfs -o size=256k tmpfs small || exit 99
"{bin}" apply plan.toml --yes > apply.out 2> apply.err; echo $? > apply.code
ls -A small > small.ls
cat .runner/full/logs/box-0/up.stderr > up.stderr
"{bin}" plan plan.toml > plan.out 2>&1
"{bin}" destroy plan.toml --yes > destroy.out 2>&1; echo $? > destroy.code
"#,
        bin = BIN
    );
    p.in_private_mounts(&script);
    let apply = format!("{}{}", p.read("apply.out"), p.read("apply.err"));
    assert_eq!(p.read("apply.code"), "1\n", "{apply}");
    assert!(apply.contains("step `up` on `box[0]`"), "{apply}");
    let log = p.read("up.stderr");
    assert!(log.contains("No space left on device"), "{log}");
    // Neither the file nor its temp is left on the host.
    assert_eq!(p.read("small.ls"), "", "{apply}");
    // The failed upload is not recorded: the next plan still adds it.
    assert!(
        p.read("plan.out").contains("+ step up box[0]"),
        "{}",
        p.read("plan.out")
    );
    assert_eq!(p.read("destroy.code"), "0\n", "{}", p.read("destroy.out"));
}
