//! Self-contained module exports (`[export] closure`): the real binary, real
//! SQLite files.

mod support;

use std::process::Output;

use support::{Workspace, dump, repo_root, stderr, stdout};

/// A three-level chain with a self-reference at the top
/// (categories ← books ← questions ← answers), a second parent of
/// questions (users) and a composite text key (tags).
const SCHEMA: &str = r#"
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE categories (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES categories(id), name TEXT NOT NULL);
CREATE TABLE books (id INTEGER PRIMARY KEY, category_id INTEGER NOT NULL REFERENCES categories(id), title TEXT NOT NULL);
CREATE TABLE tags (code TEXT NOT NULL, lang TEXT NOT NULL, label TEXT, PRIMARY KEY (code, lang));
CREATE TABLE questions (
  id INTEGER PRIMARY KEY,
  book_id INTEGER NOT NULL REFERENCES books(id),
  author_id INTEGER REFERENCES users(id),
  tag_code TEXT, tag_lang TEXT,
  body TEXT NOT NULL,
  FOREIGN KEY (tag_code, tag_lang) REFERENCES tags(code, lang)
);
CREATE TABLE answers (id INTEGER PRIMARY KEY, question_id INTEGER NOT NULL REFERENCES questions(id), body TEXT NOT NULL);
"#;

/// Categories' children have smaller ids than their parents, so a pass in
/// key order meets a child before its parent.
const ROWS: &str = r#"
INSERT INTO users VALUES (1, 'alice'), (2, 'bob, unreferenced'), (3, 'carol');
INSERT INTO categories VALUES (10, NULL, 'root'), (5, 10, 'child'), (3, 5, 'grandchild'),
  (7, NULL, 'other root'), (8, 7, 'other child');
INSERT INTO books VALUES (1, 3, 'book in the grandchild'), (2, 8, 'unreferenced book'), (3, 10, 'book in the root');
INSERT INTO tags VALUES ('a', 'en', 'A'), ('a', 'zh', '甲'), ('b', 'en', 'B');
INSERT INTO questions VALUES (1, 1, 1, 'a', 'en', 'q1'), (2, 3, NULL, NULL, NULL, 'q2'), (3, 1, 3, 'a', NULL, 'q3');
INSERT INTO answers VALUES (1, 1, 'a1'), (2, 1, 'a2'), (3, 3, 'a3');
"#;

const MODULES: &str = r#"
[[module]]
name = "users"
tables = ["users"]

[[module]]
name = "catalog"
tables = ["categories", "books", "tags"]

[[module]]
name = "questions"
tables = ["questions", "answers"]
depends_on = ["catalog", "users"]
"#;

fn source(ws: &Workspace) {
    let conn = ws.open("src.db");
    conn.execute_batch(SCHEMA).unwrap();
    conn.execute_batch(ROWS).unwrap();
}

/// An empty database with the schema.
fn empty(ws: &Workspace, rel: &str) {
    ws.open(rel).execute_batch(SCHEMA).unwrap();
}

/// An export plan of the `questions` module, with `closure` as given.
fn plan(ws: &Workspace, closure: Option<bool>) -> std::path::PathBuf {
    let closure = closure.map_or(String::new(), |c| format!("closure = {c}\n"));
    ws.write(
        "qa.toml",
        &format!(
            "[plan]\nname = \"qa\"\nkind = \"export\"\n[database]\nurl = \"sqlite://src.db\"\n[export]\nmode = \"modules\"\nmodules = [\"questions\"]\n{closure}{MODULES}"
        ),
    )
}

fn run(ws: &Workspace, args: &[&str]) -> Output {
    ws.migplan().args(args).output().unwrap()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
}

