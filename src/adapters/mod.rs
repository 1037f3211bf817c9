//! Version adapters: declarative steps that upgrade a backup written at an
//! older schema version to the shape of the current one (docs/adapters.md).
//!
//! An adapter file lists `[[step]]`s, each leading from one schema version to
//! a higher one through a list of changes (rename, add, drop, map values,
//! split rows, computed columns). Loading ([`AdapterSet::load`]) checks the
//! files and reports problems at `file:line:col`, expressions included. A
//! [`Chain`] is the path of steps from the backup's version to the target's
//! ([`AdapterSet::chain`], a petgraph graph of versions). Before any data
//! moves, [`Chain::plan`] replays every change over the backup's meta and
//! names any table or column a step expects but will not find. The
//! [`Upgrader`] then wraps the importer's [`BackupVisitor`](crate::format::BackupVisitor)
//! and streams upgraded rows into it, row by row; rows split into another
//! table wait in a temporary spool file and are handed on as that table
//! right after their source table ends.

mod expr;
mod load;
mod plan;
mod raw;
pub mod schema;
mod upgrade;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use toml::Spanned;

pub use expr::Expr;
pub use plan::Upgrade;
pub use upgrade::Upgrader;

use crate::diag::{Diagnostic, line_col};
use crate::error::UpgradeError;
use crate::error::{Error, Result};
use crate::value::{ColumnType, Value};

/// A name as written in an adapter file, with its byte span.
pub type Name = Spanned<String>;

/// One `[[step]]`: the changes that lead from schema version `from` to `to`.
#[derive(Debug, Clone)]
pub struct Step {
    pub from: i64,
    pub to: i64,
    pub description: Option<String>,
    pub changes: Vec<Change>,
    /// The adapter file the step was read from.
    pub path: PathBuf,
    source: Arc<str>,
    span: Range<usize>,
}

impl Step {
    /// `file:line:col` of the step.
    /// `1 → 2  description  (file:line:col)`: one line for listings.
    pub fn headline(&self) -> String {
        let mut line = format!("{} → {}", self.from, self.to);
        if let Some(d) = &self.description {
            line.push_str(&format!("  {d}"));
        }
        line.push_str(&format!("  ({})", self.location()));
        line
    }

    pub fn location(&self) -> String {
        self.location_of(&self.span)
    }

    /// `file:line:col` of `span` in the step's file.
    fn location_of(&self, span: &Range<usize>) -> String {
        let (l, c) = line_col(&self.source, span.start);
        format!("{}:{l}:{c}", self.path.display())
    }

    /// A diagnostic pointing at `span` of the step's file.
    fn diag(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.path, &self.source, span, message)
    }

    /// `step 1→2`, as messages name it.
    pub fn label(&self) -> String {
        format!("step {}→{}", self.from, self.to)
    }
}

/// One change of a step, with where it was written.
#[derive(Debug, Clone)]
pub struct Change {
    pub kind: ChangeKind,
    pub span: Range<usize>,
}

#[derive(Debug, Clone)]
pub enum ChangeKind {
    RenameTable {
        from: Name,
        to: Name,
    },
    RenameColumn {
        table: Name,
        from: Name,
        to: Name,
    },
    /// A new column, appended after the table's existing columns.
    AddColumn {
        table: Name,
        column: Name,
        fill: Fill,
        ty: Option<ColumnType>,
    },
    DropColumn {
        table: Name,
        column: Name,
    },
    DropTable {
        table: Name,
    },
    /// Values replaced by `map` (keys match the value's text form).
    MapValues {
        table: Name,
        column: Name,
        map: BTreeMap<String, Value>,
        unmapped: Unmapped,
        ty: Option<ColumnType>,
    },
    /// Rows matching `when` move (not copy) from `table` into the new table `into`.
    SplitRows {
        table: Name,
        into: Name,
        when: Condition,
        /// The columns the new table keeps, in this order; `None`: all.
        columns: Option<Vec<Name>>,
        /// Old name → new name in the new table.
        rename: Vec<(String, Name)>,
    },
    /// A column computed from the row; created (appended) when absent.
    SetColumn {
        table: Name,
        column: Name,
        expr: ExprText,
        ty: Option<ColumnType>,
    },
}

/// What an added column holds.
#[derive(Debug, Clone)]
pub enum Fill {
    Default(Value),
    CopyFrom(Name),
}

/// What `map_values` does with a value its map has no key for (NULL is
/// never mapped and stays NULL).
#[derive(Debug, Clone, PartialEq)]
pub enum Unmapped {
    /// Left as it is (the default).
    Keep,
    /// The upgrade fails, naming the value.
    Error,
    /// Replaced by this value (`default = …`).
    Default(Value),
}

