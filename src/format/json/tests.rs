use super::reader::decode::{RowCtx, ValueSeed};
use super::reader::*;
use super::writer::*;
use super::*;
use crate::catalog::ColumnInfo;

#[test]
fn strings_are_written_as_serde_json_writes_them() {
    let inputs = [
        "",
        "plain",
        "题目 😀",
        "a\"b",
        "back\\slash",
        "tab\tnl\ncr\r",
        "\u{1}\u{1f}",
        "\u{7f}",
        "</script>",
        "x".repeat(1000).as_str(),
        "end\"",
    ]
    .map(String::from);
    for s in inputs {
        let mut ours = Vec::new();
        json_str(&mut ours, &s).unwrap();
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json::to_string(&s).unwrap()
        );
    }
}

const ALL_TYPES: [ColumnType; 13] = [
    ColumnType::Bool,
    ColumnType::Int,
    ColumnType::Float,
    ColumnType::Decimal,
    ColumnType::Text,
    ColumnType::Blob,
    ColumnType::Date,
    ColumnType::Time,
    ColumnType::Timestamp,
    ColumnType::TimestampTz,
    ColumnType::Json,
    ColumnType::Uuid,
    ColumnType::Any,
];

fn column(name: &str, ty: ColumnType) -> ColumnInfo {
    ColumnInfo {
        name: name.into(),
        ty,
        sql_type: ty.name().to_uppercase(),
        nullable: true,
        has_default: false,
        choices: vec![],
    }
}

fn table(name: &str, columns: Vec<ColumnInfo>) -> TableMeta {
    TableMeta {
        name: name.into(),
        module: None,
        columns,
        primary_key: vec!["id".into()],
        foreign_keys: Vec::new(),
        rows: 0,
        changed_column: None,
    }
}

fn meta(tables: Vec<TableMeta>) -> BackupMeta {
    BackupMeta {
        format: FORMAT_NAME.into(),
        format_version: FORMAT_VERSION,
        tool_version: "0.1.0".into(),
        plan: Some("full".into()),
        schema_version: Some(3),
        exported_at: "2024-05-01T12:00:00Z".into(),
        export_type: "full".into(),
        modules: Vec::new(),
        incremental_since: None,
        backup_id: None,
        follows: None,
        sequences: vec![],
        source_engine: "sqlite".into(),
        tables,
    }
}

fn users() -> TableMeta {
    let cols = vec![
        column("id", ColumnType::Int),
        column("name", ColumnType::Text),
        column("avatar", ColumnType::Blob),
        column("score", ColumnType::Float),
        column("balance", ColumnType::Decimal),
    ];
    table("users", cols)
}

fn questions() -> TableMeta {
    table(
        "questions",
        vec![
            column("id", ColumnType::Int),
            column("body", ColumnType::Any),
        ],
    )
}

fn user_rows() -> Vec<Vec<Value>> {
    vec![
        vec![
            Value::Int(1),
            Value::Text("Alice".into()),
            Value::Bytes(b"hello".to_vec()),
            Value::Float(0.5),
            Value::Decimal("12.50".into()),
        ],
        vec![
            Value::Int(2),
            Value::Text("张三".into()),
            Value::Null,
            Value::Float(f64::NAN),
            Value::Text("not a number".into()),
        ],
    ]
}

fn two_tables() -> (BackupMeta, Vec<Vec<Vec<Value>>>) {
    let rows = vec![user_rows(), Vec::new()];
    (meta(vec![users(), questions()]), rows)
}

fn write_backup(path: &Path, meta: &BackupMeta, rows: &[Vec<Vec<Value>>]) -> Vec<TableSummary> {
    let mut w: Box<dyn BackupWriter> = Box::new(JsonWriter::create(path, meta).unwrap());
    let mut summaries = Vec::new();
    for (t, rows) in meta.tables.iter().zip(rows) {
        w.begin_table(t).unwrap();
        for row in rows {
            w.write_row(row).unwrap();
        }
        summaries.push(w.end_table().unwrap());
    }
    w.finish().unwrap();
    summaries
}

