//! The backups page's operations: a folder of every kind of backup listed
//! newest first and paged, deletes refused outside the backup folders, a
//! backup taken on demand as a run of record, an export estimated before it
//! runs (tiku demo plan, SQLite and PostgreSQL), and a meta that inflates
//! without end refused within its budget.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use migplan::Error;
use migplan::ops::{
    self, BackupInfo, BackupNowRequest, BackupsRequest, DeleteBackupRequest, EstimateRequest,
    RollbackRequest,
};
use support::{Workspace, repo_root, server, stderr};

// ---------------------------------------------------------------------------
// Memory: this thread's live bytes and their peak, for the meta bomb.
// ---------------------------------------------------------------------------

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters are const-initialised thread locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        count(new as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn count(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add_signed(delta);
        live.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

/// The most this thread held at once while `f` ran, above what it held before.
fn peak_while<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(before));
    let out = f();
    (out, PEAK.with(Cell::get) - before)
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const SCHEMA: &str = "CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at TEXT NOT NULL);
     CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES authors(id), title TEXT NOT NULL, updated_at TEXT NOT NULL);
     INSERT INTO authors VALUES (1, 'Lu Xun', '2024-01-01 00:00:00'), (2, 'Ba Jin', '2024-01-01 00:00:00');
     INSERT INTO books VALUES (1, 1, 'Nahan', '2024-01-01 00:00:00'), (2, 2, 'Jia', '2024-01-01 00:00:00'), (3, 2, 'Chun', '2030-01-01 00:00:00');";

/// A plan over `db.db` with two modules, automatic backups into `auto/`
/// (at most `keep`), exports into `out/`.
fn plan(ws: &Workspace) -> PathBuf {
    ws.open("db.db").execute_batch(SCHEMA).unwrap();
    ws.write(
        "p.toml",
        "[plan]\nname = \"lib\"\nkind = \"export\"\n[database]\nurl = \"sqlite://db.db\"\n\
         [export]\noutput = \"out/{plan}-{timestamp}.json\"\n\
         [backup]\ndir = \"auto\"\nkeep = 5\nretention_days = 30\n\
         [[module]]\nname = \"authors\"\ntables = [\"authors\"]\n\
         [[module]]\nname = \"books\"\ntables = [\"books\"]\ndepends_on = [\"authors\"]\n",
    )
}

fn migplan(ws: &Workspace, args: &[&str]) {
    let out = ws.migplan().args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
}

