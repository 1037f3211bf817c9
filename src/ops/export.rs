//! Exports: a plan's, and `migplan export` without a plan; output names.

use std::path::{Path, PathBuf};

use crate::backend::{self, Backend, DbUrl, OpenOptions};
use crate::data::{self, ExportOptions};
use crate::error::{Error, Result};
use crate::format;
use crate::plan::{ExportMode, Format, Plan, PlanKind};
use crate::schema::Scripts;

use crate::format::Compression;

use super::*;

#[derive(Debug, Clone, Default)]
pub struct ExportRequest {
    pub db: String,
    /// Backup format; default from the output's extension, else json.
    pub format: Option<Format>,
    pub modules: Vec<String>,
    /// Export only rows changed after this instant (RFC 3339).
    pub since: Option<String>,
    /// The previous backup of an incremental chain (see `run --follows`).
    pub follows: Option<PathBuf>,
    /// Compress a JSON backup (`.zst` or `.gz` is added to the output's
    /// name); an output named `*.zst` or `*.gz` is compressed without it.
    pub compress: Option<Compression>,
    pub output: PathBuf,
    /// `--encrypt-to age1…`: the public keys a JSON backup is encrypted to
    /// (`.age` is added to the output's name).
    pub encrypt_to: Vec<String>,
    /// Tables read at once (`--jobs`); `None`: the number of cores, at
    /// most 4.
    pub jobs: Option<usize>,
}

pub(crate) fn export(
    plan: &Plan,
    db: &mut dyn Backend,
    output: Option<&Path>,
    version: Option<i64>,
    follows: Option<String>,
) -> Result<data::ExportReport> {
    let output = match output {
        Some(p) => p.to_path_buf(),
        None => expand_output(&plan.export.output, &plan.name),
    };
    let format = format_of(&output).unwrap_or(plan.export.format);
    // `[backup] encrypt` covers the plan's exports too: they are backups.
    let encrypt = plan.backup.encrypt.clone();
    let opts = ExportOptions {
        verb: "exporting",
        mode: plan.export.mode,
        since: plan.export.since,
        modules: plan.export.modules.clone(),
        output: sealed_output(output, format, encrypt.is_some()),
        format,
        schema_version: version,
        follows,
        closure: plan.export.closure,
        encrypt,
        jobs: plan.export.jobs.unwrap_or_else(crate::plan::default_jobs),
    };
    let catalog = db.catalog()?;
    let pulled = closure_view(plan, &catalog)?;
    for t in data::uncovered_tables(plan, &catalog) {
        if !pulled.iter().any(|c| c.table == t) {
            crate::events::note(format!(
                "table `{t}` is in no module of the plan and is left out"
            ));
        }
    }
    data::export(db, plan, &opts)
}

/// An encrypted JSON backup's name ends `.age`; a workbook's is left as
/// it is (the writer refuses to encrypt one, naming it).
fn sealed_output(output: PathBuf, format: Format, encrypted: bool) -> PathBuf {
    match encrypted && format == Format::Json {
        true => format::encrypted_name(&output),
        false => output,
    }
}

/// The format an output file's extension names (`.json`, `.xlsx`), if any:
/// `-o backup.xlsx` writes a workbook whatever the plan's `format`. A
/// compression suffix (`.zst`, `.gz`) names a JSON backup: `backup.json.zst`;
/// `.age` after them is looked through.
pub(crate) fn format_of(path: &Path) -> Option<Format> {
    let path = &format::without_age_suffix(path);
    let named = Format::from_extension(path.extension()?.to_str()?);
    let compressed = format::Compression::from_path(path) != format::Compression::None;
    named.or(compressed.then_some(Format::Json))
}

