//! No secret is ever printed: a distinctive password, in every well-formed,
//! malformed and odd URL form, given through every way a URL reaches
//! migplan (`--db`, `--source`/`--target`, a plan's `[database] url`,
//! `${VAR}`, `MIGPLAN_ENV`'s environment), fed to every command; stdout and
//! stderr are searched for any piece of the password.

mod support;

use std::path::Path;

use support::Workspace;
use support::test::{Engine, Test, for_engines};

/// The password's pieces: none of them may appear in any output. The full
/// password holds an unencoded `/`, `#` and `@` between them.
const PIECES: [&str; 3] = ["S3cr3t-pw", "Qz9Xk7", "Wv5Jp2"];
const PASSWORD: &str = "S3cr3t-pw/Qz9Xk7#Wv5Jp2@x";

/// URLs no driver can reach (port 9 refuses at once), in every form.
fn unreachable_urls() -> Vec<String> {
    let simple = PIECES[0];
    vec![
        format!("postgres:/u:{simple}@127.0.0.1:9/db"),
        format!("postgres//u:{simple}@127.0.0.1:9"),
        format!("postgresql:u:{simple}@127.0.0.1:9"),
        format!("mysql:/root:{simple}@127.0.0.1:9/db"),
        format!("postgres://u:{PASSWORD}@127.0.0.1:9/db"),
        format!("mysql://root:{PASSWORD}@127.0.0.1:9/db"),
        format!("postgres://u:{simple}:{}@127.0.0.1:9/db", PIECES[1]),
        format!("mysql://root@127.0.0.1:9/db?password={simple}"),
        format!("postgres://u@127.0.0.1:9/db?sslmode=disable&password={simple}"),
    ]
}

/// A real server's URL with the password put in: PostgreSQL's test server
/// trusts and connects, MariaDB's refuses with its own message.
fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').unwrap();
    let user = user.split(':').next().unwrap();
    format!("{scheme}://{user}:{password}@{host}")
}

fn assert_silent(what: &str, out: &std::process::Output) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for piece in PIECES {
        assert!(!text.contains(piece), "{what} printed `{piece}`:\n{text}");
    }
}

const SCHEMA: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);\n";

/// A workspace with migrations, a SQLite database and a backup of it.
fn workspace() -> Workspace {
    let ws = Workspace::new();
    ws.migrations(SCHEMA);
    ws.write("migrations/V1__init.undo.sql", "DROP TABLE t;\n");
    ws.open("src.db")
        .execute_batch(&format!("{SCHEMA}INSERT INTO t VALUES (1, 'a');"))
        .unwrap();
    ws.export("src.db", "backup.json");
    ws.write(
        "plan.toml",
        "[plan]\nkind = \"import\"\n[schema]\nmigrations = \"migrations\"\n[import]\nfile = \"backup.json\"\n",
    );
    ws.write(
        "copy.toml",
        &copy_plan(&ws.url("src.db"), &ws.url("dst.db")),
    );
    ws
}

fn copy_plan(source: &str, target: &str) -> String {
    format!("[plan]\nkind = \"copy\"\n[source]\nurl = \"{source}\"\n[target]\nurl = \"{target}\"\n")
}

/// Every command that takes a database URL, given `url` through its flag.
fn commands_with(url: &str) -> Vec<Vec<String>> {
    let cmds: &[&[&str]] = &[
        &["run", "plan.toml", "--db", url, "--yes"],
        &[
            "run",
            "plan.toml",
            "--db",
            url,
            "--dry-run",
            "--report",
            "json",
        ],
        &["run", "copy.toml", "--source", url],
        &["run", "copy.toml", "--target", url, "--dry-run"],
        &["validate", "plan.toml", "--db", url],
        &["validate", "plan.toml", "--db", url, "--format", "json"],
        &["validate", "plan.toml", "--db", url, "--format", "github"],
        &["plan", "plan.toml", "--db", url],
        &["plan", "plan.toml", "--db", url, "--format", "json"],
        &["export", "--db", url, "-o", "out.json"],
        &["import", "--db", url, "backup.json", "--yes"],
        &[
            "import",
            "--db",
            url,
            "backup.json",
            "--dry-run",
            "--report",
            "json",
        ],
        &["verify", "backup.json", "--db", url],
        &["verify", "backup.json", "--db", url, "--format", "json"],
        &["history", "--db", url],
        &["history", "--db", url, "--format", "json"],
        &["status", "--db", url],
        &["status", "plan.toml", "--db", url, "--format", "json"],
        &["rollback", "1", "--db", url, "--yes"],
        &["schema", "status", "plan.toml", "--db", url],
        &["schema", "up", "plan.toml", "--db", url, "--yes"],
        &[
            "schema",
            "down",
            "plan.toml",
            "--to",
            "0",
            "--db",
            url,
            "--yes",
        ],
        &["schema", "baseline", "plan.toml", "1", "--db", url],
        &["schema", "repair", "plan.toml", "--db", url],
    ];
    cmds.iter()
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect()
}

