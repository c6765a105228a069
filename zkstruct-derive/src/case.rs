//! Case conversions: serde's `rename_all` rules and the names of generated variants.

/// A `#[serde(rename_all = "...")]` rule, applied to field names as serde applies it.
///
/// Serde assumes that field names are snake_case and converts them as described on each
/// variant. The conversions must match serde_derive 1.x exactly, because the derive names
/// the JSON keys that serde writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RenameRule {
    /// `lowercase`: the field name unchanged.
    Lower,
    /// `UPPERCASE`: ASCII letters upper-cased.
    Upper,
    /// `PascalCase`: underscores removed, the first letter and each letter after an
    /// underscore upper-cased.
    Pascal,
    /// `camelCase`: as `PascalCase`, then the first character lower-cased.
    Camel,
    /// `snake_case`: the field name unchanged.
    Snake,
    /// `SCREAMING_SNAKE_CASE`: ASCII letters upper-cased.
    ScreamingSnake,
    /// `kebab-case`: underscores replaced by hyphens.
    Kebab,
    /// `SCREAMING-KEBAB-CASE`: ASCII letters upper-cased, underscores replaced by hyphens.
    ScreamingKebab,
}

impl RenameRule {
    /// Parses a rule by the name serde gives it, such as `camelCase`.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        let rule = match name {
            "lowercase" => RenameRule::Lower,
            "UPPERCASE" => RenameRule::Upper,
            "PascalCase" => RenameRule::Pascal,
            "camelCase" => RenameRule::Camel,
            "snake_case" => RenameRule::Snake,
            "SCREAMING_SNAKE_CASE" => RenameRule::ScreamingSnake,
            "kebab-case" => RenameRule::Kebab,
            "SCREAMING-KEBAB-CASE" => RenameRule::ScreamingKebab,
            _ => return None,
        };
        Some(rule)
    }

    /// Converts a field name (without `r#`) into its JSON key.
    pub(crate) fn apply_to_field(self, field: &str) -> String {
        match self {
            RenameRule::Lower | RenameRule::Snake => field.to_owned(),
            RenameRule::Upper | RenameRule::ScreamingSnake => field.to_ascii_uppercase(),
            RenameRule::Pascal => upper_camel(field),
            RenameRule::Camel => lower_first(&upper_camel(field)),
            RenameRule::Kebab => field.replace('_', "-"),
            RenameRule::ScreamingKebab => field.to_ascii_uppercase().replace('_', "-"),
        }
    }
}

/// Removes underscores and upper-cases (ASCII) the first character and each character that
/// follows an underscore, as serde's `PascalCase` does.
fn upper_camel(field: &str) -> String {
    let mut converted = String::with_capacity(field.len());
    let mut word_start = true;
    for character in field.chars() {
        if character == '_' {
            word_start = true;
        } else if word_start {
            converted.push(character.to_ascii_uppercase());
            word_start = false;
        } else {
            converted.push(character);
        }
    }
    converted
}

fn lower_first(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + characters.as_str(),
        None => String::new(),
    }
}

/// Names the change variant of a field: the field name (without `r#`) in UpperCamelCase.
///
/// Underscores separate words and are dropped, and the first character of each word is
/// upper-cased. A name that would be empty, start with a digit or be `Self` gets the
/// prefix `Field`, so that it is a valid variant name: `_0` becomes `Field0`.
pub(crate) fn variant_name(field: &str) -> String {
    let mut name = String::with_capacity(field.len());
    for word in field.split('_').filter(|word| !word.is_empty()) {
        let mut characters = word.chars();
        if let Some(first) = characters.next() {
            name.extend(first.to_uppercase());
            name.push_str(characters.as_str());
        }
    }
    let starts_as_identifier = name.chars().next().is_some_and(|first| first.is_alphabetic());
    if !starts_as_identifier || name == "Self" {
        name.insert_str(0, "Field");
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_rules_convert_snake_case_fields() {
        let cases = [
            ("lowercase", "interval_ms", "interval_ms"),
            ("UPPERCASE", "interval_ms", "INTERVAL_MS"),
            ("PascalCase", "interval_ms", "IntervalMs"),
            ("camelCase", "interval_ms", "intervalMs"),
            ("snake_case", "interval_ms", "interval_ms"),
            ("SCREAMING_SNAKE_CASE", "interval_ms", "INTERVAL_MS"),
            ("kebab-case", "interval_ms", "interval-ms"),
            ("SCREAMING-KEBAB-CASE", "interval_ms", "INTERVAL-MS"),
            ("camelCase", "_leading", "leading"),
            ("PascalCase", "a__b", "AB"),
        ];
        for (rule, field, expected) in cases {
            let rule = RenameRule::from_name(rule).expect("a serde rule name");
            assert_eq!(rule.apply_to_field(field), expected, "{rule:?} on {field}");
        }
    }

    #[test]
    fn rename_rule_rejects_unknown_name() {
        assert_eq!(RenameRule::from_name("Title Case"), None);
    }

    #[test]
    fn variant_names_are_upper_camel_case() {
        let cases = [
            ("patterns", "Patterns"),
            ("interval_ms", "IntervalMs"),
            ("type", "Type"),
            ("a__b", "AB"),
            ("fooBar", "FooBar"),
            ("_0", "Field0"),
            ("__", "Field"),
            ("self_", "FieldSelf"),
            ("größe", "Größe"),
        ];
        for (field, expected) in cases {
            assert_eq!(variant_name(field), expected, "field {field}");
        }
    }
}
