//! Adapter files → [`Step`]s. Syntax, key names and value types come from
//! serde (the first such error of a file is reported alone, like plans);
//! then meaning: versions, exactly-one-of keys, types, values, expressions.
//! Every problem of every file is collected, sorted by file and position.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::Spanned;

use super::raw::{
    RawAddColumn, RawChange, RawCondition, RawFile, RawMapValues, RawSplitRows, RawStep, Scalar,
    Str,
};
use super::{Change, ChangeKind, Condition, ExprText, Fill, Step, Test, Unmapped, expr};
use crate::diag::Diagnostic;
use crate::error::{Error, Result};
use crate::value::{ColumnType, Value};

pub(super) const TYPES: &[ColumnType] = &[
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
    ColumnType::Interval,
    ColumnType::Array,
    ColumnType::Enum,
    ColumnType::Set,
    ColumnType::Any,
];

const KINDS: &[&str] = &[
    "rename_table",
    "rename_column",
    "add_column",
    "drop_column",
    "drop_table",
    "map_values",
    "split_rows",
    "set_column",
];

pub fn load(paths: &[PathBuf]) -> Result<Vec<Step>> {
    let mut steps: Vec<Step> = Vec::new();
    let mut diags = Vec::new();
    for path in paths {
        let src = match std::fs::read_to_string(path) {
            Ok(src) => src,
            Err(e) => {
                diags.push(Diagnostic::file(
                    path,
                    format!("cannot read the adapter file: {e}"),
                ));
                continue;
            }
        };
        let mut file = FileChecker {
            path,
            source: Arc::from(src.as_str()),
            diags: Vec::new(),
        };
        let found = file.file(&src);
        file.diags.sort_by_key(|d| d.span.as_ref().map(|s| s.start));
        diags.append(&mut file.diags);
        steps.extend(found);
    }
    check_duplicates(&steps, &mut diags);
    if diags.is_empty() {
        Ok(steps)
    } else {
        Err(Error::Invalid(diags))
    }
}

/// Two steps with the same `from` and `to`, in one file or across files.
fn check_duplicates(steps: &[Step], diags: &mut Vec<Diagnostic>) {
    let mut first: HashMap<(i64, i64), &Step> = HashMap::new();
    for s in steps {
        match first.get(&(s.from, s.to)) {
            Some(f) => diags.push(
                s.diag(
                    s.span.clone(),
                    format!("a second step from version {} to {}", s.from, s.to),
                )
                .with_help(format!(
                    "the first is at {}; merge their changes into one step",
                    f.location()
                )),
            ),
            None => {
                first.insert((s.from, s.to), s);
            }
        }
    }
}

struct FileChecker<'a> {
    path: &'a Path,
    source: Arc<str>,
    diags: Vec<Diagnostic>,
}

