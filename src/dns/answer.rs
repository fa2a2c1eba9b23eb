//! Authoritative answers to DNS queries, computed from a zone view — pure logic, no sockets.
//!
//! The simulator builds its [`ZoneView`] from the zones it has published; the gateway will build
//! the same view from CSC's records with its pending changes laid over them (the *desired view*,
//! see `design.md`) through [`ZoneData`]'s mutators. Both then call [`ZoneView::answer`].
//!
//! Rules (`shared/docs/clients.md`):
//! - The longest zone that equals the query name or contains it answers; names compare
//!   case-insensitively. Outside every zone: REFUSED, without AA.
//! - At a zone apex, SOA and NS are answered with AA in the answer section. NS comes from the
//!   zone's apex NS records, or — when CSC lists none — from the SOA's `masterHost`, so an apex
//!   never lacks an NS answer.
//! - TXT is answered wherever TXT values exist. A value longer than 255 bytes is split into
//!   consecutive 255-byte character-strings (an empty value is one empty string). The TTL is the
//!   record's; 0 or absent means the zone default: the SOA's `ttlZone`, or `ttlMin` when that is 0.
//! - A name that exists (owns any record, or is an empty non-terminal above one) but lacks the
//!   type: NOERROR/NODATA with AA and the zone SOA in the authority section.
//! - A name that does not exist: NXDOMAIN with AA and the zone SOA in the authority section. A
//!   wildcard (`*` label) at the closest existing ancestor is expanded for it (RFC 4592), so a
//!   zone with a wildcard never claims NXDOMAIN below it.
//! - The authority SOA carries the negative TTL, min(SOA TTL, `ttlNeg`) (RFC 2308 §3); its
//!   MINIMUM field is `ttlNeg`. An SOA in the answer section is only ever owned by the apex.
//! - Class IN and ANY are served. Any other class (CH, HS, NONE) is REFUSED: no zone of this
//!   server lives in it, which is what BIND answers for a class it has no view of.
//! - AXFR and IXFR: REFUSED (no zone transfers).
//! - ANY: every RRset this view can answer at the name (SOA, NS, TXT), not a minimal RFC 8482
//!   reply — the view is small and clients such as `dig ANY` expect to see the records.
//! - A, AAAA, CNAME, MX, SRV and CAA records only make their owner name exist (so it answers
//!   NODATA, not NXDOMAIN); their data is never served. A CNAME is therefore not followed either:
//!   the gateway and the simulator only need SOA, NS and TXT.
//! - Non-apex NS records are served as NS at that name, without referral semantics (no zone
//!   cut): the simulator and the gateway do not delegate.

use std::collections::BTreeMap;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{NS, SOA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::csc::model::{self, Soa};
use crate::csc::names;

/// The longest TXT character-string (RFC 1035 §3.3: one length byte).
const MAX_CHARACTER_STRING: usize = 255;

/// The record key of a zone apex, as CSC spells it.
const APEX: &str = "@";

/// One value of an RRset in the view, with its own TTL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    /// The raw value: for TXT the text itself (unquoted), for NS the host name.
    pub value: String,
    /// TTL in seconds; `None` or 0 means the zone default.
    pub ttl: Option<u32>,
}

/// The records owned by one name of a zone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Node {
    ns: Vec<Value>,
    txt: Vec<Value>,
    /// Types owned here that make the name exist but whose data this view does not serve.
    other: Vec<RecordType>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.ns.is_empty() && self.txt.is_empty() && self.other.is_empty()
    }
}

/// The answerable content of one zone: its SOA, NS and TXT records, and which names exist.
///
/// Record keys are relative to the zone, `@` at the apex, matched case-insensitively — the same
/// keys CSC uses, so the gateway can lay its pending changes over CSC's records directly.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneData {
    name: String,
    soa: Soa,
    nodes: BTreeMap<String, Node>,
}

impl ZoneData {
    /// An empty zone (no records but its SOA) named `zone_name` (case and trailing dot ignored).
    pub fn new(zone_name: &str, soa: Soa) -> Self {
        ZoneData {
            name: names::normalize(zone_name),
            soa,
            nodes: BTreeMap::new(),
        }
    }

    /// The zone's name: lower case, no trailing dot.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone's SOA parameters.
    pub fn soa(&self) -> &Soa {
        &self.soa
    }

    /// Adds the NS host `host` at `key`; a host already present there is left as it is.
    pub fn add_ns(&mut self, key: &str, host: &str, ttl: Option<u32>) {
        add_value(&mut self.node_mut(key).ns, host, ttl, true);
    }

    /// Adds the TXT value `value` at `key`; a value already present there is left as it is
    /// (RRset members are equal when their data is, whatever their TTL).
    pub fn add_txt(&mut self, key: &str, value: &str, ttl: Option<u32>) {
        add_value(&mut self.node_mut(key).txt, value, ttl, false);
    }

