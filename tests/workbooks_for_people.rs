//! Workbooks for people (docs/xlsx.md): labels as headers and read back,
//! boolean texts, dropdowns, decimals with their scale, wrapped text,
//! print setup, binary markers, progress while a workbook is checked and
//! written; openpyxl reads it all back and LibreOffice prints the demo.
//! PostgreSQL enums and MariaDB ENUM dropdowns need the servers
//! (`MIGPLAN_TEST_POSTGRES_URL`, `MIGPLAN_TEST_MYSQL_URL`).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use migplan::events::{self, Cancel, Event, Recorded};
use serde_json::Value as Json;
use support::server::{self, ServerDb};
use support::{Workspace, dump, repo_root, stderr, stdout};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn openpyxl_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import openpyxl"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !in_ci(),
            "openpyxl is required under CI=true: pip install openpyxl"
        );
        println!("SKIPPED: openpyxl not installed");
    }
    ok
}

/// Runs a Python script with `args`; returns its stdout.
fn python(script: &str, args: &[&Path]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The tiku demo exported by `plans/workbook.toml` into the workspace.
fn demo_workbook(ws: &Workspace) -> PathBuf {
    let book = ws.path("tiku.xlsx");
    let out = ws
        .migplan()
        .env("MIGPLAN_DEMO_DB", ws.path("tiku.db"))
        .args(["run"])
        .arg(repo_root().join("plans/workbook.toml"))
        .arg("-o")
        .arg(&book)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    book
}

const INSPECT: &str = r#"
import json, sys
import openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
out = {"sheets": wb.sheetnames}
for ws in wb.worksheets:
    if ws.title.startswith("_"):
        continue
    ps = ws.page_setup
    out[ws.title] = {
        "header": [c.value for c in ws[1]],
        "hidden": [k for k, d in ws.column_dimensions.items() if d.hidden],
        "validations": {str(d.sqref): [d.type, d.formula1, d.errorStyle] for d in ws.data_validations.dataValidation},
        "orientation": ps.orientation,
        # Absent means 1 (ECMA-376), which rust_xlsxwriter leaves out.
        "fit_width": ps.fitToWidth if ps.fitToWidth is not None else 1,
        "fit_height": ps.fitToHeight,
        "fit_to_page": bool(ws.sheet_properties.pageSetUpPr and ws.sheet_properties.pageSetUpPr.fitToPage),
        "paper": ps.paperSize,
        "print_titles": ws.print_title_rows,
        "freeze": ws.freeze_panes,
        "filter": ws.auto_filter.ref,
        "row2": [[c.data_type, c.value if not hasattr(c.value, "isoformat") else c.value.isoformat(), c.number_format, bool(c.alignment.wrap_text)] for c in ws[2]],
        "widths": {k: d.width for k, d in ws.column_dimensions.items()},
    }
print(json.dumps(out, ensure_ascii=False))
"#;

#[test]
fn the_demo_workbook_speaks_chinese_offers_dropdowns_prints_and_comes_back_identical() {
    if !openpyxl_available() {
        return;
    }
    let ws = Workspace::new();
    let book = demo_workbook(&ws);
    let d: Json = serde_json::from_str(&python(INSPECT, &[&book])).unwrap();
    let sheets: Vec<&str> = d["sheets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for s in [
        "用户信息",
        "题目分类",
        "题库",
        "题目数据",
        "练习记录",
        "练习明细",
        "错题本",
        "薄弱项",
        "_meta",
    ] {
        assert!(sheets.contains(&s), "{s} missing from {sheets:?}");
    }
    // Labels are the headers.
    let q = &d["题目数据"];
    let header: Vec<&str> = q["header"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(
        &header[..5],
        ["编号", "所属题库", "所属分类", "题型", "题目内容"]
    );
    // Dropdowns: a CHECK IN list, a foreign key into a small table.
    let v = &q["validations"];
    assert_eq!(
        v["D2:D1048576"],
        serde_json::json!(["list", "\"single,multiple,judge\"", null])
    );
    assert_eq!(v["O2:O1048576"][1], "\"easy,medium,hard\"");
    assert_eq!(v["B2:B1048576"][1], "'题库'!$A$2:$A$4");
    assert_eq!(v["K2:K1048576"][1], "'用户信息'!$A$2:$A$11");
    // Booleans: the plan's texts, offered as a dropdown.
    let u = &d["用户信息"];
    let is_active = u["header"]
        .as_array()
        .unwrap()
        .iter()
        .position(|h| h == "是否启用")
        .unwrap();
    assert_eq!(u["row2"][is_active][1], "是");
    let col = (b'A' + is_active as u8) as char;
    assert_eq!(
        u["validations"][format!("{col}2:{col}1048576")][1],
        "\"是,否\""
    );
    // The avatar's bytes live in a hidden column.
    assert_eq!(
        u["header"].as_array().unwrap().last().unwrap(),
        "_bytes:avatar"
    );
    assert_eq!(u["hidden"], serde_json::json!(["K"]));
    // Decimals with their scale (SQLite keeps them as numbers).
    let w = &d["薄弱项"];
    let accuracy = w["header"]
        .as_array()
        .unwrap()
        .iter()
        .position(|h| h == "正确率")
        .unwrap();
    assert_eq!(w["row2"][accuracy][2], "0.0000");
    let b = &d["题库"];
    assert_eq!(b["row2"][4][2], "0.00", "{}", b["row2"]);
    // Long text wraps within a bounded width.
    let content = &q["row2"][4];
    assert_eq!(content[0], "s");
    assert_eq!(content[3], true, "text wraps: {content}");
    let widths = q["widths"].as_object().unwrap();
    assert!(
        widths.values().all(|w| w.as_f64().unwrap() <= 51.0),
        "{widths:?}"
    );
    // Print setup on every data sheet.
    for s in sheets.iter().filter(|s| !s.starts_with('_')) {
        let p = &d[*s];
        assert_eq!(p["orientation"], "landscape", "{s}");
        assert_eq!(p["fit_width"], 1, "{s}");
        assert_eq!(p["fit_height"], 0, "{s}");
        assert_eq!(p["fit_to_page"], true, "{s}");
        assert_eq!(p["paper"], 9, "{s}: A4");
        assert_eq!(p["print_titles"], "$1:$1", "{s}");
        assert_eq!(p["freeze"], "A2", "{s}");
        assert!(p["filter"].as_str().unwrap().starts_with("A1:"), "{s}");
    }

    // Back into an empty database, then compared with the source.
    let out = ws
        .migplan()
        .env("MIGPLAN_DEMO_DB", ws.path("copy.db"))
        .env("MIGPLAN_RESTORE_FILE", &book)
        .arg("run")
        .arg(repo_root().join("plans/restore.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let strip = |d: Vec<String>| -> Vec<String> {
        d.into_iter()
            .filter(|l| !l.contains("refinery_schema_history"))
            .collect()
    };
    assert_eq!(
        strip(dump(&ws.open("tiku.db"))),
        strip(dump(&ws.open("copy.db")))
    );
    let out = ws
        .migplan()
        .arg("verify")
        .arg(&book)
        .args(["--db", &ws.url("tiku.db")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

/// Pages of a PDF, counted from its page objects.
fn pdf_pages(pdf: &Path) -> usize {
    let bytes = std::fs::read(pdf).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    text.match_indices("/Type")
        .filter(|(i, _)| {
            let rest = text[i + 5..].trim_start();
            rest.starts_with("/Page") && !rest.starts_with("/Pages")
        })
        .count()
}

/// The demo's pages when printed: 278 before workbooks were laid out for
/// people (cut-off question text, portrait), 153 with the layout.
const DEMO_PAGES_AT_MOST: usize = 200;

#[test]
fn libreoffice_prints_the_demo_workbook_within_a_bounded_page_count() {
    let soffice = ["soffice", "libreoffice"].into_iter().find(|b| {
        Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(soffice) = soffice else {
        assert!(
            !in_ci(),
            "LibreOffice is required under CI=true: apt-get install libreoffice-calc-nogui"
        );
        println!("SKIPPED: LibreOffice not installed (apt-get install libreoffice-calc-nogui)");
        return;
    };
    let ws = Workspace::new();
    let book = demo_workbook(&ws);
    let out = Command::new(soffice)
        .args(["--headless", "--norestore"])
        .arg(format!(
            "-env:UserInstallation=file://{}",
            ws.path("lo-profile").display()
        ))
        .args(["--convert-to", "pdf", "--outdir"])
        .arg(ws.path("pdf"))
        .arg(&book)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let pdf = ws.path("pdf/tiku.pdf");
    assert!(pdf.is_file(), "no PDF: {}{}", stdout(&out), stderr(&out));
    let pages = pdf_pages(&pdf);
    println!("the demo workbook prints on {pages} pages");
    assert!((20..=DEMO_PAGES_AT_MOST).contains(&pages), "{pages} pages");
}

const SCHEMA: &str = r#"
CREATE TABLE kinds (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE items (
  id INTEGER PRIMARY KEY,
  kind_id INTEGER REFERENCES kinds(id),
  title TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('new', 'done')),
  ok BOOLEAN,
  price DECIMAL(10,2),
  data BLOB
);
"#;

fn items_db(ws: &Workspace, rel: &str) {
    let conn = ws.open(rel);
    conn.execute_batch(SCHEMA).unwrap();
    let big: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 256) as u8).collect();
    conn.execute_batch(
        "INSERT INTO kinds VALUES (1, 'book'), (2, 'pen');
         INSERT INTO items VALUES
           (1, 1, '=1+1', 'new', 1, '12.50', x'00ff10'),
           (2, 2, '长的文字', 'done', 0, NULL, x''),
           (3, NULL, 'three', 'new', NULL, '0.10', NULL);",
    )
    .unwrap();
    conn.execute(
        "INSERT INTO items VALUES (4, 1, 'big', 'done', 1, '1.00', ?1)",
        [&big],
    )
    .unwrap();
}

const LABELS: &str =
    "title = \"名称\", state = \"状态\", ok = \"合格\", price = \"价格\", data = \"数据\"";

/// A plan `NAME.toml` of `kind` on `db`, `items` on sheet 物品 with
/// `labels` and 是/否.
fn plan(ws: &Workspace, name: &str, kind: &str, db: &str, labels: &str, extra: &str) -> PathBuf {
    ws.write(
        &format!("{name}.toml"),
        &format!(
            "[plan]\nkind = \"{kind}\"\n[database]\nurl = \"{}\"\n\
             [tables.items]\nsheet = \"物品\"\nbooleans = [\"是\", \"否\"]\n\
             labels = {{ {labels} }}\n{extra}",
            ws.url(db)
        ),
    )
}

#[test]
fn labels_booleans_and_bytes_round_trip_and_a_workbook_edited_by_label_imports() {
    if !openpyxl_available() {
        return;
    }
    let ws = Workspace::new();
    items_db(&ws, "src.db");
    let export = plan(
        &ws,
        "export",
        "export",
        "src.db",
        LABELS,
        "[export]\nformat = \"xlsx\"\n",
    );
    let out = ws
        .migplan()
        .args(["run", export.to_str().unwrap(), "-o", "b.xlsx"])
        .current_dir(ws.path(""))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let book = ws.path("b.xlsx");
    let d: Json = serde_json::from_str(&python(INSPECT, &[&book])).unwrap();
    let s = &d["物品"];
    assert_eq!(
        s["header"],
        serde_json::json!([
            "id",
            "kind_id",
            "名称",
            "状态",
            "合格",
            "价格",
            "数据",
            "_bytes:data"
        ])
    );
    assert_eq!(s["validations"]["B2:B1048576"][1], "'kinds'!$A$2:$A$3");
    assert_eq!(s["validations"]["B2:B1048576"][2], "warning");
    assert_eq!(s["validations"]["D2:D1048576"][1], "\"new,done\"");
    assert_eq!(s["validations"]["E2:E1048576"][1], "\"是,否\"");
    assert_eq!(s["row2"][2][0], "s", "text starting with = stays text");
    assert_eq!(s["row2"][2][1], "=1+1");
    assert_eq!(s["row2"][4][1], "是");
    assert_eq!(s["row2"][5][2], "0.00");
    assert_eq!(s["row2"][6][1], "‹binary 3 bytes›");
    assert_eq!(s["row2"][7][1], "AP8Q");

    // Back exactly, and `verify` agrees.
    ws.open("dst.db").execute_batch(SCHEMA).unwrap();
    let import = plan(
        &ws,
        "import",
        "import",
        "dst.db",
        LABELS,
        "[import]\nfile = \"b.xlsx\"\n",
    );
    let out = ws
        .migplan()
        .args(["run", import.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(dump(&ws.open("src.db")), dump(&ws.open("dst.db")));
    let out = ws
        .migplan()
        .arg("verify")
        .arg(&book)
        .args(["--db", &ws.url("src.db")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    // A workbook made by hand with the labels as headers (and a column's
    // name for one of them), 否 and TRUE, imports through the plan.
    python(
        r#"
import sys, openpyxl
wb = openpyxl.Workbook()
ws = wb.active
ws.title = "物品"
ws.append(["id", "kind_id", "名称", "state", "合格", "价格", "数据"])
ws.append([10, 2, "手工", "done", "否", 3.5, "AAE="])
ws.append([11, None, "typed", "new", "TRUE", "7", None])
ws.append([12, 1, "=text", "new", "是", None, None])
ws["C4"].data_type = "s"
wb.save(sys.argv[1])
"#,
        &[&ws.path("hand.xlsx")],
    );
    ws.open("hand.db").execute_batch(SCHEMA).unwrap();
    ws.open("hand.db")
        .execute_batch("INSERT INTO kinds VALUES (1, 'book'), (2, 'pen');")
        .unwrap();
    let hand = plan(&ws, "hand", "import", "hand.db", LABELS, "");
    let out = ws
        .migplan()
        .args(["run", hand.to_str().unwrap(), "--file"])
        .arg(ws.path("hand.xlsx"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    type Row = (i64, String, String, Option<i64>, Option<String>);
    let rows: Vec<Row> = ws
        .open("hand.db")
        .prepare("SELECT id, title, state, ok, CAST(price AS TEXT) FROM items ORDER BY id")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        [
            (
                10,
                "手工".into(),
                "done".into(),
                Some(0),
                Some("3.5".into())
            ),
            (11, "typed".into(), "new".into(), Some(1), Some("7".into())),
            (12, "=text".into(), "new".into(), Some(1), None),
        ]
    );
}

#[test]
fn a_marker_without_its_bytes_and_an_ambiguous_header_are_named_and_nothing_is_written() {
    if !openpyxl_available() {
        return;
    }
    let ws = Workspace::new();
    items_db(&ws, "src.db");
    let export = plan(
        &ws,
        "export",
        "export",
        "src.db",
        LABELS,
        "[export]\nformat = \"xlsx\"\n",
    );
    let out = ws
        .migplan()
        .args(["run", export.to_str().unwrap(), "-o"])
        .arg(ws.path("b.xlsx"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Someone deletes the hidden column, and names a column by another's
    // label.
    python(
        r#"
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
ws = wb["物品"]
ws.delete_cols(8)
wb.save(sys.argv[1])
"#,
        &[&ws.path("b.xlsx")],
    );
    ws.open("dst.db").execute_batch(SCHEMA).unwrap();
    let before = dump(&ws.open("dst.db"));
    let import = plan(&ws, "import", "import", "dst.db", LABELS, "");
    let out = ws
        .migplan()
        .args(["run", import.to_str().unwrap(), "--file"])
        .arg(ws.path("b.xlsx"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("物品!G2: expected base64 bytes, found \"‹binary 3 bytes›\" (the marker's bytes are missing"),
        "{err}"
    );
    assert!(err.contains("物品!G5:"), "{err}");
    assert_eq!(dump(&ws.open("dst.db")), before);

    python(
        r#"
import sys, openpyxl
wb = openpyxl.Workbook()
ws = wb.active
ws.title = "物品"
ws.append(["id", "kind_id", "title", "名称", "state", "ok", "price", "data"])
wb.save(sys.argv[1])
"#,
        &[&ws.path("hand.xlsx")],
    );
    // `名称` is `title`'s label and also a header beside `title`: the same
    // column twice.
    let out = ws
        .migplan()
        .args(["run", import.to_str().unwrap(), "--file"])
        .arg(ws.path("hand.xlsx"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("物品!D1: column `title` appears twice (first at 物品!C1)"),
        "{}",
        stderr(&out)
    );
    // A header that is one column's name and another's label.
    let odd = plan(&ws, "odd", "import", "dst.db", "title = \"state\"", "");
    let out = ws
        .migplan()
        .args(["run", odd.to_str().unwrap(), "--file"])
        .arg(ws.path("hand.xlsx"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("物品!E1: header \"state\" is ambiguous: it names column `state` and is the label of column `title`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(dump(&ws.open("dst.db")), before);
}

#[test]
fn checking_and_finishing_a_workbook_are_told() {
    let ws = Workspace::new();
    items_db(&ws, "src.db");
    let recorded = Arc::new(Recorded::default());
    let export = plan(
        &ws,
        "export",
        "export",
        "src.db",
        LABELS,
        "[export]\nformat = \"xlsx\"\n",
    );
    let req = migplan::ops::RunRequest {
        plan: export.clone(),
        output: Some(ws.path("b.xlsx")),
        ..migplan::ops::RunRequest::default()
    };
    events::scope(recorded.clone(), Cancel::new(), || migplan::ops::run(&req)).expect("export");
    let events = recorded.events();
    let finishing = events.iter().position(|e| {
        matches!(
            e,
            Event::Started {
                verb: "finishing",
                ..
            }
        )
    });
    let exporting = events.iter().position(|e| {
        matches!(
            e,
            Event::Started {
                verb: "exporting",
                ..
            }
        )
    });
    assert!(
        matches!((exporting, finishing), (Some(e), Some(f)) if e < f),
        "{events:?}"
    );
    assert_eq!(events.last(), Some(&Event::Finished), "{events:?}");

    ws.open("dst.db").execute_batch(SCHEMA).unwrap();
    let import = plan(&ws, "import", "import", "dst.db", LABELS, "");
    let recorded = Arc::new(Recorded::default());
    let req = migplan::ops::RunRequest {
        plan: import,
        file: vec![ws.path("b.xlsx")],
        ..migplan::ops::RunRequest::default()
    };
    events::scope(recorded.clone(), Cancel::new(), || migplan::ops::run(&req)).expect("import");
    let events = recorded.events();
    let checking = events.iter().position(|e| {
        *e == Event::Started {
            verb: "checking",
            total: 6,
        }
    });
    let importing = events.iter().position(|e| {
        matches!(
            e,
            Event::Started {
                verb: "importing",
                ..
            }
        )
    });
    assert!(
        matches!((checking, importing), (Some(c), Some(i)) if c < i),
        "{events:?}"
    );
    let checked: u64 = events[checking.unwrap()..importing.unwrap()]
        .iter()
        .filter_map(|e| match e {
            Event::Advanced { rows } => Some(*rows),
            _ => None,
        })
        .sum();
    assert_eq!(checked, 6);
}

/// Exports `db` (a server database) to a workbook, returns its sheet
/// `t`'s validations as openpyxl reads them, and imports the workbook
/// into `copy`, which must come out identical.
fn server_round_trip(ws: &Workspace, db: &ServerDb, copy: &ServerDb) -> Json {
    let plan = ws.write(
        "export.toml",
        "[plan]\nkind = \"export\"\n[export]\nformat = \"xlsx\"\n",
    );
    let out = ws
        .migplan()
        .args(["run", plan.to_str().unwrap(), "--db", &db.url, "-o"])
        .arg(ws.path("b.xlsx"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let d: Json = serde_json::from_str(&python(INSPECT, &[&ws.path("b.xlsx")])).unwrap();
    let import = ws.write("import.toml", "[plan]\nkind = \"import\"\n");
    let out = ws
        .migplan()
        .args(["run", import.to_str().unwrap(), "--db", &copy.url, "--file"])
        .arg(ws.path("b.xlsx"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(db.dump(), copy.dump());
    d["t"]["validations"].clone()
}

#[test]
fn postgres_enums_and_checks_become_dropdowns() {
    let Some(pg) = server::postgres("workbook_enums") else {
        return;
    };
    let Some(copy) = server::postgres("workbook_enums_copy") else {
        return;
    };
    if !openpyxl_available() {
        return;
    }
    let schema = "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
         CREATE TABLE t (id int PRIMARY KEY, m mood, c varchar(10) CHECK (c IN ('x', 'y z')),
                         flag boolean, price numeric(10,2), data bytea);";
    pg.execute(schema);
    copy.execute(schema);
    pg.execute(
        "INSERT INTO t VALUES (1, 'happy', 'y z', true, 12.50, '\\x00ff'), (2, NULL, NULL, NULL, NULL, NULL)",
    );
    let ws = Workspace::new();
    let v = server_round_trip(&ws, &pg, &copy);
    assert_eq!(v["B2:B1048576"][1], "\"sad,ok,happy\"", "{v}");
    assert_eq!(v["C2:C1048576"][1], "\"x,y z\"", "{v}");
    assert_eq!(v["D2:D1048576"][1], "\"TRUE,FALSE\"", "{v}");
}

#[test]
fn mariadb_enum_and_checks_become_dropdowns_and_a_set_does_not() {
    let Some(my) = server::mysql("workbook_enums") else {
        return;
    };
    let Some(copy) = server::mysql("workbook_enums_copy") else {
        return;
    };
    if !openpyxl_available() {
        return;
    }
    let schema = "CREATE TABLE t (id int PRIMARY KEY, m ENUM('sad', 'ok', 'happy'),
                  c varchar(10) CHECK (c IN ('x', 'y z')), s SET('a', 'b'),
                  price decimal(10,2), data blob) ENGINE=InnoDB";
    my.execute(schema);
    copy.execute(schema);
    my.execute(
        "INSERT INTO t VALUES (1, 'happy', 'y z', 'a,b', 12.50, x'00ff'), (2, NULL, NULL, NULL, NULL, NULL)",
    );
    let ws = Workspace::new();
    let v = server_round_trip(&ws, &my, &copy);
    assert_eq!(v["B2:B1048576"][1], "\"sad,ok,happy\"", "{v}");
    assert_eq!(v["C2:C1048576"][1], "\"x,y z\"", "{v}");
    assert!(v.get("D2:D1048576").is_none(), "a SET has no dropdown: {v}");
}

#[test]
fn lists_too_long_for_excel_are_kept_on_a_hidden_sheet() {
    if !openpyxl_available() {
        return;
    }
    let ws = Workspace::new();
    let codes: Vec<String> = (0..60).map(|i| format!("'code-{i:02}-long'")).collect();
    let schema = format!(
        "CREATE TABLE codes (id INTEGER PRIMARY KEY, code TEXT CHECK (code IN ({})),
                             odd TEXT CHECK (odd IN ('a,b', 'c')));",
        codes.join(", ")
    );
    ws.open("src.db").execute_batch(&schema).unwrap();
    ws.open("src.db")
        .execute_batch("INSERT INTO codes VALUES (1, 'code-07-long', 'a,b'), (2, NULL, 'c');")
        .unwrap();
    ws.export("src.db", "b.xlsx");
    let d: Json = serde_json::from_str(&python(
        r#"
import json, sys
import openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
ws = wb["codes"]
lists = wb["_lists"]
print(json.dumps({
    "sheets": wb.sheetnames,
    "state": lists.sheet_state,
    "validations": {str(d.sqref): d.formula1 for d in ws.data_validations.dataValidation},
    "rows": [[c.value for c in r] for r in lists.iter_rows()],
}))
"#,
        &[&ws.path("b.xlsx")],
    ))
    .unwrap();
    assert_eq!(d["state"], "hidden");
    assert_eq!(d["validations"]["B2:B1048576"], "'_lists'!$A$1:$BH$1");
    assert_eq!(d["validations"]["C2:C1048576"], "'_lists'!$A$2:$B$2");
    assert_eq!(d["rows"][0][59], "code-59-long");
    assert_eq!(d["rows"][1][0], "a,b");
    ws.open("dst.db").execute_batch(&schema).unwrap();
    let out = ws.import("dst.db", &["b.xlsx"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(dump(&ws.open("src.db")), dump(&ws.open("dst.db")));
}
