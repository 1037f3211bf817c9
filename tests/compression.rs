//! Compressed JSON backups (zstd, gzip) through the real binary, on SQLite.

mod support;

use support::{Workspace, count, dump, stderr};

const SCHEMA: &str = "
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, avatar BLOB);
CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), body TEXT);
";

/// A source database with enough rows that compression matters.
fn source(ws: &Workspace) {
    let conn = ws.open("src.db");
    conn.execute_batch(SCHEMA).unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    for i in 0..2000i64 {
        tx.execute(
            "INSERT INTO users VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![i, format!("用户 {i}"), i as f64 / 3.0, vec![i as u8; 16]],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO posts VALUES (?1, ?1, ?2)",
            rusqlite::params![i, format!("post number {i} with some repeated text")],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

fn empty_target(ws: &Workspace, name: &str) {
    ws.open(name).execute_batch(SCHEMA).unwrap();
}

fn magic(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap()[..4].to_vec()
}

#[test]
fn compressed_backups_round_trip_for_both_codecs() {
    let ws = Workspace::new();
    source(&ws);
    ws.export("src.db", "plain.json");
    let plain = std::fs::metadata(ws.path("plain.json")).unwrap().len();
    for (flag, name, head) in [
        ("zstd", "b.json.zst", vec![0x28, 0xB5, 0x2F, 0xFD]),
        ("gzip", "b.json.gz", vec![0x1F, 0x8B]),
    ] {
        // `--compress` adds the suffix to a plain name.
        ws.migplan()
            .args(["export", "--db", &ws.url("src.db"), "-o", "b.json"])
            .args(["--compress", flag])
            .assert()
            .success();
        let path = ws.path(name);
        assert!(magic(&path).starts_with(&head), "{name}");
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size * 3 < plain, "{name}: {size} vs {plain}");
        let target = format!("{flag}.db");
        empty_target(&ws, &target);
        let out = ws.import(&target, &[name]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(dump(&ws.open(&target)), dump(&ws.open("src.db")), "{name}");
        std::fs::remove_file(&path).unwrap();
    }
    assert!(!ws.path("b.json").exists());
}

#[test]
fn an_output_named_zst_is_compressed_without_the_flag() {
    let ws = Workspace::new();
    source(&ws);
    ws.export("src.db", "named.json.zst");
    assert_eq!(magic(&ws.path("named.json.zst")), [0x28, 0xB5, 0x2F, 0xFD]);
    ws.export("src.db", "named.json.gz");
    assert_eq!(magic(&ws.path("named.json.gz"))[..2], [0x1F, 0x8B]);
    // A compressed backup can follow one: its meta is read through the codec.
    ws.migplan()
        .args(["export", "--db", &ws.url("src.db"), "-o", "inc.json.gz"])
        .args(["--follows", "named.json.zst"])
        .assert()
        .success();
}

#[test]
fn conflicting_compression_flags_are_refused() {
    let ws = Workspace::new();
    source(&ws);
    let out = ws
        .migplan()
        .args(["export", "--db", &ws.url("src.db"), "-o", "b.json.gz"])
        .args(["--compress", "zstd"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("names gzip compression"),
        "{}",
        stderr(&out)
    );
    let out = ws
        .migplan()
        .args(["export", "--db", &ws.url("src.db"), "-o", "b.xlsx"])
        .args(["--compress", "zstd"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn a_truncated_zst_backup_is_refused_and_nothing_is_imported() {
    let ws = Workspace::new();
    source(&ws);
    ws.export("src.db", "full.json.zst");
    let bytes = std::fs::read(ws.path("full.json.zst")).unwrap();
    std::fs::write(ws.path("cut.json.zst"), &bytes[..bytes.len() * 2 / 3]).unwrap();
    empty_target(&ws, "dst.db");
    let out = ws.import("dst.db", &["cut.json.zst"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("cut.json.zst"), "{err}");
    assert!(
        err.contains("zstd compressed data is damaged or cut short"),
        "{err}"
    );
    let conn = ws.open("dst.db");
    assert_eq!(count(&conn, "users"), 0);
    assert_eq!(count(&conn, "posts"), 0);
}

#[test]
fn a_damaged_gz_backup_is_refused_with_its_name() {
    let ws = Workspace::new();
    source(&ws);
    ws.export("src.db", "full.json.gz");
    let mut bytes = std::fs::read(ws.path("full.json.gz")).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 8] {
        *b ^= 0xA5;
    }
    std::fs::write(ws.path("bad.json.gz"), &bytes).unwrap();
    empty_target(&ws, "dst.db");
    let out = ws.import("dst.db", &["bad.json.gz"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("bad.json.gz"), "{err}");
    assert_eq!(count(&ws.open("dst.db"), "users"), 0);
}

#[test]
fn a_folder_chain_accepts_compressed_backups() {
    let ws = Workspace::new();
    source(&ws);
    std::fs::create_dir(ws.path("chain")).unwrap();
    ws.export("src.db", "chain/full.json.zst");
    empty_target(&ws, "dst.db");
    let out = ws.import("dst.db", &["chain"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(dump(&ws.open("dst.db")), dump(&ws.open("src.db")));
}
