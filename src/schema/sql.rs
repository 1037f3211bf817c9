//! Reading schema scripts as text: statements for MySQL's journal (which
//! runs a script one statement at a time), the text PostgreSQL receives,
//! and the normalised form that `schema repair` compares (comments dropped,
//! whitespace collapsed: kept only as one space between two words).
//!
//! Scripts written by the engines' own dump tools apply as their clients
//! apply them: on MySQL, executable comments (`/*!40101 … */`, MariaDB's
//! `/*M!100100 … */`) are code the server decides on, and `DELIMITER xx`
//! lines change the statement terminator, as in the mysql client; on
//! PostgreSQL, pg_dump's `\restrict`/`\unrestrict` lines, which psql keeps
//! to itself, are skipped, and any other psql meta-command is refused.

use crate::backend::{BOOKKEEPING_TABLES, Dialect};
use crate::error::{Result, ScriptError};

/// A script read once: its statements and its normalised text.
#[derive(Debug, Clone, PartialEq)]
pub struct Scanned {
    /// Statements without their terminator, trimmed, comment-only ones
    /// dropped; `DELIMITER` lines are not statements.
    pub statements: Vec<String>,
    /// Comments removed; whitespace outside quotes dropped, except one space
    /// between two words. Every statement ends in `;`, whatever the
    /// delimiter; skipped meta-command lines are left out.
    pub normalized: String,
    /// The script as one text for engines that take it whole (PostgreSQL):
    /// skipped meta-command lines are emptied, other lines kept, so the
    /// server's line numbers still match the file.
    pub text: String,
}

/// psql meta-commands a script may hold: pg_dump (17.6, 16.10, 15.14 and
/// later) brackets its output with them; they only guard psql itself.
const SKIPPED_PSQL_COMMANDS: [&str; 2] = ["restrict", "unrestrict"];

/// Splits `sql` at the delimiter (`;`, or on MySQL what `DELIMITER` set)
/// outside quotes (`'…'`, `"…"`, `` `…` ``, PostgreSQL `$tag$…$tag$`) and
/// comments (`--`, `/* */`, and `#` on MySQL; MySQL's executable comments
/// are code), as the `dialect`'s script rules say its client reads them.
/// `label` names the script in errors: `DELIMITER` on another engine, a
/// psql meta-command other than `\restrict`/`\unrestrict`.
pub fn scan(sql: &str, dialect: &Dialect, label: &str) -> Result<Scanned> {
    let chars: Vec<char> = sql.chars().collect();
    let rules = dialect.scripts;
    let mut statements = vec![];
    let mut current = String::new();
    let mut has_code = false;
    let mut normalized = String::new();
    let mut pending_space = false;
    let mut delimiter = vec![';'];
    // Char ranges left out of `text` (skipped meta-commands).
    let mut skipped: Vec<(usize, usize)> = vec![];
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
        let line_comment = (c == '-' && next == Some('-')) || (c == '#' && rules.hash_comments);
        if line_comment {
            let end = line_end(&chars, i);
            current.extend(&chars[i..end]);
            pending_space = true;
            i = end;
            continue;
        }
        if c == '/' && next == Some('*') {
            // An executable comment is code: its opener is sent as it is,
            // its text scanned like any other (the mysql client splits
            // inside it too), its `*/` is code text.
            if let Some(open) = executable_comment(&chars, i).filter(|_| rules.executable_comments)
            {
                let text: String = chars[i..i + open].iter().collect();
                current.push_str(&text);
                push_norm(&mut normalized, &mut pending_space, &text, false);
                has_code = true;
                i += open;
                continue;
            }
            let end = find(&chars, i + 2, &['*', '/']).map_or(chars.len(), |p| p + 2);
            current.extend(&chars[i..end]);
            pending_space = true;
            i = end;
            continue;
        }
        // Quoted text: verbatim in both.
        let quote_end = match c {
            '\'' | '"' | '`' => Some(quoted_end(&chars, i, c, rules.backslash_escapes)),
            '$' if rules.dollar_quotes => dollar_end(&chars, i),
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
        if chars[i..].starts_with(&delimiter) {
            push_norm(&mut normalized, &mut pending_space, ";", false);
            finish(&mut statements, &mut current, &mut has_code);
            i += delimiter.len();
            continue;
        }
        if !has_code && !c.is_whitespace() && starts_word(&chars, i, "DELIMITER") {
            let end = line_end(&chars, i);
            delimiter = new_delimiter(&chars, i, dialect, label)?;
            // Comments before the command belong to no statement.
            current.clear();
            pending_space = true;
            i = end;
            continue;
        }
        if c == '\\' && rules.meta_commands && at_line_start(&chars, i) {
            let end = line_end(&chars, i);
            let command: String = chars[i + 1..end]
                .iter()
                .take_while(|c| c.is_alphanumeric() || **c == '_')
                .collect();
            if !SKIPPED_PSQL_COMMANDS.contains(&command.as_str()) {
                let shown: String = chars[i..end]
                    .iter()
                    .take_while(|c| !c.is_whitespace())
                    .collect();
                return Err(ScriptError::PsqlMetaCommand {
                    label: label.to_string(),
                    line: line_of(&chars, i),
                    command: shown,
                }
                .into());
            }
            skipped.push((i, end));
            pending_space = true;
            i = end;
            continue;
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
        text: without(&chars, &skipped),
    })
}

