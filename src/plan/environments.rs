//! `[env.NAME]` sections: overrides of any plan key for one environment.
//!
//! They are merged at the TOML level, before the serde mirror is filled, so
//! the later passes see one ordinary plan and need not know environments
//! exist. The merge keeps every value's span: a value that came from
//! `[env.prod.import]` is reported inside `[env.prod.import]`. Tables merge
//! key by key; any other value (a string, a list, `[[module]]`) replaces
//! the plan's whole.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::validate::hint;
use super::{EnvChoice, Environment};
use crate::diag::Diagnostic;

/// The plan sections an environment may override: `RawPlan`'s fields but
/// `env` (a test keeps the two in step).
pub(super) const SECTIONS: &[&str] = &[
    "plan", "database", "source", "target", "schema", "export", "import", "module", "tables",
    "backup", "notify",
];
/// Keys of `[env.NAME]` that belong to the environment, not to the plan.
pub(super) const OWN_KEYS: &[&str] = &["confirm", "dry_run"];

/// Takes the environments out of a plan file's root table, so the serde
/// mirror sees only the plan, and merges the chosen one over the rest.
pub(super) struct Layering<'a> {
    pub path: &'a Path,
    pub source: &'a Arc<str>,
}

type Problems = Vec<Diagnostic>;

