//! Where a plan file writes a name, for checks made after it was loaded
//! (`validate --db` holds the plan's tables and columns against a
//! database): the serde mirror read again for its spans. A name that came
//! from `${VAR}` is not found as written; its problem is then said of the
//! file as a whole.

use std::ops::Range;

use toml::Spanned;

use super::raw::{RawPlan, Str};

/// A plan file's names and where they are written.
pub struct Located {
    raw: RawPlan,
    src: String,
}

impl Located {
    /// `None` when the file does not parse (loading it reported why).
    pub fn parse(src: &str) -> Option<Located> {
        let raw = toml::from_str::<RawPlan>(src).ok()?;
        Some(Located {
            raw,
            src: src.to_string(),
        })
    }

    /// `table` in the `tables` list of module `module`.
    pub fn module_table(&self, module: &str, table: &str) -> Option<Range<usize>> {
        let m = self
            .raw
            .modules
            .iter()
            .find(|m| m.name.get_ref() == module)?;
        find(&m.tables, table)
    }

    /// Module `module`'s `name = "…"`.
    pub fn module_name(&self, module: &str) -> Option<Range<usize>> {
        let m = self
            .raw
            .modules
            .iter()
            .find(|m| m.name.get_ref() == module)?;
        Some(m.name.span())
    }

    /// `column` where `[tables.TABLE]` names it (`key`, `updated_at`,
    /// `exclude`, `accept_lossy`).
    pub fn table_column(&self, table: &str, column: &str) -> Option<Range<usize>> {
        let t = self.raw.tables.get(table)?;
        let key = t.key.as_ref().map(Spanned::get_ref);
        key.and_then(|k| find(k, column))
            .or_else(|| {
                t.updated_at
                    .iter()
                    .find(|c| c.get_ref() == column)
                    .map(Str::span)
            })
            .or_else(|| find(&t.exclude, column))
            .or_else(|| find(&t.accept_lossy, column))
    }

    /// The name in the `[tables.TABLE]` header.
    pub fn table_header(&self, table: &str) -> Option<Range<usize>> {
        ["", "\""].iter().find_map(|q| {
            let header = format!("[tables.{q}{table}{q}]");
            let at = self.src.find(&header)?;
            let start = at + "[tables.".len();
            Some(start..start + table.len() + 2 * q.len())
        })
    }
}

fn find(list: &[Str], name: &str) -> Option<Range<usize>> {
    list.iter().find(|s| s.get_ref() == name).map(Str::span)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"[[module]]
name = "users"
tables = ["users", "profiles"]

[tables.questions]
key = ["id", "bank"]
exclude = ["secret"]
"#;

    #[test]
    fn names_are_found_where_they_are_written() {
        let l = Located::parse(PLAN).unwrap();
        let text = |r: Range<usize>| &PLAN[r];
        assert_eq!(
            text(l.module_table("users", "profiles").unwrap()),
            "\"profiles\""
        );
        assert_eq!(text(l.module_name("users").unwrap()), "\"users\"");
        assert_eq!(
            text(l.table_column("questions", "bank").unwrap()),
            "\"bank\""
        );
        assert_eq!(
            text(l.table_column("questions", "secret").unwrap()),
            "\"secret\""
        );
        assert_eq!(text(l.table_header("questions").unwrap()), "questions");
        assert!(l.table_column("questions", "nope").is_none());
        assert!(l.module_table("nope", "users").is_none());
    }
}
