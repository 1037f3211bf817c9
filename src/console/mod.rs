//! `migplan serve`: the web console, a second front door beside the CLI.
//!
//! Pages are rendered on the server (minijinja templates compiled into the
//! binary, htmx vendored beside them: no CDN, no Node build). Every page
//! reads through the same operations as the CLI (`crate::ops`); every
//! change runs as a background [`jobs::Job`] on a thread of its own, inside
//! an `events::scope` whose listener keeps the job's progress and log for
//! the browser (server-sent events) and whose `Cancel` is the page's Cancel
//! button. The history row each operation writes stays the source of
//! truth; the job only watches the work.
//!
//! The console never prints: what the person starting it must see (the URL
//! with its token) goes to the caller through `ready`.

mod assets;
mod download;
mod i18n;
mod jobs;
mod pages;
mod security;
mod target;
mod uploads;
mod view;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;

use crate::error::{ConsoleError, Result};
use crate::events::Cancel;

pub use security::generate_token;
pub use target::Target;

/// How `migplan serve` was asked to run.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The plan whose database the console manages (its folder's other
    /// plans are offered by the export wizard).
    pub plan: Option<PathBuf>,
    /// A database URL, instead of a plan's.
    pub db: Option<String>,
    pub bind: SocketAddr,
    /// More folders whose backups the backups page lists.
    pub backups: Vec<PathBuf>,
    /// The secret a browser exchanges once for its session cookie.
    pub token: String,
    /// Hide and refuse every change.
    pub read_only: bool,
    /// The largest upload accepted, in bytes.
    pub upload_limit: u64,
    /// Host names accepted in the `Host` header besides the bind address.
    pub allow_hosts: Vec<String>,
    /// Where uploads wait for their job (default: a private temporary folder).
    pub upload_dir: Option<PathBuf>,
}

/// The console, listening.
#[derive(Debug, Clone)]
pub struct Started {
    /// The address bound (the port chosen when 0 was asked for).
    pub addr: SocketAddr,
    /// The URL to open: the token once, exchanged for a cookie.
    pub url: String,
}

/// The default upload cap: 2 GiB.
pub const DEFAULT_UPLOAD_LIMIT: u64 = 2 << 30;

/// Serves the console until `stop` is cancelled (Ctrl-C); `ready` hears
/// the address and URL once the socket listens. Stopping cancels the
/// running jobs (each rolls back at its next safe point), waits for them,
/// and removes the uploads.
pub fn serve(opts: ServeOptions, stop: Cancel, ready: impl FnOnce(&Started)) -> Result<()> {
    security::check_bind(&opts)?;
    let target = Target::resolve(opts.plan.as_deref(), opts.db.as_deref(), &opts.backups)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ConsoleError::Stopped {
            cause: e.to_string(),
        })?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(opts.bind)
            .await
            .map_err(|e| ConsoleError::CannotListen {
                addr: opts.bind,
                cause: e.to_string(),
            })?;
        let addr = listener.local_addr().map_err(|e| ConsoleError::Stopped {
            cause: e.to_string(),
        })?;
        let state = AppState::start(opts, target, addr)?;
        let started = Started {
            addr,
            url: format!(
                "http://{}/?token={}",
                display_addr(addr),
                state.guard.token()
            ),
        };
        ready(&started);
        let jobs = state.clone();
        let stopping = async move {
            while !stop.is_cancelled() {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            // Jobs first: their event streams end when they do.
            tokio::task::spawn_blocking(move || jobs.jobs.stop_all(STOP_WAIT))
                .await
                .ok();
        };
        axum::serve(listener, router(state))
            .with_graceful_shutdown(stopping)
            .await
            .map_err(|e| {
                ConsoleError::Stopped {
                    cause: e.to_string(),
                }
                .into()
            })
    })
}

/// How long a stopping console waits for its jobs to roll back.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// `127.0.0.1:8080`, `[::1]:8080`, and `localhost` for an unspecified bind
/// would be wrong: the URL names the address bound.
fn display_addr(addr: SocketAddr) -> String {
    addr.to_string()
}

/// What every handler shares.
pub(crate) struct AppState {
    pub(crate) target: Target,
    pub(crate) guard: security::Guard,
    pub(crate) jobs: jobs::Jobs,
    pub(crate) uploads: uploads::Uploads,
    pub(crate) view: view::View,
    pub(crate) read_only: bool,
    pub(crate) upload_limit: u64,
}

pub(crate) type App = Arc<AppState>;

impl AppState {
    fn start(opts: ServeOptions, target: Target, addr: SocketAddr) -> Result<App> {
        Ok(Arc::new(AppState {
            guard: security::Guard::new(&opts, addr),
            uploads: uploads::Uploads::new(opts.upload_dir.clone())?,
            target,
            jobs: jobs::Jobs::default(),
            view: view::View::new(),
            read_only: opts.read_only,
            upload_limit: opts.upload_limit,
        }))
    }
}

fn router(app: App) -> Router {
    pages::routes(app.clone())
        .merge(assets::routes())
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            security::guard,
        ))
        .with_state(app)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Options as `migplan serve` defaults them.
    pub(crate) fn options() -> ServeOptions {
        ServeOptions {
            plan: None,
            db: None,
            bind: "127.0.0.1:0".parse().unwrap(),
            backups: vec![],
            token: generate_token(),
            read_only: false,
            upload_limit: DEFAULT_UPLOAD_LIMIT,
            allow_hosts: vec![],
            upload_dir: None,
        }
    }
}