    /// Records that `key` owns an RRset of `rtype` whose data this view does not serve (A, MX…),
    /// so that the name exists.
    pub fn add_other(&mut self, key: &str, rtype: RecordType) {
        let node = self.node_mut(key);
        if !node.other.contains(&rtype) {
            node.other.push(rtype);
        }
    }

    /// Removes the TXT value `value` at `key`; returns whether it was there.
    pub fn remove_txt(&mut self, key: &str, value: &str) -> bool {
        let key = normalize_key(key);
        let Some(node) = self.nodes.get_mut(&key) else {
            return false;
        };
        let before = node.txt.len();
        node.txt.retain(|v| v.value != value);
        let removed = node.txt.len() != before;
        self.prune(&key);
        removed
    }

    /// Removes every TXT value at `key` and returns them.
    pub fn remove_txt_rrset(&mut self, key: &str) -> Vec<Value> {
        let key = normalize_key(key);
        let removed = self
            .nodes
            .get_mut(&key)
            .map(|node| std::mem::take(&mut node.txt))
            .unwrap_or_default();
        self.prune(&key);
        removed
    }

    /// The TXT values at `key` (empty when there are none).
    pub fn txt(&self, key: &str) -> &[Value] {
        self.nodes
            .get(&normalize_key(key))
            .map_or(&[], |node| &node.txt)
    }

    /// Whether `key` owns an RRset of `rtype` (SOA at the apex only).
    pub fn has_rrset(&self, key: &str, rtype: RecordType) -> bool {
        let key = normalize_key(key);
        if rtype == RecordType::SOA {
            return key == APEX;
        }
        let Some(node) = self.nodes.get(&key) else {
            return false;
        };
        match rtype {
            RecordType::NS => !node.ns.is_empty(),
            RecordType::TXT => !node.txt.is_empty(),
            other => node.other.contains(&other),
        }
    }

    /// Whether the name `key` exists: the apex, a name owning records, or an empty non-terminal
    /// (a name with no records of its own but with records below it).
    pub fn name_exists(&self, key: &str) -> bool {
        self.key_exists(&normalize_key(key))
    }

    /// Answers a query for `qname` of `qtype`; `qname` must lie inside this zone.
    fn answer(&self, key: &str, qname: &Name, qtype: RecordType) -> Answer {
        let apex = qname.trim_to(self.name.split('.').count());
        if self.key_exists(key) {
            let records = self.rrsets(key, qname, qtype);
            return self.positive_or_nodata(records, &apex);
        }
        match self.wildcard_for(key) {
            Some(wildcard) => {
                let records = self.rrsets(&wildcard, qname, qtype);
                self.positive_or_nodata(records, &apex)
            }
            None => Answer {
                rcode: ResponseCode::NXDomain,
                authoritative: true,
                answers: Vec::new(),
                authorities: vec![self.negative_soa(apex)],
            },
        }
    }

    fn positive_or_nodata(&self, answers: Vec<Record>, apex: &Name) -> Answer {
        let authorities = if answers.is_empty() {
            vec![self.negative_soa(apex.clone())]
        } else {
            Vec::new()
        };
        Answer {
            rcode: ResponseCode::NoError,
            authoritative: true,
            answers,
            authorities,
        }
    }

    /// The records at `key` (owned by `owner` in the reply) that answer `qtype`.
    fn rrsets(&self, key: &str, owner: &Name, qtype: RecordType) -> Vec<Record> {
        let wants = |rtype: RecordType| qtype == rtype || qtype == RecordType::ANY;
        let node = self.nodes.get(key);
        let mut records = Vec::new();
        if key == APEX && wants(RecordType::SOA) {
            records.push(Record::from_rdata(
                owner.clone(),
                self.default_ttl(),
                RData::SOA(self.soa_rdata()),
            ));
        }
        if wants(RecordType::NS) {
            let ns = node.map_or(&[][..], |node| &node.ns);
            let synthesized;
            let ns = if ns.is_empty() && key == APEX {
                // CSC lists no apex NS: the SOA's primary server is the one we know of.
                synthesized = [Value {
                    value: self.soa.master_host.clone(),
                    ttl: None,
                }];
                &synthesized[..]
            } else {
                ns
            };
            records.extend(ns.iter().filter_map(|v| {
                let host = fqdn(&v.value)?;
                Some(Record::from_rdata(
                    owner.clone(),
                    self.ttl(v),
                    RData::NS(NS(host)),
                ))
            }));
        }
        if wants(RecordType::TXT) {
            let txt = node.map_or(&[][..], |node| &node.txt);
            records.extend(txt.iter().map(|v| {
                Record::from_rdata(owner.clone(), self.ttl(v), RData::TXT(txt_rdata(&v.value)))
            }));
        }
        records
    }