impl FileChecker<'_> {
    fn report(&mut self, span: Range<usize>, message: impl Into<String>, help: Option<String>) {
        let d = Diagnostic::at(self.path, &self.source, span, message);
        self.diags.push(match help {
            Some(h) => d.with_help(h),
            None => d,
        });
    }

    fn file(&mut self, src: &str) -> Vec<Step> {
        let raw: RawFile = match toml::from_str(src) {
            Ok(raw) => raw,
            Err(e) => {
                let d = toml_diagnostic(self.path, &self.source, &e);
                self.diags.push(d);
                return vec![];
            }
        };
        if raw.step.is_empty() {
            self.diags.push(Diagnostic::file(
                self.path,
                "the adapter file declares no `[[step]]`",
            ));
        }
        raw.step
            .into_iter()
            .filter_map(|s| {
                let span = s.span();
                self.step(s.into_inner(), span)
            })
            .collect()
    }

    fn step(&mut self, raw: RawStep, span: Range<usize>) -> Option<Step> {
        let (from, to) = (*raw.from.get_ref(), *raw.to.get_ref());
        let mut ok = true;
        if from >= to {
            let help = "adapters only upgrade: `to` must be higher than `from`".to_string();
            self.report(
                raw.to.span(),
                format!("a step from version {from} to {to} does not lead to a higher version"),
                Some(help),
            );
            ok = false;
        }
        let mut changes = Vec::new();
        for c in raw.changes {
            let span = c.span();
            match self.change(c.into_inner()) {
                Some(kind) => changes.push(Change { kind, span }),
                None => ok = false,
            }
        }
        ok.then(|| Step {
            from,
            to,
            description: raw.description.map(Spanned::into_inner),
            changes,
            path: self.path.to_path_buf(),
            source: self.source.clone(),
            span,
        })
    }

    fn change(&mut self, raw: RawChange) -> Option<ChangeKind> {
        Some(match raw {
            RawChange::RenameTable(r) => ChangeKind::RenameTable {
                from: self.name(r.from)?,
                to: self.name(r.to)?,
            },
            RawChange::RenameColumn(r) => ChangeKind::RenameColumn {
                table: self.name(r.table)?,
                from: self.name(r.from)?,
                to: self.name(r.to)?,
            },
            RawChange::AddColumn(r) => self.add_column(r)?,
            RawChange::DropColumn(r) => ChangeKind::DropColumn {
                table: self.name(r.table)?,
                column: self.name(r.column)?,
            },
            RawChange::DropTable(r) => ChangeKind::DropTable {
                table: self.name(r.table)?,
            },
            RawChange::MapValues(r) => self.map_values(r)?,
            RawChange::SplitRows(r) => self.split_rows(r)?,
            RawChange::SetColumn(r) => {
                let ty = self.ty(&r.ty);
                let expr = self.expr(r.expr);
                ChangeKind::SetColumn {
                    table: self.name(r.table)?,
                    column: self.name(r.column)?,
                    expr: expr?,
                    ty: ty?,
                }
            }
        })
    }

    /// A table or column name: not empty.
    fn name(&mut self, s: Str) -> Option<Str> {
        if s.get_ref().is_empty() {
            self.report(s.span(), "empty name", None);
            return None;
        }
        Some(s)
    }

    /// An optional `type = "…"`: `Some(None)` when absent, `None` when invalid.
    fn ty(&mut self, s: &Option<Str>) -> Option<Option<ColumnType>> {
        let Some(s) = s else { return Some(None) };
        match TYPES.iter().find(|t| t.name() == s.get_ref()) {
            Some(t) => Some(Some(*t)),
            None => {
                let names: Vec<String> = TYPES.iter().map(|t| format!("`{}`", t.name())).collect();
                self.report(
                    s.span(),
                    format!("unknown column type `{}`", s.get_ref()),
                    Some(format!("allowed values: {}", names.join(", "))),
                );
                None
            }
        }
    }

    /// A TOML scalar as a [`Value`]: integer, float, string or boolean.
    fn scalar(&mut self, s: &Scalar) -> Option<Value> {
        match s.get_ref() {
            toml::Value::Integer(i) => Some(Value::Int(*i)),
            toml::Value::Float(f) => Some(Value::Float(*f)),
            toml::Value::String(t) => Some(Value::Text(t.clone())),
            toml::Value::Boolean(b) => Some(Value::Bool(*b)),
            other => {
                self.report(
                    s.span(),
                    format!(
                        "a value here must be a string, an integer, a float or a boolean, not {}",
                        other.type_str()
                    ),
                    matches!(other, toml::Value::Datetime(_))
                        .then(|| "write dates and times as strings".to_string()),
                );
                None
            }
        }
    }

    fn add_column(&mut self, r: RawAddColumn) -> Option<ChangeKind> {
        let ty = self.ty(&r.ty);
        let fill = match (&r.default, r.copy_from) {
            (Some(d), None) => self.scalar(d).map(Fill::Default),
            (None, Some(c)) => self.name(c).map(Fill::CopyFrom),
            (Some(d), Some(c)) => {
                let span = d.span().start.min(c.span().start)..d.span().end.max(c.span().end);
                self.report(
                    span,
                    format!(
                        "`add_column` of `{}` has both `default` and `copy_from`",
                        r.column.get_ref()
                    ),
                    Some("keep one: a constant `default`, or `copy_from` another column".into()),
                );
                None
            }
            (None, None) => {
                self.report(
                    r.column.span(),
                    format!(
                        "`add_column` of `{}` needs `default` or `copy_from`",
                        r.column.get_ref()
                    ),
                    Some("`default = 0` fills every row with a constant; `copy_from = \"other\"` copies another column".into()),
                );
                None
            }
        };
        Some(ChangeKind::AddColumn {
            table: self.name(r.table)?,
            column: self.name(r.column)?,
            fill: fill?,
            ty: ty?,
        })
    }

    fn map_values(&mut self, r: RawMapValues) -> Option<ChangeKind> {
        let ty = self.ty(&r.ty);
        let mut map = BTreeMap::new();
        let mut ok = true;
        for (k, v) in r.map.get_ref() {
            match self.scalar(v) {
                Some(v) => {
                    map.insert(k.clone(), v);
                }
                None => ok = false,
            }
        }
        let default = match &r.default {
            Some(d) => Some(self.scalar(d)?),
            None => None,
        };
        let unmapped = match (&r.unmapped, default) {
            (None, None) => Unmapped::Keep,
            (None, Some(d)) => Unmapped::Default(d),
            (Some(u), None) => match u.get_ref().as_str() {
                "keep" => Unmapped::Keep,
                "error" => Unmapped::Error,
                other => {
                    self.report(
                        u.span(),
                        format!("unknown `unmapped` value `{other}`"),
                        Some(
                            "allowed values: `keep`, `error` (or give `default = …` instead)"
                                .into(),
                        ),
                    );
                    return None;
                }
            },
            (Some(u), Some(_)) => {
                self.report(
                    u.span(),
                    "`map_values` has both `unmapped` and `default`",
                    Some(
                        "`default = …` already says what unmapped values become; remove one".into(),
                    ),
                );
                return None;
            }
        };
        if map.is_empty() && ok {
            self.report(
                r.map.span(),
                "`map` is empty",
                Some("list `\"old\" = new` pairs".into()),
            );
            return None;
        }
        Some(ChangeKind::MapValues {
            table: self.name(r.table)?,
            column: self.name(r.column)?,
            map: ok.then_some(map)?,
            unmapped,
            ty: ty?,
        })
    }

    fn split_rows(&mut self, r: RawSplitRows) -> Option<ChangeKind> {
        let when = self.condition(r.when);
        if r.into.get_ref() == r.table.get_ref() {
            self.report(
                r.into.span(),
                format!(
                    "`split_rows` moves rows of `{}` into itself",
                    r.table.get_ref()
                ),
                Some("`into` names the new table the matching rows move to".into()),
            );
            return None;
        }
        let columns = match r.columns {
            Some(cols) => {
                if cols.is_empty() {
                    let span = r.into.span();
                    let help =
                        "list the columns the new table keeps, or leave `columns` out to keep all";
                    self.report(span, "`columns = []` keeps no column", Some(help.into()));
                    return None;
                }
                let mut ok = true;
                for (i, c) in cols.iter().enumerate() {
                    if cols[..i].iter().any(|p| p.get_ref() == c.get_ref()) {
                        self.report(
                            c.span(),
                            format!("column `{}` is listed twice", c.get_ref()),
                            None,
                        );
                        ok = false;
                    }
                }
                ok.then_some(Some(cols))?
            }
            None => None,
        };
        let rename = r.rename.unwrap_or_default().into_iter().collect();
        Some(ChangeKind::SplitRows {
            table: self.name(r.table)?,
            into: self.name(r.into)?,
            when: when?,
            columns,
            rename,
        })
    }

    fn condition(&mut self, when: Spanned<RawCondition>) -> Option<Condition> {
        let span = when.span();
        let c = when.into_inner();
        let test = match (&c.equals, &c.one_of, &c.is_null) {
            (Some(v), None, None) => Test::Equals(self.scalar(v)?),
            (None, Some(list), None) => {
                if list.get_ref().is_empty() {
                    self.report(list.span(), "`in = []` matches no row", None);
                    return None;
                }
                let values: Vec<Option<Value>> =
                    list.get_ref().iter().map(|v| self.scalar(v)).collect();
                Test::In(values.into_iter().collect::<Option<_>>()?)
            }
            (None, None, Some(b)) => Test::IsNull(*b.get_ref()),
            _ => {
                self.report(
                    span,
                    "a condition needs exactly one of `equals`, `in` and `is_null`",
                    Some("e.g. `when = { column = \"status\", equals = \"archived\" }`".into()),
                );
                return None;
            }
        };
        Some(Condition {
            column: self.name(c.column)?,
            test,
        })
    }

    /// Parses an expression; a syntax error points inside the string when
    /// the string is written without escapes, else at the whole string.
    fn expr(&mut self, s: Str) -> Option<ExprText> {
        let span = s.span();
        let written = &self.source[span.clone()];
        let inner = written.get(1..written.len().saturating_sub(1));
        let base = (inner == Some(s.get_ref().as_str())).then_some(span.start + 1);
        match expr::parse(s.get_ref()) {
            Ok(expr) => Some(ExprText {
                expr,
                text: s,
                base,
            }),
            Err(e) => {
                let at = match base {
                    Some(b) => b + e.span.start..b + e.span.end,
                    None => span,
                };
                self.report(at, format!("in the expression: {}", e.message), None);
                None
            }
        }
    }
}

/// Serde's wording turned into ours, like plan files: keys rather than
/// fields, change kinds rather than variants.
fn toml_diagnostic(path: &Path, source: &Arc<str>, err: &toml::de::Error) -> Diagnostic {
    let message = err.message().trim();
    let (message, help) = if let Some(rest) = message.strip_prefix("unknown variant ") {
        let got = rest.split('`').nth(1).unwrap_or(rest);
        let kinds: Vec<String> = KINDS.iter().map(|k| format!("`{k}`")).collect();
        (
            format!("unknown change kind `{got}`"),
            Some(format!("change kinds: {}", kinds.join(", "))),
        )
    } else if let Some(rest) = message.strip_prefix("unknown field ") {
        let names: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
        match names.split_first() {
            Some((key, known)) if !known.is_empty() => {
                let known: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                (
                    format!("unknown key `{key}`"),
                    Some(format!("known keys: {}", known.join(", "))),
                )
            }
            _ => (format!("unknown key {rest}"), None),
        }
    } else {
        (message.replacen("missing field", "missing key", 1), None)
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
