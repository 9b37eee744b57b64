//! Uploads over the host's `sftp` subsystem (SFTP version 3, the protocol
//! OpenSSH speaks): the server writes the file itself, so an upload starts
//! no shell, `cat` or `mv` on the host — with OpenSSH's `internal-sftp`
//! (local hosts) no process at all. The file is written beside its
//! destination under a name of the node's own and renamed over it
//! (`posix-rename@openssh.com`, atomic), so a reader never sees half a file.
//! A host without the subsystem is told apart (`Sftp::Unavailable`) so the
//! caller can fall back to a shell.

use russh::ChannelMsg;
use russh::client::Msg;

const INIT: u8 = 1;
const VERSION: u8 = 2;
const OPEN: u8 = 3;
const CLOSE: u8 = 4;
const WRITE: u8 = 6;
const REMOVE: u8 = 13;
const MKDIR: u8 = 14;
const RENAME: u8 = 18;
const STATUS: u8 = 101;
const HANDLE: u8 = 102;
const EXTENDED: u8 = 200;

const OPEN_WRITE: u32 = 0x02;
const OPEN_CREATE: u32 = 0x08;
const OPEN_TRUNCATE: u32 = 0x10;

const NO_SUCH_FILE: u32 = 2;

/// Bytes of file per WRITE request (OpenSSH's server takes up to 256 KiB
/// messages), and WRITE requests in flight before the first answer is read.
const CHUNK: usize = 64 * 1024;
const IN_FLIGHT: usize = 32;

/// Why an upload over SFTP did not happen.
#[derive(Debug)]
pub enum Sftp {
    /// The host has no `sftp` subsystem: use another way.
    Unavailable,
    /// It has one and the upload failed: the message says why.
    Failed(String),
    /// The deadline passed first (the temp file was removed if the
    /// server still answered).
    TimedOut,
}

impl From<russh::Error> for Sftp {
    fn from(e: russh::Error) -> Self {
        Sftp::Failed(format!("SFTP: {e}"))
    }
}

/// One SFTP conversation over an SSH channel.
struct Conn {
    read: russh::ChannelReadHalf,
    write: russh::ChannelWriteHalf<Msg>,
    buf: Vec<u8>,
    next_id: u32,
    posix_rename: bool,
}

/// An answer: its type, request id and the rest of the packet.
struct Reply {
    kind: u8,
    id: u32,
    body: Vec<u8>,
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

/// Reads big-endian fields from an answer.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_be_bytes(*head))
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = self.u32()? as usize;
        if self.0.len() < n {
            return None;
        }
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(s.to_vec())
    }
}

/// A status answer's code and the server's message.
fn status_of(body: &[u8]) -> (u32, String) {
    let mut f = Fields(body);
    let code = f.u32().unwrap_or(u32::MAX);
    let message = f
        .bytes()
        .map(|m| String::from_utf8_lossy(&m).into_owned())
        .unwrap_or_default();
    (code, message)
}

/// `path`'s folders, outermost first: `a/b/c` → `a`, `a/b`.
fn parents(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = path[at..].find('/') {
        let end = at + i;
        if end > 0 {
            out.push(path[..end].to_string());
        }
        at = end + 1;
    }
    out
}

impl Conn {
    async fn open(mut channel: russh::Channel<Msg>) -> Result<Conn, Sftp> {
        channel.request_subsystem(true, "sftp").await?;
        loop {
            match channel.wait().await {
                Some(ChannelMsg::Success) => break,
                Some(ChannelMsg::Failure) | None => return Err(Sftp::Unavailable),
                Some(_) => {}
            }
        }
        let (read, write) = channel.split();
        let mut conn = Conn {
            read,
            write,
            buf: Vec::new(),
            next_id: 1,
            posix_rename: false,
        };
        // A subsystem that is configured but cannot run (`sftp-server`
        // missing: it exits 127 at once) ends before it answers.
        let version = match conn.send(INIT, None, &3u32.to_be_bytes()).await {
            Ok(_) => conn.reply().await.map_err(|_| Sftp::Unavailable)?,
            Err(_) => return Err(Sftp::Unavailable),
        };
        if version.kind != VERSION {
            return Err(Sftp::Unavailable);
        }
        // The version answer has no id: `id` is the version itself.
        let mut f = Fields(&version.body);
        while let (Some(name), Some(_)) = (f.bytes(), f.bytes()) {
            conn.posix_rename |= name == b"posix-rename@openssh.com";
        }
        Ok(conn)
    }

