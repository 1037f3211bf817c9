//! Background jobs: every change the console makes runs on a thread of its
//! own, inside an `events::scope` whose listener is the job itself, so the
//! request that started it returns at once and any number of pages can
//! watch it (server-sent events) or cancel it. A job outlives the tab that
//! started it: it lives as long as the console.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::error::{ConsoleError, Error, Result};
use crate::events::{self, Cancel, Event, Listener};

/// Log lines kept per job: the newest; a long job's table-by-table steps
/// fit many times over.
const LOG_LINES: usize = 2_000;
/// Jobs remembered: the newest; older finished ones are forgotten.
const KEPT_JOBS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    pub at: String,
    /// `step`, `note` or `warning`.
    pub level: &'static str,
    pub text: String,
}

/// A job's failure, as a person reads it.
#[derive(Debug, Clone, Serialize)]
pub struct JobError {
    pub message: String,
    pub help: Option<String>,
}

/// What a job page shows: everything, at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    pub id: u64,
    /// `export`, `import`, `preview`, `rollback`, `schema`, `backup`.
    pub kind: &'static str,
    pub title: String,
    pub database: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub status: JobStatus,
    /// What the rows are doing now ("exporting", "importing").
    pub phase: Option<String>,
    pub table: Option<String>,
    /// The table's own rows moved and to move, where its count is known
    /// beforehand, and its time left.
    pub table_rows_done: Option<u64>,
    pub table_rows_total: Option<u64>,
    pub table_eta_seconds: Option<u64>,
    pub rows_done: u64,
    /// An estimate where the engine only estimates.
    pub rows_total: u64,
    pub rows_per_second: Option<f64>,
    pub eta_seconds: Option<u64>,
    pub elapsed_seconds: f64,
    pub cancel_requested: bool,
    pub log: Vec<LogLine>,
    /// The operation's outcome, as `--format json` gives it.
    pub result: Option<serde_json::Value>,
    pub error: Option<JobError>,
    /// Bumped on every change: a watcher sends only what changed.
    pub version: u64,
    /// Where a finished job leads (the run's page, the preview).
    pub next: Option<String>,
    /// The file a finished job wrote, downloadable at
    /// `/jobs/{id}/download` (an export's backup).
    pub file: Option<String>,
}

pub(crate) struct Job {
    pub(crate) id: u64,
    kind: &'static str,
    title: String,
    /// The database's redacted URL: two jobs on one database wait for
    /// each other.
    database: String,
    started: Instant,
    started_at: DateTime<Utc>,
    cancel: Cancel,
    /// Files removed when the job ends (uploads).
    cleanup: Vec<PathBuf>,
    /// Texts shown under another name (an upload's private path as the
    /// name the person gave it).
    aliases: Vec<(String, String)>,
    state: Mutex<State>,
}

struct State {
    status: JobStatus,
    ended_at: Option<DateTime<Utc>>,
    phase: Option<String>,
    table: Option<String>,
    /// The table's rows, when known; `done` when it started, and when.
    table_rows: Option<u64>,
    table_from: u64,
    table_started: Option<Instant>,
    done: u64,
    total: u64,
    phase_started: Option<Instant>,
    log: VecDeque<LogLine>,
    result: Option<serde_json::Value>,
    error: Option<JobError>,
    version: u64,
    next: Option<String>,
    file: Option<PathBuf>,
}

impl Job {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: keep it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn view(&self) -> JobView {
        let s = self.state();
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = s.phase_started.and_then(|t| {
            let secs = t.elapsed().as_secs_f64();
            (secs > 0.5 && s.done > 0).then(|| s.done as f64 / secs)
        });
        let running = s.status == JobStatus::Running;
        let eta = s
            .phase_started
            .filter(|_| running)
            .and_then(|t| crate::events::remaining(s.done, s.total, t.elapsed()));
        let table_done = s
            .table_rows
            .map(|rows| s.done.saturating_sub(s.table_from).min(rows));
        let table_eta = match (s.table_started, table_done, s.table_rows) {
            (Some(t), Some(done), Some(rows)) if running => {
                crate::events::remaining(done, rows, t.elapsed())
            }
            _ => None,
        };
        JobView {
            id: self.id,
            kind: self.kind,
            title: self.title.clone(),
            database: self.database.clone(),
            started_at: stamp(self.started_at),
            ended_at: s.ended_at.map(stamp),
            status: s.status,
            phase: s.phase.clone(),
            table: s.table.clone(),
            table_rows_done: table_done,
            table_rows_total: s.table_rows,
            table_eta_seconds: table_eta,
            rows_done: s.done,
            rows_total: s.total,
            rows_per_second: rate,
            eta_seconds: eta,
            elapsed_seconds: elapsed,
            cancel_requested: self.cancel.is_cancelled(),
            log: s.log.iter().cloned().collect(),
            result: s.result.clone(),
            error: s.error.clone(),
            version: s.version,
            next: s.next.clone(),
            file: s.file.as_ref().map(|f| f.display().to_string()),
        }
    }

