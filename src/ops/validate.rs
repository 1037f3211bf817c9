//! `migplan validate`: plan files checked, offline or against a database.

use std::path::{Path, PathBuf};

use crate::adapters::AdapterSet;
use crate::backend::{self, DbUrl, OpenOptions};
use crate::diag::Diagnostic;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Default)]
pub struct ValidateRequest {
    /// Plan files or folders of plan files.
    pub paths: Vec<PathBuf>,
    /// Also check tables, columns and module order against this database.
    pub db: Option<String>,
    /// Check only this `[env.NAME]` merged over each plan (default: the
    /// plan and every environment; `MIGPLAN_ENV` is not read here).
    pub env: Option<String>,
}

use crate::plan::{self, EnvChoice, Plan};

/// Every file checked, with its problems (none: valid).
#[derive(Debug)]
pub struct Validation {
    pub results: Vec<(PathBuf, Vec<Diagnostic>)>,
}

impl Validation {
    pub fn valid(&self) -> bool {
        self.results.iter().all(|(_, d)| d.is_empty())
    }
}

/// `migplan validate PATH...`: exit 0 when every plan is valid, 1 otherwise.
pub fn validate(args: &ValidateRequest) -> Result<Validation> {
    let files = plan_files(&args.paths)?;
    let mut results = Vec::new();
    for f in &files {
        let diags = if is_adapter_file(f) {
            diagnostics(f, AdapterSet::load(std::slice::from_ref(f)).map(drop))
        } else {
            validate_plan(f, args)
        };
        results.push((f.clone(), diags));
    }
    Ok(Validation { results })
}

/// The plan's problems, then each environment's (`--env`: that one's
/// only), each said once: a problem of the plan itself is not repeated for
/// every environment that inherits it.
pub(crate) fn validate_plan(f: &Path, args: &ValidateRequest) -> Vec<Diagnostic> {
    let check = |choice: Option<&EnvChoice>| {
        let checked = plan::load_in(f, choice).and_then(|p| check_loaded(&p, args));
        diagnostics(f, checked)
    };
    let (mut found, names) = match &args.env {
        Some(name) => (Vec::new(), vec![name.clone()]),
        None => (check(None), environments_of(f)),
    };
    for name in names {
        let choice = EnvChoice::flag(&name);
        for d in check(Some(&choice)) {
            if !found.iter().any(|b| same_problem(b, &d)) {
                found.push(in_environment(d, &name));
            }
        }
    }
    found
}

/// The checks beyond loading: the plan's adapter files, and `--db`.
pub(crate) fn check_loaded(plan: &Plan, args: &ValidateRequest) -> Result<()> {
    AdapterSet::load(&plan.import.adapters)?;
    let Some(db) = &args.db else {
        return Ok(());
    };
    match check_against_db(plan, db)? {
        d if d.is_empty() => Ok(()),
        d => Err(Error::Invalid(d)),
    }
}

pub(crate) fn diagnostics(f: &Path, checked: Result<()>) -> Vec<Diagnostic> {
    match checked {
        Ok(()) => vec![],
        Err(Error::Invalid(d)) => d,
        Err(e) => vec![Diagnostic::file(f, e.to_string())],
    }
}

pub(crate) fn environments_of(f: &Path) -> Vec<String> {
    std::fs::read_to_string(f)
        .map(|src| plan::environment_names(&src))
        .unwrap_or_default()
}

pub(crate) fn same_problem(a: &Diagnostic, b: &Diagnostic) -> bool {
    (&a.path, &a.span, &a.message) == (&b.path, &b.span, &b.message)
}

/// Says which environment a problem belongs to, unless it already does.
pub(crate) fn in_environment(mut d: Diagnostic, name: &str) -> Diagnostic {
    if !d.message.contains(&format!("environment `{name}`")) {
        d.message = format!("in environment `{name}`: {}", d.message);
    }
    d
}

/// An adapter file holds `[[step]]`s and no `[plan]` (docs/adapters.md).
pub(crate) fn is_adapter_file(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    match text.parse::<toml::Table>() {
        Ok(t) => t.contains_key("step") && !t.contains_key("plan"),
        Err(_) => false,
    }
}

/// Files as given, and every `*.toml` under given folders (sorted).
pub(crate) fn plan_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            collect_toml(p, &mut found)?;
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

pub(crate) fn collect_toml(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            collect_toml(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            found.push(path);
        }
    }
    Ok(())
}

