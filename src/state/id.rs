//! A node's identity (the state's key for it): what it is (an enum with its names) and, for the
//! nodes of a series' trial, which slot. Displayed once, as the state's
//! key and the plan's line (`step conf client[0]`, `analyze tcp @
//! streams=4 #2`), and never parsed back: whoever needs a part of it asks
//! the value.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// What a node is, with the names that tell it from its kind's others.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum What {
    /// Host and step names are shared, not copied, by a plan's nodes.
    Host {
        host: Arc<str>,
    },
    Step {
        step: Arc<str>,
        host: Arc<str>,
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
    /// `[[publish]]` by its name (its page, unless named).
    Publish {
        publish: String,
    },
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

/// A node's identity. Its text (the state's key) is made once, when the
/// identity is (a plan of 100,000 nodes looks nodes up by it), and the
/// whole is shared, not copied, by the graph and the changes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "Parts", into = "Parts")]
pub struct NodeId(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    what: What,
    slot: Option<SlotId>,
    key: String,
}

/// An identity as the state writes it: its parts (its key is made again).
#[derive(Serialize, Deserialize)]
struct Parts {
    what: What,
    /// A series' trial and its nodes: which trial of the series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    slot: Option<SlotId>,
}

impl From<Parts> for NodeId {
    fn from(p: Parts) -> Self {
        NodeId::of(p.what, p.slot)
    }
}

impl From<NodeId> for Parts {
    fn from(id: NodeId) -> Self {
        Parts {
            what: id.0.what.clone(),
            slot: id.0.slot.clone(),
        }
    }
}

impl PartialEq for NodeId {
    fn eq(&self, other: &Self) -> bool {
        self.0.key == other.0.key
    }
}

impl Eq for NodeId {}

impl std::hash::Hash for NodeId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.key.hash(state);
    }
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
    fn of(what: What, slot: Option<SlotId>) -> NodeId {
        let key = match (&slot, &what) {
            (None, what) => what.to_string(),
            (Some(s), What::Trial) => format!("trial {s}"),
            (Some(s), what) => format!("{what} @ {s}"),
        };
        NodeId(Arc::new(Inner { what, slot, key }))
    }

    pub fn what(&self) -> &What {
        &self.0.what
    }

    /// A series' trial and its nodes: which trial of the series.
    pub fn slot(&self) -> Option<&SlotId> {
        self.0.slot.as_ref()
    }

    pub fn new(what: What) -> NodeId {
        NodeId::of(what, None)
    }

    pub fn host(host: &str) -> NodeId {
        NodeId::new(What::Host { host: host.into() })
    }

    pub fn step(step: &str, host: &str) -> NodeId {
        NodeId::shared_step(&step.into(), &host.into())
    }

    /// A step's node of names the caller already holds (no copy).
    pub fn shared_step(step: &Arc<str>, host: &Arc<str>) -> NodeId {
        NodeId::new(What::Step {
            step: step.clone(),
            host: host.clone(),
        })
    }

    /// A host's name, when this is a host's or a step's node.
    pub fn host_name(&self) -> Option<&Arc<str>> {
        match &self.0.what {
            What::Host { host } | What::Step { host, .. } => Some(host),
            _ => None,
        }
    }

    pub fn in_slot(self, slot: &SlotId) -> NodeId {
        NodeId::of(self.0.what.clone(), Some(slot.clone()))
    }

    /// The same node outside any slot: what a series' trials have in
    /// common (`analyze tcp`), for showing them as one line.
    pub fn without_slot(&self) -> NodeId {
        NodeId::new(self.0.what.clone())
    }

    pub fn phase(&self) -> Phase {
        match &self.0.what {
            What::Host { .. } => Phase::Hosts,
            What::Step { .. } | What::Barrier { .. } => Phase::Configure,
            What::Trial | What::Test { .. } => Phase::Trial,
            What::Collect { .. } => Phase::Collect,
            What::Analyze { .. } | What::SeriesAnalyze { .. } => Phase::Analyze,
            What::Checks
            | What::Report
            | What::Series
            | What::SeriesChecks
            | What::SeriesReport
            | What::Publish { .. } => Phase::Other,
        }
    }

    /// The state's key: the text this node is shown as.
    pub fn key(&self) -> &str {
        &self.0.key
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
            What::Publish { publish } => write!(f, "publish {publish}"),
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
        f.write_str(&self.0.key)
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