/// Which rows `split_rows` moves.
#[derive(Debug, Clone)]
pub struct Condition {
    pub column: Name,
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// The value's text form equals this value's (NULL equals nothing).
    Equals(Value),
    /// The value's text form equals one of these.
    In(Vec<Value>),
    /// `true`: the value is NULL; `false`: it is not.
    IsNull(bool),
}

impl Test {
    fn matches(&self, v: &Value) -> bool {
        let same = |want: &Value| match (expr::text_form(v), expr::text_form(want)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        };
        match self {
            Test::Equals(want) => same(want),
            Test::In(list) => list.iter().any(same),
            Test::IsNull(null) => v.is_null() == *null,
        }
    }
}

/// A `set_column` expression: parsed, and its text as written.
#[derive(Debug, Clone)]
pub struct ExprText {
    pub expr: Expr,
    pub text: Name,
    /// File offset of the expression's first character when the TOML string
    /// holds it verbatim (no escapes), so errors can point inside it.
    base: Option<usize>,
}

impl ExprText {
    /// The file span of `inner`, a span of the expression text.
    fn file_span(&self, inner: &Range<usize>) -> Range<usize> {
        match self.base {
            Some(b) => b + inner.start..b + inner.end,
            None => self.text.span(),
        }
    }
}

/// Every step of the adapter files a plan names.
#[derive(Debug, Default)]
pub struct AdapterSet {
    steps: Vec<Step>,
    /// Versions as nodes, steps as edges (weight: index into `steps`).
    graph: DiGraph<i64, usize>,
    nodes: HashMap<i64, NodeIndex>,
}

impl AdapterSet {
    /// Reads and checks adapter files. Every problem of every file is
    /// reported (`Error::Invalid`), each at `file:line:col`.
    pub fn load(paths: &[PathBuf]) -> Result<AdapterSet> {
        let steps = load::load(paths)?;
        Ok(AdapterSet::from_steps(steps))
    }

    fn from_steps(steps: Vec<Step>) -> AdapterSet {
        let mut graph = DiGraph::new();
        let mut nodes = HashMap::new();
        for (i, s) in steps.iter().enumerate() {
            let mut node = |v: i64| *nodes.entry(v).or_insert_with(|| graph.add_node(v));
            let (a, b) = (node(s.from), node(s.to));
            graph.add_edge(a, b, i);
        }
        AdapterSet {
            steps,
            graph,
            nodes,
        }
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The steps leading from schema version `from` (the backup's) to `to`
    /// (the target's): the path with the fewest steps, and among those the
    /// one through the lowest versions. `from == to` is the empty chain.
    pub fn chain(&self, from: i64, to: i64) -> Result<Chain<'_>> {
        if from > to {
            return Err(UpgradeError::BackupNewer { from, to }.into());
        }
        if from == to {
            return Ok(Chain {
                from,
                to,
                steps: vec![],
            });
        }
        let path = self.nodes.get(&from).and_then(|&start| {
            let goal = *self.nodes.get(&to)?;
            self.shortest(start, goal)
        });
        match path {
            Some(steps) => Ok(Chain {
                from,
                to,
                steps: steps.into_iter().map(|i| &self.steps[i]).collect(),
            }),
            None => Err(self.missing_link(from, to)),
        }
    }

    /// Breadth-first search, neighbours by ascending version: the first path
    /// found is the shortest, and the lowest among equally short ones.
    fn shortest(&self, start: NodeIndex, goal: NodeIndex) -> Option<Vec<usize>> {
        let mut came_by: HashMap<NodeIndex, usize> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(n) = queue.pop_front() {
            if n == goal {
                let mut path = vec![];
                let mut at = goal;
                while at != start {
                    let step = came_by[&at];
                    path.push(step);
                    at = self.nodes[&self.steps[step].from];
                }
                path.reverse();
                return Some(path);
            }
            let mut edges: Vec<_> = self.graph.edges(n).collect();
            edges.sort_by_key(|e| self.graph[e.target()]);
            for e in edges {
                let t = e.target();
                if t != start && !came_by.contains_key(&t) {
                    came_by.insert(t, *e.weight());
                    queue.push_back(t);
                }
            }
        }
        None
    }

    fn missing_link(&self, from: i64, to: i64) -> Error {
        let reach = |start: i64, dir: petgraph::Direction| -> Vec<i64> {
            let Some(&n) = self.nodes.get(&start) else {
                return vec![start];
            };
            let mut seen = vec![n];
            let mut stack = vec![n];
            while let Some(n) = stack.pop() {
                for m in self.graph.neighbors_directed(n, dir) {
                    if !seen.contains(&m) {
                        seen.push(m);
                        stack.push(m);
                    }
                }
            }
            seen.into_iter().map(|n| self.graph[n]).collect()
        };
        let reached = reach(from, petgraph::Direction::Outgoing);
        let last = reached
            .iter()
            .copied()
            .filter(|v| *v < to)
            .max()
            .unwrap_or(from);
        let next = reach(to, petgraph::Direction::Incoming)
            .into_iter()
            .filter(|v| *v > last)
            .min()
            .unwrap_or(to);
        let mut known: Vec<&Step> = self.steps.iter().collect();
        known.sort_by_key(|s| (s.from, s.to));
        let known = if known.is_empty() {
            "no adapter step is known".to_string()
        } else {
            let list: Vec<String> = known
                .iter()
                .map(|s| format!("{}→{} ({})", s.from, s.to, s.location()))
                .collect();
            format!("steps known: {}", list.join(", "))
        };
        UpgradeError::NoStep {
            from,
            to,
            known,
            last,
            next,
        }
        .into()
    }
}

/// The steps from one schema version to another, in the order they apply.
#[derive(Debug, Clone)]
pub struct Chain<'a> {
    pub from: i64,
    pub to: i64,
    pub steps: Vec<&'a Step>,
}