/// `validate --db`: tables and columns exist, and the declared module order
/// agrees with the foreign keys; each problem pointed at where the plan
/// writes the name, with the database's nearest name as a suggestion.
pub(crate) fn check_against_db(plan: &Plan, url: &str) -> Result<Vec<Diagnostic>> {
    let url = DbUrl::parse(url, Path::new("."))?;
    let mut db = backend::open(&url, &OpenOptions::default())?;
    let catalog = db.catalog()?;
    let src = std::fs::read_to_string(&plan.path).unwrap_or_default();
    let at = Pointer {
        path: &plan.path,
        located: plan::locate::Located::parse(&src),
        src: src.into(),
    };
    let tables: Vec<&str> = catalog.tables.iter().map(|t| t.name.as_str()).collect();
    let database = url.redacted();
    let mut problems = Vec::new();
    for m in &plan.modules {
        for t in m.tables.iter().filter(|t| catalog.table(t).is_none()) {
            let span = at.located.as_ref().and_then(|l| l.module_table(&m.name, t));
            let message = format!(
                "module `{}` lists table `{t}`, which {database} does not have",
                m.name
            );
            problems.push(at.problem(span, message, suggest(t, &tables, "tables")));
        }
    }
    for (table, opts) in &plan.tables {
        let Some(info) = catalog.table(table) else {
            let span = at.located.as_ref().and_then(|l| l.table_header(table));
            let message = format!("`[tables.{table}]` names a table {database} does not have");
            problems.push(at.problem(span, message, suggest(table, &tables, "tables")));
            continue;
        };
        let columns: Vec<&str> = info.columns.iter().map(|c| c.name.as_str()).collect();
        let named = opts
            .key
            .iter()
            .flatten()
            .chain(opts.updated_at.iter())
            .chain(opts.exclude.iter())
            .chain(opts.accept_lossy.iter());
        for c in named.filter(|c| info.column(c).is_none()) {
            let span = at.located.as_ref().and_then(|l| l.table_column(table, c));
            let message = format!(
                "`[tables.{table}]` names column `{c}`, which table `{table}` does not have"
            );
            let help = suggest(c, &columns, &format!("columns of `{table}`"));
            problems.push(at.problem(span, message, help));
        }
    }
    for (module, message) in module_order_problems(plan, &catalog) {
        let span = at.located.as_ref().and_then(|l| l.module_name(&module));
        problems.push(at.problem(span, message, None));
    }
    Ok(problems)
}

/// Diagnostics pointing into the plan file where it writes a name; the
/// whole file when it does not (a name from `${VAR}`, an environment).
struct Pointer<'a> {
    path: &'a Path,
    located: Option<plan::locate::Located>,
    src: std::sync::Arc<str>,
}

impl Pointer<'_> {
    fn problem(
        &self,
        span: Option<std::ops::Range<usize>>,
        message: String,
        help: Option<String>,
    ) -> Diagnostic {
        let d = match span {
            Some(span) => Diagnostic::at(self.path, &self.src, span, message),
            None => Diagnostic::file(self.path, message),
        };
        match help {
            Some(h) => d.with_help(h),
            None => d,
        }
    }
}

/// "did you mean" the database's nearest name; a short list when it has
/// few, else where to see them all.
fn suggest(got: &str, known: &[&str], what: &str) -> Option<String> {
    let near = plan::closest_name(got, known).map(|n| format!("did you mean `{n}`? "));
    let list = match known.len() {
        0 => format!("the database has no {what}"),
        1..=12 => format!(
            "{what}: {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        n => format!("the database has {n} {what}: `migplan status --db URL` lists them"),
    };
    Some(near.unwrap_or_default() + &list)
}

/// A foreign key from a table of module A to a table of module B needs A to
/// depend (directly or not) on B: (module A, the problem).
pub(crate) fn module_order_problems(
    plan: &Plan,
    catalog: &crate::catalog::Catalog,
) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for table in &catalog.tables {
        let Some(child) = plan.module_of(&table.name) else {
            continue;
        };
        for fk in &table.foreign_keys {
            let Some(parent) = plan.module_of(&fk.ref_table) else {
                continue;
            };
            if parent.name != child.name && !depends(plan, &child.name, &parent.name, &mut vec![]) {
                problems.push((child.name.clone(), format!(
                    "`{}`.({}) references `{}` of module `{}`, but module `{}` does not depend on `{}`: add it to `depends_on`",
                    table.name, fk.columns.join(", "), fk.ref_table, parent.name, child.name, parent.name
                )));
            }
        }
    }
    problems
}

pub(crate) fn depends(plan: &Plan, from: &str, on: &str, seen: &mut Vec<String>) -> bool {
    if seen.iter().any(|s| s == from) {
        return false;
    }
    seen.push(from.to_string());
    let Some(m) = plan.module(from) else {
        return false;
    };
    m.depends_on
        .iter()
        .any(|d| d == on || depends(plan, d, on, seen))
}
