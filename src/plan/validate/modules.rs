//! The `[[module]]`s checked together: unique names, tables in one module
//! only, dependencies that exist and close no circle.

use std::collections::HashMap;
use std::ops::Range;

use super::{CONFLICTS, Checker, module_hint, names};
use crate::diag::{Diagnostic, line_col};
use crate::plan::raw::{RawModule, Str};
use crate::plan::{Conflict, Module};

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

impl Checker<'_> {
    pub(super) fn modules(&mut self, raw: &[RawModule]) -> Vec<Module> {
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
