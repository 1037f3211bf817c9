//! Sheet names Excel accepts: at most 31 characters (UTF-16 units), none of
//! `[]:*?/\`, no apostrophe at either end, unique ignoring case.

use std::collections::HashSet;

pub(crate) const MAX_SHEET_NAME: usize = 31;

/// Names migplan keeps for itself.
pub(crate) const META_SHEET: &str = "_meta";
pub(crate) const MARKS_SHEET: &str = "_marks";
/// A hidden sheet holding the dropdowns' lists too long to be written
/// inline (one list per row).
pub(crate) const LISTS_SHEET: &str = "_lists";

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Cuts `s` to at most `max` UTF-16 units, on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut units = 0;
    for (i, c) in s.char_indices() {
        units += c.len_utf16();
        if units > max {
            return &s[..i];
        }
    }
    s
}

/// `wanted` made acceptable to Excel (not yet unique).
pub(crate) fn clean(wanted: &str) -> String {
    let replaced: String = wanted
        .chars()
        .map(|c| {
            if "[]:*?/\\".contains(c) || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = replaced.trim_matches('\'').trim();
    let name = truncate(trimmed, MAX_SHEET_NAME)
        .trim_end_matches('\'')
        .trim_end();
    if name.is_empty() {
        "Sheet".into()
    } else {
        name.to_string()
    }
}

/// `base` with `suffix`, cutting `base` so that the whole fits.
pub(crate) fn with_suffix(base: &str, suffix: &str) -> String {
    let room = MAX_SHEET_NAME.saturating_sub(utf16_len(suffix));
    let base = truncate(base, room).trim_end_matches('\'');
    format!("{base}{suffix}")
}

/// Hands out sheet names, unique ignoring case.
#[derive(Default)]
pub(crate) struct SheetNames {
    taken: HashSet<String>,
}

impl SheetNames {
    pub(crate) fn new() -> Self {
        let mut names = SheetNames::default();
        names.taken.insert(META_SHEET.to_lowercase());
        names.taken.insert(MARKS_SHEET.to_lowercase());
        names.taken.insert(LISTS_SHEET.to_lowercase());
        // Reserved by English Excel.
        names.taken.insert("history".into());
        names
    }

    fn take(&mut self, name: &str) -> bool {
        self.taken.insert(name.to_lowercase())
    }

    /// A unique name for `wanted`: cleaned, then `~2`, `~3` … when taken.
    pub(crate) fn allocate(&mut self, wanted: &str) -> String {
        let base = clean(wanted);
        if self.take(&base) {
            return base;
        }
        (2..)
            .map(|n| with_suffix(&base, &format!("~{n}")))
            .find(|candidate| self.take(candidate))
            .expect("some suffix is free")
    }

    /// The name of continuation sheet `part` (2, 3 …) of `first`:
    /// `first (2)`, cut to fit, made unique when taken.
    pub(crate) fn continuation(&mut self, first: &str, part: usize) -> String {
        let name = with_suffix(first, &format!(" ({part})"));
        if self.take(&name) {
            return name;
        }
        self.allocate(&name)
    }
}

/// `题目数据 (2)` → (`题目数据`, 2).
pub(crate) fn split_continuation(sheet: &str) -> Option<(&str, usize)> {
    let rest = sheet.strip_suffix(')')?;
    let open = rest.rfind(" (")?;
    let n: usize = rest[open + 2..].parse().ok()?;
    (n >= 2).then_some((&rest[..open], n))
}

/// `C17`-style column letters of a 0-based column.
pub(crate) fn column_letters(mut col: u32) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII")
}

/// `sheet!C17` for 0-based row and column; the sheet quoted as Excel does
/// when it holds spaces or punctuation.
pub(crate) fn cell_ref(sheet: &str, row: u32, col: u32) -> String {
    format!("{}!{}{}", sheet_ref(sheet), column_letters(col), row + 1)
}

pub(crate) fn sheet_ref(sheet: &str) -> String {
    if sheet
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
    {
        sheet.to_string()
    } else {
        format!("'{}'", sheet.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean("a/b:c[1]*?\\"), "a_b_c_1____");
        assert_eq!(clean("'quoted'"), "quoted");
        assert_eq!(clean(""), "Sheet");
        assert_eq!(clean("''"), "Sheet");
        let long = "x".repeat(40);
        assert_eq!(clean(&long).len(), 31);
        // 31 UTF-16 units, not bytes: 31 CJK characters fit.
        let cjk = "题".repeat(40);
        assert_eq!(clean(&cjk).chars().count(), 31);
        // An emoji is two units and is never cut in half.
        let emoji = format!("{}😀", "a".repeat(30));
        assert_eq!(clean(&emoji), "a".repeat(30));
    }

    #[test]
    fn names_are_unique_ignoring_case() {
        let mut names = SheetNames::new();
        assert_eq!(names.allocate("Users"), "Users");
        assert_eq!(names.allocate("users"), "users~2");
        assert_eq!(names.allocate("USERS"), "USERS~3");
        assert_eq!(names.allocate("_META"), "_META~2");
        assert_eq!(names.allocate("History"), "History~2");
        let long = "a".repeat(40);
        let first = names.allocate(&long);
        let second = names.allocate(&long);
        assert_eq!(first, "a".repeat(31));
        assert_eq!(second, format!("{}~2", "a".repeat(29)));
        for n in [&first, &second] {
            assert!(rust_xlsxwriter::utility::check_sheet_name(n).is_ok());
        }
    }

    #[test]
    fn continuation_names() {
        let mut names = SheetNames::new();
        let first = names.allocate("题目数据");
        assert_eq!(names.continuation(&first, 2), "题目数据 (2)");
        assert_eq!(split_continuation("题目数据 (2)"), Some(("题目数据", 2)));
        assert_eq!(split_continuation("x (1)"), None);
        assert_eq!(split_continuation("x(2)"), None);
        let long = names.allocate(&"b".repeat(31));
        let cont = names.continuation(&long, 12);
        assert_eq!(cont, format!("{} (12)", "b".repeat(26)));
        // Taken already (a table of that name): made unique.
        let mut names = SheetNames::new();
        names.allocate("t (2)");
        names.allocate("t");
        assert_eq!(names.continuation("t", 2), "t (2)~2");
    }

    #[test]
    fn cell_refs() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
        assert_eq!(cell_ref("题目数据", 16, 2), "题目数据!C17");
        assert_eq!(cell_ref("my sheet", 0, 0), "'my sheet'!A1");
    }
}
