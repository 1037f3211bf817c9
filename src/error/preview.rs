//! What can be wrong with an import preview's store (data/preview/): the
//! SQLite file a preview's rows are written to and paged from.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// The store cannot be made where the request says.
    #[error(
        "cannot write the preview's rows to {}: {cause}\n  = help: name a store file in a folder migplan may write to",
        .path.display()
    )]
    StoreUnwritable { path: PathBuf, cause: String },

    /// A file opened as a store that no preview wrote (or one it did not
    /// finish).
    #[error(
        "{} is not a finished preview's store{}\n  = help: run the preview again: its store is written whole, then renamed into place",
        .path.display(),
        .cause.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()
    )]
    NotAStore {
        path: PathBuf,
        cause: Option<String>,
    },

    /// A class of rows asked for by a name no class has.
    #[error("no class of rows is called `{name}`\n  = help: the classes are {}", .known.join(", "))]
    UnknownClass {
        name: String,
        known: Vec<&'static str>,
    },
}
