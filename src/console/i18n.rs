//! The console's two languages: English and 简体中文. The reader's choice
//! (the switch on every page, kept in a cookie) wins over the browser's
//! Accept-Language. Every string of the pages is here, in both languages.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

/// The cookie the language switch sets.
pub(crate) const COOKIE: &str = "migplan_lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    pub fn from_code(code: &str) -> Lang {
        match code.trim().to_ascii_lowercase() {
            c if c.starts_with("zh") => Lang::Zh,
            _ => Lang::En,
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }

    /// The first language of `Accept-Language` we speak, by quality.
    fn from_accept(value: &str) -> Option<Lang> {
        let mut best: Option<(f32, Lang)> = None;
        for part in value.split(',') {
            let mut bits = part.split(';');
            let tag = bits.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = bits
                .find_map(|b| {
                    b.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = match tag {
                t if t.starts_with("zh") => Lang::Zh,
                t if t.starts_with("en") => Lang::En,
                _ => continue,
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Lang, Self::Rejection> {
        let cookie = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE)
            .map(|(_, v)| Lang::from_code(v));
        let accept = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Lang::from_accept);
        Ok(cookie.or(accept).unwrap_or_default())
    }
}

/// The string `key` in `lang`; the key itself when missing (a test keeps
/// every key the templates use in the table).
pub fn text(lang: Lang, key: &str) -> &str {
    match STRINGS.binary_search_by(|(k, _, _)| k.cmp(&key)) {
        Ok(i) => match lang {
            Lang::En => STRINGS[i].1,
            Lang::Zh => STRINGS[i].2,
        },
        Err(_) => key,
    }
}

/// (key, English, 简体中文), sorted by key.
pub(crate) const STRINGS: &[(&str, &str, &str)] = &include!("strings.rs");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_we_speak() {
        assert_eq!(Lang::from_accept("zh-CN,zh;q=0.9,en;q=0.8"), Some(Lang::Zh));
        assert_eq!(Lang::from_accept("fr-FR,en;q=0.5,zh;q=0.4"), Some(Lang::En));
        assert_eq!(Lang::from_accept("fr-FR"), None);
    }

    #[test]
    fn the_strings_are_sorted_unique_and_complete() {
        for w in STRINGS.windows(2) {
            assert!(
                w[0].0 < w[1].0,
                "{} before {}: keep STRINGS sorted, once each",
                w[0].0,
                w[1].0
            );
        }
        for (k, en, zh) in STRINGS {
            assert!(!en.is_empty() && !zh.is_empty(), "{k} lacks a language");
        }
    }

    #[test]
    fn every_key_the_templates_use_is_translated() {
        let mut missing = vec![];
        for (name, source) in super::super::view::TEMPLATES {
            let pieces = source.split("t(\"").skip(1).map(|p| (p, '"'));
            let quoted = source.split("t('").skip(1).map(|p| (p, '\''));
            for (piece, quote) in pieces.chain(quoted) {
                let key = piece.split(quote).next().unwrap_or("");
                // `t("status." ~ s)`: the prefix's keys are checked below.
                if !key.ends_with('.') && STRINGS.binary_search_by(|(k, _, _)| k.cmp(&key)).is_err()
                {
                    missing.push(format!("{name}: {key}"));
                }
            }
        }
        let statuses = [
            "running",
            "succeeded",
            "failed",
            "cancelled",
            "interrupted",
            "rolled_back",
        ];
        let kinds = [
            "export", "import", "preview", "rollback", "schema", "backup", "verify",
        ];
        let backup_kinds = ["full", "incremental", "modules"];
        let dynamic = statuses
            .iter()
            .map(|s| format!("status.{s}"))
            .chain(kinds.iter().map(|k| format!("kind.{k}")))
            .chain(backup_kinds.iter().map(|k| format!("backups.kind.{k}")))
            // The verbs progress reports (`data::progress::rows`).
            .chain(
                ["backup", "checking", "exporting", "finishing", "importing"]
                    .iter()
                    .map(|v| format!("phase.{v}")),
            )
            .chain(
                crate::ops::RowClass::NAMES
                    .iter()
                    .map(|(c, _)| format!("class.{c}")),
            )
            .chain(
                crate::policy::Conflict::NAMES
                    .iter()
                    .map(|(p, _)| format!("policy.{p}")),
            );
        for key in dynamic {
            if STRINGS
                .binary_search_by(|(k, _, _)| k.cmp(&key.as_str()))
                .is_err()
            {
                missing.push(key);
            }
        }
        assert!(missing.is_empty(), "untranslated: {missing:?}");
    }
}
