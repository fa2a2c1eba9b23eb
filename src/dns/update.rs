//! RFC 2136 UPDATE processing, pure: zone section, prerequisites, the key's grant, the update
//! prescan, and the translation into engine operations — each step with its own rcode.
//!
//! The order is the RFC's (§3): zone section (FORMERR; NOTAUTH when not served) → prerequisites
//! (§3.2, against the desired view) → permission (REFUSED) → prescan (§3.4.1, FORMERR/NOTZONE)
//! → operations, applied all or nothing by the engine. One deviation: an unsigned UPDATE is
//! refused before its prerequisites are read, so unauthenticated senders learn nothing about
//! the zone's contents.

use std::collections::{BTreeMap, BTreeSet};

use hickory_proto::op::{LowerQuery, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::config::KeyConfig;
use crate::csc::names;
use crate::dns::answer::ZoneData;
use crate::engine::change::Op;

/// Why an UPDATE is refused: the rcode to answer and a reason for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub rcode: ResponseCode,
    pub reason: String,
}

impl Refusal {
    fn new(rcode: ResponseCode, reason: impl Into<String>) -> Refusal {
        Refusal {
            rcode,
            reason: reason.into(),
        }
    }
}

/// The zone an UPDATE names in its zone section (normalized), checked for shape only.
///
/// Exactly one entry of type SOA and class IN (RFC 2136 §3.1.1), else FORMERR.
pub fn zone_section(queries: &[(Name, RecordType, DNSClass)]) -> Result<String, Refusal> {
    let [(name, rtype, class)] = queries else {
        return Err(Refusal::new(
            ResponseCode::FormErr,
            format!(
                "zone section has {} entries, expected exactly 1",
                queries.len()
            ),
        ));
    };
    if *rtype != RecordType::SOA {
        return Err(Refusal::new(
            ResponseCode::FormErr,
            format!("zone section type is {rtype}, expected SOA"),
        ));
    }
    if *class != DNSClass::IN {
        return Err(Refusal::new(
            ResponseCode::NotAuth,
            format!("zone class {class} is not served (only IN)"),
        ));
    }
    Ok(names::normalize(&name.to_ascii()))
}

/// [`zone_section`] of a parsed message's question entries.
pub fn zone_of(queries: &[LowerQuery]) -> Result<String, Refusal> {
    let entries: Vec<_> = queries
        .iter()
        .map(|q| {
            let q = q.original();
            (q.name().clone(), q.query_type(), q.query_class())
        })
        .collect();
    zone_section(&entries)
}

/// The owner name of a record, normalized, if it is inside `zone` (else NOTZONE).
fn name_in_zone(record: &Record, zone: &str) -> Result<String, Refusal> {
    let name = names::normalize(&record.name.to_ascii());
    if names::record_key(&name, zone).is_some() {
        Ok(name)
    } else {
        Err(Refusal::new(
            ResponseCode::NotZone,
            format!("{name} is outside zone {zone}"),
        ))
    }
}

