//! Encrypted backups: age (X25519 keys) around the JSON, compressed or not.
//!
//! Writing: [`Sealed`] is the file under the compressor — the bytes of a
//! backup go rows → JSON → zstd/gzip → age → a temporary file, and the age
//! stream is finished before the file is renamed. An encrypted backup's
//! name ends `.age` after the codec's suffix (`….json.zst.age`).
//!
//! Reading: a file starting `age-encryption.org/v1` is decrypted as it
//! streams, with the identities of the [`Keyring`] the front door
//! installed; the codec is then told by the decrypted bytes. The header is
//! read within [`HEADER_LIMIT`] and the payload in age's 64 KiB chunks,
//! each authenticated before a byte of it is handed on, so a hostile file
//! costs bounded memory and a changed or cut one fails where it is read.
//!
//! The keyring is the process's, like its environment: identities come from
//! `--identity FILE` or `MIGPLAN_AGE_IDENTITY`, given once to a command or
//! to `migplan serve`, whose jobs all read with them. Secret keys are never
//! printed: [`Keyring`]'s `Debug` shows the files, errors name lines.

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, RwLock};

use age::x25519;

use super::AtomicFile;
use crate::error::{EncryptionError, Error, Result};

/// How every age file starts.
pub const AGE_MAGIC: &[u8] = b"age-encryption.org/v1";
/// The suffix of an encrypted backup's name, after the codec's.
pub const AGE_SUFFIX: &str = ".age";
/// The most bytes an age header may take: about 600 recipients. A header
/// is read line by line into memory; this bounds a hostile one.
pub const HEADER_LIMIT: u64 = 64 << 10;

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

/// Whether a file name ends `.age`.
pub fn has_age_suffix(path: &Path) -> bool {
    path.extension()
        .is_some_and(|x| x.eq_ignore_ascii_case(&AGE_SUFFIX[1..]))
}

/// `path` without a trailing `.age`: the name the codec and format read.
pub fn without_age_suffix(path: &Path) -> PathBuf {
    match has_age_suffix(path) {
        true => path.with_extension(""),
        false => path.to_path_buf(),
    }
}

/// `path` with `.age` added, unless it ends so already.
pub fn encrypted_name(path: &Path) -> PathBuf {
    if has_age_suffix(path) {
        return path.to_path_buf();
    }
    let mut name = path.as_os_str().to_owned();
    name.push(AGE_SUFFIX);
    PathBuf::from(name)
}

// ---------------------------------------------------------------------------
// Recipients (public keys): writing
// ---------------------------------------------------------------------------

/// The public keys a backup is encrypted to (`[backup] encrypt`, `export
/// --encrypt-to`); never empty.
#[derive(Clone, PartialEq, Eq)]
pub struct Recipients(Vec<x25519::Recipient>);

impl Recipients {
    /// `None` for no key: encryption to nobody is no encryption.
    pub fn new(keys: Vec<x25519::Recipient>) -> Option<Self> {
        (!keys.is_empty()).then_some(Recipients(keys))
    }

    /// One `age1…` public key; the error says why in words that never
    /// quote the text (it may be a secret key written in the wrong place).
    pub fn parse_one(text: &str) -> std::result::Result<x25519::Recipient, String> {
        let text = text.trim();
        let upper = text.to_ascii_uppercase();
        if upper.starts_with("AGE-SECRET-KEY-") {
            return Err("this is a secret key (an identity), which must never be written here: give its public key, which `age-keygen -y FILE` prints".into());
        }
        if text.starts_with("ssh-") {
            return Err(
                "SSH keys are not taken: give an X25519 key (`age1…`, from `age-keygen`)".into(),
            );
        }
        if upper.starts_with("AGE1") && upper.len() > 4 && !text.starts_with("age1") {
            return Err("an `age1…` key is written in lower case".into());
        }
        text.parse()
            .map_err(|e: &str| format!("not an `age1…` X25519 public key: {e}"))
    }

