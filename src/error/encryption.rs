//! What can be wrong with an encrypted backup (age) or the keys given to
//! read one: no identity, identities the file was not encrypted to, an
//! identity file that is not one, a header that cannot be read, a
//! workbook asked to be encrypted.
//!
//! No message ever holds a key: an identity file's bad line is named by
//! its number, never shown.

use std::path::PathBuf;

/// A fact of encryption that stops a read or a write; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum EncryptionError {
    /// An encrypted backup read without any identity.
    #[error(
        "{} is encrypted (age) and no identity was given to decrypt it\n  = help: pass --identity FILE (or set MIGPLAN_AGE_IDENTITY=FILE) naming the age identity file (`AGE-SECRET-KEY-1…`) of one of its recipients; nothing was changed",
        .file.display()
    )]
    NoIdentity { file: PathBuf },

    /// None of the identities given opens the file.
    #[error(
        "{} was not encrypted to any key in {}\n  = help: pass the identity file of one of the keys listed in the plan's `[backup] encrypt` when the backup was taken; nothing was changed",
        .file.display(), super::shown_paths(.identities)
    )]
    NotForTheseKeys {
        file: PathBuf,
        identities: Vec<PathBuf>,
    },

    /// The age header cannot be read: cut short, malformed, too long,
    /// changed (its MAC), encrypted to a passphrase, a newer age format.
    #[error(
        "{}: cannot decrypt: {reason}\n  = help: the file was changed, damaged or not completely copied, or not written by migplan; nothing was changed",
        .file.display()
    )]
    Undecryptable { file: PathBuf, reason: String },

    /// An identity file that cannot be read.
    #[error("cannot read the identity file {}: {cause}", .file.display())]
    IdentityUnreadable { file: PathBuf, cause: String },

    /// A line of an identity file that is not an X25519 identity (the
    /// line itself is never shown: it may be a key).
    #[error(
        "{}:{line}: not an age identity{hint}\n  = help: an identity file holds `AGE-SECRET-KEY-1…` lines (as `age-keygen` writes them) and `#` comments; the line is not shown",
        .file.display()
    )]
    IdentityMalformed {
        file: PathBuf,
        line: usize,
        /// Why, in words that do not quote the line.
        hint: String,
    },

    /// An identity file without a single identity.
    #[error(
        "{} holds no age identity\n  = help: make one with `age-keygen -o FILE` (or `rage-keygen`); an identity file holds `AGE-SECRET-KEY-1…` lines",
        .file.display()
    )]
    IdentityEmpty { file: PathBuf },

    /// A workbook asked to be encrypted: a zip must be seekable to be
    /// read, an age stream is not.
    #[error(
        "{}: an Excel workbook cannot be encrypted; nothing was written\n  = help: encryption applies to JSON backups: export JSON (`format = \"json\"`, `-o FILE.json`), or take the workbook from a plan without `[backup] encrypt`",
        .file.display()
    )]
    EncryptedWorkbook { file: PathBuf },

    /// An output named `*.age` and nobody to encrypt it to.
    #[error(
        "{}: the name says encrypted (`.age`), and no recipient was given; nothing was written\n  = help: pass --encrypt-to age1… (or set `[backup] encrypt` in the plan), or drop `.age` from the name",
        .file.display()
    )]
    AgeNameWithoutRecipients { file: PathBuf },

    /// A recipient given on the command line that is not an age public key.
    #[error(
        "`{recipient}` is not an age public key ({reason})\n  = help: give the `age1…` line that `age-keygen` prints as `Public key:`"
    )]
    BadRecipient { recipient: String, reason: String },
}

impl EncryptionError {
    /// Asked wrongly (no key, the wrong key, a bad key file or flag):
    /// nothing was attempted. A file that cannot be decrypted is a fact of
    /// the file.
    pub fn is_usage(&self) -> bool {
        !matches!(self, EncryptionError::Undecryptable { .. })
    }
}
