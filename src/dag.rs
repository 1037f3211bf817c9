//! The dependency graph: plan modules + the database's foreign keys → the
//! order tables are imported in (parents before children).
//!
//! Nodes are tables; an edge `parent → child` comes either from a foreign key
//! (`child.col` references `parent`) or from a declared module dependency
//! (`[[module]] depends_on`). Self-references (categories.parent_id) are not
//! edges: the import orders those rows itself. Ties are broken by the plan's
//! own order (modules as declared, tables as listed), so the order is stable.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use serde::Serialize;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::plan::Plan;

/// Why one table must come before another.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// `child.columns` references the parent.
    ForeignKey { columns: Vec<String> },
    /// The child's module declares `depends_on` the parent's module.
    Declared { module: String, depends_on: String },
}

impl Reason {
    fn describe(&self, parent: &str, child: &str) -> String {
        match self {
            Reason::ForeignKey { columns } => {
                format!("`{child}`.({}) references `{parent}`", columns.join(", "))
            }
            Reason::Declared { module, depends_on } => {
                format!("module `{module}` depends_on `{depends_on}`")
            }
        }
    }
}

/// The ordered dependency graph of the tables taking part in a run.
#[derive(Debug)]
pub struct Dag {
    graph: DiGraph<String, Reason>,
    order: Vec<NodeIndex>,
}

impl Dag {
    /// Builds the graph of `tables` (in plan order) and sorts it.
    /// A cycle is an error that names every member.
    pub fn build(plan: &Plan, catalog: &Catalog, tables: &[String]) -> Result<Dag> {
        let mut graph = DiGraph::new();
        let index: HashMap<&str, NodeIndex> = tables
            .iter()
            .map(|t| (t.as_str(), graph.add_node(t.clone())))
            .collect();
        add_foreign_keys(&mut graph, &index, catalog);
        add_declared(&mut graph, &index, plan);
        let order = sort(&graph)?;
        Ok(Dag { graph, order })
    }

    /// Tables in import order: every table after all tables it depends on.
    pub fn order(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(|&n| self.graph[n].as_str())
    }

