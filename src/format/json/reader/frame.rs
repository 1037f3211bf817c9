//! The file as pieces: each JSON value the reader needs whole (a key, the
//! meta, a row, the summary) found in the stream by a small scanner and
//! handed to serde_json as one slice. serde_json's reader of a stream takes
//! a call per byte and copies strings byte by byte; on a slice it runs over
//! whole strings at once (reading the file was a third of an import's CPU).
//!
//! The scanner bounds what it gathers, so a file's size never sets the
//! memory it takes: every string or other token to `[import]
//! max_value_bytes` (a compressed backup can inflate to a 1 GiB string from
//! a few KiB), every piece to the bound its caller gives (the meta to
//! `max_meta_bytes`). It counts lines as it goes, so that a problem is
//! placed at `line:column` in the file, serde_json's own included.

use std::io::{self, Read};
use std::ops::Range;

/// Bytes read from the file at once.
const READ: usize = 1 << 16;

/// A stream of JSON read piece by piece.
pub(super) struct Frame<R> {
    src: R,
    buf: Vec<u8>,
    /// The next byte to look at.
    pos: usize,
    /// Where `buf[pos]` is in the file.
    at: Place,
    eof: bool,
}

/// A place in the file: its line (1-based) and the bytes before it on that
/// line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Place {
    pub(super) line: usize,
    pub(super) before: usize,
}

impl Place {
    /// The 1-based column, as serde_json counts it.
    pub(super) fn column(self) -> usize {
        self.before + 1
    }

    /// Where something serde_json found at `line:column` of a piece that
    /// starts here is in the file.
    pub(super) fn within(self, line: usize, column: usize) -> (usize, usize) {
        match line {
            1 => (self.line, self.before + column),
            _ => (self.line + line - 1, column),
        }
    }
}

/// Why the scanner stopped.
#[derive(Debug)]
pub(super) enum Problem {
    Io(io::Error),
    /// The file is not what a backup looks like here.
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// A string or other token longer than `limit`, where it starts.
    ValueTooLong {
        line: usize,
        column: usize,
        limit: u64,
    },
    /// A piece went on past the bound its caller gave.
    PieceTooLong {
        limit: u64,
    },
    /// A piece held more separators, brackets, white space and values than
    /// its caller allows (a row: a few per column), where it starts.
    Crowded {
        line: usize,
        column: usize,
    },
}

impl<R: Read> Frame<R> {
    pub(super) fn new(src: R) -> Self {
        Frame {
            src,
            buf: Vec::with_capacity(READ),
            pos: 0,
            at: Place { line: 1, before: 0 },
            eof: false,
        }
    }

    /// Where the next byte that is not white space is.
    pub(super) fn here(&mut self) -> Result<Place, Problem> {
        self.peek()?;
        Ok(self.at)
    }

    /// A syntax problem at the next byte (serde_json's place for a byte it
    /// did not expect).
    pub(super) fn syntax(&self, message: impl Into<String>) -> Problem {
        Problem::Syntax {
            line: self.at.line,
            column: self.at.column(),
            message: message.into(),
        }
    }

    /// A problem at the last byte read (serde_json's place for the end of
    /// the file, and for a value it read whole and then refused).
    pub(super) fn after(&self, message: impl Into<String>) -> Problem {
        Problem::Syntax {
            line: self.at.line,
            column: self.at.before.max(1),
            message: message.into(),
        }
    }

    /// Reads more of the file, dropping the bytes before `keep` (none of
    /// the piece being gathered): how far the bytes kept moved, and whether
    /// any were read (none at the end of the file).
    fn more(&mut self, keep: usize) -> Result<(usize, bool), Problem> {
        if self.eof {
            return Ok((0, false));
        }
        self.buf.drain(..keep);
        self.pos -= keep;
        let len = self.buf.len();
        self.buf.resize(len + READ, 0);
        let n = loop {
            match self.src.read(&mut self.buf[len..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(len);
                    return Err(Problem::Io(e));
                }
            }
        };
        self.buf.truncate(len + n);
        self.eof = n == 0;
        Ok((keep, n > 0))
    }

    /// The next byte that is not white space, not consumed; `None` at the
    /// end of the file.
    pub(super) fn peek(&mut self) -> Result<Option<u8>, Problem> {
        loop {
            while let Some(&b) = self.buf.get(self.pos) {
                match b {
                    b'\n' => {
                        self.at.line += 1;
                        self.at.before = 0;
                    }
                    b' ' | b'\t' | b'\r' => self.at.before += 1,
                    _ => return Ok(Some(b)),
                }
                self.pos += 1;
            }
            if !self.more(self.pos)?.1 {
                return Ok(None);
            }
        }
    }

    /// Consumes the byte [`Frame::peek`] returned (never a newline).
    pub(super) fn bump(&mut self) {
        self.pos += 1;
        self.at.before += 1;
    }