/// Writes the standard two-table backup and returns its text.
fn sample(dir: &tempfile::TempDir) -> (std::path::PathBuf, String) {
    let path = dir.path().join("backup.json");
    let (meta, rows) = two_tables();
    write_backup(&path, &meta, &rows);
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

/// The sample as format version 2 wrote it: every `users` row an object
/// keyed by column name (the checksums are over values: still valid).
fn sample_with_object_rows(dir: &tempfile::TempDir) -> String {
    let (_, text) = sample(dir);
    let columns = ["id", "name", "avatar", "score", "balance"];
    let lines = text.split('\n').map(|line| {
        let (row, comma) = match line.strip_suffix(',') {
            Some(row) => (row, ","),
            None => (line, ""),
        };
        match serde_json::from_str::<Vec<serde_json::Value>>(row) {
            Ok(values) if row.starts_with('[') && values.len() == columns.len() => {
                let pairs: Vec<String> = columns
                    .iter()
                    .zip(values)
                    .map(|(c, v)| format!("\"{c}\":{v}"))
                    .collect();
                format!("{{{}}}{comma}", pairs.join(","))
            }
            _ => line.to_string(),
        }
    });
    lines.collect::<Vec<_>>().join("\n").replacen(
        "\"format_version\": 3",
        "\"format_version\": 2",
        1,
    )
}

#[derive(Default)]
struct Recorder {
    meta: Option<BackupMeta>,
    tables: Vec<(String, Vec<Vec<Value>>)>,
    ended: Vec<String>,
    fail_on_row: bool,
}

impl BackupVisitor for Recorder {
    fn meta(&mut self, meta: &BackupMeta) -> Result<()> {
        self.meta = Some(meta.clone());
        Ok(())
    }
    fn begin_table(&mut self, table: &TableMeta) -> Result<()> {
        self.tables.push((table.name.clone(), Vec::new()));
        Ok(())
    }
    fn row(&mut self, row: &[Value]) -> Result<()> {
        if self.fail_on_row {
            return Err(Error::db("inserting into `users`", "disk full"));
        }
        self.tables.last_mut().unwrap().1.push(row.to_vec());
        Ok(())
    }
    fn end_table(&mut self, table: &TableMeta) -> Result<()> {
        self.ended.push(table.name.clone());
        Ok(())
    }
}

fn read_text(dir: &tempfile::TempDir, text: &str) -> Result<Recorder> {
    let path = dir.path().join("edited.json");
    std::fs::write(&path, text).unwrap();
    let mut rec = Recorder::default();
    read(&path, &mut rec).map(|()| rec)
}

fn message(result: Result<impl Sized>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e @ Error::Backup { .. }) => e.to_string(),
        Err(e) => panic!("expected a backup error, got {e:?}"),
    }
}

/// Floats compare by bits: NaN equals itself, -0.0 differs from 0.0.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

fn awkward_values() -> Vec<Value> {
    let mut values = vec![
        Value::Null,
        Value::Bool(true),
        Value::Bool(false),
        Value::Int(0),
        Value::Int(i64::MIN),
        Value::Int(i64::MAX),
        Value::UInt(0),
        Value::UInt(5),
        Value::UInt(i64::MAX as u64),
        Value::UInt(i64::MAX as u64 + 1),
        Value::UInt(u64::MAX),
        Value::Decimal("12.50".into()),
        Value::Decimal("-123456789012345678901234567890.000000000000000000000000000001".into()),
        Value::Decimal("0".into()),
        Value::Text("张三 李四".into()),
        Value::Text("🦀 emoji \u{1F600}".into()),
        Value::Text("1".into()),
        Value::Text("1.5".into()),
        Value::Text("NaN".into()),
        Value::Text("aGVsbG8=".into()),
        Value::Text(String::new()),
        Value::Text("quote \" backslash \\ newline \n tab \t nul \0".into()),
        Value::Bytes(Vec::new()),
        Value::Bytes((0..=255u8).collect()),
    ];
    let floats = [
        0.0,
        -0.0,
        0.1,
        1.0,
        -1.5,
        1e300,
        1e-320,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7ff0_0000_0000_0001),
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    values.extend(floats.map(Value::Float));
    values
}