    /// The version only, to see cheaply whether anything changed.
    /// The file the job wrote, once it has succeeded.
    pub(crate) fn file(&self) -> Option<PathBuf> {
        self.state().file.clone()
    }

    pub(crate) fn version(&self) -> u64 {
        self.state().version
    }

    pub(crate) fn is_running(&self) -> bool {
        self.state().status == JobStatus::Running
    }

    /// Asks the job to stop at its next safe point.
    pub(crate) fn cancel(&self) {
        self.cancel.cancel();
        self.state().version += 1;
    }

    /// `text` as the person knows its names.
    fn shown(&self, text: &str) -> String {
        self.aliases
            .iter()
            .fold(text.to_string(), |t, (from, to)| t.replace(from, to))
    }

    fn log(&self, level: &'static str, text: String) {
        let text = self.shown(&text);
        let mut s = self.state();
        if s.log.len() == LOG_LINES {
            s.log.pop_front();
        }
        s.log.push_back(LogLine {
            at: stamp(Utc::now()),
            level,
            text,
        });
        s.version += 1;
    }

    fn finish(&self, outcome: Result<Finished>) {
        let mut s = self.state();
        match outcome {
            Ok(done) => {
                s.status = JobStatus::Succeeded;
                s.result = Some(done.result);
                s.next = done.next;
                s.file = done.file;
            }
            Err(e @ (Error::Cancelled | Error::CancelledAfterScripts { .. })) => {
                s.status = JobStatus::Cancelled;
                s.error = Some(error_of(&e));
            }
            Err(e) => {
                s.status = JobStatus::Failed;
                let e = error_of(&e);
                s.error = Some(JobError {
                    message: self.shown(&e.message),
                    help: e.help.as_deref().map(|h| self.shown(h)),
                });
            }
        }
        s.ended_at = Some(Utc::now());
        s.version += 1;
        drop(s);
        for f in &self.cleanup {
            let _ = std::fs::remove_file(f);
        }
    }
}

