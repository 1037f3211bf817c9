//! The static check and the compiled form of a chain: every change replayed
//! over the backup's meta, before any row is read. A step naming a table or
//! column that will not be there is an error at its position in the adapter
//! file; what survives is, per step, a [`Stage`] of row operations by column
//! index, and the upgraded meta.
//!
//! Within a stage each table of the stage's input is a *pipe*: its current
//! meta (name, columns, keys) and the operations its rows go through, in the
//! order the changes were written. `split_rows` creates a new pipe fed from
//! its source's rows; a dropped table's pipe stays (its rows may still be
//! split off before the drop) but forwards nothing.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use super::{Chain, ChangeKind, Condition, Expr, ExprText, Fill, Name, Step, Test, Unmapped};
use crate::catalog::{ColumnInfo, Sequence};
use crate::error::UpgradeError;
use crate::error::{Error, Result};
use crate::format::{BackupMeta, TableMeta};
use crate::value::{ColumnType, Value};

/// A chain checked against one backup's meta and compiled for its rows.
#[derive(Debug)]
pub struct Upgrade {
    pub(super) meta: BackupMeta,
    pub(super) stages: Vec<Stage>,
}

impl Upgrade {
    /// The backup's meta as the target will see it: tables renamed, added,
    /// dropped, columns changed, `schema_version` the chain's target version.
    pub fn meta(&self) -> &BackupMeta {
        &self.meta
    }
}

/// One step, compiled.
#[derive(Debug)]
pub(super) struct Stage {
    pub pipes: Vec<Pipe>,
    /// The stage's input tables by name → pipe.
    pub inputs: HashMap<String, usize>,
}

#[derive(Debug)]
pub(super) struct Pipe {
    /// The table as this stage hands it on.
    pub meta: TableMeta,
    /// False once dropped: rows are swallowed.
    pub live: bool,
    pub ops: Vec<Op>,
    /// Pipes split off from this one, in the order their rows are handed on.
    pub splits: Vec<usize>,
}

#[derive(Debug)]
pub(super) enum Op {
    Remove(usize),
    Append(Source),
    Map {
        index: usize,
        map: BTreeMap<String, Value>,
        unmapped: Unmapped,
        /// `file:line:col: step 1→2, column `t.c``, for errors.
        context: String,
    },
    Set {
        /// `None`: a new column, appended.
        index: Option<usize>,
        expr: Expr,
        context: String,
    },
    Split {
        index: usize,
        test: Test,
        /// Positions of the new table's columns in the source row.
        keep: Vec<usize>,
        into: usize,
    },
}

#[derive(Debug)]
pub(super) enum Source {
    Const(Value),
    Copy(usize),
}

impl Chain<'_> {
    /// Replays every change of the chain over `meta` (the backup's, at
    /// version `from`) and compiles the row operations. A change naming a
    /// table or column that is not there at that point is an error at its
    /// position in the adapter file (`Error::Invalid`).
    pub fn plan(&self, meta: &BackupMeta) -> Result<Upgrade> {
        if meta.schema_version != Some(self.from) {
            let found = meta
                .schema_version
                .map_or("records no schema version".into(), |v| {
                    format!("is from schema version {v}")
                });
            return Err(UpgradeError::ChainStartsElsewhere {
                found,
                from: self.from,
            }
            .into());
        }
        let mut tables = meta.tables.clone();
        let mut stages = Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            let stage = Sim::run(step, tables, i == 0)?;
            tables = stage.output();
            stages.push(stage);
        }
        let mut meta = meta.clone();
        meta.tables = tables;
        meta.schema_version = Some(self.to);
        for step in &self.steps {
            follow_sequences(&mut meta.sequences, step);
        }
        Ok(Upgrade { meta, stages })
    }
}

