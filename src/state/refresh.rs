//! What a refresh found about the hosts a state records (provider →
//! diff): hosts that no longer exist, cloud instances tagged with the
//! plan, notes. Plain data.

use serde::Serialize;

/// What refresh found: hosts of the state that no longer exist (with why),
/// cloud instances tagged with the plan, and warnings (expired instances).
#[derive(Debug, Clone, Default)]
pub struct Refresh {
    pub gone: std::collections::BTreeMap<String, String>,
    pub tagged: Vec<Tagged>,
    pub notes: Vec<String>,
    /// The `runner:key` an instance must carry to be adopted (the key runner
    /// logs in with now); `None`: nothing can be adopted.
    pub key: Option<String>,
    /// What each `[[publish]]` node's page would say now (its content
    /// hash, by the node's key), made from the latest run's files; absent:
    /// there is no run yet, or the page cannot be made now.
    pub pages: std::collections::BTreeMap<String, String>,
}

/// One instance tagged with a plan, as refresh sees it.
#[derive(Debug, Clone)]
pub struct Tagged {
    pub id: String,
    /// The host it was launched for (its `runner:host` tag, or its launch
    /// index in `runner:hosts`).
    pub host: Option<String>,
    pub hash: String,
    pub state: String,
    pub expires: Option<String>,
    pub market: String,
    /// The fingerprint of the key it authorises (`runner:key`).
    pub key: String,
    /// Where it is: orphans are destroyed there.
    pub region: String,
    pub endpoint: Option<String>,
}

/// A cloud instance tagged with the plan that no state records, and where
/// it is.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Orphan {
    pub id: String,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}
