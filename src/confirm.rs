//! Asking before a change: environments with `confirm = true`, and
//! commands that always ask (a future `rollback`). On a terminal the user
//! is asked; without one only `--yes` lets the change go ahead, so a script
//! or a CI job fails at once instead of waiting for an answer nobody gives.

use std::io::{BufRead, IsTerminal};

use crate::backend::DbUrl;
use crate::error::{Error, Result};
use crate::plan::Plan;

/// A change about to be made, as the prompt shows it.
pub struct Request<'a> {
    /// The plan, when the command has one: its environment decides whether
    /// to ask, and the prompt names it.
    pub plan: Option<&'a Plan>,
    /// Shown redacted.
    pub database: &'a DbUrl,
    /// Verb first: "import backups/full.json".
    pub action: &'a str,
    /// Ask whatever the environment says (commands with no plan, rollback).
    pub always: bool,
}

/// Asks before `plan`'s command does `action` to `database`, when the
/// plan's environment has `confirm = true`. `yes` is `--yes`.
pub fn confirm(plan: &Plan, database: &DbUrl, action: &str, yes: bool) -> Result<()> {
    let request = Request {
        plan: Some(plan),
        database,
        action,
        always: false,
    };
    request.check(yes)
}

/// What to do about one request.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Proceed,
    Ask,
    Refuse,
}

fn decide(needed: bool, yes: bool, terminal: bool) -> Decision {
    match (needed, yes, terminal) {
        (false, _, _) | (true, true, _) => Decision::Proceed,
        (true, false, true) => Decision::Ask,
        (true, false, false) => Decision::Refuse,
    }
}

/// Only an explicit yes proceeds; an empty answer (Enter) is the `N` default.
fn accepts(answer: &str) -> bool {
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

impl Request<'_> {
    pub fn needed(&self) -> bool {
        self.always || self.plan.is_some_and(Plan::needs_confirmation)
    }

    /// `Ok` when the change may go ahead; an error naming what was refused
    /// otherwise (nothing has been changed yet).
    pub fn check(&self, yes: bool) -> Result<()> {
        // Both ends must be a terminal: the question goes to stderr and the
        // answer comes from stdin.
        let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        match decide(self.needed(), yes, terminal) {
            Decision::Proceed => Ok(()),
            Decision::Refuse => Err(Error::Usage(self.refusal())),
            Decision::Ask => self.ask(),
        }
    }

    fn ask(&self) -> Result<()> {
        eprint!("{}Proceed? [y/N] ", crate::redact::redact(&self.summary()));
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|e| Error::io("<stdin>", e))?;
        match accepts(&answer) {
            true => Ok(()),
            false => Err(Error::Declined(format!(
                "not confirmed: {} was not done; nothing was changed",
                self.action
            ))),
        }
    }

    /// Who asks: the environment, or the command itself.
    fn asker(&self) -> String {
        match self.plan.and_then(|p| p.environment.as_ref()) {
            Some(env) if env.confirm => format!("environment `{}` (`confirm = true`)", env.name),
            _ => "this command".into(),
        }
    }

    /// Plan, environment, database and action, one per line.
    fn summary(&self) -> String {
        let mut out = String::new();
        if let Some(plan) = self.plan {
            out.push_str(&format!("plan         {}\n", plan.name));
            if let Some(env) = &plan.environment {
                out.push_str(&format!("environment  {}\n", env.name));
            }
        }
        out.push_str(&format!("database     {}\n", self.database.redacted()));
        out.push_str(&format!("about to     {}\n", self.action));
        out
    }

    fn refusal(&self) -> String {
        format!(
            "{} asks for confirmation before changing data, and there is no terminal to ask on; nothing was changed\n  = help: pass --yes to {} on {}",
            self.asker(),
            self.action,
            self.database.redacted()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_or_no_need_proceeds_without_asking() {
        assert_eq!(decide(false, false, false), Decision::Proceed);
        assert_eq!(decide(true, true, false), Decision::Proceed);
        assert_eq!(decide(true, true, true), Decision::Proceed);
    }

    #[test]
    fn a_terminal_is_asked_and_no_terminal_is_refused() {
        assert_eq!(decide(true, false, true), Decision::Ask);
        assert_eq!(decide(true, false, false), Decision::Refuse);
    }

    #[test]
    fn only_y_or_yes_accepts() {
        for a in ["y\n", "Y", " yes ", "YES\r\n"] {
            assert!(accepts(a), "{a:?}");
        }
        for a in ["", "\n", "n", "no", "yep", "sure"] {
            assert!(!accepts(a), "{a:?}");
        }
    }

    #[test]
    fn a_request_without_a_plan_asks_only_when_always() {
        let db = DbUrl::parse("postgres://app:secret@db/tiku", std::path::Path::new(".")).unwrap();
        let mut r = Request {
            plan: None,
            database: &db,
            action: "roll back",
            always: false,
        };
        assert!(!r.needed());
        r.always = true;
        assert!(r.needed());
        let refusal = r.refusal();
        assert!(refusal.contains("pass --yes to roll back"), "{refusal}");
        assert!(!refusal.contains("secret"), "{refusal}");
    }
}
