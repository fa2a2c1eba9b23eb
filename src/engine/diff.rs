//! The pure heart of batching: lay operations over CSC's records and compute the net edit.
//!
//! Given CSC's TXT records of a zone, the values the gateway owns, and the operations of the
//! changes in a batch, [`desired_txt`] computes the TXT records the zone should have and
//! [`net_edit`] the smallest list of ADD and PURGE items that gets CSC there. An add and a delete
//! of one value inside a batch cancel out; an empty result means no POST at all.

use std::collections::{BTreeMap, BTreeSet};

use crate::csc::model::EditItem;
use crate::csc::names;

use super::change::Op;

/// TXT values per owner name (normalized, absolute).
pub type TxtSet = BTreeMap<String, BTreeSet<String>>;

/// The TXT records of a CSC zone, keyed by absolute owner name.
pub fn txt_set(zone: &crate::csc::model::Zone) -> TxtSet {
    let mut set = TxtSet::new();
    for record in &zone.txt {
        set.entry(names::full_name(&record.key, &zone.zone_name))
            .or_default()
            .insert(record.value.clone());
    }
    set
}

/// Applies `ops` in order to `current`. `owned` answers whether the gateway owns a value at a
/// name; values added by earlier operations of the same sequence count as owned too.
pub fn desired_txt<'a>(
    current: &TxtSet,
    ops: impl IntoIterator<Item = &'a Op>,
    owned: impl Fn(&str, &str) -> bool,
) -> TxtSet {
    let mut desired = current.clone();
    let mut added: BTreeSet<(String, String)> = BTreeSet::new();
    for op in ops {
        match op {
            Op::Add { name, value } => {
                desired
                    .entry(name.clone())
                    .or_default()
                    .insert(value.clone());
                added.insert((name.clone(), value.clone()));
            }
            Op::DeleteValue { name, value } => {
                if let Some(values) = desired.get_mut(name) {
                    values.remove(value);
                }
            }
            Op::DeleteRrset { name, foreign } | Op::DeleteName { name, foreign } => {
                if let Some(values) = desired.get_mut(name) {
                    values.retain(|value| {
                        let ours =
                            owned(name, value) || added.contains(&(name.clone(), value.clone()));
                        !(*foreign || ours)
                    });
                }
            }
        }
    }
    desired.retain(|_, values| !values.is_empty());
    desired
}

/// The edit items that turn `current` into `desired` inside `zone`: PURGEs first, then ADDs,
/// each group in name order so the same batch always yields the same POST.
pub fn net_edit(zone: &str, current: &TxtSet, desired: &TxtSet, ttl: u32) -> Vec<EditItem> {
    let mut items = Vec::new();
    for (name, values) in current {
        let keep = desired.get(name);
        for value in values {
            if !keep.is_some_and(|k| k.contains(value)) {
                items.push(EditItem::purge_txt(&key(name, zone), value));
            }
        }
    }
    for (name, values) in desired {
        let have = current.get(name);
        for value in values {
            if !have.is_some_and(|h| h.contains(value)) {
                items.push(EditItem::add_txt(
                    &key(name, zone),
                    value,
                    ttl,
                    Some("csc-rfc2136".to_owned()),
                ));
            }
        }
    }
    items
}