/// The backup's counters under their tables' and columns' new names, so a
/// restore still finds them by table and column; the counter of a dropped
/// table or column keeps only its PostgreSQL sequence name.
fn follow_sequences(sequences: &mut Vec<Sequence>, step: &Step) {
    let is = |a: &Option<String>, b: &Name| a.as_ref() == Some(b.get_ref());
    for c in &step.changes {
        for s in sequences.iter_mut() {
            match &c.kind {
                ChangeKind::RenameTable { from, to } if is(&s.table, from) => {
                    s.table = Some(to.get_ref().clone());
                }
                ChangeKind::RenameColumn { table, from, to }
                    if is(&s.table, table) && is(&s.column, from) =>
                {
                    s.column = Some(to.get_ref().clone());
                }
                ChangeKind::DropTable { table } if is(&s.table, table) => {
                    (s.table, s.column) = (None, None);
                }
                ChangeKind::DropColumn { table, column }
                    if is(&s.table, table) && is(&s.column, column) =>
                {
                    (s.table, s.column) = (None, None);
                }
                _ => {}
            }
        }
    }
    sequences.retain(|s| s.table.is_some() || s.name.is_some());
}

impl Stage {
    /// The tables this stage hands on, in the order it hands them on: each
    /// input table, then the tables split off it.
    fn output(&self) -> Vec<TableMeta> {
        fn visit(stage: &Stage, p: usize, out: &mut Vec<TableMeta>) {
            let pipe = &stage.pipes[p];
            if pipe.live {
                out.push(pipe.meta.clone());
            }
            for &q in &pipe.splits {
                visit(stage, q, out);
            }
        }
        let mut inputs: Vec<usize> = self.inputs.values().copied().collect();
        inputs.sort();
        let mut out = Vec::new();
        for p in inputs {
            visit(self, p, &mut out);
        }
        out
    }
}

/// One step replayed over the tables it receives.
struct Sim<'s> {
    step: &'s Step,
    /// Whether the tables are the backup's own (for wording).
    first: bool,
    pipes: Vec<Pipe>,
}