/// The TXT value of an rdata: the character-strings concatenated (CSC stores one string).
fn txt_value(data: &RData) -> Option<String> {
    match data {
        RData::TXT(txt) => {
            let bytes: Vec<u8> = txt
                .txt_data
                .iter()
                .flat_map(|s| s.iter().copied())
                .collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        _ => None,
    }
}

/// Whether the record has empty rdata (class ANY/NONE forms of RFC 2136).
fn is_empty_rdata(record: &Record) -> bool {
    matches!(record.data, RData::Update0(_))
}

/// Types that are not RRset types and may never appear in the update section.
fn is_meta_type(rtype: RecordType) -> bool {
    matches!(
        rtype,
        RecordType::ANY | RecordType::AXFR | RecordType::IXFR | RecordType::OPT | RecordType::TSIG
    ) || u16::from(rtype) == 253 // MAILB
        || u16::from(rtype) == 254 // MAILA
}

/// Evaluates the prerequisite section (RFC 2136 §3.2) against the desired view of the zone.
pub fn check_prerequisites(prereqs: &[Record], zone: &ZoneData) -> Result<(), Refusal> {
    let zone_name = names::normalize(zone.name());
    // Value-dependent prerequisites, gathered per (name, type) and compared as sets (§3.2.3).
    let mut value_sets: BTreeMap<(String, RecordType), BTreeSet<String>> = BTreeMap::new();
    for record in prereqs {
        if record.ttl != 0 {
            return Err(Refusal::new(
                ResponseCode::FormErr,
                "prerequisite with a TTL other than 0",
            ));
        }
        let name = name_in_zone(record, &zone_name)?;
        let key = names::record_key(&name, &zone_name).unwrap_or_default();
        let rtype = record.record_type();
        match record.dns_class {
            DNSClass::ANY => {
                if !is_empty_rdata(record) {
                    return Err(Refusal::new(
                        ResponseCode::FormErr,
                        "class ANY prerequisite with rdata",
                    ));
                }
                if rtype == RecordType::ANY {
                    if !zone.name_exists(&key) {
                        return Err(Refusal::new(
                            ResponseCode::NXDomain,
                            format!("prerequisite: {name} is not in use"),
                        ));
                    }
                } else if !zone.has_rrset(&key, rtype) {
                    return Err(Refusal::new(
                        ResponseCode::NXRRSet,
                        format!("prerequisite: no {rtype} RRset at {name}"),
                    ));
                }
            }
            DNSClass::NONE => {
                if !is_empty_rdata(record) {
                    return Err(Refusal::new(
                        ResponseCode::FormErr,
                        "class NONE prerequisite with rdata",
                    ));
                }
                if rtype == RecordType::ANY {
                    if zone.name_exists(&key) {
                        return Err(Refusal::new(
                            ResponseCode::YXDomain,
                            format!("prerequisite: {name} is in use"),
                        ));
                    }
                } else if zone.has_rrset(&key, rtype) {
                    return Err(Refusal::new(
                        ResponseCode::YXRRSet,
                        format!("prerequisite: a {rtype} RRset exists at {name}"),
                    ));
                }
            }
            DNSClass::IN => {
                if is_empty_rdata(record) || rtype == RecordType::ANY {
                    return Err(Refusal::new(
                        ResponseCode::FormErr,
                        "value prerequisite without rdata",
                    ));
                }
                let value = txt_value(&record.data).unwrap_or_else(|| record.data.to_string());
                value_sets.entry((key, rtype)).or_default().insert(value);
            }
            class => {
                return Err(Refusal::new(
                    ResponseCode::FormErr,
                    format!("prerequisite of class {class}"),
                ));
            }
        }
    }
    for ((key, rtype), wanted) in value_sets {
        // Only TXT values are known to the gateway; any other type can only match when absent
        // values are wanted, which they never are here.
        let have: BTreeSet<String> = if rtype == RecordType::TXT {
            zone.txt(&key).iter().map(|v| v.value.clone()).collect()
        } else {
            BTreeSet::new()
        };
        if have != wanted {
            return Err(Refusal::new(
                ResponseCode::NXRRSet,
                format!("prerequisite: the {rtype} RRset at {key} differs"),
            ));
        }
    }
    Ok(())
}

/// Checks the key's grant for every update record (RFC 2136 §3.3): zone, owner name, type.
pub fn check_permission(updates: &[Record], zone: &str, key: &KeyConfig) -> Result<(), Refusal> {
    if let Some(zones) = &key.zones
        && !zones.iter().any(|z| z == zone)
    {
        return Err(Refusal::new(
            ResponseCode::Refused,
            format!("key {} may not change zone {zone}", key.name),
        ));
    }
    for record in updates {
        let name = names::normalize(&record.name.to_ascii());
        if !key.names.iter().any(|p| p.matches(&name)) {
            return Err(Refusal::new(
                ResponseCode::Refused,
                format!("key {} may not change name {name}", key.name),
            ));
        }
        let rtype = record.record_type();
        // "Delete all RRsets at a name" touches only the types the key holds.
        let granted = rtype == RecordType::ANY && record.dns_class == DNSClass::ANY
            || key.types.iter().any(|t| t == &rtype.to_string());
        if !granted {
            return Err(Refusal::new(
                ResponseCode::Refused,
                format!(
                    "key {} may not change {rtype} records (at {name})",
                    key.name
                ),
            ));
        }
    }
    Ok(())
}

/// The update prescan (RFC 2136 §3.4.1) and the translation into engine operations, in order.
pub fn plan_operations(
    updates: &[Record],
    zone: &str,
    delete_foreign: bool,
) -> Result<Vec<Op>, Refusal> {
    let mut ops = Vec::with_capacity(updates.len());
    for record in updates {
        let name = name_in_zone(record, zone)?;
        let rtype = record.record_type();
        let op = match record.dns_class {
            DNSClass::IN => {
                if is_meta_type(rtype) || is_empty_rdata(record) {
                    return Err(Refusal::new(
                        ResponseCode::FormErr,
                        format!("cannot add a {rtype} record without data"),
                    ));
                }
                let value = txt_value(&record.data).ok_or_else(|| {
                    Refusal::new(
                        ResponseCode::Refused,
                        format!("the gateway manages TXT records only, not {rtype}"),
                    )
                })?;
                if value.is_empty() {
                    return Err(Refusal::new(
                        ResponseCode::Refused,
                        format!("empty TXT value at {name}: CSC stores no empty records"),
                    ));
                }
                Op::Add { name, value }
            }
            DNSClass::ANY => {
                if record.ttl != 0 || !is_empty_rdata(record) {
                    return Err(Refusal::new(
                        ResponseCode::FormErr,
                        "class ANY update must have TTL 0 and no rdata",
                    ));
                }
                match rtype {
                    RecordType::ANY => Op::DeleteName {
                        name,
                        foreign: delete_foreign,
                    },
                    RecordType::TXT => Op::DeleteRrset {
                        name,
                        foreign: delete_foreign,
                    },
                    t if is_meta_type(t) => {
                        return Err(Refusal::new(
                            ResponseCode::FormErr,
                            format!("cannot delete type {t}"),
                        ));
                    }
                    t => {
                        return Err(Refusal::new(
                            ResponseCode::Refused,
                            format!("the gateway manages TXT records only, not {t}"),
                        ));
                    }
                }
            }
            DNSClass::NONE => {
                if record.ttl != 0 || is_meta_type(rtype) || is_empty_rdata(record) {
                    return Err(Refusal::new(
                        ResponseCode::FormErr,
                        "class NONE update must have TTL 0, a real type and rdata",
                    ));
                }
                let value = txt_value(&record.data).ok_or_else(|| {
                    Refusal::new(
                        ResponseCode::Refused,
                        format!("the gateway manages TXT records only, not {rtype}"),
                    )
                })?;
                Op::DeleteValue { name, value }
            }
            class => {
                return Err(Refusal::new(
                    ResponseCode::FormErr,
                    format!("update of class {class}"),
                ));
            }
        };
        ops.push(op);
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    //! Every rcode path of the four steps, on hand-built records.

    use hickory_proto::rr::rdata::{A, TXT};

    use super::*;
    use crate::config::{KeySecret, NamePattern, TsigAlgorithm};
    use crate::dns::answer::default_soa;

    const ZONE: &str = "example.com";

    fn name(text: &str) -> Name {
        Name::from_ascii(text).expect("a valid name")
    }

    fn txt(owner: &str, ttl: u32, strings: &[&str]) -> Record {
        let strings = strings.iter().map(|s| (*s).to_owned()).collect();
        Record::from_rdata(name(owner), ttl, RData::TXT(TXT::new(strings)))
    }

    fn with_class(mut record: Record, class: DNSClass) -> Record {
        record.dns_class = class;
        record
    }

    /// A record without rdata (the class ANY/NONE forms), of `rtype` and `class`.
    fn empty(owner: &str, rtype: RecordType, class: DNSClass) -> Record {
        with_class(Record::update0(name(owner), 0, rtype), class)
    }

    fn a(owner: &str, ttl: u32) -> Record {
        Record::from_rdata(name(owner), ttl, RData::A(A::new(192, 0, 2, 1)))
    }

    /// The zone: the apex SPF, two values at `_acme-challenge`, `deep.er` under an empty
    /// non-terminal, and an A-only name.
    fn zone() -> ZoneData {
        let mut zone = ZoneData::new(ZONE, default_soa(ZONE));
        zone.add_txt("@", "v=spf1 -all", None);
        zone.add_txt("_acme-challenge", "one", None);
        zone.add_txt("_acme-challenge", "two", None);
        zone.add_txt("deep.er", "x", None);
        zone.add_other("www", RecordType::A);
        zone
    }

    fn key(zones: Option<&[&str]>) -> KeyConfig {
        KeyConfig {
            name: "acme.".into(),
            algorithm: TsigAlgorithm::HmacSha256,
            secrets: vec![KeySecret::new(vec![7; 32])],
            zones: zones.map(|zones| zones.iter().map(|z| (*z).to_owned()).collect()),
            names: vec![NamePattern::default_acme()],
            types: vec!["TXT".into()],
            delete_foreign: false,
        }
    }

    fn rcode<T: std::fmt::Debug>(result: Result<T, Refusal>) -> ResponseCode {
        match result {
            Err(refusal) => {
                assert!(!refusal.reason.is_empty());
                refusal.rcode
            }
            Ok(value) => panic!("expected a refusal, got {value:?}"),
        }
    }

    // ---- zone_section ---------------------------------------------------------------------

    // Proves zone_section: one SOA/IN entry, else FORMERR; another class NOTAUTH.
    #[test]
    fn zone_section_wants_one_soa_in_class_in() {
        let soa = |zone: &str, class| (name(zone), RecordType::SOA, class);
        assert_eq!(
            zone_section(&[soa("Example.COM.", DNSClass::IN)]),
            Ok(ZONE.to_owned())
        );
        assert_eq!(rcode(zone_section(&[])), ResponseCode::FormErr);
        assert_eq!(
            rcode(zone_section(&[
                soa(ZONE, DNSClass::IN),
                soa("other.org.", DNSClass::IN)
            ])),
            ResponseCode::FormErr
        );
        assert_eq!(
            rcode(zone_section(&[(
                name("example.com."),
                RecordType::TXT,
                DNSClass::IN
            )])),
            ResponseCode::FormErr
        );
        for class in [DNSClass::CH, DNSClass::ANY, DNSClass::NONE] {
            assert_eq!(
                rcode(zone_section(&[soa(ZONE, class)])),
                ResponseCode::NotAuth
            );
        }
    }

    // ---- check_prerequisites ----------------------------------------------------------------

    // Proves every §3.2 prerequisite form passes when it holds against the view.
    #[test]
    fn prerequisites_that_hold() {
        let zone = zone();
        let holds = [
            // Name is in use: the apex, an owner of TXT, an empty non-terminal, an A owner.
            empty("example.com.", RecordType::ANY, DNSClass::ANY),
            empty(
                "_ACME-challenge.example.com.",
                RecordType::ANY,
                DNSClass::ANY,
            ),
            empty("er.example.com.", RecordType::ANY, DNSClass::ANY),
            empty("www.example.com.", RecordType::ANY, DNSClass::ANY),
            // RRset exists (value independent).
            empty("example.com.", RecordType::TXT, DNSClass::ANY),
            empty("example.com.", RecordType::SOA, DNSClass::ANY),
            empty("www.example.com.", RecordType::A, DNSClass::ANY),
            // Name not in use / RRset does not exist.
            empty("nothing.example.com.", RecordType::ANY, DNSClass::NONE),
            empty("www.example.com.", RecordType::TXT, DNSClass::NONE),
            // RRset exists (value dependent): the whole set, in any order, TTL 0.
            txt("_acme-challenge.example.com.", 0, &["two"]),
            txt("_acme-challenge.example.com.", 0, &["one"]),
        ];
        assert_eq!(check_prerequisites(&holds, &zone), Ok(()));
        assert_eq!(check_prerequisites(&[], &zone), Ok(()));
        // A value split into several character-strings compares as their concatenation.
        let split = [txt("example.com.", 0, &["v=spf1", " -all"])];
        assert_eq!(check_prerequisites(&split, &zone), Ok(()));
    }

    // Proves each failing prerequisite's rcode (NXDOMAIN, NXRRSET, YX*, NOTZONE, FORMERR).
    #[test]
    fn each_failing_prerequisite_has_its_rcode() {
        let zone = zone();
        let cases = [
            (
                empty("nothing.example.com.", RecordType::ANY, DNSClass::ANY),
                ResponseCode::NXDomain,
            ),
            (
                empty("www.example.com.", RecordType::TXT, DNSClass::ANY),
                ResponseCode::NXRRSet,
            ),
            (
                empty("_acme-challenge.example.com.", RecordType::A, DNSClass::ANY),
                ResponseCode::NXRRSet,
            ),
            (
                empty("er.example.com.", RecordType::ANY, DNSClass::NONE),
                ResponseCode::YXDomain,
            ),
            (
                empty("example.com.", RecordType::TXT, DNSClass::NONE),
                ResponseCode::YXRRSet,
            ),
            (
                empty("example.com.", RecordType::SOA, DNSClass::NONE),
                ResponseCode::YXRRSet,
            ),
            (
                txt("example.com.", 0, &["v=spf1 +all"]),
                ResponseCode::NXRRSet,
            ),
            (
                txt("nothing.example.com.", 0, &["x"]),
                ResponseCode::NXRRSet,
            ),
            (
                with_class(a("www.example.com.", 0), DNSClass::IN),
                ResponseCode::NXRRSet,
            ),
            (
                empty("elsewhere.test.", RecordType::ANY, DNSClass::ANY),
                ResponseCode::NotZone,
            ),
            (txt("notexample.com.", 0, &["x"]), ResponseCode::NotZone),
            // Malformed prerequisites.
            (
                txt("_acme-challenge.example.com.", 60, &["one"]),
                ResponseCode::FormErr,
            ),
            (
                with_class(txt("example.com.", 0, &["x"]), DNSClass::ANY),
                ResponseCode::FormErr,
            ),
            (
                with_class(txt("example.com.", 0, &["x"]), DNSClass::NONE),
                ResponseCode::FormErr,
            ),
            (
                empty("example.com.", RecordType::TXT, DNSClass::IN),
                ResponseCode::FormErr,
            ),
            (
                empty("example.com.", RecordType::ANY, DNSClass::IN),
                ResponseCode::FormErr,
            ),
            (
                with_class(txt("example.com.", 0, &["x"]), DNSClass::CH),
                ResponseCode::FormErr,
            ),
        ];
        for (record, expected) in cases {
            let got = rcode(check_prerequisites(std::slice::from_ref(&record), &zone));
            assert_eq!(got, expected, "{record}");
        }
        // A value-dependent set must match exactly: a subset or a superset fails.
        let subset = [txt("_acme-challenge.example.com.", 0, &["one"])];
        assert_eq!(
            rcode(check_prerequisites(&subset, &zone)),
            ResponseCode::NXRRSet
        );
        let superset = [
            txt("_acme-challenge.example.com.", 0, &["one"]),
            txt("_acme-challenge.example.com.", 0, &["two"]),
            txt("_acme-challenge.example.com.", 0, &["three"]),
        ];
        assert_eq!(
            rcode(check_prerequisites(&superset, &zone)),
            ResponseCode::NXRRSet
        );
        // The first failure decides, in order.
        let mixed = [
            empty("example.com.", RecordType::ANY, DNSClass::ANY),
            empty("example.com.", RecordType::ANY, DNSClass::NONE),
            empty("nothing.example.com.", RecordType::ANY, DNSClass::ANY),
        ];
        assert_eq!(
            rcode(check_prerequisites(&mixed, &zone)),
            ResponseCode::YXDomain
        );
    }

    // ---- check_permission -----------------------------------------------------------------

    // Proves check_permission refuses another zone, a name outside the patterns and a non-TXT type.
    #[test]
    fn permission_follows_the_grant() {
        let add = txt("_acme-challenge.www.example.com.", 60, &["t"]);
        let apex_challenge = txt("_ACME-Challenge.Example.com.", 60, &["t"]);
        let delete_name = empty(
            "_acme-challenge.example.com.",
            RecordType::ANY,
            DNSClass::ANY,
        );
        let delete_rrset = empty(
            "_acme-challenge.example.com.",
            RecordType::TXT,
            DNSClass::ANY,
        );
        let allowed = [add.clone(), apex_challenge, delete_name, delete_rrset];
        assert_eq!(check_permission(&allowed, ZONE, &key(None)), Ok(()));
        assert_eq!(
            check_permission(&allowed, ZONE, &key(Some(&["other.org", ZONE]))),
            Ok(())
        );
        assert_eq!(check_permission(&[], ZONE, &key(None)), Ok(()));

        let refused =
            |updates: &[Record], key: &KeyConfig| rcode(check_permission(updates, ZONE, key));
        // Another zone.
        assert_eq!(
            refused(std::slice::from_ref(&add), &key(Some(&["other.org"]))),
            ResponseCode::Refused
        );
        // Names outside `_acme-challenge.*`, anywhere in the message.
        for owner in [
            "www.example.com.",
            "example.com.",
            "x._acme-challenge.example.com.",
            "_acme-challenge.",
        ] {
            let outside = txt(owner, 60, &["t"]);
            assert_eq!(
                refused(&[add.clone(), outside], &key(None)),
                ResponseCode::Refused,
                "{owner}"
            );
        }
        // Types other than TXT: added, deleted as an RRset or by value.
        let a_add = a("_acme-challenge.example.com.", 60);
        let a_rrset = empty("_acme-challenge.example.com.", RecordType::A, DNSClass::ANY);
        let a_value = with_class(a("_acme-challenge.example.com.", 0), DNSClass::NONE);
        for record in [a_add, a_rrset, a_value] {
            assert_eq!(
                refused(std::slice::from_ref(&record), &key(None)),
                ResponseCode::Refused,
                "{record}"
            );
        }
    }

    // ---- plan_operations ------------------------------------------------------------------

    // Proves plan_operations maps add, value delete, RRset delete and name delete in order.
    #[test]
    fn updates_become_operations_in_order() {
        let updates = [
            txt("_acme-challenge.Example.COM.", 60, &["tok-", "en"]),
            with_class(
                txt("_acme-challenge.example.com.", 0, &["old"]),
                DNSClass::NONE,
            ),
            empty(
                "_acme-challenge.www.example.com.",
                RecordType::TXT,
                DNSClass::ANY,
            ),
            empty(
                "_acme-challenge.x.example.com.",
                RecordType::ANY,
                DNSClass::ANY,
            ),
        ];
        let ops = plan_operations(&updates, ZONE, false).expect("a plan");
        let challenge = "_acme-challenge.example.com".to_owned();
        assert_eq!(
            ops,
            vec![
                Op::Add {
                    name: challenge.clone(),
                    value: "tok-en".into()
                },
                Op::DeleteValue {
                    name: challenge,
                    value: "old".into()
                },
                Op::DeleteRrset {
                    name: "_acme-challenge.www.example.com".into(),
                    foreign: false
                },
                Op::DeleteName {
                    name: "_acme-challenge.x.example.com".into(),
                    foreign: false
                },
            ]
        );
        let ops = plan_operations(&updates[2..], ZONE, true).expect("a plan");
        assert!(ops.iter().all(|op| matches!(
            op,
            Op::DeleteRrset { foreign: true, .. } | Op::DeleteName { foreign: true, .. }
        )));
        assert_eq!(plan_operations(&[], ZONE, false), Ok(vec![]));
    }

    // Proves each prescan failure's rcode (NOTZONE, FORMERR, REFUSED), refusing the whole message.
    #[test]
    fn each_bad_update_has_its_rcode() {
        let owner = "_acme-challenge.example.com.";
        let cases = [
            // §3.4.1.3 NOTZONE.
            (
                txt("_acme-challenge.other.org.", 60, &["t"]),
                ResponseCode::NotZone,
            ),
            (
                empty("_acme-challenge.other.org.", RecordType::TXT, DNSClass::ANY),
                ResponseCode::NotZone,
            ),
            // Zone class: meta types and missing rdata are FORMERR, other types REFUSED.
            (
                empty(owner, RecordType::TXT, DNSClass::IN),
                ResponseCode::FormErr,
            ),
            (
                empty(owner, RecordType::ANY, DNSClass::IN),
                ResponseCode::FormErr,
            ),
            (
                empty(owner, RecordType::AXFR, DNSClass::IN),
                ResponseCode::FormErr,
            ),
            (a(owner, 60), ResponseCode::Refused),
            (txt(owner, 60, &[""]), ResponseCode::Refused),
            // Class ANY: TTL 0, no rdata, a real type or ANY.
            (
                with_class(txt(owner, 0, &["t"]), DNSClass::ANY),
                ResponseCode::FormErr,
            ),
            (
                with_class(
                    Record::update0(name(owner), 60, RecordType::TXT),
                    DNSClass::ANY,
                ),
                ResponseCode::FormErr,
            ),
            (
                empty(owner, RecordType::IXFR, DNSClass::ANY),
                ResponseCode::FormErr,
            ),
            (
                empty(owner, RecordType::Unknown(254), DNSClass::ANY),
                ResponseCode::FormErr,
            ),
            (
                empty(owner, RecordType::A, DNSClass::ANY),
                ResponseCode::Refused,
            ),
            // Class NONE: TTL 0, rdata, a real type.
            (
                with_class(txt(owner, 60, &["t"]), DNSClass::NONE),
                ResponseCode::FormErr,
            ),
            (
                empty(owner, RecordType::TXT, DNSClass::NONE),
                ResponseCode::FormErr,
            ),
            (
                empty(owner, RecordType::ANY, DNSClass::NONE),
                ResponseCode::FormErr,
            ),
            (
                with_class(a(owner, 0), DNSClass::NONE),
                ResponseCode::Refused,
            ),
            // Any other class.
            (
                with_class(txt(owner, 60, &["t"]), DNSClass::CH),
                ResponseCode::FormErr,
            ),
        ];
        for (record, expected) in cases {
            // After a good record too: one bad record refuses the whole message.
            let updates = [txt(owner, 60, &["fine"]), record.clone()];
            assert_eq!(
                rcode(plan_operations(&updates, ZONE, false)),
                expected,
                "{record}"
            );
        }
    }
}
