//! `[[notify]]`: webhooks told when a run of record ends.
//!
//! The plan lists the webhooks ([`Webhook`]); the operations hand over the
//! run's [`Summary`] once its end is in the history and the run lock is let
//! go, so a slow webhook holds up no other run. Each webhook that listens
//! to the run's ending ([`RunEnd`]) is posted the body of its [`Format`]
//! (`bodies.rs`), signed where the platform asks (`sign.rs`), over a
//! bounded HTTP call (`http.rs`). The webhooks are called side by side, so
//! a hanging one costs its own timeout once, whatever their number.
//!
//! A notification is a courtesy, never part of the run: a webhook that
//! fails is a warning, and the run's outcome and exit code stay its own.
//! Every printed form of a webhook URL passes through `redact`, which
//! knows where webhooks keep their secrets.

mod bodies;
mod http;
mod sign;
mod summary;

pub use summary::Summary;

use std::time::Duration;

use serde::Serialize;

/// How a run of record ended, as a webhook's `on` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunEnd {
    Succeeded,
    Failed,
    /// A rollback that put the database back (the rollback's own run
    /// succeeded; the run it undid is now `rolled back`).
    RolledBack,
}

impl RunEnd {
    /// The names a plan writes, in the order the docs list them.
    pub const NAMES: [(&'static str, RunEnd); 3] = [
        ("succeeded", RunEnd::Succeeded),
        ("failed", RunEnd::Failed),
        ("rolled_back", RunEnd::RolledBack),
    ];

    pub fn name(self) -> &'static str {
        match self {
            RunEnd::Succeeded => "succeeded",
            RunEnd::Failed => "failed",
            RunEnd::RolledBack => "rolled_back",
        }
    }
}

/// The body a webhook is posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// migplan's own object, versioned (docs/plans.md, `[[notify]]`).
    Json,
    Slack,
    /// DingTalk (钉钉) custom robots.
    Dingtalk,
    /// Feishu (飞书) and Lark custom bots.
    Feishu,
    /// WeCom (企业微信) group robots.
    Wecom,
}

impl Format {
    pub const NAMES: [(&'static str, Format); 5] = [
        ("json", Format::Json),
        ("slack", Format::Slack),
        ("dingtalk", Format::Dingtalk),
        ("feishu", Format::Feishu),
        ("wecom", Format::Wecom),
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("json", |(n, _)| n)
    }

    /// Whether the platform signs messages with a shared secret (`secret`).
    pub fn signs(self) -> bool {
        matches!(self, Format::Dingtalk | Format::Feishu)
    }
}

/// Seconds a webhook may take, connection included, unless `timeout` says.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One `[[notify]]` table, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The URL as written after `${VAR}` substitution: only for the call.
    pub url: String,
    pub format: Format,
    /// The endings it is told of (default: all of them).
    pub on: Vec<RunEnd>,
    /// DingTalk's or Feishu's signing secret.
    pub secret: Option<String>,
    /// The whole call, connection included.
    pub timeout: Duration,
}

impl Webhook {
    /// The URL with its secrets masked, safe to print.
    pub fn printable(&self) -> String {
        crate::redact::redact(&self.url).into_owned()
    }

    fn listens_to(&self, end: RunEnd) -> bool {
        self.on.contains(&end)
    }
}

// Plans are printed and serialised: neither form shows a secret.
impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.printable())
            .field("format", &self.format)
            .field("on", &self.on)
            .field("secret", &self.secret.as_ref().map(|_| crate::redact::MASK))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Serialize for Webhook {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            url: String,
            format: Format,
            on: &'a [RunEnd],
            secret: Option<&'static str>,
            timeout_secs: u64,
        }
        Shown {
            url: self.printable(),
            format: self.format,
            on: &self.on,
            secret: self.secret.as_ref().map(|_| crate::redact::MASK),
            timeout_secs: self.timeout.as_secs(),
        }
        .serialize(s)
    }
}

/// Tells every webhook listening to `summary`'s ending, side by side; each
/// failure becomes a warning on the calling thread (where the operation's
/// listener is installed), each success a step.
pub fn tell(hooks: &[Webhook], summary: &Summary) {
    let listening: Vec<&Webhook> = hooks.iter().filter(|h| h.listens_to(summary.end)).collect();
    if listening.is_empty() {
        return;
    }
    let results: Vec<(&Webhook, Result<(), http::Failure>)> = std::thread::scope(|s| {
        let calls: Vec<_> = listening
            .iter()
            .map(|h| (*h, s.spawn(move || post(h, summary))))
            .collect();
        calls
            .into_iter()
            .map(|(h, call)| (h, call.join().unwrap_or(Err(http::Failure::Crashed))))
            .collect()
    });
    for (hook, result) in results {
        let url = hook.printable();
        match result {
            Ok(()) => crate::events::step(format!("notified {url} ({})", hook.format.name())),
            Err(e) => crate::events::warning(format!(
                "notification to {url} failed: {}",
                scrub(&e.to_string(), hook)
            )),
        }
    }
}

/// The body for `hook`, signed where it must be, posted.
fn post(hook: &Webhook, summary: &Summary) -> Result<(), http::Failure> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut body = bodies::body(hook.format, summary);
    let mut url = hook.url.clone();
    if let Some(secret) = &hook.secret {
        match hook.format {
            Format::Dingtalk => url = sign::dingtalk_url(&url, secret, now.as_millis()),
            Format::Feishu => sign::feishu_body(&mut body, secret, now.as_secs()),
            _ => {}
        }
    }
    http::post(&url, &body, hook.timeout, hook.format)
}

/// A failure's text without the webhook's secrets, whatever the HTTP
/// client quoted of the URL (the URL, masked, is said once, before it).
fn scrub(text: &str, hook: &Webhook) -> String {
    let mut out = crate::redact::redact(text).into_owned();
    if out.contains(&hook.url) {
        out = out.replace(&hook.url, &hook.printable());
    }
    if let Some(secret) = hook.secret.as_deref().filter(|s| !s.is_empty()) {
        out = out.replace(secret, crate::redact::MASK);
    }
    out
}

#[cfg(test)]
mod tests;
