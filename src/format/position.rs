//! Where a row of a JSON backup stands in its file, found on the way out of
//! a failure: the file is streamed once more, its structure followed byte by
//! byte (strings and escapes included), and the line on which the table's
//! Nth row begins is returned. Memory stays flat; nothing is parsed whole.

use std::io::{BufRead, BufReader, Read};

/// The 1-based line on which row `index` (1-based) of `table` in `data`
/// begins, or `None` when it cannot be found.
pub fn row_line(file: impl Read, table: &str, index: u64) -> Option<usize> {
    let mut scan = Scan::new(table);
    let mut input = BufReader::with_capacity(1 << 16, file);
    loop {
        let buf = input.fill_buf().ok()?;
        if buf.is_empty() {
            return None;
        }
        let n = buf.len();
        for &b in buf {
            if let Some(line) = scan.byte(b, index) {
                return Some(line);
            }
        }
        input.consume(n);
    }
}

/// The scanner's state: depth, strings, and how far along the path
/// `{"data": {TABLE: [ row… ]}}` it is.
struct Scan {
    want: Vec<u8>,
    line: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// The text of the string being read, kept only where it may be a key
    /// on the path.
    text: Vec<u8>,
    last_key: Vec<u8>,
    /// Depth of `data`'s object, then of the table's array, once entered.
    data: Option<usize>,
    rows: Option<usize>,
    seen: u64,
}

impl Scan {
    fn new(table: &str) -> Scan {
        Scan {
            want: table.as_bytes().to_vec(),
            line: 1,
            depth: 0,
            in_string: false,
            escaped: false,
            text: Vec::new(),
            last_key: Vec::new(),
            data: None,
            rows: None,
            seen: 0,
        }
    }

    /// Takes one byte; returns the line once row `index` starts.
    fn byte(&mut self, b: u8, index: u64) -> Option<usize> {
        if b == b'\n' {
            self.line += 1;
        }
        if self.in_string {
            match (self.escaped, b) {
                (true, _) => self.escaped = false,
                (false, b'\\') => self.escaped = true,
                (false, b'"') => {
                    self.in_string = false;
                    self.last_key = std::mem::take(&mut self.text);
                }
                _ if self.text.len() <= self.want.len().max(4) => self.text.push(b),
                _ => {}
            }
            return None;
        }
        match b {
            b'"' => {
                self.in_string = true;
                self.text.clear();
            }
            b'{' | b'[' => {
                self.depth += 1;
                let entered = self.depth;
                if self.rows == Some(entered - 1) {
                    self.seen += 1;
                    if self.seen == index {
                        return Some(self.line);
                    }
                }
                match (self.data, self.rows) {
                    (None, _) if entered == 2 && b == b'{' && self.last_key == b"data" => {
                        self.data = Some(entered)
                    }
                    (Some(d), None)
                        if entered == d + 1 && b == b'[' && self.last_key == self.want =>
                    {
                        self.rows = Some(entered)
                    }
                    _ => {}
                }
            }
            b'}' | b']' => {
                if self.rows == Some(self.depth) {
                    self.rows = None;
                    // The table's rows ended without row `index`.
                    self.data = None;
                }
                self.depth = self.depth.saturating_sub(1);
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_line_a_row_starts_on_whatever_the_layout() {
        let text = "{\"meta\": {\"tables\": [{\"name\": \"items\"}]},\n\"data\": {\n\"other\": [\n{\"a\":\"}[{\"}\n],\n\"items\": [\n{\"id\":1},\n{\"id\":2,\n \"v\": \"x\"},\n{\"id\":3}\n]\n}}";
        assert_eq!(row_line(text.as_bytes(), "items", 1), Some(7));
        assert_eq!(row_line(text.as_bytes(), "items", 2), Some(8));
        assert_eq!(row_line(text.as_bytes(), "items", 3), Some(10));
        assert_eq!(row_line(text.as_bytes(), "items", 4), None);
        assert_eq!(row_line(text.as_bytes(), "nope", 1), None);
    }
}
