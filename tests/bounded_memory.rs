//! Hostile backup files that inflate far beyond their size: refused with
//! the file and the limit named, the real binary's peak memory (its max
//! RSS, from `getrusage` through a python3 wrapper) staying under 256 MB.

mod support;

use std::io::Write;
use std::process::{Command, Output};

use support::{Workspace, count, stderr};

const SCHEMA: &str = "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);";
/// The peak memory allowed to a run refusing a hostile file.
const PEAK_KB: u64 = 256 * 1024;
const MIB: usize = 1 << 20;

/// Runs `migplan ARGS` in the workspace; returns its output and max RSS in
/// KiB. `None` (visibly skipped; a failure under `CI=true`) without python3.
fn migplan_with_peak(ws: &Workspace, args: &[&str]) -> Option<(Output, u64)> {
    let script = "import resource, subprocess, sys\n\
                  r = subprocess.run(sys.argv[2:])\n\
                  open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n\
                  sys.exit(r.returncode)";
    let rss = ws.path("rss.txt");
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&rss)
        .arg(assert_cmd::cargo::cargo_bin("migplan"))
        .args(args)
        .current_dir(ws.dir.path())
        .output();
    let Ok(out) = out else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 is required under CI=true"
        );
        eprintln!("SKIPPED: python3 not found");
        return None;
    };
    let peak = std::fs::read_to_string(&rss)
        .unwrap_or_else(|_| panic!("no rss written: {}", stderr(&out)))
        .trim()
        .parse()
        .unwrap();
    Some((out, peak))
}

/// A target database holding one row, to show nothing changed.
fn target(ws: &Workspace) {
    let db = ws.open("dst.db");
    db.execute_batch(SCHEMA).unwrap();
    db.execute("INSERT INTO notes VALUES (100, 'before')", [])
        .unwrap();
}

fn assert_refused(ws: &Workspace, out: &Output, peak_kb: u64, expected: &[&str]) {
    let err = stderr(out);
    eprintln!("peak memory: {peak_kb} KiB");
    assert_eq!(out.status.code(), Some(1), "{err}");
    for e in expected {
        assert!(err.contains(e), "missing {e:?} in:\n{err}");
    }
    assert!(
        peak_kb < PEAK_KB,
        "peak memory {peak_kb} KiB, over {PEAK_KB} KiB:\n{err}"
    );
    assert_eq!(count(&ws.open("dst.db"), "notes"), 1);
}

/// A real JSON backup of `notes`, split around its one value: the text
/// before it and after it.
fn backup_around_value(ws: &Workspace) -> (String, String) {
    let src = ws.open("src.db");
    src.execute_batch(SCHEMA).unwrap();
    src.execute("INSERT INTO notes VALUES (1, 'PLACEHOLDER')", [])
        .unwrap();
    ws.export("src.db", "plain.json");
    let text = std::fs::read_to_string(ws.path("plain.json")).unwrap();
    let (before, after) = text.split_once("PLACEHOLDER").unwrap();
    (before.to_string(), after.to_string())
}

/// The backup with its value replaced by 1 GiB of `a`, as concatenated
/// zstd frames (one 1 MiB frame repeated): a few KiB on disk.
fn zstd_bomb(ws: &Workspace, name: &str) {
    let (before, after) = backup_around_value(ws);
    let chunk = zstd::encode_all(&vec![b'a'; MIB][..], 1).unwrap();
    let mut f = std::fs::File::create(ws.path(name)).unwrap();
    f.write_all(&zstd::encode_all(before.as_bytes(), 1).unwrap())
        .unwrap();
    for _ in 0..1024 {
        f.write_all(&chunk).unwrap();
    }
    f.write_all(&zstd::encode_all(after.as_bytes(), 1).unwrap())
        .unwrap();
}

/// The same as concatenated gzip members.
fn gzip_bomb(ws: &Workspace, name: &str) {
    let gz = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let (before, after) = backup_around_value(ws);
    let chunk = gz(&vec![b'a'; MIB]);
    let mut f = std::fs::File::create(ws.path(name)).unwrap();
    f.write_all(&gz(before.as_bytes())).unwrap();
    for _ in 0..1024 {
        f.write_all(&chunk).unwrap();
    }
    f.write_all(&gz(after.as_bytes())).unwrap();
}

#[test]
fn a_zstd_backup_holding_a_1_gib_string_is_refused_in_bounded_memory() {
    let ws = Workspace::new();
    zstd_bomb(&ws, "bomb.json.zst");
    assert!(std::fs::metadata(ws.path("bomb.json.zst")).unwrap().len() < MIB as u64);
    target(&ws);
    let db = ws.url("dst.db");
    let Some((out, peak)) = migplan_with_peak(&ws, &["import", "--db", &db, "bomb.json.zst"])
    else {
        return;
    };
    assert_refused(
        &ws,
        &out,
        peak,
        &[
            "bomb.json.zst:",
            "table `notes`: a value longer than 64 MiB, the limit (`[import] max_value_bytes`)",
        ],
    );
}

#[test]
fn a_gzip_backup_holding_a_1_gib_string_is_refused_in_bounded_memory() {
    let ws = Workspace::new();
    gzip_bomb(&ws, "bomb.json.gz");
    target(&ws);
    let db = ws.url("dst.db");
    let Some((out, peak)) = migplan_with_peak(&ws, &["import", "--db", &db, "bomb.json.gz"]) else {
        return;
    };
    assert_refused(
        &ws,
        &out,
        peak,
        &["bomb.json.gz:", "a value longer than 64 MiB"],
    );
}

