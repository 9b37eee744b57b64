//! HdrHistogram interval logs (`.hlog`, V2 compressed payloads) → merged
//! histograms, one per tag (or one for the lines a filter selects).
//!
//! Histograms are merged exactly (`Histogram::add`, as Java's
//! `HistogramLogProcessor` does); percentiles are read from the merged
//! histogram only, never averaged. Figures follow Java HdrHistogram 2.1.11's
//! definitions (see `percentile`). Files are decoded on all cores; merging is
//! associative, so the result does not depend on the split.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;

use super::latency::percentile;
use super::parser::{Declaration, Kind, OptionDecl, Options, Parser, Refusal};
use super::{Analysed, FileError, Found, Group, Parsed};
use crate::plot::Plot;
use crate::table::{Cell, Column, Table};

/// Which lines of a log are merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagFilter {
    /// One row per tag (untagged lines are their own row).
    EachTag,
    /// Every histogram line, whatever its tag.
    All,
    /// Lines without `Tag=` only (what HistogramLogProcessor reports by default).
    Untagged,
    /// Lines of one tag.
    Only(String),
}

impl TagFilter {
    pub fn parse(text: &str) -> TagFilter {
        match text {
            "each" => TagFilter::EachTag,
            "*" | "all" => TagFilter::All,
            "untagged" | "" => TagFilter::Untagged,
            t => TagFilter::Only(t.to_string()),
        }
    }

    /// The group a line falls into, or `None` when it is not selected.
    fn key(&self, tag: Option<&str>) -> Option<Option<String>> {
        match self {
            TagFilter::EachTag => Some(tag.map(str::to_string)),
            // One row of everything, labelled as such (not "(untagged)").
            TagFilter::All => Some(Some("(all)".to_string())),
            TagFilter::Untagged => tag.is_none().then_some(None),
            TagFilter::Only(t) => (tag == Some(t.as_str())).then(|| Some(t.clone())),
        }
    }
}

/// Merged histogram and how many interval lines went into it.
#[derive(Debug, Clone)]
pub struct Merged {
    pub hist: Histogram<u64>,
    pub intervals: usize,
}

impl Merged {
    fn add(&mut self, other: &Merged) -> Result<(), String> {
        self.hist.add(&other.hist).map_err(|e| format!("{e:?}"))?;
        self.intervals += other.intervals;
        Ok(())
    }
}

/// An accumulator configured like `first` (as HistogramLogProcessor makes it), growing as needed.
fn accumulator_like(first: &Histogram<u64>) -> Histogram<u64> {
    let mut acc = Histogram::new_with_bounds(
        first.low(),
        first.high().max(2 * first.low()),
        first.sigfig(),
    )
    .unwrap_or_else(|_| Histogram::new(3).expect("3 significant digits is valid"));
    acc.auto(true);
    acc
}

/// One file, merged per key (tag).
#[derive(Debug)]
pub struct FileMerge {
    pub groups: BTreeMap<Option<String>, Merged>,
}

/// Reads and merges one log.
pub fn read_file(path: &Path, filter: &TagFilter) -> Result<FileMerge, FileError> {
    let bytes = fs_err::read(path).map_err(|e| FileError::whole(path, e.to_string()))?;
    parse(&bytes, path, filter)
}

pub fn parse(bytes: &[u8], path: &Path, filter: &TagFilter) -> Result<FileMerge, FileError> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        FileError::whole(
            path,
            "not UTF-8 text; expected an HdrHistogram interval log".into(),
        )
    })?;
    let mut groups: BTreeMap<Option<String>, Merged> = BTreeMap::new();
    let mut seen_lines = 0usize;
    let mut decoder = Deserializer::new();
    let mut raw = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = |message: String| FileError::at(path, i + 1, message);
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') || line.starts_with("\"StartTimestamp\"") {
            continue;
        }
        let (tag, payload) = fields(line).map_err(at)?;
        seen_lines += 1;
        let Some(key) = filter.key(tag) else { continue };
        raw.clear();
        base64::engine::general_purpose::STANDARD
            .decode_vec(payload, &mut raw)
            .map_err(|e| at(format!("the histogram is not valid base64: {e}")))?;
        let hist: Histogram<u64> = decoder.deserialize(&mut &raw[..]).map_err(|e| {
            at(format!("cannot decode the histogram ({e:?}); runner reads V2 compressed payloads (`HISTFAAA…`), as written by HdrHistogram 2.x"))
        })?;
        let entry = groups.entry(key).or_insert_with(|| Merged {
            hist: accumulator_like(&hist),
            intervals: 0,
        });
        entry
            .hist
            .add(&hist)
            .map_err(|e| at(format!("cannot merge the histogram: {e:?}")))?;
        entry.intervals += 1;
    }
    if seen_lines == 0 {
        return Err(FileError::whole(
            path,
            "no histogram lines; expected an HdrHistogram interval log".into(),
        ));
    }
    Ok(FileMerge { groups })
}