    /// Consumes `byte`, the next one after white space, or says what was
    /// expected (`what`) and what an end of the file cut (`inside`).
    pub(super) fn expect(&mut self, byte: u8, what: &str, inside: &str) -> Result<(), Problem> {
        match self.peek()? {
            Some(b) if b == byte => {
                self.bump();
                Ok(())
            }
            Some(_) => Err(self.syntax(format!("expected {what}"))),
            None => Err(self.after(format!("EOF while parsing {inside}"))),
        }
    }

    /// Before an item of the array or object that `close` ends: `true`
    /// when one follows (its `,` consumed; none before the `first`),
    /// `false` when `close` ends it here (consumed).
    pub(super) fn next_item(&mut self, close: u8, first: bool) -> Result<bool, Problem> {
        match self.peek()? {
            Some(b) if b == close => {
                self.bump();
                Ok(false)
            }
            Some(b',') if !first => {
                self.bump();
                Ok(true)
            }
            Some(_) if first => Ok(true),
            Some(_) => Err(self.syntax(format!("expected `,` or `{}`", close as char))),
            None => Err(self.after(match close {
                b']' => "EOF while parsing a list",
                _ => "EOF while parsing an object",
            })),
        }
    }

    /// The bytes of a piece [`Frame::piece`] returned, until the next call.
    pub(super) fn bytes(&self, piece: Range<usize>) -> &[u8] {
        &self.buf[piece]
    }

