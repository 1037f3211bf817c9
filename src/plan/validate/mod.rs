//! Meaning checks: a parsed [`RawPlan`] becomes a [`Plan`].
//!
//! The passes, in order: TOML syntax, key names and value types (serde stops
//! at the first such error, so it is reported alone); then, string by string,
//! `${VAR}` substitution; then meaning (enum values, URLs, paths, modules and
//! their dependencies). Every problem of the later passes is collected, so one
//! `migplan validate` run shows them all, sorted by position in the file.
//!
//! Here the passes and the [`Checker`]'s building blocks; `sections.rs`
//! checks the plan's sections one by one, `modules.rs` the modules together.

mod modules;
mod notify;
mod sections;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeTable;

use super::envsubst::{self, Env};
use super::raw::{RawPlan, Str};
use super::{
    Compression, Conflict, EnvChoice, ExportMode, Format, Plan, PlanKind, Triggers, environments,
};
use crate::diag::Diagnostic;
use crate::error::{Error, Result};
use crate::url::DbUrl;

pub(super) const KINDS: &[(&str, PlanKind)] = &[
    ("export", PlanKind::Export),
    ("import", PlanKind::Import),
    ("migrate", PlanKind::Migrate),
    ("copy", PlanKind::Copy),
];
pub(super) const FORMATS: &[(&str, Format)] = &Format::NAMES;
pub(super) const MODES: &[(&str, ExportMode)] = &[
    ("full", ExportMode::Full),
    ("incremental", ExportMode::Incremental),
    ("modules", ExportMode::Modules),
];
pub(super) const CONFLICTS: &[(&str, Conflict)] = &Conflict::NAMES;
pub(super) const TRIGGERS: &[(&str, Triggers)] = &Triggers::NAMES;
pub(super) const COMPRESSIONS: &[(&str, Compression)] = &[
    ("zstd", Compression::Zstd),
    ("gzip", Compression::Gzip),
    ("none", Compression::None),
];
/// `[backup] dir` when absent, relative to the plan's folder.
const DEFAULT_BACKUP_DIR: &str = "backups";
const DEFAULT_OUTPUT: &str = "{plan}-{timestamp}.json";
const PLACEHOLDERS: &[&str] = &["plan", "timestamp"];

/// Reads and checks the plan at `path`, filling `${VAR}` from the process
/// environment.
pub fn load(path: &Path) -> Result<Plan> {
    load_in(path, None)
}

/// [`load`] with the `[env.NAME]` of `choice` merged over the plan.
pub fn load_in(path: &Path, choice: Option<&EnvChoice>) -> Result<Plan> {
    let src = std::fs::read_to_string(path).map_err(|e| {
        Error::Invalid(vec![Diagnostic::file(
            path,
            format!("cannot read the plan file: {e}"),
        )])
    })?;
    load_selected(path, &src, choice, &envsubst::process_env)
}

/// Checks plan text `src` as if read from `path` (relative paths in the plan
/// are resolved against `path`'s folder).
pub fn load_str(path: &Path, src: &str) -> Result<Plan> {
    load_with_env(path, src, &envsubst::process_env)
}

/// [`load_str`] with the environment `${VAR}` references are filled from.
pub fn load_with_env(path: &Path, src: &str, env: Env<'_>) -> Result<Plan> {
    load_selected(path, src, None, env)
}

/// The names of the plan text's `[env.NAME]` sections (`validate` checks
/// each); empty when there are none or the text does not parse.
pub fn environment_names(src: &str) -> Vec<String> {
    environments::names(src)
}

