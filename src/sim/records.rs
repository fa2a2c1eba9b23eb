//! The records of one zone: seeding, checking the fields of edit items, and applying them.
//!
//! Keys are relative to the zone (`@` at the apex) and compare case-insensitively; TXT values
//! compare exactly, values of the other types (host names, addresses) case-insensitively.
//! Applying a list of items is all-or-nothing: the caller applies to a copy and keeps it only when
//! every item succeeded.

use crate::csc::model::{EditAction, EditItem, Record, RecordType, Soa, Zone};

/// The first SOA serial of a seeded zone.
pub const SEED_SERIAL: u32 = 2025010101;

/// The status string of a published record.
const RECORD_STATUS: &str = "ACTIVE";

/// Why an edit item cannot be accepted or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The POST carried no edit items.
    #[error("The edits list must not be empty")]
    NoEdits,
    /// A field the action needs is missing.
    #[error("edits[{index}]: {field} is required for {action:?}")]
    MissingField {
        index: usize,
        field: &'static str,
        action: EditAction,
    },
    /// An `EDIT` item changes nothing.
    #[error("edits[{index}]: EDIT needs at least one of newKey, newValue, newTtl")]
    NothingToChange { index: usize },
    /// A key field is present but empty.
    #[error("edits[{index}]: {field} must not be empty")]
    EmptyKey { index: usize, field: &'static str },
    /// A value field is present but empty.
    #[error("edits[{index}]: {field} must not be empty")]
    EmptyValue { index: usize, field: &'static str },
    /// `PURGE`/`EDIT` names a record that does not exist.
    #[error("edits[{index}]: no {record_type:?} record {key} = {value:?} exists")]
    NotFound {
        index: usize,
        record_type: RecordType,
        key: String,
        value: String,
    },
    /// `ADD` (or the result of `EDIT`) repeats an existing record exactly.
    #[error("edits[{index}]: the {record_type:?} record {key} = {value:?} already exists")]
    Duplicate {
        index: usize,
        record_type: RecordType,
        key: String,
        value: String,
    },
}

/// A freshly seeded zone: SOA, two NS records and an unrelated SPF TXT record at the apex.
pub fn seed_zone(zone: &str) -> Zone {
    let ns = |host: &str| record("@", &format!("{host}.{zone}"), Some(86_400));
    Zone {
        zone_name: zone.to_owned(),
        hosting_type: Some("MANAGED".to_owned()),
        a: Vec::new(),
        aaaa: Vec::new(),
        cname: Vec::new(),
        mx: Vec::new(),
        ns: vec![ns("ns1"), ns("ns2")],
        srv: Vec::new(),
        caa: Vec::new(),
        txt: vec![record("@", &spf_value(zone), Some(3600))],
        soa: Some(Soa {
            serial: SEED_SERIAL,
            ..crate::dns::answer::default_soa(zone)
        }),
    }
}

/// The SPF value every seeded zone carries at its apex (tests prove it is never touched).
pub fn spf_value(zone: &str) -> String {
    format!("v=spf1 include:_spf.{zone} ~all")
}

fn record(key: &str, value: &str, ttl: Option<u32>) -> Record {
    Record {
        id: uuid::Uuid::new_v4().to_string(),
        key: key.to_owned(),
        value: value.to_owned(),
        ttl,
        status: Some(RECORD_STATUS.to_owned()),
    }
}

/// The records of `record_type` in `zone`.
pub fn records_of(zone: &Zone, record_type: RecordType) -> &Vec<Record> {
    match record_type {
        RecordType::A => &zone.a,
        RecordType::Aaaa => &zone.aaaa,
        RecordType::Cname => &zone.cname,
        RecordType::Mx => &zone.mx,
        RecordType::Ns => &zone.ns,
        RecordType::Srv => &zone.srv,
        RecordType::Caa => &zone.caa,
        RecordType::Txt => &zone.txt,
    }
}

fn records_of_mut(zone: &mut Zone, record_type: RecordType) -> &mut Vec<Record> {
    match record_type {
        RecordType::A => &mut zone.a,
        RecordType::Aaaa => &mut zone.aaaa,
        RecordType::Cname => &mut zone.cname,
        RecordType::Mx => &mut zone.mx,
        RecordType::Ns => &mut zone.ns,
        RecordType::Srv => &mut zone.srv,
        RecordType::Caa => &mut zone.caa,
        RecordType::Txt => &mut zone.txt,
    }
}

/// A key in comparable form: lower case, no trailing dot, `@` for the apex.
fn key_form(key: &str) -> String {
    let key = key.trim().trim_end_matches('.').to_ascii_lowercase();
    if key.is_empty() { "@".to_owned() } else { key }
}

fn same_value(record_type: RecordType, a: &str, b: &str) -> bool {
    match record_type {
        RecordType::Txt => a == b,
        _ => a.eq_ignore_ascii_case(b),
    }
}

fn position(records: &[Record], record_type: RecordType, key: &str, value: &str) -> Option<usize> {
    let key = key_form(key);
    records
        .iter()
        .position(|r| key_form(&r.key) == key && same_value(record_type, &r.value, value))
}

/// Checks that every item carries the fields its action needs (no zone state involved).
pub fn check_fields(items: &[EditItem]) -> Result<(), EditError> {
    if items.is_empty() {
        return Err(EditError::NoEdits);
    }
    for (index, item) in items.iter().enumerate() {
        let required: &[(&'static str, &Option<String>)] = match item.action {
            EditAction::Add => &[("newKey", &item.new_key), ("newValue", &item.new_value)],
            EditAction::Purge | EditAction::Edit => &[
                ("currentKey", &item.current_key),
                ("currentValue", &item.current_value),
            ],
        };
        for (field, value) in required {
            if value.is_none() {
                return Err(EditError::MissingField {
                    index,
                    field,
                    action: item.action,
                });
            }
        }
        if item.action == EditAction::Edit
            && item.new_key.is_none()
            && item.new_value.is_none()
            && item.new_ttl.is_none()
        {
            return Err(EditError::NothingToChange { index });
        }
        for (field, key) in [("currentKey", &item.current_key), ("newKey", &item.new_key)] {
            if key.as_deref().is_some_and(|k| k.trim().is_empty()) {
                return Err(EditError::EmptyKey { index, field });
            }
        }
        for (field, value) in [
            ("currentValue", &item.current_value),
            ("newValue", &item.new_value),
        ] {
            if value.as_deref().is_some_and(str::is_empty) {
                return Err(EditError::EmptyValue { index, field });
            }
        }
    }
    Ok(())
}

/// Applies `items` in order to `zone`. On error `zone` may be half-changed: apply to a copy.
///
/// Expects [`check_fields`] to have passed; missing fields are reported again rather than assumed.
pub fn apply_items(zone: &mut Zone, items: &[EditItem]) -> Result<(), EditError> {
    for (index, item) in items.iter().enumerate() {
        apply_item(zone, index, item)?;
    }
    Ok(())
}

fn field<'a>(
    index: usize,
    item: &EditItem,
    name: &'static str,
    value: &'a Option<String>,
) -> Result<&'a str, EditError> {
    value.as_deref().ok_or(EditError::MissingField {
        index,
        field: name,
        action: item.action,
    })
}

