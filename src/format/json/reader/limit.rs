//! The errors of the reading limits (`[import] max_value_bytes`,
//! `max_meta_bytes`), which `frame.rs` enforces as the file streams in, so
//! that a file's size never sets the memory it takes.

use std::path::Path;

use crate::error::Error;
use crate::format::limits::bytes_shown;

/// The error of a value over the limit at `line:column`, naming the table
/// being read.
pub(super) fn too_long_error(
    path: &Path,
    table: Option<&str>,
    limit: u64,
    position: (usize, usize),
) -> Error {
    let place = table.map(|t| format!("table `{t}`: ")).unwrap_or_default();
    Error::Backup {
        path: path.to_path_buf(),
        position: Some(position),
        message: format!(
            "{place}a value longer than {}, the limit (`[import] max_value_bytes`)\n  = help: raise `max_value_bytes` in the plan's `[import]` if the file is trusted",
            bytes_shown(limit)
        ),
    }
}

/// Bytes read past a meta of `[import] max_meta_bytes` before it is refused.
pub(super) const READ_BUFFER: usize = 1 << 16;
