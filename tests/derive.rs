//! Behaviour of `#[derive(ZkShared)]`: the generated change enum, key paths, `Diff`,
//! `ZkShared` and accessor trait.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use serde::{Deserialize, Serialize};
use zkstruct::{
    ChangePath, Diff, MapChange, Modified, OptionChange, PathSegment, SetChange, Shared, VecChange, ZkShared,
};

/// Diffs `old` against `new`, checks that applying the changes to `old` yields `new`, and
/// returns the changes.
fn replay<T: Diff + PartialEq + Debug>(old: &T, new: &T) -> Vec<T::Change> {
    let changes = T::changes(old, new);
    let mut replayed = old.clone();
    for change in changes.clone() {
        replayed.apply(change).expect("a change from diff applies to the old value");
    }
    assert_eq!(&replayed, new, "applying the changes of diff(old, new) to old");
    changes
}

fn paths<C: ChangePath>(changes: &[C]) -> Vec<String> {
    changes.iter().map(|change| change.key_path().to_string()).collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| item.to_string()).collect()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Mode {
    Watch,
    Ignore,
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MonitorState {
    patterns: Vec<String>,
    #[serde(rename = "interval")]
    interval_ms: u64,
    #[zk(opaque)]
    mode: Mode,
    #[serde(skip)]
    local_only: u32,
    max_depth: u8,
}

fn monitor_state() -> MonitorState {
    MonitorState {
        patterns: strings(&["systemd*", "rsync*"]),
        interval_ms: 500,
        mode: Mode::Watch,
        local_only: 7,
        max_depth: 3,
    }
}

#[test]
fn appended_pattern_is_one_change() {
    let old = monitor_state();
    let mut new = old.clone();
    new.patterns.push("firefox*".to_string());

    let changes = replay(&old, &new);

    assert_eq!(
        changes,
        vec![MonitorStateChange::Patterns(VecChange::Added { index: 2, value: "firefox*".to_string() })]
    );
    assert_eq!(changes[0].key_path().to_string(), "$.patterns[2]");
}

#[test]
fn key_paths_use_serde_names() {
    let old = monitor_state();
    let mut new = old.clone();
    new.interval_ms = 1000;
    new.max_depth = 4;

    let changes = replay(&old, &new);

    assert_eq!(
        changes,
        vec![
            MonitorStateChange::IntervalMs(Modified { old: 500, new: 1000 }),
            MonitorStateChange::MaxDepth(Modified { old: 3, new: 4 }),
        ]
    );
    assert_eq!(paths(&changes), ["$.interval", "$.maxDepth"]);
    assert_eq!(changes[0].key_path().segments().next(), Some(&PathSegment::Field("interval")));
}

#[test]
fn opaque_field_is_compared_whole() {
    let old = monitor_state();
    let mut new = old.clone();
    new.mode = Mode::Ignore;

    let changes = replay(&old, &new);

    assert_eq!(changes, vec![MonitorStateChange::Mode(Modified { old: Mode::Watch, new: Mode::Ignore })]);
    assert_eq!(paths(&changes), ["$.mode"]);
}

#[test]
fn skipped_field_is_local() {
    let old = monitor_state();
    let mut new = old.clone();
    new.local_only = 99;

    assert!(MonitorState::changes(&old, &new).is_empty());

    let mut incoming = old.clone();
    incoming.local_only = 0;
    MonitorState::keep_local_fields(&mut incoming, &new);
    assert_eq!(incoming.local_only, 99);
    assert_eq!(incoming.patterns, old.patterns);
}

/// Matches every variant, so adding a variant for the skipped field would fail to compile.
#[allow(dead_code)]
fn monitor_change_field(change: &MonitorStateChange) -> &'static str {
    match change {
        MonitorStateChange::Patterns(_) => "patterns",
        MonitorStateChange::IntervalMs(_) => "interval_ms",
        MonitorStateChange::Mode(_) => "mode",
        MonitorStateChange::MaxDepth(_) => "max_depth",
    }
}

