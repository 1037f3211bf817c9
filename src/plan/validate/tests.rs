use super::sections::leaves_folder;
use super::*;
use crate::plan::ReadLimits;

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn output_may_not_climb_out_of_the_plan_folder() {
    for climbs in ["../x.json", "a/../../x.json", "./../x", "{plan}/../../x"] {
        assert!(leaves_folder(Path::new(climbs)), "{climbs}");
    }
    for stays in [
        "x.json",
        "a/../x.json",
        "./b/{plan}.json",
        "/srv/../x",
        "..x/y",
    ] {
        assert!(!leaves_folder(Path::new(stays)), "{stays}");
    }
    let d = diagnostics(
        Path::new("/p/plan.toml"),
        "[export]\noutput = \"../out/{plan}.json\"\n",
    );
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].line_col(), Some((2, 10)));
    assert!(
        d[0].message.contains("leaves the plan's folder"),
        "{}",
        d[0].message
    );
}

fn diagnostics(path: &Path, src: &str) -> Vec<Diagnostic> {
    diagnostics_in(path, src, None)
}

fn diagnostics_in(path: &Path, src: &str, choice: Option<&EnvChoice>) -> Vec<Diagnostic> {
    match load_selected(path, src, choice, &no_env) {
        Err(Error::Invalid(diags)) => diags,
        Err(other) => panic!("{}: unexpected error {other}", path.display()),
        Ok(_) => panic!("{}: loaded without a diagnostic", path.display()),
    }
}

/// `L:C message` and `help: …` lines, the form fixtures state them in.
fn summary(diags: &[Diagnostic]) -> Vec<String> {
    let mut lines = Vec::new();
    for d in diags {
        let (l, c) = d.line_col().expect("a position");
        lines.push(format!("{l}:{c} {}", d.message));
        lines.extend(d.help.as_ref().map(|h| format!("help: {h}")));
    }
    lines
}

fn expectations(src: &str) -> Vec<String> {
    let expect = |l: &str| l.strip_prefix("# expect: ").map(str::to_string);
    let help = |l: &str| l.strip_prefix("# help: ").map(|h| format!("help: {h}"));
    src.lines()
        .filter_map(|l| expect(l).or_else(|| help(l)))
        .collect()
}

/// `# env: NAME` in a fixture selects that environment.
fn fixture_env(src: &str) -> Option<EnvChoice> {
    src.lines()
        .find_map(|l| l.strip_prefix("# env: "))
        .map(|name| EnvChoice::flag(name.trim()))
}

