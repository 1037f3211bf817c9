//! Diagnostics that point into a file: `path:line:col`, the offending line and
//! a caret under the offending text, rendered for people, JSON or GitHub.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use crate::redact::{map_offset, redact};

/// One problem found in a file the user wrote (a plan, a backup, an adapter).
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub path: PathBuf,
    /// The file's text, shared by every diagnostic about it; `None` when the
    /// problem is about the file as a whole (unreadable, missing).
    pub source: Option<Arc<str>>,
    /// Byte range of the offending text in `source`.
    pub span: Option<Range<usize>>,
    pub message: String,
    pub label: Option<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// A problem with the file as a whole.
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.to_path_buf(),
            source: None,
            span: None,
            message: message.into(),
            label: None,
            help: None,
        }
    }

    /// A problem at `span` of `source`.
    pub fn at(
        path: &Path,
        source: &Arc<str>,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            source: Some(source.clone()),
            span: Some(span),
            ..Diagnostic::file(path, message)
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// 1-based line and column of the span's start (columns count characters).
    pub fn line_col(&self) -> Option<(usize, usize)> {
        let (src, span) = (self.source.as_deref()?, self.span.as_ref()?);
        Some(line_col(src, span.start))
    }

    /// `path:line:col`, or just the path when there is no position.
    pub fn location(&self) -> String {
        match self.line_col() {
            Some((l, c)) => format!("{}:{l}:{c}", self.path.display()),
            None => self.path.display().to_string(),
        }
    }

    /// Multi-line rendering for a terminal: message, location, line, caret.
    /// The quoted source is redacted (a plan's `url = "…"` line) and the
    /// caret moved to stay under the same text.
    pub fn render(&self) -> String {
        let message = redact(&self.message);
        let title = Level::ERROR.primary_title(&*message);
        let path = self.path.display().to_string();
        let label = self.label.as_deref().map(redact);
        let help = self.help.as_deref().map(redact);
        let shown = self.source.as_deref().map(redact);
        let mut group = match (self.source.as_deref(), &shown, self.span.clone()) {
            (Some(src), Some(shown), Some(span)) => {
                let span = clamp_span(src, span);
                let secrets = crate::redact::secret_ranges(src);
                let span = map_offset(&secrets, span.start)..map_offset(&secrets, span.end);
                let mut ann = AnnotationKind::Primary.span(span);
                if let Some(label) = &label {
                    ann = ann.label(&**label);
                }
                title.element(
                    Snippet::source(&**shown)
                        .path(&path)
                        .fold(true)
                        .annotation(ann),
                )
            }
            _ => Group::with_title(Level::ERROR.primary_title(format!("{path}: {message}"))),
        };
        if let Some(help) = &help {
            group = group.element(Level::HELP.message(&**help));
        }
        Renderer::plain().render(&[group]).to_string()
    }

    /// One GitHub Actions workflow command: `::error file=…,line=…,col=…::…`.
    pub fn render_github(&self) -> String {
        let mut msg = redact(&self.message).into_owned();
        if let Some(help) = &self.help {
            msg.push_str(&format!(" (help: {})", redact(help)));
        }
        let file = escape_github_property(&self.path.display().to_string());
        let msg = escape_github_data(&msg);
        match self.line_col() {
            Some((l, c)) => format!("::error file={file},line={l},col={c}::{msg}"),
            None => format!("::error file={file}::{msg}"),
        }
    }

    pub fn to_json(&self) -> DiagnosticJson {
        let (line, column) = self.line_col().unzip();
        DiagnosticJson {
            file: self.path.display().to_string(),
            line,
            column,
            message: redact(&self.message).into_owned(),
            help: self.help.as_deref().map(|h| redact(h).into_owned()),
        }
    }
}

/// The machine-readable shape of a diagnostic (`validate --format json`).
#[derive(Debug, Serialize)]
pub struct DiagnosticJson {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    pub help: Option<String>,
}

/// 1-based line and character column of byte `offset` in `src`.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(src, offset.min(src.len()));
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, src[line_start..offset].chars().count() + 1)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

// An empty span at the very end still needs something to point at.
fn clamp_span(src: &str, span: Range<usize>) -> Range<usize> {
    let start = floor_char_boundary(src, span.start.min(src.len()));
    let end = floor_char_boundary(src, span.end.clamp(start, src.len()));
    start..end
}

fn escape_github_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_github_property(s: &str) -> String {
    escape_github_data(s)
        .replace(':', "%3A")
        .replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let src = "a = 1\n名字 = \"x\"\n";
        let off = src.find('"').unwrap();
        assert_eq!(line_col(src, off), (2, 6));
    }

    #[test]
    fn render_shows_location_and_caret() {
        let src: Arc<str> = Arc::from("[plan]\nnmae = \"x\"\n");
        let d = Diagnostic::at(Path::new("p.toml"), &src, 7..11, "unknown key `nmae`")
            .with_help("did you mean `name`?");
        let out = d.render();
        assert!(out.contains("p.toml:2:1"), "{out}");
        assert!(out.contains("^^^^"), "{out}");
        assert!(out.contains("did you mean `name`?"), "{out}");
    }

    #[test]
    fn render_masks_the_quoted_line_and_keeps_the_caret() {
        let src: Arc<str> = Arc::from("[database]\nurl = \"postgres:/u:S3cr3t-pw@h/db\" x = 1\n");
        let x = src.find("x =").unwrap();
        let d = Diagnostic::at(Path::new("p.toml"), &src, x..x + 1, "unknown key `x`");
        let out = d.render();
        assert!(!out.contains("S3cr3t-pw"), "{out}");
        assert!(
            out.contains("url = \"postgres:/u:***@h/db\" x = 1"),
            "{out}"
        );
        let line = out.lines().find(|l| l.contains("url =")).unwrap();
        let caret = out.lines().find(|l| l.contains('^')).unwrap();
        assert_eq!(
            line.find(" x = 1").unwrap() + 1,
            caret.find('^').unwrap(),
            "{out}"
        );
    }

    #[test]
    fn github_format_escapes_newlines() {
        let d = Diagnostic::file(Path::new("a,b.toml"), "two\nlines");
        assert_eq!(d.render_github(), "::error file=a%2Cb.toml::two%0Alines");
    }
}
