//! The JSON shapes of the CSC Global Domain Manager API v2, shared by the client and the simulator.
//!
//! Field names follow CSC's camelCase wire format (see `shared/docs/csc-api.md`). Unknown fields in
//! CSC's answers are ignored, so new fields on their side never break us; the simulator emits
//! exactly these shapes.

use serde::{Deserialize, Serialize};

/// A zone as returned by `GET /zones/{zoneName}` and inside `GET /zones`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Zone {
    /// The zone's name, without a trailing dot (e.g. `example.com`).
    pub zone_name: String,
    /// CSC's hosting type; informational only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosting_type: Option<String>,
    #[serde(default)]
    pub a: Vec<Record>,
    #[serde(default)]
    pub aaaa: Vec<Record>,
    #[serde(default)]
    pub cname: Vec<Record>,
    #[serde(default)]
    pub mx: Vec<Record>,
    #[serde(default)]
    pub ns: Vec<Record>,
    #[serde(default)]
    pub srv: Vec<Record>,
    #[serde(default)]
    pub caa: Vec<Record>,
    #[serde(default)]
    pub txt: Vec<Record>,
    /// The zone's SOA parameters; absent in some list answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soa: Option<Soa>,
}

/// One resource record of a zone. `key` is relative to the zone, `@` at the apex.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    #[serde(default)]
    pub id: String,
    pub key: String,
    /// The raw, unquoted value (for TXT: the text itself).
    pub value: String,
    /// TTL in seconds; 0 or absent means the zone default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// The SOA block of a zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Soa {
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub ttl_min: u32,
    pub ttl_neg: u32,
    pub ttl_zone: u32,
    pub tech_email: String,
    pub master_host: String,
}

/// Paging information on list endpoints.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[serde(default)]
    pub num_results: u64,
    #[serde(default)]
    pub pages: u64,
}

/// Hypermedia links; `next` appears when another page exists, `status`/`cancel` on edits.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Links {
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<String>,
}

/// `GET /zones` → one page of zones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneList {
    #[serde(default)]
    pub meta: Meta,
    #[serde(default)]
    pub zones: Vec<Zone>,
    #[serde(default)]
    pub links: Links,
}

/// Record types the edit endpoint accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordType {
    A,
    Aaaa,
    Cname,
    Mx,
    Ns,
    Srv,
    Caa,
    Txt,
}

/// What one edit item does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EditAction {
    /// Create a record from the `new*` fields.
    Add,
    /// Remove the record named by the `current*` fields.
    Purge,
    /// Change the record named by `current*` to the `new*` fields.
    Edit,
}

/// One change inside a `POST /zones/edits`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditItem {
    pub record_type: RecordType,
    pub action: EditAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_ttl: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
}

impl EditItem {
    /// A TXT `ADD` of `value` at `key` (relative to the zone).
    pub fn add_txt(key: &str, value: &str, ttl: u32, comments: Option<String>) -> Self {
        EditItem {
            record_type: RecordType::Txt,
            action: EditAction::Add,
            current_key: None,
            current_value: None,
            new_key: Some(key.to_owned()),
            new_value: Some(value.to_owned()),
            new_ttl: Some(ttl),
            comments,
        }
    }

    /// A TXT `PURGE` of `value` at `key` (relative to the zone).
    pub fn purge_txt(key: &str, value: &str) -> Self {
        EditItem {
            record_type: RecordType::Txt,
            action: EditAction::Purge,
            current_key: Some(key.to_owned()),
            current_value: Some(value.to_owned()),
            new_key: None,
            new_value: None,
            new_ttl: None,
            comments: None,
        }
    }
}

/// The body of `POST /zones/edits`: one zone edit carrying many changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditRequest {
    pub zone_name: String,
    pub edits: Vec<EditItem>,
}

/// `content` of a `201 Created` answer to `POST /zones/edits`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmitContent {
    pub status: String,
    #[serde(default)]
    pub message: String,
}

/// `201 Created` answer to `POST /zones/edits`; the edit id is the last segment of `links.status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmitResponse {
    pub content: SubmitContent,
    #[serde(default)]
    pub links: Links,
}

/// The lifecycle states of a zone edit. `CANCELED` has one L, as CSC spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EditStatus {
    New,
    Submitted,
    Processing,
    Propagating,
    Completed,
    Failed,
    Canceled,
}

impl EditStatus {
    /// Whether the edit holds the zone lock (everything but COMPLETED and CANCELED).
    pub fn holds_lock(self) -> bool {
        !self.is_final()
    }

    /// COMPLETED or CANCELED: nothing more will happen to this edit.
    pub fn is_final(self) -> bool {
        matches!(self, EditStatus::Completed | EditStatus::Canceled)
    }

    /// Whether the edit's records are live (PROPAGATING or COMPLETED).
    pub fn is_live(self) -> bool {
        matches!(self, EditStatus::Propagating | EditStatus::Completed)
    }
}

/// `content` of `GET /zones/edits/status/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusContent {
    pub status: EditStatus,
    #[serde(default)]
    pub error_description: String,
}

/// `GET /zones/edits/status/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusResponse {
    pub content: StatusContent,
    #[serde(default)]
    pub links: Links,
}

/// One zone edit as returned by `GET /zones/edits/{id}` and in `GET /zones/edits`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZoneEdit {
    pub id: String,
    pub zone_name: String,
    pub status: EditStatus,
    #[serde(default)]
    pub modified_date: String,
    #[serde(default)]
    pub requested_by: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub edits: Vec<EditItem>,
}

/// `GET /zones/edits` → one page of zone edits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZoneEditList {
    #[serde(default)]
    pub meta: Meta,
    #[serde(default)]
    pub zone_edits: Vec<ZoneEdit>,
    #[serde(default)]
    pub links: Links,
}

/// CSC's error body: `{"code":"OPEN_ZONE_EDITS","description":"...","value":"<uuid>"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub value: Option<String>,
}

/// The code CSC answers while another edit holds the zone lock.
pub const OPEN_ZONE_EDITS: &str = "OPEN_ZONE_EDITS";

/// The plain-text body of CSC's rate-limit answer (HTTP 400, not 429).
pub const RATE_LIMIT_BODY: &str = "Requests exceeded API Rate limit.";