    /// Sends a request; returns its id.
    async fn send(&mut self, kind: u8, id: Option<u32>, body: &[u8]) -> Result<u32, Sftp> {
        let id = id.unwrap_or_else(|| {
            let id = self.next_id;
            self.next_id += 1;
            id
        });
        let with_id = kind != INIT;
        let len = 1 + if with_id { 4 } else { 0 } + body.len();
        let mut packet = Vec::with_capacity(4 + len);
        packet.extend_from_slice(&(len as u32).to_be_bytes());
        packet.push(kind);
        if with_id {
            packet.extend_from_slice(&id.to_be_bytes());
        }
        packet.extend_from_slice(body);
        self.write.data_bytes(packet).await?;
        Ok(id)
    }

    /// The answer to request `id`; answers to earlier requests that no one
    /// waits for any more (the writes in flight when one failed) are
    /// skipped.
    async fn reply_to(&mut self, id: u32) -> Result<Reply, Sftp> {
        loop {
            let r = self.reply().await?;
            if r.id >= id {
                return Ok(r);
            }
        }
    }

    async fn reply(&mut self) -> Result<Reply, Sftp> {
        loop {
            if let Some(head) = self.buf.first_chunk::<4>() {
                let len = u32::from_be_bytes(*head) as usize;
                if !(5..=1 << 20).contains(&len) {
                    return Err(Sftp::Failed(format!(
                        "SFTP: the server sent a packet of {len} bytes"
                    )));
                }
                if self.buf.len() >= 4 + len {
                    let packet: Vec<u8> = self.buf.drain(..4 + len).collect();
                    let kind = packet[4];
                    let id = u32::from_be_bytes([packet[5], packet[6], packet[7], packet[8]]);
                    return Ok(Reply {
                        kind,
                        id,
                        body: packet[9..].to_vec(),
                    });
                }
            }
            match self.read.wait().await {
                Some(ChannelMsg::Data { data }) => self.buf.extend_from_slice(&data),
                Some(ChannelMsg::Eof | ChannelMsg::Close) | None => {
                    return Err(Sftp::Failed(
                        "SFTP: the server closed the session".to_string(),
                    ));
                }
                Some(_) => {}
            }
        }
    }

    /// The status answer to request `id`: `Ok(())` for OK, else its code
    /// and the server's message.
    async fn status(&mut self, id: u32) -> Result<Result<(), (u32, String)>, Sftp> {
        let r = self.reply_to(id).await?;
        if r.id != id || r.kind != STATUS {
            return Err(Sftp::Failed(format!(
                "SFTP: unexpected answer (type {}, id {}) to request {id}",
                r.kind, r.id
            )));
        }
        let (code, message) = status_of(&r.body);
        Ok(if code == 0 {
            Ok(())
        } else {
            Err((code, message))
        })
    }

    async fn path_request(&mut self, kind: u8, paths: &[&str], attrs: bool) -> Result<u32, Sftp> {
        let mut body = Vec::new();
        for p in paths {
            put_str(&mut body, p.as_bytes());
        }
        if attrs {
            body.extend_from_slice(&0u32.to_be_bytes());
        }
        self.send(kind, None, &body).await
    }

    /// Opens `path` for writing (created or truncated): its handle, or the
    /// status that refused it.
    async fn create(&mut self, path: &str) -> Result<Result<Vec<u8>, (u32, String)>, Sftp> {
        let mut body = Vec::new();
        put_str(&mut body, path.as_bytes());
        body.extend_from_slice(&(OPEN_WRITE | OPEN_CREATE | OPEN_TRUNCATE).to_be_bytes());
        body.extend_from_slice(&0u32.to_be_bytes());
        let id = self.send(OPEN, None, &body).await?;
        let r = self.reply_to(id).await?;
        match r.kind {
            HANDLE if r.id == id => Fields(&r.body)
                .bytes()
                .map(Ok)
                .ok_or_else(|| Sftp::Failed("SFTP: a handle answer without a handle".into())),
            STATUS if r.id == id => Ok(Err(status_of(&r.body))),
            k => Err(Sftp::Failed(format!(
                "SFTP: unexpected answer (type {k}) to an open"
            ))),
        }
    }

    /// `mkdir -p` of `path`'s folders: every folder is asked for, in
    /// order, and answers that it exists are expected.
    async fn make_parents(&mut self, path: &str) -> Result<(), Sftp> {
        let mut ids = Vec::new();
        for dir in parents(path) {
            ids.push(self.path_request(MKDIR, &[&dir], true).await?);
        }
        for id in ids {
            let _ = self.status(id).await?;
        }
        Ok(())
    }