    /// The key of the wildcard that covers the nonexistent `key`, if the zone has one: `*` below
    /// the closest existing ancestor (RFC 4592 §3.3.1).
    fn wildcard_for(&self, key: &str) -> Option<String> {
        let mut ancestor = key;
        let closest_encloser = loop {
            ancestor = match ancestor.split_once('.') {
                Some((_, parent)) => parent,
                None => APEX,
            };
            if self.key_exists(ancestor) {
                break ancestor;
            }
        };
        let wildcard = if closest_encloser == APEX {
            "*".to_owned()
        } else {
            format!("*.{closest_encloser}")
        };
        self.nodes.contains_key(&wildcard).then_some(wildcard)
    }

    fn key_exists(&self, key: &str) -> bool {
        if key == APEX || self.nodes.contains_key(key) {
            return true;
        }
        let suffix = format!(".{key}");
        self.nodes.keys().any(|owner| owner.ends_with(&suffix))
    }

    fn node_mut(&mut self, key: &str) -> &mut Node {
        self.nodes.entry(normalize_key(key)).or_default()
    }

    /// Drops the node at `key` once it owns nothing, so the name stops existing.
    fn prune(&mut self, key: &str) {
        if self.nodes.get(key).is_some_and(Node::is_empty) {
            self.nodes.remove(key);
        }
    }

    /// The TTL of a value: its own, or the zone default for 0/absent.
    fn ttl(&self, value: &Value) -> u32 {
        match value.ttl {
            Some(ttl) if ttl > 0 => ttl,
            _ => self.default_ttl(),
        }
    }

    /// The zone's default TTL, also the SOA record's own TTL: `ttlZone`, or `ttlMin` when 0.
    fn default_ttl(&self) -> u32 {
        if self.soa.ttl_zone > 0 {
            self.soa.ttl_zone
        } else {
            self.soa.ttl_min
        }
    }

    /// The SOA for the authority section of a negative answer, with the negative TTL.
    fn negative_soa(&self, apex: Name) -> Record {
        let ttl = self.default_ttl().min(self.soa.ttl_neg);
        Record::from_rdata(apex, ttl, RData::SOA(self.soa_rdata()))
    }

    fn soa_rdata(&self) -> SOA {
        let soa = &self.soa;
        let mname = fqdn(&soa.master_host)
            .or_else(|| fqdn(&format!("ns1.{}", self.name)))
            .unwrap_or_else(Name::root);
        let rname = email_to_rname(&soa.tech_email)
            .or_else(|| fqdn(&format!("hostmaster.{}", self.name)))
            .unwrap_or_else(Name::root);
        let clamp = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        SOA::new(
            mname,
            rname,
            soa.serial,
            clamp(soa.refresh),
            clamp(soa.retry),
            clamp(soa.expire),
            soa.ttl_neg,
        )
    }
}

impl From<&model::Zone> for ZoneData {
    /// The view of a CSC zone. A zone without an SOA block (some list answers omit it) gets
    /// [`default_soa`]'s parameters.
    fn from(zone: &model::Zone) -> Self {
        let soa = zone.soa.clone().unwrap_or_else(|| default_soa(&zone.zone_name));
        let mut data = ZoneData::new(&zone.zone_name, soa);
        for record in &zone.ns {
            data.add_ns(&record.key, &record.value, record.ttl);
        }
        for record in &zone.txt {
            data.add_txt(&record.key, &record.value, record.ttl);
        }
        let others = [
            (&zone.a, RecordType::A),
            (&zone.aaaa, RecordType::AAAA),
            (&zone.cname, RecordType::CNAME),
            (&zone.mx, RecordType::MX),
            (&zone.srv, RecordType::SRV),
            (&zone.caa, RecordType::CAA),
        ];
        for (records, rtype) in others {
            for record in records {
                data.add_other(&record.key, rtype);
            }
        }
        data
    }
}

/// SOA parameters for a zone whose SOA CSC did not return: `ns1.<zone>`, `hostmaster@<zone>`,
/// serial 1 and 300 s TTLs.
pub fn default_soa(zone_name: &str) -> Soa {
    let zone = names::normalize(zone_name);
    Soa {
        serial: 1,
        refresh: 3600,
        retry: 600,
        expire: 1_209_600,
        ttl_min: 300,
        ttl_neg: 300,
        ttl_zone: 300,
        tech_email: format!("hostmaster@{zone}"),
        master_host: format!("ns1.{zone}"),
    }
}

/// The zones a server answers for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZoneView {
    zones: BTreeMap<String, ZoneData>,
}

