//! Adapter files in a temporary folder, loaded, chained, planned against a
//! small backup meta and run over in-memory rows through a recording visitor.

use std::path::PathBuf;

use super::*;
use crate::catalog::{ColumnInfo, ForeignKey};
use crate::format::{BackupMeta, BackupVisitor, TableMeta};
use crate::value::{ColumnType as T, Value as V};

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn load_one(text: &str) -> (tempfile::TempDir, AdapterSet) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "a.toml", text);
    let set = AdapterSet::load(&[path]).unwrap_or_else(|e| panic!("{e}"));
    (dir, set)
}

/// `name:line:col message` of every diagnostic (file names only).
fn load_errors(files: &[(&str, &str)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = files.iter().map(|(n, t)| write(&dir, n, t)).collect();
    match AdapterSet::load(&paths) {
        Err(Error::Invalid(diags)) => diags
            .iter()
            .map(|d| {
                let name = d.path.file_name().unwrap().to_string_lossy().into_owned();
                let (l, c) = d.line_col().unwrap_or((0, 0));
                let help = d
                    .help
                    .as_ref()
                    .map(|h| format!(" | help: {h}"))
                    .unwrap_or_default();
                format!("{name}:{l}:{c} {}{help}", d.message)
            })
            .collect(),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("loaded without a diagnostic"),
    }
}

fn only_error(text: &str) -> String {
    let mut errs = load_errors(&[("a.toml", text)]);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    errs.remove(0)
}

fn col(name: &str, ty: T) -> ColumnInfo {
    ColumnInfo {
        name: name.into(),
        ty,
        sql_type: format!("{}-native", ty.name()),
        nullable: false,
        has_default: false,
        choices: vec![],
    }
}

fn table(name: &str, columns: &[(&str, T)], rows: u64) -> TableMeta {
    TableMeta {
        name: name.into(),
        module: Some("core".into()),
        columns: columns.iter().map(|(n, t)| col(n, *t)).collect(),
        primary_key: vec!["id".into()],
        foreign_keys: vec![],
        rows,
        changed_column: None,
    }
}

fn meta(version: i64, tables: Vec<TableMeta>) -> BackupMeta {
    BackupMeta {
        format: "migplan-backup".into(),
        format_version: 1,
        tool_version: "0.1.0".into(),
        plan: Some("tiku".into()),
        schema_version: Some(version),
        exported_at: "2024-05-01T00:00:00Z".into(),
        export_type: "full".into(),
        modules: vec![],
        incremental_since: None,
        backup_id: None,
        follows: None,
        sequences: vec![],
        source_engine: "sqlite".into(),
        tables,
    }
}

/// The tiku-like backup at version 1: users and questions.
fn tiku_meta() -> BackupMeta {
    let mut questions = table(
        "questions",
        &[
            ("id", T::Int),
            ("user_id", T::Int),
            ("title", T::Text),
            ("status", T::Int),
        ],
        4,
    );
    questions.foreign_keys.push(ForeignKey {
        columns: vec!["user_id".into()],
        ref_table: "users".into(),
        ref_columns: vec!["id".into()],
    });
    meta(
        1,
        vec![
            table(
                "users",
                &[
                    ("id", T::Int),
                    ("first_name", T::Text),
                    ("last_name", T::Text),
                    ("mail", T::Text),
                ],
                2,
            ),
            questions,
        ],
    )
}

fn t(s: &str) -> V {
    V::Text(s.into())
}

fn tiku_rows() -> Vec<(&'static str, Vec<Vec<V>>)> {
    vec![
        (
            "users",
            vec![
                vec![V::Int(1), t("Ada"), t("Lovelace"), t("ada@x")],
                vec![V::Int(2), t("Alan"), V::Null, V::Null],
            ],
        ),
        (
            "questions",
            vec![
                vec![V::Int(10), V::Int(1), t("q1"), V::Int(0)],
                vec![V::Int(11), V::Int(1), t("q2"), V::Int(1)],
                vec![V::Int(12), V::Int(2), t("q3"), V::Int(2)],
                vec![V::Int(13), V::Null, t("q4"), V::Null],
            ],
        ),
    ]
}

/// Everything the inner visitor received.
#[derive(Default)]
struct Recorder {
    meta: Option<BackupMeta>,
    /// Tables in the order they arrived, with their rows.
    tables: Vec<(TableMeta, Vec<Vec<V>>)>,
    open: bool,
}

impl Recorder {
    fn rows(&self, name: &str) -> &[Vec<V>] {
        &self
            .tables
            .iter()
            .find(|(t, _)| t.name == name)
            .unwrap_or_else(|| panic!("no table `{name}` received"))
            .1
    }

    fn order(&self) -> Vec<&str> {
        self.tables.iter().map(|(t, _)| t.name.as_str()).collect()
    }

    fn column_names(&self, name: &str) -> Vec<&str> {
        let (t, _) = self.tables.iter().find(|(t, _)| t.name == name).unwrap();
        t.columns.iter().map(|c| c.name.as_str()).collect()
    }
}

impl BackupVisitor for Recorder {
    fn meta(&mut self, meta: &BackupMeta) -> Result<()> {
        self.meta = Some(meta.clone());
        Ok(())
    }

    fn begin_table(&mut self, table: &TableMeta) -> Result<()> {
        assert!(!self.open, "tables must not nest");
        self.open = true;
        self.tables.push((table.clone(), vec![]));
        Ok(())
    }

    fn row(&mut self, row: &[V]) -> Result<()> {
        assert!(self.open);
        let (t, rows) = self.tables.last_mut().unwrap();
        assert_eq!(row.len(), t.columns.len(), "row width of `{}`", t.name);
        rows.push(row.to_vec());
        Ok(())
    }

    fn end_table(&mut self, table: &TableMeta) -> Result<()> {
        assert!(self.open);
        assert_eq!(self.tables.last().unwrap().0.name, table.name);
        self.open = false;
        Ok(())
    }
}

/// Feeds `meta` and `data` through an upgrader the way the reader does.
fn run(chain: &Chain<'_>, meta: &BackupMeta, data: &[(&str, Vec<Vec<V>>)]) -> Result<Recorder> {
    let mut rec = Recorder::default();
    {
        let mut up = Upgrader::new(chain, &mut rec);
        up.meta(meta)?;
        for (name, rows) in data {
            let t = meta.table(name).unwrap();
            up.begin_table(t)?;
            for r in rows {
                up.row(r)?;
            }
            up.end_table(t)?;
        }
    }
    // What the inner visitor saw agrees with the meta it was given.
    let m = rec.meta.as_ref().unwrap();
    assert_eq!(
        m.tables.iter().map(|t| &t.name).collect::<Vec<_>>(),
        rec.tables.iter().map(|(t, _)| &t.name).collect::<Vec<_>>()
    );
    Ok(rec)
}

fn upgrade(text: &str, data: &[(&str, Vec<Vec<V>>)]) -> Recorder {
    let (_dir, set) = load_one(text);
    let to = set.steps().iter().map(|s| s.to).max().unwrap();
    let chain = set.chain(1, to).unwrap();
    run(&chain, &tiku_meta(), data).unwrap_or_else(|e| panic!("{e}"))
}

fn plan_error(text: &str) -> String {
    let (_dir, set) = load_one(text);
    let to = set.steps().iter().map(|s| s.to).max().unwrap();
    let chain = set.chain(1, to).unwrap();
    match chain.plan(&tiku_meta()) {
        Err(Error::Invalid(d)) => {
            assert_eq!(d.len(), 1);
            let (l, c) = d[0].line_col().unwrap();
            format!(
                "{l}:{c} {} | help: {}",
                d[0].message,
                d[0].help.clone().unwrap_or_default()
            )
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("planned without an error"),
    }
}

// ---- parsing --------------------------------------------------------------

const ALL_KINDS: &str = r#"[[step]]
from = 1
to = 2
description = "questions gain visit counts; users.mail becomes email"
changes = [
  { rename_column = { table = "users", from = "mail", to = "email" } },
  { add_column = { table = "questions", column = "visit_count", default = 0 } },
  { add_column = { table = "questions", column = "headline", copy_from = "title", type = "text" } },
  { map_values = { table = "questions", column = "status", map = { "0" = "draft", "1" = "published" }, default = "archived" } },
  { split_rows = { table = "questions", into = "archived_questions", when = { column = "status", equals = "archived" }, columns = ["id", "title"], rename = { title = "old_title" } } },
  { set_column = { table = "users", column = "display_name", expr = "concat(first_name, ' ', coalesce(last_name, '?'))" } },
  { drop_column = { table = "users", column = "last_name" } },
  { rename_table = { from = "users", to = "people" } },
  { drop_table = { table = "archived_questions" } },
]
"#;

#[test]
fn every_change_kind_parses_and_describes_itself() {
    let (_dir, set) = load_one(ALL_KINDS);
    let step = &set.steps()[0];
    assert_eq!((step.from, step.to), (1, 2));
    assert_eq!(step.changes.len(), 9);
    assert!(
        step.location().ends_with("a.toml:1:1"),
        "{}",
        step.location()
    );
    match &step.changes[1].kind {
        ChangeKind::AddColumn {
            fill: Fill::Default(V::Int(0)),
            ty: None,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    match &step.changes[3].kind {
        ChangeKind::MapValues { map, unmapped, .. } => {
            assert_eq!(map.get("0"), Some(&t("draft")));
            assert_eq!(unmapped, &Unmapped::Default(t("archived")));
        }
        other => panic!("{other:?}"),
    }
    let described = set.chain(1, 2).unwrap().describe();
    let expected = [
        "schema version 1 → 2 through 1 adapter step(s)",
        "1 → 2  questions gain visit counts; users.mail becomes email  (",
        "    rename column users.mail → email",
        "    add column questions.visit_count = 0",
        "    add column questions.headline (text) = copy of title",
        "    map values of questions.status: \"0\" → \"draft\", \"1\" → \"published\"; any other value → \"archived\"",
        "    move rows of questions where status = \"archived\" into new table archived_questions (columns id, title) (renamed title → old_title)",
        "    set column users.display_name = concat(first_name, ' ', coalesce(last_name, '?'))",
        "    drop column users.last_name",
        "    rename table users → people",
        "    drop table archived_questions",
    ];
    for line in expected {
        assert!(
            described.contains(line),
            "missing {line:?} in:\n{described}"
        );
    }
}

#[test]
fn conditions_types_and_unmapped_parse() {
    let (_dir, set) = load_one(
        r#"[[step]]
from = 1
to = 2
changes = [
  { split_rows = { table = "q", into = "a", when = { column = "s", in = [1, "x", true, 2.5] } } },
  { split_rows = { table = "q", into = "b", when = { column = "s", is_null = true } } },
  { map_values = { table = "q", column = "s", map = { "x" = 1 }, unmapped = "error", type = "int" } },
  { set_column = { table = "q", column = "n", expr = 'if(s > 1, "big", "small")', type = "text" } },
]
"#,
    );
    let c = &set.steps()[0].changes;
    match &c[0].kind {
        ChangeKind::SplitRows {
            when,
            columns: None,
            ..
        } => {
            assert_eq!(
                when.test,
                Test::In(vec![V::Int(1), t("x"), V::Bool(true), V::Float(2.5)])
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&c[1].kind, ChangeKind::SplitRows { when, .. } if when.test == Test::IsNull(true))
    );
    assert!(matches!(
        &c[2].kind,
        ChangeKind::MapValues {
            unmapped: Unmapped::Error,
            ty: Some(T::Int),
            ..
        }
    ));
    assert!(matches!(
        &c[3].kind,
        ChangeKind::SetColumn {
            ty: Some(T::Text),
            ..
        }
    ));
}

#[test]
fn a_step_without_changes_is_allowed() {
    let (_dir, set) = load_one("[[step]]\nfrom = 1\nto = 2\n");
    let chain = set.chain(1, 2).unwrap();
    assert!(chain.describe().contains("(no change to the data)"));
    let rec = run(&chain, &tiku_meta(), &tiku_rows()).unwrap();
    assert_eq!(rec.meta.as_ref().unwrap().schema_version, Some(2));
    assert_eq!(rec.rows("questions").len(), 4);
}

// ---- load errors ------------------------------------------------------------

#[test]
fn unknown_change_kind_is_named_with_its_position() {
    let e = only_error(
        "[[step]]\nfrom = 1\nto = 2\nchanges = [\n  { renam_column = { table = \"u\", from = \"a\", to = \"b\" } },\n]\n",
    );
    assert!(
        e.starts_with("a.toml:5:5 unknown change kind `renam_column`"),
        "{e}"
    );
    assert!(
        e.contains("help: change kinds: `rename_table`, `rename_column`"),
        "{e}"
    );
}

#[test]
fn missing_and_unknown_keys_are_reported_where_written() {
    let e = only_error(
        "[[step]]\nfrom = 1\nto = 2\nchanges = [\n  { rename_column = { table = \"u\", from = \"a\" } },\n]\n",
    );
    assert!(e.starts_with("a.toml:5:21 missing key `to`"), "{e}");
    let e = only_error(
        "[[step]]\nfrom = 1\nto = 2\nchanges = [\n  { drop_table = { table = \"u\", cascade = true } },\n]\n",
    );
    assert!(e.starts_with("a.toml:5:33 unknown key `cascade`"), "{e}");
    let e = only_error("[[step]]\nfrom = 1\n");
    assert!(e.starts_with("a.toml:1:1 missing key `to`"), "{e}");
}

#[test]
fn add_column_needs_exactly_one_of_default_and_copy_from() {
    let e = only_error(
        "[[step]]\nfrom = 1\nto = 2\nchanges = [\n  { add_column = { table = \"q\", column = \"c\", default = 0, copy_from = \"d\" } },\n]\n",
    );
    assert!(
        e.starts_with("a.toml:5:57 `add_column` of `c` has both `default` and `copy_from`"),
        "{e}"
    );
    let e = only_error(
        "[[step]]\nfrom = 1\nto = 2\nchanges = [\n  { add_column = { table = \"q\", column = \"c\" } },\n]\n",
    );
    assert!(
        e.starts_with("a.toml:5:42 `add_column` of `c` needs `default` or `copy_from`"),
        "{e}"
    );
}

#[test]
fn a_step_must_lead_upwards() {
    let e = only_error("[[step]]\nfrom = 3\nto = 2\n");
    assert!(
        e.starts_with("a.toml:3:6 a step from version 3 to 2 does not lead to a higher version"),
        "{e}"
    );
    let e = only_error("[[step]]\nfrom = 2\nto = 2\n");
    assert!(
        e.starts_with("a.toml:3:6 a step from version 2 to 2"),
        "{e}"
    );
}

#[test]
fn duplicate_steps_across_files_name_both_places() {
    let errs = load_errors(&[
        ("a.toml", "[[step]]\nfrom = 1\nto = 2\n"),
        (
            "b.toml",
            "# b\n[[step]]\nfrom = 2\nto = 3\n\n[[step]]\nfrom = 1\nto = 2\n",
        ),
    ]);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].starts_with("b.toml:6:1 a second step from version 1 to 2"),
        "{}",
        errs[0]
    );
    assert!(
        errs[0].contains("the first is at ") && errs[0].contains("a.toml:1:1"),
        "{}",
        errs[0]
    );
}

#[test]
fn expression_errors_point_inside_the_string() {
    let e = only_error(
        "[[step]]\nfrom = 1\nto = 2\nchanges = [\n  { set_column = { table = \"u\", column = \"d\", expr = \"concat(a, b $ c)\" } },\n]\n",
    );
    // `$` is character 13 of the expression; the string starts at column 51.
    assert!(
        e.starts_with("a.toml:5:67 in the expression: unexpected character `$`"),
        "{e}"
    );
    let e = only_error(
        "[[step]]\nfrom = 1\nto = 2\nchanges = [\n  { set_column = { table = \"u\", column = \"d\", expr = \"lowr(a)\" } },\n]\n",
    );
    assert!(
        e.starts_with("a.toml:5:55 in the expression: unknown function `lowr`"),
        "{e}"
    );
    // With escapes in the TOML string the whole string is pointed at.
    let e = only_error(
        "[[step]]\nfrom = 1\nto = 2\nchanges = [\n  { set_column = { table = \"u\", column = \"d\", expr = \"\\\"a\\\" +\" } },\n]\n",
    );
    assert!(
        e.starts_with("a.toml:5:54 in the expression: unexpected end"),
        "{e}"
    );
}

#[test]
fn bad_values_types_and_conditions_are_each_reported() {
    let errs = load_errors(&[(
        "a.toml",
        r#"[[step]]
from = 1
to = 2
changes = [
  { add_column = { table = "q", column = "c", default = [1], type = "integer" } },
  { map_values = { table = "q", column = "s", map = { "0" = "a" }, default = "b", unmapped = "error" } },
  { map_values = { table = "q", column = "s", map = { "0" = "a" }, unmapped = "drop" } },
  { split_rows = { table = "q", into = "a", when = { column = "s", equals = 1, is_null = true } } },
  { split_rows = { table = "q", into = "q", when = { column = "s", equals = 1 } } },
  { add_column = { table = "q", column = "d", default = 1979-05-27 } },
]
"#,
    )]);
    let expected = [
        "a.toml:5:57 a value here must be a string, an integer, a float or a boolean, not array",
        "a.toml:5:69 unknown column type `integer`",
        "a.toml:6:94 `map_values` has both `unmapped` and `default`",
        "a.toml:7:79 unknown `unmapped` value `drop`",
        "a.toml:8:52 a condition needs exactly one of `equals`, `in` and `is_null`",
        "a.toml:9:40 `split_rows` moves rows of `q` into itself",
        "a.toml:10:57 a value here must be a string, an integer, a float or a boolean, not datetime",
    ];
    assert_eq!(errs.len(), expected.len(), "{errs:#?}");
    for (got, want) in errs.iter().zip(expected) {
        assert!(got.starts_with(want), "got {got}\nwant {want}");
    }
}

#[test]
fn syntax_errors_and_unreadable_files_are_reported_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(&dir, "bad.toml", "[[step]\nfrom = 1\n");
    let missing = dir.path().join("missing.toml");
    let empty = write(&dir, "empty.toml", "# nothing yet\n");
    let Err(Error::Invalid(diags)) = AdapterSet::load(&[bad, missing, empty]) else {
        panic!("expected diagnostics");
    };
    assert_eq!(diags.len(), 3);
    assert_eq!(diags[0].line_col().map(|p| p.0), Some(1));
    assert!(
        diags[1].message.contains("cannot read the adapter file"),
        "{}",
        diags[1].message
    );
    assert!(
        diags[2].message.contains("declares no `[[step]]`"),
        "{}",
        diags[2].message
    );
}

// ---- chains -----------------------------------------------------------------

fn chain_set(files: &[(&str, &str)]) -> (tempfile::TempDir, AdapterSet) {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = files.iter().map(|(n, t)| write(&dir, n, t)).collect();
    let set = AdapterSet::load(&paths).unwrap_or_else(|e| panic!("{e}"));
    (dir, set)
}

fn step(from: i64, to: i64) -> String {
    format!("[[step]]\nfrom = {from}\nto = {to}\n\n")
}

fn versions(chain: &Chain<'_>) -> Vec<(i64, i64)> {
    chain.steps.iter().map(|s| (s.from, s.to)).collect()
}

#[test]
fn chains_are_found_direct_multi_step_and_across_files() {
    let a = step(1, 2) + &step(2, 3);
    let b = step(3, 5) + &step(5, 6);
    let (_dir, set) = chain_set(&[("a.toml", &a), ("b.toml", &b)]);
    assert_eq!(versions(&set.chain(1, 2).unwrap()), [(1, 2)]);
    assert_eq!(
        versions(&set.chain(1, 6).unwrap()),
        [(1, 2), (2, 3), (3, 5), (5, 6)]
    );
    assert_eq!(versions(&set.chain(3, 6).unwrap()), [(3, 5), (5, 6)]);
    let same = set.chain(4, 4).unwrap();
    assert!(same.is_empty());
    assert!(same.describe().contains("no adapter step needed"));
}

#[test]
fn the_shortest_chain_wins_and_ties_take_the_lowest_versions() {
    let text = step(1, 3) + &step(3, 4) + &step(1, 2) + &step(2, 4) + &step(4, 6) + &step(1, 6);
    let (_dir, set) = chain_set(&[("a.toml", &text)]);
    assert_eq!(versions(&set.chain(1, 4).unwrap()), [(1, 2), (2, 4)]);
    assert_eq!(versions(&set.chain(1, 6).unwrap()), [(1, 6)]);
    assert_eq!(versions(&set.chain(2, 6).unwrap()), [(2, 4), (4, 6)]);
}

#[test]
fn a_missing_link_names_the_known_steps_and_the_gap() {
    let text = step(1, 2) + &step(3, 4);
    let (_dir, set) = chain_set(&[("tiku.toml", &text)]);
    let msg = set.chain(1, 4).unwrap_err().to_string();
    assert!(
        msg.starts_with("no adapter step leads from version 1 to 4: steps known: 1→2 ("),
        "{msg}"
    );
    assert!(msg.contains("tiku.toml:1:1), 3→4 ("), "{msg}");
    assert!(
        msg.contains("tiku.toml:5:1); missing a step from 2"),
        "{msg}"
    );
    assert!(msg.contains("`from = 2` and `to = 3`"), "{msg}");
    let msg = set.chain(7, 9).unwrap_err().to_string();
    assert!(
        msg.contains("from version 7 to 9") && msg.contains("missing a step from 7"),
        "{msg}"
    );
    let msg = AdapterSet::default().chain(1, 2).unwrap_err().to_string();
    assert!(msg.contains("no adapter step is known"), "{msg}");
}

#[test]
fn a_backup_newer_than_the_target_is_refused() {
    let (_dir, set) = chain_set(&[("a.toml", &step(1, 2))]);
    let msg = set.chain(3, 2).unwrap_err().to_string();
    assert!(
        msg.contains("schema version 3, newer than the target's version 2"),
        "{msg}"
    );
}

// ---- static check -----------------------------------------------------------

#[test]
fn plan_names_an_absent_column_at_its_position() {
    let e = plan_error(
        "[[step]]\nfrom = 1\nto = 2\nchanges = [\n  { rename_column = { table = \"users\", from = \"email\", to = \"mail2\" } },\n]\n",
    );
    assert_eq!(
        e,
        "5:47 step 1→2 renames column `users.email`, but the backup's table `users` has no column `email` | help: it has: id, first_name, last_name, mail"
    );
}

#[test]
fn plan_names_an_absent_table_and_sees_earlier_changes() {
    let e = plan_error(
        "[[step]]\nfrom = 1\nto = 2\nchanges = [\n  { drop_table = { table = \"answers\" } },\n]\n",
    );
    assert_eq!(
        e,
        "5:28 step 1→2 drops table `answers`, but the backup has no table `answers` | help: tables at this point: users, questions"
    );
    // A later step sees the tables as the earlier ones left them.
    let e = plan_error(
        r#"[[step]]
from = 1
to = 2
changes = [{ rename_table = { from = "users", to = "people" } }]

[[step]]
from = 2
to = 3
changes = [{ add_column = { table = "users", column = "x", default = 1 } }]
"#,
    );
    assert!(
        e.starts_with("9:37 step 2→3 adds column `users.x`, but after the earlier steps there is no table `users` | help: tables at this point: people, questions"),
        "{e}"
    );
}

#[test]
fn plan_checks_clashes_copy_sources_split_columns_and_expressions() {
    let e = plan_error(
        "[[step]]\nfrom = 1\nto = 2\nchanges = [\n  { rename_column = { table = \"users\", from = \"mail\", to = \"id\" } },\n]\n",
    );
    assert!(
        e.starts_with("5:60 step 1→2: table `users` already has a column `id`"),
        "{e}"
    );
    let e = plan_error(
        "[[step]]\nfrom = 1\nto = 2\nchanges = [\n  { add_column = { table = \"users\", column = \"m\", copy_from = \"email\" } },\n]\n",
    );
    assert!(
        e.starts_with("5:63 step 1→2 adds column `users.m` as a copy of `email`"),
        "{e}"
    );
    let e = plan_error(
        "[[step]]\nfrom = 1\nto = 2\nchanges = [\n  { split_rows = { table = \"questions\", into = \"users\", when = { column = \"status\", equals = 3 } } },\n]\n",
    );
    assert!(
        e.starts_with("5:48 step 1→2: a table `users` already exists"),
        "{e}"
    );
    let e = plan_error(
        "[[step]]\nfrom = 1\nto = 2\nchanges = [\n  { split_rows = { table = \"questions\", into = \"a\", when = { column = \"status\", equals = 3 }, columns = [\"id\", \"body\"] } },\n]\n",
    );
    assert!(
        e.starts_with("5:112 step 1→2 moves rows of `questions` into `a` keeping column `body`"),
        "{e}"
    );
    // The unknown column of an expression is pointed at inside the string.
    let e = plan_error(
        "[[step]]\nfrom = 1\nto = 2\nchanges = [\n  { set_column = { table = \"users\", column = \"d\", expr = \"concat(first_name, lst_name)\" } },\n]\n",
    );
    assert!(
        e.starts_with("5:78 step 1→2 computes column `users.d` from `lst_name`, but the backup's table `users` has no column `lst_name`"),
        "{e}"
    );
}

#[test]
fn plan_refuses_a_backup_at_another_version() {
    let (_dir, set) = chain_set(&[("a.toml", &(step(2, 3)))]);
    let chain = set.chain(2, 3).unwrap();
    let msg = chain.plan(&tiku_meta()).unwrap_err().to_string();
    assert!(
        msg.contains(
            "the backup is from schema version 1, but the adapter chain starts at version 2"
        ),
        "{msg}"
    );
}

// ---- the upgrade, row by row ---------------------------------------------------

#[test]
fn renames_carry_through_meta_keys_and_rows() {
    let rec = upgrade(
        r#"[[step]]
from = 1
to = 2
changes = [
  { rename_column = { table = "users", from = "id", to = "user_id" } },
  { rename_table = { from = "users", to = "people" } },
  { rename_column = { table = "questions", from = "user_id", to = "author_id" } },
]
"#,
        &tiku_rows(),
    );
    let meta = rec.meta.as_ref().unwrap();
    assert_eq!(meta.schema_version, Some(2));
    assert_eq!(rec.order(), ["people", "questions"]);
    let people = meta.table("people").unwrap();
    assert_eq!(people.primary_key, ["user_id"]);
    assert_eq!(
        people.columns[0].sql_type, "int-native",
        "a renamed column keeps its type"
    );
    let fk = &meta.table("questions").unwrap().foreign_keys[0];
    assert_eq!(
        (fk.columns.as_slice(), fk.ref_table.as_str()),
        (&["author_id".to_string()][..], "people")
    );
    assert_eq!(fk.ref_columns, ["user_id"]);
    assert_eq!(rec.rows("people"), tiku_rows()[0].1);
    assert_eq!(
        rec.column_names("questions"),
        ["id", "author_id", "title", "status"]
    );
}

#[test]
fn added_columns_take_a_default_or_a_copy_and_drops_remove() {
    let rec = upgrade(
        r#"[[step]]
from = 1
to = 2
changes = [
  { add_column = { table = "questions", column = "visit_count", default = 0 } },
  { add_column = { table = "users", column = "email", copy_from = "mail" } },
  { drop_column = { table = "users", column = "mail" } },
  { add_column = { table = "users", column = "score", default = 1.5, type = "decimal" } },
  { drop_table = { table = "questions" } },
]
"#,
        &tiku_rows(),
    );
    assert_eq!(rec.order(), ["users"]);
    let users = rec.meta.as_ref().unwrap().table("users").unwrap().clone();
    assert_eq!(
        rec.column_names("users"),
        ["id", "first_name", "last_name", "email", "score"]
    );
    assert_eq!(users.columns[3].ty, T::Text);
    assert_eq!(
        users.columns[3].sql_type, "text-native",
        "a copy keeps the source's type"
    );
    assert_eq!(
        (users.columns[4].ty, users.columns[4].sql_type.as_str()),
        (T::Decimal, "decimal")
    );
    assert_eq!(
        rec.rows("users")[0],
        [
            V::Int(1),
            t("Ada"),
            t("Lovelace"),
            t("ada@x"),
            V::Float(1.5)
        ]
    );
    assert_eq!(rec.rows("users")[1][3], V::Null);

    let rec = upgrade(
        "[[step]]\nfrom = 1\nto = 2\nchanges = [{ add_column = { table = \"questions\", column = \"visit_count\", default = 0 } }]\n",
        &tiku_rows(),
    );
    let q = rec.meta.as_ref().unwrap().table("questions").unwrap();
    assert_eq!((q.columns[4].ty, q.columns[4].nullable), (T::Int, false));
    assert!(rec.rows("questions").iter().all(|r| r[4] == V::Int(0)));
}

#[test]
fn dropping_a_key_column_or_a_parent_drops_the_keys_that_used_it() {
    let rec = upgrade(
        r#"[[step]]
from = 1
to = 2
changes = [
  { drop_column = { table = "questions", column = "id" } },
  { drop_table = { table = "users" } },
]
"#,
        &tiku_rows(),
    );
    let q = rec.meta.as_ref().unwrap().table("questions").unwrap();
    assert!(
        q.primary_key.is_empty() && q.foreign_keys.is_empty(),
        "{q:?}"
    );
    assert_eq!(rec.rows("questions")[0], [V::Int(1), t("q1"), V::Int(0)]);
}

#[test]
fn map_values_keeps_defaults_or_refuses_unmapped_values() {
    let text = |tail: &str| {
        format!(
            "[[step]]\nfrom = 1\nto = 2\nchanges = [{{ map_values = {{ table = \"questions\", column = \"status\", map = {{ \"0\" = \"draft\", \"1\" = \"published\" }}{tail} }} }}]\n"
        )
    };
    let status =
        |rec: &Recorder| -> Vec<V> { rec.rows("questions").iter().map(|r| r[3].clone()).collect() };
    let rec = upgrade(&text(""), &tiku_rows());
    assert_eq!(
        status(&rec),
        [t("draft"), t("published"), V::Int(2), V::Null]
    );
    let col = &rec
        .meta
        .as_ref()
        .unwrap()
        .table("questions")
        .unwrap()
        .columns[3];
    assert_eq!(col.ty, T::Any, "text and kept integers mix");

    let rec = upgrade(&text(", default = \"other\""), &tiku_rows());
    assert_eq!(
        status(&rec),
        [t("draft"), t("published"), t("other"), V::Null]
    );
    let col = &rec
        .meta
        .as_ref()
        .unwrap()
        .table("questions")
        .unwrap()
        .columns[3];
    assert_eq!((col.ty, col.sql_type.as_str()), (T::Text, "text"));

    let (_dir, set) = load_one(&text(", unmapped = \"error\""));
    let chain = set.chain(1, 2).unwrap();
    let msg = run(&chain, &tiku_meta(), &tiku_rows())
        .err()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("a.toml:4:59: step 1→2, column `questions`.`status`: value 2 has no mapping"),
        "{msg}"
    );
    assert!(msg.contains("the map knows \"0\", \"1\""), "{msg}");
}

#[test]
fn split_rows_move_to_the_new_table_which_follows_its_source() {
    let rec = upgrade(
        r#"[[step]]
from = 1
to = 2
changes = [
  { split_rows = { table = "questions", into = "old_questions", when = { column = "status", in = [1, 2] }, columns = ["id", "title", "status"], rename = { status = "old_status" } } },
  { split_rows = { table = "questions", into = "orphans", when = { column = "user_id", is_null = true } } },
  { add_column = { table = "old_questions", column = "archived", default = true } },
]
"#,
        &tiku_rows(),
    );
    assert_eq!(
        rec.order(),
        ["users", "questions", "old_questions", "orphans"]
    );
    assert_eq!(
        rec.rows("questions"),
        [vec![V::Int(10), V::Int(1), t("q1"), V::Int(0)]]
    );
    assert_eq!(
        rec.rows("old_questions"),
        [
            vec![V::Int(11), t("q2"), V::Int(1), V::Bool(true)],
            vec![V::Int(12), t("q3"), V::Int(2), V::Bool(true)],
        ]
    );
    assert_eq!(
        rec.rows("orphans"),
        [vec![V::Int(13), V::Null, t("q4"), V::Null]]
    );
    let meta = rec.meta.as_ref().unwrap();
    let old = meta.table("old_questions").unwrap();
    assert_eq!(
        rec.column_names("old_questions"),
        ["id", "title", "old_status", "archived"]
    );
    assert_eq!(
        (old.primary_key.as_slice(), old.rows),
        (&["id".to_string()][..], 0)
    );
    assert!(old.foreign_keys.is_empty(), "user_id was not kept");
    assert_eq!(meta.table("orphans").unwrap().foreign_keys.len(), 1);
    assert_eq!(
        meta.table("questions").unwrap().rows,
        4,
        "expected rows stay on the source"
    );
}

#[test]
fn rows_split_off_a_dropped_table_survive_it() {
    let rec = upgrade(
        r#"[[step]]
from = 1
to = 2
changes = [
  { split_rows = { table = "questions", into = "published", when = { column = "status", equals = "1" } } },
  { drop_table = { table = "questions" } },
]
"#,
        &tiku_rows(),
    );
    assert_eq!(rec.order(), ["users", "published"]);
    assert_eq!(rec.rows("published").len(), 1);
    assert_eq!(rec.rows("published")[0][0], V::Int(11));
}

#[test]
fn set_column_computes_from_each_row() {
    let rec = upgrade(
        r#"[[step]]
from = 1
to = 2
changes = [
  { set_column = { table = "users", column = "display_name", expr = "concat(first_name, ' ', last_name)" } },
  { set_column = { table = "users", column = "handle", expr = "lower(coalesce(mail, concat(first_name, '@none')))" } },
  { set_column = { table = "questions", column = "score", expr = "status * 10 + id / 2" } },
  { set_column = { table = "questions", column = "status", expr = "if(is_null(status), -1, status + 1)" } },
  { set_column = { table = "questions", column = "owner", expr = "user_id + 0", type = "int" } },
]
"#,
        &tiku_rows(),
    );
    let users = rec.rows("users");
    assert_eq!(users[0][4], t("Ada Lovelace"));
    assert_eq!(users[1][4], t("Alan "), "concat skips NULL");
    assert_eq!(users[0][5], t("ada@x"));
    assert_eq!(users[1][5], t("alan@none"));
    let q = rec.rows("questions");
    assert_eq!(q[1][4], V::Float(15.5));
    assert_eq!(q[3][4], V::Null, "arithmetic with NULL is NULL");
    assert_eq!([&q[0][3], &q[3][3]], [&V::Int(1), &V::Int(-1)]);
    assert_eq!(q[3][5], V::Null);
    let meta = rec.meta.as_ref().unwrap();
    let cols = &meta.table("users").unwrap().columns;
    assert_eq!((cols[4].ty, cols[4].nullable), (T::Text, true));
    let qcols = &meta.table("questions").unwrap().columns;
    assert_eq!(qcols[4].ty, T::Float);
    assert_eq!(
        (qcols[3].ty, qcols[3].sql_type.as_str()),
        (T::Int, "int-native")
    );
    assert_eq!(qcols[5].ty, T::Int);
}

#[test]
fn an_expression_failing_on_a_row_names_the_step_and_column() {
    let (_dir, set) = load_one(
        "[[step]]\nfrom = 1\nto = 2\nchanges = [{ set_column = { table = \"users\", column = \"n\", expr = \"first_name * 2\" } }]\n",
    );
    let chain = set.chain(1, 2).unwrap();
    let msg = run(&chain, &tiku_meta(), &tiku_rows())
        .err()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("a.toml:4:55: step 1→2, column `users`.`n`: `*` needs numbers, got \"Ada\""),
        "{msg}"
    );
}