    /// The JSON value that starts at the next byte (after white space),
    /// whole: where its bytes are and where it starts in the file. Tokens
    /// longer than `value_limit`, a value longer than `piece_limit`, and
    /// one with more than `crowd` strings, other tokens, brackets,
    /// separators and white-space bytes are refused before they are
    /// gathered. Only the value's extent is found here (brackets, strings
    /// and their escapes); serde_json judges the rest.
    pub(super) fn piece(
        &mut self,
        value_limit: u64,
        piece_limit: u64,
        crowd: u64,
    ) -> Result<(Range<usize>, Place), Problem> {
        if self.peek()?.is_none() {
            return Err(self.after("EOF while parsing a value"));
        }
        let place = self.at;
        let mut start = self.pos;
        let mut i = start;
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        // Bytes of the current string or token, and where it starts.
        let (mut run, mut token) = (0u64, start);
        // Strings and tokens, and the bytes between them.
        let mut crowded = 0u64;
        let end = loop {
            if i == self.buf.len() {
                let (moved, more) = self.more(start)?;
                (start, i, token) = (start - moved, i - moved, token - moved);
                match more {
                    true => continue,
                    false if depth == 0 && !in_string => break i,
                    false => {
                        self.advance(i);
                        return Err(self.after(match in_string {
                            true => "EOF while parsing a string",
                            false => "EOF while parsing a value",
                        }));
                    }
                }
            }
            if (i - start) as u64 > piece_limit {
                return Err(Problem::PieceTooLong { limit: piece_limit });
            }
            if crowded > crowd {
                return Err(Problem::Crowded {
                    line: place.line,
                    column: place.column(),
                });
            }
            if in_string {
                if escaped {
                    escaped = false;
                    run += 1;
                    i += 1;
                } else {
                    match memchr::memchr2(b'"', b'\\', &self.buf[i..]) {
                        Some(at) => {
                            run += at as u64 + 1;
                            i += at;
                            in_string = self.buf[i] != b'"';
                            escaped = in_string;
                            i += 1;
                        }
                        None => {
                            run += (self.buf.len() - i) as u64;
                            i = self.buf.len();
                        }
                    }
                }
                if run > value_limit {
                    return Err(self.too_long(start, token, value_limit));
                }
                if !in_string && depth == 0 {
                    break i;
                }
                continue;
            }
            if run == 0 {
                crowded += 1;
            }
            match self.buf[i] {
                b'"' => {
                    (in_string, run, token) = (true, 1, i);
                    i += 1;
                }
                b'[' | b'{' => {
                    depth += 1;
                    run = 0;
                    i += 1;
                }
                b']' | b'}' if depth > 0 => {
                    depth -= 1;
                    run = 0;
                    i += 1;
                    if depth == 0 {
                        break i;
                    }
                }
                b',' | b':' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n' => {
                    if depth == 0 {
                        break i;
                    }
                    run = 0;
                    i += 1;
                }
                _ => {
                    if run == 0 {
                        token = i;
                    }
                    run += 1;
                    if run > value_limit {
                        return Err(self.too_long(start, token, value_limit));
                    }
                    i += 1;
                }
            }
        };
        self.advance(end);
        Ok((start..end, place))
    }

    /// Consumes the bytes up to `end`, counting their lines.
    fn advance(&mut self, end: usize) {
        let seen = &self.buf[self.pos..end];
        match memchr::memrchr(b'\n', seen) {
            Some(last) => {
                self.at.line += memchr::memchr_iter(b'\n', seen).count();
                self.at.before = seen.len() - last - 1;
            }
            None => self.at.before += seen.len(),
        }
        self.pos = end;
    }

    /// The token at `token` went over the limit: where it starts.
    fn too_long(&mut self, start: usize, token: usize, limit: u64) -> Problem {
        debug_assert!(start <= token);
        self.advance(token);
        Problem::ValueTooLong {
            line: self.at.line,
            column: self.at.column(),
            limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pieces of `text` at its top level, as text with their places.
    fn pieces(text: &str) -> Vec<(String, (usize, usize))> {
        let mut f = Frame::new(text.as_bytes());
        let mut out = vec![];
        while let Some(b) = f.peek().unwrap() {
            if matches!(b, b',' | b':') {
                f.bump();
                continue;
            }
            let (r, at) = f.piece(1 << 20, 1 << 20, u64::MAX).unwrap();
            out.push((
                String::from_utf8(f.bytes(r).to_vec()).unwrap(),
                (at.line, at.column()),
            ));
        }
        out
    }

    #[test]
    fn pieces_end_where_their_value_ends() {
        // Scalars end at a delimiter, strings at their quote (an escaped
        // one does not end them), arrays and objects at their bracket.
        assert_eq!(
            pieces("\"a\\\"]\" : [1, \"x]\", {\"k\": [2]}]\n  , 12.5e3 ,null"),
            vec![
                ("\"a\\\"]\"".into(), (1, 1)),
                ("[1, \"x]\", {\"k\": [2]}]".into(), (1, 10)),
                ("12.5e3".into(), (2, 5)),
                ("null".into(), (2, 13)),
            ]
        );
    }

    #[test]
    fn a_piece_across_reads_comes_whole() {
        let row = format!("[\"{}\",1]", "y".repeat(3 * READ));
        let text = format!("[{row},\n{row}]");
        let got = pieces(&text[1..text.len() - 1]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, row);
        assert_eq!(got[1], (row, (2, 1)));
    }

    #[test]
    fn values_longer_than_the_limit_are_refused_where_they_are() {
        let first = |text: &str, limit: u64| {
            let mut f = Frame::new(text.as_bytes());
            f.expect(b'[', "`[`", "a list")
                .or_else(|_| f.expect(b'{', "`{`", "an object"))
                .unwrap();
            loop {
                match f.piece(limit, 1 << 20, u64::MAX) {
                    Ok(_) => {}
                    Err(Problem::ValueTooLong { line, column, .. }) => return Err((line, column)),
                    Err(Problem::Syntax { .. }) => return Ok(()),
                    Err(e) => panic!("{e:?}"),
                }
                match f.peek().unwrap() {
                    Some(b',' | b':') => f.bump(),
                    _ => return Ok(()),
                }
            }
        };
        // The quotes count; escapes count as written.
        assert!(first(r#"{"a": "12345678"}"#, 10).is_ok());
        assert_eq!(first("{\n\"a\": \"123456789\"}", 10), Err((2, 6)));
        assert_eq!(first("[1,\n  12345678901]", 10), Err((2, 3)));
        assert!(first(r#"["\"\\\"x"]"#, 10).is_ok());
        assert!(first(r#"["\"\\\"xyz"]"#, 10).is_err());
        // Numbers and other tokens too; structure and white space do not.
        assert!(first("[1234567890, 1]", 10).is_ok());
        assert!(first("[12345678901]", 10).is_err());
        assert!(first(&format!("[{}1]", " ".repeat(100)), 10).is_ok());
    }

    #[test]
    fn a_piece_past_its_bound_is_refused_before_it_is_gathered() {
        let text = format!("[{}]", "1,".repeat(1 << 16));
        let mut f = Frame::new(text.as_bytes());
        assert!(matches!(
            f.piece(10, 1000, u64::MAX),
            Err(Problem::PieceTooLong { limit: 1000 })
        ));
        assert!(f.buf.len() < 2 * READ, "{} bytes held", f.buf.len());
    }

    #[test]
    fn a_crowded_piece_is_refused_before_it_is_gathered() {
        // Many small values, or a flood of white space, in one row.
        for text in [
            format!("\n  [{}1]", "1,".repeat(1 << 16)),
            format!("\n  [1,{}2]", " ".repeat(1 << 17)),
        ] {
            let mut f = Frame::new(text.as_bytes());
            match f.piece(10, u64::MAX, 100) {
                Err(Problem::Crowded { line, column }) => assert_eq!((line, column), (2, 3)),
                other => panic!("{other:?}"),
            }
            assert!(f.buf.len() < 2 * READ, "{} bytes held", f.buf.len());
        }
        // A row within bounds passes: a string's bytes are one value.
        let text = format!("[\"{}\", 1, null]", "x".repeat(500));
        let mut f = Frame::new(text.as_bytes());
        assert!(f.piece(1000, u64::MAX, 10).is_ok());
    }

    #[test]
    fn a_cut_piece_is_an_eof_at_the_end() {
        let mut f = Frame::new("\n[1, \"ab".as_bytes());
        match f.piece(10, 1000, u64::MAX) {
            Err(Problem::Syntax {
                line,
                column,
                message,
            }) => {
                assert_eq!((line, column), (2, 7));
                assert_eq!(message, "EOF while parsing a string");
            }
            other => panic!("{other:?}"),
        }
    }
}