fn encode(value: &Value, ty: ColumnType) -> String {
    let mut out = Vec::new();
    write_value(&mut out, value, ty, &mut String::new()).unwrap();
    String::from_utf8(out).unwrap()
}

fn decode(text: &str, ty: ColumnType) -> std::result::Result<Value, serde_json::Error> {
    let t = table("t", vec![column("c", ty)]);
    let ctx = RowCtx { table: &t, row: 1 };
    let mut de = serde_json::Deserializer::from_str(text);
    let value = ValueSeed {
        ctx: &ctx,
        column: 0,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

#[test]
fn every_value_round_trips_in_every_column_type() {
    for ty in ALL_TYPES {
        for value in awkward_values() {
            let text = encode(&value, ty);
            let back =
                decode(&text, ty).unwrap_or_else(|e| panic!("{value:?} as {ty:?} → {text}: {e}"));
            assert!(
                same(&value, &back),
                "{value:?} as {ty:?} → {text} → {back:?}"
            );
        }
    }
}

#[test]
fn values_use_their_natural_encoding() {
    assert_eq!(encode(&Value::Float(1.0), ColumnType::Float), "1.0");
    assert_eq!(encode(&Value::Float(-0.0), ColumnType::Float), "-0.0");
    assert_eq!(encode(&Value::Float(1e300), ColumnType::Any), "1e+300");
    assert_eq!(
        encode(&Value::Float(f64::NAN), ColumnType::Float),
        "\"NaN\""
    );
    assert_eq!(
        encode(&Value::Float(f64::NAN), ColumnType::Int),
        r#"{"$float":"NaN"}"#
    );
    assert_eq!(
        encode(&Value::Decimal("1.50".into()), ColumnType::Decimal),
        "\"1.50\""
    );
    assert_eq!(
        encode(&Value::Decimal("1.50".into()), ColumnType::Text),
        r#"{"$decimal":"1.50"}"#
    );
    assert_eq!(
        encode(&Value::Bytes(b"hello".to_vec()), ColumnType::Blob),
        "\"aGVsbG8=\""
    );
    assert_eq!(
        encode(&Value::Bytes(b"hello".to_vec()), ColumnType::Any),
        r#"{"$base64":"aGVsbG8="}"#
    );
    assert_eq!(encode(&Value::Text("x".into()), ColumnType::Int), "\"x\"");
    assert_eq!(
        encode(&Value::Text("x".into()), ColumnType::Decimal),
        r#"{"$text":"x"}"#
    );
    assert_eq!(
        encode(&Value::UInt(u64::MAX), ColumnType::Int),
        "18446744073709551615"
    );
}

#[test]
fn malformed_values_are_refused_with_their_place() {
    let cases = [
        ("\"%%%\"", ColumnType::Blob, "invalid base64"),
        ("[1]", ColumnType::Any, "an array is not a column value"),
        ("{}", ColumnType::Any, "an empty object"),
        (r#"{"$nope":"1"}"#, ColumnType::Any, "unknown tag `$nope`"),
        (
            r#"{"$text":"a","$decimal":"1"}"#,
            ColumnType::Any,
            "exactly one key",
        ),
        ("\"1.5\"", ColumnType::Float, "expected a number"),
    ];
    for (text, ty, expected) in cases {
        let err = decode(text, ty).unwrap_err().to_string();
        assert!(
            err.contains("table `t`, row 1, column `c`"),
            "{text}: {err}"
        );
        assert!(err.contains(expected), "{text}: {err}");
    }
}

#[test]
fn two_tables_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out").join("backup.json");
    let (meta, rows) = two_tables();
    let summaries = write_backup(&path, &meta, &rows);
    assert_eq!(summaries[0].rows, 2);

    let mut rec = Recorder::default();
    read(&path, &mut rec).unwrap();
    let json = |m: &BackupMeta| serde_json::to_value(m).unwrap();
    assert_eq!(json(rec.meta.as_ref().unwrap()), json(&meta));
    assert_eq!(rec.tables.len(), 2);
    for ((name, got), (t, want)) in rec.tables.iter().zip(meta.tables.iter().zip(&rows)) {
        assert_eq!(name, &t.name);
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!(g.iter().zip(w).all(|(a, b)| same(a, b)), "{g:?} != {w:?}");
        }
    }
    assert_eq!(rec.ended, ["users", "questions"]);
}

#[test]
fn rows_are_one_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = sample(&dir);
    assert!(text.starts_with("{\"meta\": {"));
    assert!(text.contains("\n[1,\"Alice\",\"aGVsbG8=\",0.5,\"12.50\"],\n"));
    assert!(text.contains("\"questions\": [\n]"));
    let summary = text.find("\"summary\"").unwrap();
    assert!(summary > text.find("\"data\"").unwrap());
}