/// An interval line's tag (if any) and base64 histogram, its other fields
/// checked: `[Tag=T,]start,length,max,histogram`.
fn fields(line: &str) -> Result<(Option<&str>, &str), String> {
    let (tag, rest) = match line.strip_prefix("Tag=") {
        Some(r) => match r.split_once(',') {
            Some((t, rest)) => (Some(t), rest),
            None => return Err("a `Tag=` with no histogram after it".into()),
        },
        None => (None, line),
    };
    let fields: Vec<&str> = rest.split(',').collect();
    if fields.len() != 4 {
        return Err(format!(
            "expected `start,length,max,histogram` (4 fields), found {}",
            fields.len()
        ));
    }
    for (name, f) in ["start timestamp", "interval length", "interval max"]
        .iter()
        .zip(&fields[..3])
    {
        if f.trim().parse::<f64>().is_err() {
            return Err(format!("the {name} `{f}` is not a number"));
        }
    }
    Ok((tag, fields[3].trim()))
}

/// Reads `files` on all cores; results in the order given.
pub fn read_all(files: &[PathBuf], filter: &TagFilter) -> Vec<Result<FileMerge, FileError>> {
    super::in_parallel(files, |f| read_file(f, filter))
}

/// Merges several files' groups into one set of groups.
pub fn merge(parts: &[&FileMerge]) -> Result<BTreeMap<Option<String>, Merged>, String> {
    let mut out: BTreeMap<Option<String>, Merged> = BTreeMap::new();
    for part in parts {
        for (k, m) in &part.groups {
            match out.get_mut(k) {
                Some(acc) => acc.add(m)?,
                None => {
                    let mut acc = Merged {
                        hist: accumulator_like(&m.hist),
                        intervals: 0,
                    };
                    acc.add(m)?;
                    out.insert(k.clone(), acc);
                }
            }
        }
    }
    Ok(out)
}

/// Summary figures of a merged histogram, Java's definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub intervals: usize,
    pub count: u64,
    pub min: u64,
    pub mean: f64,
    pub stddev: f64,
    /// At the percentiles asked, in their order.
    pub percentiles: Vec<u64>,
    pub max: u64,
}

pub fn summarize(m: &Merged, percentiles: &[f64]) -> Summary {
    let h = &m.hist;
    let empty = h.is_empty();
    Summary {
        intervals: m.intervals,
        count: h.len(),
        min: if empty { 0 } else { h.min() },
        mean: if empty { 0.0 } else { h.mean() },
        stddev: if empty { 0.0 } else { h.stdev() },
        percentiles: percentiles.iter().map(|&p| percentile(h, p)).collect(),
        max: if empty {
            0
        } else {
            h.highest_equivalent(h.max())
        },
    }
}

