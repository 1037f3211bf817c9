//! Meaning checks: a parsed [`RawPlan`] becomes a [`Plan`].
//!
//! The passes, in order: TOML syntax, key names and value types (serde stops
//! at the first such error, so it is reported alone); then, string by string,
//! `${VAR}` substitution; then meaning (enum values, URLs, paths, modules and
//! their dependencies). Every problem of the later passes is collected, so one
//! `migplan validate` run shows them all, sorted by position in the file.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;
use toml::Spanned;
use toml::de::DeTable;

use super::environments;
use super::envsubst::{self, Env};
use super::raw::{
    RawBackup, RawDatabase, RawEndpoint, RawExport, RawImport, RawModule, RawPlan, RawSchema,
    RawTable, Str,
};
use super::{
    BackupSettings, Compression, Conflict, DatabaseConfig, EnvChoice, ExportConfig, ExportMode,
    Format, ImportConfig, Module, Plan, PlanKind, ReadLimits, SchemaConfig, TableOptions, Triggers,
};
use crate::diag::{Diagnostic, line_col};
use crate::error::{Error, Result};
use crate::url::DbUrl;

const KINDS: &[(&str, PlanKind)] = &[
    ("export", PlanKind::Export),
    ("import", PlanKind::Import),
    ("migrate", PlanKind::Migrate),
    ("copy", PlanKind::Copy),
];
const FORMATS: &[(&str, Format)] = &[("json", Format::Json), ("xlsx", Format::Xlsx)];
const MODES: &[(&str, ExportMode)] = &[
    ("full", ExportMode::Full),
    ("incremental", ExportMode::Incremental),
    ("modules", ExportMode::Modules),
];
const CONFLICTS: &[(&str, Conflict)] = &[
    ("skip", Conflict::Skip),
    ("overwrite", Conflict::Overwrite),
    ("error", Conflict::Error),
];
const TRIGGERS: &[(&str, Triggers)] = &[("fire", Triggers::Fire), ("disable", Triggers::Disable)];
const COMPRESSIONS: &[(&str, Compression)] = &[
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

/// A module as written, names already substituted, before the checks that
/// look at every module together.
struct ModuleDraft {
    name: Str,
    tables: Vec<Str>,
    depends_on: Vec<Str>,
    conflict: Option<Conflict>,
}

impl ModuleDraft {
    fn into_module(self) -> Module {
        Module {
            name: self.name.into_inner(),
            tables: names(self.tables),
            depends_on: names(self.depends_on),
            conflict: self.conflict,
        }
    }
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
        Some(self.dir.join(text))
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

    // ---- sections --------------------------------------------------------

    fn name(&mut self, raw: &Option<Str>) -> String {
        let stem = self.path.file_stem().unwrap_or_default();
        self.opt_text(raw)
            .unwrap_or_else(|| stem.to_string_lossy().into_owned())
    }

    fn database(&mut self, raw: &RawDatabase) -> Option<DatabaseConfig> {
        let seed = self.opt_path(&raw.seed);
        let url = self.text(&raw.url)?;
        match DbUrl::parse(&url, &self.dir) {
            Ok(url) => Some(DatabaseConfig {
                url: url.expose().to_string(),
                seed,
            }),
            Err(e) => {
                self.url_error(raw.url.span(), &e);
                None
            }
        }
    }

    /// URL errors carry their own `= help:` line; it becomes our help.
    fn url_error(&mut self, span: Range<usize>, err: &Error) {
        let text = match err {
            Error::Usage(text) => text.clone(),
            other => other.to_string(),
        };
        let diag = match text.split_once("\n  = help: ") {
            Some((message, help)) => self.diag(span, message).with_help(help),
            None => self.diag(span, text),
        };
        self.diags.push(diag);
    }

    /// `copy` plans name `[source]` and `[target]`; other kinds `[database]`.
    fn check_endpoints(&mut self, raw: &RawPlan, kind: PlanKind) {
        let span = |e: &Option<RawEndpoint>| e.as_ref().map(|e| e.url.span());
        if kind == PlanKind::Copy {
            if let Some(db) = &raw.database {
                let help = "a copy plan reads `[source] url` and writes `[target] url`";
                self.report(db.url.span(), "a copy plan has no `[database]`", help);
            }
            return;
        }
        for (name, s) in [("source", span(&raw.source)), ("target", span(&raw.target))] {
            if let Some(s) = s {
                let help = "set `[plan] kind = \"copy\"`, or use `[database] url`";
                self.report(s, format!("`[{name}]` belongs to copy plans"), help);
            }
        }
    }

    fn endpoint(&mut self, raw: &RawEndpoint) -> Option<String> {
        let url = self.text(&raw.url)?;
        match DbUrl::parse(&url, &self.dir) {
            Ok(url) => Some(url.expose().to_string()),
            Err(e) => {
                self.url_error(raw.url.span(), &e);
                None
            }
        }
    }

    fn schema(&mut self, raw: &RawSchema, engine: Option<&str>) -> SchemaConfig {
        if let Some(target) = raw.target.as_ref().filter(|t| *t.get_ref() < 0) {
            let help = "schema versions are the `n` of `V{n}__name.sql`";
            self.report(target.span(), "schema `target` must not be negative", help);
        }
        SchemaConfig {
            migrations: raw.migrations.as_ref().and_then(|m| self.folder(m, engine)),
            apply: raw.apply.unwrap_or(true),
            target: raw.target.as_ref().map(|t| *t.get_ref()),
        }
    }

    /// The migrations folder, which must exist: catching a wrong path here is
    /// what `migplan validate` is for.
    /// With `{engine}` in the path, the folder is checked for the engine of
    /// the plan's database, when the plan names one.
    fn folder(&mut self, raw: &Str, engine: Option<&str>) -> Option<PathBuf> {
        let path = self.path_of(raw)?;
        let templated = path.to_string_lossy().contains(super::ENGINE_PLACEHOLDER);
        let checked = match engine {
            Some(e) if templated => {
                PathBuf::from(path.to_string_lossy().replace(super::ENGINE_PLACEHOLDER, e))
            }
            None if templated => return Some(path),
            _ => path.clone(),
        };
        let problem = match std::fs::metadata(&checked) {
            Ok(meta) if meta.is_dir() => return Some(path),
            Ok(_) => "is not a folder",
            Err(_) => "does not exist",
        };
        // The message quotes the path as written; the label, as resolved.
        let message = format!("migrations folder `{}` {problem}", raw.get_ref());
        let diag = self
            .diag(raw.span(), message)
            .with_label(format!("resolved to `{}`", checked.display()))
            .with_help("relative paths are resolved against the plan file's folder");
        self.diags.push(diag);
        Some(path)
    }

    fn export(&mut self, raw: &RawExport, modules: &[Module]) -> ExportConfig {
        let mode = self.choice(&raw.mode, "export mode", MODES, ExportMode::Full);
        if mode == ExportMode::Modules {
            self.require_selection(raw, modules);
        }
        let format = self.format(&raw.format);
        ExportConfig {
            format,
            output: self.output(&raw.output, format),
            mode,
            since: self.since(&raw.since),
            modules: self.selected_modules(raw, modules),
            closure: raw.closure.unwrap_or(false),
        }
    }

    fn format(&mut self, raw: &Option<Str>) -> Format {
        let Some(s) = raw.as_ref().and_then(|raw| self.spanned(raw)) else {
            return Format::Json;
        };
        self.pick(&s, "export format", FORMATS)
            .unwrap_or(Format::Json)
    }

    /// The output template, placeholders kept; unknown placeholders reported.
    fn output(&mut self, raw: &Option<Str>, format: Format) -> PathBuf {
        let default = DEFAULT_OUTPUT.replace(".json", &format!(".{}", format.extension()));
        let Some(raw) = raw else {
            return self.dir.join(&default);
        };
        let Some(template) = self.spanned(raw) else {
            return self.dir.join(&default);
        };
        for name in placeholders(template.get_ref()) {
            if !PLACEHOLDERS.contains(&name) {
                let message = format!("unknown placeholder `{{{name}}}` in `output`");
                self.report(
                    raw.span(),
                    message,
                    hint(name, PLACEHOLDERS, "placeholders"),
                );
            }
        }
        let Some(path) = self.path_of(&template) else {
            return self.dir.join(&default);
        };
        // Substitution succeeded in `path_of`: this reports nothing new.
        let text = self.text(&template).unwrap_or_default();
        if leaves_folder(Path::new(&text)) {
            self.report(
                raw.span(),
                format!("`output` leaves the plan's folder: `{text}`"),
                "write the backup inside the plan's folder (`backups/{plan}-{timestamp}.json`), or give an absolute path when it belongs elsewhere; `-o` on the command line is taken as given",
            );
        }
        path
    }

    /// `since` as a string (RFC 3339) or a TOML offset date-time.
    fn since(&mut self, raw: &Option<Spanned<toml::Value>>) -> Option<DateTime<FixedOffset>> {
        let raw = raw.as_ref()?;
        let text = match raw.get_ref() {
            toml::Value::String(s) => self.text(&Spanned::new(raw.span(), s.clone()))?,
            toml::Value::Datetime(d) => d.to_string(),
            other => {
                let message = format!("`since` must be a date-time, found {}", other.type_str());
                self.report(raw.span(), message, SINCE_HELP);
                return None;
            }
        };
        match DateTime::parse_from_rfc3339(&text) {
            Ok(t) => Some(t),
            Err(e) => {
                let message = format!("`{text}` is not an RFC 3339 date-time: {e}");
                self.report(raw.span(), message, SINCE_HELP);
                None
            }
        }
    }

    fn require_selection(&mut self, raw: &RawExport, modules: &[Module]) {
        let span = match &raw.modules {
            Some(list) if !list.get_ref().is_empty() => return,
            Some(list) => list.span(),
            None => raw.mode.as_ref().map_or(0..0, Spanned::span),
        };
        let known: Vec<&str> = modules.iter().map(|m| m.name.as_str()).collect();
        let help = match known.is_empty() {
            true => "declare modules with `[[module]]` and list some in `[export] modules`".into(),
            false => format!(
                "list some in `[export] modules`; known modules: {}",
                ticks(&known)
            ),
        };
        self.report(
            span,
            "export mode `modules` needs at least one module",
            help,
        );
    }

    fn selected_modules(&mut self, raw: &RawExport, modules: &[Module]) -> Vec<String> {
        let Some(list) = &raw.modules else {
            return Vec::new();
        };
        let selected = self.texts(list.get_ref());
        let known: Vec<&str> = modules.iter().map(|m| m.name.as_str()).collect();
        for s in selected
            .iter()
            .filter(|s| !known.contains(&s.get_ref().as_str()))
        {
            let message = format!("export selects unknown module `{}`", s.get_ref());
            self.report(s.span(), message, module_hint(s.get_ref(), &known));
        }
        names(selected)
    }

    fn import(&mut self, raw: &RawImport) -> ImportConfig {
        ImportConfig {
            file: self.opt_path(&raw.file),
            conflict: self.choice(&raw.conflict, "conflict policy", CONFLICTS, Conflict::Error),
            adapters: self.adapter_files(&raw.adapters),
            triggers: self.choice(&raw.triggers, "trigger setting", TRIGGERS, Triggers::Fire),
            limits: self.read_limits(raw),
        }
    }

    /// `[import] max_*`: each a positive whole number, else its default.
    fn read_limits(&mut self, raw: &RawImport) -> ReadLimits {
        let d = ReadLimits::default();
        ReadLimits {
            max_value_bytes: self
                .limit(&raw.max_value_bytes, "max_value_bytes", "134_217_728")
                .unwrap_or(d.max_value_bytes),
            max_shared_strings: self
                .limit(&raw.max_shared_strings, "max_shared_strings", "5_000_000")
                .unwrap_or(d.max_shared_strings),
            max_shared_strings_bytes: self
                .limit(
                    &raw.max_shared_strings_bytes,
                    "max_shared_strings_bytes",
                    "268_435_456",
                )
                .unwrap_or(d.max_shared_strings_bytes),
        }
    }

    /// A limit of `[import]`: at least 1; `None` (and the problem reported)
    /// otherwise.
    fn limit(&mut self, raw: &Option<Spanned<i64>>, key: &str, example: &str) -> Option<u64> {
        let raw = raw.as_ref()?;
        match u64::try_from(*raw.get_ref()) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                let message = format!("`[import] {key}` must be a positive whole number");
                let help = format!(
                    "write e.g. `{key} = {example}`, or remove the key for its default (docs/plans.md)"
                );
                self.report(raw.span(), message, help);
                None
            }
        }
    }

    /// Adapter files, resolved; a file that is not there is reported where
    /// it is named (its contents are checked by `adapters::AdapterSet`).
    fn adapter_files(&mut self, raw: &Option<Spanned<Vec<Str>>>) -> Vec<PathBuf> {
        let Some(list) = raw else {
            return Vec::new();
        };
        let mut files = Vec::new();
        for s in list.get_ref() {
            let Some(path) = self.path_of(s) else {
                continue;
            };
            if !path.is_file() {
                let message = format!("adapter file `{}` does not exist", s.get_ref());
                let diag = self
                    .diag(s.span(), message)
                    .with_label(format!("resolved to `{}`", path.display()))
                    .with_help("relative paths are resolved against the plan file's folder");
                self.diags.push(diag);
            }
            files.push(path);
        }
        files
    }

    fn tables(&mut self, raw: &BTreeMap<String, RawTable>) -> BTreeMap<String, TableOptions> {
        raw.iter()
            .map(|(name, table)| (name.clone(), self.table(name, table)))
            .collect()
    }

    fn table(&mut self, name: &str, raw: &RawTable) -> TableOptions {
        if let Some(key) = raw.key.as_ref().filter(|k| k.get_ref().is_empty()) {
            let help = "list the key columns, e.g. `key = [\"id\"]`, or remove `key` to use the primary key";
            self.report(key.span(), format!("`[tables.{name}] key` is empty"), help);
        }
        TableOptions {
            key: raw.key.as_ref().map(|k| names(self.texts(k.get_ref()))),
            updated_at: self.opt_text(&raw.updated_at),
            exclude: names(self.texts(&raw.exclude)),
            sheet: self.opt_text(&raw.sheet),
            accept_lossy: names(self.texts(&raw.accept_lossy)),
        }
    }

    fn backup(&mut self, raw: &RawBackup) -> BackupSettings {
        let dir = self.opt_path(&raw.dir);
        BackupSettings {
            enabled: raw.enabled.unwrap_or(true),
            dir: dir.unwrap_or_else(|| self.dir.join(DEFAULT_BACKUP_DIR)),
            retention_days: self.positive(&raw.retention_days, "retention_days"),
            keep: self.positive(&raw.keep, "keep"),
            compression: self.choice(
                &raw.compression,
                "compression",
                COMPRESSIONS,
                Compression::Zstd,
            ),
        }
    }

    /// A count that must be at least 1 and fit a `u32`; `None` (and the
    /// problem reported) otherwise.
    fn positive(&mut self, raw: &Option<Spanned<i64>>, key: &str) -> Option<u32> {
        let raw = raw.as_ref()?;
        match u32::try_from(*raw.get_ref()) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                let message = format!("`[backup] {key}` must be a positive whole number");
                let help = format!("write e.g. `{key} = 30`, or remove the key for no limit");
                self.report(raw.span(), message, help);
                None
            }
        }
    }

    // ---- modules ---------------------------------------------------------

    fn modules(&mut self, raw: &[RawModule]) -> Vec<Module> {
        let drafts: Vec<ModuleDraft> = raw.iter().map(|m| self.module(m)).collect();
        self.check_unique_names(&drafts);
        self.check_tables_disjoint(&drafts);
        self.check_dependencies(&drafts);
        for cycle in find_cycles(&drafts) {
            let message = format!("dependency cycle: {}", cycle.members.join(" → "));
            let diag = self
                .diag(cycle.closing, message)
                .with_label("this dependency closes the cycle")
                .with_help("remove one of these `depends_on` entries");
            self.diags.push(diag);
        }
        drafts.into_iter().map(ModuleDraft::into_module).collect()
    }

    fn module(&mut self, raw: &RawModule) -> ModuleDraft {
        ModuleDraft {
            // A name that cannot be substituted keeps its written form, so the
            // module still takes part in the other checks.
            name: self.spanned(&raw.name).unwrap_or_else(|| raw.name.clone()),
            tables: self.texts(&raw.tables),
            depends_on: self.texts(&raw.depends_on),
            conflict: raw.conflict.as_ref().and_then(|c| {
                let c = self.spanned(c)?;
                self.pick(&c, "conflict policy", CONFLICTS)
            }),
        }
    }

    fn check_unique_names(&mut self, drafts: &[ModuleDraft]) {
        let mut first: HashMap<&str, &Str> = HashMap::new();
        for d in drafts {
            let Some(earlier) = first.insert(d.name.get_ref(), &d.name) else {
                continue;
            };
            first.insert(d.name.get_ref(), earlier);
            let (line, _) = line_col(&self.source, earlier.span().start);
            let diag = self
                .diag(
                    d.name.span(),
                    format!("duplicate module `{}`", d.name.get_ref()),
                )
                .with_label("declared again here")
                .with_help(format!(
                    "the first `{}` is on line {line}; rename or merge one of them",
                    d.name.get_ref()
                ));
            self.diags.push(diag);
        }
    }

    fn check_tables_disjoint(&mut self, drafts: &[ModuleDraft]) {
        let mut owner: HashMap<&str, (&str, Range<usize>)> = HashMap::new();
        for d in drafts {
            for t in &d.tables {
                let here = (d.name.get_ref().as_str(), t.span());
                match owner.get(t.get_ref().as_str()) {
                    None => {
                        owner.insert(t.get_ref(), here);
                    }
                    Some((first, span)) => {
                        let diag = self.second_table(t, &d.name, first, span.start);
                        self.diags.push(diag);
                    }
                }
            }
        }
    }

    fn second_table(&self, table: &Str, module: &Str, first: &str, first_at: usize) -> Diagnostic {
        let (t, m) = (table.get_ref(), module.get_ref());
        let (line, _) = line_col(&self.source, first_at);
        let message = match first == m {
            true => format!("table `{t}` is listed twice in module `{m}`"),
            false => format!("table `{t}` is in two modules: `{first}` and `{m}`"),
        };
        self.diag(table.span(), message)
            .with_label("listed again here")
            .with_help(format!(
                "a table belongs to one module; it is first listed in `{first}` on line {line}"
            ))
    }

    fn check_dependencies(&mut self, drafts: &[ModuleDraft]) {
        let known: Vec<&str> = drafts.iter().map(|d| d.name.get_ref().as_str()).collect();
        for d in drafts {
            let name = d.name.get_ref();
            for dep in &d.depends_on {
                if dep.get_ref() == name {
                    let help = format!("remove `{name}` from its `depends_on`");
                    self.report(
                        dep.span(),
                        format!("module `{name}` depends on itself"),
                        help,
                    );
                } else if !known.contains(&dep.get_ref().as_str()) {
                    let message = format!(
                        "module `{name}` depends on unknown module `{}`",
                        dep.get_ref()
                    );
                    self.report(dep.span(), message, module_hint(dep.get_ref(), &known));
                }
            }
        }
    }
}

