//! `validate --format github` inside a GitHub Actions job: every problem is
//! an annotation on its line (stdout, rendered by `render.rs`), and — since
//! GitHub shows at most 10 annotations of a kind per step — the whole list
//! is also written to the job summary (`$GITHUB_STEP_SUMMARY`, Markdown).

use std::io::Write;
use std::path::PathBuf;

use crate::diag::Diagnostic;
use crate::error::{Error, Result};

/// Appends the summary when the job provides its file; nothing otherwise.
pub fn write_summary(results: &[(PathBuf, Vec<Diagnostic>)]) -> Result<()> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let text = summary(results);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Error::io(&path, e))
}

/// The summary as Markdown: a line per file, then every problem.
pub fn summary(results: &[(PathBuf, Vec<Diagnostic>)]) -> String {
    let bad = results.iter().filter(|(_, d)| !d.is_empty()).count();
    let problems: usize = results.iter().map(|(_, d)| d.len()).sum();
    let mut out = String::from("## migplan validate\n\n");
    out.push_str(&match bad {
        0 => format!("✅ {} file(s) valid\n\n", results.len()),
        _ => format!(
            "❌ {bad} of {} file(s) invalid, {problems} problem(s)\n\n",
            results.len()
        ),
    });
    out.push_str("| file | result |\n| --- | --- |\n");
    for (file, diags) in results {
        let result = match diags.len() {
            0 => "✅ valid".to_string(),
            n => format!("❌ {n} problem(s)"),
        };
        out.push_str(&format!("| `{}` | {result} |\n", shown(file)));
    }
    if problems > 0 {
        out.push_str("\n| where | problem | help |\n| --- | --- | --- |\n");
        for d in results.iter().flat_map(|(_, d)| d) {
            let j = d.to_json();
            let place = match (j.line, j.column) {
                (Some(l), Some(c)) => format!("{}:{l}:{c}", shown(&d.path)),
                _ => shown(&d.path),
            };
            out.push_str(&format!(
                "| `{place}` | {} | {} |\n",
                cell(&j.message),
                cell(j.help.as_deref().unwrap_or(""))
            ));
        }
    }
    out.push('\n');
    out
}

/// A path as the repository names it (relative to the job's folder).
fn shown(path: &std::path::Path) -> String {
    super::terminal::relative(&path.display().to_string()).into_owned()
}

/// Text inside a Markdown table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_in_the_summary_however_many() {
        let src: std::sync::Arc<str> = "[plan]\nkind = \"x\"\n".into();
        let many: Vec<Diagnostic> = (0..25)
            .map(|i| {
                Diagnostic::at(
                    std::path::Path::new("plans/a.toml"),
                    &src,
                    15..18,
                    format!("problem {i} | pipe"),
                )
                .with_help("fix it")
            })
            .collect();
        let results = vec![
            (PathBuf::from("plans/a.toml"), many),
            (PathBuf::from("plans/b.toml"), vec![]),
        ];
        let text = summary(&results);
        assert!(
            text.contains("❌ 1 of 2 file(s) invalid, 25 problem(s)"),
            "{text}"
        );
        assert!(text.contains("| `plans/b.toml` | ✅ valid |"), "{text}");
        assert!(
            text.contains("| `plans/a.toml:2:9` | problem 24 \\| pipe | fix it |"),
            "{text}"
        );
        assert_eq!(text.matches("problem ").count(), 25 + 1, "{text}");
    }
}
