//! Passwords out of anything printed: one function finds the secrets of
//! every URL-like word in a text, well-formed or not, and masks them.
//!
//! A word runs to the next space, quote, backtick or angle bracket. Inside a
//! word, a URL starts at `scheme://`, or, for the database schemes migplan
//! knows, at the malformed `scheme:/`, `scheme//` and `scheme:`. Its user
//! information ends at the LAST `@` of the word, so a password holding an
//! unencoded `/`, `#`, `@` or `:` is masked whole (`postgres://u:p@ss/w#rd@h`
//! shows as `postgres://u:***@h`); the password is what follows the first `:`
//! of the user information. Query parameters whose name holds `pass`
//! (`?password=…`, `&sslpassword=…`) or names a secret (`access_token`,
//! `key`, `token`, `sign`, …), `password=…` words (libpq's key-value form),
//! and the secret path segment of a webhook URL (Slack's
//! `/services/T…/B…/SECRET`, Feishu's `/bot/v2/hook/SECRET`) are masked too. Erring on the side of masking: a word
//! holding two URLs may lose more than the password, never show it.

use std::borrow::Cow;
use std::ops::Range;

/// What a secret is replaced by.
pub const MASK: &str = "***";

/// Schemes whose malformed spellings (`scheme:/`, `scheme//`, `scheme:`)
/// still count as URLs; `scheme://` counts for any scheme.
const DB_SCHEMES: &[&str] = crate::url::Engine::SCHEMES;

/// `text` with every secret replaced by `***`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = secret_ranges(text);
    if secrets.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in secrets {
        out.push_str(&text[at..r.start]);
        out.push_str(MASK);
        at = r.end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// Where `offset` of `text` lands once `secrets` (from [`secret_ranges`])
/// are masked: inside a secret it lands at the mask's start. Lets a caret
/// keep pointing at the same text in a redacted line.
pub fn map_offset(secrets: &[Range<usize>], offset: usize) -> usize {
    let mut shift: isize = 0;
    for r in secrets {
        if offset < r.start {
            break;
        }
        if offset < r.end {
            return (r.start as isize + shift) as usize;
        }
        shift += MASK.len() as isize - r.len() as isize;
    }
    (offset as isize + shift) as usize
}

/// The byte ranges of every secret in `text`, in order, not overlapping.
pub fn secret_ranges(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (is_delimiter(c), start) {
            (true, Some(s)) => {
                word_secrets(text, s..i, &mut out);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    out
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, '`' | '"' | '\'' | '<' | '>')
}

/// The secrets of one word at `range` of `text`.
fn word_secrets(text: &str, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    let word = &text[range.clone()];
    let base = range.start;
    if let Some(secret) = age_secret_key(word) {
        out.push(base + secret.start..base + secret.end);
        return;
    }
    if let Some(secret) = key_value_password(word) {
        out.push(base + secret.start..base + secret.end);
        return;
    }
    let Some(after_scheme) = url_start(word) else {
        return;
    };
    // The host part starts after the last `@`: the user information before
    // it may hold any character.
    let host_from = match word[after_scheme..].rfind('@') {
        Some(at) => {
            let at = after_scheme + at;
            if let Some(colon) = word[after_scheme..at].find(':') {
                let pw = after_scheme + colon + 1..at;
                if !pw.is_empty() {
                    out.push(base + pw.start..base + pw.end);
                }
            }
            at + 1
        }
        None => after_scheme,
    };
    let path_end = word[host_from..]
        .find(['?', '#'])
        .map_or(word.len(), |i| host_from + i);
    if !names_a_file(&word[..after_scheme]) {
        path_secret(word, host_from..path_end, base, out);
    }
    if let Some(q) = word[host_from..].find('?') {
        query_secrets(word, host_from + q + 1, base, out);
    }
}

/// Whether the text before a URL's user information ends in `sqlite://` or
/// `file://`: a path of folders, whose words are never a webhook's secret.
/// Any other URL may be a webhook's (`https://`, or a mistyped `ftp://`).
fn names_a_file(scheme: &str) -> bool {
    let s = scheme.to_ascii_lowercase();
    s.ends_with("sqlite://") || s.ends_with("file://")
}

/// Webhook URLs whose path holds their secret: after the marker, the
/// segment at the index given (Slack's `/services/T…/B…/SECRET`,
/// `/workflows/T…/A…/ID/SECRET` and `/triggers/T…/ID/SECRET`, Feishu's and
/// Lark's `/open-apis/bot/v2/hook/SECRET`, Discord's `/webhooks/ID/SECRET`).
/// A shorter path loses its last segment: masking errs on the safe side.
const PATH_SECRETS: &[(&str, usize)] = &[
    ("/services/", 2),
    ("/workflows/", 3),
    ("/triggers/", 2),
    ("/hook/", 0),
    ("/webhooks/", 1),
];

/// Masks the secret segment of a webhook URL's path at `path` of `word`.
fn path_secret(word: &str, path: Range<usize>, base: usize, out: &mut Vec<Range<usize>>) {
    let text = &word[path.clone()];
    let Some((at, index)) = PATH_SECRETS
        .iter()
        .find_map(|(marker, index)| text.find(marker).map(|at| (at + marker.len(), *index)))
    else {
        return;
    };
    let mut segments = Vec::new();
    let mut start = at;
    for part in text[at..].split('/') {
        if !part.is_empty() {
            segments.push(start..start + part.len());
        }
        start += part.len() + 1;
    }
    if let Some(secret) = segments.get(index).or(segments.last()) {
        let from = base + path.start;
        out.push(from + secret.start..from + secret.end);
    }
}

/// Where the user information of the first URL in `word` starts (just after
/// `scheme://`, or a malformed separator of a database scheme).
fn url_start(word: &str) -> Option<usize> {
    let b = word.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let starts_scheme = b[i].is_ascii_alphabetic()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b"+.-".contains(&b[i - 1])));
        if starts_scheme {
            let end = i + b[i..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || b"+.-".contains(c))
                .count();
            let scheme = &word[i..end];
            let rest = &word[end..];
            if rest.starts_with("://") {
                return Some(end + 3);
            }
            if DB_SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
                for sep in [":/", "//", ":"] {
                    if rest.starts_with(sep) {
                        return Some(end + sep.len());
                    }
                }
            }
            i = end;
        } else {
            i += 1;
        }
    }
    None
}