pub(crate) fn error_of(e: &Error) -> JobError {
    JobError {
        message: e.message(),
        help: e.help(),
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The job hears its operation's events.
struct Hears(Arc<Job>);

impl Listener for Hears {
    fn event(&self, event: &Event) {
        let job = &self.0;
        match event {
            Event::Started { verb, total } => {
                let mut s = job.state();
                s.phase = Some(verb.to_string());
                // Each phase counts its own rows, as the CLI's bars do: the
                // backup before change, then the import.
                s.total = *total;
                s.done = 0;
                s.phase_started = Some(Instant::now());
                s.table_rows = None;
                s.version += 1;
            }
            Event::Table { name, rows } => {
                let mut s = job.state();
                s.table = Some(name.clone());
                s.table_rows = *rows;
                s.table_from = s.done;
                s.table_started = Some(Instant::now());
                s.version += 1;
            }
            Event::Advanced { rows } => {
                let mut s = job.state();
                s.done += rows;
                s.version += 1;
            }
            Event::Finished => {
                let mut s = job.state();
                s.table = None;
                s.table_rows = None;
                s.version += 1;
            }
            Event::BackupBeforeChange(path) => {
                job.log("step", format!("backup before change: {}", path.display()))
            }
            Event::Step(t) => job.log("step", t.clone()),
            Event::Note(t) => job.log("note", t.clone()),
            Event::Warning(t) => job.log("warning", t.clone()),
        }
    }
}

/// What a job that succeeded leaves: its outcome, and where to look next.
pub(crate) struct Finished {
    pub(crate) result: serde_json::Value,
    pub(crate) next: Option<String>,
    pub(crate) file: Option<PathBuf>,
}

impl Finished {
    pub(crate) fn of(outcome: &impl Serialize) -> Finished {
        Finished {
            result: serde_json::to_value(outcome).unwrap_or(serde_json::Value::Null),
            next: None,
            file: None,
        }
    }

    /// The file the job wrote, offered for download.
    pub(crate) fn wrote(mut self, file: PathBuf) -> Finished {
        self.file = Some(file);
        self
    }

    pub(crate) fn then(mut self, next: impl Into<String>) -> Finished {
        self.next = Some(next.into());
        self
    }
}

/// A job about to start.
pub(crate) struct Spec {
    pub(crate) kind: &'static str,
    pub(crate) title: String,
    pub(crate) database: String,
    /// Whether the job changes the database (two such jobs never overlap).
    pub(crate) changes: bool,
    pub(crate) cleanup: Vec<PathBuf>,
    /// (text, shown as) in the job's log and error.
    pub(crate) aliases: Vec<(String, String)>,
}

#[derive(Default)]
pub(crate) struct Jobs {
    next_id: AtomicU64,
    jobs: Mutex<VecDeque<(Arc<Job>, bool)>>,
}

impl Jobs {
    /// Starts `work` as a job, unless another job of this console is
    /// changing the same database (the run lock refuses runs of other
    /// processes, with their holder named, when the work takes it).
    pub(crate) fn start(
        &self,
        spec: Spec,
        work: impl FnOnce() -> Result<Finished> + Send + 'static,
    ) -> Result<Arc<Job>> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        if spec.changes
            && let Some((holder, _)) = jobs
                .iter()
                .find(|(j, changes)| *changes && j.database == spec.database && j.is_running())
        {
            return Err(ConsoleError::JobRunning {
                holder: format!("job {} ({})", holder.id, holder.title),
                database: spec.database,
            }
            .into());
        }
        let job = Arc::new(Job {
            id: self.next_id.fetch_add(1, Ordering::SeqCst) + 1,
            kind: spec.kind,
            title: spec.title,
            database: spec.database,
            started: Instant::now(),
            started_at: Utc::now(),
            cancel: Cancel::new(),
            cleanup: spec.cleanup,
            aliases: spec.aliases,
            state: Mutex::new(State {
                status: JobStatus::Running,
                ended_at: None,
                phase: None,
                table: None,
                table_rows: None,
                table_from: 0,
                table_started: None,
                done: 0,
                total: 0,
                phase_started: None,
                log: VecDeque::new(),
                result: None,
                error: None,
                version: 0,
                next: None,
                file: None,
            }),
        });
        jobs.push_back((job.clone(), spec.changes));
        forget_old(&mut jobs);
        drop(jobs);
        let running = job.clone();
        std::thread::Builder::new()
            .name(format!("migplan-job-{}", job.id))
            .spawn(move || {
                let listener = Arc::new(Hears(running.clone()));
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    events::scope(listener, running.cancel.clone(), work)
                }))
                .unwrap_or_else(|_| {
                    Err(ConsoleError::Stopped {
                        cause: "the job panicked".into(),
                    }
                    .into())
                });
                running.finish(outcome);
            })
            .map_err(|e| ConsoleError::Stopped {
                cause: format!("cannot start a job thread: {e}"),
            })?;
        Ok(job)
    }

    pub(crate) fn get(&self, id: u64) -> Result<Arc<Job>> {
        let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.iter()
            .find(|(j, _)| j.id == id)
            .map(|(j, _)| j.clone())
            .ok_or_else(|| ConsoleError::NoSuchJob { id }.into())
    }

    /// Every job remembered, newest first.
    pub(crate) fn all(&self) -> Vec<JobView> {
        let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.iter().rev().map(|(j, _)| j.view()).collect()
    }

    /// The console stops: every running job is cancelled (it rolls back at
    /// its next safe point), and waited for up to `wait`.
    pub(crate) fn stop_all(&self, wait: std::time::Duration) {
        let running: Vec<Arc<Job>> = {
            let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
            jobs.iter()
                .filter(|(j, _)| j.is_running())
                .map(|(j, _)| j.clone())
                .collect()
        };
        running.iter().for_each(|j| j.cancel());
        let deadline = Instant::now() + wait;
        while running.iter().any(|j| j.is_running()) && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

fn forget_old(jobs: &mut VecDeque<(Arc<Job>, bool)>) {
    while jobs.len() > KEPT_JOBS {
        match jobs.iter().position(|(j, _)| !j.is_running()) {
            Some(i) => {
                jobs.remove(i);
            }
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Event, emit};

    /// A job of `kind` whose operation tells `events`, seen once it ended.
    fn view_after(kind: &'static str, events: Vec<Event>) -> JobView {
        let spec = Spec {
            kind,
            title: "t".into(),
            database: "db".into(),
            changes: kind == "import",
            cleanup: vec![],
            aliases: vec![],
        };
        let job = Jobs::default()
            .start(spec, move || {
                events.into_iter().for_each(emit);
                Ok(Finished::of(&()))
            })
            .unwrap();
        while job.is_running() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        job.view()
    }

    #[test]
    fn each_phase_counts_its_own_rows() {
        let view = view_after(
            "import",
            vec![
                Event::Started {
                    verb: "backing up",
                    total: 10,
                },
                Event::Advanced { rows: 10 },
                Event::Started {
                    verb: "importing",
                    total: 5,
                },
                Event::Advanced { rows: 3 },
            ],
        );
        assert_eq!(view.phase.as_deref(), Some("importing"));
        assert_eq!((view.rows_done, view.rows_total), (3, 5));
    }

    #[test]
    fn a_table_counts_its_own_rows_from_where_it_started() {
        let table = |name: &str, rows| Event::Table {
            name: name.into(),
            rows: Some(rows),
        };
        let view = view_after(
            "export",
            vec![
                Event::Started {
                    verb: "exporting",
                    total: 10,
                },
                table("a", 4),
                Event::Advanced { rows: 4 },
                table("b", 6),
                Event::Advanced { rows: 2 },
            ],
        );
        assert_eq!(view.table.as_deref(), Some("b"));
        assert_eq!(
            (view.table_rows_done, view.table_rows_total),
            (Some(2), Some(6))
        );
        // A finished job has no time left.
        assert_eq!(view.table_eta_seconds, None);
    }
}