/// The passes: syntax, the chosen environment merged in, key names and
/// types, then meaning.
pub fn load_selected(
    path: &Path,
    src: &str,
    choice: Option<&EnvChoice>,
    env: Env<'_>,
) -> Result<Plan> {
    let source: Arc<str> = Arc::from(src);
    let syntax = |e: toml::de::Error| Error::Invalid(vec![toml_diagnostic(path, &source, &e)]);
    let mut root = DeTable::parse(src).map_err(syntax)?;
    let layering = environments::Layering {
        path,
        source: &source,
    };
    let environment = layering
        .apply(root.get_mut(), choice)
        .map_err(Error::Invalid)?;
    let raw = RawPlan::deserialize(toml::de::Deserializer::from(root)).map_err(syntax)?;
    let mut cx = Checker::new(path, source.clone(), env);
    let mut plan = cx.plan(raw);
    plan.environment = environment;
    if cx.diags.is_empty() {
        return Ok(plan);
    }
    cx.diags.sort_by_key(|d| d.span.as_ref().map(|s| s.start));
    Err(Error::Invalid(cx.diags))
}

/// Turns serde's wording into ours: keys rather than fields, and a
/// suggestion when a key looks misspelt.
fn toml_diagnostic(path: &Path, source: &Arc<str>, err: &toml::de::Error) -> Diagnostic {
    let message = err.message().trim();
    let (message, help) = match message.strip_prefix("unknown field ") {
        Some(rest) => unknown_key(rest),
        None => (message.replacen("missing field", "missing key", 1), None),
    };
    let diag = match err.span() {
        Some(span) => Diagnostic::at(path, source, span, message),
        None => Diagnostic::file(path, message),
    };
    match help {
        Some(help) => diag.with_help(help),
        None => diag,
    }
}

/// `rest` is serde's "`nmae`, expected one of `name`, `kind`".
fn unknown_key(rest: &str) -> (String, Option<String>) {
    let names: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let Some((key, known)) = names.split_first() else {
        return (format!("unknown key {rest}"), None);
    };
    let help = (!known.is_empty()).then(|| hint(key, known, "known keys"));
    (format!("unknown key `{key}`"), help)
}

