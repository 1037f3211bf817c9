//! A backup's meta checked whole before anything trusts it: every field's
//! type and value, tables and columns named once, keys naming real columns.
//! A problem carries the path of the field it is about (`tables` → `items`
//! → `primary_key`), which the format turns into a place in its file.

use std::collections::HashSet;

use serde_json::Value as Json;

use super::BackupMeta;

/// What is wrong with a meta, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct MetaProblem {
    /// From the meta down: field names, and `Table(name)` for one table.
    pub at: Vec<Step>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Field(&'static str),
    /// The entry of `tables` whose `name` is this.
    Table(String),
}

impl MetaProblem {
    fn new(at: Vec<Step>, message: impl Into<String>) -> Self {
        MetaProblem {
            at,
            message: message.into(),
        }
    }

    /// `meta.tables[items].primary_key`, for messages.
    pub fn path(&self) -> String {
        let mut out = "meta".to_string();
        for s in &self.at {
            match s {
                Step::Field(f) => out.push_str(&format!(".{f}")),
                Step::Table(t) => out.push_str(&format!("[{t}]")),
            }
        }
        out
    }
}

const EXPORT_TYPES: &[&str] = &["full", "incremental", "modules"];

/// The meta from its JSON, every field checked.
pub fn from_json(raw: Json) -> Result<BackupMeta, MetaProblem> {
    check_types(&raw)?;
    let meta: BackupMeta = serde_json::from_value(raw)
        .map_err(|e| MetaProblem::new(vec![], format!("invalid meta: {e}")))?;
    check(&meta)?;
    Ok(meta)
}

/// The fields whose type serde would report without saying which field.
fn check_types(raw: &Json) -> Result<(), MetaProblem> {
    let field = |f: &'static str| vec![Step::Field(f)];
    let Some(obj) = raw.as_object() else {
        return Err(MetaProblem::new(vec![], "the meta is not an object"));
    };
    let expect = |name: &'static str, ok: fn(&Json) -> bool, what: &str, required: bool| match obj
        .get(name)
    {
        None if required => Err(MetaProblem::new(
            field(name),
            format!("`{name}` is missing"),
        )),
        Some(v) if !ok(v) => Err(MetaProblem::new(
            field(name),
            format!("`{name}` must be {what}, found {v}"),
        )),
        _ => Ok(()),
    };
    let opt_int = |v: &Json| v.is_null() || v.is_i64();
    let opt_str = |v: &Json| v.is_null() || v.is_string();
    expect("schema_version", opt_int, "a whole number or null", false)?;
    expect(
        "exported_at",
        Json::is_string,
        "an RFC 3339 date and time",
        true,
    )?;
    expect("export_type", Json::is_string, "a string", true)?;
    expect("source_engine", Json::is_string, "a string", true)?;
    expect(
        "incremental_since",
        opt_str,
        "an RFC 3339 date and time or null",
        false,
    )?;
    expect("tables", Json::is_array, "a list of tables", true)?;
    for t in obj["tables"].as_array().into_iter().flatten() {
        let Some(name) = t.get("name").and_then(Json::as_str) else {
            return Err(MetaProblem::new(
                field("tables"),
                format!("a table without a `name`: {}", short(t)),
            ));
        };
        let at = |f: &'static str| {
            vec![
                Step::Field("tables"),
                Step::Table(name.into()),
                Step::Field(f),
            ]
        };
        let list = |f: &'static str| match t.get(f) {
            Some(v) if !v.is_array() => Err(MetaProblem::new(
                at(f),
                format!("`{f}` must be a list, found {v}"),
            )),
            _ => Ok(()),
        };
        list("columns")?;
        list("primary_key")?;
        list("foreign_keys")?;
        if let Some(rows) = t.get("rows").filter(|r| !r.is_u64()) {
            return Err(MetaProblem::new(
                at("rows"),
                format!("`rows` must be a count, found {rows}"),
            ));
        }
    }
    Ok(())
}

