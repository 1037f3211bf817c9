//! The values a `CHECK` constraint allows a column, when it lists them:
//! `col IN ('a', 'b')` (SQLite, MySQL, MariaDB; `_utf8mb4'a'` too) and
//! PostgreSQL's rendering of it, `col = ANY (ARRAY['a'::text, …])`. Lists
//! of anything but texts, `NOT IN`, and a column listed twice give none:
//! the list only offers a dropdown, the import checks values itself.

use std::collections::BTreeMap;

/// Column → the texts a check lists for it, from a table's checks (or its
/// whole `CREATE TABLE`).
pub(crate) fn in_lists<'a>(
    checks: impl IntoIterator<Item = &'a str>,
) -> BTreeMap<String, Vec<String>> {
    let mut found: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
    for sql in checks {
        for (column, values) in lists_in(sql) {
            found
                .entry(column)
                .and_modify(|v| *v = None)
                .or_insert(Some(values));
        }
    }
    found
        .into_iter()
        .filter_map(|(c, v)| Some((c, v?)))
        .collect()
}

fn lists_in(sql: &str) -> Vec<(String, Vec<String>)> {
    let lower = sql.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = find_word(&lower, from) {
        let (word, end) = at;
        from = end;
        let (list, before) = match word {
            Word::In => {
                let rest = &sql[end..];
                let trimmed = rest.trim_start();
                if !trimmed.starts_with('(') {
                    continue;
                }
                let open = end + (rest.len() - trimmed.len()) + 1;
                let Some(list) = literals(&sql[open..], ')') else {
                    continue;
                };
                let before = &sql[..end - 2];
                if before.trim_end().to_ascii_lowercase().ends_with("not") {
                    continue;
                }
                (list, before)
            }
            Word::Any => {
                // `col = ANY (ARRAY['a'::text, …])` (and `(ARRAY[…])::text[]`).
                let rest = sql[end..].trim_start();
                let Some(rest) = rest.strip_prefix('(') else {
                    continue;
                };
                let rest = rest.trim_start().trim_start_matches('(').trim_start();
                if !rest.to_ascii_lowercase().starts_with("array[") {
                    continue;
                }
                let Some(list) = literals(&rest[6..], ']') else {
                    continue;
                };
                let before = sql[..end - 3].trim_end();
                let Some(before) = before.strip_suffix('=') else {
                    continue;
                };
                (list, before)
            }
        };
        if let Some(column) = column_before(before) {
            out.push((column, list));
        }
    }
    out
}

enum Word {
    In,
    Any,
}

/// The next ` in ` or ` any ` as a whole word, from `from`: the word and
/// the offset just past it.
fn find_word(lower: &str, from: usize) -> Option<(Word, usize)> {
    let bytes = lower.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = from;
    while i < bytes.len() {
        for w in ["in", "any"] {
            if lower.as_bytes()[i..].starts_with(w.as_bytes())
                && (i == 0 || !is_word(bytes[i - 1]))
                && bytes.get(i + w.len()).is_none_or(|b| !is_word(*b))
            {
                let word = if w == "in" { Word::In } else { Word::Any };
                return Some((word, i + w.len()));
            }
        }
        // Skip string literals: an `in` inside one is text.
        if bytes[i] == b'\'' {
            i += 1;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 1;
                    } else {
                        break;
                    }
                }
                i += 1;
            }
        }
        i += 1;
    }
    None
}

/// String literals separated by commas up to `close`; `None` when the
/// list holds anything else.
fn literals(s: &str, close: char) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        // A charset introducer (`_utf8mb4'a'`) or an `N'…'`.
        let mut prefix = String::new();
        while chars
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            prefix.push(chars.next()?);
        }
        if !(prefix.is_empty() || prefix.starts_with('_') || prefix.eq_ignore_ascii_case("n")) {
            return None;
        }
        if chars.next()? != '\'' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    value.push('\'');
                }
                '\'' => break,
                c => value.push(c),
            }
        }
        out.push(value);
        // A cast: `::text`, `::character varying`.
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek() == Some(&':') {
            while chars.peek().is_some_and(|c| *c != ',' && *c != close) {
                chars.next();
            }
        }
        match chars.next()? {
            ',' => continue,
            c if c == close => return (!out.is_empty()).then_some(out),
            _ => return None,
        }
    }
}

/// The column named just before an operator: `status`, `"status"`,
/// `` `status` ``, `[status]`, `(kind)::text`.
fn column_before(before: &str) -> Option<String> {
    let mut s = before.trim_end();
    // Casts and parentheses around the column.
    loop {
        if let Some(at) = s.rfind("::")
            && s[at + 2..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ' ')
        {
            s = s[..at].trim_end();
            continue;
        }
        if let Some(inner) = s.strip_suffix(')') {
            let open = inner.rfind('(')?;
            s = &inner[open + 1..];
            s = s.trim();
            continue;
        }
        break;
    }
    let name = match s.chars().last()? {
        q @ ('"' | '`' | ']') => {
            let open = match q {
                ']' => '[',
                q => q,
            };
            let body = &s[..s.len() - 1];
            let start = body.rfind(open)?;
            let name = &body[start + 1..];
            match q {
                '"' => name.replace("\"\"", "\""),
                '`' => name.replace("``", "`"),
                _ => name.to_string(),
            }
        }
        _ => {
            let start = s
                .char_indices()
                .rev()
                .take_while(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == '$')
                .last()?
                .0;
            s[start..].to_string()
        }
    };
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> BTreeMap<String, Vec<String>> {
        in_lists([sql])
    }

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sqlite_and_mysql_in_lists() {
        let sql = "CREATE TABLE q (id INTEGER, qtype TEXT NOT NULL CHECK (qtype IN ('single', 'multiple', 'judge')), \
                   \"lvl\" TEXT CHECK (\"lvl\" in ('a''b','c')), n INT CHECK (n IN (1, 2)), level TEXT CHECK (level BETWEEN 'a' AND 'z'))";
        let found = one(sql);
        assert_eq!(found["qtype"], list(&["single", "multiple", "judge"]));
        assert_eq!(found["lvl"], list(&["a'b", "c"]));
        assert!(!found.contains_key("n"), "numbers are no text list");
        assert_eq!(found.len(), 2);
        let maria = one("`kind` in ('x','y')");
        assert_eq!(maria["kind"], list(&["x", "y"]));
        let mysql = one("(`kind` in (_utf8mb4'x',_utf8mb4'y'))");
        assert_eq!(mysql["kind"], list(&["x", "y"]));
        assert!(one("kind NOT IN ('x')").is_empty());
        assert!(one("note TEXT DEFAULT 'in (''a'')'").is_empty());
    }

    #[test]
    fn postgres_any_array() {
        let found = one("CHECK ((status = ANY (ARRAY['draft'::text, 'published'::text])))");
        assert_eq!(found["status"], list(&["draft", "published"]));
        let varchar = one(
            "CHECK (((kind)::text = ANY ((ARRAY['a'::character varying, 'b c'::character varying])::text[])))",
        );
        assert_eq!(varchar["kind"], list(&["a", "b c"]));
    }

    #[test]
    fn a_column_listed_twice_gets_no_list() {
        assert!(in_lists(["a IN ('x')", "a IN ('y')"]).is_empty());
    }
}