    /// Tables `table` depends on directly (its parents in the graph).
    pub fn parents(&self, table: &str) -> Vec<&str> {
        let Some(n) = self.graph.node_indices().find(|&n| self.graph[n] == table) else {
            return vec![];
        };
        let mut out: Vec<&str> = self
            .graph
            .neighbors_directed(n, petgraph::Direction::Incoming)
            .map(|p| self.graph[p].as_str())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Graphviz rendering, tables clustered by module.
    pub fn to_dot(&self, plan: &Plan) -> String {
        let mut out = String::from("digraph migplan {\n  rankdir=LR;\n  node [shape=box];\n");
        for (i, m) in plan.modules.iter().enumerate() {
            out.push_str(&format!(
                "  subgraph cluster_{i} {{\n    label={:?};\n",
                m.name
            ));
            for t in m
                .tables
                .iter()
                .filter(|t| self.order().any(|o| o == t.as_str()))
            {
                out.push_str(&format!("    {t:?};\n"));
            }
            out.push_str("  }\n");
        }
        for n in &self.order {
            out.push_str(&format!("  {:?};\n", self.graph[*n]));
        }
        for e in self.graph.edge_references() {
            let label = match e.weight() {
                Reason::ForeignKey { columns } => columns.join(", "),
                Reason::Declared { .. } => "depends_on".into(),
            };
            out.push_str(&format!(
                "  {:?} -> {:?} [label={:?}];\n",
                self.graph[e.source()],
                self.graph[e.target()],
                label
            ));
        }
        out.push_str("}\n");
        out
    }
}

fn add_foreign_keys(
    graph: &mut DiGraph<String, Reason>,
    index: &HashMap<&str, NodeIndex>,
    catalog: &Catalog,
) {
    for table in &catalog.tables {
        let Some(&child) = index.get(table.name.as_str()) else {
            continue;
        };
        for fk in &table.foreign_keys {
            match index.get(fk.ref_table.as_str()) {
                Some(&parent) if parent != child => {
                    let reason = Reason::ForeignKey {
                        columns: fk.columns.clone(),
                    };
                    graph.add_edge(parent, child, reason);
                }
                _ => {}
            }
        }
    }
}

fn add_declared(
    graph: &mut DiGraph<String, Reason>,
    index: &HashMap<&str, NodeIndex>,
    plan: &Plan,
) {
    for module in &plan.modules {
        for dep in module.depends_on.iter().filter_map(|d| plan.module(d)) {
            for parent in dep.tables.iter().filter_map(|t| index.get(t.as_str())) {
                for child in module.tables.iter().filter_map(|t| index.get(t.as_str())) {
                    let reason = Reason::Declared {
                        module: module.name.clone(),
                        depends_on: dep.name.clone(),
                    };
                    graph.add_edge(*parent, *child, reason);
                }
            }
        }
    }
}

/// Kahn's algorithm, always taking the earliest-declared ready table.
fn sort(graph: &DiGraph<String, Reason>) -> Result<Vec<NodeIndex>> {
    let mut indegree: Vec<usize> = graph
        .node_indices()
        .map(|n| {
            graph
                .neighbors_directed(n, petgraph::Direction::Incoming)
                .count()
        })
        .collect();
    let mut ready: BinaryHeap<Reverse<usize>> = indegree
        .iter()
        .enumerate()
        .filter(|(_, d)| **d == 0)
        .map(|(i, _)| Reverse(i))
        .collect();
    let mut order = Vec::with_capacity(graph.node_count());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(NodeIndex::new(i));
        for child in graph.neighbors_directed(NodeIndex::new(i), petgraph::Direction::Outgoing) {
            indegree[child.index()] -= 1;
            if indegree[child.index()] == 0 {
                ready.push(Reverse(child.index()));
            }
        }
    }
    if order.len() < graph.node_count() {
        return Err(cycle_error(graph));
    }
    Ok(order)
}

/// Names every member of the first cycle and the edges that close it.
fn cycle_error(graph: &DiGraph<String, Reason>) -> Error {
    let mut sccs: Vec<Vec<NodeIndex>> = tarjan_scc(graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .collect();
    sccs.sort_by_key(|c| c.iter().map(|n| n.index()).min());
    let mut members = sccs.swap_remove(0);
    members.sort();
    let path = cycle_path(graph, &members);
    let mut steps: Vec<String> = path.iter().map(|&n| format!("`{}`", graph[n])).collect();
    steps.push(format!("`{}`", graph[path[0]]));
    let why: Vec<String> = path
        .iter()
        .zip(path.iter().cycle().skip(1))
        .map(|(&a, &b)| {
            let e = graph
                .find_edge(a, b)
                .expect("consecutive cycle members are joined");
            format!("  {}", graph[e].describe(&graph[a], &graph[b]))
        })
        .collect();
    let names: Vec<String> = members.iter().map(|&n| format!("`{}`", graph[n])).collect();
    Error::Mismatch(format!(
        "dependency cycle among tables {}: {}\n{}\n  = help: no import order satisfies these; drop a declared `depends_on`, or make one foreign key nullable and fill it in a later step",
        names.join(", "),
        steps.join(" → "),
        why.join("\n")
    ))
}

/// A simple cycle inside one strongly connected component, found by walking
/// edges that stay inside it until a node repeats.
fn cycle_path(graph: &DiGraph<String, Reason>, members: &[NodeIndex]) -> Vec<NodeIndex> {
    let mut path = vec![members[0]];
    loop {
        let last = *path.last().expect("path starts non-empty");
        let next = graph
            .neighbors_directed(last, petgraph::Direction::Outgoing)
            .filter(|n| members.contains(n))
            .min()
            .expect("every member of a cycle has a successor in it");
        if let Some(pos) = path.iter().position(|&n| n == next) {
            return path.split_off(pos);
        }
        path.push(next);
    }
}