impl ZoneView {
    /// A view with no zones (it refuses every query).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a zone; returns the zone it replaced.
    pub fn insert(&mut self, zone: ZoneData) -> Option<ZoneData> {
        self.zones.insert(zone.name.clone(), zone)
    }

    /// The zone named exactly `zone_name` (case and trailing dot ignored).
    pub fn zone(&self, zone_name: &str) -> Option<&ZoneData> {
        self.zones.get(&names::normalize(zone_name))
    }

    /// The zone named exactly `zone_name`, to change it (e.g. to lay pending changes over it).
    pub fn zone_mut(&mut self, zone_name: &str) -> Option<&mut ZoneData> {
        self.zones.get_mut(&names::normalize(zone_name))
    }

    /// The zone `name` belongs to: the longest zone equal to it or containing it.
    pub fn find_zone(&self, name: &str) -> Option<&ZoneData> {
        let zone = names::find_zone(name, self.zones.keys().map(String::as_str))?;
        self.zones.get(zone)
    }

    /// The zones of the view, by name.
    pub fn zones(&self) -> impl Iterator<Item = &ZoneData> {
        self.zones.values()
    }

    /// The authoritative answer to a query for `qname`, `qtype`, `qclass` (see the module
    /// documentation for the rules). Answer records are owned by `qname` as the client spelled it.
    pub fn answer(&self, qname: &Name, qtype: RecordType, qclass: DNSClass) -> Answer {
        if !matches!(qclass, DNSClass::IN | DNSClass::ANY) {
            return Answer::refused();
        }
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            return Answer::refused();
        }
        let name = names::normalize(&qname.to_ascii());
        let Some(zone) = self.find_zone(&name) else {
            return Answer::refused();
        };
        match names::record_key(&name, &zone.name) {
            Some(key) => zone.answer(&key, qname, qtype),
            // Unreachable: find_zone only returns zones containing the name.
            None => Answer::refused(),
        }
    }
}

impl FromIterator<ZoneData> for ZoneView {
    fn from_iter<I: IntoIterator<Item = ZoneData>>(zones: I) -> Self {
        let mut view = ZoneView::new();
        for zone in zones {
            view.insert(zone);
        }
        view
    }
}

impl<'z> FromIterator<&'z model::Zone> for ZoneView {
    fn from_iter<I: IntoIterator<Item = &'z model::Zone>>(zones: I) -> Self {
        zones.into_iter().map(ZoneData::from).collect()
    }
}

/// What to reply to one query: rcode, AA flag and the answer and authority sections.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The response code.
    pub rcode: ResponseCode,
    /// Whether to set AA (every answer from inside a zone).
    pub authoritative: bool,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section (the zone SOA of a negative answer).
    pub authorities: Vec<Record>,
}

impl Answer {
    /// REFUSED without AA or records: not ours to answer.
    pub fn refused() -> Self {
        Answer {
            rcode: ResponseCode::Refused,
            authoritative: false,
            answers: Vec::new(),
            authorities: Vec::new(),
        }
    }
}

/// `@`, `""` and the apex spelled any way → `@`; other keys lower case without a trailing dot.
fn normalize_key(key: &str) -> String {
    let key = names::normalize(key);
    if key.is_empty() || key == APEX {
        APEX.to_owned()
    } else {
        key
    }
}

fn add_value(values: &mut Vec<Value>, value: &str, ttl: Option<u32>, case_insensitive: bool) {
    let same = |v: &Value| {
        if case_insensitive {
            v.value.eq_ignore_ascii_case(value)
        } else {
            v.value == value
        }
    };
    if !values.iter().any(same) {
        values.push(Value {
            value: value.to_owned(),
            ttl,
        });
    }
}

/// TXT data for `value`: consecutive character-strings of at most 255 bytes.
fn txt_rdata(value: &str) -> TXT {
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return TXT::from_bytes(vec![&[]]);
    }
    TXT::from_bytes(bytes.chunks(MAX_CHARACTER_STRING).collect())
}

/// `host` (CSC writes names without the final dot) as a fully qualified name.
fn fqdn(host: &str) -> Option<Name> {
    let host = host.trim();
    if host.is_empty() {
        return None;
    }
    let mut name = Name::from_ascii(host).ok()?;
    name.set_fqdn(true);
    Some(name)
}

/// CSC's `techEmail` (`hostmaster@example.com`) as an SOA RNAME (`hostmaster.example.com.`);
/// dots in the local part are escaped (RFC 1035 §8). A value without `@` is taken as a name.
fn email_to_rname(email: &str) -> Option<Name> {
    match email.trim().split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
            fqdn(&format!("{}.{domain}", local.replace('.', "\\.")))
        }
        Some(_) => None,
        None => fqdn(email),
    }
}

#[cfg(test)]
mod tests;
