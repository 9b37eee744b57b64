//! A node's identity (the state's key for it): what it is (an enum with its names) and, for the
//! nodes of a series' trial, which slot. Displayed once, as the state's
//! key and the plan's line (`step conf client[0]`, `analyze tcp @
//! streams=4 #2`), and never parsed back: whoever needs a part of it asks
//! the value.

use serde::{Deserialize, Serialize};

/// What a node is, with the names that tell it from its kind's others.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum What {
    Host {
        host: String,
    },
    Step {
        step: String,
        host: String,
    },
    /// Step `step` done on every host (`after`).
    Barrier {
        step: String,
    },
    Trial,
    Test {
        test: String,
    },
    Collect {
        collect: String,
    },
    Analyze {
        analysis: String,
    },
    Checks,
    Report,
    Series,
    SeriesAnalyze {
        analysis: String,
    },
    SeriesChecks,
    SeriesReport,
}

/// A trial of a series: its point, its repetition, whether a warm-up.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SlotId {
    /// `streams=4,protocol=udp` (empty without series vars).
    pub point: String,
    /// 1-based; warm-ups count separately.
    pub repetition: usize,
    pub warmup: bool,
}

/// A node's identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeId {
    pub what: What,
    /// A series' trial and its nodes: which trial of the series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<SlotId>,
}

/// The stage a node belongs to, as progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Hosts,
    Configure,
    Trial,
    Collect,
    Analyze,
    Other,
}

impl Phase {
    pub const ALL: [Phase; 6] = [
        Phase::Hosts,
        Phase::Configure,
        Phase::Trial,
        Phase::Collect,
        Phase::Analyze,
        Phase::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Hosts => "hosts",
            Phase::Configure => "configure",
            Phase::Trial => "trial",
            Phase::Collect => "collect",
            Phase::Analyze => "analyze",
            Phase::Other => "other",
        }
    }
}

impl NodeId {
    pub fn new(what: What) -> NodeId {
        NodeId { what, slot: None }
    }

    pub fn host(host: &str) -> NodeId {
        NodeId::new(What::Host {
            host: host.to_string(),
        })
    }

    pub fn step(step: &str, host: &str) -> NodeId {
        NodeId::new(What::Step {
            step: step.to_string(),
            host: host.to_string(),
        })
    }

    pub fn in_slot(mut self, slot: &SlotId) -> NodeId {
        self.slot = Some(slot.clone());
        self
    }

    /// The same node outside any slot: what a series' trials have in
    /// common (`analyze tcp`), for showing them as one line.
    pub fn without_slot(&self) -> NodeId {
        NodeId::new(self.what.clone())
    }

    pub fn phase(&self) -> Phase {
        match &self.what {
            What::Host { .. } => Phase::Hosts,
            What::Step { .. } | What::Barrier { .. } => Phase::Configure,
            What::Trial | What::Test { .. } => Phase::Trial,
            What::Collect { .. } => Phase::Collect,
            What::Analyze { .. } | What::SeriesAnalyze { .. } => Phase::Analyze,
            What::Checks
            | What::Report
            | What::Series
            | What::SeriesChecks
            | What::SeriesReport => Phase::Other,
        }
    }

    /// The state's key: the text this node is shown as.
    pub fn key(&self) -> String {
        self.to_string()
    }
}

impl std::fmt::Display for What {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            What::Host { host } => write!(f, "host {host}"),
            What::Step { step, host } => write!(f, "step {step} {host}"),
            What::Barrier { step } => write!(f, "after {step}"),
            What::Trial => f.write_str("trial"),
            What::Test { test } => write!(f, "test {test}"),
            What::Collect { collect } => write!(f, "collect {collect}"),
            What::Analyze { analysis } => write!(f, "analyze {analysis}"),
            What::Checks => f.write_str("checks"),
            What::Report => f.write_str("report"),
            What::Series => f.write_str("series"),
            What::SeriesAnalyze { analysis } => write!(f, "series analyze {analysis}"),
            What::SeriesChecks => f.write_str("series checks"),
            What::SeriesReport => f.write_str("series report"),
        }
    }
}

impl std::fmt::Display for SlotId {
    /// `streams=4 #2`, `#w1`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let w = if self.warmup { "w" } else { "" };
        if self.point.is_empty() {
            write!(f, "#{w}{}", self.repetition)
        } else {
            write!(f, "{} #{w}{}", self.point, self.repetition)
        }
    }
}

impl std::fmt::Display for NodeId {
    /// `trial streams=4 #2` for a slot's trial, `analyze x @ streams=4 #2`
    /// for its other nodes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.slot, &self.what) {
            (None, what) => write!(f, "{what}"),
            (Some(s), What::Trial) => write!(f, "trial {s}"),
            (Some(s), what) => write!(f, "{what} @ {s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_show_as_the_state_keys_them() {
        let slot = SlotId {
            point: "streams=4".into(),
            repetition: 2,
            warmup: false,
        };
        assert_eq!(
            NodeId::step("conf", "client[0]").key(),
            "step conf client[0]"
        );
        assert_eq!(
            NodeId::new(What::Trial).in_slot(&slot).key(),
            "trial streams=4 #2"
        );
        let a = NodeId::new(What::Analyze {
            analysis: "tcp".into(),
        })
        .in_slot(&slot);
        assert_eq!(a.key(), "analyze tcp @ streams=4 #2");
        let warm = SlotId {
            point: String::new(),
            repetition: 1,
            warmup: true,
        };
        assert_eq!(NodeId::new(What::Trial).in_slot(&warm).key(), "trial #w1");
        // Two analyses whose names share a prefix stay two.
        let rx = NodeId::new(What::Analyze {
            analysis: "tcp-rx".into(),
        })
        .in_slot(&slot);
        assert_ne!(a.without_slot(), rx.without_slot());
    }
}
