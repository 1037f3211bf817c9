//! The workbook's zip package, inspected before calamine opens it.
//!
//! calamine reads the whole shared-strings table into memory when it opens
//! a workbook, and quick-xml buffers every text, tag, comment or CDATA
//! section whole: a small zip can inflate to a 400 MB string or 20 million
//! entries. So every XML part is streamed once through a bounded scan
//! first (a few KiB of memory whatever the part holds), and the workbook
//! is refused, naming the part and the limit, when one run of text or
//! markup exceeds `max_value_bytes` or the shared-strings table exceeds its
//! entries or bytes. The package must also hold the workbook part its
//! relationships name: calamine reads a zip without one as a workbook of
//! no sheets.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Mutex;

use zip::ZipArchive;
use zip::result::ZipError;

use crate::error::{Error, Result};
use crate::format::limits::{ReadLimits, bytes_shown};

type Package = ZipArchive<BufReader<File>>;

/// Where Excel and every other producer put the workbook part.
const DEFAULT_WORKBOOK_PART: &str = "xl/workbook.xml";
/// The package relationships, which name the workbook part.
const PACKAGE_RELS: &str = "_rels/.rels";
/// Bytes of the package relationships read.
const RELS_READ: u64 = 1 << 20;

/// Checks the package of the workbook at `path` against `limits`.
///
/// One import opens a workbook several times (its `_meta` read first, then
/// every cell checked): a package that passed is not scanned again while
/// the file is the same one, unchanged, and the limits are the same.
pub fn inspect(path: &Path, limits: &ReadLimits) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let stamp = Stamp::of(&file, limits);
    let mut passed = PASSED.lock().unwrap_or_else(|e| e.into_inner());
    if stamp.is_some() && *passed == stamp {
        return Ok(());
    }
    scan_package(path, file, limits)?;
    *passed = stamp;
    Ok(())
}

/// The last package that passed [`inspect`].
static PASSED: Mutex<Option<Stamp>> = Mutex::new(None);

/// A file as [`inspect`] saw it: which file, its size and last change,
/// and the limits it was held to.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    device: u64,
    inode: u64,
    len: u64,
    modified: std::time::SystemTime,
    limits: ReadLimits,
}

impl Stamp {
    /// None where the file's identity cannot be told (then every open scans).
    #[cfg(unix)]
    fn of(file: &File, limits: &ReadLimits) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let m = file.metadata().ok()?;
        Some(Stamp {
            device: m.dev(),
            inode: m.ino(),
            len: m.len(),
            modified: m.modified().ok()?,
            limits: *limits,
        })
    }

    #[cfg(not(unix))]
    fn of(_: &File, _: &ReadLimits) -> Option<Stamp> {
        None
    }
}

fn scan_package(path: &Path, file: File, limits: &ReadLimits) -> Result<()> {
    let mut zip = ZipArchive::new(BufReader::new(file)).map_err(|e| {
        refused(
            path,
            format!("not a readable Excel workbook (.xlsx): not a zip archive ({e})"),
            "the file is damaged or cut short: export it again, or save it again from Excel",
        )
    })?;
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok())
        .map(|n| n.into_owned())
        .collect();
    for name in &names {
        if is_xml_part(name) {
            scan_part(path, &mut zip, name, limits)?;
        }
    }
    let workbook = workbook_part(path, &mut zip, &names)?;
    if find(&names, &workbook).is_none() {
        return Err(refused(
            path,
            format!("not a complete Excel workbook (.xlsx): the part `{workbook}` is missing"),
            "the file is damaged or was not written as a workbook: export it again, or save it again from Excel",
        ));
    }
    Ok(())
}

/// An error naming the file, with what to do.
fn refused(path: &Path, message: String, help: &str) -> Error {
    Error::Backup {
        path: path.to_path_buf(),
        position: None,
        message: format!("{message}\n  = help: {help}"),
    }
}

/// A part name as the package holds it: zip names are matched without
/// regard to case or a leading `/`, as calamine matches them.
fn find<'n>(names: &'n [String], part: &str) -> Option<&'n String> {
    let part = part.trim_start_matches('/');
    names.iter().find(|n| n.eq_ignore_ascii_case(part))
}

