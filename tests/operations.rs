//! The operations layer as a second front door would use it: typed
//! requests in, typed outcomes and events out, and a cancel button that
//! stops a running operation with everything rolled back.

mod support;

use std::sync::{Arc, Mutex};

use migplan::Error;
use migplan::events::{self, Cancel, Event, Listener, Recorded};
use migplan::ops::{self, ExportRequest, ImportRequest, Outcome};
use support::{Workspace, count, dump};

const ROWS: i64 = 20_000;

/// A database with `rows` rows in `item`, and `extra` more with ids above them.
fn database(ws: &Workspace, name: &str, rows: i64) {
    let conn = ws.open(name);
    conn.execute_batch(
        "CREATE TABLE item (id INTEGER PRIMARY KEY, label TEXT NOT NULL);
         BEGIN;",
    )
    .unwrap();
    let mut insert = conn
        .prepare("INSERT INTO item (id, label) VALUES (?1, ?2)")
        .unwrap();
    for i in 1..=rows {
        insert.execute((i, format!("item {i}"))).unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
}

fn backup(ws: &Workspace) -> std::path::PathBuf {
    database(ws, "source.db", ROWS);
    let out = ws.path("backup.json");
    let req = ExportRequest {
        db: ws.url("source.db"),
        output: out.clone(),
        ..ExportRequest::default()
    };
    let outcome = events::scope(Arc::new(events::Silent), Cancel::new(), || {
        ops::export_shortcut(&req)
    })
    .expect("export");
    let Outcome::Export(report) = outcome else {
        panic!("an export reports an export: {outcome:?}");
    };
    assert_eq!(report.tables[0].rows, ROWS as u64);
    out
}

/// Presses cancel the first time rows are reported moving.
struct CancelOnRows {
    cancel: Cancel,
    seen: Mutex<Vec<Event>>,
}

impl Listener for CancelOnRows {
    fn event(&self, event: &Event) {
        if matches!(event, Event::Advanced { .. }) {
            self.cancel.cancel();
        }
        self.seen.lock().unwrap().push(event.clone());
    }
}

#[test]
fn a_cancelled_import_stops_with_the_database_as_before() {
    let ws = Workspace::new();
    let file = backup(&ws);
    database(&ws, "target.db", 0);
    ws.open("target.db")
        .execute("INSERT INTO item VALUES (900000, 'kept')", ())
        .unwrap();
    let before = dump(&ws.open("target.db"));
    let cancel = Cancel::new();
    let listener = Arc::new(CancelOnRows {
        cancel: cancel.clone(),
        seen: Mutex::default(),
    });
    let req = ImportRequest {
        db: ws.url("target.db"),
        files: vec![file],
        ..ImportRequest::default()
    };
    let result = events::scope(listener.clone(), cancel, || ops::import_shortcut(&req));
    assert!(
        matches!(result, Err(Error::Cancelled)),
        "cancelled, not {result:?}"
    );
    let after = dump(&ws.open("target.db"));
    assert_eq!(before, after, "a cancelled import changes nothing");
    assert_eq!(count(&ws.open("target.db"), "item"), 1);
    let seen = listener.seen.lock().unwrap();
    let moved: u64 = seen
        .iter()
        .map(|e| match e {
            Event::Advanced { rows } => *rows,
            _ => 0,
        })
        .sum();
    assert!(
        moved > 0 && moved < ROWS as u64,
        "stopped part way: {moved} of {ROWS} rows reported"
    );
    let status: String = ws
        .open("target.db")
        .query_row(
            "SELECT status FROM migplan_history ORDER BY id DESC LIMIT 1",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(status, "failed", "the history says the run did not happen");
}

#[test]
fn a_cancelled_export_leaves_no_file() {
    let ws = Workspace::new();
    database(&ws, "source.db", ROWS);
    let cancel = Cancel::new();
    let listener = Arc::new(CancelOnRows {
        cancel: cancel.clone(),
        seen: Mutex::default(),
    });
    let out = ws.path("out/backup.json");
    let req = ExportRequest {
        db: ws.url("source.db"),
        output: out.clone(),
        ..ExportRequest::default()
    };
    let result = events::scope(listener, cancel, || ops::export_shortcut(&req));
    assert!(
        matches!(result, Err(Error::Cancelled)),
        "cancelled, not {result:?}"
    );
    assert!(!out.exists(), "no backup under its final name");
    let left: Vec<_> = std::fs::read_dir(ws.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "no partial file left behind: {left:?}");
}

#[test]
fn an_import_tells_its_listener_and_returns_its_report() {
    let ws = Workspace::new();
    let file = backup(&ws);
    database(&ws, "target.db", 0);
    let recorded = Arc::new(Recorded::default());
    let req = ImportRequest {
        db: ws.url("target.db"),
        files: vec![file],
        ..ImportRequest::default()
    };
    let outcome = events::scope(recorded.clone(), Cancel::new(), || {
        ops::import_shortcut(&req)
    })
    .expect("import");
    let Outcome::Imports { dry_run, reports } = outcome else {
        panic!("an import reports imports: {outcome:?}");
    };
    assert!(!dry_run);
    assert_eq!(reports[0].tables[0].inserted, ROWS as u64);
    let events = recorded.events();
    let position = |wanted: &dyn Fn(&Event) -> bool| events.iter().position(wanted);
    let backup = position(&|e| matches!(e, Event::BackupBeforeChange(p) if p.exists()));
    let importing = position(&|e| {
        *e == Event::Started {
            verb: "importing",
            total: ROWS as u64,
        }
    });
    assert!(
        matches!((backup, importing), (Some(b), Some(i)) if b < i),
        "the backup before change is said before rows load: {events:?}"
    );
    // Its rows are counted as the backup before change, never as an
    // "exporting" the person did not ask for.
    let backing_up = position(&|e| matches!(e, Event::Started { verb: "backup", .. }));
    assert!(
        matches!((backing_up, importing), (Some(b), Some(i)) if b < i),
        "{events:?}"
    );
    assert!(
        !events.iter().any(|e| matches!(
            e,
            Event::Started {
                verb: "exporting",
                ..
            }
        )),
        "{events:?}"
    );
    assert!(events.contains(&Event::Table {
        name: "item".into(),
        rows: Some(ROWS as u64),
    }));
    let moved: u64 = events[importing.unwrap()..]
        .iter()
        .filter_map(|e| match e {
            Event::Advanced { rows } => Some(*rows),
            _ => None,
        })
        .sum();
    assert_eq!(moved, ROWS as u64, "every row reported once");
    assert_eq!(count(&ws.open("target.db"), "item"), ROWS);
}

/// Ctrl-C during `migplan import` (sent while the import is held at the
/// start of its table) stops it at the next safe point: exit 130, a message
/// that says nothing changed, the database as before.
#[test]
fn ctrl_c_stops_an_import_with_nothing_changed() {
    use std::process::Command;
    use std::time::Duration;
    let ws = Workspace::new();
    let file = backup(&ws);
    database(&ws, "target.db", 0);
    let before = dump(&ws.open("target.db"));
    let target = ws.url("target.db");
    let (child, release) = ws.held_at(
        "import-table",
        &["import", "--db", &target, file.to_str().unwrap()],
    );
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // The handler runs on its own thread: give it the signal before the
    // import goes on.
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&release, "go").unwrap();
    let out = child.wait_with_output().unwrap();
    let err = support::stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted: stopping at the next safe point"),
        "{err}"
    );
    assert!(
        err.contains("\ninterrupted: nothing was changed") && !err.contains("error:"),
        "{err}"
    );
    assert_eq!(before, dump(&ws.open("target.db")), "nothing changed");
}