/// Sets a file's modification time `age` seconds in the past.
fn aged(path: &Path, age: u64) {
    let when = SystemTime::now() - Duration::from_secs(age);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

fn names(list: &[BackupInfo]) -> Vec<&str> {
    list.iter().map(|b| b.name.as_str()).collect()
}

fn listed(dirs: Vec<PathBuf>, offset: usize, limit: usize) -> ops::BackupList {
    ops::backups(&BackupsRequest {
        dirs,
        offset,
        limit,
        ..BackupsRequest::default()
    })
    .expect("the folder is listed")
}

/// `bk/` holding a full backup, an incremental one that follows it, a
/// modules backup, a workbook, a compressed backup and a garbage file,
/// oldest first in that order; plus files that are no backups.
fn folder_of_every_kind(ws: &Workspace) -> PathBuf {
    let p = plan(ws);
    let p = p.to_str().unwrap();
    let db = ws.url("db.db");
    migplan(ws, &["export", "--db", &db, "-o", "bk/full.json"]);
    migplan(
        ws,
        &[
            "export",
            "--db",
            &db,
            "--follows",
            "bk/full.json",
            "-o",
            "bk/inc.json",
        ],
    );
    migplan(
        ws,
        &[
            "run",
            p,
            "--modules",
            "books",
            "--closure",
            "-o",
            "bk/books.json",
        ],
    );
    migplan(ws, &["export", "--db", &db, "-o", "bk/book.xlsx"]);
    migplan(
        ws,
        &[
            "export",
            "--db",
            &db,
            "--compress",
            "zstd",
            "-o",
            "bk/small.json",
        ],
    );
    ws.write("bk/junk.json", "this is not a backup");
    ws.write("bk/notes.txt", "not listed");
    ws.write("bk/.hidden.json", "not listed");
    let order = [
        "full.json",
        "inc.json",
        "books.json",
        "book.xlsx",
        "small.json.zst",
        "junk.json",
    ];
    for (i, name) in order.iter().enumerate() {
        aged(&ws.path(&format!("bk/{name}")), 600 - 60 * i as u64);
    }
    ws.path("bk")
}

// ---------------------------------------------------------------------------
// Listing
// ---------------------------------------------------------------------------

#[test]
fn every_kind_of_backup_is_listed_newest_first_with_what_it_holds() {
    let ws = Workspace::new();
    let bk = folder_of_every_kind(&ws);
    let list = listed(vec![bk.clone()], 0, 0);
    assert_eq!(list.total, 6);
    assert_eq!(
        names(&list.backups),
        [
            "junk.json",
            "small.json.zst",
            "book.xlsx",
            "books.json",
            "inc.json",
            "full.json"
        ]
    );
    let [junk, small, book, books, inc, full] = &list.backups[..] else {
        unreachable!()
    };
    assert!(junk.contents.is_none());
    let why = junk.unreadable.as_deref().unwrap();
    assert!(why.contains("junk.json"), "{why}");

    let c = small.contents.as_ref().unwrap();
    assert_eq!(
        (c.kind.as_str(), c.rows.total, c.rows.tables),
        ("full", 5, 2)
    );
    assert!(c.rows.counted, "SQLite counts its rows");
    assert_eq!(serde_json::to_value(small.compression).unwrap(), "zstd");

    assert_eq!(serde_json::to_value(book.format).unwrap(), "xlsx");
    assert_eq!(book.contents.as_ref().unwrap().rows.total, 5);

    let c = books.contents.as_ref().unwrap();
    assert_eq!(c.kind, "modules");
    assert_eq!(c.modules, ["books"]);
    assert_eq!(c.source.plan.as_deref(), Some("lib"));

    let c = inc.contents.as_ref().unwrap();
    assert_eq!(c.kind, "incremental");
    let full_created = full.contents.as_ref().unwrap().created.clone();
    let since = chrono::DateTime::parse_from_rfc3339(c.since.as_deref().unwrap()).unwrap();
    let created = chrono::DateTime::parse_from_rfc3339(&full_created).unwrap();
    assert!(
        since <= created,
        "an increment starts before the backup it follows ended"
    );
    assert_eq!(c.until.as_deref(), Some(c.created.as_str()));
    assert!(!c.rows.counted, "an incremental meta counts whole tables");
    let link = c
        .chain
        .as_ref()
        .expect("the increment follows the full backup");
    let full_id = full.contents.as_ref().unwrap().backup_id.clone().unwrap();
    assert_eq!(link.follows, full_id);
    assert_eq!(link.file.as_deref(), Some(full.path.as_path()));

    let c = full.contents.as_ref().unwrap();
    assert_eq!(
        (c.kind.as_str(), c.source.engine.as_str()),
        ("full", "sqlite")
    );
    assert!(c.chain.is_none());
    assert_eq!(
        full.size_bytes,
        std::fs::metadata(&full.path).unwrap().len()
    );
    assert!(!full.automatic);

    // The JSON the console serves: contents flattened beside the file's facts.
    let json = serde_json::to_value(inc).unwrap();
    assert_eq!(json["kind"], "incremental");
    assert_eq!(json["chain"]["follows"], full_id.as_str());
    assert_eq!(json["format"], "json");
    assert_eq!(json["compression"], "none");
}

#[test]
fn pages_hold_their_slice_and_a_chain_link_is_found_beyond_the_page() {
    let ws = Workspace::new();
    let bk = folder_of_every_kind(&ws);
    let page = listed(vec![bk.clone()], 2, 3);
    assert_eq!(page.total, 6);
    assert_eq!(
        names(&page.backups),
        ["book.xlsx", "books.json", "inc.json"]
    );
    let link = page.backups[2].contents.as_ref().unwrap().chain.as_ref();
    assert_eq!(
        link.unwrap().file.as_deref(),
        Some(bk.join("full.json").as_path())
    );
    assert!(listed(vec![bk.clone()], 6, 3).backups.is_empty());
    // One folder named twice is listed once.
    assert_eq!(listed(vec![bk.clone(), ws.path("./bk")], 0, 0).total, 6);
}

#[test]
fn an_increment_brings_the_chain_it_ends_and_a_missing_base_is_named() {
    let ws = Workspace::new();
    let bk = folder_of_every_kind(&ws);
    let dirs = vec![bk.clone()];
    let chain = ops::chain_to(&bk.join("inc.json"), &dirs).unwrap();
    assert_eq!(chain, [bk.join("full.json"), bk.join("inc.json")]);
    let alone = ops::chain_to(&bk.join("books.json"), &dirs).unwrap();
    assert_eq!(
        alone,
        [bk.join("books.json")],
        "a modules backup is a chain of one"
    );
    std::fs::remove_file(bk.join("full.json")).unwrap();
    let gap = ops::chain_to(&bk.join("inc.json"), &dirs)
        .unwrap_err()
        .to_string();
    assert!(
        gap.contains("inc.json follows backup")
            && gap.contains("which is in none of the backup folders"),
        "{gap}"
    );
}

#[test]
fn a_plan_lists_its_backup_and_export_folders_and_its_retention() {
    let ws = Workspace::new();
    let p = plan(&ws);
    let dirs = ops::default_dirs(&ops::load_plan(&p, None).unwrap());
    let canonical = std::fs::canonicalize(ws.dir.path()).unwrap();
    let at = |d: &Path| d.strip_prefix(&canonical).unwrap_or(d).to_path_buf();
    assert_eq!(
        dirs.iter().map(|d| at(d)).collect::<Vec<_>>(),
        [PathBuf::from("auto"), PathBuf::from("out")],
        "{dirs:?}"
    );
    migplan(&ws, &["run", p.to_str().unwrap()]);
    let list = ops::backups(&BackupsRequest {
        plan: Some(p.clone()),
        ..BackupsRequest::default()
    })
    .unwrap();
    assert_eq!(list.total, 1, "the export written into out/");
    assert!(list.backups[0].name.starts_with("lib-"));
    let retention = list.retention.unwrap();
    assert_eq!(
        (retention.keep, retention.retention_days),
        (Some(5), Some(30))
    );
    assert!(matches!(
        ops::backups(&BackupsRequest::default()),
        Err(Error::NoBackupFolders)
    ));
}

/// The demo plans' folders: `plans/backups` for exports, `backups/before-change`
/// for the backups before a change.
#[test]
fn the_demo_plans_folders_are_the_documented_ones() {
    let plans = repo_root().join("plans");
    let dirs = |name: &str| ops::default_dirs(&ops::load_plan(&plans.join(name), None).unwrap());
    let migrate = dirs("migrate.toml");
    assert!(migrate[0].ends_with("backups/before-change"), "{migrate:?}");
    assert!(migrate[1].ends_with("plans"), "{migrate:?}");
    let full = dirs("full-backup.toml");
    assert_eq!(
        full.len(),
        1,
        "backups before change and exports share plans/backups"
    );
    assert!(full[0].ends_with("plans/backups"), "{full:?}");
}

// ---------------------------------------------------------------------------
// Deleting
// ---------------------------------------------------------------------------

fn delete(dirs: &[PathBuf], file: PathBuf) -> migplan::error::Result<()> {
    ops::delete_backup(&DeleteBackupRequest {
        dirs: dirs.to_vec(),
        file,
        ..DeleteBackupRequest::default()
    })
}

#[cfg(unix)]
#[test]
fn deletes_are_refused_outside_the_backup_folders_and_done_inside() {
    use std::os::unix::fs::symlink;
    let ws = Workspace::new();
    let bk = folder_of_every_kind(&ws);
    migplan(
        &ws,
        &["export", "--db", &ws.url("db.db"), "-o", "other/kept.json"],
    );
    let kept = ws.path("other/kept.json");
    symlink(&kept, bk.join("link.json")).unwrap();
    symlink(ws.path("other"), bk.join("sub")).unwrap();
    let dirs = [bk.clone()];
    let refused = [
        kept.clone(),
        bk.join("../other/kept.json"),
        bk.join("link.json"),
        bk.join("sub/kept.json"),
        bk.join("notes.txt"),
        bk.join("junk.json"),
        bk.join("missing.json"),
        bk.clone(),
    ];
    for file in refused {
        match delete(&dirs, file.clone()) {
            Err(e @ Error::NotABackupInFolders { .. }) => {
                assert!(e.help().is_some_and(|h| h.contains("pick one")), "{e}");
                assert_eq!(e.exit_code(), migplan::error::exit::USAGE);
            }
            other => panic!("{}: refused, not {other:?}", file.display()),
        }
    }
    assert!(kept.exists() && bk.join("link.json").exists());
    assert!(bk.join("junk.json").exists() && bk.join("notes.txt").exists());

    delete(&dirs, bk.join("full.json")).expect("a backup in the folder goes");
    assert!(!bk.join("full.json").exists());
    delete(&dirs, bk.join("book.xlsx")).expect("a workbook too");
    // Given relative to the working folder, through a link to the folder.
    symlink(&bk, ws.path("bk-link")).unwrap();
    delete(&[ws.path("bk-link")], bk.join("small.json.zst")).expect("the same folder");
    assert_eq!(
        names(&listed(vec![bk], 0, 0).backups),
        ["junk.json", "books.json", "inc.json"]
    );
}

// ---------------------------------------------------------------------------
// A backup on demand
// ---------------------------------------------------------------------------

#[test]
fn a_backup_on_demand_is_private_on_record_and_blocks_no_rollback() {
    let ws = Workspace::new();
    let p = plan(&ws);
    // Run 1 changes the database (an import plan over the same file).
    migplan(
        &ws,
        &["export", "--db", &ws.url("db.db"), "-o", "seed.json"],
    );
    ws.write(
        "imp.toml",
        "[plan]\nkind = \"import\"\n[database]\nurl = \"sqlite://db.db\"\n[import]\nfile = \"seed.json\"\nconflict = \"skip\"\n[backup]\ndir = \"auto\"\n",
    );
    migplan(&ws, &["run", "imp.toml"]);

    let report = ops::backup_now(&BackupNowRequest {
        plan: p.clone(),
        ..BackupNowRequest::default()
    })
    .expect("backed up");
    let file = PathBuf::from(&report.file);
    assert!(file.starts_with(std::fs::canonicalize(ws.path("auto")).unwrap()));
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("migplan-auto-db-") && name.ends_with(".json.zst"),
        "{name}"
    );
    assert!(name.contains("-lib-run2-"), "{name}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let rows: u64 = report.tables.iter().map(|t| t.rows).sum();
    assert_eq!(rows, 5);

    let (kind, status, backup): (String, String, String) = ws
        .open("db.db")
        .query_row(
            "SELECT kind, status, backup FROM migplan_history WHERE id = 2",
            (),
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((kind.as_str(), status.as_str()), ("backup", "succeeded"));
    assert_eq!(PathBuf::from(backup), file);

    let list = ops::backups(&BackupsRequest {
        plan: Some(p.clone()),
        ..BackupsRequest::default()
    })
    .unwrap();
    let auto: Vec<&BackupInfo> = list.backups.iter().filter(|b| b.automatic).collect();
    assert_eq!(auto.len(), 2, "run 1's backup before change, and this one");
    assert_eq!(auto[0].path, file, "newest first");

    // The backup changed nothing: run 1 can still be rolled back.
    let preview = ops::rollback_preview(&RollbackRequest {
        run: 1,
        db: Some(ws.url("db.db")),
        ..RollbackRequest::default()
    })
    .unwrap();
    assert!(
        preview.refusal.is_none(),
        "{:?}",
        preview.refusal.map(|r| r.message)
    );
}

#[test]
fn a_backup_on_demand_takes_the_run_lock() {
    let ws = Workspace::new();
    let p = plan(&ws);
    migplan(
        &ws,
        &["export", "--db", &ws.url("db.db"), "-o", "seed.json"],
    );
    let (child, release) = ws.held_at(
        "import-before-commit",
        &[
            "import",
            "--db",
            &ws.url("db.db"),
            "--conflict",
            "skip",
            "seed.json",
        ],
    );
    let record = ops::Record {
        lock_timeout: 0,
        ..ops::Record::default()
    };
    let busy = ops::backup_now(&BackupNowRequest {
        plan: p,
        record,
        ..BackupNowRequest::default()
    });
    std::fs::write(&release, "go").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    match busy {
        Err(e @ Error::History(migplan::error::HistoryError::LockHeld { .. })) => {
            assert!(e.to_string().contains("import"), "{e}")
        }
        other => panic!("the import held the lock: {other:?}"),
    }
    let auto = std::fs::read_dir(ws.path("auto")).map_or(0, |d| d.count());
    assert_eq!(
        auto, 0,
        "the import's backup went by its own plan-less default"
    );
}

// ---------------------------------------------------------------------------
// Estimates
// ---------------------------------------------------------------------------

/// `plans/module-export.toml` on `db` (schema applied and seeded), the
/// `questions` module estimated with its closure.
fn estimate_questions(ws: &Workspace, db: &str) -> ops::Estimate {
    let plan = repo_root().join("plans/module-export.toml");
    migplan(
        ws,
        &["run", plan.to_str().unwrap(), "--db", db, "-o", "x.json"],
    );
    ops::estimate(&EstimateRequest {
        plan,
        db: Some(db.to_string()),
        modules: vec!["questions".into()],
        closure: true,
        ..EstimateRequest::default()
    })
    .expect("estimated")
}

/// The tables, their order and the closure's reasons; each estimate the
/// table's count when `exact`, else (statistics) non-zero where the table
/// has rows.
fn check_questions_estimate(e: &ops::Estimate, exact: bool, count: impl Fn(&str) -> u64) {
    let tables: Vec<&str> = e.tables.iter().map(|t| t.table.as_str()).collect();
    let at = |t: &str| tables.iter().position(|x| *x == t).unwrap();
    assert_eq!(tables.len(), 4, "{tables:?}");
    assert!(at("categories") < at("question_books") && at("question_books") < at("questions"));
    assert!(at("users") < at("questions"), "{tables:?}");
    let of = |t: &str| e.tables.iter().find(|x| x.table == t).unwrap();
    assert_eq!(of("questions").module.as_deref(), Some("questions"));
    assert_eq!(of("questions").pulled_in_by, None);
    assert_eq!(of("users").module, None, "pulled in, whatever its module");
    assert_eq!(
        of("users").pulled_in_by.as_deref(),
        Some("questions.created_by → users")
    );
    assert_eq!(
        of("question_books").pulled_in_by.as_deref(),
        Some("questions.book_id → question_books")
    );
    let categories = of("categories").pulled_in_by.clone().unwrap();
    assert!(
        categories.contains("questions.category_id → categories"),
        "{categories}"
    );
    assert!(
        categories.contains("question_books.category_id → categories"),
        "{categories}"
    );
    for t in &e.tables {
        match exact {
            true => assert_eq!(t.rows_estimate, count(&t.table), "{}", t.table),
            false => assert!(t.rows_estimate > 0 || count(&t.table) == 0, "{}", t.table),
        }
    }
    assert_eq!(
        e.total_rows,
        e.tables.iter().map(|t| t.rows_estimate).sum::<u64>()
    );
}

#[test]
fn an_estimate_of_the_demo_plan_on_sqlite_names_what_closure_pulls_in() {
    let ws = Workspace::new();
    let e = estimate_questions(&ws, &ws.url("tiku.db"));
    let conn = ws.open("tiku.db");
    check_questions_estimate(&e, true, |t| support::count(&conn, t) as u64);
    assert!(e.total_rows > 0);
    // Without closure: the module's table alone.
    let plain = ops::estimate(&EstimateRequest {
        plan: repo_root().join("plans/module-export.toml"),
        db: Some(ws.url("tiku.db")),
        modules: vec!["questions".into()],
        ..EstimateRequest::default()
    })
    .unwrap();
    assert_eq!(plain.tables.len(), 1);
}

#[test]
fn an_estimate_on_postgres_reads_the_statistics_not_the_rows() {
    let Some(pg) = server::postgres("estimate") else {
        return;
    };
    let ws = Workspace::new();
    let e = estimate_questions(&ws, &pg.url);
    // Never analysed: counted.
    check_questions_estimate(&e, true, |t| pg.count(t) as u64);
    pg.execute("ANALYZE users");
    let analysed = pg.count("users") as u64;
    pg.execute(
        "INSERT INTO users (id, username, email, password_hash, created_at, updated_at) \
         SELECT 900000 + g, 'extra' || g, 'extra' || g || '@x', 'h', now(), now() FROM generate_series(1, 3) g",
    );
    let e = ops::estimate(&EstimateRequest {
        plan: repo_root().join("plans/module-export.toml"),
        db: Some(pg.url.clone()),
        modules: vec!["questions".into()],
        closure: true,
        ..EstimateRequest::default()
    })
    .unwrap();
    let users = e.tables.iter().find(|t| t.table == "users").unwrap();
    assert_eq!(
        users.rows_estimate, analysed,
        "pg_class.reltuples, not count(*)"
    );
    assert_eq!(pg.count("users") as u64, analysed + 3);
}

/// MySQL: InnoDB's statistics for the estimate, and a JSON backup whose
/// meta carries them is listed as not counted.
#[test]
fn an_estimate_on_mysql_and_its_backups_row_counts() {
    let Some(my) = server::mysql("estimate") else {
        return;
    };
    let ws = Workspace::new();
    let e = estimate_questions(&ws, &my.url);
    check_questions_estimate(&e, false, |t| my.count(t) as u64);
    migplan(&ws, &["export", "--db", &my.url, "-o", "bk/my.json"]);
    migplan(&ws, &["export", "--db", &my.url, "-o", "bk/my.xlsx"]);
    let list = listed(vec![ws.path("bk")], 0, 0);
    let counted = |name: &str| {
        let b = list.backups.iter().find(|b| b.name == name).unwrap();
        b.contents.as_ref().unwrap().rows.counted
    };
    assert!(
        !counted("my.json"),
        "InnoDB's estimate, written before the rows"
    );
    assert!(
        counted("my.xlsx"),
        "a workbook counts its rows as it writes them"
    );
}

// ---------------------------------------------------------------------------
// A meta bomb
// ---------------------------------------------------------------------------

/// A zstd file of a few dozen KiB whose meta never ends: `[0,0,0,…` over
/// `inflated` bytes, every one a JSON value the parser would keep.
fn meta_bomb(path: &Path, inflated: usize) {
    let file = std::fs::File::create(path).unwrap();
    let mut z = zstd::stream::Encoder::new(file, 1).unwrap();
    z.write_all(br#"{"meta":{"format":"migplan-backup","format_version":2,"padding":["#)
        .unwrap();
    let chunk = b"0,".repeat(1 << 19);
    for _ in 0..inflated / chunk.len() {
        z.write_all(&chunk).unwrap();
    }
    z.write_all(b"0]}}").unwrap();
    z.finish().unwrap();
}

#[test]
fn a_meta_that_inflates_without_end_is_refused_within_its_budget() {
    let ws = Workspace::new();
    std::fs::create_dir(ws.path("bk")).unwrap();
    let bomb = ws.path("bk/bomb.json.zst");
    meta_bomb(&bomb, 256 << 20);
    let size = std::fs::metadata(&bomb).unwrap().len();
    assert!(size < 64 << 10, "{size} bytes inflate to 256 MiB");

    let started = std::time::Instant::now();
    let (list, peak) = peak_while(|| listed(vec![ws.path("bk")], 0, 0));
    let why = list.backups[0].unreadable.clone().expect("refused");
    assert!(
        why.contains("bomb.json.zst: the backup's meta does not end within its first 1 MiB, the limit (`[import] max_meta_bytes`)"),
        "{why}"
    );
    assert!(why.contains("raise `max_meta_bytes`"), "{why}");
    // Unbounded, the 128 Mi values alone would take 4 GiB; with a 4 MiB
    // budget this took 130 MiB.
    assert!(peak < 64 << 20, "peak {} MiB", peak >> 20);
    assert!(started.elapsed() < Duration::from_secs(20));

    // The import path reads the meta through the same reader.
    let err = migplan::format::read_meta(&bomb).unwrap_err();
    assert!(
        matches!(err, Error::MetaTooLong { limit, .. } if limit == 1 << 20),
        "{err}"
    );
    assert!(
        delete(&[ws.path("bk")], bomb.clone()).is_err(),
        "not a backup"
    );
}