fn is_xml_part(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".xml") || lower.ends_with(".rels")
}

fn is_shared_strings(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with("sharedstrings.xml")
}

/// The workbook part the package relationships name (`officeDocument`),
/// else where every producer puts it.
fn workbook_part(path: &Path, zip: &mut Package, names: &[String]) -> Result<String> {
    let Some(rels) = find(names, PACKAGE_RELS) else {
        return Ok(DEFAULT_WORKBOOK_PART.into());
    };
    let mut text = String::new();
    // A few hundred bytes in every workbook; more is not read.
    zip.by_name(rels)
        .map_err(|e| zip_error(path, rels, e))?
        .take(RELS_READ)
        .read_to_string(&mut text)
        .map_err(|e| part_error(path, rels, e))?;
    for tag in text.split('<').filter(|t| t.starts_with("Relationship ")) {
        let attr = |name: &str| {
            let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
            let len = tag[start..].find('"')?;
            Some(&tag[start..start + len])
        };
        if attr("Type").is_some_and(|t| t.ends_with("/officeDocument"))
            && let Some(target) = attr("Target")
        {
            return Ok(target.trim_start_matches('/').to_string());
        }
    }
    Ok(DEFAULT_WORKBOOK_PART.into())
}

fn zip_error(path: &Path, part: &str, e: ZipError) -> Error {
    refused(
        path,
        format!("not a readable Excel workbook (.xlsx): part `{part}`: {e}"),
        "the file is damaged or cut short: export it again, or save it again from Excel",
    )
}

fn part_error(path: &Path, part: &str, e: std::io::Error) -> Error {
    refused(
        path,
        format!("not a readable Excel workbook (.xlsx): part `{part}` cannot be inflated: {e}"),
        "the file is damaged or cut short: export it again, or save it again from Excel",
    )
}

/// Where the scanner is in the XML.
#[derive(Clone, Copy, PartialEq)]
enum State {
    Text,
    /// Just after `<`: which kind of markup follows is not known yet.
    Open,
    /// A tag, with the quote it is inside of, if any.
    Tag(Option<u8>),
    /// `<!--` … `-->`, `<![CDATA[` … `]]>`, `<?` … `?>`, `<!…>`: ends at
    /// the given closing bytes.
    Until(&'static [u8]),
}

/// What one part holds, as far as memory goes.
struct Scan {
    state: State,
    /// Bytes of the current run of text or markup.
    run: u64,
    /// The first bytes of the current markup, to tell its kind and name.
    head: Vec<u8>,
    /// `<si>` entries seen (shared strings).
    entries: u64,
    /// `uniqueCount` of `<sst>`: calamine reserves that many entries.
    declared: Option<u64>,
    bytes: u64,
    doctype: bool,
    /// Whether whole tag heads are kept to count `<si>` and read `<sst>`:
    /// in the shared-strings table only (elsewhere a tag's first bytes
    /// tell its kind, and copying every tag would double the scan's cost).
    heads: bool,
}

/// Markup bytes kept to tell a tag's kind and name, and read `<sst>`'s count.
const HEAD: usize = 256;

impl Scan {
    fn new() -> Self {
        Scan {
            state: State::Text,
            run: 0,
            head: Vec::with_capacity(HEAD),
            entries: 0,
            declared: None,
            bytes: 0,
            doctype: false,
            heads: true,
        }
    }

    /// A scan of a part that is (or is not) the shared-strings table.
    fn of_part(shared: bool) -> Self {
        Scan {
            heads: shared,
            ..Scan::new()
        }
    }

    /// Feeds `buf`; returns the longest run seen in it.
    fn feed(&mut self, buf: &[u8]) -> u64 {
        self.bytes += buf.len() as u64;
        let mut longest = 0;
        let mut i = 0;
        while i < buf.len() {
            i += self.hot(&buf[i..], &mut longest);
            if i < buf.len() {
                i += self.cold(buf[i], &mut longest);
            }
        }
        longest.max(self.run)
    }