fn names(list: impl Iterator<Item = impl AsRef<str>>) -> String {
    let v: Vec<String> = list.map(|s| s.as_ref().to_string()).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

impl<'s> Sim<'s> {
    fn run(step: &'s Step, tables: Vec<TableMeta>, first: bool) -> Result<Stage> {
        let inputs = tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        let pipes = tables
            .into_iter()
            .map(|meta| Pipe {
                meta,
                live: true,
                ops: vec![],
                splits: vec![],
            })
            .collect();
        let mut sim = Sim { step, first, pipes };
        for c in &step.changes {
            sim.change(&c.kind)?;
        }
        Ok(Stage {
            pipes: sim.pipes,
            inputs,
        })
    }

    fn fail(&self, span: Range<usize>, message: String, help: String) -> Error {
        Error::Invalid(vec![self.step.diag(span, message).with_help(help)])
    }

    fn live_names(&self) -> String {
        names(self.pipes.iter().filter(|p| p.live).map(|p| &p.meta.name))
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.pipes
            .iter()
            .position(|p| p.live && p.meta.name == name)
    }

    /// The live table `name`, or an error saying what the step `does`.
    fn table(&self, name: &Name, does: &str) -> Result<usize> {
        self.find(name.get_ref()).ok_or_else(|| {
            let whose = if self.first {
                "the backup has"
            } else {
                "after the earlier steps there is"
            };
            self.fail(
                name.span(),
                format!(
                    "{} {does}, but {whose} no table `{}`",
                    self.step.label(),
                    name.get_ref()
                ),
                format!("tables at this point: {}", self.live_names()),
            )
        })
    }

    /// The column `name` of pipe `p`, or an error saying what the step `does`.
    fn column(&self, p: usize, name: &Name, does: &str) -> Result<usize> {
        let meta = &self.pipes[p].meta;
        meta.columns
            .iter()
            .position(|c| &c.name == name.get_ref())
            .ok_or_else(|| self.no_column(p, name.get_ref(), name.span(), does))
    }

    fn no_column(&self, p: usize, column: &str, span: Range<usize>, does: &str) -> Error {
        let meta = &self.pipes[p].meta;
        let whose = if self.first {
            "the backup's table"
        } else {
            "table"
        };
        self.fail(
            span,
            format!(
                "{} {does}, but {whose} `{}` has no column `{column}`",
                self.step.label(),
                meta.name
            ),
            format!("it has: {}", names(meta.columns.iter().map(|c| &c.name))),
        )
    }

    fn no_clash(&self, p: usize, name: &Name) -> Result<()> {
        let meta = &self.pipes[p].meta;
        if meta.columns.iter().any(|c| &c.name == name.get_ref()) {
            return Err(self.fail(
                name.span(),
                format!(
                    "{}: table `{}` already has a column `{}`",
                    self.step.label(),
                    meta.name,
                    name.get_ref()
                ),
                "drop or rename the existing column first, or choose another name".into(),
            ));
        }
        Ok(())
    }

    fn no_table(&self, name: &Name) -> Result<()> {
        if self.find(name.get_ref()).is_some() {
            return Err(self.fail(
                name.span(),
                format!(
                    "{}: a table `{}` already exists at this point",
                    self.step.label(),
                    name.get_ref()
                ),
                "drop or rename it first, or choose another name".into(),
            ));
        }
        Ok(())
    }

    fn context(&self, span: &Range<usize>, table: &str, column: &str) -> String {
        format!(
            "{}: {}, column `{table}`.`{column}`",
            self.step.location_of(span),
            self.step.label()
        )
    }

    fn change(&mut self, kind: &ChangeKind) -> Result<()> {
        match kind {
            ChangeKind::RenameTable { from, to } => {
                let p = self.table(from, &format!("renames table `{}`", from.get_ref()))?;
                self.no_table(to)?;
                let (old, new) = (from.get_ref(), to.get_ref());
                self.pipes[p].meta.name = new.clone();
                for q in &mut self.pipes {
                    for fk in &mut q.meta.foreign_keys {
                        if &fk.ref_table == old {
                            fk.ref_table = new.clone();
                        }
                    }
                }
            }
            ChangeKind::RenameColumn { table, from, to } => {
                let does = format!("renames column `{}.{}`", table.get_ref(), from.get_ref());
                let p = self.table(table, &does)?;
                let i = self.column(p, from, &does)?;
                self.no_clash(p, to)?;
                let (old, new) = (from.get_ref(), to.get_ref());
                let rename = |list: &mut Vec<String>| {
                    list.iter_mut()
                        .filter(|c| *c == old)
                        .for_each(|c| *c = new.clone());
                };
                let meta = &mut self.pipes[p].meta;
                meta.columns[i].name = new.clone();
                rename(&mut meta.primary_key);
                for fk in &mut meta.foreign_keys {
                    rename(&mut fk.columns);
                }
                if meta.changed_column.as_ref() == Some(old) {
                    meta.changed_column = Some(new.clone());
                }
                let name = meta.name.clone();
                for q in &mut self.pipes {
                    for fk in &mut q.meta.foreign_keys {
                        if fk.ref_table == name {
                            rename(&mut fk.ref_columns);
                        }
                    }
                }
            }
            ChangeKind::AddColumn {
                table,
                column,
                fill,
                ty,
            } => {
                let does = format!("adds column `{}.{}`", table.get_ref(), column.get_ref());
                let p = self.table(table, &does)?;
                self.no_clash(p, column)?;
                let (source, mut info) = match fill {
                    Fill::Default(v) => (
                        Source::Const(v.clone()),
                        new_column(column.get_ref(), super::expr::value_type(v), false),
                    ),
                    Fill::CopyFrom(from) => {
                        let does = format!("{does} as a copy of `{}`", from.get_ref());
                        let i = self.column(p, from, &does)?;
                        let mut info = self.pipes[p].meta.columns[i].clone();
                        info.name = column.get_ref().clone();
                        info.has_default = false;
                        (Source::Copy(i), info)
                    }
                };
                if let Some(t) = ty {
                    retype(&mut info, *t);
                }
                let pipe = &mut self.pipes[p];
                pipe.meta.columns.push(info);
                pipe.ops.push(Op::Append(source));
            }
            ChangeKind::DropColumn { table, column } => {
                let does = format!("drops column `{}.{}`", table.get_ref(), column.get_ref());
                let p = self.table(table, &does)?;
                let i = self.column(p, column, &does)?;
                let name = column.get_ref();
                let meta = &mut self.pipes[p].meta;
                meta.columns.remove(i);
                if meta.primary_key.contains(name) {
                    meta.primary_key.clear();
                }
                meta.foreign_keys.retain(|fk| !fk.columns.contains(name));
                if meta.changed_column.as_ref() == Some(name) {
                    meta.changed_column = None;
                }
                let t = meta.name.clone();
                for q in &mut self.pipes {
                    q.meta
                        .foreign_keys
                        .retain(|fk| !(fk.ref_table == t && fk.ref_columns.contains(name)));
                }
                self.pipes[p].ops.push(Op::Remove(i));
            }
            ChangeKind::DropTable { table } => {
                let p = self.table(table, &format!("drops table `{}`", table.get_ref()))?;
                self.pipes[p].live = false;
                let t = table.get_ref();
                for q in &mut self.pipes {
                    q.meta.foreign_keys.retain(|fk| &fk.ref_table != t);
                }
            }
            ChangeKind::MapValues {
                table,
                column,
                map,
                unmapped,
                ty,
            } => {
                let does = format!(
                    "maps the values of `{}.{}`",
                    table.get_ref(),
                    column.get_ref()
                );
                let p = self.table(table, &does)?;
                let i = self.column(p, column, &does)?;
                let context = self.context(&column.span(), table.get_ref(), column.get_ref());
                let info = &mut self.pipes[p].meta.columns[i];
                let new_ty = ty.unwrap_or_else(|| mapped_type(info.ty, map, unmapped));
                retype(info, new_ty);
                self.pipes[p].ops.push(Op::Map {
                    index: i,
                    map: map.clone(),
                    unmapped: unmapped.clone(),
                    context,
                });
            }
            ChangeKind::SplitRows {
                table,
                into,
                when,
                columns,
                rename,
            } => self.split(table, into, when, columns, rename)?,
            ChangeKind::SetColumn {
                table,
                column,
                expr,
                ty,
            } => self.set(table, column, expr, *ty)?,
        }
        Ok(())
    }

    fn split(
        &mut self,
        table: &Name,
        into: &Name,
        when: &Condition,
        columns: &Option<Vec<Name>>,
        rename: &[(String, Name)],
    ) -> Result<()> {
        let does = format!(
            "moves rows of `{}` into `{}`",
            table.get_ref(),
            into.get_ref()
        );
        let p = self.table(table, &does)?;
        self.no_table(into)?;
        let index = self.column(
            p,
            &when.column,
            &format!("{does} by column `{}`", when.column.get_ref()),
        )?;
        let source = &self.pipes[p].meta;
        let keep: Vec<usize> = match columns {
            None => (0..source.columns.len()).collect(),
            Some(cols) => cols
                .iter()
                .map(|c| self.column(p, c, &format!("{does} keeping column `{}`", c.get_ref())))
                .collect::<Result<_>>()?,
        };
        let mut cols: Vec<ColumnInfo> = keep.iter().map(|&i| source.columns[i].clone()).collect();
        let mut renamed: HashMap<&str, &str> = HashMap::new();
        for (old, new) in rename {
            let Some(c) = cols.iter_mut().find(|c| &c.name == old) else {
                return Err(self.fail(
                    new.span(),
                    format!(
                        "{} renames column `{old}` of the new table `{}`, which does not keep it",
                        self.step.label(),
                        into.get_ref()
                    ),
                    format!(
                        "the new table's columns: {}",
                        names(cols.iter().map(|c| &c.name))
                    ),
                ));
            };
            c.name = new.get_ref().clone();
            renamed.insert(old, new.get_ref());
        }
        if let Some(dup) = cols.iter().enumerate().find_map(|(i, c)| {
            cols[..i]
                .iter()
                .any(|d| d.name == c.name)
                .then_some(&c.name)
        }) {
            let span = rename.first().map_or(into.span(), |r| r.1.span());
            return Err(self.fail(
                span,
                format!(
                    "{}: the new table `{}` would have two columns `{dup}`",
                    self.step.label(),
                    into.get_ref()
                ),
                "rename to names the new table does not already have".into(),
            ));
        }
        // Keys carry over when every column of them does.
        let kept: HashMap<&str, &str> = keep
            .iter()
            .map(|&i| {
                let n = source.columns[i].name.as_str();
                (n, renamed.get(n).copied().unwrap_or(n))
            })
            .collect();
        let map_all = |list: &[String]| -> Option<Vec<String>> {
            list.iter()
                .map(|c| kept.get(c.as_str()).map(|s| s.to_string()))
                .collect()
        };
        let meta = TableMeta {
            name: into.get_ref().clone(),
            module: source.module.clone(),
            columns: cols,
            primary_key: map_all(&source.primary_key).unwrap_or_default(),
            foreign_keys: source
                .foreign_keys
                .iter()
                .filter_map(|fk| {
                    let mut fk = fk.clone();
                    fk.columns = map_all(&fk.columns)?;
                    Some(fk)
                })
                .collect(),
            // Expected rows stay counted on the source table.
            rows: 0,
            changed_column: source
                .changed_column
                .as_ref()
                .and_then(|c| kept.get(c.as_str()).map(|s| s.to_string())),
        };
        let q = self.pipes.len();
        self.pipes.push(Pipe {
            meta,
            live: true,
            ops: vec![],
            splits: vec![],
        });
        let pipe = &mut self.pipes[p];
        pipe.ops.push(Op::Split {
            index,
            test: when.test.clone(),
            keep,
            into: q,
        });
        pipe.splits.push(q);
        Ok(())
    }

    fn set(
        &mut self,
        table: &Name,
        column: &Name,
        expr: &ExprText,
        ty: Option<ColumnType>,
    ) -> Result<()> {
        let does = format!("computes column `{}.{}`", table.get_ref(), column.get_ref());
        let p = self.table(table, &does)?;
        let mut compiled = expr.expr.clone();
        let columns = &self.pipes[p].meta.columns;
        if let Err((name, span)) = compiled.resolve(columns) {
            return Err(self.no_column(
                p,
                &name,
                expr.file_span(&span),
                &format!("{does} from `{name}`"),
            ));
        }
        let inferred = compiled.infer(columns);
        let index = columns.iter().position(|c| &c.name == column.get_ref());
        let context = self.context(&column.span(), table.get_ref(), column.get_ref());
        let meta = &mut self.pipes[p].meta;
        match index {
            Some(i) => {
                let new_ty = ty.unwrap_or(if inferred == ColumnType::Any {
                    meta.columns[i].ty
                } else {
                    inferred
                });
                retype(&mut meta.columns[i], new_ty);
                // A computed value may be NULL even where the old one was not.
                meta.columns[i].nullable = true;
            }
            None => meta
                .columns
                .push(new_column(column.get_ref(), ty.unwrap_or(inferred), true)),
        }
        self.pipes[p].ops.push(Op::Set {
            index,
            expr: compiled,
            context,
        });
        Ok(())
    }
}

fn new_column(name: &str, ty: ColumnType, nullable: bool) -> ColumnInfo {
    ColumnInfo {
        name: name.to_string(),
        ty,
        sql_type: ty.name().to_string(),
        nullable,
        has_default: false,
        choices: vec![],
    }
}

/// A new portable type; the engine's declared type no longer applies.
fn retype(info: &mut ColumnInfo, ty: ColumnType) {
    if info.ty != ty {
        info.ty = ty;
        info.sql_type = ty.name().to_string();
    }
}

/// The type of a mapped column: the replacement values' type when they all
/// share one and no value of another type can survive; else `Any`, which
/// the importer checks value by value.
fn mapped_type(old: ColumnType, map: &BTreeMap<String, Value>, unmapped: &Unmapped) -> ColumnType {
    let mut types: Vec<ColumnType> = map.values().map(super::expr::value_type).collect();
    match unmapped {
        Unmapped::Keep => types.push(old),
        Unmapped::Default(v) => types.push(super::expr::value_type(v)),
        Unmapped::Error => {}
    }
    let first = types[0];
    if types.iter().all(|t| *t == first) {
        first
    } else {
        ColumnType::Any
    }
}
