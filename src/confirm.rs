//! Asking before a change: environments with `confirm = true`, and
//! commands that always ask (a future `rollback`). On a terminal the user
//! is asked; without one only `--yes` lets the change go ahead, so a script
//! or a CI job fails at once instead of waiting for an answer nobody gives.

use crate::backend::DbUrl;
use crate::error::{Error, Result};
use crate::events::{self, Answer, Question};
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

/// Asks before `action` on `database` whatever the environment says
/// (rollback, undoing scripts): on a terminal always, without one only
/// `yes` lets it go ahead.
pub fn always(plan: &Plan, database: &DbUrl, action: &str, yes: bool) -> Result<()> {
    let request = Request {
        plan: Some(plan),
        database,
        action,
        always: true,
    };
    request.check(yes)
}

impl Request<'_> {
    pub fn needed(&self) -> bool {
        self.always || self.plan.is_some_and(Plan::needs_confirmation)
    }

    /// `Ok` when the change may go ahead; an error naming what was refused
    /// otherwise (nothing has been changed yet). The question goes to the
    /// caller's listener (a terminal prompt, a console dialog); a caller
    /// that cannot ask refuses unless `yes` answered beforehand.
    pub fn check(&self, yes: bool) -> Result<()> {
        if !self.needed() || yes {
            return Ok(());
        }
        let question = Question {
            summary: crate::redact::redact(&self.summary()).into_owned(),
        };
        match events::ask(&question) {
            Answer::Yes => Ok(()),
            Answer::No => Err(Error::NotConfirmed {
                action: self.action.to_string(),
            }),
            Answer::CannotAsk => Err(Error::ConfirmationNeeded {
                asker: self.asker(),
                action: self.action.to_string(),
                database: self.database.redacted(),
            }),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listener_answers_and_yes_answers_beforehand() {
        use std::sync::Arc;
        struct Says(Answer);
        impl events::Listener for Says {
            fn event(&self, _: &events::Event) {}
            fn ask(&self, _: &Question) -> Answer {
                self.0
            }
        }
        let db = DbUrl::parse("sqlite://x.db", std::path::Path::new(".")).unwrap();
        let r = Request {
            plan: None,
            database: &db,
            action: "roll back",
            always: true,
        };
        let ask = |a: Answer, yes: bool| {
            events::scope(Arc::new(Says(a)), events::Cancel::new(), || r.check(yes))
        };
        assert!(ask(Answer::Yes, false).is_ok());
        assert!(matches!(
            ask(Answer::No, false),
            Err(Error::NotConfirmed { .. })
        ));
        assert!(matches!(
            ask(Answer::CannotAsk, false),
            Err(Error::ConfirmationNeeded { .. })
        ));
        assert!(ask(Answer::No, true).is_ok(), "--yes is not asked");
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
        let refusal = events::scope(
            std::sync::Arc::new(events::Silent),
            events::Cancel::new(),
            || r.check(false),
        )
        .unwrap_err()
        .to_string();
        assert!(refusal.contains("pass --yes to roll back"), "{refusal}");
        assert!(!refusal.contains("secret"), "{refusal}");
    }
}