fn short(v: &Json) -> String {
    let s = v.to_string();
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// The values: known kinds, real dates, names given once, keys naming
/// columns of their table.
pub fn check(meta: &BackupMeta) -> Result<(), MetaProblem> {
    let field = |f: &'static str| vec![Step::Field(f)];
    if let Some(v) = meta.schema_version.filter(|v| *v < 0) {
        return Err(MetaProblem::new(
            field("schema_version"),
            format!("`schema_version` {v} is negative"),
        ));
    }
    if chrono::DateTime::parse_from_rfc3339(&meta.exported_at).is_err() {
        return Err(MetaProblem::new(
            field("exported_at"),
            format!(
                "`exported_at` \"{}\" is not an RFC 3339 date and time",
                meta.exported_at
            ),
        ));
    }
    if let Some(since) = &meta.incremental_since
        && chrono::DateTime::parse_from_rfc3339(since).is_err()
    {
        return Err(MetaProblem::new(
            field("incremental_since"),
            format!("`incremental_since` \"{since}\" is not an RFC 3339 date and time"),
        ));
    }
    one_of(&meta.export_type, EXPORT_TYPES, "export_type")?;
    let engines = crate::url::Engine::ALL.map(crate::url::Engine::name);
    one_of(&meta.source_engine, &engines, "source_engine")?;
    let mut tables = HashSet::new();
    for t in &meta.tables {
        if !tables.insert(t.name.as_str()) {
            return Err(MetaProblem::new(
                vec![Step::Field("tables"), Step::Table(t.name.clone())],
                format!("table `{}` is listed twice", t.name),
            ));
        }
        check_table(t)?;
    }
    Ok(())
}

fn one_of(value: &str, allowed: &[&str], name: &'static str) -> Result<(), MetaProblem> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(MetaProblem::new(
        vec![Step::Field(name)],
        format!("`{name}` \"{value}\" is not one of {}", allowed.join(", ")),
    ))
}

fn check_table(t: &super::TableMeta) -> Result<(), MetaProblem> {
    let at = |f: &'static str| {
        vec![
            Step::Field("tables"),
            Step::Table(t.name.clone()),
            Step::Field(f),
        ]
    };
    let mut columns = HashSet::new();
    for c in &t.columns {
        if !columns.insert(c.name.as_str()) {
            return Err(MetaProblem::new(
                at("columns"),
                format!("table `{}` lists column `{}` twice", t.name, c.name),
            ));
        }
    }
    let names = |what: &'static str, list: &[String]| -> Result<(), MetaProblem> {
        let mut seen = HashSet::new();
        for c in list {
            if !columns.contains(c.as_str()) {
                return Err(MetaProblem::new(
                    at(what),
                    format!(
                        "`{what}` of `{}` names column `{c}`, which the table does not list",
                        t.name
                    ),
                ));
            }
            if !seen.insert(c) {
                return Err(MetaProblem::new(
                    at(what),
                    format!("`{what}` of `{}` names column `{c}` twice", t.name),
                ));
            }
        }
        Ok(())
    };
    names("primary_key", &t.primary_key)?;
    for fk in &t.foreign_keys {
        names("foreign_keys", &fk.columns)?;
        if fk.columns.len() != fk.ref_columns.len() {
            return Err(MetaProblem::new(
                at("foreign_keys"),
                format!(
                    "a foreign key of `{}` pairs {} column(s) with {} in `{}`",
                    t.name,
                    fk.columns.len(),
                    fk.ref_columns.len(),
                    fk.ref_table
                ),
            ));
        }
    }
    if let Some(c) = &t.changed_column {
        names("changed_column", std::slice::from_ref(c))?;
    }
    Ok(())
}

/// Where the field `at` starts in `text` (a JSON backup's head, meta
/// first): 1-based line and column, or `None` when it cannot be found.
pub fn locate(text: &str, at: &[Step]) -> Option<(usize, usize)> {
    let mut from = key_at(text, 0, "meta")?;
    for step in at {
        from = match step {
            Step::Field(f) => key_at(text, from, f)?,
            Step::Table(name) => {
                let mut pos = from;
                loop {
                    let k = key_at(text, pos, "name")?;
                    let rest = text[k..].split_once(':')?.1.trim_start();
                    let quoted = serde_json::to_string(name).ok()?;
                    if rest.starts_with(&quoted) {
                        break k;
                    }
                    pos = k + 1;
                }
            }
        };
    }
    let before = &text[..from];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    Some((line, column))
}

/// The byte offset of `"key"` followed by `:`, at or after `from`.
fn key_at(text: &str, from: usize, key: &str) -> Option<usize> {
    let quoted = format!("\"{key}\"");
    let mut pos = from;
    loop {
        let i = pos + text.get(pos..)?.find(&quoted)?;
        let after = &text[i + quoted.len()..];
        if after.trim_start().starts_with(':') {
            return Some(i);
        }
        pos = i + 1;
    }
}

/// Reads a JSON value like `serde_json::Value`, but refuses an object that
/// gives one key twice (serde_json keeps the last silently); the error
/// stands where the second one is.
pub struct NoDuplicates;