/// The prefix of an age identity (a secret key) in any case; what
/// follows it, up to the end of its Bech32 run, is the secret.
const AGE_SECRET_PREFIX: &str = "AGE-SECRET-KEY-1";

/// An age secret key in `word`: its part after the prefix.
fn age_secret_key(word: &str) -> Option<Range<usize>> {
    let at = word.to_ascii_uppercase().find(AGE_SECRET_PREFIX)?;
    let start = at + AGE_SECRET_PREFIX.len();
    let len = word[start..]
        .bytes()
        .take_while(u8::is_ascii_alphanumeric)
        .count();
    (len > 0).then_some(start..start + len)
}

/// `password=…` (or `pass…=`, any case) as a whole word: its value.
fn key_value_password(word: &str) -> Option<Range<usize>> {
    let (key, value) = word.split_once('=')?;
    (is_password_key(key) && !value.is_empty() && !key.contains(['/', '?', '&', ':']))
        .then(|| key.len() + 1..word.len())
}

fn is_password_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("pass") || key == "pwd"
}

/// Query parameters that carry a webhook's or an API's secret (DingTalk's
/// and WeCom's `access_token` and `key`, a signature's `sign`).
const SECRET_PARAMS: &[&str] = &[
    "access_token",
    "api_key",
    "apikey",
    "auth",
    "key",
    "secret",
    "sig",
    "sign",
    "signature",
    "token",
];

fn is_secret_param(key: &str) -> bool {
    is_password_key(key) || SECRET_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(key))
}