fn apply_item(zone: &mut Zone, index: usize, item: &EditItem) -> Result<(), EditError> {
    let record_type = item.record_type;
    let records = records_of_mut(zone, record_type);
    let not_found = |key: &str, value: &str| EditError::NotFound {
        index,
        record_type,
        key: key.to_owned(),
        value: value.to_owned(),
    };
    let duplicate = |key: &str, value: &str| EditError::Duplicate {
        index,
        record_type,
        key: key.to_owned(),
        value: value.to_owned(),
    };
    match item.action {
        EditAction::Add => {
            let key = field(index, item, "newKey", &item.new_key)?;
            let value = field(index, item, "newValue", &item.new_value)?;
            if position(records, record_type, key, value).is_some() {
                return Err(duplicate(key, value));
            }
            records.push(record(key, value, item.new_ttl.filter(|t| *t > 0)));
        }
        EditAction::Purge => {
            let key = field(index, item, "currentKey", &item.current_key)?;
            let value = field(index, item, "currentValue", &item.current_value)?;
            let at =
                position(records, record_type, key, value).ok_or_else(|| not_found(key, value))?;
            records.remove(at);
        }
        EditAction::Edit => {
            let key = field(index, item, "currentKey", &item.current_key)?;
            let value = field(index, item, "currentValue", &item.current_value)?;
            let at =
                position(records, record_type, key, value).ok_or_else(|| not_found(key, value))?;
            let new_key = item.new_key.as_deref().unwrap_or(key).to_owned();
            let new_value = item.new_value.as_deref().unwrap_or(value).to_owned();
            let changes_identity =
                key_form(&new_key) != key_form(key) || !same_value(record_type, &new_value, value);
            if changes_identity && position(records, record_type, &new_key, &new_value).is_some() {
                return Err(duplicate(&new_key, &new_value));
            }
            let target = &mut records[at];
            target.key = new_key;
            target.value = new_value;
            if let Some(ttl) = item.new_ttl {
                target.ttl = (ttl > 0).then_some(ttl);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txt(zone: &Zone) -> Vec<(String, String)> {
        zone.txt
            .iter()
            .map(|r| (r.key.clone(), r.value.clone()))
            .collect()
    }

    #[test]
    fn seeded_zone_has_soa_ns_and_spf() {
        let zone = seed_zone("example.com");
        let soa = zone.soa.as_ref().map(|s| s.tech_email.as_str());
        assert_eq!(soa, Some("hostmaster@example.com"));
        assert_eq!(zone.ns.len(), 2);
        assert_eq!(
            txt(&zone),
            vec![("@".into(), "v=spf1 include:_spf.example.com ~all".into())]
        );
    }

    #[test]
    fn add_purge_and_edit() {
        let mut zone = seed_zone("example.com");
        let items = [
            EditItem::add_txt("_acme-challenge", "a", 300, None),
            EditItem::add_txt("_acme-challenge", "b", 300, None),
            EditItem::purge_txt("_ACME-challenge", "a"),
        ];
        apply_items(&mut zone, &items).expect("applies");
        assert!(txt(&zone).contains(&("_acme-challenge".into(), "b".into())));
        assert!(!txt(&zone).contains(&("_acme-challenge".into(), "a".into())));

        let mut edit = EditItem::purge_txt("_acme-challenge", "b");
        edit.action = EditAction::Edit;
        edit.new_value = Some("c".into());
        apply_items(&mut zone, &[edit]).expect("edit applies");
        assert!(txt(&zone).contains(&("_acme-challenge".into(), "c".into())));
    }

    #[test]
    fn duplicates_and_missing_records_are_refused() {
        let mut zone = seed_zone("example.com");
        let spf = spf_value("example.com");
        let dup = apply_items(&mut zone, &[EditItem::add_txt("@", &spf, 300, None)]);
        assert!(matches!(dup, Err(EditError::Duplicate { index: 0, .. })));
        let missing = apply_items(&mut zone, &[EditItem::purge_txt("x", "nope")]);
        assert!(matches!(missing, Err(EditError::NotFound { index: 0, .. })));
        // TXT values are case-sensitive: a different case is another record.
        let other_case = spf.to_uppercase();
        let purge = apply_items(&mut zone, &[EditItem::purge_txt("@", &other_case)]);
        assert!(matches!(purge, Err(EditError::NotFound { .. })));
    }

    #[test]
    fn field_checks() {
        assert_eq!(check_fields(&[]), Err(EditError::NoEdits));
        let mut add = EditItem::add_txt("x", "v", 300, None);
        add.new_value = None;
        assert!(matches!(
            check_fields(&[add]),
            Err(EditError::MissingField {
                field: "newValue",
                ..
            })
        ));
        let empty = EditItem::add_txt("x", "", 300, None);
        assert!(matches!(
            check_fields(&[empty]),
            Err(EditError::EmptyValue {
                field: "newValue",
                ..
            })
        ));
        let mut edit = EditItem::purge_txt("x", "v");
        edit.action = EditAction::Edit;
        assert_eq!(
            check_fields(&[edit]),
            Err(EditError::NothingToChange { index: 0 })
        );
    }
}