/// The CSC key of an absolute name inside its zone (names inside a zone always have one).
fn key(name: &str, zone: &str) -> String {
    names::record_key(name, zone).unwrap_or_else(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csc::model::EditAction;

    fn set(pairs: &[(&str, &str)]) -> TxtSet {
        let mut set = TxtSet::new();
        for (name, value) in pairs {
            set.entry(name.to_string())
                .or_default()
                .insert(value.to_string());
        }
        set
    }

    fn add(name: &str, value: &str) -> Op {
        Op::Add {
            name: name.into(),
            value: value.into(),
        }
    }

    const SPF: (&str, &str) = ("example.com", "v=spf1 -all");
    const ACME: &str = "_acme-challenge.example.com";

    #[test]
    fn adds_become_one_edit_with_relative_keys() {
        let current = set(&[SPF]);
        let ops = [add(ACME, "a"), add("_acme-challenge.www.example.com", "b")];
        let desired = desired_txt(&current, &ops, |_, _| false);
        let items = net_edit("example.com", &current, &desired, 300);
        assert_eq!(items.len(), 2);
        assert!(
            items
                .iter()
                .all(|i| i.action == EditAction::Add && i.new_ttl == Some(300))
        );
        assert_eq!(items[0].new_key.as_deref(), Some("_acme-challenge"));
        assert_eq!(items[1].new_key.as_deref(), Some("_acme-challenge.www"));
    }

    #[test]
    fn add_then_delete_inside_a_batch_cancels_out() {
        let current = set(&[SPF]);
        let ops = [
            add(ACME, "a"),
            Op::DeleteValue {
                name: ACME.into(),
                value: "a".into(),
            },
        ];
        let desired = desired_txt(&current, &ops, |_, _| false);
        assert!(net_edit("example.com", &current, &desired, 300).is_empty());
    }

    #[test]
    fn re_adding_a_present_value_sends_nothing() {
        let current = set(&[SPF, (ACME, "a")]);
        let desired = desired_txt(&current, &[add(ACME, "a")], |_, _| true);
        assert!(net_edit("example.com", &current, &desired, 300).is_empty());
    }

    #[test]
    fn rrset_delete_removes_only_owned_values() {
        let current = set(&[SPF, (ACME, "ours"), (ACME, "theirs")]);
        let ops = [Op::DeleteRrset {
            name: ACME.into(),
            foreign: false,
        }];
        let desired = desired_txt(&current, &ops, |_, value| value == "ours");
        let items = net_edit("example.com", &current, &desired, 300);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].action, EditAction::Purge);
        assert_eq!(items[0].current_value.as_deref(), Some("ours"));
        let apex = [Op::DeleteName {
            name: "example.com".into(),
            foreign: false,
        }];
        let desired = desired_txt(&current, &apex, |_, _| false);
        assert!(
            net_edit("example.com", &current, &desired, 300).is_empty(),
            "SPF survives"
        );
    }

    #[test]
    fn foreign_rrset_delete_removes_everything_at_the_name() {
        let current = set(&[(ACME, "ours"), (ACME, "theirs")]);
        let ops = [Op::DeleteRrset {
            name: ACME.into(),
            foreign: true,
        }];
        let desired = desired_txt(&current, &ops, |_, _| false);
        assert_eq!(net_edit("example.com", &current, &desired, 300).len(), 2);
    }

    #[test]
    fn lego_style_delete_then_add_keeps_the_value_added_in_the_same_batch() {
        // lego sends "delete RRset, add value" per name; two names in a row share one RRset.
        let current = set(&[]);
        let ops = [
            Op::DeleteRrset {
                name: ACME.into(),
                foreign: false,
            },
            add(ACME, "one"),
            Op::DeleteRrset {
                name: ACME.into(),
                foreign: false,
            },
            add(ACME, "two"),
        ];
        let desired = desired_txt(&current, &ops, |_, _| false);
        assert_eq!(
            desired[ACME].len(),
            1,
            "the second RRset delete removes our first value"
        );
        assert!(desired[ACME].contains("two"));
    }

    #[test]
    fn txt_set_reads_csc_keys() {
        let zone: crate::csc::model::Zone = serde_json::from_value(serde_json::json!({
            "zoneName": "example.com",
            "txt": [{"id": "1", "key": "@", "value": "v=spf1 -all"},
                    {"id": "2", "key": "_acme-challenge.WWW", "value": "x"}]
        }))
        .unwrap();
        let set = txt_set(&zone);
        assert!(set["example.com"].contains("v=spf1 -all"));
        assert!(set["_acme-challenge.www.example.com"].contains("x"));
    }
}