/// Every command that reads the database URL from `plan`.
fn commands_on_plan(plan: &str) -> Vec<Vec<&str>> {
    vec![
        vec!["run", plan, "--yes"],
        vec!["run", plan, "--dry-run", "--report", "json"],
        vec!["validate", plan],
        vec!["validate", plan, "--format", "json"],
        vec!["validate", plan, "--format", "github"],
        vec!["plan", plan],
        vec!["plan", plan, "--format", "json"],
        vec!["verify", "backup.json", "--plan", plan],
        vec!["history", plan],
        vec!["status", plan],
        vec!["rollback", plan, "1", "--yes"],
        vec!["schema", "status", plan],
        vec!["schema", "up", plan, "--yes"],
        vec!["schema", "down", plan, "--to", "0", "--yes"],
        vec!["schema", "baseline", plan, "1"],
        vec!["schema", "repair", plan],
    ]
}

fn run_all_flags(ws: &Workspace, url: &str) {
    for args in commands_with(url) {
        let out = ws.migplan().args(&args).output().unwrap();
        assert_silent(&args.join(" "), &out);
    }
}

/// The plan's `[database] url` line; `extra` lands on the same line, so a
/// `validate` caret quotes the URL.
fn plan_with_url(ws: &Workspace, url: &str) {
    let toml_url = url.replace('\\', "\\\\").replace('"', "\\\"");
    ws.write(
        "url.toml",
        &format!(
            "database = {{ url = \"{toml_url}\", nmae = 1 }}\n[plan]\nkind = \"import\"\n[schema]\nmigrations = \"migrations\"\n[import]\nfile = \"backup.json\"\n"
        ),
    );
    ws.write(
        "good.toml",
        &format!(
            "[plan]\nkind = \"import\"\n[database]\nurl = \"{toml_url}\"\n[schema]\nmigrations = \"migrations\"\n[import]\nfile = \"backup.json\"\n"
        ),
    );
    ws.write(
        "env.toml",
        "[plan]\nkind = \"import\"\n[database]\nurl = \"${MIGPLAN_SECRET_URL}\"\n[schema]\nmigrations = \"migrations\"\n[import]\nfile = \"backup.json\"\n[env.prod.database]\nurl = \"${MIGPLAN_SECRET_URL}\"\n",
    );
}

fn run_all_plans(ws: &Workspace, url: &str) {
    plan_with_url(ws, url);
    for plan in ["url.toml", "good.toml", "env.toml"] {
        for args in commands_on_plan(plan) {
            let out = ws
                .migplan()
                .args(&args)
                .env("MIGPLAN_SECRET_URL", url)
                .env("MIGPLAN_ENV", "prod")
                .output()
                .unwrap();
            assert_silent(&args.join(" "), &out);
        }
    }
}

#[test]
fn no_command_prints_the_password_of_any_url_form() {
    let ws = workspace();
    for url in unreachable_urls() {
        run_all_flags(&ws, &url);
        run_all_plans(&ws, &url);
    }
}

#[test]
fn validate_caret_quotes_the_url_line_masked() {
    let ws = workspace();
    let url = format!("postgres:/u:{PASSWORD}@127.0.0.1:9/db");
    plan_with_url(&ws, &url);
    let out = ws
        .migplan()
        .args(["validate", "url.toml"])
        .output()
        .unwrap();
    assert_silent("validate url.toml", &out);
    let err = format!("{}{}", support::stdout(&out), support::stderr(&out));
    // The line is quoted, password masked, and the caret still points at
    // the misspelt key after it.
    let line = err
        .lines()
        .find(|l| l.contains("database = {"))
        .expect(&err);
    assert!(line.contains("u:***@127.0.0.1:9/db"), "{err}");
    let caret = err.lines().find(|l| l.contains('^')).expect(&err);
    assert_eq!(
        line.find("nmae").unwrap(),
        caret.find('^').unwrap(),
        "{err}"
    );
}

#[test]
fn a_password_from_a_variable_does_not_print() {
    let ws = workspace();
    ws.write(
        "var.toml",
        "[plan]\nkind = \"import\"\n[database]\nurl = \"postgres:/u:${PW}@127.0.0.1:9/db\"\n[import]\nfile = \"backup.json\"\n",
    );
    for args in commands_on_plan("var.toml") {
        let out = ws
            .migplan()
            .args(&args)
            .env("PW", PASSWORD)
            .output()
            .unwrap();
        assert_silent(&args.join(" "), &out);
    }
}

/// The drivers' own messages (connected, refused, unknown database) on real
/// servers, the password in plain and odd forms.
/// The drivers' own messages (connected, refused, unknown database) on real
/// servers, the password in plain and odd forms.
#[test]
fn no_command_prints_the_password_on_a_server() {
    for_engines(&Engine::SERVERS, |engine| {
        let db = Test::on(engine);
        let ws = workspace();
        for password in [PIECES[0], PASSWORD] {
            let url = with_password(db.url(), password);
            run_all_flags(&ws, &url);
            run_all_plans(&ws, &url);
            let missing = format!("{url}_missing");
            let out = ws
                .migplan()
                .args(["export", "--db", &missing, "-o", "x.json"])
                .output()
                .unwrap();
            assert_silent("export into a missing database", &out);
        }
    });
}

#[test]
fn sqlite_urls_still_work_with_redaction_everywhere() {
    let ws = workspace();
    let out = ws
        .migplan()
        .args(["run", "plan.toml", "--db", &ws.url("dst.db"), "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert!(Path::new(&ws.path("dst.db")).exists());
}