const SINCE_HELP: &str = "write a date, a time and an offset, e.g. `2024-05-01T00:00:00Z`";

/// A circle of modules (first member repeated at the end) and the
/// `depends_on` entry that closes it.
struct Cycle {
    members: Vec<String>,
    closing: Range<usize>,
}

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    New,
    OnPath,
    Done,
}

/// Depth-first search over `depends_on`, in file order so the reported edge
/// is stable. Self-dependencies and unknown names are reported elsewhere.
struct CycleFinder<'d> {
    drafts: &'d [ModuleDraft],
    index: HashMap<&'d str, usize>,
    marks: Vec<Mark>,
    path: Vec<usize>,
    found: Vec<Cycle>,
}

fn find_cycles(drafts: &[ModuleDraft]) -> Vec<Cycle> {
    let mut index = HashMap::new();
    for (i, d) in drafts.iter().enumerate().rev() {
        index.insert(d.name.get_ref().as_str(), i);
    }
    let mut finder = CycleFinder {
        drafts,
        index,
        marks: vec![Mark::New; drafts.len()],
        path: Vec::new(),
        found: Vec::new(),
    };
    for i in 0..drafts.len() {
        if finder.marks[i] == Mark::New {
            finder.visit(i);
        }
    }
    finder.found
}

impl CycleFinder<'_> {
    fn visit(&mut self, m: usize) {
        self.marks[m] = Mark::OnPath;
        self.path.push(m);
        for dep in &self.drafts[m].depends_on {
            let Some(&d) = self.index.get(dep.get_ref().as_str()) else {
                continue;
            };
            match self.marks[d] {
                _ if d == m => {}
                Mark::New => self.visit(d),
                Mark::OnPath => self.close(d, dep.span()),
                Mark::Done => {}
            }
        }
        self.path.pop();
        self.marks[m] = Mark::Done;
    }

    fn close(&mut self, start: usize, closing: Range<usize>) {
        let from = self.path.iter().position(|&i| i == start).unwrap_or(0);
        let members = self.path[from..]
            .iter()
            .chain(std::iter::once(&start))
            .map(|&i| format!("`{}`", self.drafts[i].name.get_ref()))
            .collect();
        self.found.push(Cycle { members, closing });
    }
}

