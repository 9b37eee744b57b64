//! The ready plans of `plans/examples/`, compiled in: `runner init
//! --example NAME` writes one (its plan and resources) where asked, `runner
//! init --list` names them.

/// An example: its name, what it shows, and its files (path, text).
pub struct Example {
    pub name: &'static str,
    pub about: &'static str,
    pub files: &'static [(&'static str, &'static str)],
}

macro_rules! file {
    ($dir:literal, $path:literal) => {
        (
            $path,
            include_str!(concat!("../../../plans/examples/", $dir, "/", $path)),
        )
    };
}

pub const EXAMPLES: &[Example] = &[
    Example {
        name: "fio",
        about: "fio (json+) on two hosts: IOPS, bandwidth, completion-latency percentiles merged exactly from fio's bins",
        files: &[file!("fio", "plan.toml")],
    },
    Example {
        name: "pgbench-sweep",
        about: "PostgreSQL + pgbench on 3 namespaced clients, a series over the offered rate: tps summed, latency percentiles of every transaction merged (root)",
        files: &[file!("pgbench-sweep", "plan.toml")],
    },
    Example {
        name: "http",
        about: "an HTTP server and wrk + ab on two clients: requests/s added, ab's per-request latencies merged",
        files: &[file!("http", "plan.toml")],
    },
    Example {
        name: "redis",
        about: "Redis and redis-benchmark (SET, GET) from two clients: a row per test",
        files: &[file!("redis", "plan.toml")],
    },
    Example {
        name: "sysbench",
        about: "sysbench cpu on two hosts with its histogram: events/s added, percentiles merged exactly",
        files: &[file!("sysbench", "plan.toml")],
    },
    Example {
        name: "locust",
        about: "Locust against an HTTP server: a row per endpoint, failures counted",
        files: &[
            file!("locust", "plan.toml"),
            file!("locust", "resources/locustfile.py"),
        ],
    },
];

/// The example of this name.
pub fn find(name: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|e| e.name == name)
}