/// Masks the value of every password-like or secret-carrying parameter of
/// the query starting at `from` of `word`.
fn query_secrets(word: &str, from: usize, base: usize, out: &mut Vec<Range<usize>>) {
    let mut at = from;
    for param in word[from..].split('&') {
        if let Some((key, value)) = param.split_once('=')
            && is_secret_param(key)
            && !value.is_empty()
        {
            let start = at + key.len() + 1;
            out.push(base + start..base + at + param.len());
        }
        at += param.len() + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PW: &str = "S3cr3t-pw";

    fn masked(text: &str) -> String {
        let out = redact(text).into_owned();
        assert!(!out.contains(PW), "{text} → {out}");
        out
    }

    #[test]
    fn well_formed_urls_keep_user_host_and_database() {
        assert_eq!(
            masked("postgres://app:S3cr3t-pw@db:5432/tiku"),
            "postgres://app:***@db:5432/tiku"
        );
        assert_eq!(
            masked("cannot connect to mysql://root:S3cr3t-pw@127.0.0.1:3306/x: refused"),
            "cannot connect to mysql://root:***@127.0.0.1:3306/x: refused"
        );
        assert_eq!(redact("postgres://app@db/tiku"), "postgres://app@db/tiku");
        assert_eq!(redact("sqlite:///tmp/a@b/x.db"), "sqlite:///tmp/a@b/x.db");
    }

    #[test]
    fn age_secret_keys_are_masked_in_any_case() {
        let key = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ8R7CZ";
        assert_eq!(
            redact(&format!("identity {key}, used")),
            "identity AGE-SECRET-KEY-1***, used"
        );
        let lower = key.to_ascii_lowercase();
        assert_eq!(redact(&format!("`{lower}`")), "`age-secret-key-1***`");
        assert_eq!(redact("AGE-SECRET-KEY-1"), "AGE-SECRET-KEY-1");
    }

    #[test]
    fn malformed_urls_are_masked() {
        assert_eq!(masked("postgres:/u:S3cr3t-pw@h/db"), "postgres:/u:***@h/db");
        assert_eq!(masked("postgres//u:S3cr3t-pw@h"), "postgres//u:***@h");
        assert_eq!(masked("postgresql:u:S3cr3t-pw@h"), "postgresql:u:***@h");
        assert_eq!(
            masked("`MySQL:root:S3cr3t-pw@h/db` is"),
            "`MySQL:root:***@h/db` is"
        );
        assert_eq!(masked("https://u:S3cr3t-pw@h/x"), "https://u:***@h/x");
    }

    #[test]
    fn unencoded_characters_stay_inside_the_password() {
        for pw in [
            "S3cr3t-pw/x",
            "p@ss/w#rd@S3cr3t-pw",
            "S3cr3t-pw:x#y",
            "a?S3cr3t-pw&b",
        ] {
            let url = format!("postgres://u:{pw}@h/db");
            assert_eq!(masked(&url), "postgres://u:***@h/db", "{pw}");
            let url = format!("error: `mysql:/root:{pw}@127.0.0.1:3306/x` is not");
            assert_eq!(
                masked(&url),
                "error: `mysql:/root:***@127.0.0.1:3306/x` is not"
            );
        }
    }

    #[test]
    fn password_parameters_are_masked() {
        assert_eq!(
            masked("mysql://app@db/tiku?password=S3cr3t-pw&socket=/run/x&pkcs12_pass=S3cr3t-pw"),
            "mysql://app@db/tiku?password=***&socket=/run/x&pkcs12_pass=***"
        );
        assert_eq!(
            masked("host=h user=u password=S3cr3t-pw dbname=d"),
            "host=h user=u password=*** dbname=d"
        );
    }

    #[test]
    fn webhook_secrets_are_masked() {
        let cases = [
            (
                "https://hooks.slack.com/services/T0AB/B0CD/S3cr3t-pw",
                "https://hooks.slack.com/services/T0AB/B0CD/***",
            ),
            (
                "https://oapi.dingtalk.com/robot/send?access_token=S3cr3t-pw&timestamp=1&sign=S3cr3t-pw",
                "https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=1&sign=***",
            ),
            (
                "https://open.feishu.cn/open-apis/bot/v2/hook/S3cr3t-pw",
                "https://open.feishu.cn/open-apis/bot/v2/hook/***",
            ),
            (
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=S3cr3t-pw",
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***",
            ),
            (
                "notification to http://u:S3cr3t-pw@127.0.0.1:9/hook/S3cr3t-pw?token=S3cr3t-pw failed",
                "notification to http://u:***@127.0.0.1:9/hook/***?token=*** failed",
            ),
            (
                "https://discord.com/api/webhooks/123/S3cr3t-pw",
                "https://discord.com/api/webhooks/123/***",
            ),
            // Shorter than Slack's: the last segment goes.
            (
                "https://hooks.slack.com/services/S3cr3t-pw",
                "https://hooks.slack.com/services/***",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(masked(text), want);
        }
    }

    #[test]
    fn paths_of_databases_and_files_keep_their_words() {
        for text in [
            "sqlite:///srv/hook/services/a/b/c.db",
            "file:///srv/webhooks/a/b.json",
            "postgres://app@db/tiku?sslkey=/etc/key.pem&sslmode=require",
            "https://example.com/docs/services",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "column `a:b@c`: 3 rows",
            "run 4 of plan.toml:2:7 by Ann <ann@example.com>",
            "note: table `x` is in no module",
            "",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn offsets_follow_the_mask() {
        let text = "url = \"postgres://u:S3cr3t-pw@h/db\" # x";
        let secrets = secret_ranges(text);
        let out = redact(text);
        let hash = text.find('#').unwrap();
        assert_eq!(&out[map_offset(&secrets, hash)..], "# x");
        assert_eq!(map_offset(&secrets, 3), 3);
        let inside = text.find("3t").unwrap();
        assert_eq!(&out[map_offset(&secrets, inside)..][..3], MASK);
    }
}
