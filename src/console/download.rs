//! Files sent to the browser (backups): streamed in chunks, so a backup of
//! any size is sent in bounded memory, named for the person's disk.

use std::path::Path;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tokio::io::AsyncReadExt;

const CHUNK: usize = 256 * 1024;

/// `path` as an attachment; the caller has checked it may be sent.
pub(crate) async fn send(path: &Path) -> Response {
    let file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) => {
            return (StatusCode::NOT_FOUND, format!("{}: {e}", path.display())).into_response();
        }
    };
    let len = file.metadata().await.map(|m| m.len()).ok();
    let chunks = stream::unfold(file, |mut f| async move {
        let mut buf = vec![0u8; CHUNK];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into());
    let mut r = Response::new(Body::from_stream(chunks));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type(&name).parse().unwrap());
    if let Ok(v) = disposition(&name).parse() {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, len.into());
    }
    r
}

fn content_type(name: &str) -> &'static str {
    if name.ends_with(".xlsx") {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    } else if name.ends_with(".json") {
        "application/json"
    } else {
        "application/octet-stream"
    }
}

/// `attachment` with an ASCII fallback and the UTF-8 name (RFC 6266), so a
/// name in Chinese survives and no quote or newline can break the header.
fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| match c {
            c if c.is_ascii_alphanumeric() || "-_.+".contains(c) => c,
            _ => '_',
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b if b.is_ascii_alphanumeric() || b"-_.".contains(&b) => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_cannot_break_the_header() {
        let d = disposition("题库\"\r\nx.json");
        assert!(!d.contains('\r') && !d.contains('\n'));
        assert!(d.starts_with("attachment; filename=\"_____x.json\""), "{d}");
        assert!(
            d.ends_with("filename*=UTF-8''%E9%A2%98%E5%BA%93%22%0D%0Ax.json"),
            "{d}"
        );
    }
}
