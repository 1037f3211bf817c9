//! The plan's JSON Schema, for editors (Taplo and Tombi read a file's
//! `#:schema` line) and for CI: generated from the serde mirror the parser
//! reads (`raw.rs`) and the value lists the checker reads, so the two
//! cannot drift. Committed as `schemas/plan.schema.json`; a test fails when
//! the file differs from what this generates.
//!
//! The schema describes the shape a plan must have; what needs the plan as
//! a whole (a module named twice, a cycle) or a database is left to
//! `migplan validate`.

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::{Value, json};

use super::environments::OWN_KEYS;
use super::raw::RawPlan;
use super::validate::{COMPRESSIONS, CONFLICTS, FORMATS, KINDS, MODES, TRIGGERS};

/// The JSON Schema of a plan file (draft-07, which every TOML editor reads).
pub fn plan() -> Schema {
    let mut schema = generator().into_root_schema_for::<RawPlan>();
    let environment = environment(&schema);
    let env = json!({
        "description": "Environments: `--env NAME` (or `MIGPLAN_ENV=NAME`) merges `[env.NAME]` over the plan. Each mirrors the plan's sections (tables merge key by key, anything else replaces the plan's whole) and adds `confirm` and `dry_run`.",
        "type": "object",
        "additionalProperties": environment,
    });
    properties(&mut schema).insert("env".into(), env);
    schema
}

/// Draft-07, definitions under `definitions`: what Taplo and Tombi read.
pub(crate) fn generator() -> SchemaGenerator {
    SchemaSettings::draft07().into_generator()
}

fn properties(schema: &mut Schema) -> &mut serde_json::Map<String, Value> {
    schema
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .expect("a plan's schema lists its sections")
}

/// `[env.NAME]`: every section of the plan again (not `env`), plus the
/// environment's own keys. Nothing is required in an environment: it
/// overrides keys of a plan that has the rest (`[env.prod.database]` may
/// set only `seed`), so its sections are copied without `required`.
fn environment(plan: &Schema) -> Value {
    let definitions = plan.get("definitions").cloned().unwrap_or_default();
    let mut sections = plan
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    sections.remove("env");
    for section in sections.values_mut() {
        *section = optional(section.clone(), &definitions);
    }
    let own = [
        "A run that changes data asks first on a terminal; without one it needs `--yes`. Default: false.",
        "Runs are dry runs unless `--no-dry-run`. Default: false.",
    ];
    for (key, description) in OWN_KEYS.iter().zip(own) {
        sections.insert(
            key.to_string(),
            json!({"type": "boolean", "description": description}),
        );
    }
    json!({
        "type": "object",
        "properties": sections,
        "additionalProperties": false,
    })
}

/// `schema` with its references to `definitions` copied in and nothing
/// `required`.
fn optional(schema: Value, definitions: &Value) -> Value {
    match schema {
        Value::Object(mut map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let name = r.trim_start_matches("#/definitions/");
                let target = definitions.get(name).cloned().unwrap_or_default();
                return optional(target, definitions);
            }
            map.remove("required");
            map.into_iter()
                .map(|(k, v)| (k, optional(v, definitions)))
                .collect()
        }
        Value::Array(items) => items
            .into_iter()
            .map(|v| optional(v, definitions))
            .collect(),
        other => other,
    }
}

/// A string that must be one of `names`, unless it takes its value from
/// the environment (`${VAR}`), which only the run can check.
fn one_of(names: Vec<&str>) -> Schema {
    json_schema!({
        "anyOf": [
            {"type": "string", "enum": names},
            substituted(),
        ]
    })
}

/// A string holding a `${VAR}`.
fn substituted() -> Value {
    json!({"type": "string", "pattern": "\\$\\{"})
}

fn names<T>(list: &[(&'static str, T)]) -> Vec<&'static str> {
    list.iter().map(|(n, _)| *n).collect()
}

pub(super) fn kind(_: &mut SchemaGenerator) -> Schema {
    one_of(names(KINDS))
}

pub(super) fn format(_: &mut SchemaGenerator) -> Schema {
    one_of(names(FORMATS))
}

pub(super) fn mode(_: &mut SchemaGenerator) -> Schema {
    one_of(names(MODES))
}

pub(super) fn conflict(_: &mut SchemaGenerator) -> Schema {
    one_of(names(CONFLICTS))
}

pub(super) fn triggers(_: &mut SchemaGenerator) -> Schema {
    one_of(names(TRIGGERS))
}

pub(super) fn compression(_: &mut SchemaGenerator) -> Schema {
    one_of(names(COMPRESSIONS))
}

/// A database URL of an engine migplan speaks.
pub(super) fn url(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            {"type": "string", "pattern": "^(sqlite|postgres|postgresql|mysql|mariadb)://."},
            substituted(),
        ]
    })
}

/// A webhook: http or https.
pub(super) fn webhook(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            {"type": "string", "pattern": "^https?://."},
            substituted(),
        ]
    })
}

pub(super) fn notify_format(_: &mut SchemaGenerator) -> Schema {
    one_of(names(&crate::notify::Format::NAMES))
}

/// At least one of the endings.
pub(super) fn notify_on(_: &mut SchemaGenerator) -> Schema {
    let endings = names(&crate::notify::RunEnd::NAMES);
    json_schema!({
        "type": "array",
        "minItems": 1,
        "items": {"anyOf": [{"type": "string", "enum": endings}, substituted()]},
    })
}

/// age public keys: `age1` and bech32 (or from the environment).
pub(super) fn recipients(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": {"anyOf": [{"type": "string", "pattern": "^age1[02-9ac-hj-np-z]+$"}, substituted()]},
    })
}

/// A path: never empty.
pub(super) fn path(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "minLength": 1})
}

/// An instant: RFC 3339 with an offset (a TOML offset date-time reaches a
/// schema validator as such a string).
pub(super) fn since(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            {
                "type": "string",
                "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$",
            },
            substituted(),
        ]
    })
}

/// Fails when `schemas/NAME` differs from `schema`; with `UPDATE_SCHEMAS=1`
/// writes it first (after changing a key: then commit the file).
#[cfg(test)]
pub(crate) fn assert_committed(name: &str, schema: &Schema) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    let fresh = serde_json::to_string_pretty(schema).unwrap() + "\n";
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is out of date: run `UPDATE_SCHEMAS=1 cargo test --lib schema` and commit it",
        path.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `schemas/plan.schema.json` is what this module generates.
    #[test]
    fn the_committed_plan_schema_is_current() {
        assert_committed("plan.schema.json", &plan());
    }

    #[test]
    fn the_schema_describes_keys_and_lists_values() {
        let schema = serde_json::to_value(plan()).unwrap();
        let import = &schema["definitions"]["Import"]["properties"];
        assert!(
            import["conflict"]["description"]
                .as_str()
                .unwrap()
                .contains("overwrite")
        );
        let allowed = &import["conflict"]["anyOf"][0]["enum"];
        assert_eq!(allowed, &json!(["skip", "overwrite", "error"]));
        assert_eq!(schema["additionalProperties"], false);
        let env = &schema["properties"]["env"]["additionalProperties"];
        assert_eq!(env["properties"]["confirm"]["type"], "boolean");
        assert!(env["properties"]["import"].is_object());
        assert!(
            env["properties"]["env"].is_null(),
            "no environment inside one"
        );
        let database = &env["properties"]["database"]["anyOf"][0];
        assert!(database["properties"]["seed"].is_object(), "{database}");
        assert!(
            database.get("required").is_none(),
            "an environment requires nothing"
        );
    }
}
