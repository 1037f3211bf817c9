//! Database URLs: which engine, where, and a printable form that never shows
//! the password.

use std::path::{Path, PathBuf};

use crate::error::{EngineError, Error, Result};

/// The database engines migplan speaks to. Named here, beside the URLs
/// that choose them, so that plans and backends share it without importing
/// each other; only `backend/` decides anything by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
    Mysql,
}

impl Engine {
    /// Every engine, for whoever lists them (engine folders of scripts,
    /// the engines a backup may come from).
    pub const ALL: [Engine; 3] = [Engine::Sqlite, Engine::Postgres, Engine::Mysql];

    /// Every URL scheme that names an engine.
    pub const SCHEMES: &[&str] = &["postgres", "postgresql", "mysql", "mariadb", "sqlite"];

    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl {
    raw: String,
    engine: Engine,
}

impl DbUrl {
    /// Parses a URL; a relative SQLite path is resolved against `base`.
    pub fn parse(raw: &str, base: &Path) -> Result<Self> {
        let (scheme, rest) = raw.split_once("://").ok_or_else(|| bad_url(raw))?;
        let engine = match scheme {
            "sqlite" => Engine::Sqlite,
            "postgres" | "postgresql" => Engine::Postgres,
            "mysql" | "mariadb" => Engine::Mysql,
            _ => return Err(bad_url(raw)),
        };
        let raw = match engine {
            Engine::Sqlite if rest.is_empty() => return Err(bad_url(raw)),
            Engine::Sqlite if rest != ":memory:" && !Path::new(rest).is_absolute() => {
                format!("sqlite://{}", crate::paths::join(base, rest).display())
            }
            _ => raw.to_string(),
        };
        Ok(DbUrl { raw, engine })
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The URL with any password replaced by `***`, safe to print.
    pub fn redacted(&self) -> String {
        redact(&self.raw)
    }

    /// The full URL, password included: only for handing to a driver.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// For `sqlite://` URLs: the database file (`None` for `:memory:`).
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self.raw.strip_prefix("sqlite://")?;
        let rest = rest.split('?').next().unwrap_or(rest);
        (rest != ":memory:").then(|| PathBuf::from(rest))
    }
}

// Debug output ends up in messages too: it shows the password masked.
impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbUrl")
            .field("raw", &self.redacted())
            .field("engine", &self.engine)
            .finish()
    }
}

impl std::fmt::Display for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

fn bad_url(raw: &str) -> Error {
    EngineError::BadUrl { url: redact(raw) }.into()
}

/// Masks the password of every URL-like word of `raw` (see [`crate::redact`]).
pub fn redact(raw: &str) -> String {
    crate::redact::redact(raw).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_password() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/tiku"),
            "postgres://app:***@db:5432/tiku"
        );
        assert_eq!(redact("postgres://app@db/tiku"), "postgres://app@db/tiku");
        assert_eq!(
            redact("mysql://app@db/tiku?password=s3cret&socket=/run/x&pkcs12_pass=p"),
            "mysql://app@db/tiku?password=***&socket=/run/x&pkcs12_pass=***"
        );
    }

    #[test]
    fn debug_and_display_mask_the_password() {
        let u = DbUrl::parse("postgres://u:p@ss/w#rd@h/db", Path::new(".")).unwrap();
        assert_eq!(u.to_string(), "postgres://u:***@h/db");
        assert!(!format!("{u:?}").contains("ss/w"), "{u:?}");
        assert_eq!(u.expose(), "postgres://u:p@ss/w#rd@h/db");
    }

    #[test]
    fn relative_sqlite_path_resolves_against_base() {
        let u = DbUrl::parse("sqlite://demo/tiku.db", Path::new("/srv/plans")).unwrap();
        assert_eq!(
            u.sqlite_path().unwrap(),
            Path::new("/srv/plans/demo/tiku.db")
        );
    }

    #[test]
    fn unknown_scheme_is_an_error() {
        assert!(DbUrl::parse("oracle://x", Path::new(".")).is_err());
    }
}