/// The table: one row per (label, tag), label being a file or the merged set.
pub fn table(
    rows: Vec<(String, Option<String>, Summary)>,
    unit: &str,
    percentiles: &[f64],
) -> Table {
    let mut columns = vec![
        Column::text("source"),
        Column::text("tag"),
        Column::int("intervals", None),
        Column::int("count", None),
    ];
    columns.push(Column::int("min", Some(unit)));
    columns.push(Column::float("mean", Some(unit), 1));
    columns.push(Column::float("stddev", Some(unit), 1));
    for &p in percentiles {
        columns.push(Column::int(&super::latency::name(p), Some(unit)));
    }
    columns.push(Column::int("max", Some(unit)));
    let rows = rows
        .into_iter()
        .map(|(label, tag, s)| {
            let mut r = vec![
                Cell::Text(label),
                Cell::Text(tag.unwrap_or_else(|| "(untagged)".to_string())),
                Cell::Int(s.intervals as i128),
                Cell::Int(s.count as i128),
            ];
            // No samples: no figure (an empty cell), never a 0 that a
            // `max` check would pass.
            let some = s.count > 0;
            let int = |v: u64| {
                if some {
                    Cell::Int(v as i128)
                } else {
                    Cell::Empty
                }
            };
            let float = |v: f64| if some { Cell::Float(v) } else { Cell::Empty };
            r.extend([int(s.min), float(s.mean), float(s.stddev)]);
            r.extend(s.percentiles.iter().map(|&v| int(v)));
            r.push(int(s.max));
            r
        })
        .collect();
    Table {
        title: "latency (HdrHistogram, merged)".into(),
        columns,
        rows,
        notes: Vec::new(),
    }
}

/// HdrHistogram interval logs.
pub struct Hdr;

static DECLARATION: Declaration = Declaration {
    name: "hdr",
    aliases: &[],
    reads: "HdrHistogram interval logs (.hlog, V2 compressed), merged exactly per tag",
    options: &[
        OptionDecl {
            name: "unit",
            kind: Kind::Text,
            help: "the unit the values were recorded in (a log does not say): ns, us, ms or s (default ns)",
        },
        OptionDecl {
            name: "tag",
            kind: Kind::Text,
            help: "which lines: `each` (a row per tag, the default), `all`, `untagged`, or one tag's name",
        },
        super::latency::OPTION,
    ],
    keys: &["source", "tag"],
    headline: &["p99", "p50"],
    histograms: true,
    spans_tests: false,
};

impl Hdr {
    fn filter(opts: &Options) -> TagFilter {
        TagFilter::parse(opts.text("tag").unwrap_or("each"))
    }

    fn unit(opts: &Options) -> &str {
        opts.text("unit").unwrap_or("ns")
    }
}

impl Parser for Hdr {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn check(&self, opts: &Options) -> Vec<Refusal> {
        super::latency::check(opts)
    }

    fn analyze(&self, groups: &[Group], opts: &Options, found: &mut Found) -> Analysed {
        let filter = Self::filter(opts);
        let percentiles = super::latency::asked(opts);
        let parsed = Parsed::new(groups, |files| read_all(files, &filter), &mut found.errors);
        if !parsed.any() {
            return (None, parsed.read_files());
        }
        let mut rows = Vec::new();
        for g in groups {
            let parts: Vec<&FileMerge> = parsed.of(g).into_iter().map(|(_, m)| m).collect();
            if parts.is_empty() {
                continue;
            }
            match merge(&parts) {
                // The tag selects nothing here: said, not a silent gap.
                Ok(merged) if merged.is_empty() => found.problems.push(format!(
                    "{}: no histogram line {}",
                    g.label,
                    match &filter {
                        TagFilter::Only(t) => format!("has tag `{t}` (--tag / `tag`)"),
                        _ => "is untagged (--tag / `tag`)".to_string(),
                    }
                )),
                Ok(merged) => {
                    for (tag, m) in merged {
                        rows.push((g.label.clone(), tag, summarize(&m, &percentiles)));
                    }
                }
                Err(e) => found.errors.push(FileError::whole(
                    Path::new(&g.label),
                    format!("cannot merge: {e}"),
                )),
            }
        }
        let unit = Self::unit(opts);
        let mut t = table(rows, unit, &percentiles);
        t.notes.push(format!(
            "Histograms merged exactly (HdrHistogram add); percentiles from the merged histograms, never averaged. Values in {unit} (the unit the logs were recorded in, as given by `unit`). Lines merged: {}.",
            match &filter {
                TagFilter::EachTag => "each tag separately".to_string(),
                TagFilter::All => "all lines, whatever their tag".to_string(),
                TagFilter::Untagged => "untagged lines only".to_string(),
                TagFilter::Only(t) => format!("tag `{t}` only"),
            }
        ));
        (Some(t), parsed.read_files())
    }