#[test]
fn truncated_file_is_a_positioned_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = sample(&dir);
    let complete = text.trim_end().len();
    for cut in 0..complete {
        if !text.is_char_boundary(cut) {
            continue;
        }
        match read_text(&dir, &text[..cut]) {
            Err(Error::Backup {
                position: Some(_), ..
            }) => {}
            Err(e) => panic!("cut at {cut}: {e:?}"),
            Ok(_) => panic!("cut at {cut}: accepted"),
        }
    }
}

#[test]
fn truncated_file_error_names_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = sample(&dir);
    let cut = text.find("[2,").unwrap();
    let msg = message(read_text(&dir, &text[..cut]));
    assert!(msg.contains("edited.json:"), "{msg}");
    assert!(msg.contains("EOF while parsing"), "{msg}");
}

#[test]
fn edited_value_is_a_checksum_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = sample(&dir);
    let edited = text.replacen("\"Alice\"", "\"Alicf\"", 1);
    let msg = message(read_text(&dir, &edited));
    assert!(msg.contains("table `users`: checksum mismatch"), "{msg}");
    assert!(msg.contains("the file was changed or damaged"), "{msg}");
}

#[test]
fn removed_row_is_a_row_count_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = sample(&dir);
    let start = text.find(",\n[2,").unwrap();
    let end = start + 2 + text[start + 2..].find('\n').unwrap();
    let edited = format!("{}{}", &text[..start], &text[end..]);
    let msg = message(read_text(&dir, &edited));
    assert!(msg.contains("row count mismatch"), "{msg}");
}

/// Format version 1 backups carry SHA-256 checksums: still read and
/// verified (the tiku fixture was written by a version-1 migplan).
#[test]
fn version_1_backups_are_verified_by_their_sha256() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/tiku/fixtures/tiku-v1.json"
    );
    let text = std::fs::read_to_string(fixture).unwrap();
    assert!(text.contains("\"format_version\": 1") && text.contains("\"sha256\""));
    let dir = tempfile::tempdir().unwrap();
    let rec = read_text(&dir, &text).unwrap();
    assert!(rec.tables.iter().map(|t| t.1.len()).sum::<usize>() > 0);
    // One row's value changed: the SHA-256 no longer matches.
    let edited = text.replacen("\"username\":\"", "\"username\":\"x", 1);
    assert_ne!(edited, text);
    let msg = message(read_text(&dir, &edited));
    assert!(
        msg.contains("checksum mismatch: the backup says sha256"),
        "{msg}"
    );
    // A version-2 file must carry BLAKE3: SHA-256 alone is refused.
    let v2 = text.replacen("\"format_version\": 1", "\"format_version\": 2", 1);
    let msg = message(read_text(&dir, &v2));
    assert!(msg.contains("has no `blake3` checksum"), "{msg}");
}

