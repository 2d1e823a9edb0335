//! The event stream of `watch`.

use serde::{Deserialize, Serialize};

/// One line of the event stream that follows [`ResponseBody::Watching`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct EventInfo {
    /// When ternd saw it, in milliseconds since the Unix epoch (UTC).
    pub unix_ms: u64,
    pub kind: EventKind,
    /// Empty for [`EventKind::EventsLost`].
    pub connection: String,
    /// The IKE SA's unique id (for a rekey, the old one).
    pub ike_id: u64,
    /// For [`EventKind::IkeSaRekeyed`], the IKE SA that replaced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_ike_id: Option<u64>,
    /// The IKE SA's SPIs (16 hex digits), when ternd knows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator_spi: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responder_spi: Option<String>,
    /// The CHILD SA's name, for CHILD SA events and end actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<String>,
    /// The CHILD SA's SPIs (8 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spi_in: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spi_out: Option<String>,
    /// Why, in plain words: the cause of an end or failure, or what an end action does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The kind of an end or failure's cause, a stable name (as in `SaEndInfo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_kind: Option<String>,
    /// For [`EventKind::EventsLost`]: how many events this watcher missed because it
    /// read too slowly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<u64>,
}

/// What an [`EventInfo`] reports.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    IkeSaEstablished,
    /// Never came up.
    IkeSaFailed,
    /// Ended after being established.
    IkeSaDeleted,
    IkeSaRekeyed,
    ChildSaInstalled,
    ChildSaFailed,
    /// Ended; `reason` says why (`rekeyed` when a new CHILD SA replaced it).
    ChildSaDeleted,
    /// `dpd_action = restart` or `close_action = start` brings the connection back.
    EndAction,
    /// The watcher fell behind and ternd dropped events rather than wait for it.
    EventsLost,
}