#[test]
fn a_multi_step_chain_upgrades_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let one = write(
        &dir,
        "one.toml",
        r#"[[step]]
from = 1
to = 2
description = "archive old questions"
changes = [
  { rename_column = { table = "users", from = "mail", to = "email" } },
  { split_rows = { table = "questions", into = "archived", when = { column = "status", equals = 2 } } },
]
"#,
    );
    let two = write(
        &dir,
        "two.toml",
        r#"[[step]]
from = 3
to = 4
changes = [
  { drop_column = { table = "archive", column = "user_id" } },
  { set_column = { table = "users", column = "email", expr = "coalesce(email, 'unknown')" } },
]

[[step]]
from = 2
to = 3
changes = [
  { rename_table = { from = "archived", to = "archive" } },
  { map_values = { table = "questions", column = "status", map = { "0" = "draft", "1" = "live" }, unmapped = "error" } },
  { split_rows = { table = "archive", into = "archive_orphans", when = { column = "user_id", is_null = true } } },
]
"#,
    );
    let set = AdapterSet::load(&[one, two]).unwrap();
    let chain = set.chain(1, 4).unwrap();
    assert_eq!(versions(&chain), [(1, 2), (2, 3), (3, 4)]);
    let described = chain.describe();
    assert!(
        described.contains("1 → 2  archive old questions  ("),
        "{described}"
    );
    let data = vec![
        tiku_rows()[0].clone(),
        (
            "questions",
            vec![
                vec![V::Int(10), V::Int(1), t("q1"), V::Int(0)],
                vec![V::Int(12), V::Int(2), t("q3"), V::Int(2)],
                vec![V::Int(14), V::Null, t("q5"), V::Int(2)],
                vec![V::Int(11), V::Int(1), t("q2"), V::Int(1)],
            ],
        ),
    ];
    let planned = chain.plan(&tiku_meta()).unwrap();
    let rec = run(&chain, &tiku_meta(), &data).unwrap();
    let meta = rec.meta.as_ref().unwrap();
    assert_eq!(meta.schema_version, Some(4));
    assert_eq!(
        planned
            .meta()
            .tables
            .iter()
            .map(|t| &t.name)
            .collect::<Vec<_>>(),
        ["users", "questions", "archive", "archive_orphans"]
    );
    assert_eq!(
        rec.order(),
        ["users", "questions", "archive", "archive_orphans"]
    );
    assert_eq!(rec.rows("users")[1][3], t("unknown"));
    assert_eq!(
        rec.rows("questions")
            .iter()
            .map(|r| r[3].clone())
            .collect::<Vec<_>>(),
        [t("draft"), t("live")]
    );
    assert_eq!(rec.rows("archive"), [vec![V::Int(12), t("q3"), V::Int(2)]]);
    assert_eq!(rec.column_names("archive"), ["id", "title", "status"]);
    assert_eq!(
        rec.rows("archive_orphans"),
        [vec![V::Int(14), V::Null, t("q5"), V::Int(2)]]
    );
    assert_eq!(
        rec.column_names("archive_orphans"),
        ["id", "user_id", "title", "status"]
    );
}