    /// Keys given as command-line words (`--encrypt-to`); `None` for none.
    pub fn from_words(words: &[String]) -> Result<Option<Self>> {
        let keys = words
            .iter()
            .map(|w| {
                Self::parse_one(w).map_err(|reason| EncryptionError::BadRecipient {
                    recipient: shown_key(w),
                    reason,
                })
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Self::new(keys))
    }

    pub fn keys(&self) -> &[x25519::Recipient] {
        &self.0
    }
}

/// A word as an error may quote it: never a secret key's secret part.
fn shown_key(word: &str) -> String {
    match word.to_ascii_uppercase().starts_with("AGE-SECRET-KEY-") {
        true => "AGE-SECRET-KEY-1…".into(),
        false => word.chars().take(80).collect(),
    }
}

// Public keys: safe to show (the plan's `Debug`, `migplan plan --format json`).
impl fmt::Debug for Recipients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}

impl serde::Serialize for Recipients {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|r| r.to_string()))
    }
}

/// The file under the compressor: plain, or an age stream to the
/// recipients. Either way a temporary file until [`Sealed::commit`].
pub enum Sealed {
    Plain(AtomicFile),
    Age(age::stream::StreamWriter<AtomicFile>),
}

impl Sealed {
    pub fn create(path: &Path, recipients: Option<&Recipients>) -> Result<Self> {
        let file = AtomicFile::create(path)?;
        let Some(recipients) = recipients else {
            return Ok(Sealed::Plain(file));
        };
        let keys = recipients.0.iter().map(|r| r as &dyn age::Recipient);
        let encryptor = age::Encryptor::with_recipients(keys)
            .map_err(|e| Error::io(path, io::Error::other(e.to_string())))?;
        let stream = encryptor
            .wrap_output(file)
            .map_err(|e| Error::io(path, e))?;
        Ok(Sealed::Age(stream))
    }

    /// Finishes the age stream (its last, authenticated chunk), then
    /// flushes, syncs and renames the file.
    pub fn commit(self, path: &Path) -> Result<()> {
        match self {
            Sealed::Plain(f) => f.commit(),
            Sealed::Age(w) => w.finish().map_err(|e| Error::io(path, e))?.commit(),
        }
    }
}

impl Write for Sealed {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sealed::Plain(f) => f.write(buf),
            Sealed::Age(w) => w.write(buf),
        }
    }

    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sealed::Plain(f) => f.write_all(buf),
            Sealed::Age(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sealed::Plain(f) => f.flush(),
            Sealed::Age(w) => w.flush(),
        }
    }
}

// ---------------------------------------------------------------------------
// Identities (secret keys): reading
// ---------------------------------------------------------------------------

/// The identities read from identity files, and those files (for errors).
#[derive(Clone, Default)]
pub struct Keyring {
    identities: Vec<x25519::Identity>,
    files: Vec<PathBuf>,
}

// The files only: a secret key is never printed.
impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("files", &self.files)
            .finish()
    }
}

impl Keyring {
    /// Reads every identity file; a file that is not one is an error
    /// naming it (and the line), never quoting a key.
    pub fn load(files: &[PathBuf]) -> Result<Keyring> {
        let mut ring = Keyring::default();
        for file in files {
            ring.identities.extend(read_identity_file(file)?);
            ring.files.push(file.clone());
        }
        Ok(ring)
    }

    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
    }

    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

/// An identity file as `age-keygen` writes it: `AGE-SECRET-KEY-1…` lines,
/// `#` comments and blank lines.
fn read_identity_file(file: &Path) -> Result<Vec<x25519::Identity>> {
    let text = std::fs::read_to_string(file).map_err(|e| EncryptionError::IdentityUnreadable {
        file: file.into(),
        cause: e.to_string(),
    })?;
    let mut found = vec![];
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let identity =
            line.parse::<x25519::Identity>()
                .map_err(|_| EncryptionError::IdentityMalformed {
                    file: file.into(),
                    line: i + 1,
                    hint: identity_hint(line),
                })?;
        found.push(identity);
    }
    if found.is_empty() {
        return Err(EncryptionError::IdentityEmpty { file: file.into() }.into());
    }
    Ok(found)
}

