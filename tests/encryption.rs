//! Encrypted backups (age) through the real binary, on SQLite: the backup
//! before change and exports sealed to a plan's recipients, read back with
//! `--identity` or `MIGPLAN_AGE_IDENTITY` by import, verify and rollback;
//! no key, the wrong key, a changed file and a bad recipient refused by
//! name with the database unchanged; the secret key never printed.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use age::secrecy::ExposeSecret;
use age::x25519;
use serde_json::Value as Json;
use support::test::{Test, for_each_engine};
use support::{Workspace, count, dump, stderr, stdout};

/// A password hash as applications store them: it must never be readable
/// in a backup taken with `[backup] encrypt`.
const HASH: &str = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$SECRETHASHVALUE";

const SCHEMA: &str = "
CREATE TABLE accounts (id INTEGER PRIMARY KEY, login TEXT NOT NULL, password_hash TEXT NOT NULL);
CREATE TABLE sessions (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL REFERENCES accounts(id), token TEXT);
";

/// A key pair: the identity file written into the workspace, its public key.
struct Key {
    file: PathBuf,
    public: String,
    secret: String,
}

fn new_key(ws: &Workspace, name: &str) -> Key {
    let id = x25519::Identity::generate();
    let secret = id.to_string().expose_secret().to_string();
    let public = id.to_public().to_string();
    let file = ws.write(
        name,
        &format!("# created: by the test\n# public key: {public}\n{secret}\n"),
    );
    Key {
        file,
        public,
        secret,
    }
}

