//! Reaching a PostgreSQL server: the URL parsed, TLS as libpq does it,
//! the session every parser relies on set up, and driver errors turned
//! into readable messages with the password masked.

use postgres::config::SslMode;
use postgres::error::SqlState;
use postgres::{Client, Config, NoTls};

use super::Postgres;
use crate::backend::DbUrl;
use crate::error::{EngineError, Error, Result};

/// The session settings every output format the parser relies on needs.
const SESSION: &str = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET IntervalStyle = 'iso_8601'; \
     SET extra_float_digits = 3; SET client_encoding = 'UTF8'; SET bytea_output = 'hex';";

/// A connection to the server `url` names, and its password (masked out
/// of messages).
pub(super) fn client(url: &DbUrl) -> Result<(Client, Option<String>)> {
    let config: Config = url.expose().parse().map_err(|e: postgres::Error| {
        Error::from(EngineError::BadPostgresUrl {
            url: url.to_string(),
            reason: describe(&e),
        })
    })?;
    let secret = config
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let client = connect(&config).map_err(|e| match e {
        ConnectError::Pg(e) if e.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {
            let database = config
                .get_dbname()
                .or(config.get_user())
                .unwrap_or("?")
                .to_string();
            Error::from(EngineError::NoSuchDatabase {
                database,
                url: url.to_string(),
            })
        }
        ConnectError::Pg(e) => Error::db(
            format!("cannot connect to {url}"),
            scrub(&secret, describe(&e)),
        ),
        ConnectError::Tls(e) => Error::db(
            format!("cannot set up TLS for {url}"),
            scrub(&secret, e.to_string()),
        ),
    })?;
    Ok((client, secret))
}

impl Postgres {
    /// Sets up the session ([`SESSION`]) and learns the `search_path` to
    /// restore after scripts and the schema every table lives in.
    pub(super) fn set_up_session(&mut self, url: &DbUrl) -> Result<()> {
        self.client
            .batch_execute(SESSION)
            .map_err(|e| self.err(format!("cannot configure the session on {url}"), e))?;
        let search_path: String = self
            .client
            .query_one("SELECT current_setting('search_path')", &[])
            .and_then(|r| r.try_get(0))
            .map_err(|e| self.err(format!("reading the search path of {url}"), e))?;
        self.restore_session = format!(
            "{SESSION} SELECT pg_catalog.set_config('search_path', '{}', false);",
            search_path.replace('\'', "''")
        );
        let schema: Option<String> = self
            .client
            .query_one("SELECT current_schema()::text", &[])
            .and_then(|r| r.try_get(0))
            .map_err(|e| self.err(format!("reading the current schema of {url}"), e))?;
        self.schema = schema.ok_or_else(|| EngineError::NoCurrentSchema {
            url: url.to_string(),
        })?;
        Ok(())
    }

    pub(super) fn err(&self, context: impl Into<String>, e: postgres::Error) -> Error {
        Error::db(context, scrub(&self.secret, describe(&e)))
    }
}

/// A driver error as one readable message: the server's message with its
/// detail and hint, or the error and its causes.
pub(super) fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = db.message().to_string();
        if let Some(d) = db.detail() {
            s.push_str(&format!(" ({d})"));
        }
        if let Some(h) = db.hint() {
            s.push_str(&format!(" (hint: {h})"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    s
}

pub(super) fn scrub(secret: &Option<String>, msg: String) -> String {
    match secret {
        Some(p) if p.len() >= 3 && msg.contains(p.as_str()) => msg.replace(p.as_str(), "***"),
        _ => msg,
    }
}

/// Connects, with TLS unless `sslmode=disable`. As with libpq, `prefer`
/// and `require` encrypt without verifying the server's certificate, and
/// `prefer` falls back to a plain connection when TLS cannot be set up.
fn connect(config: &Config) -> std::result::Result<Client, ConnectError> {
    let mode = config.get_ssl_mode();
    if mode == SslMode::Disable {
        return config.connect(NoTls).map_err(ConnectError::Pg);
    }
    let tls = match super::tls::unverified() {
        Ok(t) => t,
        Err(_) if mode == SslMode::Prefer => {
            return config.connect(NoTls).map_err(ConnectError::Pg);
        }
        Err(e) => return Err(ConnectError::Tls(e)),
    };
    match config.connect(tls) {
        Ok(c) => Ok(c),
        Err(e) if mode == SslMode::Prefer && e.to_string().contains("TLS") => {
            config.connect(NoTls).map_err(|_| ConnectError::Pg(e))
        }
        Err(e) => Err(ConnectError::Pg(e)),
    }
}

enum ConnectError {
    Pg(postgres::Error),
    Tls(openssl::error::ErrorStack),
}