/// Why a line is no identity, without quoting it.
fn identity_hint(line: &str) -> String {
    if line.starts_with("age1") {
        ": it is a public key (a recipient); the identity is the `AGE-SECRET-KEY-1…` line of the file `age-keygen` wrote".into()
    } else if line.starts_with("AGE-PLUGIN-") {
        ": plugin identities are not taken, only X25519 ones".into()
    } else if line.starts_with("-----BEGIN") || line.starts_with("ssh-") {
        ": SSH keys are not taken, only X25519 identities".into()
    } else {
        String::new()
    }
}

static KEYRING: RwLock<Option<Arc<Keyring>>> = RwLock::new(None);

/// Makes `keyring` the one every reader decrypts with from now on (the
/// front door's `--identity` files).
pub fn install(keyring: Keyring) {
    *KEYRING.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(keyring));
}

/// The keyring in force; empty when none was installed.
pub fn installed() -> Arc<Keyring> {
    KEYRING
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default()
}

/// Whether the first bytes of a file say it is an age file.
pub fn is_encrypted(head: &[u8]) -> bool {
    head.starts_with(AGE_MAGIC)
}

/// Whether the file at `path` is an age file.
pub fn is_encrypted_file(path: &Path) -> Result<bool> {
    let mut head = [0u8; AGE_MAGIC.len()];
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let n = file
        .take(head.len() as u64)
        .read(&mut head)
        .map_err(|e| Error::io(path, e))?;
    Ok(is_encrypted(&head[..n]))
}

/// The plaintext of the age file `input` (positioned at its start), read
/// with `keyring`'s identities. The header is read and a key found here;
/// a chunk that fails later comes out as [`CorruptEncryption`].
pub fn decrypting<R: BufRead + 'static>(
    path: &Path,
    input: R,
    keyring: &Keyring,
) -> Result<Box<dyn Read>> {
    if keyring.is_empty() {
        return Err(EncryptionError::NoIdentity { file: path.into() }.into());
    }
    let budget = Rc::new(Cell::new(Some(HEADER_LIMIT)));
    let capped = HeaderCap {
        inner: input,
        left: budget.clone(),
    };
    let decryptor = age::Decryptor::new_buffered(capped).map_err(|e| header_error(path, e))?;
    // The header is read: the payload streams in bounded chunks.
    budget.set(None);
    let scrypt = decryptor.is_scrypt();
    let identities = keyring.identities.iter().map(|i| i as &dyn age::Identity);
    match decryptor.decrypt(identities) {
        Ok(stream) => Ok(Box::new(Decrypting(stream))),
        Err(age::DecryptError::NoMatchingKeys) if !scrypt => {
            Err(EncryptionError::NotForTheseKeys {
                file: path.into(),
                identities: keyring.files.clone(),
            }
            .into())
        }
        Err(e) => Err(header_error(path, e)),
    }
}

/// Why the header stops the read, in words.
fn header_error(path: &Path, e: age::DecryptError) -> Error {
    use age::DecryptError as D;
    let reason = match e {
        D::Io(e) if e.kind() == io::ErrorKind::FileTooLarge => format!(
            "its age header is longer than {}",
            super::limits::bytes_shown(HEADER_LIMIT)
        ),
        D::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            "its age header is cut short".into()
        }
        D::Io(e) => return Error::io(path, e),
        D::InvalidMac => "its age header was changed (its MAC does not match)".into(),
        D::NoMatchingKeys => "it is encrypted to a passphrase; migplan reads backups encrypted to age keys (decrypt it with `age -d` first)".into(),
        D::UnknownFormat => "it is written in an age format newer than this migplan reads".into(),
        e => format!("its age header is malformed ({e})"),
    };
    EncryptionError::Undecryptable {
        file: path.into(),
        reason,
    }
    .into()
}