/// Whether a MySQL statement only changes the session (`SET NAMES …`,
/// `SET FOREIGN_KEY_CHECKS=0`, `SET @saved = …`, also inside an executable
/// comment), so running it again changes nothing in the database.
pub fn sets_session(statement: &str) -> bool {
    let words = leading_words(statement, 2);
    let word = |i: usize| words.get(i).map_or("", String::as_str);
    word(0) == "SET"
        && !matches!(
            word(1),
            "GLOBAL" | "PERSIST" | "PERSIST_ONLY" | "PASSWORD" | "DEFAULT" | "ROLE"
        )
        && !word(1).starts_with("@@GLOBAL.")
        && !word(1).starts_with("@@PERSIST")
}

/// Whether a MySQL statement switches, creates or drops a database (`USE
/// shop`, `CREATE DATABASE …`), as a dump made with `--databases` does: a
/// plan's scripts change the plan's database only.
pub fn switches_database(statement: &str) -> bool {
    let words = leading_words(statement, 2);
    let word = |i: usize| words.get(i).map_or("", String::as_str);
    word(0) == "USE"
        || (matches!(word(0), "CREATE" | "DROP" | "ALTER")
            && matches!(word(1), "DATABASE" | "SCHEMA"))
}

/// The first `n` words of a MySQL statement, upper-cased, after its
/// leading comments and the opener of an executable comment.
fn leading_words(statement: &str, n: usize) -> Vec<String> {
    let mut rest = statement.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("--").or_else(|| rest.strip_prefix('#')) {
            rest = r.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if rest.starts_with("/*") {
            let chars: Vec<char> = rest.chars().collect();
            match executable_comment(&chars, 0) {
                Some(open) => {
                    let skip: usize = chars[..open].iter().map(|c| c.len_utf8()).sum();
                    rest = rest[skip..].trim_start();
                    break;
                }
                None => rest = rest.split_once("*/").map_or("", |(_, r)| r).trim_start(),
            }
        } else {
            break;
        }
    }
    rest.split(|c: char| c.is_whitespace() || c == '=')
        .filter(|w| !w.is_empty())
        .take(n)
        .map(str::to_ascii_uppercase)
        .collect()
}

/// The length of a MySQL executable comment's opener at `i` (`/*!`,
/// `/*!50003`, `/*M!100100`), or `None` for an ordinary comment. MariaDB's
/// `/*M!999999\- …*/` is a command to the mariadb client (sandbox mode)
/// that no server runs: a comment.
fn executable_comment(chars: &[char], i: usize) -> Option<usize> {
    let mut j = i + 2;
    if chars.get(j) == Some(&'M') {
        j += 1;
    }
    if chars.get(j) != Some(&'!') {
        return None;
    }
    j += 1;
    while chars.get(j).is_some_and(char::is_ascii_digit) {
        j += 1;
    }
    (chars.get(j) != Some(&'\\')).then_some(j - i)
}

