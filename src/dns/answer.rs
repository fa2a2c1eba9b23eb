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
        let soa = zone
            .soa
            .clone()
            .unwrap_or_else(|| default_soa(&zone.zone_name));
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
    /// A reply with `rcode` and nothing else (no AA, no records).
    pub fn bare(rcode: ResponseCode) -> Self {
        Answer {
            rcode,
            ..Answer::refused()
        }
    }

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
mod tests {
    use super::*;
    use hickory_proto::rr::RecordType as T;

    fn soa() -> Soa {
        Soa {
            serial: 2025010101,
            refresh: 3600,
            retry: 600,
            expire: 1_209_600,
            ttl_min: 60,
            ttl_neg: 120,
            ttl_zone: 300,
            tech_email: "hostmaster@example.com".into(),
            master_host: "ns1.example.net".into(),
        }
    }

    fn rec(key: &str, value: &str, ttl: Option<u32>) -> model::Record {
        model::Record {
            id: String::new(),
            key: key.into(),
            value: value.into(),
            ttl,
            status: None,
        }
    }

    fn zone(name: &str) -> model::Zone {
        model::Zone {
            zone_name: name.into(),
            hosting_type: None,
            a: vec![rec("www", "192.0.2.1", None)],
            aaaa: vec![],
            cname: vec![rec("alias.deep", "www.example.com", None)],
            mx: vec![],
            ns: vec![
                rec("@", "ns1.example.net", None),
                rec("@", "ns2.example.net", Some(86400)),
            ],
            srv: vec![],
            caa: vec![],
            txt: vec![
                rec("@", "v=spf1 include:_spf.example.com ~all", Some(0)),
                rec("_acme-challenge.www", "token-1", Some(120)),
            ],
            soa: Some(soa()),
        }
    }

    fn view() -> ZoneView {
        [zone("example.com")].iter().collect()
    }

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn ask(view: &ZoneView, qname: &str, qtype: T) -> Answer {
        view.answer(&name(qname), qtype, DNSClass::IN)
    }

    fn txt_strings(record: &Record) -> Vec<Vec<u8>> {
        match &record.data {
            RData::TXT(txt) => txt.txt_data.iter().map(|s| s.to_vec()).collect(),
            other => panic!("not TXT: {other:?}"),
        }
    }

    /// NOERROR or NXDOMAIN with AA, no answers and exactly the zone SOA in authority.
    fn assert_negative(answer: &Answer, rcode: ResponseCode, apex: &str) {
        assert_eq!(answer.rcode, rcode);
        assert!(answer.authoritative);
        assert!(answer.answers.is_empty(), "{:?}", answer.answers);
        assert_eq!(answer.authorities.len(), 1);
        let soa = &answer.authorities[0];
        assert_eq!(soa.record_type(), T::SOA);
        assert_eq!(soa.name, name(apex));
        assert_eq!(soa.ttl, 120, "negative TTL = min(ttlZone 300, ttlNeg 120)");
    }

    #[test]
    fn soa_at_the_apex_is_in_the_answer_section() {
        let answer = ask(&view(), "example.com.", T::SOA);
        assert_eq!(answer.rcode, ResponseCode::NoError);
        assert!(answer.authoritative);
        assert!(answer.authorities.is_empty());
        assert_eq!(answer.answers.len(), 1);
        let record = &answer.answers[0];
        assert_eq!(record.name, name("example.com."));
        assert_eq!(record.ttl, 300);
        let RData::SOA(soa) = &record.data else {
            panic!("{record:?}")
        };
        assert_eq!(soa.mname, name("ns1.example.net."));
        assert_eq!(soa.rname, name("hostmaster.example.com."));
        assert_eq!(soa.serial, 2025010101);
        assert_eq!((soa.refresh, soa.retry, soa.expire), (3600, 600, 1_209_600));
        assert_eq!(soa.minimum, 120, "MINIMUM is the negative TTL");
    }