fn accounts(ws: &Workspace, db: &str, rows: std::ops::Range<i64>) {
    let conn = ws.open(db);
    conn.execute_batch(SCHEMA).unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    for i in rows {
        tx.execute(
            "INSERT INTO accounts VALUES (?1, ?2, ?3)",
            rusqlite::params![i, format!("user{i}"), format!("{HASH}{i}")],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO sessions VALUES (?1, ?1, ?2)",
            rusqlite::params![i, format!("token-{i}")],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

fn run(ws: &Workspace, args: &[&str]) -> Output {
    ws.migplan().args(args).output().unwrap()
}

fn out_text(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

/// An age file that hides what it holds, private to its owner.
fn assert_sealed(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.starts_with(b"age-encryption.org/v1\n"),
        "{}",
        path.display()
    );
    for plain in [
        &b"accounts"[..],
        b"password_hash",
        b"argon2id",
        b"migplan-backup",
    ] {
        assert!(
            !bytes.windows(plain.len()).any(|w| w == plain),
            "{} shows {}",
            path.display(),
            String::from_utf8_lossy(plain)
        );
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{}", path.display());
}

fn history(ws: &Workspace, url: &str) -> Vec<Json> {
    let out = run(ws, &["history", "--db", url, "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    support::json_result(&stdout(&out))
        .as_array()
        .unwrap()
        .clone()
}

/// An import plan into `dst.db` whose `[backup]` encrypts to `public`.
fn import_plan(ws: &Workspace, compression: &str, public: &str) -> PathBuf {
    ws.write(
        "p.toml",
        &format!(
            "[plan]\nname = \"p\"\nkind = \"import\"\n[database]\nurl = \"{}\"\n[import]\nfile = \"new.json\"\nconflict = \"overwrite\"\n[backup]\ndir = \"auto\"\ncompression = \"{compression}\"\nencrypt = {{ recipients = [\"{public}\"] }}\n",
            ws.url("dst.db")
        ),
    )
}

#[test]
fn the_backup_before_an_import_is_sealed_and_rollback_reads_it_with_the_key() {
    let ws = Workspace::new();
    let key = new_key(&ws, "keys/backup.txt");
    let other = key_file_of_another(&ws);
    accounts(&ws, "dst.db", 1..50);
    accounts(&ws, "src.db", 40..90);
    ws.export("src.db", "new.json");
    import_plan(&ws, "zstd", &key.public);
    let url = ws.url("dst.db");
    let before = dump(&ws.open("dst.db"));

    let out = run(&ws, &["run", "p.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(dump(&ws.open("dst.db")), before);
    let runs = history(&ws, &url);
    let backup = PathBuf::from(runs[0]["backup"].as_str().unwrap());
    assert!(
        backup.to_string_lossy().ends_with(".json.zst.age"),
        "{backup:?}"
    );
    assert_sealed(&backup);
    // Shown relative to the working folder, as a person would type it.
    let shown = backup
        .strip_prefix(ws.dir.path())
        .unwrap_or(&backup)
        .display()
        .to_string();

    // No key: refused by name, nothing restored.
    let out = run(&ws, &["rollback", "1", "--db", &url, "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{shown} is encrypted (age)")),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--identity"), "{}", stderr(&out));
    assert_ne!(dump(&ws.open("dst.db")), before);

    // The wrong key: refused by name, the key file named, nothing restored.
    let wrong = other
        .strip_prefix(ws.dir.path())
        .unwrap_or(&other)
        .display()
        .to_string();
    let out = run(
        &ws,
        &["rollback", "1", "--db", &url, "--yes", "--identity", &wrong],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{shown} was not encrypted to any key in")),
        "{err}"
    );
    assert!(err.contains("other.txt"), "{err}");
    assert_ne!(dump(&ws.open("dst.db")), before);

    // The right key restores the database as it was.
    let id = key.file.display().to_string();
    let out = run(
        &ws,
        &["rollback", "1", "--db", &url, "--yes", "--identity", &id],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(dump(&ws.open("dst.db")), before);
    let all = format!(
        "{}{}",
        out_text(&out),
        serde_json::to_string(&history(&ws, &url)).unwrap()
    );
    assert!(
        !all.contains(&key.secret[16..]),
        "the secret key was printed"
    );
}

fn key_file_of_another(ws: &Workspace) -> PathBuf {
    new_key(ws, "keys/other.txt").file
}

#[test]
fn every_codec_composes_with_encryption_and_imports_and_verifies_identically() {
    let ws = Workspace::new();
    let key = new_key(&ws, "key.txt");
    accounts(&ws, "src.db", 0..300);
    let id = key.file.display().to_string();
    for (codec, name, inner) in [
        (
            Some("zstd"),
            "b.json.zst.age",
            &[0x28u8, 0xB5, 0x2F, 0xFD][..],
        ),
        (Some("gzip"), "b.json.gz.age", &[0x1F, 0x8B][..]),
        (None, "b.json.age", &b"{\"meta\""[..]),
    ] {
        let mut export = ws.migplan();
        export.args(["export", "--db", &ws.url("src.db"), "-o", "b.json"]);
        export.args(["--encrypt-to", &key.public]);
        if let Some(c) = codec {
            export.args(["--compress", c]);
        }
        export.assert().success();
        let path = ws.path(name);
        assert_sealed(&path);
        assert!(!ws.path("b.json").exists());
        let plain = decrypt(&path, &key.secret);
        assert!(plain.starts_with(inner), "{name}: codec inside");

        let target = format!("{name}.db");
        ws.open(&target).execute_batch(SCHEMA).unwrap();
        let out = ws.import(&target, &[name, "--identity", &id]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert_eq!(dump(&ws.open(&target)), dump(&ws.open("src.db")), "{name}");
        let out = run(
            &ws,
            &["verify", name, "--db", &ws.url("src.db"), "--identity", &id],
        );
        assert!(out.status.success(), "{name}: {}", out_text(&out));
        std::fs::remove_file(&path).unwrap();
    }
}

/// The plaintext of an age file, decrypted by the age crate itself.
fn decrypt(path: &Path, secret: &str) -> Vec<u8> {
    let id: x25519::Identity = secret.parse().unwrap();
    let bytes = std::fs::read(path).unwrap();
    age::decrypt(&id, &bytes).unwrap()
}

#[test]
fn no_key_or_the_wrong_key_changes_nothing_and_the_variable_gives_the_key() {
    let ws = Workspace::new();
    let key = new_key(&ws, "key.txt");
    let other = new_key(&ws, "other.txt");
    accounts(&ws, "src.db", 0..100);
    accounts(&ws, "dst.db", 500..510);
    ws.migplan()
        .args(["export", "--db", &ws.url("src.db"), "-o", "b.json.zst"])
        .args(["--encrypt-to", &key.public])
        .assert()
        .success();
    let before = dump(&ws.open("dst.db"));

    let out = ws.import("dst.db", &["b.json.zst.age"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("b.json.zst.age is encrypted (age)"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("MIGPLAN_AGE_IDENTITY"),
        "{}",
        stderr(&out)
    );
    assert_eq!(dump(&ws.open("dst.db")), before);

    let wrong = other.file.display().to_string();
    let out = ws.import("dst.db", &["b.json.zst.age", "--identity", &wrong]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // The identity file named as the person gave it (shown relative to
    // where they stand).
    let name = other
        .file
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        stderr(&out).contains(&format!(
            "b.json.zst.age was not encrypted to any key in {name}"
        )) || stderr(&out).contains(&format!("not encrypted to any key in {wrong}")),
        "{}",
        stderr(&out)
    );
    assert_eq!(dump(&ws.open("dst.db")), before);
    let out = run(
        &ws,
        &[
            "verify",
            "b.json.zst.age",
            "--db",
            &ws.url("src.db"),
            "--identity",
            &wrong,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // The variable names the identity file: no flag needed.
    let out = ws
        .migplan()
        .args(["import", "--db", &ws.url("dst.db"), "b.json.zst.age"])
        .env("MIGPLAN_AGE_IDENTITY", &key.file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(count(&ws.open("dst.db"), "accounts"), 110);
    let out = ws
        .migplan()
        .args(["verify", "b.json.zst.age", "--db", &ws.url("src.db")])
        .env("MIGPLAN_AGE_IDENTITY", &key.file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", out_text(&out));
    assert!(!out_text(&out).contains(&key.secret[16..]));
}

#[test]
fn a_changed_or_cut_file_fails_the_import_whole() {
    let ws = Workspace::new();
    let key = new_key(&ws, "key.txt");
    // Enough rows for several 64 KiB chunks: the damage is in the last.
    accounts(&ws, "src.db", 0..3000);
    accounts(&ws, "dst.db", 5000..5010);
    ws.migplan()
        .args(["export", "--db", &ws.url("src.db"), "-o", "b.json"])
        .args(["--encrypt-to", &key.public])
        .assert()
        .success();
    let bytes = std::fs::read(ws.path("b.json.age")).unwrap();
    assert!(bytes.len() > 3 << 16, "{} bytes", bytes.len());
    let mut changed = bytes.clone();
    let n = changed.len();
    changed[n - 5] ^= 0x20;
    std::fs::write(ws.path("changed.json.age"), &changed).unwrap();
    std::fs::write(ws.path("cut.json.age"), &bytes[..n - 1000]).unwrap();
    let before = dump(&ws.open("dst.db"));
    let id = key.file.display().to_string();
    for name in ["changed.json.age", "cut.json.age"] {
        let out = ws.import("dst.db", &[name, "--identity", &id]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(name), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("corrupt or truncated"),
            "{}",
            stderr(&out)
        );
        assert_eq!(dump(&ws.open("dst.db")), before, "{name}");
    }
}

#[test]
fn a_bad_recipient_in_a_plan_is_placed_and_a_secret_key_never_shown() {
    let ws = Workspace::new();
    let key = new_key(&ws, "key.txt");
    let plan = |recipients: &str| {
        ws.write(
            "p.toml",
            &format!(
                "[plan]\nname = \"p\"\nkind = \"export\"\n[database]\nurl = \"{}\"\n[backup]\nencrypt = {{ recipients = [{recipients}] }}\n",
                ws.url("src.db")
            ),
        );
        run(&ws, &["validate", "p.toml"])
    };
    // `validate` reports an invalid plan with exit 1.
    let out = plan(&format!("\"{}\", \"age1notakey\"", key.public));
    assert_eq!(out.status.code(), Some(1), "{}", out_text(&out));
    // `encrypt = { recipients = [` then the first key quoted, then `, `.
    let col = 26 + key.public.len() + 2 + 2 + 1;
    assert!(
        out_text(&out).contains(&format!("p.toml:7:{col}")),
        "{}",
        out_text(&out)
    );
    assert!(
        out_text(&out).contains("recipients[1] is not an age public key"),
        "{}",
        out_text(&out)
    );

    let out = plan(&format!("\"{}\"", key.secret));
    assert_eq!(out.status.code(), Some(1), "{}", out_text(&out));
    assert!(out_text(&out).contains("secret key"), "{}", out_text(&out));
    assert!(
        !out_text(&out).contains(&key.secret[16..]),
        "{}",
        out_text(&out)
    );

    let out = plan("");
    assert_eq!(out.status.code(), Some(1), "{}", out_text(&out));
    assert!(
        out_text(&out).contains("names no recipient"),
        "{}",
        out_text(&out)
    );
    assert!(plan(&format!("\"{}\"", key.public)).status.success());
}

#[test]
fn a_plans_exports_are_sealed_and_a_workbook_is_refused() {
    let ws = Workspace::new();
    let key = new_key(&ws, "key.txt");
    accounts(&ws, "src.db", 0..20);
    ws.write("keys.pub", &format!("# the backup key\n{}\n", key.public));
    ws.write(
        "e.toml",
        &format!(
            "[plan]\nname = \"e\"\nkind = \"export\"\n[database]\nurl = \"{}\"\n[export]\noutput = \"out/e.json.zst\"\n[backup]\nencrypt = {{ recipients_file = \"keys.pub\" }}\n",
            ws.url("src.db")
        ),
    );
    let out = run(&ws, &["run", "e.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("e.json.zst.age"), "{}", stdout(&out));
    assert_sealed(&ws.path("out/e.json.zst.age"));
    assert!(!ws.path("out/e.json.zst").exists());
    let plain = decrypt(&ws.path("out/e.json.zst.age"), &key.secret);
    assert!(plain.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]));

    let out = run(&ws, &["run", "e.toml", "-o", "out/e.xlsx"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("out/e.xlsx: an Excel workbook cannot be encrypted"),
        "{}",
        stderr(&out)
    );
    assert!(!ws.path("out/e.xlsx").exists());

    // A name that says encrypted, with nobody to encrypt to, is refused.
    let out = run(
        &ws,
        &["export", "--db", &ws.url("src.db"), "-o", "x.json.age"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!ws.path("x.json.age").exists());
}

#[test]
fn identity_files_that_are_not_are_refused_by_line_without_the_key() {
    let ws = Workspace::new();
    let key = new_key(&ws, "key.txt");
    accounts(&ws, "src.db", 0..5);
    ws.migplan()
        .args(["export", "--db", &ws.url("src.db"), "-o", "b.json"])
        .args(["--encrypt-to", &key.public])
        .assert()
        .success();
    let broken = ws.write("broken.txt", &format!("# mine\n\n{}x\n", key.secret));
    let pubkey = ws.write("pub.txt", &format!("{}\n", key.public));
    for (file, says) in [
        (&broken, "broken.txt:3: not an age identity"),
        (
            &pubkey,
            "pub.txt:1: not an age identity: it is a public key",
        ),
        (&ws.path("missing.txt"), "cannot read the identity file"),
    ] {
        let out = ws
            .migplan()
            .args(["verify", "b.json.age", "--db", &ws.url("src.db")])
            .arg("--identity")
            .arg(file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", out_text(&out));
        assert!(out_text(&out).contains(says), "{}", out_text(&out));
        assert!(
            !out_text(&out).contains(&key.secret[16..]),
            "{}",
            out_text(&out)
        );
    }
}

/// The backups page's operations: an encrypted backup is listed as one
/// (its codec from its name), its contents unread and said why without a
/// key, read once the keyring holds one; deletable either way.
#[test]
fn the_backups_list_shows_an_encrypted_backup_with_or_without_the_key() {
    use migplan::ops::{self, BackupsRequest, DeleteBackupRequest};
    let ws = Workspace::new();
    let key = new_key(&ws, "key.txt");
    accounts(&ws, "src.db", 0..10);
    ws.migplan()
        .args(["export", "--db", &ws.url("src.db"), "-o", "dir/b.json.zst"])
        .args(["--encrypt-to", &key.public])
        .assert()
        .success();
    let dirs = vec![ws.path("dir")];
    let list = || {
        ops::backups(&BackupsRequest {
            dirs: dirs.clone(),
            ..BackupsRequest::default()
        })
        .unwrap()
    };
    let sealed = list();
    assert_eq!(sealed.total, 1);
    let info = serde_json::to_value(&sealed.backups[0]).unwrap();
    assert_eq!(info["name"], "b.json.zst.age");
    assert_eq!(
        (&info["encrypted"], &info["compression"]),
        (&Json::Bool(true), &Json::from("zstd"))
    );
    assert!(sealed.backups[0].contents.is_none());
    let why = sealed.backups[0].unreadable.clone().unwrap();
    assert!(why.contains("is encrypted (age)"), "{why}");
    // Deletable without its key: a backup by its name and its header.
    std::fs::copy(ws.path("dir/b.json.zst.age"), ws.path("dir/copy.json.age")).unwrap();
    ops::delete_backup(&DeleteBackupRequest {
        dirs: dirs.clone(),
        file: ws.path("dir/copy.json.age"),
        ..DeleteBackupRequest::default()
    })
    .unwrap();
    assert_eq!(list().total, 1);

    ops::use_identities(std::slice::from_ref(&key.file)).unwrap();
    let opened = list();
    let contents = opened.backups[0]
        .contents
        .as_ref()
        .expect("read with the key");
    assert_eq!(contents.rows.total, 20);
    assert!(opened.backups[0].unreadable.is_none());
    ops::delete_backup(&DeleteBackupRequest {
        dirs: dirs.clone(),
        file: ws.path("dir/b.json.zst.age"),
        ..DeleteBackupRequest::default()
    })
    .unwrap();
    assert_eq!(list().total, 0);
}

/// The backup before an import, sealed on every engine (servers when
/// configured), refused without its key and restored with it.
#[test]
fn a_sealed_backup_before_change_rolls_back_on_every_engine() {
    for_each_engine(|engine| {
        let db = Test::on(engine)
            .schema("CREATE TABLE items (id INTEGER PRIMARY KEY, v VARCHAR(40) NOT NULL)")
            .rows("INSERT INTO items VALUES (1, 'one'), (2, 'two')");
        let key = new_key(&db.ws, "key.txt");
        let src = db.ws.open("src.db");
        src.execute_batch("CREATE TABLE items (id INTEGER PRIMARY KEY, v VARCHAR(40) NOT NULL)")
            .unwrap();
        src.execute_batch("INSERT INTO items VALUES (2, 'changed'), (3, 'added')")
            .unwrap();
        db.ws.export("src.db", "b.json");
        db.plan(
            "p.toml",
            &format!(
                "[plan]\nname = \"p\"\nkind = \"import\"\n[database]\nurl = \"{{url}}\"\n[import]\nfile = \"b.json\"\nconflict = \"overwrite\"\n[backup]\ndir = \"auto\"\nencrypt = {{ recipients = [\"{}\"] }}\n",
                key.public
            ),
        );
        let before = db.dump();
        db.migplan(["run", "p.toml"]).success();
        assert_ne!(db.dump(), before);
        let sealed: Vec<PathBuf> = std::fs::read_dir(db.ws.path("auto"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(sealed.len(), 1, "{sealed:?}");
        assert!(sealed[0].to_string_lossy().ends_with(".json.zst.age"));
        assert_sealed(&sealed[0]);
        db.migplan(["rollback", "1", "--db", db.url(), "--yes"])
            .code(2)
            .stderr_contains("is encrypted (age)");
        assert_ne!(db.dump(), before);
        let id = key.file.display().to_string();
        db.migplan([
            "rollback",
            "1",
            "--db",
            db.url(),
            "--yes",
            "--identity",
            &id,
        ])
        .success();
        assert_eq!(db.dump(), before);
    });
}
