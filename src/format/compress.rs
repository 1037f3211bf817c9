//! Transparent compression of JSON backups (zstd or gzip).
//!
//! Writing: [`CompressedFile`] wraps an `AtomicFile` in an encoder; the
//! encoder is finished before the file is committed under its final name.
//! Reading: [`open_reader`] looks at the first bytes of a file — zstd frames
//! start `28 B5 2F FD`, gzip members `1F 8B` — and decompresses on the fly,
//! so every command accepts `backup.json.zst` and `backup.json.gz` as it
//! accepts `backup.json`. Nothing is held in memory: both sides stream.
//!
//! Encryption (`encrypt.rs`) sits beneath: the encoder writes into an age
//! stream when there are recipients, and an age file is decrypted first,
//! its codec then told by the decrypted bytes (`….json.zst.age`).

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

use serde::Serialize;

use super::encrypt::{self, Recipients, Sealed};
use crate::error::{Error, Result};

/// The zstd frame magic number, little-endian `0xFD2FB528`.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// The gzip member magic.
pub const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];

/// zstd's default level: fast, and most of the gain.
const ZSTD_LEVEL: i32 = 3;

/// How a JSON backup's bytes are stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    #[default]
    None,
    Zstd,
    Gzip,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
        }
    }

    /// The suffix added after `.json`: `.zst`, `.gz`, or nothing.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Zstd => ".zst",
            Compression::Gzip => ".gz",
        }
    }

    /// The full extension of a JSON backup so compressed: `.json.zst`, …
    pub fn json_extension(self) -> &'static str {
        match self {
            Compression::None => ".json",
            Compression::Zstd => ".json.zst",
            Compression::Gzip => ".json.gz",
        }
    }

    /// The compression a file name asks for: `*.zst` → zstd, `*.gz` → gzip
    /// (before any `.age`: `*.zst.age` → zstd).
    pub fn from_path(path: &Path) -> Compression {
        match encrypt::without_age_suffix(path)
            .extension()
            .and_then(|x| x.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("zst" | "zstd") => Compression::Zstd,
            Some("gz" | "gzip") => Compression::Gzip,
            _ => Compression::None,
        }
    }

    /// What the first bytes of a file say (at least 4 bytes when there are).
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&ZSTD_MAGIC) {
            Compression::Zstd
        } else if head.starts_with(&GZIP_MAGIC) {
            Compression::Gzip
        } else {
            Compression::None
        }
    }

    /// Reads the first bytes of `path` and tells its compression.
    pub fn of_file(path: &Path) -> Result<Compression> {
        let mut head = [0u8; 4];
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let n = read_head(&mut file, &mut head).map_err(|e| Error::io(path, e))?;
        Ok(Compression::detect(&head[..n]))
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a file name is one a JSON backup may have: `*.json`,
/// `*.json.zst`, `*.json.gz`, each maybe encrypted (`*.json.zst.age`)
/// (folders of backups are listed with it).
pub fn is_json_backup_name(path: &Path) -> bool {
    let path = encrypt::without_age_suffix(path);
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let name = name.to_ascii_lowercase();
    [".json", ".json.zst", ".json.gz"]
        .iter()
        .any(|x| name.ends_with(x))
}

/// Fills `buf` as far as the file allows.
fn read_head(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// A file written under a temporary name, compressed (and encrypted, given
/// recipients) on the way; it appears under its final name only when
/// [`CompressedFile::commit`] has finished the encoder and the age stream,
/// synced and renamed it. Dropped uncommitted, it leaves nothing behind.
///
/// Bytes are gathered into blocks that a thread of the file's own
/// compresses, encrypts and writes, so that the rows of the next block are
/// being read from the database meanwhile: an export keeps its reader, the
/// database and the disk busy at once.
pub struct CompressedFile {
    path: PathBuf,
    block: Vec<u8>,
    /// Full blocks to the writing thread…
    full: Option<mpsc::SyncSender<Vec<u8>>>,
    /// …and written ones back, to be filled again.
    empty: mpsc::Receiver<Vec<u8>>,
    writer: Option<thread::JoinHandle<io::Result<Inner>>>,
}

enum Inner {
    Plain(Sealed),
    Zstd(zstd::stream::write::Encoder<'static, Sealed>),
    Gzip(flate2::write::GzEncoder<Sealed>),
}

/// What a block holds before it is handed on: large enough that handing
/// it over costs nothing next to filling it.
const BLOCK: usize = 1 << 20;
/// Blocks in all, filled and written in turn: the reader runs this far
/// ahead of the disk, and the memory they take is all the memory there is.
const BLOCKS: usize = 4;

impl CompressedFile {
    /// `recipients`: the keys the file is encrypted to, if any.
    pub fn create(
        path: &Path,
        compression: Compression,
        recipients: Option<&Recipients>,
    ) -> Result<Self> {
        let file = Sealed::create(path, recipients)?;
        let inner = match compression {
            Compression::None => Inner::Plain(file),
            Compression::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(file, ZSTD_LEVEL)
                    .map_err(|e| Error::io(path, e))?;
                // A checksum of the content: damage is caught by the
                // decoder, before the JSON reader's own checks.
                enc.include_checksum(true).map_err(|e| Error::io(path, e))?;
                Inner::Zstd(enc)
            }
            Compression::Gzip => Inner::Gzip(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::default(),
            )),
        };
        let (full, to_write) = mpsc::sync_channel::<Vec<u8>>(BLOCKS);
        let (written, empty) = mpsc::channel();
        for _ in 1..BLOCKS {
            written
                .send(Vec::with_capacity(BLOCK))
                .expect("the receiver is here");
        }
        let writer = thread::Builder::new()
            .name("migplan-file".into())
            .spawn(move || write_blocks(inner, to_write, written))
            .map_err(|e| Error::io(path, e))?;
        Ok(CompressedFile {
            path: path.to_path_buf(),
            block: Vec::with_capacity(BLOCK),
            full: Some(full),
            empty,
            writer: Some(writer),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Finishes the encoder and the age stream, then flushes, syncs and
    /// renames the file.
    pub fn commit(mut self) -> Result<()> {
        let path = self.path.clone();
        let io = |e: io::Error| Error::io(&path, e);
        self.hand_on().map_err(io)?;
        self.full = None;
        let file = match self.join().map_err(io)? {
            Inner::Plain(f) => f,
            Inner::Zstd(enc) => enc.finish().map_err(io)?,
            Inner::Gzip(enc) => enc.finish().map_err(io)?,
        };
        file.commit(&path)
    }

    /// The block so far, handed to the writing thread; an empty one taken
    /// back in its place.
    fn hand_on(&mut self) -> io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let block = std::mem::take(&mut self.block);
        let sent = self.full.as_ref().map(|full| full.send(block));
        // Waits while every block is on its way: the disk sets the pace.
        match (sent, self.empty.recv()) {
            (Some(Ok(())), Ok(next)) => {
                self.block = next;
                Ok(())
            }
            // The thread stopped on an error: that error is the answer.
            _ => {
                self.full = None;
                let stopped = || io::Error::other("the file's writer stopped");
                Err(self.join().err().unwrap_or_else(stopped))
            }
        }
    }

    /// The writing thread's end: what it wrote into, or why it stopped.
    fn join(&mut self) -> io::Result<Inner> {
        match self.writer.take().map(thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the file's writer panicked")),
            None => Err(io::Error::other("the file's writer stopped")),
        }
    }
}

/// Dropped uncommitted: the thread is stopped and waited for, so that the
/// temporary file is gone when the drop returns.
impl Drop for CompressedFile {
    fn drop(&mut self) {
        self.full = None;
        let _ = self.join();
    }
}

/// The writing thread: blocks compressed, encrypted and written in order,
/// each sent back to be filled again.
fn write_blocks(
    mut inner: Inner,
    blocks: mpsc::Receiver<Vec<u8>>,
    written: mpsc::Sender<Vec<u8>>,
) -> io::Result<Inner> {
    for mut block in blocks {
        match &mut inner {
            Inner::Plain(f) => f.write_all(&block)?,
            Inner::Zstd(enc) => enc.write_all(&block)?,
            Inner::Gzip(enc) => enc.write_all(&block)?,
        }
        block.clear();
        let _ = written.send(block);
    }
    Ok(inner)
}

impl Write for CompressedFile {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.block.extend_from_slice(buf);
        if self.block.len() >= BLOCK {
            self.hand_on()?;
        }
        Ok(())
    }

    /// Blocks are written in their own time; `commit` waits for them all.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// The error a decoder raised, kept distinct from other I/O errors so that
/// the reader can say the compressed data is damaged rather than "I/O error".
#[derive(Debug)]
pub struct CorruptCompression {
    pub compression: Compression,
    pub message: String,
}

impl fmt::Display for CorruptCompression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {} compressed data is damaged or cut short ({}) — the file was changed, damaged or not completely copied",
            self.compression, self.message
        )
    }
}

