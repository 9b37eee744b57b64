//! JMeter's JTL results in CSV (`-l results.jtl`, a header line and a line
//! per sample: `timeStamp` in ms since the epoch, `elapsed` in ms, `label`,
//! `success`, …): per-event samples, a row per label (and its errors apart),
//! percentiles from HdrHistograms merged exactly across hosts.

use std::path::PathBuf;

use hdrhistogram::Histogram;

use super::parser::{Declaration, Options, Parser, Refusal};
use super::samples::{self, Spec};
use super::{Analysed, Found, Group, latency};

pub struct Jtl;

static DECLARATION: Declaration = Declaration {
    name: "jtl",
    aliases: &["jmeter"],
    reads: "JMeter JTL results (CSV with a header): a row per label, errors apart, percentiles merged exactly",
    options: &[latency::OPTION, samples::PRECISION],
    keys: &["source", "label", "status"],
    headline: &["p99", "p50", "events/s"],
    histograms: true,
    spans_tests: false,
};

/// A JTL's columns as samples.
fn spec(opts: &Options) -> Result<Spec, Refusal> {
    samples::fixed(
        opts,
        &[
            ("latency", "elapsed"),
            ("unit", "ms"),
            ("time", "timeStamp"),
            ("time_unit", "ms"),
            ("status", "success"),
            ("separator", "comma"),
            ("header", "yes"),
        ],
        &[("label", "label"), ("ok", "true")],
    )
}

impl Parser for Jtl {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn check(&self, opts: &Options) -> Vec<Refusal> {
        samples::check_spec(opts, spec(opts))
    }

    fn analyze(&self, groups: &[Group], opts: &Options, found: &mut Found) -> Analysed {
        samples::analyze_spec(spec(opts), groups, &opts.windows, found)
    }

    fn plots(
        &self,
        files: &[(String, PathBuf)],
        opts: &Options,
        _t0: f64,
    ) -> Vec<crate::plot::Plot> {
        latency::spectra(self, files, opts, "ms")
    }

    fn histograms(&self, files: &[PathBuf], opts: &Options) -> Vec<(String, Histogram<u64>)> {
        samples::histograms_spec(spec(opts), files)
    }
}
