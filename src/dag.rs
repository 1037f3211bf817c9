//! The dependency graph: plan modules + the database's foreign keys → the
//! order tables are imported in (parents before children).
//!
//! Nodes are tables; an edge `parent → child` comes either from a foreign key
//! (`child.col` references `parent`) or from a declared module dependency
//! (`[[module]] depends_on`). Self-references (categories.parent_id) are not
//! edges: the import orders those rows itself. Ties are broken by the plan's
//! own order (modules as declared, tables as listed), so the order is stable.
//!
//! Foreign keys may form cycles between tables (Sakila's `store` ↔ `staff`).
//! Every backend checks foreign keys in bulk after the rows load, so such a
//! cycle is broken: the edges into one of its tables are set aside
//! ([`Dag::deferred`]) and the rest is sorted as usual. A cycle that needs a
//! declared `depends_on` to close is an error: the plan asked for it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{EdgeRef, NodeFiltered};
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
    deferred: Vec<Deferred>,
}

/// A foreign key set aside to break a cycle: its child may load before its
/// parent, and the key is checked with all others after the load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deferred {
    pub parent: String,
    pub child: String,
    pub columns: Vec<String>,
}

impl Dag {
    /// Builds the graph of `tables` (in plan order) and sorts it, breaking
    /// cycles of foreign keys. A cycle closed by a declared dependency is an
    /// error that names every member.
    pub fn build(plan: &Plan, catalog: &Catalog, tables: &[String]) -> Result<Dag> {
        let mut graph = DiGraph::new();
        let index: HashMap<&str, NodeIndex> = tables
            .iter()
            .map(|t| (t.as_str(), graph.add_node(t.clone())))
            .collect();
        add_foreign_keys(&mut graph, &index, catalog);
        add_declared(&mut graph, &index, plan);
        let (order, deferred) = sort(&mut graph)?;
        Ok(Dag {
            graph,
            order,
            deferred,
        })
    }

