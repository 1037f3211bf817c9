//! `migplan serve`: the web console, driven as its users drive it — a real
//! `migplan serve` process and a real headless Chromium (chromedriver) —
//! and refused as an attacker would be refused, over raw HTTP.

#[path = "support/browser.rs"]
mod browser;
mod support;

use std::time::Duration;

use browser::{Browser, Console};
use support::{Workspace, stderr};

const ITEMS: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, v VARCHAR(20) NOT NULL)";

/// `dst.db` holds items 1 and 2, and run 1 imported `b.json` into it
/// (item 2 changed, item 3 added), taking a backup first; `before` is
/// the database before run 1.
fn imported() -> (Workspace, Vec<String>) {
    let ws = Workspace::new();
    let src = ws.open("src.db");
    src.execute_batch(ITEMS).unwrap();
    src.execute_batch("INSERT INTO items VALUES (2, 'changed'), (3, 'added')")
        .unwrap();
    ws.export("src.db", "b.json");
    let dst = ws.open("dst.db");
    dst.execute_batch(ITEMS).unwrap();
    dst.execute_batch("INSERT INTO items VALUES (1, 'one'), (2, 'two')")
        .unwrap();
    let before = support::dump(&dst);
    let out = ws.import("dst.db", &["b.json", "--conflict", "overwrite"]);
    assert!(out.status.success(), "{}", stderr(&out));
    (ws, before)
}