/// Each file of `tests/fixtures/plans` is one invalid plan whose comments
/// state every diagnostic it must produce (`# expect: L:C message`,
/// `# help: text`), in order, and may select an environment (`# env:`).
#[test]
fn every_fixture_reports_exactly_its_expected_diagnostics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plans");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() > 20, "fixtures missing from {}", dir.display());
    let mut failures = Vec::new();
    for path in files {
        let src = std::fs::read_to_string(&path).unwrap();
        let diags = diagnostics_in(&path, &src, fixture_env(&src).as_ref());
        let (expected, actual) = (expectations(&src), summary(&diags));
        if expected.is_empty() || expected != actual {
            failures.push(format!("{}:\n  {}", path.display(), actual.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "actual diagnostics:\n{}",
        failures.join("\n")
    );
}

fn load_ok(path: &str, src: &str) -> Plan {
    load_with_env(Path::new(path), src, &no_env).unwrap_or_else(|e| panic!("{e}"))
}

fn only_diagnostic(src: &str) -> Diagnostic {
    let mut diags = diagnostics(Path::new("/srv/plans/p.toml"), src);
    assert_eq!(diags.len(), 1, "{diags:?}");
    diags.remove(0)
}

#[test]
fn empty_plan_defaults_everything() {
    let plan = load_ok("/srv/plans/nightly.toml", "");
    assert_eq!(plan.name, "nightly");
    assert_eq!(plan.kind, PlanKind::Export);
    assert!(plan.description.is_none() && plan.database.is_none());
    assert!(plan.schema.migrations.is_none() && plan.schema.apply);
    assert_eq!(plan.export.format, Format::Json);
    assert_eq!(plan.export.mode, ExportMode::Full);
    assert_eq!(plan.import.limits, ReadLimits::default());
    let output = Path::new("/srv/plans/{plan}-{timestamp}.json");
    assert_eq!(plan.export.output, output);
    assert_eq!(plan.import.conflict, Conflict::Error);
    assert!(plan.import.file.is_none() && plan.modules.is_empty() && plan.tables.is_empty());
}

#[test]
fn reference_plan_sets_every_key() {
    // Parsed where it lives: its `migrations` folder must exist.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("plans");
    let path = dir.join("reference.toml");
    let src = include_str!("../../../plans/reference.toml");
    let plan = load_with_env(&path, src, &no_env).unwrap_or_else(|e| panic!("{e}"));
    // Relative paths climb out of the plan's folder resolved.
    let at = |p: &str| crate::paths::join(&dir, p);

    assert_eq!(plan.name, "tiku-reference");
    assert_eq!(
        plan.description.as_deref(),
        Some("Every key of a plan, documented")
    );
    assert_eq!(plan.kind, PlanKind::Export);
    let db = plan.database.as_ref().unwrap();
    assert_eq!(db.url, format!("sqlite://{}", at("demo/tiku.db").display()));
    assert_eq!(db.seed, Some(at("seed/tiku-seed.json")));
    assert_eq!(
        plan.schema.migrations,
        Some(at("../examples/tiku/migrations/{engine}"))
    );
    assert!(plan.schema.apply);
    assert_eq!(plan.schema.target, Some(3));
    assert_reference_export(&plan, &at("backups/{plan}-{timestamp}.json"));
    let backup = at("backups/tiku-reference-20240501T000000Z.json");
    assert_eq!(plan.import.file, Some(backup));
    assert_eq!(plan.import.conflict, Conflict::Skip);
    assert_eq!(plan.import.adapters, [at("../adapters/tiku.toml")]);
    assert_eq!(
        plan.import.limits,
        ReadLimits {
            max_value_bytes: 128 << 20,
            max_meta_bytes: 16 << 20,
            max_shared_strings: 5_000_000,
            max_shared_strings_bytes: 256 << 20,
        }
    );
    assert_reference_modules(&plan);
    assert_reference_backup(&plan, &at("backups/auto"));
    assert_reference_notify(&plan);
    assert!(plan.environment.is_none());
    assert_eq!(environment_names(src), ["prod", "staging"]);
}

fn assert_reference_backup(plan: &Plan, dir: &Path) {
    let b = &plan.backup;
    assert!(b.enabled);
    assert_eq!(b.dir, dir);
    assert_eq!((b.retention_days, b.keep), (Some(30), Some(10)));
    assert_eq!(b.compression, Compression::Gzip);
    let keys: Vec<String> = b
        .encrypt
        .as_ref()
        .unwrap()
        .keys()
        .iter()
        .map(|k| k.to_string())
        .collect();
    assert_eq!(
        keys,
        [
            "age1s07jsjvl3j5q6waqzhw5rdm2awu4j4sy6gzd4kzprrnmjmvkv40qnuu0jg",
            "age1fl50js9e65fwuu0tyewj75z0v7vfe6vrlum79fwvuvqsknk0me5seah8ze"
        ]
    );
}

/// The reference plan's environments, each merged over it.
#[test]
fn reference_plan_environments() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("plans");
    let path = dir.join("reference.toml");
    let src = include_str!("../../../plans/reference.toml");
    let load = |name: &str| {
        let choice = EnvChoice::flag(name);
        load_selected(&path, src, Some(&choice), &no_env).unwrap_or_else(|e| panic!("{e}"))
    };
    let prod = load("prod");
    let env = prod.environment.as_ref().unwrap();
    assert_eq!(
        (env.name.as_str(), env.confirm, env.dry_run),
        ("prod", true, false)
    );
    let db = prod.database.as_ref().unwrap();
    assert_eq!(db.url, "postgres://app:secret@db.internal/tiku");
    assert_eq!(db.seed, Some(dir.join("seed/tiku-seed.json")));
    assert_eq!(prod.import.conflict, Conflict::Error);
    let b = &prod.backup;
    assert_eq!((b.retention_days, b.keep), (Some(90), Some(10)));
    assert_eq!(b.compression, Compression::Zstd);
    assert_eq!(b.dir, dir.join("backups/auto"));
    let [feishu] = &prod.notify[..] else {
        panic!(
            "the environment's webhooks replace the plan's: {:?}",
            prod.notify
        );
    };
    assert_eq!(feishu.format, crate::notify::Format::Feishu);
    assert_eq!(feishu.on, [crate::notify::RunEnd::Failed]);
    let staging = load("staging");
    let env = staging.environment.unwrap();
    assert_eq!((env.confirm, env.dry_run), (false, true));
    assert_eq!(staging.import.conflict, Conflict::Skip);
}

fn assert_reference_notify(plan: &Plan) {
    use crate::notify::{Format as Hook, RunEnd};
    let [slack, ding] = &plan.notify[..] else {
        panic!("two webhooks: {:?}", plan.notify);
    };
    assert_eq!(slack.url, "https://hooks.slack.com/services/T000/B000/XXXX");
    assert_eq!(slack.format, Hook::Slack);
    assert_eq!(slack.on, [RunEnd::Failed, RunEnd::RolledBack]);
    assert_eq!(slack.timeout, std::time::Duration::from_secs(5));
    assert!(slack.secret.is_none());
    assert_eq!(
        ding.url,
        "https://oapi.dingtalk.com/robot/send?access_token=t"
    );
    assert_eq!(ding.format, Hook::Dingtalk);
    assert_eq!(
        ding.on,
        [RunEnd::Succeeded, RunEnd::Failed, RunEnd::RolledBack]
    );
    assert_eq!(ding.timeout, crate::notify::DEFAULT_TIMEOUT);
    assert_eq!(ding.secret.as_deref(), Some("SEC000"));
}

fn assert_reference_export(plan: &Plan, output: &Path) {
    let e = &plan.export;
    assert_eq!(e.format, Format::Json);
    assert_eq!(e.output, output);
    assert_eq!(e.mode, ExportMode::Modules);
    assert_eq!(e.since.unwrap().to_rfc3339(), "2024-05-01T00:00:00+08:00");
    assert_eq!(e.modules, ["users", "questions"]);
    assert!(e.closure);
}

fn assert_reference_modules(plan: &Plan) {
    let names: Vec<&str> = plan.modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["users", "questions", "practices"]);
    assert_eq!(plan.modules[0].tables, ["users", "profiles"]);
    assert!(plan.modules[0].depends_on.is_empty());
    let practices = plan.module("practices").unwrap();
    assert_eq!(practices.depends_on, ["users", "questions"]);
    assert_eq!(plan.conflict_for("answers"), Conflict::Overwrite);
    assert_eq!(plan.conflict_for("users"), Conflict::Skip);
    let answers = plan.table_options("answers");
    assert_eq!(answers.key.unwrap(), ["practice_id", "question_id"]);
    assert_eq!(answers.updated_at.as_deref(), Some("answered_at"));
    assert_eq!(answers.exclude, ["client_ip"]);
    assert_eq!(answers.sheet.as_deref(), Some("练习记录"));
    assert_eq!(answers.accept_lossy, ["score"]);
    assert_eq!(plan.sheet_names()["answers"], "练习记录");
    assert_eq!(answers.labels["question_id"], "题目");
    assert_eq!(answers.labels["is_correct"], "是否正确");
    assert_eq!(answers.booleans, Some(["是".to_string(), "否".to_string()]));
    let layout = plan.workbook_layout();
    assert_eq!(layout.label("answers", "is_correct"), Some("是否正确"));
    assert_eq!(layout.booleans["answers"][1], "否");
}

