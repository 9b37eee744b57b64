//! A throwaway Prometheus serving a trial's TSDB snapshot, for PromQL: a
//! copy of the snapshot (Prometheus writes beside its data), an empty
//! config, a free port on 127.0.0.1; stopped by PID when dropped. Queries
//! are HTTP/1.0 GETs (the body ends with the connection).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long Prometheus may take to open a snapshot.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// What went wrong starting or asking Prometheus.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PromError(pub String);

type Result<T> = std::result::Result<T, PromError>;

pub struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

/// The `prometheus` binary: `RUNNER_PROMETHEUS`, else the one on PATH.
fn binary() -> PathBuf {
    std::env::var_os("RUNNER_PROMETHEUS").map_or_else(|| PathBuf::from("prometheus"), PathBuf::from)
}

impl Server {
    /// Prometheus on a copy of `snapshot` (a TSDB folder), ready.
    pub fn start(snapshot: &Path) -> Result<Server> {
        let dir = tempfile::Builder::new()
            .prefix("runner-promql-")
            .tempdir()
            .map_err(|e| PromError(format!("cannot make a temporary folder: {e}")))?;
        let data = dir.path().join("data");
        copy_dir(snapshot, &data).map_err(|e| {
            PromError(format!(
                "cannot copy the snapshot {}: {e}",
                snapshot.display()
            ))
        })?;
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, "global: {}\n").map_err(|e| PromError(e.to_string()))?;
        let port = free_port()?;
        let arg = |k: &str, v: &Path| {
            let mut a = std::ffi::OsString::from(k);
            a.push(v.as_os_str());
            a
        };
        let child = Command::new(binary())
            .arg(arg("--config.file=", &config))
            .arg(arg("--storage.tsdb.path=", &data))
            // A snapshot is read as it is, however old: nothing expires.
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("log")).map_err(|e| PromError(e.to_string()))?,
            ))
            .spawn()
            .map_err(|e| {
                PromError(format!(
                    "cannot start `{}` to read the trial's snapshot: {e} (apt-get install prometheus, or set RUNNER_PROMETHEUS)",
                    binary().display()
                ))
            })?;
        let mut s = Server {
            child,
            port,
            _dir: dir,
        };
        s.wait_ready()?;
        Ok(s)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok((200, _)) = self.get_raw("/-/ready") {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self._dir.path().join("log")).unwrap_or_default();
                let last = log
                    .lines()
                    .rev()
                    .find(|l| l.contains("level=error"))
                    .unwrap_or("");
                return Err(PromError(format!(
                    "prometheus ended ({status}) before it was ready: {last}"
                )));
            }
            if Instant::now() >= deadline {
                return Err(PromError(format!(
                    "prometheus was not ready within {} s",
                    READY_WITHIN.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `GET path` → (status, body).
    fn get_raw(&self, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
        let mut c = TcpStream::connect(("127.0.0.1", self.port))?;
        c.set_read_timeout(Some(Duration::from_secs(120)))?;
        write!(c, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut all = Vec::new();
        c.read_to_end(&mut all)?;
        let split = memchr::memmem::find(&all, b"\r\n\r\n").unwrap_or(all.len());
        let head = String::from_utf8_lossy(&all[..split]);
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok((status, all.get(split + 4..).unwrap_or_default().to_vec()))
    }

    /// An API call's `data`, or Prometheus' error.
    pub fn api(&self, path: &str, params: &[(&str, &str)]) -> Result<serde_json::Value> {
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        let (status, body) = self
            .get_raw(&format!("{path}?{}", query.join("&")))
            .map_err(|e| PromError(format!("prometheus did not answer: {e}")))?;
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|_| {
            PromError(format!(
                "prometheus answered {status}: {}",
                String::from_utf8_lossy(&body)
            ))
        })?;
        if v["status"] == "success" {
            Ok(v["data"].clone())
        } else {
            Err(PromError(
                v["error"]
                    .as_str()
                    .map_or_else(|| v.to_string(), str::to_string),
            ))
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| PromError(format!("no free port on 127.0.0.1: {e}")))
}

/// Percent-encoding of a query parameter's value.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dest = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &dest)?;
        } else {
            std::fs::copy(e.path(), dest)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn queries_are_encoded_whole() {
        assert_eq!(
            super::encode("8 * rate(x{device!=\"lo\"}[3s])"),
            "8%20%2A%20rate%28x%7Bdevice%21%3D%22lo%22%7D%5B3s%5D%29"
        );
    }
}