    /// Foreign keys set aside to break cycles, in the order they were.
    pub fn deferred(&self) -> &[Deferred] {
        &self.deferred
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
        // Keys set aside to break a cycle: dashed, checked after the load.
        for d in &self.deferred {
            out.push_str(&format!(
                "  {:?} -> {:?} [label={:?}, style=dashed];\n",
                d.parent,
                d.child,
                d.columns.join(", ")
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
    // A module's table names the graph's table exactly or ignoring case
    // (a copy plan's modules list the source's names).
    let node = |t: &String| {
        index.get(t.as_str()).or_else(|| {
            index
                .iter()
                .find(|(n, _)| crate::plan::same_name(n, t))
                .map(|(_, i)| i)
        })
    };
    for module in &plan.modules {
        for dep in module.depends_on.iter().filter_map(|d| plan.module(d)) {
            for parent in dep.tables.iter().filter_map(node) {
                for child in module.tables.iter().filter_map(node) {
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

/// Kahn's algorithm, always taking the earliest-declared ready table. When
/// every remaining table waits on another, a cycle of the remaining graph is
/// broken ([`break_cycle`]) and the sort goes on.
fn sort(graph: &mut DiGraph<String, Reason>) -> Result<(Vec<NodeIndex>, Vec<Deferred>)> {
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
    let mut placed = vec![false; graph.node_count()];
    let mut deferred = Vec::new();
    while order.len() < graph.node_count() {
        let Some(Reverse(i)) = ready.pop() else {
            let node = break_cycle(graph, &placed, &mut deferred)?;
            indegree[node.index()] = 0;
            ready.push(Reverse(node.index()));
            continue;
        };
        order.push(NodeIndex::new(i));
        placed[i] = true;
        for child in graph.neighbors_directed(NodeIndex::new(i), petgraph::Direction::Outgoing) {
            indegree[child.index()] -= 1;
            if indegree[child.index()] == 0 {
                ready.push(Reverse(child.index()));
            }
        }
    }
    Ok((order, deferred))
}

/// Every unplaced table waits on another: takes a cycle nobody else feeds
/// (a source component of what remains), picks the member with the fewest
/// incoming edges, all of them foreign keys (ties: plan order), and removes
/// those edges, recording them. Returns the member, now free to load.
fn break_cycle(
    graph: &mut DiGraph<String, Reason>,
    placed: &[bool],
    deferred: &mut Vec<Deferred>,
) -> Result<NodeIndex> {
    let remaining = NodeFiltered::from_fn(&*graph, |n: NodeIndex| !placed[n.index()]);
    // Tarjan lists components in reverse topological order: the last one is
    // fed by no other remaining component, so breaking it unblocks the sort.
    let component = tarjan_scc(&remaining)
        .pop()
        .expect("an unplaced table remains");
    let incoming = |n: NodeIndex| -> Vec<_> {
        graph
            .edges_directed(n, petgraph::Direction::Incoming)
            .filter(|e| component.contains(&e.source()))
            .map(|e| e.id())
            .collect()
    };
    let choice = component
        .iter()
        .map(|&n| (n, incoming(n)))
        .filter(|(_, edges)| {
            edges
                .iter()
                .all(|&e| matches!(graph[e], Reason::ForeignKey { .. }))
        })
        .min_by_key(|(n, edges)| (edges.len(), n.index()));
    let Some((node, mut edges)) = choice else {
        let mut members = component;
        members.sort();
        return Err(cycle_error(graph, &members));
    };
    // Removing an edge moves the last one into its slot: highest first.
    edges.sort_by_key(|e| Reverse(e.index()));
    let mut broken = Vec::new();
    for e in edges {
        let parent = graph.edge_endpoints(e).expect("edge exists").0;
        if let Some(Reason::ForeignKey { columns }) = graph.remove_edge(e) {
            broken.push(Deferred {
                parent: graph[parent].clone(),
                child: graph[node].clone(),
                columns,
            });
        }
    }
    broken.reverse();
    deferred.extend(broken);
    Ok(node)
}

/// Names every member of the first cycle and the edges that close it.
fn cycle_error(graph: &DiGraph<String, Reason>, members: &[NodeIndex]) -> Error {
    let path = cycle_path(graph, members);
    let mut circle: Vec<String> = path.iter().map(|&n| graph[n].clone()).collect();
    circle.push(graph[path[0]].clone());
    let why: Vec<String> = path
        .iter()
        .zip(path.iter().cycle().skip(1))
        .map(|(&a, &b)| {
            let e = graph
                .find_edge(a, b)
                .expect("consecutive cycle members are joined");
            graph[e].describe(&graph[a], &graph[b])
        })
        .collect();
    Error::DependencyCycle {
        tables: members.iter().map(|&n| graph[n].clone()).collect(),
        circle,
        edges: why,
    }
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::catalog::{ForeignKey, TableInfo};

    /// Tables given as `(name, [referenced tables])`.
    fn catalog(tables: &[(&str, &[&str])]) -> Catalog {
        Catalog {
            tables: tables
                .iter()
                .map(|(name, refs)| TableInfo {
                    name: name.to_string(),
                    columns: vec![],
                    primary_key: vec![],
                    unique_keys: vec![],
                    foreign_keys: refs
                        .iter()
                        .map(|r| ForeignKey {
                            columns: vec![format!("{r}_id")],
                            ref_table: r.to_string(),
                            ref_columns: vec!["id".into()],
                        })
                        .collect(),
                    indexes: vec![],
                })
                .collect(),
        }
    }

    fn plan(toml: &str) -> Plan {
        crate::plan::load_str(Path::new("p.toml"), toml).unwrap()
    }

    fn names(tables: &[(&str, &[&str])]) -> Vec<String> {
        tables.iter().map(|(n, _)| n.to_string()).collect()
    }

    fn position(dag: &Dag, table: &str) -> usize {
        dag.order().position(|t| t == table).unwrap()
    }

    #[test]
    fn a_cycle_of_foreign_keys_is_broken_at_one_table_and_its_keys_recorded() {
        // Sakila: store.manager_staff_id → staff, staff.store_id → store;
        // address comes before both, payment after both.
        let tables: &[(&str, &[&str])] = &[
            ("payment", &["staff", "store"]),
            ("store", &["staff", "address"]),
            ("staff", &["store", "address"]),
            ("address", &[]),
        ];
        let dag = Dag::build(
            &plan("[plan]\nkind = \"export\"\n"),
            &catalog(tables),
            &names(tables),
        )
        .unwrap();
        let order: Vec<&str> = dag.order().collect();
        assert_eq!(order, ["address", "store", "staff", "payment"]);
        assert_eq!(
            dag.deferred(),
            [Deferred {
                parent: "staff".into(),
                child: "store".into(),
                columns: vec!["staff_id".into()],
            }]
        );
        assert_eq!(dag.parents("store"), ["address"]);
    }

    #[test]
    fn a_table_below_a_cycle_keeps_its_edges() {
        // c depends on a, which is in a ↔ b; c comes first in the plan but
        // must still load after a: only the cycle's own edges are set aside.
        let tables: &[(&str, &[&str])] = &[("c", &["a"]), ("a", &["b"]), ("b", &["a"])];
        let dag = Dag::build(
            &plan("[plan]\nkind = \"export\"\n"),
            &catalog(tables),
            &names(tables),
        )
        .unwrap();
        assert!(position(&dag, "c") > position(&dag, "a"));
        assert_eq!(dag.deferred().len(), 1);
        assert_eq!(dag.deferred()[0].child, "a");
    }

    #[test]
    fn two_separate_cycles_are_each_broken_once() {
        let tables: &[(&str, &[&str])] = &[
            ("a", &["b"]),
            ("b", &["a"]),
            ("x", &["z", "a"]),
            ("y", &["x"]),
            ("z", &["y"]),
        ];
        let dag = Dag::build(
            &plan("[plan]\nkind = \"export\"\n"),
            &catalog(tables),
            &names(tables),
        )
        .unwrap();
        assert_eq!(dag.order().count(), 5);
        assert_eq!(dag.deferred().len(), 2, "{:?}", dag.deferred());
        assert!(position(&dag, "x") > position(&dag, "a"));
    }

    #[test]
    fn a_declared_dependency_wins_over_a_foreign_key_it_contradicts() {
        // t2 references t1, but module a (t1) declares depends_on b (t2):
        // the declared order stands and the foreign key is checked after.
        let tables: &[(&str, &[&str])] = &[("t1", &[]), ("t2", &["t1"])];
        let p = plan(
            "[plan]\nkind = \"export\"\n[[module]]\nname = \"a\"\ntables = [\"t1\"]\ndepends_on = [\"b\"]\n[[module]]\nname = \"b\"\ntables = [\"t2\"]\n",
        );
        let dag = Dag::build(&p, &catalog(tables), &names(tables)).unwrap();
        assert_eq!(dag.order().collect::<Vec<_>>(), ["t2", "t1"]);
        assert_eq!(dag.deferred()[0].child, "t2");
    }

    #[test]
    fn a_cycle_of_declared_dependencies_alone_is_an_error_naming_it() {
        // The plan validator refuses a declared cycle first; the graph is
        // the last line of defence, so build the cycle by hand.
        let mut graph = DiGraph::new();
        let (a, b) = (
            graph.add_node("t1".to_string()),
            graph.add_node("t2".to_string()),
        );
        for (from, to, m, d) in [(a, b, "b", "a"), (b, a, "a", "b")] {
            graph.add_edge(
                from,
                to,
                Reason::Declared {
                    module: m.into(),
                    depends_on: d.into(),
                },
            );
        }
        let err = sort(&mut graph).unwrap_err().to_string();
        assert!(
            err.contains("dependency cycle among tables `t1`, `t2`"),
            "{err}"
        );
        assert!(err.contains("depends_on"), "{err}");
    }
}
