//! Just enough HTTP for a wiki's API: one request per connection
//! (HTTP/1.0, the body ends with the connection), over TLS (rustls, the
//! system's roots) for `https://`, with the cookies a login sets kept and
//! sent back. Every wait is bounded: a connection within 15 s, a whole
//! answer within 120 s (however slowly it trickles).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Error, Result};

const CONNECT_WITHIN: Duration = Duration::from_secs(15);
const ANSWER_WITHIN: Duration = Duration::from_secs(120);

/// A client of one URL (`http[s]://host[:port]/path`).
pub struct Client {
    url: String,
    host: String,
    port: u16,
    path: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    cookies: BTreeMap<String, String>,
}

pub struct Response {
    pub status: u16,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

impl Client {
    pub fn new(url: &str) -> Result<Client> {
        let (https, rest) = match url.split_once("://") {
            Some(("https", rest)) => (true, rest),
            Some(("http", rest)) => (false, rest),
            _ => return Err(Error::new(format!("{url}: not an http:// or https:// URL"))),
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
                h,
                p.parse()
                    .map_err(|_| Error::new(format!("{url}: bad port `{p}`")))?,
            ),
            _ => (authority, if https { 443 } else { 80 }),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let tls = https.then(tls_config).transpose()?;
        Ok(Client {
            url: url.to_string(),
            host,
            port,
            path: if path.is_empty() {
                "/".into()
            } else {
                path.into()
            },
            tls,
            cookies: BTreeMap::new(),
        })
    }

    pub fn get(&mut self, query: &[(&str, &str)]) -> Result<Response> {
        let target = format!("{}?{}", self.path, form(query));
        self.send(format!("GET {target} HTTP/1.0\r\n"), Vec::new())
    }

    pub fn post(&mut self, fields: &[(&str, &str)]) -> Result<Response> {
        let body = form(fields).into_bytes();
        let head = format!(
            "POST {} HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            self.path,
            body.len()
        );
        self.send(head, body)
    }

    fn send(&mut self, mut head: String, body: Vec<u8>) -> Result<Response> {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        head.push_str(&format!(
            "Host: {host}\r\nUser-Agent: runner/{}\r\nAccept: application/json\r\nConnection: close\r\n",
            env!("CARGO_PKG_VERSION")
        ));
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            head.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        request.extend(body);
        let raw = self.exchange(&request).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => Error::new(format!(
                "{} did not answer within {}s: is the wiki up and not overloaded? apply again to publish",
                self.url,
                ANSWER_WITHIN.as_secs()
            )),
            _ if e.to_string().contains("certificate") => Error::new(format!(
                "cannot reach {}: {e}; a wiki whose certificate a private authority signed is trusted once that authority is (`update-ca-certificates`, or SSL_CERT_FILE=its PEM file for runner alone)",
                self.url
            )),
            _ => Error::new(format!("cannot reach {}: {e}", self.url)),
        })?;
        let response = parse(&raw, &mut self.cookies).ok_or_else(|| {
            Error::new(format!("{} answered something that is not HTTP", self.url))
        })?;
        Ok(response)
    }

    fn exchange(&self, request: &[u8]) -> std::io::Result<Vec<u8>> {
        let addr = (self.host.as_str(), self.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other("the name has no address"))?;
        let tcp = TcpStream::connect_timeout(&addr, CONNECT_WITHIN)?;
        let deadline = Instant::now() + ANSWER_WITHIN;
        tcp.set_write_timeout(Some(ANSWER_WITHIN))?;
        match &self.tls {
            None => {
                let mut tcp = tcp;
                tcp.write_all(request)?;
                read_all(
                    &mut tcp,
                    |t| t.set_read_timeout(Some(t_left(deadline)?)),
                    deadline,
                )
            }
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                    .map_err(std::io::Error::other)?;
                let conn = rustls::ClientConnection::new(config.clone(), name)
                    .map_err(std::io::Error::other)?;
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                tls.write_all(request)?;
                let timeout = |t: &mut rustls::StreamOwned<_, TcpStream>| {
                    t.sock.set_read_timeout(Some(t_left(deadline)?))
                };
                read_all(&mut tls, timeout, deadline)
            }
        }
    }
}

/// Reads until the connection ends or `deadline` passes (then `TimedOut`).
fn read_all<S: Read>(
    stream: &mut S,
    timeout: impl Fn(&mut S) -> std::io::Result<()>,
    deadline: Instant,
) -> std::io::Result<Vec<u8>> {
    let mut all = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        timeout(stream)?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok(all),
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // A server that closes without TLS's close_notify: the body
            // ended with the connection all the same.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !all.is_empty() => {
                return Ok(all);
            }
            Err(e) => return Err(e),
        }
        if Instant::now() >= deadline {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
    }
}

/// What is left until `deadline` (at least 1 ms), or `TimedOut`.
fn t_left(deadline: Instant) -> std::io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(std::io::ErrorKind::TimedOut.into());
    }
    Ok(left.max(Duration::from_millis(1)))
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(Error::new(
            "no trusted certificate authority on this machine for https:// (install the `ca-certificates` package)",
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The status, the redirect, the cookies set, the body (chunks joined).
fn parse(raw: &[u8], cookies: &mut BTreeMap<String, String>) -> Option<Response> {
    let split = memchr::memmem::find(raw, b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let (mut location, mut chunked) = (None, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "set-cookie" => {
                if let Some((k, v)) = value.split(';').next().and_then(|c| c.split_once('=')) {
                    cookies.insert(k.trim().to_string(), v.trim().to_string());
                }
            }
            "location" => location = Some(value.to_string()),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    let body = &raw[split + 4..];
    Some(Response {
        status,
        location,
        body: if chunked {
            dechunk(body)
        } else {
            body.to_vec()
        },
    })
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = memchr::memmem::find(body, b"\r\n") {
        let size = String::from_utf8_lossy(&body[..end]);
        let Ok(size) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
        else {
            break;
        };
        let start = end + 2;
        if size == 0 || start + size > body.len() {
            break;
        }
        out.extend_from_slice(&body[start..start + size]);
        body = body.get(start + size + 2..).unwrap_or_default();
    }
    out
}

/// `application/x-www-form-urlencoded`.
fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_gives_its_status_cookies_and_body_chunked_or_not() {
        let mut jar = BTreeMap::new();
        let raw = b"HTTP/1.1 200 OK\r\nSet-Cookie: wiki_session=abc; path=/; HttpOnly\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
        let r = parse(raw, &mut jar).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{\"a\":1}"[..]));
        assert_eq!(jar["wiki_session"], "abc");
        let r = parse(
            b"HTTP/1.0 301 Moved\r\nLocation: https://x/api.php\r\n\r\n",
            &mut jar,
        )
        .unwrap();
        assert_eq!(
            (r.status, r.location.as_deref()),
            (301, Some("https://x/api.php"))
        );
        assert!(parse(b"garbage", &mut jar).is_none());
    }

    #[test]
    fn form_fields_are_percent_encoded() {
        assert_eq!(
            form(&[("text", "a |b|\n{{x}}&=é")]),
            "text=a%20%7Cb%7C%0A%7B%7Bx%7D%7D%26%3D%C3%A9"
        );
    }
}