    fn plots(&self, files: &[(String, PathBuf)], opts: &Options, _t0: f64) -> Vec<Plot> {
        super::latency::spectra(self, files, opts, Self::unit(opts))
    }

    fn histograms(&self, files: &[PathBuf], opts: &Options) -> Vec<(String, Histogram<u64>)> {
        let filter = Self::filter(opts);
        let parts: Vec<FileMerge> = read_all(files, &filter)
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        let refs: Vec<&FileMerge> = parts.iter().collect();
        merge(&refs)
            .map(|m| {
                m.into_iter()
                    .map(|(tag, m)| (tag.unwrap_or_default(), m.hist))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};

    const D: [f64; 5] = crate::analyze::latency::DEFAULT;

    fn line(h: &Histogram<u64>, start: f64, tag: Option<&str>) -> String {
        let mut bytes = Vec::new();
        V2DeflateSerializer::new().serialize(h, &mut bytes).unwrap();
        let payload = base64::engine::general_purpose::STANDARD.encode(bytes);
        let tag = tag.map_or(String::new(), |t| format!("Tag={t},"));
        format!("{tag}{start:.3},1.000,0.000,{payload}\n")
    }

    fn hist(values: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for &v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn empty_intervals_do_not_pull_min_to_zero() {
        let log = format!(
            "#[StartTime: 1.000 (seconds since epoch)]\n{}{}{}",
            line(&hist(&[]), 0.0, None),
            line(&hist(&[150, 250, 900]), 1.0, None),
            line(&hist(&[]), 2.0, None)
        );
        let m = parse(log.as_bytes(), Path::new("x.hlog"), &TagFilter::All).unwrap();
        let s = summarize(&m.groups[&Some("(all)".to_string())], &D);
        assert_eq!((s.intervals, s.count, s.min), (3, 3, 150));
        assert_eq!(s.max, 900);
    }

    #[test]
    fn merging_files_equals_merging_their_lines() {
        let a = hist(&[10, 20, 30, 4000]);
        let b = hist(&[15, 25, 9000, 9001]);
        let both = format!("{}{}", line(&a, 0.0, Some("r")), line(&b, 1.0, Some("r")));
        let one = parse(both.as_bytes(), Path::new("ab"), &TagFilter::EachTag).unwrap();
        let fa = parse(
            line(&a, 0.0, Some("r")).as_bytes(),
            Path::new("a"),
            &TagFilter::EachTag,
        )
        .unwrap();
        let fb = parse(
            line(&b, 1.0, Some("r")).as_bytes(),
            Path::new("b"),
            &TagFilter::EachTag,
        )
        .unwrap();
        let merged = merge(&[&fa, &fb]).unwrap();
        let key = Some("r".to_string());
        assert_eq!(
            summarize(&one.groups[&key], &D),
            summarize(&merged[&key], &D)
        );
        // A percentile of the merge is not the mean of the parts' percentiles.
        let p99 = summarize(&merged[&key], &D).percentiles[2];
        let mean_of_p99 = (summarize(&fa.groups[&key], &D).percentiles[2]
            + summarize(&fb.groups[&key], &D).percentiles[2])
            / 2;
        assert_ne!(p99, mean_of_p99);
    }

    #[test]
    fn an_undecodable_payload_names_file_and_line() {
        // A V1-era cookie: valid base64, not a V2 compressed histogram.
        let mut raw = vec![0x1c, 0x84, 0x93, 0x01];
        raw.extend([0u8; 40]);
        let payload = base64::engine::general_purpose::STANDARD.encode(raw);
        let log = format!(
            "#[StartTime: 1.000 (seconds since epoch)]\n{}0.000,1.000,1.0,{payload}\n",
            line(&hist(&[5]), 0.0, None)
        );
        let e = parse(log.as_bytes(), Path::new("old.hlog"), &TagFilter::All).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(
            e.message.contains("cannot decode the histogram"),
            "{}",
            e.message
        );
        let e = parse(b"#[StartTime: 1.0]\n", Path::new("e.hlog"), &TagFilter::All).unwrap_err();
        assert!(e.message.contains("no histogram lines"), "{}", e.message);
    }
}
