//! `runner analyze --parser P [--by file] [--format F] FILE…`: one table
//! from the given files on stdout. Unreadable files are listed on stderr and
//! make the exit code 1; the table still shows what could be read.

use std::path::PathBuf;

use crate::analyze::{self, Group, Options, ParserKind, hdr::TagFilter};
use crate::error::{Error, Result};
use crate::render::{self, Format};

pub struct Args {
    pub parser: Option<String>,
    pub by: Option<String>,
    pub format: String,
    pub unit: String,
    pub tag: String,
    pub columns: Vec<String>,
    pub windows: Option<PathBuf>,
    pub args: Vec<PathBuf>,
}

pub fn run(a: Args) -> Result<i32> {
    let Some(parser) = a.parser else {
        return Err(Error::msg("analysing a trial of a plan needs `[[test]]` and `[[collect]]`, which this version does not run yet")
            .help("analyse files directly: `runner analyze --parser hdr|iperf3|iperf2|dstat|csv FILE…`"));
    };
    let kind = ParserKind::parse(&parser).ok_or_else(|| {
        Error::msg(format!("unknown parser `{parser}`"))
            .help("use one of hdr, iperf3, iperf2, dstat, csv")
    })?;
    let format = Format::parse(&a.format).ok_or_else(|| {
        Error::msg(format!("unknown format `{}`", a.format))
            .help("use one of csv, markdown, mediawiki, trac")
    })?;
    let by_file = match a.by.as_deref() {
        None => false,
        Some("file") => true,
        Some(other) => {
            return Err(Error::msg(format!("unknown --by `{other}`"))
                .help("use `--by file` for one row per file"));
        }
    };
    if a.args.is_empty() {
        return Err(Error::msg("no files to analyse")
            .help("name the files: `runner analyze --parser hdr a.hlog b.hlog`"));
    }
    let windows = match &a.windows {
        Some(p) => analyze::read_windows(p).map_err(|e| Error::msg(e.to_string()))?,
        None => Vec::new(),
    };
    let opts = Options {
        tag: TagFilter::parse(&a.tag),
        unit: a.unit,
        columns: a.columns,
        windows,
    };
    let groups = if by_file {
        Group::each(&a.args)
    } else {
        Group::all(&a.args)
    };
    let outcome = analyze::analyze(kind, &groups, &opts);
    for e in &outcome.errors {
        eprintln!("{e}");
    }
    if let Some(table) = &outcome.table {
        let overrides = std::path::Path::new("analysis");
        let text = render::render(table, format, Some(overrides)).map_err(Error::msg)?;
        print!("{text}");
        if format == Format::Csv {
            for n in &table.notes {
                eprintln!("# {n}");
            }
        }
    }
    if outcome.errors.is_empty() {
        Ok(0)
    } else {
        eprintln!(
            "error: {} of {} files could not be analysed (listed above); the table leaves them out",
            outcome.errors.len(),
            a.args.len()
        );
        Ok(1)
    }
}