#[test]
fn env_fills_every_kind_of_string() {
    let env = |name: &str| (name == "TIKU").then(|| "tiku".to_string());
    let src = r#"
        [plan]
        name = "${TIKU}-nightly"
        [database]
        url = "sqlite:///data/${TIKU}.db"
        [[module]]
        name = "${TIKU}"
        tables = ["${TIKU}_users"]
        [tables.users]
        exclude = ["$${TIKU}"]
    "#;
    let plan = load_with_env(Path::new("/p/x.toml"), src, &env).unwrap();
    assert_eq!(plan.name, "tiku-nightly");
    assert_eq!(plan.database.unwrap().url, "sqlite:///data/tiku.db");
    assert_eq!(plan.modules[0].name, "tiku");
    assert_eq!(plan.modules[0].tables, ["tiku_users"]);
    assert_eq!(plan.tables["users"].exclude, ["${TIKU}"]);
}

#[test]
fn missing_variable_points_inside_a_plain_string() {
    let d = only_diagnostic("[import]\nfile = \"a/${NOPE}.json\"\n");
    assert_eq!(d.message, "environment variable `NOPE` is not set");
    assert_eq!(d.line_col(), Some((2, 11)));
    assert_eq!(d.span.unwrap().len(), "${NOPE}".len());
}

