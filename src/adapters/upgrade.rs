//! The upgrade as a [`BackupVisitor`] wrapper: the old backup goes in, the
//! upgraded one comes out to the inner visitor, row by row.
//!
//! Each step is a stage; a table event (begin, row, end) passes through the
//! stages in order, each turning it into zero or more events for the next.
//! Rows split into another table are parked in a temporary [`Spool`] and
//! handed on, as that table, right after their source table ends — so the
//! inner visitor still sees one table at a time and no table is ever held
//! in memory.

use super::Chain;
use super::expr::text_form;
use super::plan::{Op, Source, Stage};
use super::{Unmapped, Upgrade};
use crate::error::Result;
use crate::error::UpgradeError;
use crate::format::{BackupMeta, BackupVisitor, TableMeta};
use crate::spool::Spool;
use crate::value::Value;

/// Wraps `inner` so that it receives the backup upgraded along `chain`.
///
/// `meta` plans the chain against the backup's meta (the same checks as
/// [`Chain::plan`]) and hands the upgraded meta on; rows are transformed as
/// they arrive. The reader still verifies the file's own row counts and
/// checksums over the rows *as read*, before `read_backup` returns.
pub struct Upgrader<'a> {
    chain: &'a Chain<'a>,
    inner: &'a mut dyn BackupVisitor,
    stages: Option<Vec<StageRun>>,
}

impl<'a> Upgrader<'a> {
    pub fn new(chain: &'a Chain<'a>, inner: &'a mut dyn BackupVisitor) -> Self {
        Upgrader {
            chain,
            inner,
            stages: None,
        }
    }

    fn send(&mut self, event: Event<'_>) -> Result<()> {
        let stages = self.stages.as_mut().ok_or(UpgradeError::DataBeforeMeta)?;
        send(stages, &mut *self.inner, event)
    }
}

impl BackupVisitor for Upgrader<'_> {
    fn meta(&mut self, meta: &BackupMeta) -> Result<()> {
        let Upgrade { meta, stages } = self.chain.plan(meta)?;
        self.inner.meta(&meta)?;
        self.stages = Some(
            stages
                .into_iter()
                .map(|stage| StageRun {
                    spools: (0..stage.pipes.len()).map(|_| None).collect(),
                    stage,
                    current: None,
                })
                .collect(),
        );
        Ok(())
    }

    fn begin_table(&mut self, table: &TableMeta) -> Result<()> {
        self.send(Event::Begin(table))
    }

    fn row(&mut self, row: &[Value]) -> Result<()> {
        self.send(Event::Row(row))
    }

    fn end_table(&mut self, table: &TableMeta) -> Result<()> {
        self.send(Event::End(table))
    }
}

#[derive(Clone, Copy)]
enum Event<'e> {
    Begin(&'e TableMeta),
    Row(&'e [Value]),
    End(&'e TableMeta),
}

type Out<'o> = dyn FnMut(Event<'_>) -> Result<()> + 'o;

/// Passes `event` through `stages` into `inner`.
fn send(stages: &mut [StageRun], inner: &mut dyn BackupVisitor, event: Event<'_>) -> Result<()> {
    match stages.split_first_mut() {
        None => match event {
            Event::Begin(t) => inner.begin_table(t),
            Event::Row(r) => inner.row(r),
            Event::End(t) => inner.end_table(t),
        },
        Some((stage, rest)) => stage.handle(event, &mut |e| send(rest, inner, e)),
    }
}

struct StageRun {
    stage: Stage,
    /// The pipe of the table being read.
    current: Option<usize>,
    /// Per pipe: rows split into it, waiting for their source table's end.
    spools: Vec<Option<Spool>>,
}

impl StageRun {
    fn handle(&mut self, event: Event<'_>, out: &mut Out<'_>) -> Result<()> {
        match event {
            Event::Begin(t) => {
                let Some(&p) = self.stage.inputs.get(&t.name) else {
                    return Err(UpgradeError::TableNotInMeta {
                        table: t.name.clone(),
                    }
                    .into());
                };
                self.current = Some(p);
                let pipe = &self.stage.pipes[p];
                if pipe.live {
                    out(Event::Begin(&pipe.meta))?;
                }
                Ok(())
            }
            Event::Row(row) => {
                let p = self.current.expect("a row comes inside a table");
                self.row(p, row.to_vec(), out)
            }
            Event::End(_) => {
                let p = self.current.take().expect("a table ends after it begins");
                self.finish(p, out)
            }
        }
    }

    /// Runs one row through pipe `p`'s operations and hands it on, unless
    /// it was split off (spooled) or the table is dropped.
    fn row(&mut self, p: usize, mut row: Vec<Value>, out: &mut Out<'_>) -> Result<()> {
        let pipe = &self.stage.pipes[p];
        for op in &pipe.ops {
            match op {
                Op::Remove(i) => {
                    row.remove(*i);
                }
                Op::Append(Source::Const(v)) => row.push(v.clone()),
                Op::Append(Source::Copy(i)) => row.push(row[*i].clone()),
                Op::Map {
                    index,
                    map,
                    unmapped,
                    context,
                } => {
                    let v = &mut row[*index];
                    let Some(key) = text_form(v) else {
                        continue; // NULL stays NULL; bytes are never mapped
                    };
                    match (map.get(key.as_ref()), unmapped) {
                        (Some(new), _) => *v = new.clone(),
                        (None, Unmapped::Keep) => {}
                        (None, Unmapped::Default(d)) => *v = d.clone(),
                        (None, Unmapped::Error) => {
                            let known: Vec<String> = map.keys().map(|k| format!("{k:?}")).collect();
                            return Err(UpgradeError::Unmapped {
                                context: context.clone(),
                                value: v.display().to_string(),
                                known,
                            }
                            .into());
                        }
                    }
                }
                Op::Set {
                    index,
                    expr,
                    context,
                } => {
                    let v = expr.eval(&row).map_err(|e| UpgradeError::Expression {
                        context: context.clone(),
                        message: e.to_string(),
                    })?;
                    match index {
                        Some(i) => row[*i] = v,
                        None => row.push(v),
                    }
                }
                Op::Split {
                    index,
                    test,
                    keep,
                    into,
                } => {
                    if test.matches(&row[*index]) {
                        let moved: Vec<Value> = keep.iter().map(|&i| row[i].clone()).collect();
                        let spool = match &mut self.spools[*into] {
                            Some(s) => s,
                            slot => slot.insert(Spool::new()?),
                        };
                        return spool.push(&moved);
                    }
                }
            }
        }
        if pipe.live {
            out(Event::Row(&row))?;
        }
        Ok(())
    }

    /// Ends pipe `p`'s table, then hands on each table split off it, with
    /// its spooled rows (which may split further).
    fn finish(&mut self, p: usize, out: &mut Out<'_>) -> Result<()> {
        if self.stage.pipes[p].live {
            out(Event::End(&self.stage.pipes[p].meta))?;
        }
        for q in self.stage.pipes[p].splits.clone() {
            if self.stage.pipes[q].live {
                out(Event::Begin(&self.stage.pipes[q].meta))?;
            }
            if let Some(spool) = self.spools[q].take() {
                spool.drain(|row| self.row(q, row, out))?;
            }
            self.finish(q, out)?;
        }
        Ok(())
    }
}
