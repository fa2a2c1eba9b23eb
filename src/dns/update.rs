//! RFC 2136 UPDATE processing, pure: zone section, prerequisites, the key's grant, the update
//! prescan, and the translation into engine operations — each step with its own rcode.
//!
//! The order is the RFC's (§3): zone section (FORMERR; NOTAUTH when not served) → prerequisites
//! (§3.2, against the desired view) → permission (REFUSED) → prescan (§3.4.1, FORMERR/NOTZONE)
//! → operations, applied all or nothing by the engine. One deviation: an unsigned UPDATE is
//! refused before its prerequisites are read, so unauthenticated senders learn nothing about
//! the zone's contents.

use std::collections::{BTreeMap, BTreeSet};

use hickory_proto::op::ResponseCode;
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
            format!("zone section has {} entries, expected exactly 1", queries.len()),
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
            let bytes: Vec<u8> = txt.txt_data.iter().flat_map(|s| s.iter().copied()).collect();
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
            return Err(Refusal::new(ResponseCode::FormErr, "prerequisite with a TTL other than 0"));
        }
        let name = name_in_zone(record, &zone_name)?;
        let key = names::record_key(&name, &zone_name).unwrap_or_default();
        let rtype = record.record_type();
        match record.dns_class {
            DNSClass::ANY => {
                if !is_empty_rdata(record) {
                    return Err(Refusal::new(ResponseCode::FormErr, "class ANY prerequisite with rdata"));
                }
                if rtype == RecordType::ANY {
                    if !zone.name_exists(&key) {
                        return Err(Refusal::new(ResponseCode::NXDomain, format!("prerequisite: {name} is not in use")));
                    }
                } else if !zone.has_rrset(&key, rtype) {
                    return Err(Refusal::new(ResponseCode::NXRRSet, format!("prerequisite: no {rtype} RRset at {name}")));
                }
            }
            DNSClass::NONE => {
                if !is_empty_rdata(record) {
                    return Err(Refusal::new(ResponseCode::FormErr, "class NONE prerequisite with rdata"));
                }
                if rtype == RecordType::ANY {
                    if zone.name_exists(&key) {
                        return Err(Refusal::new(ResponseCode::YXDomain, format!("prerequisite: {name} is in use")));
                    }
                } else if zone.has_rrset(&key, rtype) {
                    return Err(Refusal::new(ResponseCode::YXRRSet, format!("prerequisite: a {rtype} RRset exists at {name}")));
                }
            }
            DNSClass::IN => {
                if is_empty_rdata(record) || rtype == RecordType::ANY {
                    return Err(Refusal::new(ResponseCode::FormErr, "value prerequisite without rdata"));
                }
                let value = txt_value(&record.data).unwrap_or_else(|| record.data.to_string());
                value_sets.entry((key, rtype)).or_default().insert(value);
            }
            class => {
                return Err(Refusal::new(ResponseCode::FormErr, format!("prerequisite of class {class}")));
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
                format!("key {} may not change {rtype} records (at {name})", key.name),
            ));
        }
    }
    Ok(())
}

/// The update prescan (RFC 2136 §3.4.1) and the translation into engine operations, in order.
pub fn plan_operations(updates: &[Record], zone: &str, delete_foreign: bool) -> Result<Vec<Op>, Refusal> {
    let mut ops = Vec::with_capacity(updates.len());
    for record in updates {
        let name = name_in_zone(record, zone)?;
        let rtype = record.record_type();
        let op = match record.dns_class {
            DNSClass::IN => {
                if is_meta_type(rtype) || is_empty_rdata(record) {
                    return Err(Refusal::new(ResponseCode::FormErr, format!("cannot add a {rtype} record without data")));
                }
                let value = txt_value(&record.data).ok_or_else(|| {
                    Refusal::new(ResponseCode::Refused, format!("the gateway manages TXT records only, not {rtype}"))
                })?;
                if value.is_empty() {
                    return Err(Refusal::new(ResponseCode::Refused, format!("empty TXT value at {name}: CSC stores no empty records")));
                }
                Op::Add { name, value }
            }
            DNSClass::ANY => {
                if record.ttl != 0 || !is_empty_rdata(record) {
                    return Err(Refusal::new(ResponseCode::FormErr, "class ANY update must have TTL 0 and no rdata"));
                }
                match rtype {
                    RecordType::ANY => Op::DeleteName { name, foreign: delete_foreign },
                    RecordType::TXT => Op::DeleteRrset { name, foreign: delete_foreign },
                    t if is_meta_type(t) => {
                        return Err(Refusal::new(ResponseCode::FormErr, format!("cannot delete type {t}")));
                    }
                    t => return Err(Refusal::new(ResponseCode::Refused, format!("the gateway manages TXT records only, not {t}"))),
                }
            }
            DNSClass::NONE => {
                if record.ttl != 0 || is_meta_type(rtype) || is_empty_rdata(record) {
                    return Err(Refusal::new(ResponseCode::FormErr, "class NONE update must have TTL 0, a real type and rdata"));
                }
                let value = txt_value(&record.data).ok_or_else(|| {
                    Refusal::new(ResponseCode::Refused, format!("the gateway manages TXT records only, not {rtype}"))
                })?;
                Op::DeleteValue { name, value }
            }
            class => return Err(Refusal::new(ResponseCode::FormErr, format!("update of class {class}"))),
        };
        ops.push(op);
    }
    Ok(ops)
}