impl std::error::Error for CorruptCompression {}

/// If `e` is a decoder's (or the decryption's) error, the backup error that
/// says so, naming `path`.
pub fn corrupt_error(path: &Path, e: &io::Error) -> Option<Error> {
    let inner = e.get_ref()?;
    let message = match inner.downcast_ref::<CorruptCompression>() {
        Some(c) => c.to_string(),
        None => inner
            .downcast_ref::<encrypt::CorruptEncryption>()?
            .to_string(),
    };
    Some(Error::Backup {
        path: path.to_path_buf(),
        position: None,
        message,
    })
}

/// Opens a backup for reading: decrypted when its first bytes say it is an
/// age file (with the installed keyring), then decompressed when the
/// (decrypted) first bytes say it is compressed. Decoder errors come out as
/// [`CorruptCompression`], a chunk that fails to authenticate as
/// [`encrypt::CorruptEncryption`].
pub fn open_reader(path: &Path) -> Result<(Box<dyn Read>, Compression)> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buffered = BufReader::with_capacity(1 << 20, file);
    let head = buffered.fill_buf().map_err(|e| Error::io(path, e))?;
    if !encrypt::is_encrypted(head) {
        return decompressing(path, buffered);
    }
    let plain = encrypt::decrypting(path, buffered, &encrypt::installed())?;
    let mut plain = BufReader::with_capacity(1 << 20, plain);
    let head = plain
        .fill_buf()
        .map_err(|e| corrupt_error(path, &e).unwrap_or_else(|| Error::io(path, e)))?;
    if head.starts_with(b"PK\x03\x04") {
        return Err(Error::Backup {
            path: path.to_path_buf(),
            position: None,
            message: "an encrypted Excel workbook: migplan encrypts and reads encrypted JSON backups only; decrypt it first (`age -d`)".into(),
        });
    }
    decompressing(path, plain)
}

