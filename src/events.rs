//! What an operation wants a person to see, and the caller's say in it.
//!
//! Operations never print. Progress, notes and warnings become [`Event`]s
//! handed to the [`Listener`] the caller supplies (the CLI draws bars and
//! writes to stderr; the console streams them to a browser); a question
//! ("proceed?") goes to the same listener; and the caller's [`Cancel`] is
//! looked at at every safe point, where a cancelled operation fails like
//! any other failure: everything it changed is rolled back.
//!
//! Notes arise deep down (a format removing a stale partial file, a
//! backend that cannot set a sequence), so the listener is installed for
//! the length of an operation on the thread that runs it ([`scope`]), the
//! way `tracing` installs a dispatcher, rather than passed through every
//! layer: formats and backends stay free of the operations that call them.
//! Outside a scope events go nowhere.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

/// One thing a person may want to see.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Rows start moving: `verb` ("exporting", "importing") over about
    /// `total` rows (an estimate where the engine only estimates).
    Started { verb: &'static str, total: u64 },
    /// The table whose rows move from now on, and how many it has when
    /// that is known beforehand (a backup's meta, the export's count): a
    /// listener can then tell how long the table will take.
    Table { name: String, rows: Option<u64> },
    /// `rows` more rows moved (sent in steps, not per row).
    Advanced { rows: u64 },
    /// The rows of this phase have all moved.
    Finished,
    /// The backup taken before the run changes anything (the path
    /// `migplan rollback` restores from).
    BackupBeforeChange(std::path::PathBuf),
    /// A step of the checklist done, said as it is (`applied V2__add_email`,
    /// `seeded the empty database with 120 rows from …`).
    Step(String),
    /// Something worth knowing that changes nothing about the outcome.
    Note(String),
    /// Something the person may have to act on; the operation goes on.
    Warning(String),
}

/// How long the rest of `total` will take at the pace `done` rows took
/// in `elapsed`; none until there is a pace to go by (half a second and a
/// row) or when nothing is left.
pub fn remaining(done: u64, total: u64, elapsed: std::time::Duration) -> Option<u64> {
    let secs = elapsed.as_secs_f64();
    (secs > 0.5 && done > 0 && total > done)
        .then(|| ((total - done) as f64 * secs / done as f64).ceil() as u64)
}

/// A change about to be made, put to the person before it is made.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// Plan, environment, database and action, one per line, ready to show.
    pub summary: String,
}

/// The person's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// Nobody can be asked (no terminal, a background job): the change is
    /// refused unless the request said yes beforehand.
    CannotAsk,
}

/// The caller's side of an operation. Only `event` is required.
pub trait Listener: Send + Sync {
    fn event(&self, event: &Event);

    fn ask(&self, _question: &Question) -> Answer {
        Answer::CannotAsk
    }
}

/// A listener that drops everything (library use, tests).
pub struct Silent;

impl Listener for Silent {
    fn event(&self, _event: &Event) {}
}

/// A caller's way to stop a running operation: cloned into whoever may
/// press the button, looked at by the operation at its safe points.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the operation to stop at its next safe point.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

struct Scope {
    listener: Arc<dyn Listener>,
    cancel: Cancel,
}

thread_local! {
    static CURRENT: RefCell<Vec<Scope>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with `listener` receiving its events and `cancel` stopping it;
/// scopes nest (the innermost listens).
pub fn scope<T>(listener: Arc<dyn Listener>, cancel: Cancel, f: impl FnOnce() -> T) -> T {
    CURRENT.with(|c| c.borrow_mut().push(Scope { listener, cancel }));
    // Popped on unwind too, so a panic does not leave a listener behind.
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            CURRENT.with(|c| c.borrow_mut().pop());
        }
    }
    let _pop = Pop;
    f()
}

fn with_listener(f: impl FnOnce(&dyn Listener)) {
    let listener = CURRENT.with(|c| c.borrow().last().map(|s| s.listener.clone()));
    if let Some(l) = listener {
        f(l.as_ref());
    }
}

/// Hands `event` to the current listener.
pub fn emit(event: Event) {
    with_listener(|l| l.event(&event));
}

pub fn step(message: impl Into<String>) {
    emit(Event::Step(message.into()));
}

pub fn note(message: impl Into<String>) {
    emit(Event::Note(message.into()));
}

pub fn warning(message: impl Into<String>) {
    emit(Event::Warning(message.into()));
}

/// The current listener's answer; `CannotAsk` outside a scope.
pub fn ask(question: &Question) -> Answer {
    let mut answer = Answer::CannotAsk;
    with_listener(|l| answer = l.ask(question));
    answer
}

/// A safe point: `Err(Error::Cancelled)` once the caller asked to stop.
/// Callers fail there like on any error, so whatever they began is rolled
/// back on the way out.
pub fn checkpoint() -> Result<()> {
    let cancelled = CURRENT.with(|c| c.borrow().last().is_some_and(|s| s.cancel.is_cancelled()));
    match cancelled {
        true => Err(Error::Cancelled),
        false => Ok(()),
    }
}

/// A listener that keeps every event, for tests and for callers that
/// render afterwards.
#[derive(Default)]
pub struct Recorded(std::sync::Mutex<Vec<Event>>);

impl Recorded {
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Listener for Recorded {
    fn event(&self, event: &Event) {
        if let Ok(mut e) = self.0.lock() {
            e.push(event.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_reach_the_innermost_scope_and_nothing_outside_one() {
        note("nobody hears this");
        let outer = Arc::new(Recorded::default());
        let inner = Arc::new(Recorded::default());
        scope(outer.clone(), Cancel::new(), || {
            note("outer");
            scope(inner.clone(), Cancel::new(), || warning("inner"));
            note("outer again");
        });
        assert_eq!(
            outer.events(),
            vec![
                Event::Note("outer".into()),
                Event::Note("outer again".into())
            ]
        );
        assert_eq!(inner.events(), vec![Event::Warning("inner".into())]);
    }

    #[test]
    fn a_checkpoint_fails_once_cancelled() {
        let cancel = Cancel::new();
        scope(Arc::new(Silent), cancel.clone(), || {
            assert!(checkpoint().is_ok());
            cancel.cancel();
            assert!(matches!(checkpoint(), Err(Error::Cancelled)));
        });
        assert!(
            checkpoint().is_ok(),
            "outside the scope nothing is cancelled"
        );
    }

    #[test]
    fn nobody_can_be_asked_outside_a_scope_or_by_a_silent_listener() {
        let q = Question {
            summary: "x".into(),
        };
        assert_eq!(ask(&q), Answer::CannotAsk);
        scope(Arc::new(Silent), Cancel::new(), || {
            assert_eq!(ask(&q), Answer::CannotAsk)
        });
    }
}