    /// Text and element tags, the bulk of every part: each run measured
    /// by where it starts and ends, the bytes between skipped in tight
    /// loops (runs in a sheet are a few bytes long: shorter than a
    /// memchr's set-up); returns the bytes consumed before markup of
    /// another kind (a comment, CDATA, `<?`, `<!`) begins.
    fn hot(&mut self, buf: &[u8], longest: &mut u64) -> usize {
        let n = buf.len();
        let mut i = 0;
        loop {
            match self.state {
                State::Text => {
                    let start = i;
                    while i < n && buf[i] != b'<' {
                        i += 1;
                    }
                    self.run += (i - start) as u64;
                    if i == n {
                        return n;
                    }
                    *longest = (*longest).max(self.run);
                    self.run = 1;
                    self.head.clear();
                    self.state = State::Open;
                    i += 1;
                }
                State::Open => match buf.get(i) {
                    None => return n,
                    // Right after `<`, a letter or `/` starts an element's
                    // tag; later bytes of `<![CDATA[` are left to `cold`.
                    Some(&b) if self.head.is_empty() && (b.is_ascii_alphabetic() || b == b'/') => {
                        self.head.push(b);
                        self.run += 1;
                        self.state = State::Tag(None);
                        i += 1;
                    }
                    // Left to `cold`, which tells the kind of markup.
                    Some(_) => return i,
                },
                State::Tag(quote) => {
                    let start = i;
                    match quote {
                        Some(q) => {
                            while i < n && buf[i] != q {
                                i += 1;
                            }
                        }
                        None => {
                            while i < n && !matches!(buf[i], b'"' | b'\'' | b'>') {
                                i += 1;
                            }
                        }
                    }
                    let end = (i + 1).min(n);
                    if self.heads {
                        let room = HEAD.saturating_sub(self.head.len()).min(end - start);
                        self.head.extend_from_slice(&buf[start..start + room]);
                    }
                    self.run += (end - start) as u64;
                    if i == n {
                        return n;
                    }
                    self.state = match (quote, buf[i]) {
                        (Some(_), _) => State::Tag(None),
                        (None, b'>') => {
                            if self.heads {
                                self.end_tag();
                            }
                            self.close_markup(longest);
                            State::Text
                        }
                        (None, q) => State::Tag(Some(q)),
                    };
                    i += 1;
                }
                State::Until(_) => return i,
            }
        }
    }

    /// One byte of the rarer markup, or the byte after `<` that tells
    /// which kind it is.
    fn cold(&mut self, b: u8, longest: &mut u64) -> usize {
        self.run += 1;
        match self.state {
            State::Until(end) => {
                if self.head.len() < end.len() {
                    self.head.push(b);
                } else {
                    self.head.rotate_left(1);
                    *self.head.last_mut().expect("not empty") = b;
                }
                if self.head == end {
                    self.close_markup(longest);
                }
            }
            _ => {
                if self.head.len() < HEAD {
                    self.head.push(b);
                }
                self.state = self.kind_of_markup();
            }
        }
        1
    }

    /// After the first bytes of markup: its kind, once they tell.
    fn kind_of_markup(&mut self) -> State {
        let h = self.head.as_slice();
        if h.starts_with(b"!--") {
            self.head.clear();
            State::Until(b"-->")
        } else if h.starts_with(b"![CDATA[") {
            self.head.clear();
            State::Until(b"]]>")
        } else if h.starts_with(b"?") {
            self.head.clear();
            State::Until(b"?>")
        } else if h.starts_with(b"!") && h.len() < 8 && b"![CDATA[".starts_with(h) || h == b"!-" {
            State::Open
        } else if h.starts_with(b"!") {
            // `<!DOCTYPE`: OOXML parts never have one, and its internal
            // subset is buffered whole by the parser.
            self.doctype = true;
            State::Tag(None)
        } else if h == b">" {
            State::Text
        } else {
            State::Tag(None)
        }
    }

    fn close_markup(&mut self, longest: &mut u64) {
        *longest = (*longest).max(self.run);
        self.run = 0;
        self.head.clear();
        self.state = State::Text;
    }