impl Chain<'_> {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// A human summary for `migplan plan`: one line per step, one per change.
    pub fn describe(&self) -> String {
        if self.steps.is_empty() {
            return format!("schema version {}: no adapter step needed", self.from);
        }
        let mut out = format!(
            "schema version {} → {} through {} adapter step(s)",
            self.from,
            self.to,
            self.steps.len()
        );
        for s in &self.steps {
            out.push('\n');
            out.push_str(&s.headline());
            if s.changes.is_empty() {
                out.push_str("\n    (no change to the data)");
            }
            for c in &s.changes {
                out.push_str(&format!("\n    {}", c.kind));
            }
        }
        out
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ty = |t: &Option<ColumnType>| t.map(|t| format!(" ({})", t.name())).unwrap_or_default();
        match self {
            ChangeKind::RenameTable { from, to } => {
                write!(f, "rename table {} → {}", from.get_ref(), to.get_ref())
            }
            ChangeKind::RenameColumn { table, from, to } => write!(
                f,
                "rename column {}.{} → {}",
                table.get_ref(),
                from.get_ref(),
                to.get_ref()
            ),
            ChangeKind::AddColumn {
                table,
                column,
                fill,
                ty: t,
            } => {
                write!(
                    f,
                    "add column {}.{}{}",
                    table.get_ref(),
                    column.get_ref(),
                    ty(t)
                )?;
                match fill {
                    Fill::Default(v) => write!(f, " = {}", v.display()),
                    Fill::CopyFrom(c) => write!(f, " = copy of {}", c.get_ref()),
                }
            }
            ChangeKind::DropColumn { table, column } => {
                write!(f, "drop column {}.{}", table.get_ref(), column.get_ref())
            }
            ChangeKind::DropTable { table } => write!(f, "drop table {}", table.get_ref()),
            ChangeKind::MapValues {
                table,
                column,
                map,
                unmapped,
                ty: t,
            } => {
                let pairs: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("{k:?} → {}", v.display()))
                    .collect();
                write!(
                    f,
                    "map values of {}.{}{}: {}",
                    table.get_ref(),
                    column.get_ref(),
                    ty(t),
                    pairs.join(", ")
                )?;
                match unmapped {
                    Unmapped::Keep => write!(f, "; other values kept"),
                    Unmapped::Error => write!(f, "; any other value is an error"),
                    Unmapped::Default(v) => write!(f, "; any other value → {}", v.display()),
                }
            }
            ChangeKind::SplitRows {
                table,
                into,
                when,
                columns,
                rename,
            } => {
                let test = match &when.test {
                    Test::Equals(v) => format!("= {}", v.display()),
                    Test::In(list) => {
                        let l: Vec<String> = list.iter().map(Value::display).collect();
                        format!("in ({})", l.join(", "))
                    }
                    Test::IsNull(true) => "is null".into(),
                    Test::IsNull(false) => "is not null".into(),
                };
                write!(
                    f,
                    "move rows of {} where {} {test} into new table {}",
                    table.get_ref(),
                    when.column.get_ref(),
                    into.get_ref()
                )?;
                if let Some(cols) = columns {
                    let c: Vec<&str> = cols.iter().map(|c| c.get_ref().as_str()).collect();
                    write!(f, " (columns {})", c.join(", "))?;
                }
                if !rename.is_empty() {
                    let r: Vec<String> = rename
                        .iter()
                        .map(|(a, b)| format!("{a} → {}", b.get_ref()))
                        .collect();
                    write!(f, " (renamed {})", r.join(", "))?;
                }
                Ok(())
            }
            ChangeKind::SetColumn {
                table,
                column,
                expr,
                ty: t,
            } => write!(
                f,
                "set column {}.{}{} = {}",
                table.get_ref(),
                column.get_ref(),
                ty(t),
                expr.text.get_ref()
            ),
        }
    }
}