/// `export --compress CODEC`: the output's name carries the codec (the
/// writer compresses by name), so `-o backup.json --compress zstd` writes
/// `backup.json.zst`.
pub(crate) fn compressed_output(
    output: &Path,
    format: Format,
    compress: Option<format::Compression>,
) -> Result<PathBuf> {
    let named = format::Compression::from_path(output);
    let Some(chosen) = compress.filter(|c| *c != format::Compression::None) else {
        return Ok(output.to_path_buf());
    };
    if format == Format::Xlsx {
        return Err(Error::MisusedOption {
            option: "compress",
            message: format!(
                "`--compress {chosen}` applies to JSON backups: an Excel workbook is compressed already"
            ),
        });
    }
    if named == chosen {
        return Ok(output.to_path_buf());
    }
    if named != format::Compression::None {
        return Err(Error::MisusedOption {
            option: "compress",
            message: format!(
                "`--compress {chosen}` but the output {} names {named} compression: rename it or drop the flag",
                output.display()
            ),
        });
    }
    // The codec's suffix goes before any `.age`: `b.json.age` → `b.json.zst.age`.
    let mut name = format::without_age_suffix(output).into_os_string();
    name.push(chosen.suffix());
    if format::has_age_suffix(output) {
        name.push(format::AGE_SUFFIX);
    }
    Ok(PathBuf::from(name))
}

/// Fills `{plan}` and `{timestamp}` in an output path template. A value
/// is one file-name part: it cannot add a folder or climb out of one.
pub fn expand_output(template: &Path, plan: &str) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    PathBuf::from(
        template
            .to_string_lossy()
            .replace("{plan}", &placeholder_value(plan))
            .replace("{timestamp}", &stamp),
    )
}

/// `value` made safe inside a file name: `/`, `\`, NUL and other control
/// characters become `_`, and so does every `..`.
pub fn placeholder_value(value: &str) -> String {
    let mut out: String = value
        .chars()
        .map(|c| match c {
            '/' | '\\' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    while out.contains("..") {
        out = out.replace("..", "_");
    }
    out
}

/// `migplan export --db URL -o FILE`.
pub fn export_shortcut(args: &ExportRequest) -> Result<Outcome> {
    let mut plan = adhoc_plan(PlanKind::Export, "sqlite://:memory:")?;
    plan.export.since = args.since.as_deref().map(parse_since).transpose()?;
    let follows = follows(&mut plan, args.follows.as_deref(), args.since.is_some())?;
    let url = DbUrl::parse(&args.db, Path::new("."))?;
    let mut db = backend::open(&url, &OpenOptions::default())?;
    let version = Scripts::none().status(db.as_mut(), None)?.version();
    let mode = match (&plan.export.since, args.modules.is_empty()) {
        (Some(_), _) => ExportMode::Incremental,
        (None, false) => ExportMode::Modules,
        (None, true) => ExportMode::Full,
    };
    if !args.modules.is_empty() {
        return Err(Error::MisusedOption {
            option: "modules",
            message:
                "`--modules` needs a plan that declares modules: use `migplan run PLAN --modules …`"
                    .into(),
        });
    }
    let format = args
        .format
        .unwrap_or_else(|| format_of(&args.output).unwrap_or(Format::Json));
    let encrypt = format::Recipients::from_words(&args.encrypt_to)?;
    let output = compressed_output(&args.output, format, args.compress)?;
    let opts = ExportOptions {
        verb: "exporting",
        mode,
        since: plan.export.since,
        modules: vec![],
        output: sealed_output(output, format, encrypt.is_some()),
        format,
        schema_version: version,
        follows,
        closure: false,
        encrypt,
        jobs: args.jobs.unwrap_or_else(crate::plan::default_jobs),
    };
    data::export(db.as_mut(), &plan, &opts).map(Outcome::Export)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_values_cannot_add_or_climb_folders() {
        assert_eq!(placeholder_value("tiku-nightly.v2"), "tiku-nightly.v2");
        assert_eq!(placeholder_value("../../etc/x"), "____etc_x");
        assert_eq!(placeholder_value("a\\b\0c\nd"), "a_b_c_d");
        assert_eq!(placeholder_value("..."), "_.");
        let out = expand_output(Path::new("/p/{plan}.json"), "../x");
        assert_eq!(out.parent(), Some(Path::new("/p")));
    }
}
