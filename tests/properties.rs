//! Properties of the typed diff over random values of a struct with every supported field
//! kind: replaying the changes rebuilds the new value, equal values yield no change, and the
//! changed key paths are the ones a plain diff of the two JSON documents finds.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use proptest::collection::{btree_map, btree_set, hash_map, hash_set, vec};
use proptest::option;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zkstruct::{ChangePath, Diff, ZkShared};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Mode {
    Watch,
    Ignore,
    Alert,
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub port: u16,
    #[serde(rename = "label")]
    pub name: String,
    pub weights: Option<Vec<u8>>,
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Everything {
    pub enabled: bool,
    pub count: u32,
    pub delta: i64,
    pub ratio: f64,
    pub name: String,
    pub maybe_port: Option<u16>,
    pub patterns: Vec<String>,
    pub endpoints: Vec<Endpoint>,
    pub by_name: BTreeMap<String, Endpoint>,
    pub by_id: HashMap<u8, u32>,
    pub tags: BTreeSet<String>,
    pub ids: HashSet<i16>,
    pub primary: Endpoint,
    pub fallback: Option<Endpoint>,
    pub boxed: Box<Endpoint>,
    #[zk(opaque)]
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(rename = "renamed")]
    pub grid: Vec<Vec<u8>>,
    #[serde(skip)]
    pub local_counter: u64,
}

/// JSON keys of the set fields: JSON writes a set as an array, and a set change reports
/// the path of the set, not of a position.
const SET_KEYS: &[&str] = &["tags", "ids"];
/// JSON keys of fields compared as a whole.
const WHOLE_KEYS: &[&str] = &["mode"];

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "web-1", "x/y", "~", "é", ""]).prop_map(str::to_owned)
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    (0..3_u16, word(), option::of(vec(0..3_u8, 0..3))).prop_map(|(port, name, weights)| Endpoint {
        port,
        name,
        weights,
    })
}

fn everything() -> impl Strategy<Value = Everything> {
    let scalars =
        (any::<bool>(), 0..3_u32, -2..2_i64, prop::sample::select(vec![0.0, 0.5, -1.25, 1e300]), word());
    let collections = (
        option::of(0..3_u16),
        vec(word(), 0..4),
        vec(endpoint(), 0..3),
        btree_map(word(), endpoint(), 0..3),
        hash_map(0..4_u8, 0..3_u32, 0..3),
        btree_set(word(), 0..3),
        hash_set(-2..2_i16, 0..3),
    );
    let nested = (
        endpoint(),
        option::of(endpoint()),
        endpoint(),
        prop::sample::select(vec![Mode::Watch, Mode::Ignore, Mode::Alert]),
        option::of(word()),
        vec(vec(0..2_u8, 0..3), 0..3),
    );
    (scalars, collections, nested).prop_map(
        |(
            (enabled, count, delta, ratio, name),
            (maybe_port, patterns, endpoints, by_name, by_id, tags, ids),
            (primary, fallback, boxed, mode, note, grid),
        )| Everything {
            enabled,
            count,
            delta,
            ratio,
            name,
            maybe_port,
            patterns,
            endpoints,
            by_name,
            by_id,
            tags,
            ids,
            primary,
            fallback,
            boxed: Box::new(boxed),
            mode,
            note,
            grid,
            local_counter: 0,
        },
    )
}

/// Collects the JSON Pointers at which two documents differ: objects by key, arrays by
/// position (appended or dropped positions included), anything else as a whole.
fn reference_diff(old: &Value, new: &Value, pointer: &mut String, found: &mut BTreeSet<String>) {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            for key in keys {
                let length = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                match (old.get(key), new.get(key)) {
                    (Some(old), Some(new)) => reference_diff(old, new, pointer, found),
                    _ => {
                        found.insert(pointer.clone());
                    }
                }
                pointer.truncate(length);
            }
        }
        (Value::Array(old), Value::Array(new)) => {
            for index in 0..old.len().max(new.len()) {
                let length = pointer.len();
                pointer.push_str(&format!("/{index}"));
                match (old.get(index), new.get(index)) {
                    (Some(old), Some(new)) => reference_diff(old, new, pointer, found),
                    _ => {
                        found.insert(pointer.clone());
                    }
                }
                pointer.truncate(length);
            }
        }
        (old, new) if old != new => {
            found.insert(pointer.clone());
        }
        _ => {}
    }
}

/// Sorts the arrays that hold sets, whose order (for a `HashSet`) carries no meaning.
fn sorted_sets(mut document: Value) -> Value {
    for key in SET_KEYS {
        if let Some(Value::Array(members)) = document.get_mut(*key) {
            members.sort_by_key(Value::to_string);
        }
    }
    document
}

/// Cuts each path below a set or whole-value field back to that field.
fn truncate_to_field(pointer: String) -> String {
    let field = pointer.split('/').nth(1).unwrap_or_default();
    if SET_KEYS.contains(&field) || WHOLE_KEYS.contains(&field) {
        format!("/{field}")
    } else {
        pointer
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn replaying_changes_rebuilds_the_new_value(old in everything(), new in everything()) {
        let changes = Everything::changes(&old, &new);
        let mut replayed = old.clone();
        for change in changes {
            prop_assert!(replayed.apply(change.clone()).is_ok(), "{change:?} did not apply");
        }
        prop_assert_eq!(replayed, new);
    }

    #[test]
    fn equal_values_yield_no_change(value in everything()) {
        prop_assert!(Everything::changes(&value, &value.clone()).is_empty());
    }

    #[test]
    fn changed_paths_match_a_json_diff(old in everything(), new in everything()) {
        let typed: BTreeSet<String> =
            Everything::changes(&old, &new).iter().map(|change| change.key_path().to_json_pointer()).collect();

        let mut found = BTreeSet::new();
        let old_json = sorted_sets(serde_json::to_value(&old).unwrap());
        let new_json = sorted_sets(serde_json::to_value(&new).unwrap());
        reference_diff(&old_json, &new_json, &mut String::new(), &mut found);
        let reference: BTreeSet<String> = found.into_iter().map(truncate_to_field).collect();

        prop_assert_eq!(typed, reference);
    }

    #[test]
    fn local_field_survives_a_decode(mut value in everything(), counter in 1..u64::MAX) {
        value.local_counter = counter;
        let mut decoded: Everything = serde_json::from_value(serde_json::to_value(&value).unwrap()).unwrap();
        prop_assert_eq!(decoded.local_counter, 0);

        Everything::keep_local_fields(&mut decoded, &value);

        prop_assert_eq!(decoded, value);
    }

    #[test]
    fn json_keys_cover_every_shared_field(value in everything()) {
        let json = serde_json::to_value(&value).unwrap();
        for key in json.as_object().unwrap().keys() {
            prop_assert!(Everything::JSON_KEYS.contains(&key.as_str()), "{key} missing from JSON_KEYS");
        }
    }
}