fn ids(ws: &Workspace, db: &str, sql: &str) -> Vec<String> {
    let conn = ws.open(db);
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get::<_, rusqlite::types::Value>(0))
        .unwrap()
        .map(|v| match v.unwrap() {
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Text(s) => s,
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn closure_export_imports_alone_with_exactly_the_referenced_rows() {
    let ws = Workspace::new();
    source(&ws);
    plan(&ws, Some(true));
    let out = run(&ws, &["run", "qa.toml", "-o", "b.json"]);
    ok(&out);
    let report = stdout(&out);
    assert!(
        report.contains("categories") && report.contains("(closure"),
        "{report}"
    );
    empty(&ws, "dst.db");
    ok(&ws.import("dst.db", &["b.json"]));
    let q = |sql: &str| ids(&ws, "dst.db", sql);
    assert_eq!(
        q("SELECT id || ':' || name FROM users ORDER BY id"),
        ["1:alice", "3:carol"]
    );
    assert_eq!(
        q("SELECT id || ':' || coalesce(parent_id, '-') FROM categories ORDER BY id"),
        ["3:5", "5:10", "10:-"]
    );
    assert_eq!(q("SELECT id FROM books ORDER BY id"), ["1", "3"]);
    assert_eq!(q("SELECT code || lang FROM tags"), ["aen"]);
    assert_eq!(
        q("SELECT body FROM questions ORDER BY id"),
        ["q1", "q2", "q3"]
    );
    assert_eq!(
        q("SELECT body FROM answers ORDER BY id"),
        ["a1", "a2", "a3"]
    );
    // Every row the target holds is the source's row, unchanged.
    let src = dump(&ws.open("src.db"));
    for row in dump(&ws.open("dst.db")) {
        assert!(src.contains(&row), "{row}");
    }
    // The meta marks the pulled-in tables with no module and their row counts.
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("b.json")).unwrap()).unwrap();
    let tables = meta["meta"]["tables"].as_array().unwrap();
    let table = |n: &str| tables.iter().find(|t| t["name"] == n).unwrap();
    assert_eq!(table("questions")["module"], "questions");
    assert!(table("categories")["module"].is_null());
    assert_eq!(table("categories")["rows"], 3);
    assert_eq!(table("users")["rows"], 2);
    // Parents come before their children in the file.
    let pos = |n: &str| tables.iter().position(|t| t["name"] == n).unwrap();
    assert!(pos("categories") < pos("books") && pos("books") < pos("questions"));
}