// ---- helpers -------------------------------------------------------------

fn names(list: Vec<Str>) -> Vec<String> {
    list.into_iter().map(Spanned::into_inner).collect()
}

/// Whether a relative path climbs above its starting folder through `..`
/// (`../x`, `a/../../x`); an absolute path is where the user said.
pub fn leaves_folder(path: &Path) -> bool {
    use std::path::Component;
    let mut depth = 0i32;
    for c in path.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => return false,
            Component::CurDir => {}
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

/// The names between `{` and `}` of an output template.
fn placeholders(template: &str) -> Vec<&str> {
    template
        .split('{')
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(name, _)| name))
        .collect()
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
mod tests {
    use super::*;

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
        let src = include_str!("../../plans/reference.toml");
        let plan = load_with_env(&path, src, &no_env).unwrap_or_else(|e| panic!("{e}"));
        let at = |p: &str| dir.join(p);

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
                max_shared_strings: 5_000_000,
                max_shared_strings_bytes: 256 << 20,
            }
        );
        assert_reference_modules(&plan);
        assert_reference_backup(&plan, &at("backups/auto"));
        assert!(plan.environment.is_none());
        assert_eq!(environment_names(src), ["prod", "staging"]);
    }

    fn assert_reference_backup(plan: &Plan, dir: &Path) {
        let b = &plan.backup;
        assert!(b.enabled);
        assert_eq!(b.dir, dir);
        assert_eq!((b.retention_days, b.keep), (Some(30), Some(10)));
        assert_eq!(b.compression, Compression::Gzip);
    }

    /// The reference plan's environments, each merged over it.
    #[test]
    fn reference_plan_environments() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("plans");
        let path = dir.join("reference.toml");
        let src = include_str!("../../plans/reference.toml");
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
        let staging = load("staging");
        let env = staging.environment.unwrap();
        assert_eq!((env.confirm, env.dry_run), (false, true));
        assert_eq!(staging.import.conflict, Conflict::Skip);
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
}
