use std::collections::VecDeque;
use std::fmt::{self, Write as _};

/// One step of a [`KeyPath`]: an object key, an array index or a map key, as JSON names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathSegment {
    /// A struct field, by its JSON key (after serde `rename` and `rename_all`).
    Field(&'static str),
    /// An element of a sequence.
    Index(usize),
    /// An entry of a map or a member of a set, by its key as JSON writes it.
    Key(String),
}

/// The location of a change in the JSON document, from its root.
///
/// `Display` writes JSONPath (`$.patterns[2]`, `$.hosts["web-1"].port`);
/// [`KeyPath::to_json_pointer`] writes an RFC 6901 JSON Pointer (`/patterns/2`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct KeyPath {
    segments: VecDeque<PathSegment>,
}

impl KeyPath {
    /// Creates the path of the document root.
    pub fn new() -> Self {
        KeyPath::default()
    }

    /// Appends a segment at the deep end.
    pub fn push(&mut self, segment: PathSegment) {
        self.segments.push_back(segment);
    }

    /// Prepends a segment at the root end.
    pub fn push_front(&mut self, segment: PathSegment) {
        self.segments.push_front(segment);
    }

    /// Returns the segments, from the root down.
    pub fn segments(&self) -> impl ExactSizeIterator<Item = &PathSegment> + '_ {
        self.segments.iter()
    }

    /// Returns `true` for the path of the document root.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// Writes the path as an RFC 6901 JSON Pointer, such as `/hosts/web-1/port`.
    pub fn to_json_pointer(&self) -> String {
        let mut pointer = String::new();
        for segment in &self.segments {
            pointer.push('/');
            match segment {
                PathSegment::Field(name) => push_pointer_token(&mut pointer, name),
                PathSegment::Index(index) => {
                    let _ = write!(pointer, "{index}");
                }
                PathSegment::Key(key) => push_pointer_token(&mut pointer, key),
            }
        }
        pointer
    }
}

fn push_pointer_token(pointer: &mut String, token: &str) {
    for character in token.chars() {
        match character {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            other => pointer.push(other),
        }
    }
}

fn is_plain_name(name: &str) -> bool {
    let mut characters = name.chars();
    let starts_well = characters.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    starts_well && characters.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('$')?;
        for segment in &self.segments {
            match segment {
                PathSegment::Field(name) if is_plain_name(name) => write!(f, ".{name}")?,
                PathSegment::Field(name) => write!(f, "[{name:?}]")?,
                PathSegment::Index(index) => write!(f, "[{index}]")?,
                PathSegment::Key(key) => write!(f, "[{key:?}]")?,
            }
        }
        Ok(())
    }
}

/// A change that can report where in the JSON document it applies.
pub trait ChangePath {
    /// Appends the segments from the diffed value down to the changed value.
    fn write_path(&self, path: &mut KeyPath);

    /// Returns the path from the diffed value down to the changed value.
    fn key_path(&self) -> KeyPath {
        let mut path = KeyPath::new();
        self.write_path(&mut path);
        path
    }
}

/// Renders a map key or set member as the JSON object key or value serde_json writes for it.
///
/// Strings render as themselves; numbers, booleans and other scalars as their JSON text.
pub(crate) fn json_key<K: serde::Serialize + ?Sized>(key: &K) -> String {
    match serde_json::to_value(key) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(error) => format!("<key not serializable: {error}>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> KeyPath {
        let mut path = KeyPath::new();
        path.push(PathSegment::Field("hosts"));
        path.push(PathSegment::Key("web/1~a".into()));
        path.push(PathSegment::Field("port"));
        path.push(PathSegment::Index(3));
        path
    }

    #[test]
    fn display_writes_jsonpath() {
        assert_eq!(sample().to_string(), r#"$.hosts["web/1~a"].port[3]"#);
        assert_eq!(KeyPath::new().to_string(), "$");
    }

    #[test]
    fn display_quotes_unusual_field_names() {
        let mut path = KeyPath::new();
        path.push(PathSegment::Field("max-size"));
        assert_eq!(path.to_string(), r#"$["max-size"]"#);
    }

    #[test]
    fn json_pointer_escapes_tokens() {
        assert_eq!(sample().to_json_pointer(), "/hosts/web~11~0a/port/3");
        assert_eq!(KeyPath::new().to_json_pointer(), "");
    }

    #[test]
    fn json_key_matches_serde_json() {
        assert_eq!(json_key("web-1"), "web-1");
        assert_eq!(json_key(&42_u32), "42");
        assert_eq!(json_key(&true), "true");
    }
}