#[test]
fn rows_before_the_meta_are_refused() {
    let (_dir, set) = chain_set(&[("a.toml", &step(1, 2))]);
    let chain = set.chain(1, 2).unwrap();
    let mut rec = Recorder::default();
    let mut up = Upgrader::new(&chain, &mut rec);
    let t = tiku_meta().tables[0].clone();
    assert!(up.begin_table(&t).is_err());
}

#[test]
fn plan_errors_render_with_the_file_position_and_a_caret() {
    let (_dir, set) = load_one(
        "[[step]]\nfrom = 1\nto = 2\nchanges = [\n  { rename_column = { table = \"users\", from = \"email\", to = \"e\" } },\n]\n",
    );
    let chain = set.chain(1, 2).unwrap();
    let err = chain.plan(&tiku_meta()).unwrap_err();
    assert_eq!(
        err.exit_code(),
        crate::error::exit::USAGE,
        "nothing was attempted"
    );
    let out = err.to_string();
    assert!(out.contains("a.toml:5:47"), "{out}");
    assert!(out.contains("^^^^^^^"), "{out}");
    assert!(
        out.contains("help: it has: id, first_name, last_name, mail"),
        "{out}"
    );
}

/// Each file of `tests/fixtures/adapters` is one invalid adapter file whose
/// comments state every diagnostic it must produce (`# expect: L:C message`,
/// `# help: text`), in order.
#[test]
fn every_fixture_reports_exactly_its_expected_diagnostics() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests/fixtures/adapters");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "fixtures missing from {}", dir.display());
    let prefix = format!("{}/", root.display());
    let mut failures = Vec::new();
    for path in files {
        let src = std::fs::read_to_string(&path).unwrap();
        let expected: Vec<String> = src
            .lines()
            .filter_map(|l| {
                l.strip_prefix("# expect: ")
                    .map(str::to_string)
                    .or_else(|| l.strip_prefix("# help: ").map(|h| format!("help: {h}")))
            })
            .collect();
        let actual: Vec<String> = match AdapterSet::load(std::slice::from_ref(&path)) {
            Err(Error::Invalid(diags)) => diags
                .iter()
                .flat_map(|d| {
                    let (l, c) = d.line_col().unwrap_or((0, 0));
                    let help = d
                        .help
                        .as_ref()
                        .map(|h| format!("help: {}", h.replace(&prefix, "")));
                    std::iter::once(format!("{l}:{c} {}", d.message)).chain(help)
                })
                .collect(),
            other => vec![format!("not invalid: {:?}", other.err())],
        };
        if expected.is_empty() || expected != actual {
            failures.push(format!("{}:\n  {}", path.display(), actual.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "actual diagnostics:\n{}",
        failures.join("\n")
    );
}

#[test]
fn counters_follow_renamed_tables_and_columns_and_lose_dropped_ones() {
    let (_dir, set) = load_one(
        r#"[[step]]
from = 1
to = 2
changes = [
  { rename_column = { table = "users", from = "id", to = "user_id" } },
  { rename_table = { from = "users", to = "people" } },
  { drop_table = { table = "questions" } },
]
"#,
    );
    let chain = set.chain(1, 2).unwrap();
    let mut meta = tiku_meta();
    let seq = |name: Option<&str>, table: &str| crate::catalog::Sequence {
        name: name.map(String::from),
        table: Some(table.into()),
        column: Some("id".into()),
        next: 7,
    };
    meta.sequences = vec![
        seq(None, "users"),
        seq(None, "questions"),
        seq(Some("questions_id_seq"), "questions"),
    ];
    let upgraded = chain.plan(&meta).unwrap();
    let got: Vec<(Option<&str>, Option<&str>, Option<&str>)> = upgraded
        .meta()
        .sequences
        .iter()
        .map(|s| (s.name.as_deref(), s.table.as_deref(), s.column.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (None, Some("people"), Some("user_id")),
            (Some("questions_id_seq"), None, None),
        ]
    );
}