/// The input while age reads its header: `left` bytes and no more; then
/// (`left` = `None`) the input itself.
struct HeaderCap<R> {
    inner: R,
    left: Rc<Cell<Option<u64>>>,
}

impl<R: BufRead> Read for HeaderCap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(buf.len());
            buf[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for HeaderCap<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let left = self.left.get();
        if left == Some(0) {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                "age header too long",
            ));
        }
        let buf = self.inner.fill_buf()?;
        let n = left.map_or(buf.len(), |l| buf.len().min(l as usize));
        Ok(&buf[..n])
    }

    fn consume(&mut self, amt: usize) {
        if let Some(l) = self.left.get() {
            self.left.set(Some(l - amt as u64));
        }
        self.inner.consume(amt);
    }
}

/// A chunk that fails to authenticate: the file was changed or cut short.
#[derive(Debug)]
pub struct CorruptEncryption {
    pub message: String,
}

impl fmt::Display for CorruptEncryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the encrypted data is corrupt or truncated ({}) — the file was changed, damaged or not completely copied",
            self.message
        )
    }
}

impl std::error::Error for CorruptEncryption {}

/// age's payload reader, its errors marked as [`CorruptEncryption`].
struct Decrypting<R>(age::stream::StreamReader<R>);

impl<R: Read> Read for Decrypting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted {
                return e;
            }
            io::Error::new(
                io::ErrorKind::InvalidData,
                CorruptEncryption {
                    message: e.to_string(),
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;
    use std::io::BufReader;

    fn key() -> (x25519::Identity, Recipients) {
        let id = x25519::Identity::generate();
        let to = Recipients::new(vec![id.to_public()]).unwrap();
        (id, to)
    }

    fn ring(dir: &Path, ids: &[&x25519::Identity]) -> Keyring {
        let file = dir.join("key.txt");
        let text: String = ids
            .iter()
            .map(|i| format!("# created: now\n{}\n", i.to_string().expose_secret()))
            .collect();
        std::fs::write(&file, text).unwrap();
        Keyring::load(&[file]).unwrap()
    }

    fn seal(path: &Path, to: &Recipients, data: &[u8]) {
        let mut f = Sealed::create(path, Some(to)).unwrap();
        f.write_all(data).unwrap();
        f.commit(path).unwrap();
    }

    fn open(path: &Path, ring: &Keyring) -> Result<Vec<u8>> {
        let file = BufReader::new(File::open(path).unwrap());
        let mut r = decrypting(path, file, ring)?;
        let mut out = vec![];
        r.read_to_end(&mut out).map_err(|e| Error::Backup {
            path: path.into(),
            position: None,
            message: e.to_string(),
        })?;
        Ok(out)
    }

    fn data() -> Vec<u8> {
        (0..50_000u32)
            .flat_map(|i| format!("{{\"id\":{i},\"hash\":\"$argon2id$v=19${i}\"}},\n").into_bytes())
            .collect()
    }

    #[test]
    fn a_stream_round_trips_and_hides_its_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let (id, to) = key();
        let path = dir.path().join("b.json.age");
        seal(&path, &to, &data());
        let bytes = std::fs::read(&path).unwrap();
        assert!(is_encrypted(&bytes) && is_encrypted_file(&path).unwrap());
        assert!(!bytes.windows(8).any(|w| w == b"$argon2i"));
        assert_eq!(open(&path, &ring(dir.path(), &[&id])).unwrap(), data());
    }

    #[test]
    fn no_key_and_the_wrong_key_are_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (_, to) = key();
        let path = dir.path().join("b.json.age");
        seal(&path, &to, b"{}");
        let err = open(&path, &Keyring::default()).unwrap_err().to_string();
        assert!(err.contains("b.json.age is encrypted"), "{err}");
        let other = x25519::Identity::generate();
        let err = open(&path, &ring(dir.path(), &[&other]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("was not encrypted to any key in"), "{err}");
        assert!(err.contains("key.txt"), "{err}");
    }

    #[test]
    fn a_changed_or_cut_stream_fails_to_authenticate() {
        let dir = tempfile::tempdir().unwrap();
        let (id, to) = key();
        let ring = ring(dir.path(), &[&id]);
        let path = dir.path().join("b.json.age");
        seal(&path, &to, &data());
        let bytes = std::fs::read(&path).unwrap();
        let mut changed = bytes.clone();
        let last = changed.len() - 3;
        changed[last] ^= 1;
        std::fs::write(&path, &changed).unwrap();
        let err = open(&path, &ring).unwrap_err().to_string();
        assert!(err.contains("corrupt or truncated"), "{err}");
        std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
        let err = open(&path, &ring).unwrap_err().to_string();
        assert!(err.contains("corrupt or truncated"), "{err}");
    }

    #[test]
    fn a_header_past_its_limit_is_refused_in_bounded_memory() {
        let dir = tempfile::tempdir().unwrap();
        let (id, _) = key();
        let path = dir.path().join("b.json.age");
        let mut bomb = b"age-encryption.org/v1\n-> X25519 ".to_vec();
        bomb.extend(std::iter::repeat_n(b'A', 10 << 20));
        std::fs::write(&path, &bomb).unwrap();
        let err = open(&path, &ring(dir.path(), &[&id]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("longer than 64 KiB"), "{err}");
    }

    #[test]
    fn identity_files_are_checked_line_by_line_without_quoting_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let (id, to) = key();
        let file = dir.path().join("id.txt");
        let secret = id.to_string().expose_secret().to_string();
        std::fs::write(&file, format!("# key\n{}\n{secret}x\n", to.0[0])).unwrap();
        let err = Keyring::load(std::slice::from_ref(&file))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("id.txt:2: not an age identity: it is a public key"),
            "{err}"
        );
        std::fs::write(&file, format!("\n{secret}x\n")).unwrap();
        let err = Keyring::load(std::slice::from_ref(&file))
            .unwrap_err()
            .to_string();
        assert!(err.contains("id.txt:2: not an age identity"), "{err}");
        assert!(!err.contains(&secret[16..]), "{err}");
        std::fs::write(&file, "# nothing\n").unwrap();
        let err = Keyring::load(&[file]).unwrap_err().to_string();
        assert!(err.contains("holds no age identity"), "{err}");
        assert!(!format!("{:?}", ring(dir.path(), &[&id])).contains(&secret[16..]));
    }

    #[test]
    fn recipients_are_told_from_secret_and_foreign_keys() {
        let (id, to) = key();
        let public = to.0[0].to_string();
        assert!(Recipients::parse_one(&public).is_ok());
        let secret = id.to_string().expose_secret().to_string();
        let err = Recipients::parse_one(&secret).unwrap_err();
        assert!(
            err.contains("secret key") && !err.contains(&secret[16..]),
            "{err}"
        );
        let err = Recipients::from_words(std::slice::from_ref(&secret))
            .unwrap_err()
            .to_string();
        assert!(!err.contains(&secret[16..]), "{err}");
        assert!(Recipients::parse_one("ssh-ed25519 AAAA").is_err());
        assert!(Recipients::parse_one("age1xyz").is_err());
    }

    #[test]
    fn names_gain_and_lose_age() {
        let p = Path::new("b/x.json.zst");
        assert_eq!(encrypted_name(p), Path::new("b/x.json.zst.age"));
        assert_eq!(
            encrypted_name(&encrypted_name(p)),
            Path::new("b/x.json.zst.age")
        );
        assert_eq!(without_age_suffix(Path::new("b/x.json.zst.age")), p);
        assert_eq!(without_age_suffix(p), p);
    }
}
