//! `[[notify]]` checked: an http(s) URL, a known format, known endings, a
//! secret only where the platform signs, a timeout within reason. Nothing
//! here calls the webhook: `validate` changes nothing and tells no one.

use std::time::Duration;

use toml::Spanned;

use super::Checker;
use crate::notify::{DEFAULT_TIMEOUT, Format, RunEnd, Webhook};
use crate::plan::raw::{RawNotify, Str};

/// The longest a webhook may be given, in seconds: a run waits for it.
const MAX_TIMEOUT_SECS: i64 = 300;

impl Checker<'_> {
    pub(super) fn notify(&mut self, raw: &[RawNotify]) -> Vec<Webhook> {
        raw.iter().filter_map(|n| self.webhook(n)).collect()
    }

    fn webhook(&mut self, raw: &RawNotify) -> Option<Webhook> {
        let format = self.choice(&raw.format, "notify format", &Format::NAMES, Format::Json);
        let on = self.endings(&raw.on);
        let secret = self.secret(raw, format);
        let timeout = self.timeout(&raw.timeout);
        let url = self.webhook_url(&raw.url)?;
        Some(Webhook {
            url,
            format,
            on,
            secret,
            timeout,
        })
    }

    /// An `http://` or `https://` URL with a host. The message never
    /// quotes the URL: its secret is in it.
    fn webhook_url(&mut self, raw: &Str) -> Option<String> {
        let url = self.text(raw)?;
        let rest = ["http://", "https://"].iter().find_map(|scheme| {
            url.get(..scheme.len())
                .filter(|s| s.eq_ignore_ascii_case(scheme))
                .map(|_| &url[scheme.len()..])
        });
        let problem = match rest {
            None if url.trim().is_empty() => "is empty".to_string(),
            None => match url.split_once("://") {
                Some((scheme, _)) => format!("has the scheme `{scheme}`"),
                None => "is not a URL".to_string(),
            },
            Some(rest) if rest.split(['/', '?', '#']).next().unwrap_or("").is_empty() => {
                "names no host".to_string()
            }
            Some(_) => return Some(url),
        };
        let help = "a webhook is called over HTTP: write `url = \"https://…\"`, the secret kept in the environment (`url = \"${SLACK_WEBHOOK}\"`)";
        self.report(
            raw.span(),
            format!("`[[notify]] url` {problem}: only http:// and https:// webhooks are called"),
            help,
        );
        None
    }

    /// `on`: every ending when absent; a list naming none is a mistake.
    fn endings(&mut self, raw: &Option<Spanned<Vec<Str>>>) -> Vec<RunEnd> {
        let Some(list) = raw else {
            return RunEnd::NAMES.iter().map(|(_, e)| *e).collect();
        };
        if list.get_ref().is_empty() {
            let help = "list some of `succeeded`, `failed`, `rolled_back`, or remove `on` to be told of every run";
            self.report(
                list.span(),
                "`[[notify]] on` is empty: the webhook would never be called",
                help,
            );
        }
        let mut on = Vec::new();
        for s in self.texts(list.get_ref()) {
            if let Some(end) = self.pick(&s, "run ending", &RunEnd::NAMES)
                && !on.contains(&end)
            {
                on.push(end);
            }
        }
        on
    }

    /// Only DingTalk and Feishu sign messages; a secret elsewhere would be
    /// silently unused.
    fn secret(&mut self, raw: &RawNotify, format: Format) -> Option<String> {
        let s = raw.secret.as_ref()?;
        let secret = self.text(s)?;
        if !format.signs() {
            let message = format!(
                "`[[notify]] secret` signs DingTalk and Feishu messages; format `{}` has no signature",
                format.name()
            );
            let help = "set `format = \"dingtalk\"` or `\"feishu\"`, or remove `secret` (WeCom and Slack keep their secret in the URL)";
            self.report(s.span(), message, help);
            return None;
        }
        if secret.is_empty() {
            let help = "give the robot's signing secret (`secret = \"${DINGTALK_SECRET}\"`), or remove the key";
            self.report(s.span(), "`[[notify]] secret` is empty", help);
            return None;
        }
        Some(secret)
    }

    fn timeout(&mut self, raw: &Option<Spanned<i64>>) -> Duration {
        let Some(raw) = raw else {
            return DEFAULT_TIMEOUT;
        };
        match *raw.get_ref() {
            n @ 1..=MAX_TIMEOUT_SECS => Duration::from_secs(n as u64),
            _ => {
                let message = format!(
                    "`[[notify]] timeout` must be between 1 and {MAX_TIMEOUT_SECS} seconds"
                );
                let help = format!(
                    "write e.g. `timeout = 5`, or remove the key for {} seconds",
                    DEFAULT_TIMEOUT.as_secs()
                );
                self.report(raw.span(), message, help);
                DEFAULT_TIMEOUT
            }
        }
    }
}