    /// At the end of a tag: counts `<si>` and reads `<sst uniqueCount>`.
    fn end_tag(&mut self) {
        let h = self.head.as_slice();
        if h.starts_with(b"/") {
            return;
        }
        let name_end = h
            .iter()
            .position(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')
            .unwrap_or(h.len());
        let name = &h[..name_end];
        let local = name.rsplit(|b| *b == b':').next().unwrap_or(name);
        match local {
            b"si" => self.entries += 1,
            b"sst" => self.declared = unique_count(h),
            _ => {}
        }
    }
}

/// `uniqueCount="N"` in the head of an `<sst>` tag.
fn unique_count(tag: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(tag).ok()?;
    let start = text.find("uniqueCount=")? + "uniqueCount=".len() + 1;
    // Hostile text: the quote may be missing or the head cut short.
    let rest = text.get(start..)?;
    let len = rest.find(['"', '\''])?;
    rest[..len].trim().parse().ok()
}

/// Streams one part through [`Scan`], refusing it at the first limit.
fn scan_part(path: &Path, zip: &mut Package, name: &str, limits: &ReadLimits) -> Result<()> {
    let shared = is_shared_strings(name);
    let mut part = zip.by_name(name).map_err(|e| zip_error(path, name, e))?;
    let mut scan = Scan::of_part(shared);
    let mut buf = vec![0u8; 64 << 10];
    let what = if shared {
        format!("the shared-strings table (`{name}`)")
    } else {
        format!("part `{name}`")
    };
    loop {
        let n = match part.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(part_error(path, name, e)),
        };
        let longest = scan.feed(&buf[..n]);
        if longest > limits.max_value_bytes {
            return Err(refused(
                path,
                format!(
                    "{what} holds a value or tag longer than {}, the limit (`[import] max_value_bytes`)",
                    bytes_shown(limits.max_value_bytes)
                ),
                "export the table in the JSON format, or raise `max_value_bytes` in the plan's `[import]` if the file is trusted",
            ));
        }
        if scan.doctype {
            return Err(refused(
                path,
                format!("{what} holds a DOCTYPE declaration, which no workbook has"),
                "the file was not written by Excel or migplan: save it again from Excel",
            ));
        }
        if shared {
            check_shared_strings(path, &what, &scan, limits)?;
        }
    }
    Ok(())
}

fn check_shared_strings(path: &Path, what: &str, scan: &Scan, limits: &ReadLimits) -> Result<()> {
    let help = "save the workbook with fewer distinct texts, split it, or raise the limit in the plan's `[import]` if the file is trusted";
    if scan.bytes > limits.max_shared_strings_bytes {
        return Err(refused(
            path,
            format!(
                "{what} is larger than {} uncompressed, the limit (`[import] max_shared_strings_bytes`)",
                bytes_shown(limits.max_shared_strings_bytes)
            ),
            help,
        ));
    }
    let entries = scan.entries.max(scan.declared.unwrap_or(0));
    if entries > limits.max_shared_strings {
        return Err(refused(
            path,
            format!(
                "{what} holds more than {} entries, the limit (`[import] max_shared_strings`)",
                limits.max_shared_strings
            ),
            help,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(parts: &[&[u8]]) -> (u64, Scan) {
        let mut s = Scan::new();
        let longest = parts.iter().map(|p| s.feed(p)).max().unwrap_or(0);
        (longest, s)
    }

    /// A package of a workbook part and one sheet holding `text`.
    fn package(path: &Path, text: &str) {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file(DEFAULT_WORKBOOK_PART, options).unwrap();
        zip.write_all(b"<workbook/>").unwrap();
        zip.start_file("xl/worksheets/sheet1.xml", options).unwrap();
        write!(zip, "<sheetData><c><v>{text}</v></c></sheetData>").unwrap();
        zip.finish().unwrap();
    }

    #[test]
    fn a_package_is_scanned_again_once_changed_or_held_to_other_limits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("book.xlsx");
        let limits = ReadLimits {
            max_value_bytes: 100,
            ..ReadLimits::default()
        };
        package(&path, "short");
        inspect(&path, &limits).unwrap();
        inspect(&path, &limits).unwrap();
        let tight = ReadLimits {
            max_value_bytes: 4,
            ..limits
        };
        assert!(
            inspect(&path, &tight).is_err(),
            "other limits, scanned again"
        );
        package(&path, &"x".repeat(200));
        let e = inspect(&path, &limits).unwrap_err().to_string();
        assert!(e.contains("max_value_bytes"), "{e}");
    }

    #[test]
    fn runs_of_text_and_markup_are_measured_across_buffers() {
        let (longest, s) = scan(&[b"<sst uniqueCount=\"3\"><si><t>abc", b"defg</t></si><si/>"]);
        assert_eq!(longest, "<sst uniqueCount=\"3\">".len() as u64);
        assert_eq!((s.entries, s.declared), (2, Some(3)));
        let (longest, _) = scan(&[b"<t>", &[b'a'; 1000], b"</t>"]);
        assert_eq!(longest, 1000);
    }

    #[test]
    fn runs_end_where_the_byte_at_a_time_scan_ended_them() {
        // Quotes inside text are text; `>` inside quotes is the tag's; a
        // tag split across buffers is one run.
        let (longest, _) = scan(&[b"<a b=\"x>y\" c='>'>don't \"quote\"</a>"]);
        assert_eq!(longest, "<a b=\"x>y\" c='>'>".len() as u64);
        let (longest, _) = scan(&[b"<row r=\"2\"><c r=\"A", b"2\" s=\"3\"><v>1</v></c></row>"]);
        assert_eq!(longest, "<c r=\"A2\" s=\"3\">".len() as u64);
        let mut sheet = Scan::of_part(false);
        sheet.feed(b"<sst uniqueCount=\"9\"><si><t>a</t></si>");
        assert_eq!(
            (sheet.entries, sheet.declared),
            (0, None),
            "counted in the table only"
        );
    }

    /// The longest run of text or tag in `xml` (no comments, CDATA or
    /// declarations), one byte at a time: what the scan must find.
    fn longest_run(xml: &[u8]) -> u64 {
        let (mut longest, mut run, mut tag, mut quote) = (0, 0u64, false, None);
        for &b in xml {
            match (tag, quote) {
                (false, _) if b == b'<' => {
                    longest = longest.max(run);
                    (run, tag) = (1, true);
                    continue;
                }
                (true, Some(q)) if b == q => quote = None,
                (true, None) if b == b'"' || b == b'\'' => quote = Some(b),
                (true, None) if b == b'>' => {
                    longest = longest.max(run + 1);
                    (run, tag) = (0, false);
                    continue;
                }
                _ => {}
            }
            run += 1;
        }
        longest.max(run)
    }

    #[test]
    fn runs_are_found_however_the_bytes_are_split() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let alphabet = b"<<>>\"'aab /=";
        for _ in 0..2000 {
            let len = rng.random_range(0..60);
            let mut xml: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            // Markup never starts `<!` or `<?` here: the reference knows none.
            for k in 1..xml.len() {
                if xml[k - 1] == b'<' && !xml[k].is_ascii_alphabetic() && xml[k] != b'/' {
                    xml[k] = b'a';
                }
            }
            let cut = rng.random_range(0..=xml.len());
            let (a, b) = xml.split_at(cut);
            let (longest, _) = scan(&[a, b]);
            assert_eq!(
                longest,
                longest_run(&xml),
                "{:?}",
                String::from_utf8_lossy(&xml)
            );
        }
    }

    #[test]
    fn cdata_comments_and_quoted_brackets_count_as_one_run() {
        let cdata = [
            b"<t><![CDATA[".as_slice(),
            &b"a>b<c".repeat(100),
            b"]]></t>",
        ]
        .concat();
        let (longest, _) = scan(&[&cdata]);
        assert_eq!(longest, 500 + 12);
        let comment = [b"<!--".as_slice(), &b"->".repeat(100), b"-->"].concat();
        assert_eq!(scan(&[&comment]).0, 207);
        let attr = [b"<c r=\"".as_slice(), &b">".repeat(100), b"\"/>"].concat();
        assert_eq!(scan(&[&attr]).0, 109);
        assert!(scan(&[b"<!DOCTYPE x [<!ENTITY a \"b\">]><x/>"]).1.doctype);
        assert!(!scan(&[b"<?xml version=\"1.0\"?><x:si/>"]).1.doctype);
        assert_eq!(scan(&[b"<?xml version=\"1.0\"?><x:si/>"]).1.entries, 1);
    }
}