#[test]
fn missing_variable_in_an_escaped_string_points_at_the_string() {
    let d = only_diagnostic("[import]\nfile = \"a\\\\${NOPE}\"\n");
    assert_eq!(d.line_col(), Some((2, 8)));
}

#[test]
fn paths_resolve_against_the_plan_folder() {
    let src = "[database]\nurl = \"sqlite://db/t.db\"\n[import]\nfile = \"/abs/b.json\"\n";
    let plan = load_ok("/srv/plans/p.toml", src);
    assert_eq!(plan.database.unwrap().url, "sqlite:///srv/plans/db/t.db");
    assert_eq!(plan.import.file.unwrap(), Path::new("/abs/b.json"));
    let plan = load_ok(
        "/srv/plans/p.toml",
        "[database]\nurl = \"postgres://h/db\"\n",
    );
    assert_eq!(plan.database.unwrap().url, "postgres://h/db");
}

#[test]
fn since_accepts_a_toml_offset_datetime() {
    let plan = load_ok("/p/x.toml", "[export]\nsince = 2024-05-01T08:00:00+08:00\n");
    let since = plan.export.since.unwrap();
    assert_eq!(since.to_rfc3339(), "2024-05-01T08:00:00+08:00");
}

#[test]
fn a_cycle_is_reported_once_and_a_branch_into_it_is_not_one() {
    let src = "[[module]]\nname = \"a\"\ndepends_on = [\"b\"]\n\
               [[module]]\nname = \"b\"\ndepends_on = [\"a\"]\n\
               [[module]]\nname = \"c\"\ndepends_on = [\"a\", \"b\"]\n";
    let d = only_diagnostic(src);
    assert_eq!(d.message, "dependency cycle: `a` → `b` → `a`");
    assert_eq!(d.line_col(), Some((6, 15)));
    assert_eq!(d.label.as_deref(), Some("this dependency closes the cycle"));
}

#[test]
fn unreadable_plan_is_a_file_diagnostic() {
    let Err(Error::Invalid(diags)) = load(Path::new("/no/such/plan.toml")) else {
        panic!("loaded a missing file");
    };
    assert!(
        diags[0].message.starts_with("cannot read the plan file"),
        "{diags:?}"
    );
    assert_eq!(diags[0].line_col(), None);
}

#[test]
fn load_reads_a_file_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.toml");
    std::fs::write(&path, "[plan]\nkind = \"import\"\n").unwrap();
    let plan = load(&path).unwrap();
    assert_eq!((plan.name.as_str(), plan.kind), ("disk", PlanKind::Import));
}

#[test]
fn typos_get_suggestions_and_strangers_do_not() {
    assert_eq!(edit_distance("nmae", "name"), 1);
    assert_eq!(edit_distance("question", "questions"), 1);
    assert_eq!(closest("exprot", &["export", "import"]), Some("export"));
    assert_eq!(closest("nope", &["more", "users"]), None);
    assert_eq!(closest("x", &["y"]), None);
}