/// `[import] max_value_bytes` in a plan is the limit that holds.
#[test]
fn the_plan_s_max_value_bytes_is_the_limit() {
    let ws = Workspace::new();
    let src = ws.open("src.db");
    src.execute_batch(SCHEMA).unwrap();
    src.execute("INSERT INTO notes VALUES (1, ?1)", ["x".repeat(5000)])
        .unwrap();
    ws.export("src.db", "b.json");
    target(&ws);
    let plan = |limit: u64| {
        format!(
            "[plan]\nkind = \"import\"\n[database]\nurl = \"{}\"\n[import]\nfile = \"b.json\"\nmax_value_bytes = {limit}\n",
            ws.url("dst.db")
        )
    };
    ws.write("small.toml", &plan(4096));
    let out = ws.migplan().args(["run", "small.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("table `notes`: a value longer than 4 KiB, the limit"),
        "{}",
        stderr(&out)
    );
    assert_eq!(count(&ws.open("dst.db"), "notes"), 1);
    ws.write("big.toml", &plan(8192));
    let out = ws.migplan().args(["run", "big.toml"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(count(&ws.open("dst.db"), "notes"), 2);
}

/// A migplan workbook of `notes` with an `xl/sharedStrings.xml` added by
/// python's zipfile: `head`, then `body` `times` times, then `</sst>`,
/// streamed through deflate (a few hundred KiB on disk).
fn workbook_with_shared_strings(ws: &Workspace, name: &str, head: &str, body: &str, times: u64) {
    let src = ws.open("src.db");
    src.execute_batch(SCHEMA).unwrap();
    src.execute("INSERT INTO notes VALUES (1, 'a')", [])
        .unwrap();
    ws.export("src.db", "b.xlsx");
    let script = r#"
import sys, zipfile
src, dst, head, body, times = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as b:
    for item in a.infolist():
        if item.filename != "xl/sharedStrings.xml":
            b.writestr(item, a.read(item.filename))
    with b.open("xl/sharedStrings.xml", "w", force_zip64=True) as f:
        f.write(head.encode())
        chunk = body.encode() * max(1, (1 << 20) // len(body))
        per = len(chunk) // len(body)
        left = times
        while left >= per:
            f.write(chunk)
            left -= per
        f.write(body.encode() * left)
        f.write(b"</sst>")
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(ws.path("b.xlsx"))
        .arg(ws.path(name))
        .args([head, body, &times.to_string()])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const SST: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#;

fn import_workbook(ws: &Workspace, name: &str) -> Option<(Output, u64)> {
    target(ws);
    let db = ws.url("dst.db");
    migplan_with_peak(ws, &["import", "--db", &db, name])
}

#[test]
fn a_workbook_whose_shared_strings_hold_a_400_mb_string_is_refused_in_bounded_memory() {
    let ws = Workspace::new();
    let head = format!("{SST}<si><t>");
    // 400 MiB of `a` in one string (the closing tags never come).
    workbook_with_shared_strings(
        &ws,
        "big.xlsx",
        &head,
        "aaaaaaaaaaaaaaaa",
        400 * MIB as u64 / 16,
    );
    let Some((out, peak)) = import_workbook(&ws, "big.xlsx") else {
        return;
    };
    assert_refused(
        &ws,
        &out,
        peak,
        &[
            "big.xlsx: the shared-strings table (`xl/sharedStrings.xml`) holds a value or tag longer than 64 MiB, the limit (`[import] max_value_bytes`)",
        ],
    );
}

#[test]
fn a_workbook_whose_shared_strings_hold_20_million_entries_is_refused_in_bounded_memory() {
    let ws = Workspace::new();
    workbook_with_shared_strings(&ws, "many.xlsx", SST, "<si><t>a</t></si>", 20_000_000);
    let Some((out, peak)) = import_workbook(&ws, "many.xlsx") else {
        return;
    };
    assert_refused(
        &ws,
        &out,
        peak,
        &[
            "many.xlsx: the shared-strings table (`xl/sharedStrings.xml`) holds more than 2000000 entries, the limit (`[import] max_shared_strings`)",
        ],
    );
}

/// calamine reserves room for `uniqueCount` entries before reading one.
#[test]
fn a_workbook_whose_shared_strings_claim_4_billion_entries_is_refused_in_bounded_memory() {
    let ws = Workspace::new();
    let head = SST.replace("<sst ", "<sst uniqueCount=\"4000000000\" ");
    workbook_with_shared_strings(&ws, "claim.xlsx", &head, "<si><t>a</t></si>", 1);
    let Some((out, peak)) = import_workbook(&ws, "claim.xlsx") else {
        return;
    };
    assert_refused(
        &ws,
        &out,
        peak,
        &[
            "claim.xlsx: the shared-strings table (`xl/sharedStrings.xml`) holds more than 2000000 entries",
        ],
    );
}

#[test]
fn a_workbook_whose_shared_strings_part_inflates_past_100_mib_is_refused_in_bounded_memory() {
    let ws = Workspace::new();
    let body = format!("<si><t>{}</t></si>", "b".repeat(1000));
    workbook_with_shared_strings(&ws, "wide.xlsx", SST, &body, 150_000);
    let Some((out, peak)) = import_workbook(&ws, "wide.xlsx") else {
        return;
    };
    assert_refused(
        &ws,
        &out,
        peak,
        &[
            "wide.xlsx: the shared-strings table (`xl/sharedStrings.xml`) is larger than 100 MiB uncompressed, the limit (`[import] max_shared_strings_bytes`)",
        ],
    );
}