#[test]
fn newer_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.json");
    let (mut meta, rows) = two_tables();
    meta.format_version = FORMAT_VERSION + 1;
    write_backup(&path, &meta, &rows);
    let expected = "was written by a newer migplan (format version 4); this migplan reads up to 3";
    assert!(message(read(&path, &mut Recorder::default())).contains(expected));
    assert!(message(read_meta(&path)).contains(expected));
}

#[test]
fn other_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let msg = message(read_text(&dir, r#"{"meta": {"format": "something-else"}}"#));
    assert!(msg.contains("not a migplan backup"), "{msg}");
}

#[test]
fn unknown_table_in_data_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = sample(&dir);
    let msg = message(read_text(
        &dir,
        &text.replacen("\"users\": [", "\"userz\": [", 1),
    ));
    assert!(msg.contains("unknown table `userz`"), "{msg}");
}

#[test]
fn unknown_missing_and_duplicate_columns_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = sample_with_object_rows(&dir);
    let cases = [
        (
            "{\"id\":2,\"name\":",
            "{\"id\":2,\"nick\":",
            "table `users`, row 2: unknown column `nick`",
        ),
        (
            "{\"id\":2,\"name\":",
            "{\"id\":2,\"id\":2,\"name\":",
            "row 2, column `id`: the column appears twice",
        ),
        (
            "{\"id\":1,",
            "{",
            "table `users`, row 1, column `id`: the column is missing",
        ),
    ];
    for (from, to, expected) in cases {
        let msg = message(read_text(&dir, &text.replacen(from, to, 1)));
        assert!(msg.contains(expected), "{msg}");
    }
}

#[test]
fn object_rows_of_format_2_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let text = sample_with_object_rows(&dir);
    assert!(text.contains("{\"id\":1,"), "{text}");
    let rec = read_text(&dir, &text).unwrap();
    let (_, rows) = two_tables();
    assert_eq!(rec.tables[0].1.len(), rows[0].len());
    for (got, want) in rec.tables[0].1.iter().zip(&rows[0]) {
        assert!(got.iter().zip(want).all(|(a, b)| same(a, b)), "{got:?}");
    }
}

#[test]
fn array_rows_of_the_wrong_length_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = sample(&dir);
    let cases = [
        (
            "0.5,\"12.50\"]",
            "0.5,\"12.50\",7]",
            "table `users`, row 1: the row has more values than the table's 5 columns",
        ),
        (
            "[1,\"Alice\",\"aGVsbG8=\",0.5,\"12.50\"]",
            "[1,\"Alice\"]",
            "table `users`, row 1, column `avatar`: the column is missing",
        ),
    ];
    for (from, to, expected) in cases {
        let edited = text.replacen(from, to, 1);
        assert_ne!(edited, text);
        let msg = message(read_text(&dir, &edited));
        assert!(msg.contains(expected), "{msg}");
    }
}

/// A row that goes on and on (small values, or white space) is refused at
/// its start before it is gathered whole: a file's size never sets the
/// memory a row takes.
#[test]
fn a_row_far_past_its_columns_is_refused_where_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = sample(&dir);
    let row = "[1,\"Alice\",\"aGVsbG8=\",0.5,\"12.50\"]";
    let line = text[..text.find(row).unwrap()].matches('\n').count() + 1;
    for flood in ["0,".repeat(1 << 17), " ".repeat(1 << 18)] {
        let edited = text.replacen(row, &format!("[1,{flood}\"Alice\"]"), 1);
        let msg = message(read_text(&dir, &edited));
        assert!(
            msg.contains(&format!("edited.json:{line}:1: table `users`, row 1: the row goes on far past its 5 columns' values")),
            "{msg}"
        );
    }
}

