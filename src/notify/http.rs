//! One webhook call: a JSON POST, bounded in time (connection included)
//! and in what is read back; redirects are not followed (a webhook that
//! moved is a failure to fix, and a redirect would carry the body
//! elsewhere). Chinese platforms answer HTTP 200 with an error code in the
//! body, which is read as the failure it is.

use std::time::Duration;

use serde_json::Value;

use super::Format;

/// The most of a reply that is read: enough for an error message.
const REPLY_LIMIT: u64 = 64 * 1024;

/// Why a webhook was not told.
#[derive(Debug, thiserror::Error)]
pub(super) enum Failure {
    #[error("no answer within {0} s")]
    TimedOut(u64),
    #[error("{0}")]
    Unreachable(String),
    #[error("HTTP {status}{}", reply_tail(.reply))]
    Status { status: u16, reply: String },
    #[error("the platform refused the message: {code} {message}")]
    Refused { code: i64, message: String },
    #[error("the call crashed")]
    Crashed,
}

fn reply_tail(reply: &str) -> String {
    match reply.trim() {
        "" => String::new(),
        r => format!(": {}", r.chars().take(200).collect::<String>()),
    }
}

pub(super) fn post(
    url: &str,
    body: &Value,
    timeout: Duration,
    format: Format,
) -> Result<(), Failure> {
    let agent = agent(timeout);
    let sent = agent
        .post(url)
        .header("Content-Type", "application/json; charset=utf-8")
        .send(body.to_string());
    let mut response = sent.map_err(|e| failure(e, timeout))?;
    let status = response.status().as_u16();
    let reply = response
        .body_mut()
        .with_config()
        .limit(REPLY_LIMIT)
        .read_to_string()
        .unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(Failure::Status { status, reply });
    }
    match format {
        Format::Dingtalk | Format::Feishu | Format::Wecom => app_error(&reply),
        Format::Json | Format::Slack => Ok(()),
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
    let tls = TlsConfig::builder()
        .provider(TlsProvider::NativeTls)
        .root_certs(RootCerts::PlatformVerifier)
        .build();
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .tls_config(tls)
        .user_agent(concat!("migplan/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

fn failure(e: ureq::Error, timeout: Duration) -> Failure {
    match e {
        ureq::Error::Timeout(_) => Failure::TimedOut(timeout.as_secs()),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            Failure::TimedOut(timeout.as_secs())
        }
        other => Failure::Unreachable(other.to_string()),
    }
}

/// DingTalk and WeCom answer `{"errcode": N, "errmsg": …}`, Feishu
/// `{"code": N, "msg": …}` (older bots `StatusCode`); 0 is success.
fn app_error(reply: &str) -> Result<(), Failure> {
    let Ok(Value::Object(o)) = serde_json::from_str::<Value>(reply) else {
        return Ok(());
    };
    for (code, message) in [
        ("errcode", "errmsg"),
        ("code", "msg"),
        ("StatusCode", "StatusMessage"),
    ] {
        if let Some(n) = o.get(code).and_then(Value::as_i64).filter(|n| *n != 0) {
            let message = o.get(message).and_then(Value::as_str).unwrap_or_default();
            return Err(Failure::Refused {
                code: n,
                message: message.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_error_codes_are_failures() {
        assert!(app_error(r#"{"errcode":0,"errmsg":"ok"}"#).is_ok());
        assert!(app_error(r#"{"code":0,"msg":"success"}"#).is_ok());
        assert!(app_error("ok").is_ok());
        let e = app_error(r#"{"errcode":310000,"errmsg":"sign not match"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the platform refused the message: 310000 sign not match"
        );
        let e = app_error(r#"{"code":19021,"msg":"sign match fail"}"#).unwrap_err();
        assert!(e.to_string().contains("19021 sign match fail"), "{e}");
    }
}
