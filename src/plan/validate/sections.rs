//! The plan's sections checked one by one (`[plan]`, `[database]`,
//! `[source]`/`[target]`, `[schema]`, `[export]`, `[import]`, `[tables]`,
//! `[backup]`): values parsed, paths resolved and looked at, each problem
//! reported where it is written.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use toml::Spanned;

use super::{
    COMPRESSIONS, CONFLICTS, Checker, DEFAULT_BACKUP_DIR, DEFAULT_OUTPUT, FORMATS, MODES,
    PLACEHOLDERS, TRIGGERS, hint, module_hint, names, ticks,
};
use crate::error::Error;
use crate::format::Recipients;
use crate::plan::raw::{
    RawBackup, RawDatabase, RawEncrypt, RawEndpoint, RawExport, RawImport, RawPlan, RawSchema,
    RawTable, Str,
};
use crate::plan::{
    BackupSettings, Compression, Conflict, DatabaseConfig, ExportConfig, ExportMode, Format,
    ImportConfig, Module, PlanKind, ReadLimits, SchemaConfig, TableOptions, Triggers,
};
use crate::url::DbUrl;

impl Checker<'_> {
    pub(super) fn name(&mut self, raw: &Option<Str>) -> String {
        let stem = self.path.file_stem().unwrap_or_default();
        self.opt_text(raw)
            .unwrap_or_else(|| stem.to_string_lossy().into_owned())
    }

    pub(super) fn database(&mut self, raw: &RawDatabase) -> Option<DatabaseConfig> {
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
        let diag = match err.help() {
            Some(help) => self.diag(span, err.message()).with_help(help),
            None => self.diag(span, err.to_string()),
        };
        self.diags.push(diag);
    }

    /// `copy` plans name `[source]` and `[target]`; other kinds `[database]`.
    pub(super) fn check_endpoints(&mut self, raw: &RawPlan, kind: PlanKind) {
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

    pub(super) fn endpoint(&mut self, raw: &RawEndpoint) -> Option<String> {
        let url = self.text(&raw.url)?;
        match DbUrl::parse(&url, &self.dir) {
            Ok(url) => Some(url.expose().to_string()),
            Err(e) => {
                self.url_error(raw.url.span(), &e);
                None
            }
        }
    }

    pub(super) fn schema(&mut self, raw: &RawSchema, engine: Option<&str>) -> SchemaConfig {
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
        let templated = path
            .to_string_lossy()
            .contains(crate::plan::ENGINE_PLACEHOLDER);
        let checked = match engine {
            Some(e) if templated => PathBuf::from(
                path.to_string_lossy()
                    .replace(crate::plan::ENGINE_PLACEHOLDER, e),
            ),
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

    pub(super) fn export(&mut self, raw: &RawExport, modules: &[Module]) -> ExportConfig {
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
            jobs: raw.jobs.map(|n| usize::from(n.get())),
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
            return crate::paths::join(&self.dir, &default);
        };
        let Some(template) = self.spanned(raw) else {
            return crate::paths::join(&self.dir, &default);
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
            return crate::paths::join(&self.dir, &default);
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

    pub(super) fn import(&mut self, raw: &RawImport) -> ImportConfig {
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
            max_meta_bytes: self
                .limit(&raw.max_meta_bytes, "max_meta_bytes", "16_777_216")
                .unwrap_or(d.max_meta_bytes),
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

    pub(super) fn tables(
        &mut self,
        raw: &BTreeMap<String, RawTable>,
    ) -> BTreeMap<String, TableOptions> {
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
            labels: self.labels(name, &raw.labels),
            booleans: self.booleans(name, &raw.booleans),
            accept_lossy: names(self.texts(&raw.accept_lossy)),
        }
    }

    /// `[tables.NAME] labels`: non-empty, unique within the table.
    fn labels(&mut self, table: &str, raw: &BTreeMap<String, Str>) -> BTreeMap<String, String> {
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for (column, label) in raw {
            let Some(text) = self.text(label) else {
                continue;
            };
            if text.trim().is_empty() {
                self.report(
                    label.span(),
                    format!("`[tables.{table}] labels`: the label of `{column}` is empty"),
                    "give the header people should read, or remove the column from `labels`",
                );
                continue;
            }
            let key = text.trim().to_string();
            if let Some(other) = seen.get(&key) {
                self.report(
                    label.span(),
                    format!(
                        "`[tables.{table}] labels`: `{column}` and `{other}` have the same label {text:?}"
                    ),
                    "labels are headers: each column of the table needs its own",
                );
                continue;
            }
            if raw.contains_key(&key) && key != *column {
                self.report(
                    label.span(),
                    format!(
                        "`[tables.{table}] labels`: the label of `{column}` is the name of another column, `{key}`"
                    ),
                    "a header must name one column: choose another label",
                );
                continue;
            }
            seen.insert(key, column.clone());
            out.insert(column.clone(), text);
        }
        out
    }

    /// `[tables.NAME] booleans`: two different, non-empty texts.
    fn booleans(&mut self, table: &str, raw: &Option<Spanned<Vec<Str>>>) -> Option<[String; 2]> {
        let raw = raw.as_ref()?;
        let texts: Vec<String> = raw.get_ref().iter().filter_map(|s| self.text(s)).collect();
        match texts.as_slice() {
            [yes, no]
                if !yes.trim().is_empty()
                    && !no.trim().is_empty()
                    && yes.trim().to_lowercase() != no.trim().to_lowercase() =>
            {
                Some([yes.clone(), no.clone()])
            }
            _ => {
                self.report(
                    raw.span(),
                    format!(
                        "`[tables.{table}] booleans` must be two different texts, for true then false"
                    ),
                    "write e.g. `booleans = [\"是\", \"否\"]`, or remove the key for TRUE/FALSE",
                );
                None
            }
        }
    }

    pub(super) fn backup(&mut self, raw: &RawBackup) -> BackupSettings {
        let dir = self.opt_path(&raw.dir);
        BackupSettings {
            enabled: raw.enabled.unwrap_or(true),
            dir: dir.unwrap_or_else(|| crate::paths::join(&self.dir, DEFAULT_BACKUP_DIR)),
            retention_days: self.positive(&raw.retention_days, "retention_days"),
            keep: self.positive(&raw.keep, "keep"),
            compression: self.choice(
                &raw.compression,
                "compression",
                COMPRESSIONS,
                Compression::Zstd,
            ),
            encrypt: self.encrypt(&raw.encrypt),
        }
    }

    /// `[backup] encrypt`: every recipient an age X25519 public key, at
    /// least one; a bad one reported where it is written.
    fn encrypt(&mut self, raw: &Option<Spanned<RawEncrypt>>) -> Option<Recipients> {
        let raw = raw.as_ref()?;
        let before = self.diags.len();
        let mut keys = vec![];
        for (i, s) in self.texts(&raw.get_ref().recipients).iter().enumerate() {
            match Recipients::parse_one(s.get_ref()) {
                Ok(key) => keys.push(key),
                Err(why) => self.report(
                    s.span(),
                    format!("`[backup] encrypt` recipients[{i}] is not an age public key: {why}"),
                    RECIPIENT_HELP,
                ),
            }
        }
        if let Some(file) = &raw.get_ref().recipients_file {
            keys.extend(self.recipients_file(file));
        }
        if keys.is_empty() && self.diags.len() == before {
            self.report(
                raw.span(),
                "`[backup] encrypt` names no recipient",
                "list the public keys backups are encrypted to, e.g. `encrypt = { recipients = [\"age1…\"] }`, or remove `encrypt`",
            );
        }
        Recipients::new(keys)
    }

    /// The keys of `recipients_file` (resolved against the plan's folder),
    /// each line an `age1…` key, `#` comments and blank lines skipped.
    fn recipients_file(&mut self, raw: &Str) -> Vec<age::x25519::Recipient> {
        let Some(path) = self.path_of(raw) else {
            return vec![];
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                let message = format!("cannot read `recipients_file` {}: {e}", path.display());
                self.report(raw.span(), message, "give a file of `age1…` lines");
                return vec![];
            }
        };
        let mut keys = vec![];
        for (i, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match Recipients::parse_one(line) {
                Ok(key) => keys.push(key),
                Err(why) => {
                    let message = format!("{}:{i}: not an age public key: {why}", path.display());
                    self.report(raw.span(), message, RECIPIENT_HELP);
                }
            }
        }
        keys
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
}

const RECIPIENT_HELP: &str = "give the public key (`age1…`) that `age-keygen` prints as `Public key:` (or `age-keygen -y IDENTITY_FILE`); the identity (`AGE-SECRET-KEY-1…`) stays off the plan";

const SINCE_HELP: &str = "write a date, a time and an offset, e.g. `2024-05-01T00:00:00Z`";

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
