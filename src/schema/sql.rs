//! Reading schema scripts as text: statements for MySQL's journal (which
//! runs a script one statement at a time) and the normalised form that
//! `schema repair` compares (comments dropped, whitespace collapsed: kept
//! only as one space between two words).

use crate::backend::Engine;
use crate::error::{Error, Result};

/// A script read once: its statements and its normalised text.
#[derive(Debug, Clone, PartialEq)]
pub struct Scanned {
    /// Statements without their `;`, trimmed, comment-only ones dropped.
    pub statements: Vec<String>,
    /// Comments removed; whitespace outside quotes dropped, except one space
    /// between two words.
    pub normalized: String,
}

/// Splits `sql` at `;` outside quotes (`'…'`, `"…"`, `` `…` ``, PostgreSQL
/// `$tag$…$tag$`) and comments (`--`, `/* */`, and `#` on MySQL).
/// `DELIMITER` (a mysql-client command, not SQL) is refused: `label` names
/// the script in the error.
pub fn scan(sql: &str, engine: Engine, label: &str) -> Result<Scanned> {
    let chars: Vec<char> = sql.chars().collect();
    let mut statements = vec![];
    let mut current = String::new();
    let mut has_code = false;
    let mut normalized = String::new();
    let mut pending_space = false;
    let mut i = 0;
    // Appends code text to the normalised form, collapsing whitespace.
    let push_norm = |norm: &mut String, pending: &mut bool, s: &str, verbatim: bool| {
        for c in s.chars() {
            if !verbatim && c.is_whitespace() {
                *pending = true;
                continue;
            }
            // A space survives only between two word characters.
            let word = |c: char| c.is_alphanumeric() || c == '_';
            if *pending && norm.chars().last().is_some_and(word) && word(c) {
                norm.push(' ');
            }
            *pending = false;
            norm.push(c);
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        // Comments: kept in the statement text, dropped from the normal form.
        let line_comment = (c == '-' && next == Some('-')) || (c == '#' && engine == Engine::Mysql);
        if line_comment {
            let end = chars[i..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(chars.len(), |p| i + p);
            current.extend(&chars[i..end]);
            pending_space = true;
            i = end;
            continue;
        }
        if c == '/' && next == Some('*') {
            let end = find(&chars, i + 2, &['*', '/']).map_or(chars.len(), |p| p + 2);
            current.extend(&chars[i..end]);
            pending_space = true;
            i = end;
            continue;
        }
        // Quoted text: verbatim in both.
        let quote_end = match c {
            '\'' | '"' | '`' => Some(quoted_end(&chars, i, c, engine)),
            '$' if engine == Engine::Postgres => dollar_end(&chars, i),
            _ => None,
        };
        if let Some(end) = quote_end {
            let text: String = chars[i..end].iter().collect();
            current.push_str(&text);
            push_norm(&mut normalized, &mut pending_space, &text, true);
            has_code = true;
            i = end;
            continue;
        }
        if c == ';' {
            push_norm(&mut normalized, &mut pending_space, ";", false);
            finish(&mut statements, &mut current, &mut has_code);
            i += 1;
            continue;
        }
        if !has_code && !c.is_whitespace() && starts_word(&chars, i, "DELIMITER") {
            return Err(Error::Mismatch(format!(
                "{label}: `DELIMITER` is a command of the mysql client, not SQL: migplan sends the script's statements one by one, split at `;`\n  = help: remove the DELIMITER lines and write each statement (a procedure or trigger body with inner `;`s cannot be split: create it from a separate tool, or keep its body free of `;`)"
            )));
        }
        if !c.is_whitespace() {
            has_code = true;
        }
        current.push(c);
        push_norm(&mut normalized, &mut pending_space, &c.to_string(), false);
        i += 1;
    }
    finish(&mut statements, &mut current, &mut has_code);
    Ok(Scanned {
        statements,
        normalized,
    })
}

/// The SHA-256 (hex) of a script's normalised form.
pub fn normalized_checksum(sql: &str, engine: Engine, label: &str) -> Result<String> {
    let n = scan(sql, engine, label)?.normalized;
    Ok(hex::encode(openssl::sha::sha256(n.as_bytes())))
}

fn finish(statements: &mut Vec<String>, current: &mut String, has_code: &mut bool) {
    if *has_code {
        statements.push(current.trim().to_string());
    }
    current.clear();
    *has_code = false;
}

fn find(chars: &[char], from: usize, pat: &[char]) -> Option<usize> {
    (from..chars.len()).find(|&j| chars[j..].starts_with(pat))
}

fn starts_word(chars: &[char], i: usize, word: &str) -> bool {
    let w: Vec<char> = word.chars().collect();
    chars.len() >= i + w.len()
        && chars[i..i + w.len()]
            .iter()
            .zip(&w)
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
        && chars
            .get(i + w.len())
            .is_none_or(|c| !c.is_alphanumeric() && *c != '_')
}

/// The index after the closing quote (a doubled quote is part of the text;
/// MySQL also escapes with a backslash inside strings).
fn quoted_end(chars: &[char], start: usize, q: char, engine: Engine) -> usize {
    let mut j = start + 1;
    while j < chars.len() {
        let c = chars[j];
        if c == '\\' && engine == Engine::Mysql && q != '`' {
            j += 2;
            continue;
        }
        if c == q {
            if chars.get(j + 1) == Some(&q) {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    chars.len()
}

/// PostgreSQL dollar quoting: `$$…$$` or `$tag$…$tag$`; `None` when `$`
/// does not open one (a parameter like `$1`).
fn dollar_end(chars: &[char], start: usize) -> Option<usize> {
    let mut j = start + 1;
    while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
        j += 1;
    }
    if chars.get(j) != Some(&'$') || chars.get(start + 1).is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    let tag: Vec<char> = chars[start..=j].to_vec();
    Some(find(chars, j + 1, &tag).map_or(chars.len(), |p| p + tag.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_and_comments() {
        let sql = "CREATE TABLE a (x TEXT DEFAULT ';'); -- one; two\n# hash; comment\nINSERT INTO `a;b` VALUES ('it''s; \\'x;'); /* c; */\n\n-- only a comment;\n";
        let s = scan(sql, Engine::Mysql, "V1__x").unwrap();
        assert_eq!(
            s.statements,
            vec![
                "CREATE TABLE a (x TEXT DEFAULT ';')".to_string(),
                "-- one; two\n# hash; comment\nINSERT INTO `a;b` VALUES ('it''s; \\'x;')".into(),
            ]
        );
        assert_eq!(
            s.normalized,
            "CREATE TABLE a(x TEXT DEFAULT';');INSERT INTO`a;b`VALUES('it''s; \\'x;');"
        );
    }

    #[test]
    fn normal_form_ignores_comments_and_whitespace_only() {
        let a = "CREATE TABLE t (id INT);\n";
        let b = "-- the table\nCREATE   TABLE t (\n  id INT /* key */\n);\n\n";
        let c = "CREATE TABLE t (id BIGINT);";
        for e in [Engine::Sqlite, Engine::Postgres, Engine::Mysql] {
            let n = |s| normalized_checksum(s, e, "V1__t").unwrap();
            assert_eq!(n(a), n(b), "{e:?}");
            assert_ne!(n(a), n(c));
        }
        // Text inside quotes is never collapsed.
        let q = |s| normalized_checksum(s, Engine::Sqlite, "V1").unwrap();
        assert_ne!(q("SELECT 'a  b';"), q("SELECT 'a b';"));
    }

    #[test]
    fn dollar_quotes_on_postgres() {
        let sql =
            "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql; SELECT $1;";
        let s = scan(sql, Engine::Postgres, "V1").unwrap();
        assert_eq!(s.statements.len(), 2);
    }

    #[test]
    fn delimiter_is_refused() {
        let e = scan(
            "DELIMITER //\nCREATE PROCEDURE p() BEGIN END //",
            Engine::Mysql,
            "V4__proc",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("V4__proc") && e.contains("DELIMITER"), "{e}");
    }
}