#[test]
fn json_keys_list_shared_fields() {
    assert_eq!(MonitorState::JSON_KEYS, ["patterns", "interval", "mode", "maxDepth"]);
}

#[test]
fn apply_error_names_the_field() {
    let mut state = monitor_state();

    let error = state.apply(MonitorStateChange::IntervalMs(Modified { old: 1, new: 2 })).unwrap_err();

    assert_eq!(error.path().to_string(), "$.interval");
    assert_eq!(state.interval_ms, 500);

    let error = state
        .apply(MonitorStateChange::Patterns(VecChange::Removed { index: 5, value: "x".to_string() }))
        .unwrap_err();
    assert_eq!(error.path().to_string(), "$.patterns[5]");
}

#[test]
fn change_enum_debug_and_clone() {
    let change = MonitorStateChange::IntervalMs(Modified { old: 1, new: 2 });

    assert_eq!(format!("{change:?}"), "IntervalMs(Modified { old: 1, new: 2 })");
    assert_eq!(change.clone(), change);
    assert_ne!(change, MonitorStateChange::MaxDepth(Modified { old: 1, new: 2 }));
}

mod mode_as_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Mode;

    pub fn serialize<S: Serializer>(mode: &Mode, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match mode {
            Mode::Watch => "watch",
            Mode::Ignore => "ignore",
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Mode, D::Error> {
        match String::deserialize(deserializer)?.as_str() {
            "watch" => Ok(Mode::Watch),
            _ => Ok(Mode::Ignore),
        }
    }
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CustomSerde {
    #[serde(with = "mode_as_text")]
    with_module: Mode,
    #[serde(serialize_with = "mode_as_text::serialize", deserialize_with = "mode_as_text::deserialize")]
    with_functions: Mode,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    optional_list: Vec<u8>,
}

#[test]
fn serde_with_fields_are_compared_whole() {
    let old = CustomSerde { with_module: Mode::Watch, with_functions: Mode::Watch, optional_list: vec![] };
    let new = CustomSerde { with_module: Mode::Ignore, with_functions: Mode::Ignore, optional_list: vec![1] };

    let changes = replay(&old, &new);

    assert_eq!(
        changes,
        vec![
            CustomSerdeChange::WithModule(Modified { old: Mode::Watch, new: Mode::Ignore }),
            CustomSerdeChange::WithFunctions(Modified { old: Mode::Watch, new: Mode::Ignore }),
            CustomSerdeChange::OptionalList(VecChange::Added { index: 0, value: 1 }),
        ]
    );
    assert_eq!(paths(&changes), ["$.with_module", "$.with_functions", "$.optional_list[0]"]);
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Inner {
    inner: u32,
    #[serde(skip)]
    scratch: String,
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Outer {
    outer: Inner,
    boxed: Box<Inner>,
    list: Vec<Inner>,
}

#[test]
fn nested_change_sits_inside_parent_variant() {
    let inner = |value| Inner { inner: value, scratch: String::new() };
    let old = Outer { outer: inner(1), boxed: Box::new(inner(1)), list: vec![inner(1), inner(2)] };
    let new = Outer { outer: inner(2), boxed: Box::new(inner(3)), list: vec![inner(1), inner(5)] };

    let changes = replay(&old, &new);

    assert_eq!(
        changes,
        vec![
            OuterChange::Outer(InnerChange::Inner(Modified { old: 1, new: 2 })),
            OuterChange::Boxed(InnerChange::Inner(Modified { old: 1, new: 3 })),
            OuterChange::List(VecChange::Modified {
                index: 1,
                change: InnerChange::Inner(Modified { old: 2, new: 5 }),
            }),
        ]
    );
    assert_eq!(paths(&changes), ["$.outer.inner", "$.boxed.inner", "$.list[1].inner"]);
}

#[test]
fn nested_apply_error_has_full_path() {
    let mut outer = Outer {
        outer: Inner { inner: 1, scratch: String::new() },
        boxed: Box::new(Inner { inner: 1, scratch: String::new() }),
        list: Vec::new(),
    };

    let error = outer.apply(OuterChange::Outer(InnerChange::Inner(Modified { old: 9, new: 2 }))).unwrap_err();

    assert_eq!(error.path().to_string(), "$.outer.inner");
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Collections {
    limit: Option<u32>,
    hosts: BTreeMap<String, u16>,
    tags: BTreeSet<String>,
    #[serde(rename = "max-size")]
    max_size: Option<Vec<u8>>,
}

#[test]
fn option_map_and_set_fields() {
    let old = Collections {
        limit: None,
        hosts: [("web-1".to_string(), 80)].into(),
        tags: ["a".to_string()].into(),
        max_size: Some(vec![1]),
    };
    let new = Collections {
        limit: Some(5),
        hosts: [("web-1".to_string(), 8080), ("web-2".to_string(), 80)].into(),
        tags: ["b".to_string()].into(),
        max_size: Some(vec![2]),
    };

    let changes = replay(&old, &new);

    assert_eq!(
        changes,
        vec![
            CollectionsChange::Limit(OptionChange::Added(5)),
            CollectionsChange::Hosts(MapChange::Modified {
                key: "web-1".to_string(),
                change: Modified { old: 80, new: 8080 },
            }),
            CollectionsChange::Hosts(MapChange::Added { key: "web-2".to_string(), value: 80 }),
            CollectionsChange::Tags(SetChange::Removed("a".to_string())),
            CollectionsChange::Tags(SetChange::Added("b".to_string())),
            CollectionsChange::MaxSize(OptionChange::Modified(VecChange::Modified {
                index: 0,
                change: Modified { old: 1, new: 2 },
            })),
        ]
    );
    assert_eq!(
        paths(&changes),
        ["$.limit", r#"$.hosts["web-1"]"#, r#"$.hosts["web-2"]"#, "$.tags", "$.tags", r#"$["max-size"][0]"#,]
    );
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Registry<T, M>
where
    M: Clone,
{
    items: Vec<T>,
    latest: Option<T>,
    #[zk(opaque)]
    meta: M,
}

#[test]
fn generic_struct_diffs_and_applies() {
    let old = Registry { items: vec![1_u32], latest: None, meta: Mode::Watch };
    let new = Registry { items: vec![1, 2], latest: Some(2), meta: Mode::Ignore };

    let changes = replay(&old, &new);

    assert_eq!(
        changes,
        vec![
            RegistryChange::Items(VecChange::Added { index: 1, value: 2 }),
            RegistryChange::Latest(OptionChange::Added(2)),
            RegistryChange::Meta(Modified { old: Mode::Watch, new: Mode::Ignore }),
        ]
    );
    assert_eq!(paths(&changes), ["$.items[1]", "$.latest", "$.meta"]);
    assert_eq!(Registry::<u32, Mode>::JSON_KEYS, ["items", "latest", "meta"]);
}

/// A user struct named like `zkstruct::Shared`, which the generated code must not confuse
/// with the handle.
mod named_shared {
    use serde::{Deserialize, Serialize};
    use zkstruct::ZkShared;

    #[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub struct Shared<T> {
        pub items: Vec<T>,
    }

    #[allow(dead_code)]
    pub fn items(shared: &zkstruct::Shared<Shared<u8>>) -> Result<Vec<u8>, zkstruct::Error> {
        shared.items()
    }
}

#[test]
fn struct_named_shared() {
    use named_shared::{Shared as UserShared, SharedChange};

    let old = UserShared { items: vec![1_u8] };
    let new = UserShared { items: vec![2_u8] };

    let changes = replay(&old, &new);

    assert_eq!(
        changes,
        vec![SharedChange::Items(VecChange::Modified { index: 0, change: Modified { old: 1, new: 2 } })]
    );
}

/// A generic struct whose parameters no shared field uses.
#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Cached<T, const N: usize> {
    name: String,
    #[serde(skip)]
    cache: Vec<T>,
}

#[test]
fn generic_struct_with_local_only_parameter() {
    let old: Cached<String, 4> = Cached { name: "a".to_string(), cache: vec!["x".to_string()] };
    let mut new = old.clone();
    new.name = "b".to_string();

    let changes = replay(&old, &new);

    assert_eq!(changes.len(), 1);
    assert!(matches!(&changes[0], CachedChange::Name(Modified { new, .. }) if new == "b"));
    assert_eq!(paths(&changes), ["$.name"]);

    let mut incoming = new.clone();
    incoming.cache.clear();
    Cached::keep_local_fields(&mut incoming, &old);
    assert_eq!(incoming.cache, old.cache);
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", deny_unknown_fields)]
pub struct Keys {
    #[serde(alias = "old_name", alias = "older_name")]
    name: String,
    #[serde(rename(serialize = "port", deserialize = "port"))]
    port_number: u16,
    #[serde(rename(deserialize = "host", deserialize = "hostname"))]
    host: String,
    #[serde(skip)]
    local: bool,
}

#[test]
fn json_keys_include_aliases_and_tag() {
    assert_eq!(Keys::JSON_KEYS, ["name", "port", "host", "old_name", "older_name", "hostname", "kind"]);
}

#[test]
fn json_keys_match_serialized_object() {
    let keys = Keys { name: "a".to_string(), port_number: 1, host: "h".to_string(), local: true };
    let json = serde_json::to_value(&keys).expect("Keys serializes");
    let written: BTreeSet<&str> = json.as_object().expect("an object").keys().map(String::as_str).collect();

    let expected: BTreeSet<&str> = ["name", "port", "host", "kind"].into();
    assert_eq!(written, expected);
    for key in written {
        assert!(Keys::JSON_KEYS.contains(&key), "JSON_KEYS lists the serialized key {key}");
    }
}

macro_rules! rename_all_case {
    ($test:ident, $rule:literal) => {
        #[test]
        fn $test() {
            #[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
            #[serde(rename_all = $rule)]
            struct Renamed {
                interval_ms: u64,
                url: String,
                r#type: u8,
                _leading: bool,
            }

            let value = Renamed { interval_ms: 1, url: String::new(), r#type: 2, _leading: true };
            let json = serde_json::to_value(&value).expect("Renamed serializes");
            let written: Vec<&str> = json.as_object().expect("an object").keys().map(String::as_str).collect();
            let mut declared = Renamed::JSON_KEYS.to_vec();
            declared.sort_unstable();

            assert_eq!(declared, written, "JSON keys under rename_all = {}", $rule);

            let mut new = value.clone();
            new.interval_ms = 2;
            let changes = replay(&value, &new);
            let key = changes[0].key_path().segments().next().cloned();
            assert!(matches!(key, Some(PathSegment::Field(key)) if written.contains(&key)));
        }
    };
}

rename_all_case!(rename_all_lowercase, "lowercase");
rename_all_case!(rename_all_uppercase, "UPPERCASE");
rename_all_case!(rename_all_pascal_case, "PascalCase");
rename_all_case!(rename_all_camel_case, "camelCase");
rename_all_case!(rename_all_snake_case, "snake_case");
rename_all_case!(rename_all_screaming_snake_case, "SCREAMING_SNAKE_CASE");
rename_all_case!(rename_all_kebab_case, "kebab-case");
rename_all_case!(rename_all_screaming_kebab_case, "SCREAMING-KEBAB-CASE");

#[test]
fn rename_all_both_forms_agree() {
    #[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
    #[serde(rename_all(serialize = "kebab-case", deserialize = "kebab-case"))]
    struct Both {
        max_size: u32,
    }

    assert_eq!(Both::JSON_KEYS, ["max-size"]);
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RawNames {
    r#type: String,
    #[zk(accessor = "kind_name")]
    r#kind: String,
    #[zk(accessor = "match")]
    matcher: String,
}

#[test]
fn raw_identifier_field() {
    let old = RawNames { r#type: "a".to_string(), kind: "k".to_string(), matcher: "m".to_string() };
    let mut new = old.clone();
    new.r#type = "b".to_string();

    let changes = replay(&old, &new);

    assert_eq!(changes, vec![RawNamesChange::Type(Modified { old: "a".to_string(), new: "b".to_string() })]);
    assert_eq!(paths(&changes), ["$.type"]);
    assert_eq!(RawNames::JSON_KEYS, ["type", "kind", "matcher"]);
}

/// Calls every accessor of `RawNames`: the getters `r#type`, `kind_name` and `r#match`.
#[allow(dead_code)]
async fn raw_name_accessors(shared: &Shared<RawNames>) -> Result<(), zkstruct::Error> {
    let _: String = shared.r#type()?;
    let _: String = shared.kind_name()?;
    let _: String = shared.r#match()?;
    shared.set_type("t".to_string()).await?;
    shared.set_kind_name("k".to_string()).await?;
    shared.set_match("m".to_string()).await?;
    Ok(())
}

fn assert_send<T: Send>(_: &T) {}

/// Calls every accessor of `MonitorState`. It is never run, because the stub `Shared` cannot
/// be constructed outside zkstruct-core: compiling it checks the generated signatures.
#[allow(dead_code)]
async fn monitor_accessors(shared: &Shared<MonitorState>) -> Result<(), zkstruct::Error> {
    let patterns: Vec<String> = shared.patterns()?;
    let _: u64 = shared.interval_ms()?;
    let _: Mode = shared.mode()?;
    let _: u8 = shared.max_depth()?;

    let update = shared.set_patterns(patterns);
    assert_send(&update);
    let changes: zkstruct::ChangeSet<MonitorState> = update.await?;
    let _: &[MonitorStateChange] = &changes;
    shared.set_interval_ms(10).await?;
    shared.set_mode(Mode::Ignore).await?;
    shared.set_max_depth(1).await?;
    Ok(())
}

/// Calls the accessors of a generic struct from generic code.
#[allow(dead_code)]
async fn generic_accessors<T>(shared: &Shared<Registry<T, Mode>>, item: T) -> Result<Vec<T>, zkstruct::Error>
where
    T: Diff + Debug + PartialEq + Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    shared.set_items(vec![item]).await?;
    let _: Option<T> = shared.latest()?;
    shared.items()
}

mod reexport {
    pub use zkstruct as zk;
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[zk(crate = "crate::reexport::zk", change = "SettingsEvent", fields = "SettingsAccess")]
pub struct Settings {
    level: u8,
}

#[test]
fn container_attributes_rename_items() {
    let changes = replay(&Settings { level: 1 }, &Settings { level: 2 });

    assert_eq!(changes, vec![SettingsEvent::Level(Modified { old: 1, new: 2 })]);
}

#[allow(dead_code)]
fn settings_access(shared: &Shared<Settings>) -> Result<u8, zkstruct::Error> {
    SettingsAccess::level(shared)
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct OnlyLocal {
    #[serde(skip)]
    cache: u32,
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Empty {}

#[test]
fn struct_without_shared_fields() {
    let changes = OnlyLocal::changes(&OnlyLocal { cache: 1 }, &OnlyLocal { cache: 2 });
    assert!(changes.is_empty());
    assert!(OnlyLocal::JSON_KEYS.is_empty());

    assert!(replay(&Empty {}, &Empty {}).is_empty());
    assert!(Empty::JSON_KEYS.is_empty());
}

/// Matches a change enum without variants with no arms, which compiles because the enum
/// is uninhabited.
#[allow(dead_code)]
fn empty_change_is_uninhabited(change: EmptyChange) -> u32 {
    match change {}
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Node {
    label: String,
    #[zk(opaque)]
    parent: Option<Box<Self>>,
}

#[test]
fn self_typed_field() {
    let root = Node { label: "root".to_string(), parent: None };
    let old = Node { label: "a".to_string(), parent: None };
    let new = Node { label: "a".to_string(), parent: Some(Box::new(root.clone())) };

    let changes = replay(&old, &new);

    assert_eq!(changes, vec![NodeChange::Parent(Modified { old: None, new: Some(Box::new(root)) })]);
    assert_eq!(paths(&changes), ["$.parent"]);
}