impl Layering<'_> {
    /// Returns the chosen environment's own keys; every problem with the
    /// environments' shape or the choice, otherwise.
    pub fn apply(
        &self,
        root: &mut DeTable<'_>,
        choice: Option<&EnvChoice>,
    ) -> Result<Option<Environment>, Problems> {
        let mut envs = self.take_envs(root)?;
        let Some(choice) = choice else {
            return Ok(None);
        };
        let Some(at) = envs.iter().position(|(n, _)| *n == choice.name) else {
            let known: Vec<&str> = envs.iter().map(|(n, _)| n.as_str()).collect();
            return Err(vec![self.unknown_env(&known, choice)]);
        };
        let (_, mut env) = envs.swap_remove(at);
        let environment = self.own_keys(&mut env, &choice.name)?;
        self.check_sections(&env, &choice.name)?;
        merge(root, env);
        Ok(Some(environment))
    }

    fn diag(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(self.path, self.source, span, message)
    }

    /// `env` must be a table of tables; it is removed from the root.
    fn take_envs<'i>(&self, root: &mut DeTable<'i>) -> Result<Envs<'i>, Problems> {
        let Some(envs) = root.remove("env") else {
            return Ok(Vec::new());
        };
        let span = envs.span();
        let DeValue::Table(table) = envs.into_inner() else {
            let help = "write one `[env.NAME]` section per environment";
            return Err(vec![
                self.diag(span, "`env` must be a table").with_help(help),
            ]);
        };
        let mut envs = Vec::new();
        let mut problems = Vec::new();
        for (name, value) in table {
            let span = value.span();
            match value.into_inner() {
                DeValue::Table(t) => envs.push((name.into_inner().into_owned(), t)),
                other => problems.push(self.not_a_table(span, name.get_ref(), other.type_str())),
            }
        }
        if problems.is_empty() {
            Ok(envs)
        } else {
            Err(problems)
        }
    }

    fn not_a_table(&self, span: Range<usize>, name: &str, found: &str) -> Diagnostic {
        let message = format!("environment `{name}` must be a table, found {found}");
        let help = format!("write `[env.{name}]` followed by the keys it overrides");
        self.diag(span, message).with_help(help)
    }

    /// The choice names no environment. The problem is the choice (a flag
    /// or a variable), not a place in the file, so it is about the file.
    fn unknown_env(&self, known: &[&str], choice: &EnvChoice) -> Diagnostic {
        let (name, via) = (&choice.name, choice.via);
        if known.is_empty() {
            let message = format!(
                "environment `{name}` is selected ({via}) but the plan has no environments"
            );
            let help = format!("add an `[env.{name}]` section, or do not select an environment");
            return Diagnostic::file(self.path, message).with_help(help);
        }
        let message = format!("unknown environment `{name}` (selected with {via})");
        Diagnostic::file(self.path, message).with_help(hint(name, known, "environments"))
    }

    /// Removes `confirm` and `dry_run`, which must be booleans.
    fn own_keys(&self, env: &mut DeTable<'_>, name: &str) -> Result<Environment, Problems> {
        let mut problems = Vec::new();
        let mut flag = |key: &str| match env.remove(key) {
            None => false,
            Some(v) => match v.get_ref() {
                DeValue::Boolean(b) => *b,
                other => {
                    let message = format!("invalid type: {}, expected a boolean", other.type_str());
                    let help = format!("write `{key} = true` or `{key} = false`");
                    problems.push(self.diag(v.span(), message).with_help(help));
                    false
                }
            },
        };
        let environment = Environment {
            name: name.to_string(),
            confirm: flag("confirm"),
            dry_run: flag("dry_run"),
        };
        if problems.is_empty() {
            Ok(environment)
        } else {
            Err(problems)
        }
    }

    /// Every other key must be a plan section.
    fn check_sections(&self, env: &DeTable<'_>, name: &str) -> Result<(), Problems> {
        let known: Vec<&str> = SECTIONS.iter().chain(OWN_KEYS).copied().collect();
        let problems: Problems = env
            .keys()
            .filter(|k| !SECTIONS.contains(&k.get_ref().as_ref()))
            .map(|k| {
                let message = format!("unknown key `{}` in `[env.{name}]`", k.get_ref());
                self.diag(k.span(), message)
                    .with_help(hint(k.get_ref(), &known, "known keys"))
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

type Envs<'i> = Vec<(String, DeTable<'i>)>;

/// Deep merge: tables key by key, anything else replaced whole. The
/// values keep the spans they were written at.
fn merge<'i>(base: &mut DeTable<'i>, over: DeTable<'i>) {
    for (key, value) in over {
        let span = value.span();
        let target = base.get_mut(key.get_ref().as_ref()).map(Spanned::get_mut);
        match (target, value.into_inner()) {
            (Some(DeValue::Table(inner)), DeValue::Table(t)) => merge(inner, t),
            (_, value) => {
                base.insert(key, Spanned::new(span, value));
            }
        }
    }
}

/// The names of the `[env.NAME]` sections of plan text, in file order;
/// empty when there are none or the text does not parse.
pub fn names(source: &str) -> Vec<String> {
    match DeTable::parse(source) {
        Ok(root) => root
            .get_ref()
            .get("env")
            .map_or_else(Vec::new, |e| table_keys(e.get_ref())),
        Err(_) => Vec::new(),
    }
}

fn table_keys(value: &DeValue<'_>) -> Vec<String> {
    match value {
        DeValue::Table(t) => t.keys().map(|k| k.get_ref().to_string()).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::error::Error;
    use crate::plan::{Compression, Conflict, Plan, load_selected};

    fn no_vars(_: &str) -> Option<String> {
        None
    }

    fn load(src: &str, env: Option<&str>) -> crate::Result<Plan> {
        let choice = env.map(EnvChoice::flag);
        load_selected(Path::new("/srv/p.toml"), src, choice.as_ref(), &no_vars)
    }

    fn only_problem(src: &str, env: Option<&str>) -> Diagnostic {
        match load(src, env) {
            Err(Error::Invalid(mut d)) if d.len() == 1 => d.remove(0),
            other => panic!("expected one diagnostic, got {other:?}"),
        }
    }

    const PLAN: &str = r#"
        [database]
        url = "sqlite://dev.db"
        seed = "seed.json"
        [import]
        conflict = "skip"
        [[module]]
        name = "users"
        tables = ["users"]
        [env.prod]
        confirm = true
        [env.prod.database]
        url = "sqlite://prod.db"
        [env.prod.import]
        conflict = "error"
        [[env.prod.module]]
        name = "all"
        tables = ["users", "posts"]
        [env.staging]
        dry_run = true
    "#;

    #[test]
    fn without_a_choice_the_environments_are_left_out() {
        let plan = load(PLAN, None).unwrap();
        assert_eq!(plan.database.unwrap().url, "sqlite:///srv/dev.db");
        assert_eq!(plan.import.conflict, Conflict::Skip);
        assert!(plan.environment.is_none());
    }

    #[test]
    fn tables_merge_key_by_key_and_lists_are_replaced() {
        let plan = load(PLAN, Some("prod")).unwrap();
        let db = plan.database.as_ref().unwrap();
        assert_eq!(db.url, "sqlite:///srv/prod.db");
        // Kept from the plan: the environment does not set it.
        assert_eq!(db.seed.as_deref(), Some(Path::new("/srv/seed.json")));
        assert_eq!(plan.import.conflict, Conflict::Error);
        let names: Vec<&str> = plan.modules.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["all"]);
        let env = plan.environment.unwrap();
        assert_eq!(
            (env.name.as_str(), env.confirm, env.dry_run),
            ("prod", true, false)
        );
    }

    #[test]
    fn own_keys_default_to_false() {
        let env = load(PLAN, Some("staging")).unwrap().environment.unwrap();
        assert_eq!((env.confirm, env.dry_run), (false, true));
    }

    #[test]
    fn an_unknown_environment_names_the_defined_ones() {
        let d = only_problem(PLAN, Some("prd"));
        assert_eq!(d.message, "unknown environment `prd` (selected with --env)");
        let help = d.help.unwrap();
        assert!(help.starts_with("did you mean `prod`?"), "{help}");
        assert!(
            help.contains("`prod`") && help.contains("`staging`"),
            "{help}"
        );
    }

    #[test]
    fn selecting_an_environment_of_a_plan_without_any_is_an_error() {
        let d = only_problem("[import]\nconflict = \"skip\"\n", Some("prod"));
        let message = "environment `prod` is selected (--env) but the plan has no environments";
        assert_eq!(d.message, message);
        assert!(d.help.unwrap().contains("add an `[env.prod]` section"));
    }

    #[test]
    fn a_missing_required_key_from_an_environment_points_into_it() {
        let src = "[env.prod.database]\nseed = \"s.json\"\n";
        let d = only_problem(src, Some("prod"));
        assert_eq!(d.message, "missing key `url`");
        assert_eq!(d.line_col().map(|(l, _)| l), Some(1));
    }

    #[test]
    fn backup_settings_default_and_merge() {
        let plan = load("", None).unwrap();
        let b = plan.backup;
        assert!(b.enabled);
        assert_eq!(b.dir, PathBuf::from("/srv/backups"));
        assert_eq!((b.retention_days, b.keep), (None, None));
        assert_eq!(b.compression, Compression::Zstd);
        let src = "[backup]\nkeep = 3\n[env.prod.backup]\nenabled = false\ndir = \"/var/b\"\n";
        let b = load(src, Some("prod")).unwrap().backup;
        assert!(!b.enabled);
        assert_eq!((b.dir.as_path(), b.keep), (Path::new("/var/b"), Some(3)));
    }

    #[test]
    fn names_are_listed_from_the_text() {
        assert_eq!(names(PLAN), ["prod", "staging"]);
        assert!(names("[plan]\n").is_empty() && names("[broken").is_empty());
    }

    /// `SECTIONS` must be exactly the plan's top-level keys but `env`: serde
    /// lists those keys when it meets an unknown one.
    #[test]
    fn sections_are_the_plans_top_level_keys() {
        let d = only_problem("[nope]\n", None);
        let help = d.help.unwrap();
        let listed = help.split("known keys: ").nth(1).unwrap();
        let mut keys: Vec<&str> = SECTIONS.to_vec();
        keys.push("env");
        assert_eq!(
            listed,
            keys.iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}
