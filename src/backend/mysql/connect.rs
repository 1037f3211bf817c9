//! Reaching a MySQL or MariaDB server: the URL turned into the driver's
//! options (TLS switches included), the session every read and write
//! relies on, and the URL's secrets masked in every message.

use ::mysql::prelude::Queryable;
use ::mysql::{Conn, Opts, OptsBuilder, SslOpts};

use super::Mysql;
use crate::backend::DbUrl;
use crate::error::{EngineError, Error, Result};

/// Prepared statements the driver keeps open per connection.
const STATEMENT_CACHE: usize = 8;

const SQL_MODE: &str = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION";

/// Every session's settings: UTF-8, UTC, a strict `sql_mode`.
fn session_setup() -> Vec<String> {
    vec![
        "SET NAMES utf8mb4".to_string(),
        "SET time_zone = '+00:00'".to_string(),
        format!("SET SESSION sql_mode = '{SQL_MODE}'"),
    ]
}

/// What the server says of itself at connect.
pub(super) struct Server {
    pub(super) version: String,
    pub(super) packet: u64,
    pub(super) local_infile: Option<u64>,
    /// The session as configured, to put back after each schema script.
    pub(super) restore_session: Vec<String>,
}

/// Connects to the server `url` names and configures the session.
pub(super) fn connect(url: &DbUrl, secrets: &[String]) -> Result<(Conn, Server)> {
    let scrub = |e: &dyn std::fmt::Display| scrub(&e.to_string(), secrets);
    let opts = driver_opts(url, secrets)?;
    let mut conn =
        Conn::new(opts).map_err(|e| Error::db(format!("cannot connect to {url}"), scrub(&e)))?;
    let mut setup = session_setup();
    setup.extend([
        // Exports stream to files that may be slow to write.
        "SET SESSION net_write_timeout = 3600".to_string(),
        "SET SESSION net_read_timeout = 3600".to_string(),
    ]);
    for sql in &setup {
        conn.query_drop(sql)
            .map_err(|e| Error::db(format!("cannot configure {url}"), scrub(&e)))?;
    }
    let (version, packet, local_infile): (String, u64, Option<u64>) = conn
        .query_first("SELECT VERSION(), @@max_allowed_packet, @@local_infile")
        .map_err(|e| Error::db(format!("cannot configure {url}"), scrub(&e)))?
        .unwrap_or_default();
    // The checks a dump switches off, as the server set them.
    let (fk, unique, notes): (u8, u8, u8) = conn
        .query_first("SELECT @@foreign_key_checks, @@unique_checks, @@sql_notes")
        .map_err(|e| Error::db(format!("cannot configure {url}"), scrub(&e)))?
        .unwrap_or((1, 1, 1));
    let mut restore_session = session_setup();
    restore_session.push(format!(
        "SET SESSION foreign_key_checks = {fk}, unique_checks = {unique}, sql_notes = {notes}"
    ));
    Ok((
        conn,
        Server {
            version,
            packet,
            local_infile,
            restore_session,
        },
    ))
}

impl Mysql {
    /// A database error with the driver's message, secrets masked.
    pub(super) fn err(&self, context: impl Into<String>, e: impl std::fmt::Display) -> Error {
        Error::db(context, scrub(&e.to_string(), &self.secrets))
    }
}

/// Parameter bytes allowed per INSERT: half the packet limit, leaving room
/// for the statement's own overhead.
pub(super) fn batch_bytes(max_allowed_packet: u64) -> usize {
    let packet = if max_allowed_packet == 0 {
        4 << 20
    } else {
        max_allowed_packet as usize
    };
    (packet / 2).clamp(16 << 10, 64 << 20)
}

/// The server's own words: `ERROR 4025 (23000): …` without the driver's
/// `MySqlError { … }` around them.
pub(super) fn server_message(e: &::mysql::Error) -> String {
    match e {
        ::mysql::Error::MySqlError(m) => format!("ERROR {} ({}): {}", m.code, m.state, m.message),
        other => other.to_string(),
    }
}

/// The driver's options for a URL: `mariadb://` becomes `mysql://`, and the
/// TLS switches the driver does not know (`require_ssl`, `ssl-mode`) are
/// applied here.
fn driver_opts(url: &DbUrl, secrets: &[String]) -> Result<Opts> {
    let raw = url.expose();
    let rest = raw.split_once("://").map_or(raw, |(_, r)| r);
    let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut kept = Vec::new();
    let mut tls: Option<&'static str> = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = v.to_ascii_lowercase();
        match k {
            "require_ssl" | "ssl" => tls = Some(tls_switch(url, k, &v)?),
            "ssl-mode" | "ssl_mode" | "sslmode" => tls = Some(tls_mode(url, k, v)?),
            _ => kept.push(pair),
        }
    }
    let mut driver_url = format!("mysql://{base}");
    if !kept.is_empty() {
        driver_url.push('?');
        driver_url.push_str(&kept.join("&"));
    }
    let opts = Opts::from_url(&driver_url).map_err(|e| EngineError::BadMysqlUrl {
        url: url.to_string(),
        reason: scrub(&e.to_string(), secrets),
    })?;
    let Some(mode) = tls else {
        return Ok(opts);
    };
    let ssl = opts.get_ssl_opts().cloned().unwrap_or_default();
    let ssl = match mode {
        "disabled" => None,
        "required" => Some(
            ssl.with_danger_accept_invalid_certs(true)
                .with_danger_skip_domain_validation(true),
        ),
        "verify_ca" => Some(ssl.with_danger_skip_domain_validation(true)),
        _ => Some(ssl),
    };
    Ok(OptsBuilder::from_opts(opts)
        .ssl_opts(ssl.map(|s: SslOpts| s))
        .stmt_cache_size(STATEMENT_CACHE)
        .into())
}