/// The delimiter the `DELIMITER` line at `i` sets (its first word), as the
/// mysql client reads it; refused on engines whose client has no such
/// command, and without a word.
fn new_delimiter(chars: &[char], i: usize, dialect: &Dialect, label: &str) -> Result<Vec<char>> {
    if !dialect.scripts.delimiter_command {
        return Err(ScriptError::DelimiterElsewhere {
            label: label.to_string(),
            line: line_of(chars, i),
            engine: dialect.name,
        }
        .into());
    }
    let rest = &chars[i + "DELIMITER".len()..line_end(chars, i)];
    let word: Vec<char> = rest
        .iter()
        .copied()
        .skip_while(|c| c.is_whitespace())
        .take_while(|c| !c.is_whitespace())
        .collect();
    if word.is_empty() || word.contains(&'\\') {
        return Err(ScriptError::DelimiterWithoutTerminator {
            label: label.to_string(),
            line: line_of(chars, i),
        }
        .into());
    }
    Ok(word)
}

/// The line of char `i`, from 1; counted only for an error, as a script
/// can be long.
fn line_of(chars: &[char], i: usize) -> usize {
    chars[..i].iter().filter(|&&c| c == '\n').count() + 1
}

/// The index of the `\n` ending the line of `i` (or the end).
fn line_end(chars: &[char], i: usize) -> usize {
    chars[i..]
        .iter()
        .position(|&c| c == '\n')
        .map_or(chars.len(), |p| i + p)
}

/// Only blanks before `i` on its line.
fn at_line_start(chars: &[char], i: usize) -> bool {
    chars[..i]
        .iter()
        .rev()
        .take_while(|&&c| c != '\n')
        .all(|c| c.is_whitespace())
}

/// `chars` without the `skipped` ranges.
fn without(chars: &[char], skipped: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(chars.len());
    let mut from = 0;
    for &(a, b) in skipped {
        out.extend(&chars[from..a]);
        from = b;
    }
    out.extend(&chars[from..]);
    out
}

impl Scanned {
    /// The SHA-256 (hex) of the normalised form.
    pub fn checksum(&self) -> String {
        hex::encode(openssl::sha::sha256(self.normalized.as_bytes()))
    }

    /// The bookkeeping tables ([`BOOKKEEPING_TABLES`]) the script's code
    /// names (comments aside; a name inside a string counts too).
    pub fn bookkeeping_named(&self) -> Vec<&'static str> {
        let words: std::collections::HashSet<String> = self
            .normalized
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map(str::to_ascii_lowercase)
            .collect();
        BOOKKEEPING_TABLES
            .iter()
            .copied()
            .filter(|t| words.contains(*t))
            .collect()
    }
}