/// Walks a raw plan once, collecting diagnostics as it goes.
struct Checker<'a> {
    path: &'a Path,
    /// The plan's folder, absolute, which relative paths are resolved against.
    dir: PathBuf,
    source: Arc<str>,
    env: Env<'a>,
    diags: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    fn new(path: &'a Path, source: Arc<str>, env: Env<'a>) -> Self {
        let dir = path.parent().unwrap_or(Path::new("."));
        // An absolute folder keeps resolved paths valid whatever the
        // working directory of whoever later uses them.
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        Checker {
            path,
            dir,
            source,
            env,
            diags: Vec::new(),
        }
    }

    fn plan(&mut self, raw: RawPlan) -> Plan {
        let modules = self.modules(&raw.modules);
        let kind = self.choice(&raw.plan.kind, "plan kind", KINDS, PlanKind::Export);
        self.check_endpoints(&raw, kind);
        let database = raw.database.as_ref().and_then(|db| self.database(db));
        let source = raw.source.as_ref().and_then(|e| self.endpoint(e));
        let target = raw.target.as_ref().and_then(|e| self.endpoint(e));
        // `{engine}` is filled from the database the scripts run on.
        let engine = target
            .as_deref()
            .or(database.as_ref().map(|d| d.url.as_str()))
            .and_then(|u| DbUrl::parse(u, &self.dir).ok())
            .map(|u| u.engine().name());
        Plan {
            path: self.path.to_path_buf(),
            name: self.name(&raw.plan.name),
            description: self.opt_text(&raw.plan.description),
            kind,
            database,
            source,
            target,
            schema: self.schema(&raw.schema, engine),
            export: self.export(&raw.export, &modules),
            import: self.import(&raw.import),
            modules,
            tables: self.tables(&raw.tables),
            backup: self.backup(&raw.backup),
            notify: self.notify(&raw.notify),
            environment: None,
        }
    }

    // ---- building blocks -------------------------------------------------

    fn diag(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(self.path, &self.source, span, message)
    }

    fn report(&mut self, span: Range<usize>, message: impl Into<String>, help: impl Into<String>) {
        let diag = self.diag(span, message).with_help(help);
        self.diags.push(diag);
    }

    /// The string with its `${VAR}` references filled in, or `None` (and the
    /// bad references reported) when one cannot be.
    fn text(&mut self, s: &Str) -> Option<String> {
        match envsubst::substitute(s.get_ref(), self.env) {
            Ok(value) => Some(value),
            Err(errors) => {
                for e in errors {
                    let span = self.inner_span(s, e.range);
                    self.report(span, e.message, e.help);
                }
                None
            }
        }
    }

    /// Where `range` of a string's value lies in the file: exact when the
    /// string is written without escapes, else the whole string.
    fn inner_span(&self, s: &Str, range: Range<usize>) -> Range<usize> {
        let span = s.span();
        let written = &self.source[span.clone()];
        let inner = written.get(1..written.len().saturating_sub(1));
        if inner == Some(s.get_ref().as_str()) {
            span.start + 1 + range.start..span.start + 1 + range.end
        } else {
            span
        }
    }

    fn spanned(&mut self, s: &Str) -> Option<Str> {
        self.text(s).map(|value| Spanned::new(s.span(), value))
    }

    fn opt_text(&mut self, s: &Option<Str>) -> Option<String> {
        s.as_ref().and_then(|s| self.text(s))
    }

    /// Substituted list items; those that fail are reported and left out.
    fn texts(&mut self, list: &[Str]) -> Vec<Str> {
        list.iter().filter_map(|s| self.spanned(s)).collect()
    }

    /// A path resolved against the plan's folder.
    fn path_of(&mut self, s: &Str) -> Option<PathBuf> {
        let text = self.text(s)?;
        if text.is_empty() {
            self.report(
                s.span(),
                "empty path",
                "give a file path, or remove the key",
            );
            return None;
        }
        Some(crate::paths::join(&self.dir, text))
    }

    fn opt_path(&mut self, s: &Option<Str>) -> Option<PathBuf> {
        s.as_ref().and_then(|s| self.path_of(s))
    }

    /// An enum-ish string; `default` when absent or invalid (invalid is reported).
    fn choice<T: Copy>(
        &mut self,
        raw: &Option<Str>,
        what: &str,
        choices: &[(&str, T)],
        default: T,
    ) -> T {
        let Some(s) = raw.as_ref().and_then(|raw| self.spanned(raw)) else {
            return default;
        };
        self.pick(&s, what, choices).unwrap_or(default)
    }

    fn pick<T: Copy>(&mut self, s: &Str, what: &str, choices: &[(&str, T)]) -> Option<T> {
        let found = choices.iter().find(|(name, _)| name == s.get_ref());
        if found.is_none() {
            let allowed: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
            let help = hint(s.get_ref(), &allowed, "allowed values");
            self.report(s.span(), format!("unknown {what} `{}`", s.get_ref()), help);
        }
        found.map(|(_, value)| *value)
    }
}

fn names(list: Vec<Str>) -> Vec<String> {
    list.into_iter().map(Spanned::into_inner).collect()
}

fn ticks(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}

fn module_hint(got: &str, known: &[&str]) -> String {
    match known.is_empty() {
        true => "no modules are declared; add a `[[module]]` table".into(),
        false => hint(got, known, "known modules"),
    }
}

/// "did you mean `x`? known …: `a`, `b`", or just the list when nothing is close.
pub(super) fn hint(got: &str, known: &[&str], what: &str) -> String {
    let list = format!("{what}: {}", ticks(known));
    match closest(got, known) {
        Some(near) => format!("did you mean `{near}`? {list}"),
        None => list,
    }
}

/// The known name nearest to `got`, if it is near enough to be a typo.
pub fn closest_name<'k>(got: &str, known: &[&'k str]) -> Option<&'k str> {
    closest(got, known)
}

fn closest<'k>(got: &str, known: &[&'k str]) -> Option<&'k str> {
    let limit = (got.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| (edit_distance(got, k), *k))
        .filter(|(d, _)| *d <= limit && *d < got.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Edit distance counting characters, where swapping two neighbours costs
/// one edit like any other typo (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests;