/// The demo plans, their migrations and seed, copied into a workspace, the
/// demo database in it: what `migplan serve` serves given nothing.
fn demo() -> Workspace {
    let ws = Workspace::new();
    let root = support::repo_root();
    for dir in ["plans", "examples/tiku", "adapters"] {
        copy_dir(&root.join(dir), &ws.path(dir));
    }
    let _ = std::fs::remove_dir_all(ws.path("plans/backups"));
    ws
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn demo_env(ws: &Workspace) -> Vec<(&'static str, String)> {
    vec![(
        "MIGPLAN_DEMO_DB",
        ws.path("demo/tiku.db").display().to_string(),
    )]
}

/// The demo served with nothing given, and a browser signed in to it.
async fn on_the_demo() -> (Workspace, Console, Browser) {
    let ws = demo();
    let env = demo_env(&ws);
    let console = Console::start(ws.dir.path(), &[], &env_refs(&env));
    let b = Browser::start().await;
    b.goto(&console.login_url()).await;
    (ws, console, b)
}

fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn a_request_without_the_token_with_a_foreign_host_or_origin_is_refused() {
    let (ws, _) = imported();
    let console = Console::start(ws.dir.path(), &["--db", &ws.url("dst.db")], &[]);
    let (status, body) = console.http("GET", "/", &[], "");
    assert_eq!(status, 401, "{body}");
    let (status, _) = console.http(
        "GET",
        "/api/status",
        &[("Authorization", "Bearer wrong-token")],
        "",
    );
    assert_eq!(status, 401);
    let (status, _) = console.http("GET", "/?token=wrong", &[], "");
    assert_eq!(status, 401);

    // DNS rebinding: the right cookie, a foreign host name.
    let cookie = console.login_cookie();
    assert!(cookie.starts_with("migplan_session_"), "{cookie}");
    let (status, _) = console.http(
        "GET",
        "/",
        &[("Cookie", &cookie), ("Host", "evil.example:80")],
        "",
    );
    assert_eq!(status, 421);

    // A change: the cookie rides along on a forged cross-site form, but
    // neither the Origin nor the CSRF token can be forged.
    let own = format!("http://127.0.0.1:{}", console.port());
    let (_, page) = console.http("GET", "/", &[("Cookie", &cookie)], "");
    let csrf = page
        .split("data-csrf=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let form = "operator=x&message=y&notes=z";
    let form_type = ("Content-Type", "application/x-www-form-urlencoded");
    for (origin, token, why) in [
        ("http://evil.example", csrf.as_str(), "foreign origin"),
        (own.as_str(), "not-the-token", "wrong CSRF token"),
    ] {
        let headers = [
            ("Cookie", cookie.as_str()),
            ("Origin", origin),
            ("x-csrf-token", token),
            form_type,
        ];
        let (status, body) = console.http("POST", "/history/1/rollback", &headers, form);
        assert_eq!(status, 403, "{why}: {body}");
    }
    let runs = console.api("/api/history");
    assert_eq!(runs.as_array().unwrap().len(), 1, "no rollback ran: {runs}");
    assert_eq!(runs[0]["status"], "succeeded");
    // The page never shows a password, and the API answers a program.
    let status = console.api("/api/status");
    assert_eq!(status["engine"], "sqlite");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_dashboard_in_english_and_chinese() {
    if !browser::available() {
        return;
    }
    let (_ws, console, b) = on_the_demo().await;
    assert_eq!(b.text("h1").await, "Dashboard");
    let tables = b.text("#tables").await;
    assert!(
        tables.contains("questions") && tables.contains("200"),
        "{tables}"
    );
    assert_eq!(b.text("#schema-version").await, "4");
    let when = b.wait_for("table.runs time").await;
    let title = when.attr("title").await.unwrap().unwrap_or_default();
    assert!(title.ends_with("UTC"), "UTC on hover: {title}");
    b.screenshot("dashboard-en").await;
    b.click("#lang-switch").await;
    b.wait_text("h1", |t| t == "概览", Duration::from_secs(10))
        .await;
    assert!(b.page_text().await.contains("最近运行"));
    b.screenshot("dashboard-zh").await;
    b.goto(&format!("{}/history", console.base)).await;
    assert_eq!(b.text("h1").await, "历史");
    b.screenshot("history-zh").await;
    b.close().await;
}

/// Fills the who-and-why fields every change asks for.
/// Screenshots of the page in English and in Chinese (`NAME-en`,
/// `NAME-zh`), the page left in English.
async fn both_languages(b: &Browser, name: &str) {
    b.screenshot(&format!("{name}-en")).await;
    b.click("#lang-switch").await;
    b.wait_for("html[lang=zh-CN]").await;
    b.screenshot(&format!("{name}-zh")).await;
    b.click("#lang-switch").await;
    b.wait_for("html[lang=en]").await;
}

async fn fill_record(b: &Browser) {
    b.fill("input[name=operator]", "Ana <ana@example.com>")
        .await;
    b.fill("input[name=message]", "undo the bad import").await;
    b.fill("textarea[name=notes]", "ticket 42").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_is_rolled_back_from_its_history_page() {
    if !browser::available() {
        return;
    }
    let (ws, before) = imported();
    let console = Console::start(ws.dir.path(), &["--db", &ws.url("dst.db")], &[]);
    let b = Browser::start().await;
    b.goto(&console.login_url()).await;
    b.goto(&format!("{}/history/1", console.base)).await;
    both_languages(&b, "run").await;
    b.click("#rollback").await;
    let restore = b.text("#restore-tables").await;
    assert!(
        restore.contains("items 3 2"),
        "rows now 3, after 2: {restore}"
    );
    both_languages(&b, "rollback").await;
    fill_record(&b).await;
    b.click("#confirm-rollback").await;
    b.wait_text("#job-status", |t| t == "succeeded", Duration::from_secs(60))
        .await;
    b.screenshot("job-rollback-en").await;
    assert_eq!(
        support::dump(&ws.open("dst.db")),
        before,
        "the database as before run 1"
    );
    let runs = console.api("/api/history");
    assert_eq!(runs[0]["kind"], "rollback");
    assert_eq!(runs[0]["operator"], "Ana <ana@example.com>");
    // The run it undid named first, then the operator's note.
    assert!(
        runs[0]["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("undoes run 1 ("),
        "{runs}"
    );
    assert_eq!(runs[0]["notes"][1], "ticket 42");
    assert_eq!(runs[1]["status"], "rolled_back");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_job_leaves_the_database_unchanged() {
    if !browser::available() {
        return;
    }
    let (ws, _) = imported();
    let after_import = support::dump(&ws.open("dst.db"));
    let release = ws.path("release");
    let release_env = release.display().to_string();
    // The job waits at the start of its first table until released.
    let env = [
        ("MIGPLAN_PAUSE_AT", "import-table"),
        ("MIGPLAN_PAUSE_FILE", release_env.as_str()),
    ];
    let console = Console::start(ws.dir.path(), &["--db", &ws.url("dst.db")], &env);
    let b = Browser::start().await;
    b.goto(&console.login_url()).await;
    b.goto(&format!("{}/history/1/rollback", console.base))
        .await;
    fill_record(&b).await;
    b.click("#confirm-rollback").await;
    b.wait_for("#cancel").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !ws.path("release.paused").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the job never reached its first table"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.click("#cancel").await;
    let jobs = console.api("/api/jobs");
    assert_eq!(jobs[0]["cancel_requested"], true, "{jobs}");
    std::fs::write(&release, "").unwrap();
    b.wait_text("#job-status", |t| t == "cancelled", Duration::from_secs(60))
        .await;
    assert!(
        b.text("#job-error-message")
            .await
            .contains("interrupted: nothing was changed")
    );
    b.screenshot("job-cancelled-en").await;
    assert_eq!(
        support::dump(&ws.open("dst.db")),
        after_import,
        "nothing restored, nothing lost"
    );
    let runs = console.api("/api/history");
    assert_eq!(runs[0]["kind"], "rollback");
    assert_eq!(runs[0]["status"], "failed");
    assert_eq!(runs[1]["status"], "succeeded", "run 1 still stands");
    b.close().await;
}

/// Waits for a file to appear in `dir` whose name ends with `suffix`, whole
/// (Chromium writes `*.crdownload` first).
async fn downloaded(dir: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let found = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path());
        if let Some(f) = found
            .into_iter()
            .find(|p| p.to_string_lossy().ends_with(suffix))
        {
            return f;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing downloaded into {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_export_wizard_downloads_a_workbook_of_the_chosen_modules() {
    if !browser::available() {
        return;
    }
    let (ws, console, b) = on_the_demo().await;
    b.goto(&format!("{}/export", console.base)).await;
    assert_eq!(b.text("h1").await, "Export");
    both_languages(&b, "export").await;
    // The demo plan's modules: keep the question bank, drop the rest.
    for module in ["users", "practice"] {
        b.click(&format!(
            "fieldset.plan-modules:not([disabled]) input[value={module}]"
        ))
        .await;
    }
    b.click("#format-xlsx").await;
    b.click("#estimate-button").await;
    let questions = b
        .text("#estimate-table tr[data-table=questions] td.num")
        .await;
    assert_eq!(questions, "200", "the demo's questions, estimated");
    let estimated = b.text("#estimate-table").await;
    assert!(!estimated.contains("practices"), "{estimated}");
    b.screenshot("export-estimate-en").await;
    b.click("#start-export").await;
    b.wait_text("#job-status", |t| t == "succeeded", Duration::from_secs(60))
        .await;
    both_languages(&b, "job-export").await;
    let job = console.api("/api/jobs")[0].clone();
    assert_eq!(job["kind"], "export", "{job}");
    let written = job["file"].as_str().unwrap().to_string();
    assert!(written.ends_with(".xlsx"), "{written}");
    let exported: Vec<&str> = job["result"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert!(
        exported.contains(&"questions") && exported.contains(&"categories"),
        "{exported:?}"
    );
    assert!(
        !exported.contains(&"practices"),
        "the practice module was left out: {exported:?}"
    );
    b.click("#job-download").await;
    let got = downloaded(&b.downloads(), ".xlsx").await;
    assert_eq!(
        std::fs::read(&got).unwrap(),
        std::fs::read(&written).unwrap(),
        "the download is the backup written"
    );
    // And it is a workbook migplan reads back: a dry run of it into the demo.
    let out = ws.import(
        "demo/tiku.db",
        &[got.to_str().unwrap(), "--dry-run", "--conflict", "skip"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    b.close().await;
}

/// The demo served, a backup of it taken (`b.json`), then a row deleted
/// and one changed: what the import wizard is to put back. Returns the
/// database as the backup holds it.
fn demo_drifted(ws: &Workspace) -> Vec<String> {
    let db = ws.open("demo/tiku.db");
    let before = support::dump(&db);
    ws.export("demo/tiku.db", "b.json");
    db.execute_batch(
        "DELETE FROM mistakes WHERE id = (SELECT max(id) FROM mistakes);
         UPDATE users SET nickname = '改过的昵称' WHERE id = 4;",
    )
    .unwrap();
    before
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_uploaded_is_previewed_row_by_row_then_confirmed_into_the_database() {
    if !browser::available() {
        return;
    }
    let (ws, console, b) = on_the_demo().await;
    let before = demo_drifted(&ws);
    let drifted = support::dump(&ws.open("demo/tiku.db"));
    b.goto(&format!("{}/import", console.base)).await;
    both_languages(&b, "import").await;
    b.upload("#upload-file", &ws.path("b.json")).await;
    b.click("input[name=plan][value$='restore.toml']").await;
    b.click("#upload-button").await;
    b.wait_for("#preview-form").await;
    assert_eq!(b.text("h1").await, "Import · b.json");
    assert!(
        b.text("#adapter-steps")
            .await
            .contains("no adapter step applies")
    );
    both_languages(&b, "import-check").await;
    b.click("#start-preview").await;
    b.wait_text("#job-status", |t| t == "succeeded", Duration::from_secs(60))
        .await;
    b.click("#job-next-link").await;
    b.wait_for("#preview-tables").await;
    let cell =
        |table: &str, class: &str| format!("#preview-tables tr[data-table={table}] td.{class}");
    assert_eq!(b.text(&cell("mistakes", "c-new")).await, "1");
    assert_eq!(b.text(&cell("users", "c-changed")).await, "1");
    assert_eq!(b.text(&cell("users", "c-identical")).await, "9");
    assert_eq!(b.text(&cell("questions", "c-identical")).await, "200");
    assert_eq!(b.text(&cell("users", "f-overwritten")).await, "1");
    assert_eq!(
        support::dump(&ws.open("demo/tiku.db")),
        drifted,
        "a preview writes nothing"
    );
    both_languages(&b, "import-preview").await;
    // The changed row, filtered: its difference, old → new.
    b.click(&format!("{} a", cell("users", "c-changed"))).await;
    let diff = b.text("#preview-rows tbody tr.row-changed ul.diff").await;
    assert!(diff.starts_with("nickname: \"改过的昵称\" → \""), "{diff}");
    assert_eq!(b.client_rows("#preview-rows tbody tr").await, 1);
    // Weighing `skip` for the users module: the count moves, nothing runs.
    b.select("select[name='policy.users']", "skip").await;
    b.wait_text(
        &cell("users", "f-skipped"),
        |t| t == "1",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(b.text(&cell("users", "f-overwritten")).await, "0");
    b.select("select[name='policy.users']", "overwrite").await;
    b.wait_text(
        &cell("users", "f-overwritten"),
        |t| t == "1",
        Duration::from_secs(10),
    )
    .await;
    fill_record(&b).await;
    b.click("#confirm-import").await;
    b.wait_text("#job-status", |t| t == "succeeded", Duration::from_secs(60))
        .await;
    assert_eq!(
        support::dump(&ws.open("demo/tiku.db")),
        before,
        "the backup's rows are back"
    );
    let runs = console.api("/api/history");
    assert_eq!(runs[0]["kind"], "import", "{runs}");
    assert_eq!(runs[0]["message"], "undo the bad import");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_backups_page_backs_up_now_verifies_downloads_and_deletes() {
    if !browser::available() {
        return;
    }
    let (_ws, console, b) = on_the_demo().await;
    b.goto(&format!("{}/backups", console.base)).await;
    b.click("#backup-now").await;
    b.wait_text("#job-status", |t| t == "succeeded", Duration::from_secs(60))
        .await;
    let taken = console.api("/api/jobs")[0]["file"]
        .as_str()
        .unwrap()
        .to_string();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&taken).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "a backup is private");
    let listed = console.api("/api/backups");
    // The demo's first start exported once; the backup taken now is newest.
    assert_eq!(listed["total"], 2, "{listed}");
    assert_eq!(listed["backups"][0]["path"], taken.as_str(), "{listed}");
    assert_eq!(listed["backups"][0]["automatic"], true);
    assert_eq!(listed["backups"][0]["kind"], "full");
    assert_eq!(listed["backups"][0]["rows"]["total"], 2865, "{listed}");
    let runs = console.api("/api/history");
    assert_eq!(runs[0]["kind"], "backup", "{runs}");

    b.goto(&format!("{}/backups", console.base)).await;
    let row = b.text("#backups tbody tr").await;
    assert!(row.contains("full") && row.contains("2,865"), "{row}");
    both_languages(&b, "backups").await;
    // Verify: the database is what the backup holds.
    b.click("#backups tbody tr button[hx-post='/backups/verify']")
        .await;
    b.wait_text("#job-status", |t| t == "succeeded", Duration::from_secs(60))
        .await;
    let verified = console.api("/api/jobs")[0].clone();
    assert_eq!(verified["kind"], "verify");
    assert_eq!(verified["result"]["identical"], true, "{verified}");
    let verdict = b.text("#verify-verdict").await;
    assert!(verdict.contains("exactly"), "{verdict}");
    let users = b.text("#verify-tables tr[data-table=users]").await;
    assert!(users.starts_with("users 10 10 0 0 0"), "{users}");
    // A download outside the folders is refused, one inside sent.
    let cookie = console.login_cookie();
    let (status, body) = console.http(
        "GET",
        "/backups/download?file=/etc/passwd",
        &[("Cookie", &cookie)],
        "",
    );
    assert_eq!(status, 400);
    assert!(!body.contains("root:"), "{body}");
    let (status, head, _) = console.http_full(
        "GET",
        &format!("/backups/download?file={}", taken.replace('/', "%2F")),
        &[("Cookie", &cookie)],
        "",
    );
    assert_eq!(status, 200);
    let size = std::fs::metadata(&taken).unwrap().len();
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-length: {size}")),
        "{head}"
    );
    assert!(head.contains("attachment; filename="), "{head}");
    // Delete, confirmed.
    b.goto(&format!("{}/backups", console.base)).await;
    b.click("#backups details.delete summary").await;
    b.click("#backups details.delete input[name=sure]").await;
    b.click("#backups details.delete button").await;
    let name = std::path::Path::new(&taken)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    b.wait_text("#backups", |t| !t.contains(&name), Duration::from_secs(20))
        .await;
    assert!(!std::path::Path::new(&taken).exists());
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_workbook_with_a_bad_cell_is_refused_naming_the_cell() {
    if !browser::available() {
        return;
    }
    let (ws, console, b) = on_the_demo().await;
    let db = ws.open("demo/tiku.db");
    ws.export("demo/tiku.db", "b.xlsx");
    // A person types a word where the workbook holds a number.
    let edited = std::process::Command::new("python3")
        .args([
            "-c",
            "import openpyxl,sys; wb=openpyxl.load_workbook(sys.argv[1]); wb['users']['A5']='five'; wb.save(sys.argv[1])",
            ws.path("b.xlsx").to_str().unwrap(),
        ])
        .output()
        .expect("python3 runs");
    if !edited.status.success() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "openpyxl is required under CI=true"
        );
        eprintln!(
            "SKIPPED: openpyxl not installed: {}",
            String::from_utf8_lossy(&edited.stderr)
        );
        return;
    }
    let before = support::dump(&db);
    b.goto(&format!("{}/import", console.base)).await;
    b.upload("#upload-file", &ws.path("b.xlsx")).await;
    b.click("input[name=plan][value$='restore.toml']").await;
    b.click("#upload-button").await;
    b.click("#start-preview").await;
    b.wait_text("#job-status", |t| t == "failed", Duration::from_secs(60))
        .await;
    let error = b.text("#job-error-message").await;
    assert!(error.contains("users!A5"), "the cell is named: {error}");
    assert!(
        error.starts_with("b.xlsx: "),
        "the file as the person named it: {error}"
    );
    assert!(error.contains("five"), "what was found is named: {error}");
    both_languages(&b, "import-bad-cell").await;
    assert_eq!(support::dump(&db), before, "nothing written");
    b.close().await;
}

#[test]
fn read_only_hides_every_change_and_refuses_it_when_posted() {
    let (ws, before) = imported();
    let after_import = support::dump(&ws.open("dst.db"));
    let console = Console::start(
        ws.dir.path(),
        &["--db", &ws.url("dst.db"), "--read-only"],
        &[],
    );
    let cookie = console.login_cookie();
    let get = |path: &str| console.http("GET", path, &[("Cookie", cookie.as_str())], "");
    let (status, page) = get("/");
    assert_eq!(status, 200);
    for change in ["href=\"/export\"", "href=\"/import\"", "href=\"/schema\""] {
        assert!(!page.contains(change), "read-only shows {change}");
    }
    let (_, run) = get("/history/1");
    assert!(!run.contains("/rollback"), "no rollback offered: {run}");
    let (status, _) = get("/export");
    assert_ne!(status, 200, "the export wizard is not served");
    let (_, backups) = get("/backups");
    assert!(!backups.contains("backup-now") && !backups.contains("/backups/delete"));
    // Posted anyway, by a program holding the token: refused.
    let auth = format!("Bearer {}", console.token);
    let form = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    for path in ["/history/1/rollback", "/backups/now", "/export", "/schema"] {
        let (status, body) =
            console.http("POST", path, &form, "operator=x&message=y&notes=z&force=on");
        assert!(status >= 400, "{path}: {status} {body}");
        assert!(body.contains("read-only"), "{path}: {body}");
    }
    assert_eq!(
        support::dump(&ws.open("dst.db")),
        after_import,
        "nothing changed"
    );
    assert_ne!(after_import, before);
    let runs = console.api("/api/history");
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
}

/// The servers' clients block: off the runtime's async workers.
fn sync<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// The console on PostgreSQL and MariaDB: the demo restored into a server
/// database, then served with `--db`; the export wizard, a backup verified
/// on the backups page, and a drifted row previewed and put back.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_exports_verifies_previews_and_imports_on_postgres_and_mariadb() {
    if !browser::available() {
        return;
    }
    use support::server::{Server, ServerDb};
    for server in [Server::Postgres, Server::Mysql] {
        let Some(db) = sync(|| ServerDb::create(server, "console")) else {
            continue;
        };
        let ws = demo();
        let restored = ws
            .migplan()
            .args(["run", "plans/restore.toml", "--db", &db.url])
            .output()
            .unwrap();
        assert!(
            restored.status.success(),
            "{server:?}: {}",
            stderr(&restored)
        );
        let console = Console::start(ws.dir.path(), &["plans/restore.toml", "--db", &db.url], &[]);
        let b = Browser::start().await;
        b.goto(&console.login_url()).await;
        let tables = b.text("#tables").await;
        assert!(
            tables.contains("questions") && tables.contains("200"),
            "{server:?}: {tables}"
        );
        assert!(!b.page_text().await.contains(":@"), "no password shown");

        // Export: the whole database, compressed.
        b.goto(&format!("{}/export", console.base)).await;
        b.click("input[name=format][value='json.zst']").await;
        b.click("#start-export").await;
        b.wait_text(
            "#job-status",
            |t| t == "succeeded",
            Duration::from_secs(120),
        )
        .await;
        let exported = console.api("/api/jobs")[0]["file"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(exported.ends_with(".json.zst"), "{exported}");

        // Verify it on the backups page: identical.
        b.goto(&format!("{}/backups", console.base)).await;
        let name = std::path::Path::new(&exported)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        b.click(&format!(
            "#backups tr[data-file='{name}'] button[hx-post='/backups/verify']"
        ))
        .await;
        b.wait_text(
            "#job-status",
            |t| t == "succeeded",
            Duration::from_secs(120),
        )
        .await;
        let verified = console.api("/api/jobs")[0].clone();
        assert_eq!(
            verified["result"]["identical"], true,
            "{server:?}: {verified}"
        );

        // A row drifts; the backup, picked from the backups page, puts it back.
        let before = sync(|| db.dump());
        sync(|| db.execute("UPDATE users SET nickname = 'drifted' WHERE id = 4"));
        b.goto(&format!("{}/backups", console.base)).await;
        b.click(&format!(
            "#backups tr[data-file='{name}'] a[href^='/backups/import']"
        ))
        .await;
        b.click("#start-preview").await;
        b.wait_text(
            "#job-status",
            |t| t == "succeeded",
            Duration::from_secs(120),
        )
        .await;
        b.click("#job-next-link").await;
        let changed = b
            .text("#preview-tables tr[data-table=users] td.c-changed")
            .await;
        assert_eq!(changed, "1", "{server:?}");
        let identical = b
            .text("#preview-tables tr[data-table=questions] td.c-identical")
            .await;
        assert_eq!(identical, "200", "{server:?}");
        fill_record(&b).await;
        b.click("#confirm-import").await;
        b.wait_text(
            "#job-status",
            |t| t == "succeeded",
            Duration::from_secs(120),
        )
        .await;
        assert_eq!(sync(|| db.dump()), before, "{server:?}: the row is back");
        assert!(
            std::path::Path::new(&exported).exists(),
            "a picked backup is never removed"
        );
        b.close().await;
        sync(|| drop(db));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_plan_one_policy_covers_every_table_of_the_preview_and_the_import() {
    if !browser::available() {
        return;
    }
    let (ws, _) = imported();
    ws.open("dst.db")
        .execute_batch("UPDATE items SET v = 'drifted' WHERE id = 3")
        .unwrap();
    let console = Console::start(ws.dir.path(), &["--db", &ws.url("dst.db")], &[]);
    let b = Browser::start().await;
    b.goto(&console.login_url()).await;
    b.goto(&format!("{}/import", console.base)).await;
    b.upload("#upload-file", &ws.path("b.json")).await;
    b.click("#upload-button").await;
    b.select("select[name='policy.*']", "skip").await;
    b.click("#start-preview").await;
    b.wait_text("#job-status", |t| t == "succeeded", Duration::from_secs(60))
        .await;
    b.click("#job-next-link").await;
    let items = "#preview-tables tr[data-table=items]";
    assert_eq!(b.text(&format!("{items} td.c-identical")).await, "1");
    assert_eq!(b.text(&format!("{items} td.c-changed")).await, "1");
    assert_eq!(b.text(&format!("{items} td.f-skipped")).await, "1");
    b.select("select[name='policy.*']", "overwrite").await;
    b.wait_text(
        &format!("{items} td.f-overwritten"),
        |t| t == "1",
        Duration::from_secs(10),
    )
    .await;
    fill_record(&b).await;
    b.click("#confirm-import").await;
    b.wait_text("#job-status", |t| t == "succeeded", Duration::from_secs(60))
        .await;
    let v: String = ws
        .open("dst.db")
        .query_row("SELECT v FROM items WHERE id = 3", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, "added", "overwritten by the file's row");
    b.close().await;
}

#[test]
fn a_second_change_is_refused_naming_the_first_and_ctrl_c_stops_after_it_rolls_back() {
    let (ws, _) = imported();
    let after_import = support::dump(&ws.open("dst.db"));
    let release = ws.path("release");
    let release_env = release.display().to_string();
    let env = [
        ("MIGPLAN_PAUSE_AT", "import-table"),
        ("MIGPLAN_PAUSE_FILE", release_env.as_str()),
    ];
    let mut console = Console::start(ws.dir.path(), &["--db", &ws.url("dst.db")], &env);
    let auth = format!("Bearer {}", console.token);
    let (status, head, _) = console.http_full(
        "POST",
        "/history/1/rollback",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        "operator=Ana&message=undo&notes=ticket+7",
    );
    assert_eq!(status, 303, "{head}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !ws.path("release.paused").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the job never reached its first table"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A second change of the same database is refused, the first named.
    let (status, second) = console.http(
        "POST",
        "/history/1/rollback",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("HX-Request", "true"),
        ],
        "operator=Bo&message=again&notes=ticket+8",
    );
    assert_eq!(status, 422, "{second}");
    assert!(
        second.contains("job 1") && second.contains("already changing"),
        "{second}"
    );
    // Ctrl-C while the job holds the database; the job goes on to its next
    // safe point, where it sees the cancel and rolls back.
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        std::fs::write(&release, "").unwrap();
    });
    let stopped = console.interrupt();
    releaser.join().unwrap();
    assert!(stopped.success(), "{stopped:?}");
    assert_eq!(
        support::dump(&ws.open("dst.db")),
        after_import,
        "nothing restored, nothing lost"
    );
    let out = ws
        .migplan()
        .args(["history", "--db", &ws.url("dst.db"), "--format", "json"])
        .output()
        .unwrap();
    let runs = support::json_result(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(runs[0]["kind"], "rollback", "{runs}");
    assert_eq!(runs[0]["status"], "failed", "{runs}");
    assert_eq!(runs[1]["status"], "succeeded", "{runs}");
}

const STAMPED: &str =
    "CREATE TABLE items (id INTEGER PRIMARY KEY, v VARCHAR(20) NOT NULL, updated_at TEXT NOT NULL)";
const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// `src.db` and a chain of it in `backups/`: `full.json`, then `inc.json`
/// following it (item 2 changed, item 4 added); `dst.db` holds item 1
/// alone, changed. Returns `src.db` as `inc.json` leaves it.
fn a_chain(ws: &Workspace) -> Vec<String> {
    let src = ws.open("src.db");
    src.execute_batch(STAMPED).unwrap();
    src.execute_batch(&format!(
        "INSERT INTO items VALUES (1, 'one', {NOW}), (2, 'two', {NOW}), (3, 'three', {NOW})"
    ))
    .unwrap();
    // `--follows` starts an increment a margin before the backup it follows.
    std::thread::sleep(Duration::from_millis(2100));
    let db = ws.url("src.db");
    std::fs::create_dir_all(ws.path("backups")).unwrap();
    let export = |args: &[&str]| {
        let out = ws.migplan().args(args).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    };
    export(&["export", "--db", &db, "-o", "backups/full.json"]);
    std::thread::sleep(Duration::from_millis(50));
    src.execute_batch(&format!(
        "UPDATE items SET v = 'two, changed', updated_at = {NOW} WHERE id = 2;
         INSERT INTO items VALUES (4, 'four', {NOW});"
    ))
    .unwrap();
    std::thread::sleep(Duration::from_millis(2100));
    export(&[
        "export",
        "--db",
        &db,
        "--follows",
        "backups/full.json",
        "-o",
        "backups/inc.json",
    ]);
    let dst = ws.open("dst.db");
    dst.execute_batch(STAMPED).unwrap();
    dst.execute_batch("INSERT INTO items VALUES (1, 'drifted', '2020-01-01T00:00:00Z')")
        .unwrap();
    support::dump(&src)
}

/// The files the check page lists, in the order it lists them.
async fn listed_files(b: &Browser) -> Vec<String> {
    let rows = b.wait_for("#import-files").await;
    let mut names = vec![];
    for row in rows
        .find_all(fantoccini::Locator::Css("tbody tr"))
        .await
        .unwrap()
    {
        names.push(row.attr("data-file").await.unwrap().unwrap_or_default());
    }
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incremental_chain_uploaded_in_any_order_or_picked_is_imported_in_chain_order() {
    if !browser::available() {
        return;
    }
    let ws = Workspace::new();
    let after = a_chain(&ws);
    let console = Console::start(
        ws.dir.path(),
        &["--db", &ws.url("dst.db"), "--backups", "backups"],
        &[],
    );
    let b = Browser::start().await;
    b.goto(&console.login_url()).await;
    // Two full backups are no chain: refused, the files named as uploaded.
    std::fs::copy(ws.path("backups/full.json"), ws.path("again.json")).unwrap();
    b.goto(&format!("{}/import", console.base)).await;
    let two = format!(
        "{}\n{}",
        ws.path("backups/full.json").display(),
        ws.path("again.json").display()
    );
    b.upload("#upload-file", std::path::Path::new(&two)).await;
    b.click("#upload-button").await;
    let refused = b
        .wait_text("#form-error", |t| !t.is_empty(), Duration::from_secs(10))
        .await;
    assert!(
        refused.contains("again.json is a full backup: only incremental backups may follow"),
        "{refused}"
    );
    assert!(!refused.contains("migplan-uploads"), "{refused}");
    // The increment picked first, the full backup second: put in order.
    let two = format!(
        "{}\n{}",
        ws.path("backups/inc.json").display(),
        ws.path("backups/full.json").display()
    );
    b.goto(&format!("{}/import", console.base)).await;
    b.upload("#upload-file", std::path::Path::new(&two)).await;
    b.click("#upload-button").await;
    b.wait_for("#preview-form").await;
    assert_eq!(b.text("h1").await, "Import · full.json → inc.json");
    assert_eq!(listed_files(&b).await, ["full.json", "inc.json"]);
    b.screenshot("import-chain-en").await;
    b.select("select[name='policy.*']", "overwrite").await;
    b.click("#start-preview").await;
    b.wait_text("#job-status", |t| t == "succeeded", Duration::from_secs(60))
        .await;
    b.click("#job-next-link").await;
    // Judged against the database before the chain: 1 changed, 2 to 4 new.
    let items = "#preview-tables tr[data-table=items]";
    assert_eq!(b.text(&format!("{items} td.c-changed")).await, "1");
    assert_eq!(b.text(&format!("{items} td.c-new")).await, "3");
    fill_record(&b).await;
    b.click("#confirm-import").await;
    b.wait_text("#job-status", |t| t == "succeeded", Duration::from_secs(60))
        .await;
    assert_eq!(support::dump(&ws.open("dst.db")), after, "the chain's end");
    // "Import" on the increment in the backups page brings its base too.
    let inc = ws.path("backups/inc.json");
    b.goto(&format!(
        "{}/backups/import?file={}",
        console.base,
        inc.display()
    ))
    .await;
    assert_eq!(listed_files(&b).await, ["full.json", "inc.json"]);
    b.close().await;
}