    #[test]
    fn ns_at_the_apex_comes_from_the_records() {
        let answer = ask(&view(), "example.com.", T::NS);
        assert_eq!(answer.rcode, ResponseCode::NoError);
        assert!(answer.authoritative);
        let hosts: Vec<_> = answer
            .answers
            .iter()
            .map(|r| match &r.data {
                RData::NS(ns) => (ns.0.to_ascii(), r.ttl),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            hosts,
            [
                ("ns1.example.net.".to_owned(), 300),
                ("ns2.example.net.".to_owned(), 86400)
            ]
        );
    }

    #[test]
    fn apex_ns_falls_back_to_the_soa_master_host() {
        let mut z = zone("example.com");
        z.ns.clear();
        let view: ZoneView = [z].iter().collect();
        let answer = ask(&view, "example.com.", T::NS);
        assert_eq!(answer.answers.len(), 1);
        assert_eq!(
            answer.answers[0].data,
            RData::NS(NS(name("ns1.example.net.")))
        );
    }

    #[test]
    fn txt_at_the_apex_uses_the_zone_ttl_for_zero() {
        let answer = ask(&view(), "example.com.", T::TXT);
        assert_eq!(answer.rcode, ResponseCode::NoError);
        assert!(answer.authoritative);
        assert_eq!(answer.answers.len(), 1);
        assert_eq!(answer.answers[0].ttl, 300);
        assert_eq!(
            txt_strings(&answer.answers[0]),
            [b"v=spf1 include:_spf.example.com ~all".to_vec()]
        );
    }

    #[test]
    fn txt_ttl_is_the_records_or_ttl_min_when_ttl_zone_is_zero() {
        let answer = ask(&view(), "_acme-challenge.www.example.com.", T::TXT);
        assert_eq!(answer.answers[0].ttl, 120);

        let mut z = zone("example.com");
        z.soa.as_mut().unwrap().ttl_zone = 0;
        let view: ZoneView = [z].iter().collect();
        let answer = ask(&view, "example.com.", T::TXT);
        assert_eq!(answer.answers[0].ttl, 60);
    }

    #[test]
    fn long_txt_values_are_split_into_255_byte_strings() {
        let long = "x".repeat(600);
        let mut data = ZoneData::new("example.com", soa());
        data.add_txt("long", &long, None);
        data.add_txt("exact", &"y".repeat(255), None);
        data.add_txt("empty", "", None);
        let view: ZoneView = [data].into_iter().collect();

        let answer = ask(&view, "long.example.com.", T::TXT);
        let lens: Vec<_> = txt_strings(&answer.answers[0])
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(lens, [255, 255, 90]);
        assert_eq!(txt_strings(&answer.answers[0]).concat(), long.as_bytes());

        let answer = ask(&view, "exact.example.com.", T::TXT);
        assert_eq!(txt_strings(&answer.answers[0]).len(), 1);

        let answer = ask(&view, "empty.example.com.", T::TXT);
        assert_eq!(txt_strings(&answer.answers[0]), [Vec::<u8>::new()]);
    }

    #[test]
    fn every_txt_value_of_a_name_is_answered() {
        let mut data = ZoneData::from(&zone("example.com"));
        data.add_txt("_acme-challenge.www", "token-2", Some(60));
        data.add_txt("_ACME-challenge.WWW", "token-2", Some(999));
        let view: ZoneView = [data].into_iter().collect();
        let answer = ask(&view, "_acme-challenge.www.example.com.", T::TXT);
        let values: Vec<_> = answer.answers.iter().map(txt_strings).collect();
        assert_eq!(
            values,
            [vec![b"token-1".to_vec()], vec![b"token-2".to_vec()]]
        );
    }

    #[test]
    fn existing_name_without_the_type_is_nodata() {
        let view = view();
        // A name owning TXT, asked for A.
        assert_negative(
            &ask(&view, "_acme-challenge.www.example.com.", T::A),
            ResponseCode::NoError,
            "example.com.",
        );
        // A name owning only an A record (data not served: documented).
        assert_negative(
            &ask(&view, "www.example.com.", T::TXT),
            ResponseCode::NoError,
            "example.com.",
        );
        assert_negative(
            &ask(&view, "www.example.com.", T::A),
            ResponseCode::NoError,
            "example.com.",
        );
        // The apex has no AAAA.
        assert_negative(
            &ask(&view, "example.com.", T::AAAA),
            ResponseCode::NoError,
            "example.com.",
        );
    }

    #[test]
    fn empty_non_terminals_exist() {
        // `deep` only has `alias.deep` below it.
        assert_negative(
            &ask(&view(), "deep.example.com.", T::TXT),
            ResponseCode::NoError,
            "example.com.",
        );
    }

    #[test]
    fn soa_below_the_apex_is_never_in_the_answer_section() {
        let view = view();
        for qname in [
            "www.example.com.",
            "deep.example.com.",
            "_acme-challenge.www.example.com.",
        ] {
            assert_negative(
                &ask(&view, qname, T::SOA),
                ResponseCode::NoError,
                "example.com.",
            );
        }
        assert_negative(
            &ask(&view, "nope.example.com.", T::SOA),
            ResponseCode::NXDomain,
            "example.com.",
        );
        assert_negative(
            &ask(&view, "nope.example.com.", T::NS),
            ResponseCode::NXDomain,
            "example.com.",
        );
    }

    #[test]
    fn missing_names_are_nxdomain_with_the_soa() {
        let view = view();
        for qname in [
            "nope.example.com.",
            "_acme-challenge.example.com.",
            "a.b.www.example.com.",
        ] {
            assert_negative(
                &ask(&view, qname, T::TXT),
                ResponseCode::NXDomain,
                "example.com.",
            );
        }
    }

    #[test]
    fn odd_bytes_in_names_are_just_other_names() {
        let view = view();
        let labels: Vec<&[u8]> = vec![b"a\x00\xff.b", b"example", b"com"];
        let odd = Name::from_labels(labels).unwrap();
        let answer = view.answer(&odd, T::TXT, DNSClass::IN);
        assert_negative(&answer, ResponseCode::NXDomain, "example.com.");
        let labels: Vec<&[u8]> = vec![b"example\xc0", b"com"];
        let outside = Name::from_labels(labels).unwrap();
        assert_eq!(
            view.answer(&outside, T::SOA, DNSClass::IN),
            Answer::refused()
        );
    }

    #[test]
    fn names_outside_every_zone_are_refused() {
        let view = view();
        for qname in [
            "example.net.",
            "com.",
            ".",
            "notexample.com.",
            "example.com.evil.",
        ] {
            assert_eq!(ask(&view, qname, T::SOA), Answer::refused(), "{qname}");
        }
    }

    #[test]
    fn other_classes_are_refused_and_any_is_served() {
        let view = view();
        for class in [DNSClass::CH, DNSClass::HS, DNSClass::NONE] {
            let answer = view.answer(&name("example.com."), T::SOA, class);
            assert_eq!(answer, Answer::refused());
        }
        let answer = view.answer(&name("example.com."), T::SOA, DNSClass::ANY);
        assert_eq!(answer.rcode, ResponseCode::NoError);
        assert_eq!(answer.answers.len(), 1);
    }

    #[test]
    fn zone_transfers_are_refused() {
        for qtype in [T::AXFR, T::IXFR] {
            assert_eq!(ask(&view(), "example.com.", qtype), Answer::refused());
        }
    }

    #[test]
    fn any_returns_every_served_rrset() {
        let answer = ask(&view(), "example.com.", T::ANY);
        assert!(answer.authoritative);
        let types: Vec<_> = answer.answers.iter().map(Record::record_type).collect();
        assert_eq!(types, [T::SOA, T::NS, T::NS, T::TXT]);

        let answer = ask(&view(), "www.example.com.", T::ANY);
        assert_negative(&answer, ResponseCode::NoError, "example.com.");
    }

    #[test]
    fn the_longest_zone_wins() {
        let mut inner = zone("sub.example.com");
        inner.soa.as_mut().unwrap().serial = 7;
        inner.txt = vec![rec("@", "inner", None)];
        let outer = zone("example.com");
        let view: ZoneView = [outer, inner].iter().collect();

        let answer = ask(&view, "sub.example.com.", T::SOA);
        let RData::SOA(soa) = &answer.answers[0].data else {
            panic!()
        };
        assert_eq!(soa.serial, 7);

        let answer = ask(&view, "nope.sub.example.com.", T::TXT);
        assert_negative(&answer, ResponseCode::NXDomain, "sub.example.com.");

        let answer = ask(&view, "sub.example.com.", T::TXT);
        assert_eq!(txt_strings(&answer.answers[0]), [b"inner".to_vec()]);

        let answer = ask(&view, "example.com.", T::SOA);
        let RData::SOA(soa) = &answer.answers[0].data else {
            panic!()
        };
        assert_eq!(soa.serial, 2025010101);
    }

    #[test]
    fn names_match_case_insensitively() {
        let view = view();
        let answer = ask(&view, "_ACME-Challenge.WWW.Example.COM.", T::TXT);
        assert_eq!(answer.answers.len(), 1);
        // Records are owned by the name as the client spelled it.
        assert_eq!(
            answer.answers[0].name.to_ascii(),
            "_ACME-Challenge.WWW.Example.COM."
        );

        let answer = ask(&view, "EXAMPLE.com.", T::SOA);
        assert_eq!(answer.answers.len(), 1);

        let answer = ask(&view, "Nope.EXAMPLE.com.", T::TXT);
        assert_eq!(answer.rcode, ResponseCode::NXDomain);
        assert!(answer.authorities[0].name.eq_case(&name("EXAMPLE.com.")));

        let mixed: ZoneView = [zone("Example.COM.")].iter().collect();
        assert_eq!(ask(&mixed, "example.com.", T::SOA).answers.len(), 1);
    }

    #[test]
    fn wildcards_answer_for_missing_names_only() {
        let mut data = ZoneData::from(&zone("example.com"));
        data.add_txt("*", "wild", None);
        data.add_txt("*.deep", "deep-wild", None);
        let view: ZoneView = [data].into_iter().collect();

        let answer = ask(&view, "missing.example.com.", T::TXT);
        assert_eq!(answer.rcode, ResponseCode::NoError);
        assert_eq!(answer.answers[0].name, name("missing.example.com."));
        assert_eq!(txt_strings(&answer.answers[0]), [b"wild".to_vec()]);

        let answer = ask(&view, "a.b.missing.example.com.", T::TXT);
        assert_eq!(txt_strings(&answer.answers[0]), [b"wild".to_vec()]);

        let answer = ask(&view, "x.deep.example.com.", T::TXT);
        assert_eq!(txt_strings(&answer.answers[0]), [b"deep-wild".to_vec()]);

        // A wildcard owns no SOA even at the apex's child.
        assert_negative(
            &ask(&view, "missing.example.com.", T::SOA),
            ResponseCode::NoError,
            "example.com.",
        );
        // Existing names are not covered.
        assert_negative(
            &ask(&view, "www.example.com.", T::TXT),
            ResponseCode::NoError,
            "example.com.",
        );
        // Below an existing name without a wildcard of its own: no match.
        assert_negative(
            &ask(&view, "x.www.example.com.", T::TXT),
            ResponseCode::NXDomain,
            "example.com.",
        );
    }

    #[test]
    fn the_desired_view_can_be_edited() {
        let mut view = view();
        let zone = view.zone_mut("EXAMPLE.COM.").unwrap();
        zone.add_txt("_acme-challenge", "new", Some(60));
        assert!(zone.has_rrset("_acme-challenge", T::TXT));
        assert!(zone.name_exists("_acme-challenge"));
        let answer = ask(&view, "_acme-challenge.example.com.", T::TXT);
        assert_eq!(txt_strings(&answer.answers[0]), [b"new".to_vec()]);
        assert_eq!(answer.answers[0].ttl, 60);

        let zone = view.zone_mut("example.com").unwrap();
        assert!(!zone.remove_txt("_acme-challenge", "other"));
        assert!(zone.remove_txt("_acme-challenge", "new"));
        assert!(!zone.name_exists("_acme-challenge"));
        assert_negative(
            &ask(&view, "_acme-challenge.example.com.", T::TXT),
            ResponseCode::NXDomain,
            "example.com.",
        );

        let zone = view.zone_mut("example.com").unwrap();
        let removed = zone.remove_txt_rrset("_acme-challenge.www");
        assert_eq!(removed.len(), 1);
        assert!(zone.txt("_acme-challenge.www").is_empty());
        // `www` still exists through its A record.
        assert!(zone.name_exists("www"));
        assert!(zone.has_rrset("www", T::A));
        assert!(zone.has_rrset("@", T::SOA) && !zone.has_rrset("www", T::SOA));
        assert_eq!(zone.txt("@").len(), 1);
    }

    #[test]
    fn zone_lookup_and_view_mutation() {
        let mut view = ZoneView::new();
        assert_eq!(ask(&view, "example.com.", T::SOA), Answer::refused());
        assert!(view.insert(ZoneData::from(&zone("example.com"))).is_none());
        assert!(view.insert(ZoneData::new("Example.com.", soa())).is_some());
        assert_eq!(view.zones().count(), 1);
        assert_eq!(
            view.find_zone("a.b.example.com").map(ZoneData::name),
            Some("example.com")
        );
        assert_eq!(
            view.zone("example.com.").map(|z| z.soa().serial),
            Some(2025010101)
        );
        assert!(view.find_zone("example.org").is_none());
    }

    #[test]
    fn missing_soa_block_gets_defaults() {
        let mut z = zone("example.org");
        z.soa = None;
        let view: ZoneView = [z].iter().collect();
        let answer = ask(&view, "example.org.", T::SOA);
        let RData::SOA(soa) = &answer.answers[0].data else {
            panic!()
        };
        assert_eq!(soa.mname, name("ns1.example.org."));
        assert_eq!(soa.rname, name("hostmaster.example.org."));
        assert_eq!(answer.answers[0].ttl, 300);
    }

    #[test]
    fn tech_email_becomes_an_rname() {
        assert_eq!(
            email_to_rname("hostmaster@example.com"),
            Some(name("hostmaster.example.com."))
        );
        let dotted = email_to_rname("dns.admin@example.com").unwrap();
        assert_eq!(dotted.num_labels(), 3, "{dotted}");
        assert_eq!(dotted.iter().next(), Some(&b"dns.admin"[..]));
        assert_eq!(
            email_to_rname("hostmaster.example.com"),
            Some(name("hostmaster.example.com."))
        );
        assert_eq!(email_to_rname("@example.com"), None);
        assert_eq!(email_to_rname(""), None);

        // Garbage from CSC never breaks the SOA: fall back to hostmaster.<zone>.
        let mut bad = soa();
        bad.tech_email = "@".into();
        bad.master_host = "".into();
        let view: ZoneView = [ZoneData::new("example.com", bad)].into_iter().collect();
        let answer = ask(&view, "example.com.", T::SOA);
        let RData::SOA(soa) = &answer.answers[0].data else {
            panic!()
        };
        assert_eq!(soa.rname, name("hostmaster.example.com."));
        assert_eq!(soa.mname, name("ns1.example.com."));
    }
}