impl<'de> serde::de::DeserializeSeed<'de> for NoDuplicates {
    type Value = Json;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(NoDuplicates)
    }
}

impl<'de> serde::de::Visitor<'de> for NoDuplicates {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(NoDuplicates)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(NoDuplicates)? {
            out.push(v);
        }
        Ok(Json::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "the meta gives `{key}` twice: which one is meant is unclear"
                )));
            }
            let value = map.next_value_seed(NoDuplicates)?;
            out.insert(key, value);
        }
        Ok(Json::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Json {
        serde_json::json!({
            "format": "migplan-backup", "format_version": 2, "tool_version": "0",
            "plan": null, "schema_version": 3, "exported_at": "2026-01-01T00:00:00Z",
            "export_type": "full", "incremental_since": null, "source_engine": "sqlite",
            "tables": [{"name": "items", "module": null, "rows": 1, "primary_key": ["id"],
                "columns": [{"name": "id", "type": "int", "sql_type": "INTEGER", "nullable": false}]}]
        })
    }

    fn problem(edit: impl FnOnce(&mut Json)) -> MetaProblem {
        let mut m = meta();
        edit(&mut m);
        from_json(m).unwrap_err()
    }

    #[test]
    fn a_sound_meta_passes() {
        from_json(meta()).unwrap();
    }

    #[test]
    fn every_wrong_field_is_named_with_its_path() {
        type Edit = Box<dyn FnOnce(&mut Json)>;
        let cases: Vec<(Edit, &str, &str)> = vec![
            (
                Box::new(|m| m["schema_version"] = "3".into()),
                "meta.schema_version",
                "whole number",
            ),
            (
                Box::new(|m| m["schema_version"] = (-1).into()),
                "meta.schema_version",
                "negative",
            ),
            (
                Box::new(|m| m["exported_at"] = "yesterday".into()),
                "meta.exported_at",
                "RFC 3339",
            ),
            (
                Box::new(|m| m["export_type"] = "partial".into()),
                "meta.export_type",
                "not one of",
            ),
            (
                Box::new(|m| m["source_engine"] = "oracle".into()),
                "meta.source_engine",
                "not one of",
            ),
            (
                Box::new(|m| m["tables"][0]["primary_key"] = serde_json::json!(["nope"])),
                "meta.tables[items].primary_key",
                "`nope`",
            ),
            (
                Box::new(|m| m["tables"][0]["primary_key"] = serde_json::json!(["id", "id"])),
                "meta.tables[items].primary_key",
                "twice",
            ),
            (
                Box::new(|m| m["tables"][0]["rows"] = (-5).into()),
                "meta.tables[items].rows",
                "count",
            ),
            (
                Box::new(|m| {
                    let t = m["tables"][0].clone();
                    m["tables"].as_array_mut().unwrap().push(t);
                }),
                "meta.tables[items]",
                "listed twice",
            ),
        ];
        for (edit, path, says) in cases {
            let p = problem(edit);
            assert_eq!(p.path(), path, "{p:?}");
            assert!(p.message.contains(says), "{p:?}");
        }
    }

    #[test]
    fn a_key_given_twice_is_refused_where_it_stands() {
        use serde::de::DeserializeSeed;
        let text = "{\"a\": 1,\n \"b\": {\"c\": 1, \"c\": 2}}";
        let mut de = serde_json::Deserializer::from_str(text);
        let e = NoDuplicates.deserialize(&mut de).unwrap_err();
        assert!(e.to_string().contains("`c` twice"), "{e}");
        assert_eq!(e.line(), 2);
        let ok = NoDuplicates.deserialize(&mut serde_json::Deserializer::from_str(
            text.replace("\"c\": 2", "\"d\": 2").as_str(),
        ));
        assert_eq!(ok.unwrap()["b"]["d"], 2);
    }

    #[test]
    fn a_field_is_located_in_the_file_text() {
        let text = "{\"meta\": {\n  \"exported_at\": \"x\",\n  \"tables\": [\n    {\"name\": \"a\"},\n    {\"name\": \"items\",\n     \"primary_key\": [\"nope\"]}]}}";
        let at = [
            Step::Field("tables"),
            Step::Table("items".into()),
            Step::Field("primary_key"),
        ];
        assert_eq!(locate(text, &at), Some((6, 6)));
        assert_eq!(locate(text, &[Step::Field("exported_at")]), Some((2, 3)));
    }
}