/// `buffered`, decompressed as its first bytes say.
fn decompressing<R: BufRead + 'static>(
    path: &Path,
    mut buffered: R,
) -> Result<(Box<dyn Read>, Compression)> {
    let head = buffered.fill_buf().map_err(|e| Error::io(path, e))?;
    let compression = Compression::detect(head);
    let reader: Box<dyn Read> = match compression {
        Compression::None => Box::new(buffered),
        Compression::Zstd => {
            let mut dec = zstd::stream::read::Decoder::with_buffer(buffered)
                .map_err(|e| Error::io(path, e))?;
            // Backups may be written with long windows by other tools.
            let _ = dec.window_log_max(31);
            Box::new(Decoding {
                inner: BufReader::with_capacity(1 << 20, dec),
                compression,
            })
        }
        Compression::Gzip => Box::new(Decoding {
            inner: BufReader::with_capacity(
                1 << 20,
                flate2::bufread::MultiGzDecoder::new(buffered),
            ),
            compression,
        }),
    };
    Ok((reader, compression))
}

/// A decoder whose errors are marked as [`CorruptCompression`].
struct Decoding<R> {
    inner: R,
    compression: Compression,
}

impl<R: Read> Read for Decoding<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted {
                return e;
            }
            io::Error::new(
                io::ErrorKind::InvalidData,
                CorruptCompression {
                    compression: self.compression,
                    message: e.to_string(),
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, c: Compression, data: &[u8]) {
        let mut f = CompressedFile::create(path, c, None).unwrap();
        f.write_all(data).unwrap();
        f.commit().unwrap();
    }

    fn read_all(path: &Path) -> Result<Vec<u8>> {
        let (mut r, _) = open_reader(path)?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)
            .map_err(|e| corrupt_error(path, &e).unwrap_or_else(|| Error::io(path, e)))?;
        Ok(out)
    }

    fn data() -> Vec<u8> {
        (0..200_000u32)
            .flat_map(|i| format!("{{\"id\":{i},\"name\":\"row {i}\"}},\n").into_bytes())
            .collect()
    }

    #[test]
    fn every_codec_round_trips_and_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let data = data();
        for c in [Compression::None, Compression::Zstd, Compression::Gzip] {
            let path = dir.path().join(format!("b{}", c.json_extension()));
            write(&path, c, &data);
            assert_eq!(Compression::of_file(&path).unwrap(), c);
            assert_eq!(Compression::from_path(&path), c);
            assert!(is_json_backup_name(&path));
            let size = std::fs::metadata(&path).unwrap().len() as usize;
            if c != Compression::None {
                assert!(size < data.len() / 4, "{c}: {size} bytes");
            }
            assert_eq!(read_all(&path).unwrap(), data, "{c}");
        }
    }

    #[test]
    fn truncated_and_damaged_streams_are_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let data = data();
        for c in [Compression::Zstd, Compression::Gzip] {
            let path = dir.path().join(format!("b{}", c.json_extension()));
            write(&path, c, &data);
            let bytes = std::fs::read(&path).unwrap();
            let cut = dir.path().join(format!("cut{}", c.json_extension()));
            std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
            let err = read_all(&cut).unwrap_err().to_string();
            assert!(err.contains("cut.json"), "{err}");
            assert!(err.contains("damaged or cut short"), "{err}");
            let mut flipped = bytes.clone();
            let mid = flipped.len() / 2;
            flipped[mid] ^= 0xff;
            flipped[mid + 1] ^= 0x55;
            let bad = dir.path().join(format!("bad{}", c.json_extension()));
            std::fs::write(&bad, &flipped).unwrap();
            let err = read_all(&bad).unwrap_err().to_string();
            assert!(err.contains("damaged or cut short"), "{c}: {err}");
        }
    }

    #[test]
    fn dropped_writer_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.json.zst");
        let mut f = CompressedFile::create(&path, Compression::Zstd, None).unwrap();
        f.write_all(b"{}").unwrap();
        drop(f);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn compressed_backup_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.json.gz");
        write(&path, Compression::Gzip, b"{}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