/// The TLS mode a `require_ssl` or `ssl` switch (`value` lowercased) asks for.
fn tls_switch(url: &DbUrl, key: &str, value: &str) -> Result<&'static str> {
    match value {
        "true" | "1" | "yes" => Ok("verify_identity"),
        "false" | "0" | "no" => Ok("disabled"),
        _ => Err(EngineError::BadTlsSwitch {
            url: url.to_string(),
            key: key.to_string(),
        }
        .into()),
    }
}

/// The TLS mode an `ssl-mode` (`value` lowercased) names.
fn tls_mode(url: &DbUrl, key: &str, value: String) -> Result<&'static str> {
    match value.as_str() {
        "disabled" | "disable" => Ok("disabled"),
        "required" | "require" => Ok("required"),
        "verify_ca" | "verify-ca" => Ok("verify_ca"),
        "verify_identity" | "verify-full" => Ok("verify_identity"),
        _ => Err(EngineError::BadTlsMode {
            url: url.to_string(),
            key: key.to_string(),
            value,
        }
        .into()),
    }
}

/// The password of a URL (as written and percent-decoded) and any
/// password-like query parameters, to mask in messages.
pub(super) fn url_secrets(raw: &str) -> Vec<String> {
    let rest = raw.split_once("://").map_or(raw, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let mut out = Vec::new();
    if let Some((userinfo, _)) = authority.rsplit_once('@')
        && let Some((_, pass)) = userinfo.split_once(':')
    {
        out.push(pass.to_string());
        out.push(percent_decode(pass));
    }
    if let Some((_, query)) = rest.split_once('?') {
        for pair in query.split('&') {
            if let Some((k, v)) = pair.split_once('=')
                && k.contains("pass")
            {
                out.push(v.to_string());
                out.push(percent_decode(v));
            }
        }
    }
    out.retain(|s| !s.is_empty());
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
            if let Ok(x) = u8::from_str_radix(hex, 16) {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A message with every secret replaced by `***`.
pub(super) fn scrub(msg: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .fold(msg.to_string(), |m, s| m.replace(s.as_str(), "***"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_found_and_scrubbed() {
        let s = url_secrets("mysql://app:s3%63ret@db:3306/x?pkcs12_pass=zzz");
        assert!(s.contains(&"s3cret".to_string()), "{s:?}");
        assert!(s.contains(&"zzz".to_string()));
        assert_eq!(scrub("bad s3cret here", &s), "bad *** here");
        assert!(url_secrets("mysql://app@db/x").is_empty());
    }

    #[test]
    fn urls_become_driver_options() {
        let url = |raw: &str| DbUrl::parse(raw, std::path::Path::new(".")).unwrap();
        let opts = |raw: &str| driver_opts(&url(raw), &[]).unwrap();
        let o = opts("mariadb://app:pw@db:3307/tiku?socket=/run/mysqld/mysqld.sock");
        assert_eq!(o.get_tcp_port(), 3307);
        assert_eq!(o.get_db_name(), Some("tiku"));
        assert_eq!(o.get_socket(), Some("/run/mysqld/mysqld.sock"));
        assert!(o.get_ssl_opts().is_none());
        let ssl = opts("mysql://app@db/x?require_ssl=true");
        assert!(
            ssl.get_ssl_opts()
                .is_some_and(|s| !s.accept_invalid_certs())
        );
        let required = opts("mysql://app@db/x?ssl-mode=REQUIRED");
        assert!(
            required
                .get_ssl_opts()
                .is_some_and(|s| s.accept_invalid_certs() && s.skip_domain_validation())
        );
        assert!(
            opts("mysql://app@db/x?require_ssl=true&ssl-mode=disabled")
                .get_ssl_opts()
                .is_none()
        );
        let bad = driver_opts(&url("mysql://app:s3cret@db/x?nope=1"), &["s3cret".into()]);
        let msg = bad.err().unwrap().to_string();
        assert!(msg.contains("nope") && !msg.contains("s3cret"), "{msg}");
    }

    #[test]
    fn bad_tls_options_are_bad_usage_with_help() {
        let url = |raw: &str| DbUrl::parse(raw, std::path::Path::new(".")).unwrap();
        let err = |raw: &str| driver_opts(&url(raw), &[]).err().unwrap();
        let help = "\n  = help: use require_ssl=true or ssl-mode=disabled|required|verify_ca|verify_identity";
        let e = err("mysql://app:pw@db/x?ssl=maybe");
        assert_eq!(
            e.to_string(),
            format!("mysql://app:***@db/x?ssl=maybe: `ssl` must be true or false{help}")
        );
        assert_eq!(e.exit_code(), crate::error::exit::USAGE);
        let e = err("mysql://app@db/x?ssl-mode=Loose");
        assert_eq!(
            e.to_string(),
            format!("mysql://app@db/x?ssl-mode=Loose: `ssl-mode=loose` is not a TLS mode{help}")
        );
    }
}