#[test]
fn without_closure_the_import_names_the_missing_parent_and_writes_nothing() {
    let ws = Workspace::new();
    source(&ws);
    plan(&ws, None);
    ok(&run(&ws, &["run", "qa.toml", "-o", "b.json"]));
    empty(&ws, "dst.db");
    let before = dump(&ws.open("dst.db"));
    let out = ws.import("dst.db", &["b.json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("is violated"), "{err}");
    // The parent table, its key columns and a missing key value are named.
    let named = [
        ("`books` (id)", "(book_id) = (1)"),
        ("`users` (id)", "(author_id) = (1)"),
        (
            "`tags` (code, lang)",
            "(tag_code, tag_lang) = (\"a\", \"en\")",
        ),
    ];
    assert!(
        named
            .iter()
            .any(|(parent, key)| err.contains(parent) && err.contains(key)),
        "{err}"
    );
    assert!(err.contains("closure"), "{err}");
    assert_eq!(before, dump(&ws.open("dst.db")));
}

#[test]
fn the_closure_flag_overrides_the_plan() {
    let ws = Workspace::new();
    source(&ws);
    plan(&ws, Some(false));
    ok(&run(&ws, &["run", "qa.toml", "-o", "b.json", "--closure"]));
    empty(&ws, "dst.db");
    ok(&ws.import("dst.db", &["b.json"]));
    assert_eq!(
        ids(&ws, "dst.db", "SELECT id FROM books ORDER BY id"),
        ["1", "3"]
    );
    // It means nothing to an import plan.
    ws.write(
        "in.toml",
        "[plan]\nkind = \"import\"\n[database]\nurl = \"sqlite://dst.db\"\n",
    );
    let out = run(&ws, &["run", "in.toml", "--file", "b.json", "--closure"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--closure"), "{}", stderr(&out));
}

#[test]
fn plan_shows_the_tables_the_closure_pulls_in() {
    let ws = Workspace::new();
    source(&ws);
    plan(&ws, Some(true));
    let out = run(&ws, &["plan", "qa.toml"]);
    ok(&out);
    let text = stdout(&out);
    for line in [
        "(referenced by questions.book_id)",
        "(referenced by questions.author_id)",
        "(referenced by questions.(tag_code, tag_lang))",
        "(referenced by books.category_id, categories.parent_id)",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("closure") && l.contains("categories")),
        "{text}"
    );
    plan(&ws, None);
    let text = stdout(&run(&ws, &["plan", "qa.toml"]));
    assert!(!text.contains("closure"), "{text}");
    // The JSON view lists them too.
    plan(&ws, Some(true));
    let out = run(&ws, &["plan", "qa.toml", "--format", "json"]);
    let v = support::json_result(&support::stdout(&out));
    let mut pulled: Vec<&str> = v["closure"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["table"].as_str().unwrap())
        .collect();
    pulled.sort();
    assert_eq!(pulled, ["books", "categories", "tags", "users"]);
}

/// a ↔ b reference each other and c references a; only c is selected.
/// Collecting the closure ends (each key is followed once) with exactly the
/// rows the chain of references reaches, and the backup imports into an
/// empty database (the cycle loads as a whole, its keys checked after).
#[test]
fn a_cycle_among_pulled_in_tables_ends_and_imports() {
    let ws = Workspace::new();
    let schema = "PRAGMA foreign_keys = OFF;
             CREATE TABLE a (id INTEGER PRIMARY KEY, b_id INTEGER REFERENCES b(id));
             CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a(id));
             CREATE TABLE c (id INTEGER PRIMARY KEY, a_id INTEGER NOT NULL REFERENCES a(id));";
    ws.open("src.db")
        .execute_batch(&format!(
            "{schema}
             INSERT INTO a VALUES (1, 1), (2, 2), (3, NULL), (4, NULL);
             INSERT INTO b VALUES (1, 2), (2, 3), (3, 4);
             INSERT INTO c VALUES (1, 1);"
        ))
        .unwrap();
    ws.open("new.db").execute_batch(schema).unwrap();
    ws.write(
        "c.toml",
        "[plan]\nkind = \"export\"\n[database]\nurl = \"sqlite://src.db\"\n[export]\nmode = \"modules\"\nmodules = [\"c\"]\nclosure = true\n[[module]]\nname = \"c\"\ntables = [\"c\"]\n[[module]]\nname = \"ab\"\ntables = [\"a\", \"b\"]\n",
    );
    let out = run(&ws, &["run", "c.toml", "-o", "b.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // c1 → a1 → b1 → a2 → b2 → a3 (whose b_id is NULL): a4 and b3 stay out.
    let out = ws.import("new.db", &["b.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let new = ws.open("new.db");
    let ids = |t: &str| -> Vec<i64> {
        new.prepare(&format!("SELECT id FROM {t} ORDER BY id"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(
        (ids("a"), ids("b"), ids("c")),
        (vec![1, 2, 3], vec![1, 2], vec![1])
    );
}

/// The shipped plan: the question bank with the users its questions name.
#[test]
fn the_shipped_module_export_imports_into_an_empty_tiku_database() {
    let ws = Workspace::new();
    let plan = repo_root().join("plans/module-export.toml");
    let plan = plan.to_str().unwrap();
    let src = ws.url("src.db");
    let out = run(&ws, &["run", plan, "--db", &src, "-o", "b.json"]);
    ok(&out);
    assert!(stdout(&out).contains("users"), "{}", stdout(&out));
    ok(&run(
        &ws,
        &["schema", "up", plan, "--db", &ws.url("dst.db")],
    ));
    ok(&ws.import("dst.db", &["b.json"]));
    let count = |db: &str, sql: &str| ids(&ws, db, sql);
    let referenced =
        "SELECT CAST(count(*) AS TEXT) FROM users WHERE id IN (SELECT created_by FROM questions)";
    assert_eq!(count("src.db", referenced), count("dst.db", referenced));
    let all = "SELECT CAST(count(*) AS TEXT) FROM users";
    assert_eq!(count("dst.db", all), count("dst.db", referenced));
}

#[test]
fn a_reference_to_a_table_the_database_lacks_is_an_error_not_a_crash() {
    let ws = Workspace::new();
    let conn = ws.open("src.db");
    // SQLite accepts a REFERENCES to a table that does not exist.
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF;
         CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE categories (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE books (id INTEGER PRIMARY KEY, category_id INTEGER NOT NULL, title TEXT NOT NULL);
         CREATE TABLE tags (code TEXT NOT NULL, lang TEXT NOT NULL, PRIMARY KEY (code, lang));
         CREATE TABLE questions (id INTEGER PRIMARY KEY, book_id INTEGER REFERENCES missing_books(id), body TEXT NOT NULL);
         CREATE TABLE answers (id INTEGER PRIMARY KEY, question_id INTEGER NOT NULL REFERENCES questions(id), body TEXT NOT NULL);
         INSERT INTO questions VALUES (1, 1, 'q1');",
    )
    .unwrap();
    drop(conn);
    let p = plan(&ws, Some(true));
    let out = run(&ws, &["run", p.to_str().unwrap(), "-o", "qa.json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("`missing_books`"), "{}", stderr(&out));
    assert!(!ws.path("qa.json").exists());
}
