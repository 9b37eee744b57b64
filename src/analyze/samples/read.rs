//! Reading a per-event log fast and in bounded memory: the file is cut at
//! line ends into one part per core, each part read a block at a time and
//! scanned as bytes (no line or field is allocated; numbers of digits only
//! are parsed without a detour through text), each event recorded into its
//! row's accumulator; the parts' accumulators are then merged exactly. The
//! first line says which column is which (a header, or numbers).

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use std::borrow::Cow;

use super::columns::{Columns, columns};
use super::fields::{Bad, latency, number, split, trim, unquote};
use super::{Acc, FileError, Key, Spec, Stamp, Window};

/// One file's rows, and how many of its events fell in no window.
#[derive(Debug, Default)]
pub(crate) struct FileSamples {
    pub accs: Vec<(Key, Acc)>,
    pub outside: u64,
}

impl FileSamples {
    /// `other`'s rows merged in.
    fn add(&mut self, other: FileSamples) {
        self.outside += other.outside;
        for (k, a) in other.accs {
            match self.accs.iter_mut().find(|(x, _)| *x == k) {
                Some((_, m)) => m.add(&a),
                None => self.accs.push((k, a)),
            }
        }
    }
}

/// Reads `files` on all cores; results in the order given.
pub(crate) fn read_all(
    spec: &Spec,
    files: &[PathBuf],
    windows: &[Window],
) -> Vec<Result<FileSamples, FileError>> {
    files.iter().map(|f| read_file(spec, f, windows)).collect()
}

/// Bytes read at a time by each part.
const BLOCK: usize = 1 << 20;
/// A file smaller than this is read by one thread.
const PART: u64 = 8 << 20;

pub(crate) fn read_file(
    spec: &Spec,
    path: &Path,
    windows: &[Window],
) -> Result<FileSamples, FileError> {
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min((size / PART) as usize + 1);
    read_in(spec, path, windows, threads)
}

/// Reads `path` in `threads` parts.
fn read_in(
    spec: &Spec,
    path: &Path,
    windows: &[Window],
    threads: usize,
) -> Result<FileSamples, FileError> {
    let io = |e: std::io::Error| FileError::whole(path, e.to_string());
    let mut file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let Some(first) = first_line(&mut file).map_err(io)? else {
        return Err(FileError::whole(
            path,
            "no lines: expected a log of one event a line".into(),
        ));
    };
    let (cols, header) =
        columns(spec, &first.text).map_err(|m| FileError::at(path, first.no, m.to_string()))?;
    let start = if header { first.end } else { first.start }.min(size);
    let threads = threads.max(1);
    let cuts = cuts(path, start, size, threads).map_err(io)?;
    let parts: Vec<Result<FileSamples, (u64, String)>> = std::thread::scope(|s| {
        let handles: Vec<_> = cuts
            .windows(2)
            .map(|w| {
                let (from, to) = (w[0], w[1]);
                let cols = &cols;
                s.spawn(move || read_part(spec, cols, path, from, to, windows))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err((0, "a reader thread failed".into())))
            })
            .collect()
    });
    let mut out = FileSamples::default();
    for p in parts {
        match p {
            Ok(part) => out.add(part),
            Err((offset, message)) => {
                return Err(FileError::at(
                    path,
                    line_at(path, offset).unwrap_or(0),
                    message,
                ));
            }
        }
    }
    Ok(out)
}

/// A file's first line that is not empty or a comment.
struct First {
    text: String,
    /// Its number, from 1.
    no: usize,
    /// The offsets of its first byte and of the byte after its newline.
    start: u64,
    end: u64,
}