#[test]
fn missing_summary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = sample(&dir);
    let cut = text.find(",\n\"summary\"").unwrap();
    let msg = message(read_text(&dir, &format!("{}\n}}\n", &text[..cut])));
    assert!(msg.contains("no `summary`"), "{msg}");
}

#[test]
fn unknown_top_level_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = sample(&dir);
    let edited = text.replacen("\n\"data\": {", "\n\"extra\": 1,\n\"data\": {", 1);
    let msg = message(read_text(&dir, &edited));
    assert!(msg.contains("unexpected key `extra`"), "{msg}");
}

#[test]
fn visitor_errors_propagate_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = sample(&dir);
    let mut rec = Recorder {
        fail_on_row: true,
        ..Recorder::default()
    };
    match read(&path, &mut rec) {
        Err(Error::Database { message, .. }) => assert_eq!(message, "disk full"),
        other => panic!("expected the visitor's error, got {other:?}"),
    }
}

#[test]
fn read_meta_does_not_parse_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = sample(&dir);
    let end = text.find("\n\"data\"").unwrap();
    let garbage = format!("{}\n\"data\": {{ this is not json at all [[[", &text[..end]);
    let path = dir.path().join("garbage.json");
    std::fs::write(&path, garbage).unwrap();
    let meta = read_meta(&path).unwrap();
    assert_eq!(meta.tables.len(), 2);
    assert!(read(&path, &mut Recorder::default()).is_err());
}

#[test]
fn compressed_backups_read_like_plain_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (meta, rows) = two_tables();
    for c in [Compression::Zstd, Compression::Gzip] {
        let path = dir.path().join(format!("backup{}", c.json_extension()));
        let mut w = JsonWriter::create_compressed(&path, &meta, c, None).unwrap();
        for (t, rows) in meta.tables.iter().zip(&rows) {
            w.begin_table(t).unwrap();
            for r in rows {
                w.write_row(r).unwrap();
            }
            w.end_table().unwrap();
        }
        Box::new(w).finish().unwrap();
        assert_eq!(Compression::of_file(&path).unwrap(), c);
        assert_eq!(
            super::super::Format::detect(&path).unwrap(),
            super::super::Format::Json
        );
        assert_eq!(read_meta(&path).unwrap().tables.len(), 2);
        let mut rec = Recorder::default();
        read(&path, &mut rec).unwrap();
        assert_eq!(rec.tables[0].1.len(), rows[0].len());
        assert_eq!(rec.ended, ["users", "questions"]);
        // Cut short: refused, naming the file and the codec.
        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.path().join(format!("cut{}", c.json_extension()));
        std::fs::write(&cut, &bytes[..bytes.len() - 12]).unwrap();
        let msg = message(read(&cut, &mut Recorder::default()));
        assert!(msg.contains("cut.json"), "{msg}");
        assert!(
            msg.contains(&format!("the {c} compressed data is damaged or cut short")),
            "{msg}"
        );
    }
}

#[test]
fn dropped_writer_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup.json");
    let (meta, rows) = two_tables();
    let mut w = JsonWriter::create(&path, &meta).unwrap();
    w.begin_table(&meta.tables[0]).unwrap();
    w.write_row(&rows[0][0]).unwrap();
    drop(w);
    assert!(!path.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "temporary file left behind"
    );
}

#[cfg(unix)]
#[test]
fn finished_backup_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = sample(&dir);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn row_of_wrong_width_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (meta, _) = two_tables();
    let mut w = JsonWriter::create(&dir.path().join("b.json"), &meta).unwrap();
    w.begin_table(&meta.tables[1]).unwrap();
    assert!(w.write_row(&[Value::Int(1)]).is_err());
}
