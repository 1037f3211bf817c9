//! The adapter files' JSON Schema, generated from the serde mirror the
//! loader reads (`raw.rs`) and its list of column types; committed as
//! `schemas/adapters.schema.json` and checked current by a test, as the
//! plan's is (`plan::schema`).

use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::json;

use super::load::TYPES;
use super::raw::RawFile;

/// The JSON Schema of an adapter file (draft-07).
pub fn adapters() -> Schema {
    crate::plan::schema::generator().into_root_schema_for::<RawFile>()
}

/// A TOML value a column may hold: text, a number or a boolean (a TOML
/// date-time reaches a validator as text).
fn scalar_value() -> serde_json::Value {
    json!({"type": ["string", "number", "integer", "boolean"]})
}

pub(super) fn scalar(_: &mut SchemaGenerator) -> Schema {
    Schema::try_from(scalar_value()).expect("an object")
}

pub(super) fn scalars(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "array", "items": scalar_value()})
}

pub(super) fn value_map(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "additionalProperties": scalar_value()})
}

pub(super) fn unmapped(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "enum": ["keep", "error"]})
}

pub(super) fn column_type(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = TYPES.iter().map(|t| t.name()).collect();
    json_schema!({"type": "string", "enum": names})
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `schemas/adapters.schema.json` is what this module generates.
    #[test]
    fn the_committed_adapters_schema_is_current() {
        crate::plan::schema::assert_committed("adapters.schema.json", &adapters());
    }

    #[test]
    fn every_change_kind_is_one_key() {
        let schema = serde_json::to_value(adapters()).unwrap();
        let kinds = schema["definitions"]["Change"]["oneOf"].as_array().unwrap();
        assert_eq!(kinds.len(), 8, "{schema}");
        assert!(
            kinds
                .iter()
                .all(|k| k["required"].as_array().unwrap().len() == 1)
        );
    }
}
