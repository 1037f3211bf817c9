//! How much a reader takes from one backup file before refusing it: the
//! bounds that keep memory flat on hostile files (a compressed backup that
//! inflates to one 1 GiB string, a workbook whose shared-strings table holds
//! 20 million entries). Set from the plan's `[import]` section once per
//! run ([`set`]); every reader of backup files (import, verify, rollback,
//! chains, the backups listing) obeys the same [`current`] limits, and a run
//! without a plan the defaults.

use std::sync::atomic::{AtomicU64, Ordering};

/// The largest single value a reader builds, in bytes (a string, a
/// number's text, a key), as stored in the file.
pub const DEFAULT_MAX_VALUE_BYTES: u64 = 64 << 20;
/// Bytes of a JSON backup read before its meta must be complete: a
/// migplan meta takes about 100 bytes per column (10,000 columns fit), and
/// a few KiB of zstd can inflate to a gigabyte of padding or of tiny values
/// while the reader looks for the meta's end. The meta is parsed whole, at
/// worst some 30 bytes of memory per byte read.
pub const DEFAULT_MAX_META_BYTES: u64 = 1 << 20;
/// Entries of a workbook's shared-strings table (calamine keeps the whole
/// table in memory, about 24 bytes per entry plus its text).
pub const DEFAULT_MAX_SHARED_STRINGS: u64 = 2_000_000;
/// Uncompressed bytes of a workbook's shared-strings part.
pub const DEFAULT_MAX_SHARED_STRINGS_BYTES: u64 = 100 << 20;

/// The limits in force; see the module's documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReadLimits {
    /// `[import] max_value_bytes`.
    pub max_value_bytes: u64,
    /// `[import] max_meta_bytes`.
    pub max_meta_bytes: u64,
    /// `[import] max_shared_strings`.
    pub max_shared_strings: u64,
    /// `[import] max_shared_strings_bytes`.
    pub max_shared_strings_bytes: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
            max_meta_bytes: DEFAULT_MAX_META_BYTES,
            max_shared_strings: DEFAULT_MAX_SHARED_STRINGS,
            max_shared_strings_bytes: DEFAULT_MAX_SHARED_STRINGS_BYTES,
        }
    }
}

static MAX_VALUE_BYTES: AtomicU64 = AtomicU64::new(DEFAULT_MAX_VALUE_BYTES);
static MAX_META_BYTES: AtomicU64 = AtomicU64::new(DEFAULT_MAX_META_BYTES);
static MAX_SHARED_STRINGS: AtomicU64 = AtomicU64::new(DEFAULT_MAX_SHARED_STRINGS);
static MAX_SHARED_STRINGS_BYTES: AtomicU64 = AtomicU64::new(DEFAULT_MAX_SHARED_STRINGS_BYTES);

/// Makes `limits` the ones every reader obeys from now on.
pub fn set(limits: ReadLimits) {
    MAX_VALUE_BYTES.store(limits.max_value_bytes, Ordering::Relaxed);
    MAX_META_BYTES.store(limits.max_meta_bytes, Ordering::Relaxed);
    MAX_SHARED_STRINGS.store(limits.max_shared_strings, Ordering::Relaxed);
    MAX_SHARED_STRINGS_BYTES.store(limits.max_shared_strings_bytes, Ordering::Relaxed);
}

/// The limits in force.
pub fn current() -> ReadLimits {
    ReadLimits {
        max_value_bytes: MAX_VALUE_BYTES.load(Ordering::Relaxed),
        max_meta_bytes: MAX_META_BYTES.load(Ordering::Relaxed),
        max_shared_strings: MAX_SHARED_STRINGS.load(Ordering::Relaxed),
        max_shared_strings_bytes: MAX_SHARED_STRINGS_BYTES.load(Ordering::Relaxed),
    }
}

/// `1048576` as `1 MiB`, for messages.
pub fn bytes_shown(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}