fn first_line(file: &mut std::fs::File) -> std::io::Result<Option<First>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (mut start, mut no) = (0u64, 0usize);
    loop {
        while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            no += 1;
            let end = start + line.len() as u64;
            let text = String::from_utf8_lossy(&line)
                .trim_end_matches(['\n', '\r'])
                .to_string();
            if !text.trim().is_empty() && !text.starts_with('#') {
                return Ok(Some(First {
                    text,
                    no,
                    start,
                    end,
                }));
            }
            start = end;
        }
        let n = file.read(&mut chunk)?;
        if n == 0 {
            // A last line without a newline.
            let text = String::from_utf8_lossy(&buf)
                .trim_end_matches('\r')
                .to_string();
            let end = start + buf.len() as u64;
            let found = !text.trim().is_empty() && !text.starts_with('#');
            return Ok(found.then_some(First {
                text,
                no: no + 1,
                start,
                end,
            }));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Offsets that cut [start, size) into `n` parts at line ends.
fn cuts(path: &Path, start: u64, size: u64, n: usize) -> std::io::Result<Vec<u64>> {
    let mut out = vec![start];
    let mut f = std::fs::File::open(path)?;
    for k in 1..n {
        let guess = start + (size - start) * k as u64 / n as u64;
        f.seek(SeekFrom::Start(guess))?;
        let mut buf = [0u8; 4096];
        let mut at = guess;
        let cut = loop {
            let got = f.read(&mut buf)?;
            if got == 0 {
                break size;
            }
            if let Some(i) = buf[..got].iter().position(|&b| b == b'\n') {
                break at + i as u64 + 1;
            }
            at += got as u64;
        };
        if cut > *out.last().unwrap_or(&0) && cut < size {
            out.push(cut);
        }
    }
    out.push(size);
    Ok(out)
}

/// The line number of byte `offset` (only when an error is said),
/// counted a block at a time.
fn line_at(path: &Path, offset: u64) -> Option<usize> {
    let mut f = std::fs::File::open(path).ok()?.take(offset);
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 1;
    loop {
        match f.read(&mut buf).ok()? {
            0 => return Some(lines),
            n => lines += buf[..n].iter().filter(|&&b| b == b'\n').count(),
        }
    }
}

/// The lines in [from, to): every event into its row. An error carries
/// the offset of its line.
fn read_part(
    spec: &Spec,
    cols: &Columns,
    path: &Path,
    from: u64,
    to: u64,
    windows: &[Window],
) -> Result<FileSamples, (u64, String)> {
    let io = |e: std::io::Error| (from, e.to_string());
    let mut f = std::fs::File::open(path).map_err(io)?;
    f.seek(SeekFrom::Start(from)).map_err(io)?;
    let mut reader = Lines {
        spec,
        cols,
        windows,
        out: FileSamples::default(),
    };
    let mut buf = vec![0u8; BLOCK];
    let mut held = 0usize;
    let mut at = from;
    let mut left = to - from;
    loop {
        let want = (buf.len() - held).min(left as usize);
        let n = if want == 0 {
            0
        } else {
            f.read(&mut buf[held..held + want]).map_err(io)?
        };
        left -= n as u64;
        let end = held + n;
        let done = n == 0;
        let mut start = 0;
        while let Some(nl) = memchr::memchr(b'\n', &buf[start..end]) {
            reader
                .line(&buf[start..start + nl])
                .map_err(|m| (at + start as u64, m.to_string()))?;
            start += nl + 1;
        }
        if done {
            if start < end {
                reader
                    .line(&buf[start..end])
                    .map_err(|m| (at + start as u64, m.to_string()))?;
            }
            return Ok(reader.out);
        }
        buf.copy_within(start..end, 0);
        at += start as u64;
        held = end - start;
        if held == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
}

struct Lines<'a> {
    spec: &'a Spec,
    cols: &'a Columns,
    windows: &'a [Window],
    out: FileSamples,
}

/// A latency past this many units does not fit a histogram in
/// thousandths (2^62 ticks).
const LARGEST: f64 = 4.6e15;

impl Lines<'_> {
    fn line(&mut self, line: &[u8]) -> Result<(), Bad> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // A blank line or a comment.
        if let None | Some(b'#') = line.iter().find(|b| !b.is_ascii_whitespace()) {
            return Ok(());
        }
        // The fields looked at, without allocating: logs have few columns.
        match self.cols.last {
            0..8 => self.fields::<8>(line),
            8..32 => self.fields::<32>(line),
            _ => {
                let mut fields = Vec::new();
                split(line, self.cols.sep, self.cols.last, |f| fields.push(f))?;
                self.event(&fields)
            }
        }
    }

    /// The line's fields (at most `N`) to `event`.
    fn fields<const N: usize>(&mut self, line: &[u8]) -> Result<(), Bad> {
        let mut fields: [&[u8]; N] = [b""; N];
        let mut n = 0;
        split(line, self.cols.sep, self.cols.last, |f| {
            fields[n] = f;
            n += 1;
        })?;
        self.event(&fields[..n])
    }

    /// The event's time, if the log has one.
    fn stamp(&self, fields: &[&[u8]]) -> Result<Option<Stamp>, Bad> {
        let Some(i) = self.cols.time else {
            return Ok(None);
        };
        let raw = number(field(fields, i, "timestamp")?, "timestamp")?;
        let mut t = raw * self.spec.time_scale;
        if let Some(j) = self.cols.time_us {
            t += number(field(fields, j, "microseconds")?, "microseconds")? * 1e-6;
        }
        Ok(Some(Stamp {
            t,
            whole: self.cols.time_us.is_none() && raw.fract() == 0.0,
        }))
    }

    fn event(&mut self, fields: &[&[u8]]) -> Result<(), Bad> {
        let (spec, cols) = (self.spec, self.cols);
        let stamp = self.stamp(fields)?;
        let window = match (stamp, self.windows.is_empty()) {
            (_, true) => None,
            (None, false) => return Err(Bad::NoTimestamp),
            (Some(s), false) => match self
                .windows
                .iter()
                .position(|w| w.start <= s.t && s.t < w.end)
            {
                Some(w) => Some(w),
                None => {
                    self.out.outside += 1;
                    return Ok(());
                }
            },
        };
        let ok = match cols.status {
            None => None,
            Some(i) => {
                let s = trim(field(fields, i, "status")?);
                Some(spec.ok.iter().any(|o| o.as_bytes().eq_ignore_ascii_case(s)))
            }
        };
        let mut labels: [Cow<[u8]>; 8] = Default::default();
        for (n, &i) in cols.labels.iter().enumerate().take(8) {
            labels[n] = unquote(field(fields, i, "label")?);
        }
        let labels = &labels[..cols.labels.len().min(8)];
        let cell = trim(field(fields, cols.latency, "latency")?);
        let acc = self.acc(labels, ok, window);
        match latency(cell) {
            Some((v, _)) if v >= LARGEST => Err(Bad::TooLarge {
                text: String::from_utf8_lossy(cell).into_owned(),
            }),
            Some((v, decimals)) => {
                acc.record(v, stamp, decimals);
                Ok(())
            }
            None if spec
                .skip
                .iter()
                .any(|s| s.as_bytes().eq_ignore_ascii_case(cell)) =>
            {
                acc.skipped += 1;
                Ok(())
            }
            None => Err(Bad::Latency {
                text: String::from_utf8_lossy(cell).into_owned(),
                skip: spec.skip.join(", "),
            }),
        }
    }

    /// The row of these labels, status and window (made on first use).
    fn acc(&mut self, labels: &[Cow<[u8]>], ok: Option<bool>, window: Option<usize>) -> &mut Acc {
        let found = self.out.accs.iter().position(|(k, _)| {
            k.ok == ok
                && k.window == window
                && k.labels.len() == labels.len()
                && k.labels
                    .iter()
                    .zip(labels)
                    .all(|(a, b)| a.as_bytes() == &**b)
        });
        let i = match found {
            Some(i) => i,
            None => {
                let key = Key {
                    labels: labels
                        .iter()
                        .map(|l| String::from_utf8_lossy(l).into_owned())
                        .collect(),
                    ok,
                    window,
                };
                self.out.accs.push((key, Acc::new(self.spec.sigfig)));
                self.out.accs.len() - 1
            }
        };
        &mut self.out.accs[i].1
    }
}

