//! Output paths stay where the plan says: placeholders cannot add folders
//! or climb out of one, and a plan's `output` that leaves the plan's folder
//! through `..` is refused (unless absolute); `-o` is taken as given.

mod support;

use std::path::Path;

use support::{Workspace, stderr, stdout};

/// A SQLite database with one row, and a plan folder `plans/`.
fn workspace() -> Workspace {
    let ws = Workspace::new();
    ws.open("db.sqlite")
        .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);")
        .unwrap();
    std::fs::create_dir_all(ws.path("plans")).unwrap();
    ws
}

fn export_plan(ws: &Workspace, name: &str, extra: &str) -> String {
    let body = format!("{extra}\n[database]\nurl = \"{}\"\n", ws.url("db.sqlite"));
    ws.write(&format!("plans/{name}"), &body);
    format!("plans/{name}")
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_plan_name_cannot_put_the_backup_outside_the_plan_folder() {
    let ws = workspace();
    // `\u0000` is valid TOML; `{plan}` is the default output's first part.
    let plan = export_plan(
        &ws,
        "evil.toml",
        "[plan]\nname = \"../../escaped/a\\\\b\\u0000c\"\n[export]\noutput = \"out/{plan}.json\"",
    );
    let before = files(ws.dir.path());
    let out = ws.migplan().args(["run", &plan]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let after = files(ws.dir.path());
    let new: Vec<&String> = after.iter().filter(|f| !before.contains(f)).collect();
    assert_eq!(new.len(), 1, "{new:?}");
    let written = new[0];
    assert!(written.starts_with("plans/out/"), "{written}");
    let name = Path::new(written).file_name().unwrap().to_str().unwrap();
    assert!(!name.contains(".."), "{name}");
    assert!(!ws.path("escaped").exists());
}

#[test]
fn the_default_output_keeps_a_hostile_plan_name_in_the_plan_folder() {
    let ws = workspace();
    let plan = export_plan(&ws, "evil.toml", "[plan]\nname = \"../../escaped\"");
    let out = ws.migplan().args(["run", &plan]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let new: Vec<String> = files(&ws.path("plans"))
        .into_iter()
        .filter(|f| f.ends_with(".json"))
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    assert!(!new[0].contains('/'), "{new:?}");
    assert!(!ws.path("escaped").exists() && !ws.dir.path().join("../escaped").exists());
}

#[test]
fn validate_refuses_an_output_climbing_out_of_the_plan_folder() {
    let ws = workspace();
    for (output, col) in [
        ("../out/{plan}.json", 10),
        ("sub/../../out.json", 10),
        ("${OUT_DIR}/x.json", 10),
    ] {
        let plan = export_plan(&ws, "p.toml", &format!("[export]\noutput = \"{output}\""));
        let out = ws
            .migplan()
            .args(["validate", &plan])
            .env("OUT_DIR", "..")
            .output()
            .unwrap();
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(1), "{output}: {text}");
        assert!(
            text.contains(&format!("p.toml:2:{col}")),
            "{output}: {text}"
        );
        assert!(text.contains("`output` leaves the plan's folder"), "{text}");
        assert!(text.contains("absolute path"), "{text}");
    }
}

#[test]
fn run_refuses_an_output_climbing_out_of_the_plan_folder_and_writes_nothing() {
    let ws = workspace();
    let plan = export_plan(&ws, "p.toml", "[export]\noutput = \"../out/x.json\"");
    let before = files(ws.dir.path());
    let out = ws.migplan().args(["run", &plan]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("p.toml:2:10"), "{}", stderr(&out));
    assert_eq!(files(ws.dir.path()), before);
}

#[test]
fn an_absolute_output_elsewhere_is_allowed() {
    let ws = workspace();
    let target = ws.path("elsewhere/x.json");
    let plan = export_plan(
        &ws,
        "p.toml",
        &format!("[export]\noutput = \"{}\"", target.display()),
    );
    let out = ws.migplan().args(["validate", &plan]).output().unwrap();
    assert!(out.status.success(), "{}", stdout(&out));
    let out = ws.migplan().args(["run", &plan]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(target.exists());
}

#[test]
fn dash_o_climbing_out_is_the_users_choice() {
    let ws = workspace();
    let plan = export_plan(&ws, "p.toml", "");
    let out = ws
        .migplan()
        .current_dir(ws.path("plans"))
        .args(["run", "p.toml", "-o", "../mine.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{plan}: {}", stderr(&out));
    assert!(ws.path("mine.json").exists());
}