/// The SHA-256 (hex) of a script's normalised form.
pub fn normalized_checksum(sql: &str, dialect: &Dialect, label: &str) -> Result<String> {
    Ok(scan(sql, dialect, label)?.checksum())
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
/// MySQL also escapes with a backslash inside strings: `backslash`).
fn quoted_end(chars: &[char], start: usize, q: char, backslash: bool) -> usize {
    let mut j = start + 1;
    while j < chars.len() {
        let c = chars[j];
        if c == '\\' && backslash && q != '`' {
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
    use crate::backend::{MYSQL, POSTGRES, SQLITE};

    #[test]
    fn splits_outside_quotes_and_comments() {
        let sql = "CREATE TABLE a (x TEXT DEFAULT ';'); -- one; two\n# hash; comment\nINSERT INTO `a;b` VALUES ('it''s; \\'x;'); /* c; */\n\n-- only a comment;\n";
        let s = scan(sql, &MYSQL, "V1__x").unwrap();
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
        for e in [&SQLITE, &POSTGRES, &MYSQL] {
            let n = |s| normalized_checksum(s, e, "V1__t").unwrap();
            assert_eq!(n(a), n(b), "{}", e.name);
            assert_ne!(n(a), n(c));
        }
        // Text inside quotes is never collapsed.
        let q = |s| normalized_checksum(s, &SQLITE, "V1").unwrap();
        assert_ne!(q("SELECT 'a  b';"), q("SELECT 'a b';"));
    }

    #[test]
    fn dollar_quotes_on_postgres() {
        let sql =
            "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql; SELECT $1;";
        let s = scan(sql, &POSTGRES, "V1").unwrap();
        assert_eq!(s.statements.len(), 2);
    }

    #[test]
    fn delimiter_is_refused_where_the_mysql_client_does_not_run() {
        for e in [&POSTGRES, &SQLITE] {
            let err = scan("DELIMITER //\nCREATE TABLE t (id INT)//", e, "V4__proc")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("V4__proc, line 1") && err.contains("DELIMITER"),
                "{err}"
            );
        }
        let err = scan("SELECT 1;\n-- x\nDELIMITER\nSELECT 2;", &MYSQL, "V5__d")
            .unwrap_err()
            .to_string();
        assert!(err.contains("V5__d, line 3"), "{err}");
    }

    #[test]
    fn executable_comments_are_code_on_mysql() {
        let sql = "/*!40101 SET NAMES utf8mb4 */;\n/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n/*M!100616 SET @OLD_NOTE_VERBOSITY=@@NOTE_VERBOSITY, NOTE_VERBOSITY=0 */;\n/* plain; comment */;\nCREATE TABLE a (id INT) /*!50100 COMMENT 'x;y' */;\n/*!50001 CREATE VIEW v AS SELECT 1 */;\n";
        let s = scan(sql, &MYSQL, "V1").unwrap();
        assert_eq!(
            s.statements,
            vec![
                "/*!40101 SET NAMES utf8mb4 */",
                "/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */",
                "/*M!100616 SET @OLD_NOTE_VERBOSITY=@@NOTE_VERBOSITY, NOTE_VERBOSITY=0 */",
                "CREATE TABLE a (id INT) /*!50100 COMMENT 'x;y' */",
                "/*!50001 CREATE VIEW v AS SELECT 1 */",
            ]
        );
        // Executable comments count in the normal form: they change the schema.
        let n = |s| normalized_checksum(s, &MYSQL, "V1").unwrap();
        assert_ne!(
            n("CREATE TABLE a (id INT) /*!50100 COMMENT 'x' */;"),
            n("CREATE TABLE a (id INT);")
        );
        assert_eq!(
            n("CREATE TABLE a (id INT) /* COMMENT 'x' */;"),
            n("CREATE TABLE a (id INT);")
        );
    }

    #[test]
    fn mariadb_sandbox_line_is_a_client_command() {
        // mariadb-dump's first line: for the mariadb client only.
        let sql = "/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump\n/*!40101 SET NAMES utf8mb4 */;\n";
        let s = scan(sql, &MYSQL, "V1").unwrap();
        assert_eq!(s.statements.len(), 1);
        assert!(s.statements[0].ends_with("/*!40101 SET NAMES utf8mb4 */"));
        assert_eq!(s.normalized, "/*!40101 SET NAMES utf8mb4*/;");
        let alone = scan("/*M!999999\\- enable the sandbox mode */;", &MYSQL, "V1");
        assert!(alone.unwrap().statements.is_empty());
    }

    #[test]
    fn delimiter_changes_the_terminator_as_in_the_mysql_client() {
        let sql = "CREATE TABLE t (id INT, at TIMESTAMP);\n-- before the command\nDELIMITER ;;\n/*!50003 CREATE*/ /*!50003 TRIGGER t_stamp BEFORE UPDATE ON t FOR EACH ROW\nBEGIN\n  SET NEW.at = NOW();\n  IF NEW.id = 0 THEN SET NEW.id = OLD.id; END IF;\nEND */;;\nCREATE PROCEDURE p() SELECT ';;'\n;;\nDELIMITER ;\nDELIMITER $$\nCREATE FUNCTION f() RETURNS INT\nBEGIN\n  DECLARE n INT;\n  RETURN 1;\nEND$$\ndelimiter ;\nSELECT 1;";
        let s = scan(sql, &MYSQL, "V1").unwrap();
        assert_eq!(s.statements.len(), 5, "{:#?}", s.statements);
        assert!(s.statements[1].starts_with("/*!50003 CREATE*/"));
        assert!(s.statements[1].ends_with("END IF;\nEND */"));
        assert_eq!(s.statements[2], "CREATE PROCEDURE p() SELECT ';;'");
        assert!(s.statements[3].starts_with("CREATE FUNCTION f()"));
        assert!(s.statements[3].ends_with("RETURN 1;\nEND"));
        assert_eq!(s.statements[4], "SELECT 1");
        // The delimiter chosen does not change the normal form.
        let dollars = sql
            .replace(";;", "$$")
            .replace("SELECT '$$'", "SELECT ';;'");
        assert_eq!(
            normalized_checksum(sql, &MYSQL, "V1").unwrap(),
            normalized_checksum(&dollars, &MYSQL, "V1").unwrap()
        );
    }

    #[test]
    fn session_settings_are_told_from_changes() {
        for s in [
            "/*!40101 SET NAMES utf8mb4 */",
            "/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */",
            "-- c\n/* d */ SET sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
            "/*M!100616 SET NOTE_VERBOSITY=0 */",
            "set @saved_cs_client = @@character_set_client",
        ] {
            assert!(sets_session(s), "{s}");
        }
        for s in [
            "SET GLOBAL max_connections = 10",
            "SET @@global.sql_mode = ''",
            "SET PASSWORD = 'x'",
            "CREATE TABLE settings (id INT)",
            "/*!50003 CREATE*/ /*!50003 TRIGGER t BEFORE UPDATE ON a FOR EACH ROW SET NEW.x = 1 */",
            "UPDATE t SET x = 1",
        ] {
            assert!(!sets_session(s), "{s}");
        }
    }

    #[test]
    fn switching_the_database_is_told() {
        for s in [
            "USE `shop`",
            "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop` /*!40100 DEFAULT CHARACTER SET utf8mb4 */",
            "-- x\n/*!40000 DROP DATABASE IF EXISTS `shop`*/",
        ] {
            assert!(switches_database(s), "{s}");
        }
        for s in [
            "CREATE TABLE used (id INT)",
            "SELECT 1",
            "UPDATE t SET db = 1",
        ] {
            assert!(!switches_database(s), "{s}");
        }
    }

    #[test]
    fn pg_dump_meta_commands_are_skipped_others_refused() {
        let sql = "--\n\\restrict AbC123\n\nSET x = 1;\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n\n\\unrestrict AbC123\n";
        let s = scan(sql, &POSTGRES, "V1__init").unwrap();
        assert_eq!(
            s.text,
            "--\n\n\nSET x = 1;\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n\n\n"
        );
        // A new key is not a new schema.
        let other = sql.replace("AbC123", "XyZ789");
        let n = |s: &str| normalized_checksum(s, &POSTGRES, "V1").unwrap();
        assert_eq!(n(sql), n(&other));
        assert_eq!(
            n(sql),
            n("SET x = 1;CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;")
        );
        // A backslash inside quotes is text.
        assert!(scan("SELECT E'\n\\x';", &POSTGRES, "V1").is_ok());
        let err = scan("SELECT 1;\n  \\connect other\n", &POSTGRES, "V2__x")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("V2__x, line 2") && err.contains("`\\connect` is a psql meta-command"),
            "{err}"
        );
    }

    #[test]
    fn normal_forms_of_existing_scripts_are_unchanged() {
        // Recorded by the scanner before executable comments, DELIMITER and
        // psql meta-commands were read: `schema repair` keeps matching.
        let cases = [
            (
                include_str!("../../examples/tiku/migrations/mysql/V1__init.sql"),
                &MYSQL,
                "95ab33b636d962ccd051c8057c7c2af504ae5999c26ae53c7cae80c34b7e0530",
            ),
            (
                include_str!("../../examples/tiku/migrations/mysql/V3__email_and_levels.sql"),
                &MYSQL,
                "d076c4969cbf3976415db624eef65b5c889c7eec29406f7bcb81da95a7d6fb9d",
            ),
            (
                include_str!("../../examples/tiku/migrations/postgres/V1__init.sql"),
                &POSTGRES,
                "c39dbbe97b74da81e3485c2a642ed34c63c5212299bc78f19831ecf3dfdd5c95",
            ),
            (
                include_str!("../../examples/tiku/migrations/sqlite/V1__init.sql"),
                &SQLITE,
                "b1d21efcebd743c7395bab0a64e83967a5f29c2ace078f28a6e73903222b7f65",
            ),
            (
                include_str!("../../tests/fixtures/samples/pagila/postgres/V1__pagila.sql"),
                &POSTGRES,
                "7cc7180fe940890286c78e63fc22c9045bf7d5584bfc60d15c23a996313fc2e5",
            ),
            (
                include_str!("../../tests/fixtures/samples/sakila/mysql/V1__sakila.sql"),
                &MYSQL,
                "8e5d3addae7dd8241580e76be3707c5d5c887fc53720ec411a8de27962681374",
            ),
            (
                include_str!("../../tests/fixtures/samples/chinook/mysql/V1__chinook.sql"),
                &MYSQL,
                "f75396863ac6ee7a01e99ec44ea473290575c10c2ab97c0c4bfedb096941ae7d",
            ),
        ];
        for (sql, engine, sum) in cases {
            assert_eq!(normalized_checksum(sql, engine, "V1").unwrap(), sum);
            assert_eq!(scan(sql, engine, "V1").unwrap().text, sql);
        }
    }
}