/// Field `i` of a line, or why it is missing.
fn field<'l>(fields: &[&'l [u8]], i: usize, what: &'static str) -> Result<&'l [u8], Bad> {
    fields.get(i).copied().ok_or(Bad::Missing {
        what,
        column: i,
        fields: fields.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::samples::{Col, Sep};

    fn spec(latency: Col, label: Option<Col>) -> Spec {
        Spec {
            latency,
            unit: "us".into(),
            time: None,
            time_us: None,
            time_scale: 1.0,
            time_unit: "s".into(),
            labels: label.into_iter().collect(),
            status: None,
            ok: vec!["ok".into()],
            sep: Sep::Auto,
            header: None,
            skip: vec!["skipped".into()],
            sigfig: 3,
            percentiles: vec![50.0],
        }
    }

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("runner-read-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.csv");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A log whose parts are cut anywhere reads the same as in one part:
    /// CRLF ends, comments, blank lines, no newline at the end.
    #[test]
    fn every_cut_reads_the_same_events() {
        let mut text = String::from("# made by a test\r\n\r\nop,latency\r\n");
        for i in 0..5000u32 {
            text.push_str(&format!(
                "{},{}\r\n",
                ["get", "set"][(i % 2) as usize],
                i * 7 % 1000 + 1
            ));
            if i % 999 == 0 {
                text.push_str("# a comment\r\n\r\n");
            }
        }
        text.push_str("get,123456");
        let path = write("cuts", &text);
        let spec = spec(Col::Name("latency".into()), Some(Col::Name("op".into())));
        let one = read_in(&spec, &path, &[], 1).unwrap();
        let total = |s: &FileSamples| s.accs.iter().map(|(_, a)| a.n).sum::<u64>();
        assert_eq!(total(&one), 5001);
        for threads in [2, 3, 7, 64] {
            let many = read_in(&spec, &path, &[], threads).unwrap();
            assert_eq!(total(&many), 5001, "{threads} parts");
            for (k, a) in &one.accs {
                let (_, b) = many.accs.iter().find(|(x, _)| x == k).unwrap();
                assert_eq!((a.n, a.min, a.max), (b.n, b.min, b.max), "{threads} parts");
                assert_eq!(a.hist, b.hist, "{threads} parts");
                assert_eq!(
                    a.moments, b.moments,
                    "{threads} parts: whole values, exact sums"
                );
            }
        }
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    /// A bad line deep in a file is named by its number, whichever part
    /// read it; a first line alone without a newline is read.
    #[test]
    fn a_bad_line_is_named_by_its_number_in_any_part() {
        let mut text = String::new();
        for i in 0..3000 {
            text.push_str(&format!("{i} 5\n"));
        }
        text.push_str("3000 five\n4 5\n");
        let path = write("bad", &text);
        let spec = spec(Col::Index(1), None);
        for threads in [1, 2, 5] {
            let e = read_in(&spec, &path, &[], threads).unwrap_err();
            let shown = format!("{e:?}");
            assert!(shown.contains("3001"), "{threads} parts: {shown}");
            assert!(shown.contains("five"), "{threads} parts: {shown}");
        }
        std::fs::write(&path, "1 42").unwrap();
        let one = read_in(&spec, &path, &[], 3).unwrap();
        assert_eq!(one.accs[0].1.n, 1);
        assert_eq!(one.accs[0].1.max, 42.0);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
