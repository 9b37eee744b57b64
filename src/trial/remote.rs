//! The shell scripts a trial sends to a host, each run over the host's one
//! SSH connection in its working directory. A test's or monitor's folder is
//! `runner-trials/<trial>/<host>/<name>/` there (`{{ out }}`), holding `command`,
//! `stdout`, `stderr` and, for tests, `status.json`; for monitors, `pid`,
//! `started` and `stopped`.
//!
//! Tests are armed as detached processes (`setsid -f`): no SSH session is
//! held open while they wait or run, so a lost connection or a killed
//! runner does not stop them. Each sleeps until its start time by the
//! host's own clock (bash's `EPOCHREALTIME`, microseconds, no fork for the
//! last stretch), runs the command under `timeout`, and writes its actual
//! start, end and exit status.

use std::time::Duration;

use crate::paths::out_dir;
use crate::shell::quote;

/// A heredoc delimiter that does not occur in `body`.
fn delimiter(body: &str) -> String {
    let mut n = 0u32;
    loop {
        let d = format!("RUNNER_EOF_{n}");
        if !body.lines().any(|l| l.trim() == d) {
            return d;
        }
        n += 1;
    }
}

/// `cat > path <<'EOF' … EOF`: writes `body` verbatim (ending with a newline).
fn write_file(path: &str, body: &str) -> String {
    let d = delimiter(body);
    let nl = if body.ends_with('\n') { "" } else { "\n" };
    format!("cat > {path} <<'{d}'\n{body}{nl}{d}\n")
}

/// Starts monitors `(name, command)` detached, each its own session (so
/// its process group can be stopped whole), and waits up to 5 s for each
/// to write its pid. Prints `started NAME` per monitor.
pub fn start_monitors(trial: &str, tag: &str, host: &str, monitors: &[(&str, &str)]) -> String {
    let mut s = String::from("unset RUNNER_NODE\nset -e\n");
    s.push_str(&format!(
        "RUNNER_TRIAL={}; export RUNNER_TRIAL\n",
        quote(tag)
    ));
    for (name, command) in monitors {
        let d = quote(&out_dir(trial, host, name));
        s.push_str(&format!("mkdir -p {d}\n"));
        s.push_str(&write_file(&format!("{d}/command"), command));
        // `started` before `pid`: whoever sees the pid can read the start.
        // The command runs as a child (not exec'd), so that a monitor that
        // ends on its own leaves its exit status in `exit`.
        s.push_str(&format!(
            "setsid -f sh -c 'date +%s.%N > \"$1/started\"; echo $$ > \"$1/pid\"; \"${{SHELL:-/bin/sh}}\" \"$1/command\" > \"$1/stdout\" 2> \"$1/stderr\" < /dev/null; echo $? > \"$1/exit\"' sh {d} < /dev/null > /dev/null 2>&1\n"
        ));
    }
    s.push_str("set +e\n");
    for (name, _) in monitors {
        let d = quote(&out_dir(trial, host, name));
        s.push_str(&format!(
            "i=0; while [ ! -s {d}/pid ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done\n\
             if [ -s {d}/pid ]; then echo \"started {name} $(cat {d}/started)\"; else echo \"failed {name}\"; fi\n"
        ));
    }
    s
}

/// Arms tests `(name, command, start epoch in µs, timeout)`. Prints
/// `armed NAME` per test.
pub fn arm_tests(
    trial: &str,
    tag: &str,
    host: &str,
    tests: &[(&str, &str, u64, Duration)],
) -> String {
    let mut s = String::from("unset RUNNER_NODE\nset -e\n");
    s.push_str(&format!(
        "RUNNER_TRIAL={}; export RUNNER_TRIAL\n",
        quote(tag)
    ));
    s.push_str(
        "command -v bash >/dev/null || { echo 'bash is needed to arm tests' >&2; exit 3; }\n",
    );
    for (name, command, start_us, timeout) in tests {
        let d = quote(&out_dir(trial, host, name));
        s.push_str(&format!("mkdir -p {d}\nrm -f {d}/status.json\n"));
        s.push_str(&write_file(&format!("{d}/command"), command));
        s.push_str(&write_file(
            &format!("{d}/run.sh"),
            &run_script(*start_us, *timeout),
        ));
        s.push_str(&format!(
            "setsid -f bash {d}/run.sh {d} < /dev/null > /dev/null 2>&1\necho armed {name}\n"
        ));
    }
    s
}

