//! JSON encoding of the payload, keeping top-level keys that the shared type does not know.
//!
//! A newer build of a program, or a foreign tool, may add keys to the payload. Decoding
//! keeps those keys as raw JSON text next to the typed value, and encoding writes them
//! back, so an older instance's update never drops what another writer added.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::{Error, ZkShared};

/// Top-level payload keys that the shared type does not read, with their raw JSON values.
pub(crate) type UnknownFields = Vec<(String, Box<RawValue>)>;

/// Decodes a payload into the shared type and the top-level keys it does not know.
pub(crate) fn decode<T: ZkShared>(bytes: &[u8]) -> Result<(T, UnknownFields), serde_json::Error> {
    let value = serde_json::from_slice::<T>(bytes)?;
    let unknown = UnknownFieldsSeed { known: T::JSON_KEYS }
        .deserialize(&mut serde_json::Deserializer::from_slice(bytes))?;
    Ok((value, unknown))
}

/// Encodes the shared type, then appends the unknown keys to the JSON object.
pub(crate) fn encode<T: ZkShared>(value: &T, unknown: &UnknownFields) -> Result<Vec<u8>, serde_json::Error> {
    let mut bytes = serde_json::to_vec(value)?;
    if unknown.is_empty() {
        return Ok(bytes);
    }
    if bytes.first() != Some(&b'{') || bytes.last() != Some(&b'}') {
        return Err(de::Error::custom(
            "the type does not serialize to a JSON object, so the payload's unknown keys cannot be kept",
        ));
    }
    bytes.pop();
    let mut needs_comma = bytes.len() > 1;
    for (key, raw) in unknown {
        if needs_comma {
            bytes.push(b',');
        }
        serde_json::to_writer(&mut bytes, key)?;
        bytes.push(b':');
        bytes.extend_from_slice(raw.get().as_bytes());
        needs_comma = true;
    }
    bytes.push(b'}');
    Ok(bytes)
}

/// Encodes the shared type for `path` as [`encode`] does, and checks the result against the
/// size limit. When the result contains a `null`, also checks that it decodes as `T` again.
///
/// serde_json writes a NaN or infinite float as `null`, which a float does not decode from; the
/// check keeps such a payload out of ZooKeeper. Values without a `null` skip the decode.
pub(crate) fn encode_payload<T: ZkShared>(
    path: &str,
    value: &T,
    unknown: &UnknownFields,
    limit: usize,
) -> Result<Vec<u8>, Error> {
    let type_name = std::any::type_name::<T>();
    let bytes = encode(value, unknown).map_err(|source| Error::Encode {
        path: path.to_owned(),
        type_name,
        source: Arc::new(source),
    })?;
    if bytes.len() > limit {
        return Err(Error::TooLarge { path: path.to_owned(), size: bytes.len(), limit });
    }
    if memchr::memmem::find(&bytes, b"null").is_some() {
        if let Err(error) = serde_json::from_slice::<T>(&bytes) {
            return Err(Error::NotDecodable { path: path.to_owned(), type_name, reason: error.to_string() });
        }
    }
    Ok(bytes)
}

/// Reads a JSON object and keeps only the entries whose keys are not in `known`.
struct UnknownFieldsSeed {
    known: &'static [&'static str],
}

impl<'de> DeserializeSeed<'de> for UnknownFieldsSeed {
    type Value = UnknownFields;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for UnknownFieldsSeed {
    type Value = UnknownFields;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut unknown = UnknownFields::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if self.known.contains(&key.as_str()) {
                map.next_value::<IgnoredAny>()?;
            } else {
                unknown.push((key.into_string(), map.next_value::<Box<RawValue>>()?));
            }
        }
        Ok(unknown)
    }
}

/// An object key, borrowed from the input unless it contains escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(key) => key,
            Key::Owned(key) => key,
        }
    }

    fn into_string(self) -> String {
        match self {
            Key::Borrowed(key) => key.to_owned(),
            Key::Owned(key) => key,
        }
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an object key")
            }

            fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Self::Value, E> {
                Ok(Key::Borrowed(key))
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
                Ok(Key::Owned(key.to_owned()))
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::diff::{apply_whole, diff_whole, ApplyError, Diff, Modified};

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Config {
        name: String,
        #[serde(default)]
        port: u16,
    }

    impl Diff for Config {
        type Change = Modified<Config>;

        fn diff(old: &Self, new: &Self, emit: &mut dyn FnMut(Self::Change)) {
            diff_whole(old, new, emit);
        }

        fn apply(&mut self, change: Self::Change) -> Result<(), ApplyError> {
            apply_whole(self, change)
        }
    }

    impl ZkShared for Config {
        const JSON_KEYS: &'static [&'static str] = &["name", "port"];
    }

    #[test]
    fn unknown_keys_survive_a_round_trip() {
        let payload = br#"{"name":"a","added\"later":{"deep":[1,2]},"port":7,"flag":true}"#;

        let (mut config, unknown) = decode::<Config>(payload).unwrap();
        config.port = 8;
        let encoded = encode(&config, &unknown).unwrap();

        let reread: serde_json::Value = serde_json::from_slice(&encoded).unwrap();
        let expected =
            serde_json::json!({"name": "a", "port": 8, "added\"later": {"deep": [1, 2]}, "flag": true});
        assert_eq!(reread, expected);
    }

    #[test]
    fn missing_field_takes_its_default() {
        let (config, unknown) = decode::<Config>(br#"{"name":"a"}"#).unwrap();
        assert_eq!(config, Config { name: "a".into(), port: 0 });
        assert!(unknown.is_empty());
    }

    #[test]
    fn invalid_payloads_fail_to_decode() {
        for payload in [&br#"{"name":1}"#[..], b"not json", br#"{"port":1}"#, b"[1,2]", b""] {
            assert!(decode::<Config>(payload).is_err(), "{}", String::from_utf8_lossy(payload));
        }
    }

    #[test]
    fn deep_nesting_never_overflows_the_stack() {
        let depth = 100_000;
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));

        // serde_json stops recursing at depth 128 when it decodes a typed value.
        let in_known_field = format!(r#"{{"name":{nested}}}"#);
        assert!(decode::<Config>(in_known_field.as_bytes()).is_err());

        // Values under unknown keys are skipped without recursion and kept as raw text.
        let in_unknown_key = format!(r#"{{"name":"a","x":{nested}}}"#);
        let (config, unknown) = decode::<Config>(in_unknown_key.as_bytes()).unwrap();
        assert_eq!(unknown[0].1.get().len(), 2 * depth);
        assert_eq!(encode(&config, &unknown).unwrap().len(), in_unknown_key.len() + r#","port":0"#.len());
    }
}
