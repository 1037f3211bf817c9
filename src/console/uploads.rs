//! Uploaded backups: streamed to a private file (0600, in a 0700 folder)
//! under a size cap, never held in memory, removed when the job that
//! imports them ends (or when the console stops).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::extract::multipart::Field;
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use crate::error::{ConsoleError, Error, Result};

/// What waits for its import: one uploaded file, or an incremental chain
/// (several uploaded at once, or a backup picked with those it follows).
#[derive(Debug, Clone, Serialize)]
pub struct Upload {
    pub id: String,
    /// What the pages call it: the file's name, or a chain's first and
    /// last.
    pub name: String,
    /// Bytes, every file's together.
    pub size: u64,
    /// The files in import order: a chain's full backup first.
    pub files: Vec<UploadFile>,
    /// The import plan it goes through (`None`: the plan-less import).
    pub plan: Option<PathBuf>,
    /// Whether the console made the files (uploads, removed when their
    /// import ends) or they are backups picked from a backups folder.
    pub owned: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct UploadFile {
    /// The name the browser gave (shown only; never used as a path).
    pub name: String,
    pub size: u64,
    #[serde(skip)]
    pub path: PathBuf,
}

impl Upload {
    fn new(files: Vec<UploadFile>, plan: Option<PathBuf>, owned: bool) -> Upload {
        let name = match files.as_slice() {
            [] => String::new(),
            [one] => one.name.clone(),
            [first, .., last] => format!("{} → {}", first.name, last.name),
        };
        Upload {
            id: super::security::generate_token(),
            name,
            size: files.iter().map(|f| f.size).sum(),
            files,
            plan,
            owned,
        }
    }

    /// Files uploaded together, put in chain order when there are several
    /// (their errors name them as the person did).
    pub(crate) fn uploaded(files: Vec<UploadFile>, plan: Option<PathBuf>) -> Result<Upload> {
        let upload = Upload::new(files, plan, true);
        if upload.files.len() < 2 {
            return Ok(upload);
        }
        let ordered =
            crate::ops::chain_order(&upload.paths()).map_err(|e| ConsoleError::BadUpload {
                cause: upload.alias(&e.to_string()),
            })?;
        let mut files = upload.files.clone();
        files.sort_by_key(|f| ordered.iter().position(|p| *p == f.path));
        Ok(Upload::new(files, upload.plan, true))
    }

    /// The files' paths, in import order.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.files.iter().map(|f| f.path.clone()).collect()
    }

    /// Each private file's path and the name it was uploaded as, for
    /// messages.
    pub fn aliases(&self) -> Vec<(String, String)> {
        match self.owned {
            true => self
                .files
                .iter()
                .map(|f| (f.path.display().to_string(), f.name.clone()))
                .collect(),
            false => vec![],
        }
    }

    /// `text` with the private files named as they were uploaded.
    pub fn alias(&self, text: &str) -> String {
        self.aliases()
            .iter()
            .fold(text.to_string(), |t, (path, name)| t.replace(path, name))
    }

    /// Removes the files the console made (never a picked backup).
    pub(crate) fn remove_owned(&self) {
        if self.owned {
            for f in &self.files {
                let _ = std::fs::remove_file(&f.path);
            }
        }
    }
}

pub(crate) struct Uploads {
    dir: PathBuf,
    /// Removes the folder when the console stops, when we made it.
    _temp: Option<tempfile::TempDir>,
    files: Mutex<HashMap<String, Upload>>,
}

impl Uploads {
    pub(crate) fn new(dir: Option<PathBuf>) -> Result<Uploads> {
        let (dir, temp) = match dir {
            Some(d) => {
                std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
                (d, None)
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("migplan-uploads-")
                    .tempdir()
                    .map_err(|e| Error::io(std::env::temp_dir(), e))?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        private_dir(&dir)?;
        Ok(Uploads {
            dir,
            _temp: temp,
            files: Mutex::default(),
        })
    }

    /// Streams `field` to a new private file, refusing it past `limit` bytes
    /// (the partial file removed).
    pub(crate) async fn receive(&self, mut field: Field<'_>, limit: u64) -> Result<UploadFile> {
        let name = field.file_name().unwrap_or("upload").to_string();
        let id = super::security::generate_token();
        let path = self.dir.join(format!("{id}{}", suffix_of(&name)));
        let mut file = private_file(&path).await?;
        let mut size = 0u64;
        let result: Result<()> = async {
            while let Some(chunk) = field.chunk().await.map_err(|e| ConsoleError::BadUpload {
                cause: e.to_string(),
            })? {
                size += chunk.len() as u64;
                if size > limit {
                    return Err(ConsoleError::UploadTooLarge { limit }.into());
                }
                file.write_all(&chunk)
                    .await
                    .map_err(|e| Error::io(&path, e))?;
            }
            file.flush().await.map_err(|e| Error::io(&path, e))
        }
        .await;
        if let Err(e) = result {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        Ok(UploadFile { name, size, path })
    }

    /// Keeps `upload` for the wizard's next steps.
    pub(crate) fn keep(&self, upload: Upload) {
        self.lock().insert(upload.id.clone(), upload);
    }

    /// Backups of a backups folder (one, or a chain in order), imported
    /// where they lie.
    pub(crate) fn pick(&self, paths: Vec<PathBuf>, plan: Option<PathBuf>) -> Upload {
        let files = paths
            .into_iter()
            .map(|path| UploadFile {
                name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                size: std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
                path,
            })
            .collect();
        let upload = Upload::new(files, plan, false);
        self.keep(upload.clone());
        upload
    }

    /// Where the preview of upload `id` keeps its rows (an id is one of
    /// ours: hex, checked by `get` first).
    pub(crate) fn store_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.preview"))
    }

    /// Removes an upload the person abandoned, and its preview (never a
    /// picked backup).
    pub(crate) fn discard(&self, id: &str) {
        let _ = std::fs::remove_file(self.store_path(id));
        if let Some(u) = self.lock().remove(id) {
            u.remove_owned();
        }
    }

    pub(crate) fn get(&self, id: &str) -> Result<Upload> {
        self.lock()
            .get(id)
            .filter(|u| u.files.iter().all(|f| f.path.exists()))
            .cloned()
            .ok_or_else(|| ConsoleError::NoSuchUpload { id: id.to_string() }.into())
    }

    /// Forgets an upload whose file its job removed.
    pub(crate) fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Upload>> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The suffix format detection reads (`.json`, `.json.zst`, `.xlsx` …),
/// from a name the browser chose: only known suffixes pass.
fn suffix_of(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    const KNOWN: [&str; 8] = [
        ".json.zst.age",
        ".json.gz.age",
        ".json.age",
        ".json.zst",
        ".json.gz",
        ".json",
        ".xlsx",
        ".zip",
    ];
    KNOWN
        .iter()
        .find(|s| lower.ends_with(*s))
        .copied()
        .unwrap_or(".json")
}

fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io(dir, e))
}

async fn private_file(path: &Path) -> Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .await
        .map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_suffixes_survive_from_the_browser() {
        assert_eq!(suffix_of("题目.XLSX"), ".xlsx");
        assert_eq!(suffix_of("b.json.zst"), ".json.zst");
        assert_eq!(suffix_of("b.JSON.zst.age"), ".json.zst.age");
        assert_eq!(suffix_of("../../etc/passwd"), ".json");
    }
}