    /// Writes `bytes` through `handle`, up to `IN_FLIGHT` requests at once.
    async fn write_all(&mut self, handle: &[u8], bytes: &[u8]) -> Result<(), String> {
        let mut pending = std::collections::VecDeque::new();
        let mut offset = 0usize;
        let mut chunks = bytes.chunks(CHUNK).peekable();
        while chunks.peek().is_some() || !pending.is_empty() {
            while pending.len() < IN_FLIGHT
                && let Some(chunk) = chunks.next()
            {
                let mut body = Vec::with_capacity(chunk.len() + handle.len() + 16);
                put_str(&mut body, handle);
                body.extend_from_slice(&(offset as u64).to_be_bytes());
                put_str(&mut body, chunk);
                offset += chunk.len();
                pending.push_back(self.send(WRITE, None, &body).await.map_err(msg)?);
            }
            if let Some(id) = pending.pop_front() {
                self.status(id).await.map_err(msg)?.map_err(|(_, m)| m)?;
            }
        }
        Ok(())
    }

    async fn close_handle(&mut self, handle: &[u8]) -> Result<Result<(), (u32, String)>, Sftp> {
        let mut body = Vec::new();
        put_str(&mut body, handle);
        let id = self.send(CLOSE, None, &body).await?;
        self.status(id).await
    }

    /// Renames `from` over `to`.
    async fn rename(&mut self, from: &str, to: &str) -> Result<Result<(), (u32, String)>, Sftp> {
        if self.posix_rename {
            let mut body = Vec::new();
            put_str(&mut body, b"posix-rename@openssh.com");
            put_str(&mut body, from.as_bytes());
            put_str(&mut body, to.as_bytes());
            let id = self.send(EXTENDED, None, &body).await?;
            return self.status(id).await;
        }
        // SFTP v3's own rename refuses an existing target.
        let id = self.path_request(REMOVE, &[to], false).await?;
        let _ = self.status(id).await?;
        let id = self.path_request(RENAME, &[from, to], false).await?;
        self.status(id).await
    }

    async fn remove(&mut self, path: &str) {
        if let Ok(id) = self.path_request(REMOVE, &[path], false).await {
            let _ = self.status(id).await;
        }
    }

    async fn end(self) {
        let _ = self.write.eof().await;
        let _ = self.write.close().await;
    }
}

fn msg(e: Sftp) -> String {
    match e {
        Sftp::Unavailable => "SFTP: the server ended the session".into(),
        Sftp::TimedOut => "SFTP: timed out".into(),
        Sftp::Failed(m) => m,
    }
}

/// Writes `bytes` to `dest` on the host through `temp` (beside it),
/// making `dest`'s folders when they are missing, by `deadline`.
pub async fn upload(
    channel: russh::Channel<Msg>,
    bytes: &[u8],
    dest: &str,
    temp: &str,
    deadline: tokio::time::Instant,
) -> Result<(), Sftp> {
    let mut conn = match tokio::time::timeout_at(deadline, Conn::open(channel)).await {
        Ok(c) => c?,
        Err(_) => return Err(Sftp::TimedOut),
    };
    let put = async {
        let handle = match conn.create(temp).await? {
            Ok(h) => h,
            Err((NO_SUCH_FILE, _)) => {
                conn.make_parents(temp).await?;
                conn.create(temp)
                    .await?
                    .map_err(|(_, m)| Sftp::Failed(format!("cannot create {temp}: {m}")))?
            }
            Err((_, m)) => return Err(Sftp::Failed(format!("cannot create {temp}: {m}"))),
        };
        let written = conn.write_all(&handle, bytes).await;
        let closed = conn.close_handle(&handle).await?;
        written.map_err(|m| Sftp::Failed(format!("cannot write {temp}: {m}")))?;
        closed.map_err(|(_, m)| Sftp::Failed(format!("cannot write {temp}: {m}")))?;
        conn.rename(temp, dest)
            .await?
            .map_err(|(_, m)| Sftp::Failed(format!("cannot rename {temp} to {dest}: {m}")))
    };
    let result = tokio::time::timeout_at(deadline, put)
        .await
        .unwrap_or(Err(Sftp::TimedOut));
    // A server that no longer answers does not hold the node up.
    let grace = std::time::Duration::from_secs(2);
    if result.is_err() {
        let _ = tokio::time::timeout(grace, conn.remove(temp)).await;
    }
    let _ = tokio::time::timeout(grace, conn.end()).await;
    result
}

#[cfg(test)]
mod tests {
    use super::parents;

    #[test]
    fn parents_outermost_first() {
        assert_eq!(parents("a/b/c"), ["a", "a/b"]);
        assert_eq!(parents("/x/y/f"), ["/x", "/x/y"]);
        assert_eq!(parents("f"), Vec::<String>::new());
        assert_eq!(parents("a//b"), ["a", "a/"]);
    }
}
