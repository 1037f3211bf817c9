//! `${VAR}` references in plan strings, filled from the environment.
//!
//! Rules: `${VAR}` is the variable's value; `${VAR:-default}` falls back to
//! `default` when `VAR` is unset or empty (as in a POSIX shell); `$${` is a
//! literal `${`; a `$` not followed by `{` is kept as is. Substitution works on
//! one string at a time and reports byte ranges inside that string, so the
//! caller can point into the plan file. The environment is passed in as a
//! function so tests never touch the process environment.

use std::ops::Range;

/// Looks a variable up by name.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The real environment; non-UTF-8 values count as unset.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A reference that could not be filled, at `range` of the input string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubstError {
    pub range: Range<usize>,
    pub message: String,
    pub help: String,
}

/// Fills every reference of `s`; on failure returns every bad reference.
pub fn substitute(s: &str, env: Env<'_>) -> Result<String, Vec<SubstError>> {
    let mut out = String::with_capacity(s.len());
    let mut errors = Vec::new();
    let mut i = 0;
    while let Some(off) = s[i..].find('$') {
        let at = i + off;
        out.push_str(&s[i..at]);
        let here = &s[at..];
        if here.starts_with("$${") {
            out.push_str("${");
            i = at + 3;
        } else if !here.starts_with("${") {
            out.push('$');
            i = at + 1;
        } else if let Some(close) = here.find('}') {
            match fill(&here[2..close], env) {
                Ok(value) => out.push_str(&value),
                Err((message, help)) => errors.push(SubstError {
                    range: at..at + close + 1,
                    message,
                    help,
                }),
            }
            i = at + close + 1;
        } else {
            errors.push(unterminated(at..s.len()));
            i = s.len();
        }
    }
    out.push_str(&s[i..]);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The value of one reference: the text between `${` and `}`.
fn fill(reference: &str, env: Env<'_>) -> Result<String, (String, String)> {
    let (name, default) = match reference.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (reference, None),
    };
    if !is_var_name(name) {
        return Err((
            format!("`${{{reference}}}` is not a valid variable reference"),
            "variable names are letters, digits and `_`; write `$${` for a literal `${`".into(),
        ));
    }
    match (env(name), default) {
        (Some(value), Some(default)) if value.is_empty() => Ok(default.to_string()),
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_string()),
        (None, None) => Err((
            format!("environment variable `{name}` is not set"),
            format!("set `{name}`, or give a default: `${{{name}:-default}}`"),
        )),
    }
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn unterminated(range: Range<usize>) -> SubstError {
    SubstError {
        range,
        message: "unterminated `${`".into(),
        help: "close the reference with `}`, or write `$${` for a literal `${`".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME_DIR" => Some("/home/me".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn sub(s: &str) -> Result<String, Vec<SubstError>> {
        substitute(s, &env)
    }

    #[test]
    fn fills_set_variables() {
        assert_eq!(sub("${HOME_DIR}/db").unwrap(), "/home/me/db");
        assert_eq!(
            sub("a${HOME_DIR}b${HOME_DIR}").unwrap(),
            "a/home/meb/home/me"
        );
    }

    #[test]
    fn default_applies_when_unset_or_empty() {
        assert_eq!(sub("${NOPE:-x.db}").unwrap(), "x.db");
        assert_eq!(sub("${EMPTY:-x}").unwrap(), "x");
        assert_eq!(sub("${HOME_DIR:-x}").unwrap(), "/home/me");
        assert_eq!(sub("${NOPE:-}").unwrap(), "");
    }

    #[test]
    fn set_but_empty_without_default_is_empty() {
        assert_eq!(sub("[${EMPTY}]").unwrap(), "[]");
    }

    #[test]
    fn double_dollar_is_a_literal_reference() {
        assert_eq!(sub("$${HOME_DIR}").unwrap(), "${HOME_DIR}");
        assert_eq!(sub("cost: $5 $").unwrap(), "cost: $5 $");
    }

    #[test]
    fn missing_variables_are_all_reported_with_ranges() {
        let errs = sub("${A}/${HOME_DIR}/${B}").unwrap_err();
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].range, 0..4);
        assert_eq!(errs[0].message, "environment variable `A` is not set");
        assert_eq!(errs[0].help, "set `A`, or give a default: `${A:-default}`");
        assert_eq!(errs[1].range, 17..21);
    }

    #[test]
    fn unterminated_and_invalid_references_are_errors() {
        let errs = sub("x${HOME_DIR").unwrap_err();
        assert_eq!(errs[0].range, 1..11);
        assert_eq!(errs[0].message, "unterminated `${`");
        let errs = sub("${1X}").unwrap_err();
        assert_eq!(errs[0].message, "`${1X}` is not a valid variable reference");
        assert!(sub("${}").is_err());
    }

    #[test]
    fn non_ascii_text_is_kept() {
        assert_eq!(sub("题库-${HOME_DIR}").unwrap(), "题库-/home/me");
    }
}
