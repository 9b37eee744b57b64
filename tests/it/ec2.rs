//! The `ec2` provider against a real `moto_server` on 127.0.0.1: one
//! server for the whole test binary (started on first use, stopped by its
//! PID by a watcher when the test process ends), each test with its own
//! plan names, so their tags never meet. Faults are injected with the
//! binary's test-only hook (`RUNNER_TEST_EC2_FAULTS`); instances are made
//! and terminated "behind runner's back" with boto3 (moto's dependency).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::common::{Project, Run, wait_bounded};

const AMI: &str = "ami-12c6146b";
/// Where `scripts/install-tools --tests` puts moto[server] and boto3.
const MOTO_VENV: &str = "/opt/runner-moto";

/// The shared moto_server's endpoint.
fn moto() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("runner-moto-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("moto.log");
        let bin = std::env::var("RUNNER_MOTO").unwrap_or_else(|_| {
            if Path::new(MOTO_VENV).join("bin/moto_server").exists() {
                format!("{MOTO_VENV}/bin/moto_server")
            } else {
                "moto_server".into()
            }
        });
        // The watcher stops moto (by the PID it started) once this test
        // process is gone, whatever way it ended.
        let script = format!(
            "MOTO_ENABLE_AMI_VALIDATION=1 {bin} -H 127.0.0.1 -p 0 >'{}' 2>&1 & m=$!; while kill -0 {} 2>/dev/null; do sleep 0.5; done; kill $m",
            log.display(),
            std::process::id()
        );
        // Never waited for: it outlives this process by design.
        #[allow(clippy::zombie_processes)]
        Command::new("bash")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server (pip install 'moto[server]')");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(rest) = text.split("Running on http://127.0.0.1:").nth(1) {
                let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                return format!("http://127.0.0.1:{port}");
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not start within 60 s: {text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

/// Runs runner with credentials for moto and fast polls.
fn run_env(p: &Project, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = p.command(args);
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("RUNNER_EC2_POLL_MS", "50")
        .env("RUNNER_EC2_BACKOFF_MS", "10")
        .env("RUNNER_EC2_CALL_LOG", p.path().join("calls.log"));
    for (k, v) in env {
        c.env(k, v);
    }
    wait_bounded(c.spawn().expect("spawn runner"), Duration::from_secs(120))
}

fn run(p: &Project, args: &[&str]) -> Run {
    run_env(p, args, &[])
}

/// boto3 against moto; `code` sees `ec2` (a client) and prints its answer.
fn py(code: &str) -> String {
    let script = format!(
        "import boto3, json, sys\nec2 = boto3.client('ec2', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\n{code}",
        moto()
    );
    let python = if Path::new(MOTO_VENV).join("bin/python3").exists() {
        format!("{MOTO_VENV}/bin/python3")
    } else {
        "python3".into()
    };
    let out = Command::new(python)
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Instances tagged with the plan that are not terminated.
fn tagged(plan: &str) -> Vec<String> {
    let out = py(&format!(
        "ids = []\nfor r in ec2.describe_instances(Filters=[{{'Name': 'tag:runner:plan', 'Values': ['{plan}']}}, {{'Name': 'instance-state-name', 'Values': ['pending', 'running', 'stopping', 'stopped', 'shutting-down']}}])['Reservations']:\n    ids += [i['InstanceId'] for i in r['Instances']]\nprint(' '.join(ids))"
    ));
    out.split_whitespace().map(str::to_string).collect()
}

fn plan_text(name: &str, servers: usize, clients: usize, extra: &str) -> String {
    format!(
        r#"name = "{name}"
[provider]
kind = "ec2"
region = "us-east-1"
endpoint = "{}"
ami = "{AMI}"
instance_type = "t3.micro"
{extra}
[groups.server]
count = {servers}
[groups.client]
count = {clients}
spot = true
instance_type = "c5.large"
"#,
        moto()
    )
}

fn project(name: &str, servers: usize, clients: usize) -> Project {
    let p = Project::new();
    p.write("plan.toml", &plan_text(name, servers, clients, ""));
    p
}

fn state(p: &Project, plan: &str) -> serde_json::Value {
    serde_json::from_str(&p.read(&format!(".runner/{plan}.state.json"))).unwrap()
}

fn calls(p: &Project) -> Vec<String> {
    let text = std::fs::read_to_string(p.path().join("calls.log")).unwrap_or_default();
    let _ = std::fs::remove_file(p.path().join("calls.log"));
    text.lines().map(str::to_string).collect()
}

fn count(calls: &[String], op: &str) -> usize {
    calls.iter().filter(|c| *c == op).count()
}

#[test]
fn create_plan_scale_and_destroy() {
    let p = project("ec2-life", 1, 2);
    let r = run(&p, &["plan", "plan.toml"]);
    r.ok();
    assert!(r.stdout.contains("+ host client[1]"), "{r:?}");
    assert!(r.stdout.contains("c5.large, spot"), "{r:?}");
    assert!(r.stdout.contains("t3.micro, on-demand"), "{r:?}");
    assert!(
        r.stderr.contains("security group `runner-ec2-life-"),
        "{r:?}"
    );
    // Planning from an empty state asks EC2 one thing: what carries the tag.
    let c = calls(&p);
    assert_eq!(c, vec!["DescribeInstances"], "{c:?}");

    run(&p, &["apply", "plan.toml", "--yes"]).ok();
    let c = calls(&p);
    // One RunInstances per group (on-demand server, spot clients).
    assert_eq!(count(&c, "RunInstances"), 2, "{c:?}");
    let s = state(&p, "ec2-life");
    let ids: Vec<String> = ["server[0]", "client[0]", "client[1]"]
        .iter()
        .map(|h| {
            let host = &s["hosts"][*h];
            assert_eq!(host["status"], "Ready", "{h}: {host}");
            assert_eq!(host["provider"], "ec2");
            assert!(host["address"].as_str().unwrap().contains('.'), "{host}");
            host["ec2"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(s["hosts"]["client[0]"]["ec2"]["market"], "spot");
    assert_eq!(s["hosts"]["server[0]"]["ec2"]["market"], "on-demand");
    let mut live = tagged("ec2-life");
    live.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(live, want);
    // Tags at launch, and the per-host tag after.
    let tags = py(&format!(
        "i = ec2.describe_instances(InstanceIds=['{}'])['Reservations'][0]['Instances'][0]\nprint(json.dumps({{t['Key']: t['Value'] for t in i['Tags']}}))",
        ids[1]
    ));
    let tags: serde_json::Value = serde_json::from_str(&tags).unwrap();
    assert_eq!(tags["runner:plan"], "ec2-life");
    // Everything is tagged at launch: the host is the launch index within
    // `runner:hosts` of the group; the Name is the group's, shared.
    assert_eq!(tags["runner:group"], "client");
    assert_eq!(tags["Name"], "ec2-life/client", "{tags}");
    assert_eq!(count(&c, "CreateTags"), 0, "{c:?}");
    assert!(c.len() <= 20 + 2 * 2, "calls for 2 groups: {c:?}");
    assert!(
        tags["runner:expires"].as_str().unwrap().ends_with('Z'),
        "{tags}"
    );
    assert!(tags["runner:launch"].as_str().is_some(), "{tags}");
    // No credentials anywhere in what runner wrote.
    let all = p.read(".runner/ec2-life.state.json");
    assert!(!all.contains("testing"), "credentials in the state");

    let r = run(&p, &["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("No changes"), "{r:?}");
    assert_eq!(count(&calls(&p), "DescribeInstances"), 1);

    let r = run(&p, &["show", "plan.toml"]);
    r.ok();
    assert!(
        r.stdout.contains(&ids[1]) && r.stdout.contains("spot"),
        "{r:?}"
    );
    assert!(r.stdout.contains("running"), "{r:?}");
    let r = run(&p, &["show", "plan.toml", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["instances"].as_array().unwrap().len(), 3, "{doc}");
    let r = run(&p, &["inventory", "plan.toml", "--format", "ssh-config"]);
    r.ok();
    assert!(r.stdout.contains("Host client-0 client[0]"), "{r:?}");

    // Scale up: only the new host is launched.
    p.write("plan.toml", &plan_text("ec2-life", 1, 4, ""));
    let r = run(&p, &["apply", "plan.toml", "--yes"]);
    r.ok();
    assert!(r.stderr.contains("2 added"), "{r:?}");
    assert_eq!(count(&calls(&p), "RunInstances"), 1);
    assert_eq!(tagged("ec2-life").len(), 5);
    // Scale down: the two highest go, in one TerminateInstances.
    p.write("plan.toml", &plan_text("ec2-life", 1, 2, ""));
    let r = run(&p, &["apply", "plan.toml", "--yes"]);
    r.ok();
    assert!(r.stderr.contains("2 destroyed"), "{r:?}");
    assert_eq!(count(&calls(&p), "TerminateInstances"), 1);
    let mut live = tagged("ec2-life");
    live.sort();
    assert_eq!(live, want, "the original three remain");

    let r = run(&p, &["destroy", "plan.toml", "--yes"]);
    r.ok();
    assert!(r.stderr.contains("key pair runner-ec2-life-"), "{r:?}");
    assert!(
        r.stderr.contains("(runner-ec2-life-") && r.stderr.contains("): deleted"),
        "{r:?}"
    );
    assert!(tagged("ec2-life").is_empty());
    let left = py(
        "print(len([g for g in ec2.describe_security_groups()['SecurityGroups'] if g['GroupName'].startswith('runner-ec2-life-')]), len([k for k in ec2.describe_key_pairs()['KeyPairs'] if k['KeyName'].startswith('runner-ec2-life-')]))",
    );
    assert_eq!(left, "0 0");
}

#[test]
fn drift_and_orphans_are_planned_and_fixed() {
    let p = project("ec2-drift", 1, 2);
    run(&p, &["apply", "plan.toml", "--yes"]).ok();
    let s = state(&p, "ec2-drift");
    let victim = s["hosts"]["client[1]"]["ec2"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // An instance made behind runner's back with the plan's tags.
    let project = py(&format!(
        "i = ec2.describe_instances(InstanceIds=['{victim}'])['Reservations'][0]['Instances'][0]\nprint([t['Value'] for t in i['Tags'] if t['Key'] == 'runner:project'][0])"
    ));
    py(&format!(
        "ec2.terminate_instances(InstanceIds=['{victim}'])"
    ));
    let orphan = py(&format!(
        "r = ec2.run_instances(ImageId='{AMI}', MinCount=1, MaxCount=1, TagSpecifications=[{{'ResourceType': 'instance', 'Tags': [{{'Key': 'runner:plan', 'Value': 'ec2-drift'}}, {{'Key': 'runner:host', 'Value': 'client[9]'}}, {{'Key': 'runner:project', 'Value': '{project}'}}]}}])\nprint(r['Instances'][0]['InstanceId'])"
    ));
    let r = run(&p, &["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.contains("-/+ host client[1]"), "{r:?}");
    assert!(
        r.stdout.contains(&format!("{victim} is terminated")),
        "{r:?}"
    );
    assert!(r.stdout.contains(&format!("- orphan {orphan}")), "{r:?}");
    assert!(r.stdout.contains("1 to replace, 1 to destroy"), "{r:?}");
    run(&p, &["apply", "plan.toml", "--yes"]).ok();
    let live = tagged("ec2-drift");
    assert_eq!(live.len(), 3, "{live:?}");
    assert!(!live.contains(&orphan) && !live.contains(&victim));
    let r = run(&p, &["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{r:?}");
    run(&p, &["destroy", "plan.toml", "--yes"]).ok();
    assert!(tagged("ec2-drift").is_empty());
}

#[test]
fn kill_after_launch_then_apply_adopts_and_destroy_leaves_nothing() {
    let p = project("ec2-kill", 1, 3);
    // SIGKILL the moment RunInstances answers, before runner records it.
    let r = run_env(
        &p,
        &["apply", "plan.toml", "--yes"],
        &[("RUNNER_TEST_EC2_FAULTS", "RunInstances:kill:1")],
    );
    assert_eq!(r.code, -1, "killed by SIGKILL: {r:?}");
    assert!(!tagged("ec2-kill").is_empty(), "the launch happened");
    let r = run(&p, &["plan", "plan.toml"]);
    r.ok();
    assert!(r.stdout.contains("adopts i-"), "{r:?}");
    assert!(!r.stdout.contains("orphan"), "{r:?}");
    run(&p, &["apply", "plan.toml", "--yes"]).ok();
    // No host was launched twice.
    assert_eq!(tagged("ec2-kill").len(), 4);
    let s = state(&p, "ec2-kill");
    let mut recorded: Vec<String> = s["hosts"]
        .as_object()
        .unwrap()
        .values()
        .map(|h| h["ec2"]["id"].as_str().unwrap().to_string())
        .collect();
    recorded.sort();
    let mut live = tagged("ec2-kill");
    live.sort();
    assert_eq!(recorded, live);
    run(&p, &["destroy", "plan.toml", "--yes"]).ok();
    assert!(tagged("ec2-kill").is_empty());
}

#[test]
fn kill_9_at_random_moments_never_duplicates_or_leaks() {
    let p = project("ec2-chaos", 1, 2);
    let mut interrupted = 0;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id());
    for round in 0..20 {
        // Launches slowed a little so that kills land inside them too.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(seed % 700);
        // Every other round scales, so that launches and destroys are
        // both interrupted.
        let clients = if round % 2 == 0 { 3 } else { 2 };
        p.write("plan.toml", &plan_text("ec2-chaos", 1, clients, ""));
        let mut c = p.command(&["apply", "plan.toml", "--yes"]);
        c.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RUNNER_EC2_POLL_MS", "50")
            .env(
                "RUNNER_TEST_EC2_FAULTS",
                "RunInstances:slow:300,CreateTags:slow:50",
            );
        let child = c.spawn().unwrap();
        let pid = child.id();
        std::thread::sleep(delay);
        super::common::kill(pid, "KILL");
        let _ = wait_bounded(child, Duration::from_secs(60));
        let planned = run(&p, &["plan", "plan.toml"]);
        interrupted += usize::from(planned.stdout.contains("interrupted"));
        let r = run(&p, &["apply", "plan.toml", "--yes"]);
        assert_eq!(r.code, 0, "round {round} (kill after {delay:?}): {r:?}");
        let live = tagged("ec2-chaos");
        assert_eq!(
            live.len(),
            1 + clients,
            "round {round} (kill after {delay:?}): {live:?}"
        );
    }
    // The kills did land inside launches, not only before or after.
    eprintln!("{interrupted} of 20 kills interrupted a host creation");
    assert!(
        interrupted >= 1,
        "{interrupted} kills interrupted a creation"
    );
    run(&p, &["destroy", "plan.toml", "--yes"]).ok();
    assert!(tagged("ec2-chaos").is_empty());
}

#[test]
fn destroy_without_state_finds_everything_by_tag() {
    let p = project("ec2-lost", 1, 2);
    run(&p, &["apply", "plan.toml", "--yes"]).ok();
    assert_eq!(tagged("ec2-lost").len(), 3);
    for f in [
        "ec2-lost.state.json",
        "ec2-lost.state.json.bak",
        "ec2-lost.journal",
    ] {
        let _ = std::fs::remove_file(p.path().join(".runner").join(f));
    }
    let r = run(&p, &["destroy", "plan.toml", "--yes"]);
    r.ok();
    assert!(r.stdout.contains("terminate 3 instances"), "{r:?}");
    assert!(tagged("ec2-lost").is_empty());
    let left = py(
        "print(len([g for g in ec2.describe_security_groups()['SecurityGroups'] if g['GroupName'].startswith('runner-ec2-lost-')]), len([k for k in ec2.describe_key_pairs()['KeyPairs'] if k['KeyName'].startswith('runner-ec2-lost-')]))",
    );
    assert_eq!(left, "0 0");
    let r = run(&p, &["destroy", "plan.toml", "--yes"]);
    r.ok();
    assert!(r.stdout.contains("Nothing to destroy"), "{r:?}");
}

#[test]
fn max_instances_is_refused_before_any_call() {
    let p = Project::new();
    p.write(
        "plan.toml",
        &plan_text("ec2-max", 1, 4, "max_instances = 3"),
    );
    let r = run(&p, &["plan", "plan.toml"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("asks for 5 instances, more than `max_instances = 3`"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("plan.toml:"),
        "names the file and line: {r:?}"
    );
    assert!(calls(&p).is_empty(), "no EC2 call was made");
    // The default is 20.
    p.write("plan.toml", &plan_text("ec2-max", 1, 20, ""));
    let r = run(&p, &["validate", "plan.toml"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("max_instances = 20"), "{r:?}");
}

#[test]
fn aws_errors_are_one_clear_line_and_the_state_stays_valid() {
    // A bad AMI: the group and the AWS code are named.
    let p = Project::new();
    p.write(
        "plan.toml",
        &plan_text("ec2-err", 1, 1, "").replace(AMI, "ami-00000000"),
    );
    let r = run(&p, &["apply", "plan.toml", "--yes"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("group `server`"), "{r:?}");
    assert!(r.stderr.contains("InvalidAMIID"), "{r:?}");
    assert!(tagged("ec2-err").is_empty());
    // Throttling is retried with backoff; the apply succeeds.
    p.write("plan.toml", &plan_text("ec2-err", 1, 1, ""));
    let r = run_env(
        &p,
        &["apply", "plan.toml", "--yes"],
        &[(
            "RUNNER_TEST_EC2_FAULTS",
            "RunInstances:RequestLimitExceeded:2",
        )],
    );
    r.ok();
    assert!(count(&calls(&p), "RunInstances") >= 3);
    // A lost response after a launch leaves tagged instances; the next
    // apply adopts them instead of launching again.
    assert_eq!(tagged("ec2-err").len(), 2, "one per host, retries adopted");
    // Spot capacity: named, with what to do; nothing half-recorded.
    p.write("plan.toml", &plan_text("ec2-err", 1, 2, ""));
    let r = run_env(
        &p,
        &["apply", "plan.toml", "--yes"],
        &[(
            "RUNNER_TEST_EC2_FAULTS",
            "RunInstances:InsufficientInstanceCapacity:9",
        )],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("group `client`") && r.stderr.contains("InsufficientInstanceCapacity"),
        "{r:?}"
    );
    assert!(r.stderr.contains("spot"), "{r:?}");
    // The state still loads and plans: the failed host is planned again
    // (the instance that moto launched before the injected error is adopted).
    let r = run(&p, &["plan", "plan.toml"]);
    r.ok();
    assert!(r.stdout.contains("client[1]"), "{r:?}");
    run(&p, &["apply", "plan.toml", "--yes"]).ok();
    assert_eq!(tagged("ec2-err").len(), 3);
    run(&p, &["destroy", "plan.toml", "--yes"]).ok();
    assert!(tagged("ec2-err").is_empty());
}

#[test]
fn missing_credentials_and_unreachable_endpoint() {
    let p = project("ec2-cred", 1, 1);
    let mut c = p.command(&["plan", "plan.toml"]);
    c.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    let r = wait_bounded(c.spawn().unwrap(), Duration::from_secs(60));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("no AWS credentials"), "{r:?}");
    assert!(r.stderr.contains("AWS_ACCESS_KEY_ID"), "{r:?}");
    // A closed port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    p.write(
        "plan.toml",
        &plan_text("ec2-cred", 1, 1, "").replace(moto(), &format!("http://127.0.0.1:{port}")),
    );
    let started = Instant::now();
    let r = run(&p, &["plan", "plan.toml"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("cannot be reached"), "{r:?}");
    assert!(r.stderr.contains("nothing was changed"), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// One end-to-end check with SSH: the instances' addresses are mapped to
/// local sshd hosts (made by a local plan), so that a step and a test run
/// with addresses known only after apply.
#[test]
fn steps_and_tests_use_addresses_known_after_apply() {
    let p = Project::new();
    p.write(
        "hosts.toml",
        "name = \"e2e-hosts\"\n[groups.a]\ncount = 2\n",
    );
    run(&p, &["apply", "hosts.toml", "--yes"]).ok();
    let hosts = state(&p, "e2e-hosts");
    let port = |h: &str| hosts["hosts"][h]["port"].as_u64().unwrap();
    let key = p.path().join(".runner/e2e-hosts/id_ed25519");
    let work = p.path().join("work");
    let extra = format!(
        "identity = \"{}\"\nuser = \"{}\"\nworkdir = \"{}\"",
        key.display(),
        hosts["hosts"]["a[0]"]["user"].as_str().unwrap(),
        work.display()
    );
    let mut text = plan_text("ec2-e2e", 1, 1, &extra);
    text.push_str(
        r#"
[[step]]
name = "addr"
on = ["client"]
run = "echo server={{ groups.server[0].address }} private={{ groups.server[0].private_address }} > addr.txt"

[[test]]
name = "t"
on = ["client"]
at = "+1s"
run = "echo reaching {{ groups.server[0].address }}"
"#,
    );
    p.write("plan.toml", &text);
    let map = format!(
        "server[0]=127.0.0.1:{};client[0]=127.0.0.1:{}",
        port("a[0]"),
        port("a[1]")
    );
    let env = [("RUNNER_TEST_EC2_SSH", map.as_str())];
    let r = run_env(&p, &["plan", "plan.toml"], &env);
    r.ok();
    assert!(
        r.stdout
            .contains("step addr client[0]  (uses the address of server[0]: (known after apply))"),
        "{r:?}"
    );
    let r = run_env(&p, &["apply", "plan.toml", "--yes"], &env);
    r.ok();
    assert!(
        r.stderr.contains("accepted on first connect and pinned"),
        "{r:?}"
    );
    let addr = std::fs::read_to_string(work.join("addr.txt")).unwrap();
    let s = state(&p, "ec2-e2e");
    let private = s["hosts"]["server[0]"]["ec2"]["private_address"]
        .as_str()
        .unwrap();
    assert_eq!(addr.trim(), format!("server=127.0.0.1 private={private}"));
    assert!(
        s["hosts"]["client[0]"]["host_key"]
            .as_str()
            .unwrap()
            .starts_with("ssh-ed25519 ")
    );
    let trial = s["trial"]["id"].as_str().unwrap();
    let out = p.read(&format!("trials/ec2-e2e/{trial}/client-0/t/stdout"));
    assert_eq!(out.trim(), "reaching 127.0.0.1");
    // Stable across re-plans.
    let r = run_env(&p, &["plan", "plan.toml", "--detailed-exitcode"], &env);
    assert_eq!(r.code, 0, "{r:?}");
    // A first step on a host nothing has logged into yet: its key is
    // learnt on first connect and pinned in the state.
    assert_eq!(s["hosts"]["server[0]"]["host_key"], "");
    text.push_str("\n[[step]]\nname = \"srv\"\non = [\"server\"]\nrun = \"true\"\n");
    p.write("plan.toml", &text);
    let r = run_env(&p, &["apply", "plan.toml", "--yes"], &env);
    r.ok();
    assert!(
        r.stderr.contains("host `server[0]`: host key SHA256:"),
        "{r:?}"
    );
    let s = state(&p, "ec2-e2e");
    assert!(
        s["hosts"]["server[0]"]["host_key"]
            .as_str()
            .unwrap()
            .starts_with("ssh-ed25519 ")
    );
    let r = run_env(&p, &["plan", "plan.toml", "--detailed-exitcode"], &env);
    assert_eq!(r.code, 0, "{r:?}");
    // The server replaced behind runner's back: the step that uses its
    // address is planned again, and a new trial.
    let id = s["hosts"]["server[0]"]["ec2"]["id"].as_str().unwrap();
    py(&format!("ec2.terminate_instances(InstanceIds=['{id}'])"));
    let r = run_env(&p, &["plan", "plan.toml"], &env);
    r.ok();
    assert!(r.stdout.contains("~ step addr client[0]"), "{r:?}");
    assert!(r.stdout.contains("(known after apply)"), "{r:?}");
    assert!(r.stdout.contains("+ trial"), "{r:?}");
    run_env(&p, &["destroy", "plan.toml", "--yes"], &env).ok();
    assert!(tagged("ec2-e2e").is_empty());
    run(&p, &["destroy", "hosts.toml", "--yes"]).ok();
}

#[test]
fn ec2_keys_in_another_provider_and_missing_keys_are_named() {
    let p = Project::new();
    p.write(
        "plan.toml",
        "name = \"x\"\n[provider]\nkind = \"local\"\nami = \"ami-1\"\n[groups.a]\ncount = 1\nspot = true\n",
    );
    let r = run(&p, &["validate", "plan.toml"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("`ami` is a key of the `ec2` provider"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("`spot` is a key of the `ec2` provider"),
        "{r:?}"
    );
    p.write(
        "plan.toml",
        "name = \"x\"\n[provider]\nkind = \"ec2\"\n[groups.a]\ncount = 1\n",
    );
    let r = run(&p, &["validate", "plan.toml"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("has no `region`"), "{r:?}");
}

#[test]
fn expired_instances_are_flagged_by_plan() {
    let p = Project::new();
    p.write(
        "plan.toml",
        &plan_text("ec2-exp", 1, 1, "expire_after = \"1s\""),
    );
    run(&p, &["apply", "plan.toml", "--yes"]).ok();
    std::thread::sleep(Duration::from_millis(2100));
    let r = run(&p, &["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "expiry changes nothing by itself: {r:?}");
    assert_eq!(r.stderr.matches("expired at").count(), 2, "{r:?}");
    assert!(r.stderr.contains("runner destroy"), "{r:?}");
    run(&p, &["destroy", "plan.toml", "--yes"]).ok();
    assert!(tagged("ec2-exp").is_empty());
}

/// Instances tagged with the plan in another region.
fn tagged_in(plan: &str, region: &str) -> usize {
    py(&format!(
        "c = boto3.client('ec2', endpoint_url='{}', region_name='{region}', aws_access_key_id='testing', aws_secret_access_key='testing')\nprint(sum(len(r['Instances']) for r in c.describe_instances(Filters=[{{'Name': 'tag:runner:plan', 'Values': ['{plan}']}}, {{'Name': 'instance-state-name', 'Values': ['pending', 'running', 'stopping', 'stopped']}}])['Reservations']))",
        moto()
    ))
    .parse()
    .unwrap()
}

#[test]
fn a_plan_moved_to_another_region_takes_its_instances_along() {
    let p = project("ec2-move", 1, 1);
    run(&p, &["apply", "plan.toml", "--yes"]).ok();
    assert_eq!(tagged_in("ec2-move", "us-east-1"), 2);
    p.write(
        "plan.toml",
        &plan_text("ec2-move", 1, 1, "").replace("us-east-1", "us-west-2"),
    );
    let r = run(&p, &["plan", "plan.toml"]);
    r.ok();
    assert!(
        r.stdout
            .contains("-/+ host server[0]  (provider arguments changed"),
        "{r:?}"
    );
    let r = run(&p, &["apply", "plan.toml", "--yes"]);
    r.ok();
    assert_eq!(tagged_in("ec2-move", "us-east-1"), 0, "old region emptied");
    assert_eq!(tagged_in("ec2-move", "us-west-2"), 2);
    run(&p, &["destroy", "plan.toml", "--yes"]).ok();
    assert_eq!(tagged_in("ec2-move", "us-west-2"), 0);
}

#[test]
fn an_endpoint_that_never_answers_is_an_error_not_a_hang() {
    // Accepts connections (the kernel does) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let p = Project::new();
    p.write(
        "plan.toml",
        &plan_text("ec2-silent", 1, 1, "").replace(moto(), &format!("http://127.0.0.1:{port}")),
    );
    let started = Instant::now();
    let r = run_env(
        &p,
        &["plan", "plan.toml"],
        &[
            ("RUNNER_EC2_ATTEMPT_TIMEOUT_MS", "300"),
            ("RUNNER_EC2_CALL_TIMEOUT_MS", "3000"),
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("did not answer in time"), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(30));
    drop(silent);
}

#[test]
fn same_plan_name_in_two_directories_never_mixes() {
    let a = project("ec2-twin", 1, 1);
    let b = project("ec2-twin", 1, 2);
    run(&a, &["apply", "plan.toml", "--yes"]).ok();
    let r = run(&b, &["plan", "plan.toml"]);
    r.ok();
    assert!(
        !r.stdout.contains("adopts") && !r.stdout.contains("orphan"),
        "{r:?}"
    );
    run(&b, &["apply", "plan.toml", "--yes"]).ok();
    assert_eq!(tagged("ec2-twin").len(), 5);
    let r = run(&a, &["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{r:?}");
    run(&a, &["destroy", "plan.toml", "--yes"]).ok();
    assert_eq!(tagged("ec2-twin").len(), 3, "b's instances stay");
    run(&b, &["destroy", "plan.toml", "--yes"]).ok();
    assert!(tagged("ec2-twin").is_empty());
}

#[test]
fn only_instances_runner_can_still_use_are_adopted() {
    // A crash after RunInstances, then the server instance is stopped:
    // it is an orphan, and its host is launched again.
    let p = project("ec2-adopt", 1, 1);
    let r = run_env(
        &p,
        &["apply", "plan.toml", "--yes"],
        &[("RUNNER_TEST_EC2_FAULTS", "RunInstances:kill:1")],
    );
    assert_eq!(r.code, -1, "{r:?}");
    let left = tagged("ec2-adopt");
    assert!(!left.is_empty());
    py(&format!("ec2.stop_instances(InstanceIds=['{}'])", left[0]));
    let r = run(&p, &["plan", "plan.toml"]);
    r.ok();
    assert!(r.stdout.contains(&format!("- orphan {}", left[0])), "{r:?}");
    run(&p, &["apply", "plan.toml", "--yes"]).ok();
    let r = run(&p, &["plan", "plan.toml", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{r:?}");
    // `.runner` lost: the generated key is gone with it, so the running
    // instances (which authorise the old key) are not adopted: replaced.
    std::fs::remove_dir_all(p.path().join(".runner")).unwrap();
    let r = run(&p, &["plan", "plan.toml"]);
    r.ok();
    assert!(!r.stdout.contains("adopts"), "{r:?}");
    assert_eq!(r.stdout.matches("- orphan").count(), 2, "{r:?}");
    run(&p, &["apply", "plan.toml", "--yes"]).ok();
    assert_eq!(tagged("ec2-adopt").len(), 2);
    // A corrupt state: destroy still finds everything by its tags.
    std::fs::write(
        p.path().join(".runner/ec2-adopt.state.json"),
        "{\"version\":1,",
    )
    .unwrap();
    let r = run(&p, &["destroy", "plan.toml", "--yes"]);
    assert!(
        r.stderr.contains("destroying what the EC2 tags find"),
        "{r:?}"
    );
    assert!(tagged("ec2-adopt").is_empty(), "{r:?}");
}

/// The `Name` of every instance, by host (`runner:group` + launch index).
fn names(plan: &str) -> Vec<String> {
    let out = py(&format!(
        "for r in ec2.describe_instances(Filters=[{{'Name': 'tag:runner:plan', 'Values': ['{plan}']}}, {{'Name': 'instance-state-name', 'Values': ['pending', 'running']}}])['Reservations']:\n    for i in r['Instances']:\n        print({{t['Key']: t['Value'] for t in i['Tags']}}.get('Name'))"
    ));
    let mut names: Vec<String> = out.lines().map(str::to_string).collect();
    names.sort();
    names
}

#[test]
fn per_host_names_are_optional_and_throttling_is_waited_out() {
    let p = Project::new();
    p.write(
        "plan.toml",
        &plan_text("ec2-names", 1, 3, "name_tags = \"hosts\""),
    );
    let r = run(&p, &["validate", "plan.toml"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("plan.toml:") && r.stderr.contains("`name_tags = \"hosts\"`"),
        "{r:?}"
    );
    p.write(
        "plan.toml",
        &plan_text("ec2-names", 1, 3, "name_tags = \"host\""),
    );
    // The account's rate limit answers the first CreateTags calls with
    // RequestLimitExceeded: runner backs off and retries; nothing fails.
    let r = run_env(
        &p,
        &["apply", "plan.toml", "--yes"],
        &[(
            "RUNNER_TEST_EC2_FAULTS",
            "CreateTags:RequestLimitExceeded:4",
        )],
    );
    r.ok();
    assert!(!r.stderr.contains("warning"), "{r:?}");
    let c = calls(&p);
    // One per client (launched together); the server, launched alone, is
    // named at launch; the four throttled attempts were retried.
    assert_eq!(count(&c, "CreateTags"), 3 + 4, "{c:?}");
    assert_eq!(
        names("ec2-names"),
        [
            "ec2-names/client[0]",
            "ec2-names/client[1]",
            "ec2-names/client[2]",
            "ec2-names/server[0]"
        ]
    );
    // Throttled past every retry: the hosts work, a warning says so.
    p.write(
        "plan.toml",
        &plan_text("ec2-names", 1, 5, "name_tags = \"host\""),
    );
    let r = run_env(
        &p,
        &["apply", "plan.toml", "--yes"],
        &[(
            "RUNNER_TEST_EC2_FAULTS",
            "CreateTags:RequestLimitExceeded:99",
        )],
    );
    r.ok();
    assert!(
        r.stderr.contains("its `Name` tag was not set")
            && r.stderr.contains("RequestLimitExceeded"),
        "{r:?}"
    );
    assert_eq!(tagged("ec2-names").len(), 6);
    run(&p, &["destroy", "plan.toml", "--yes"]).ok();
    assert!(tagged("ec2-names").is_empty());
}