/// The detached script of one test. It sleeps to 0.2 s before the start;
/// then readies the test: `timeout` and the test's shell forked and exec'd,
/// the shell blocked reading a FIFO (`go`), its next line the user's. An
/// alarm waits out the rest with bash's own `read -t` on another FIFO
/// (microsecond timeout, no fork, no spinning) at real-time priority where
/// the host allows it; at the start time its one write to `go` wakes the
/// test. The test records its own start (`$EPOCHREALTIME` into a file
/// opened beforehand: one write) between its wake-up and the user's first
/// instruction. With 8 tests on the 2 cores of one machine, `date` run as
/// the test starts within 3 to 4 ms everywhere (BENCHMARKS.md).
fn run_script(start_us: u64, timeout: Duration) -> String {
    let timeout_us = timeout.as_micros().max(1000);
    format!(
        r#"export LC_ALL=C
o=$1
target={start_us}
now=${{EPOCHREALTIME/./}}
echo "$now" > "$o/armed"
echo "$$" > "$o/script.pid"
rm -f "$o/tick" "$o/go" "$o/started"
mkfifo "$o/tick" "$o/go" && exec 9<> "$o/tick" 7<> "$o/go"
# What the test's shell runs: wait for `go`, note the time, then the
# user's command: run by the same bash (`bash -c`, so that a last simple
# command is exec'd, not forked) when $SHELL is bash, else exec'd.
ready='read -r -u 6 _; printf %s "$EPOCHREALTIME" >&8; exec 6<&- 8>&-'
body=
[[ ${{SHELL:-/bin/sh}} == */bash ]] && body=$(< "$o/command")
(( ${{#body}} == 0 || ${{#body}} > 65536 )) && printf -v body 'exec %q %q' "${{SHELL:-/bin/sh}}" "$o/command"
ready+=$'\n'$body
lead=$(( target - now - 200000 ))
printf -v wait '%d.%06d' $(( lead / 1000000 )) $(( lead % 1000000 ))
(( lead > 0 )) && sleep "$wait"
# The test's limit counts from its start, not from now.
limit=$(( {timeout_us} + target - ${{EPOCHREALTIME/./}} ))
(( limit < {timeout_us} )) && limit={timeout_us}
printf -v limit '%d.%06d' $(( limit / 1000000 )) $(( limit % 1000000 ))
timeout -k 5 "$limit" bash -c "$ready" \
  > "$o/stdout" 2> "$o/stderr" < /dev/null 6<> "$o/go" 8> "$o/started" 7<&- 9<&- &
test=$!
# The alarm: a subshell that wakes the test at the start, at real-time
# priority where allowed (root, CAP_SYS_NICE), so that many starts on one
# machine are not queued behind each other; what it forks gets normal
# scheduling (-R). Nothing else of ours runs at real-time priority: this
# script's own end (when a test is over) must not delay another's start.
# `read -t` with a timeout of a few microseconds can miss its own alarm
# (bash) and block for good on the FIFO: short waits spin instead, and a
# watchdog writes to the FIFO a second after the start, whatever happens;
# the alarm ends then, not at the start. The timeout is measured after the
# watchdog's fork, which takes a while. No `$( )` here: each is a fork.
(
  chrt -R -f -p 1 $BASHPID > /dev/null 2>&1
  left=$(( target - ${{EPOCHREALTIME/./}} ))
  wd=
  if (( left > 2000 )); then
    ( exec 7<&-; sleep "$(( left / 1000000 + 1 ))"; echo >&9 ) & wd=$!
    left=$(( target - ${{EPOCHREALTIME/./}} ))
    printf -v wait '%d.%06d' $(( left / 1000000 )) $(( left % 1000000 ))
    (( left > 0 )) && read -r -t "$wait" -u 9 _
  fi
  while (( ${{EPOCHREALTIME/./}} < target )); do :; done
  echo >&7
  exec 7<&-
  [[ $wd ]] && read -r -u 9 _
) &
exec 9<&- 7<&-
wait "$test"
rc=$?
end=$EPOCHREALTIME
# Builtins only: other tests may be starting now. A test that never
# reached its first line has its start time as its start. status.json is
# one write; readers wait for it to be non-empty. The wait removes the
# FIFOs.
start=
read -r start < "$o/started"
[[ $start ]] || printf -v start '%d.%06d' $(( target / 1000000 )) $(( target % 1000000 ))
printf '{{"start": %s, "end": %s, "exit_code": %d, "arrived_us": %s}}\n' "$start" "$end" "$rc" "$now" > "$o/status.json"
"#
    )
}

/// Waits until every named test has a `status.json` (up to `limit`), then
/// prints `NAME<TAB>{json}` per test, `{}` for none. Until `quiet` has
/// passed (just after the first start) it only sleeps, waking at most once
/// a second and never near the start; then it polls every 0.2 s. The wait
/// carries the trial's tag (destroy and abandon stop it with the trial's
/// processes), forks nothing but `sleep`, and ends by itself when its SSH
/// session is gone (its parent, sshd's session process, no longer its
/// parent).
pub fn wait_tests(
    trial: &str,
    tag: &str,
    host: &str,
    names: &[&str],
    quiet: Duration,
    limit: Duration,
) -> String {
    let dirs: Vec<String> = names
        .iter()
        .map(|n| quote(&out_dir(trial, host, n)))
        .collect();
    let mut s = format!(
        r#"end=$(( EPOCHSECONDS + {limit} ))
quiet=$(( ${{EPOCHREALTIME/./}} + {quiet} ))
gone() {{ read -r _ _ _ pp _ < /proc/$$/stat 2>/dev/null && [[ $pp != "$PPID" ]]; }}
# A test's script that is gone without its status (it could not write it:
# a full disk); a script without a pid file is taken as running.
ended() {{ local p=; read -r p 2>/dev/null < "$1/script.pid"; [[ $p ]] && ! kill -0 "$p" 2>/dev/null; }}
while (( ${{EPOCHREALTIME/./}} < quiet )); do
  gone && exit 0
  left=$(( quiet - ${{EPOCHREALTIME/./}} ))
  (( left > 2000000 )) && left=1000000
  printf -v left '%d.%06d' $(( left / 1000000 )) $(( left % 1000000 ))
  sleep "$left"
done
while :; do
  gone && exit 0
  all=1
"#,
        limit = limit.as_secs().max(1),
        quiet = quiet.as_micros(),
    );
    // A test whose script `ended` without a status is over too: waiting
    // for it would last its timeout.
    for d in &dirs {
        s.push_str(&format!(
            "  [[ -s {d}/status.json ]] || ended {d} || all=0\n"
        ));
    }
    s.push_str("  (( all || EPOCHSECONDS >= end )) && break\n  sleep 0.2\ndone\n");
    for (n, d) in names.iter().zip(&dirs) {
        s.push_str(&format!(
            "printf '%s\\t' {n}; if [[ -s {d}/status.json ]]; then tr -d '\\n' < {d}/status.json; echo; rm -f {d}/tick {d}/go; elif ended {d}; then printf '{{\"gone\": true, \"avail_kb\": \"%s\"}}\\n' \"$(df -Pk {d} 2>/dev/null | awk 'NR==2 {{print $4}}')\"; else echo '{{}}'; fi\n",
            n = quote(n)
        ));
    }
    // One process, the tag in its own environment (what `stop_env` reads),
    // in place of the login shell: sshd's session stays its parent.
    format!("RUNNER_TRIAL={} exec bash -c {}", quote(tag), quote(&s))
}

/// Stops monitors `(name, stop_timeout)`: TERM to each one's process group,
/// KILL to what is left after its timeout. Prints `exited NAME CODE` for one
/// that had ended on its own, then `stopped NAME EPOCH` or `killed NAME EPOCH`.
pub fn stop_monitors(trial: &str, tag: &str, host: &str, monitors: &[(&str, Duration)]) -> String {
    // Whether process group $1 has a process that is not a zombie: a group
    // whose processes were killed holds zombies until init reaps them,
    // which some inits do only every second or so (`kill -0` counts them).
    // Builtins only: /proc/PID/stat after the command's `) `: state, ppid, pgrp.
    let mut s = String::from(
        "live() {\n  g=$1\n  for f in /proc/[0-9]*/stat; do\n    read -r l < \"$f\" 2>/dev/null || continue\n    l=${l##*\") \"}\n    set -- $l\n    [ \"$3\" = \"$g\" ] && [ \"$1\" != Z ] && return 0\n  done\n  return 1\n}\n",
    );
    for (name, _) in monitors {
        s.push_str(&snapshot(&quote(&out_dir(trial, host, name)), name));
    }
    for (name, _) in monitors {
        let d = quote(&out_dir(trial, host, name));
        // One that already ended on its own is said first (`exited NAME CODE`).
        // Signalled only if that process group is still this trial's (after
        // a reboot the pid may belong to anything).
        s.push_str(&format!(
            "[ -s {d}/exit ] && echo \"exited {name} $(cat {d}/exit)\"\n\
             p=$(cat {d}/pid 2>/dev/null) && grep -qzxF {tag} /proc/\"$p\"/environ 2>/dev/null && kill -TERM -- -\"$p\" 2>/dev/null\n",
            tag = quote(&format!("RUNNER_TRIAL={tag}"))
        ));
    }
    for (name, timeout) in monitors {
        let d = quote(&out_dir(trial, host, name));
        let tenths = (timeout.as_millis() / 100).max(1);
        s.push_str(&format!(
            "how=stopped; p=$(cat {d}/pid 2>/dev/null)\n\
             if [ -n \"$p\" ]; then\n  i=0\n  while live \"$p\" && [ $i -lt {tenths} ]; do sleep 0.1; i=$((i+1)); done\n  \
             if live \"$p\"; then kill -KILL -- -\"$p\" 2>/dev/null; how=killed; fi\nfi\n\
             [ -s {d}/stopped ] || date +%s.%N > {d}/stopped; echo \"$how {name} $(cat {d}/stopped)\"\n"
        ));
    }
    s
}

/// A monitor that wrote `prometheus-url` (and `prometheus-data`, its TSDB
/// folder) is a Prometheus: before anything is stopped, its TSDB snapshot
/// (admin API) is moved into its folder (`snapshot/`, with
/// `snapshot.json`), so that the trial keeps its metrics whatever becomes
/// of the host. Prints `snapshot NAME ok` or `snapshot NAME failed WHY`.
fn snapshot(d: &str, name: &str) -> String {
    r#"if [ -s @D/prometheus-url ] && ! { p=$(cat @D/pid 2>/dev/null) && live "$p"; }; then
  echo "snapshot @NAME failed its Prometheus had ended before the snapshot: $(tail -n 1 @D/stderr 2>/dev/null | tr '
' ' ' | cut -c1-300)"
elif [ -s @D/prometheus-url ]; then
  u=$(cat @D/prometheus-url); data=$(cat @D/prometheus-data 2>/dev/null)
  r=$(curl -sS -m 60 -X POST "$u/api/v1/admin/tsdb/snapshot" 2>&1)
  n=$(printf '%s' "$r" | sed -n 's/.*"name":"\([^"]*\)".*/\1/p')
  if [ -z "$n" ]; then why="$u: $r"
  elif ! why=$(mkdir -p @D/snapshot 2>&1 && cp -r "$data/snapshots/$n/." @D/snapshot/ 2>&1); then :
  else why=; fi
  [ -n "$n" ] && rm -rf "$data/snapshots/$n"
  if [ -z "$why" ] && printf '{"name": "%s", "url": "%s", "taken": %s}\n' "$n" "$u" "$(date +%s.%N)" > @D/snapshot.json; then echo "snapshot @NAME ok"
  else rm -rf @D/snapshot; echo "snapshot @NAME failed $(printf '%s' "${why:-cannot write snapshot.json}" | tr '\n' ' ' | cut -c1-300)"; fi
fi
"#
    .replace("@D", d)
    .replace("@NAME", name)
}

/// Lists files under `base` (relative to the working directory) for
/// collection: `F<TAB>path` for files, `L<TAB>path<TAB>resolved<TAB>target`
/// for symlinks (`resolved` empty when it does not resolve); the first line
/// is `B<TAB>` and `base`'s physical path. With
/// `skip_trials`, `runner-trials/` (tests' and monitors' own output) is left out.
pub fn list_files(base: &str, skip_trials: bool) -> String {
    let prune = if skip_trials {
        "-path ./runner-trials -prune -o "
    } else {
        ""
    };
    format!(
        "cd {b} 2>/dev/null || exit 0\nprintf 'B\\t%s\\n' \"$(pwd -P)\"\n\
         find . -mindepth 1 {prune}\\( -type f -o -type l \\) -print | while IFS= read -r f; do\n  \
         if [ -L \"$f\" ]; then printf 'L\\t%s\\t%s\\t%s\\n' \"$f\" \"$(readlink -e -- \"$f\")\" \"$(readlink -- \"$f\")\"; else printf 'F\\t%s\\n' \"$f\"; fi\ndone\n",
        b = quote(base)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredocs_survive_any_command() {
        let body = "echo 'RUNNER_EOF_0'\nRUNNER_EOF_0\n$HOME `x` \\n\n";
        let script = write_file("f", body);
        assert!(script.starts_with("cat > f <<'RUNNER_EOF_1'\n"), "{script}");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("cd \"$(mktemp -d)\" && {script} cat f"))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), body);
    }
}
