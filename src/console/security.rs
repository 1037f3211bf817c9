//! Who may use the console, checked before any page: the `Host` header
//! (DNS rebinding), the token exchanged once for a session cookie (or sent
//! as a bearer token by programs), and for every change a same-origin
//! `Origin` and the CSRF token the pages carry.
//!
//! The token is required on every address, loopback included, as Jupyter
//! does: another user of the same machine can reach 127.0.0.1 too.

use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{App, ServeOptions};
use crate::error::{ConsoleError, Result};

/// The shortest token accepted on an address beyond this machine.
const MIN_TOKEN: usize = 16;

/// The header htmx and the pages' scripts send the CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// A fresh random token: 32 hex digits.
pub fn generate_token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Refuses a bind beyond loopback with a guessable token.
pub(crate) fn check_bind(opts: &ServeOptions) -> Result<()> {
    if !opts.bind.ip().is_loopback() && opts.token.len() < MIN_TOKEN {
        return Err(ConsoleError::WeakToken { addr: opts.bind }.into());
    }
    Ok(())
}

pub(crate) struct Guard {
    token: String,
    /// The cookie's value: not the token, so a leaked cookie does not
    /// reveal the URL to share, and a restart ends every session.
    session: String,
    csrf: String,
    cookie_name: String,
    /// `Host` values accepted; `None` on an unspecified bind (0.0.0.0),
    /// where the server cannot know its own names.
    hosts: Option<Vec<String>>,
}

impl Guard {
    pub(crate) fn new(opts: &ServeOptions, addr: SocketAddr) -> Self {
        Guard {
            token: opts.token.clone(),
            session: generate_token(),
            csrf: generate_token(),
            // Cookies ignore ports: one name per console on this machine.
            cookie_name: format!("migplan_session_{}", addr.port()),
            hosts: allowed_hosts(addr, &opts.allow_hosts),
        }
    }

    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    pub(crate) fn csrf(&self) -> &str {
        &self.csrf
    }

    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(hosts) = &self.hosts else {
            return true;
        };
        let host = header_str(headers, header::HOST).unwrap_or("");
        hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    fn session_cookie(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .any(|(name, value)| name == self.cookie_name && same(value, &self.session))
    }

    fn bearer(&self, headers: &HeaderMap) -> bool {
        header_str(headers, header::AUTHORIZATION)
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| same(t.trim(), &self.token))
    }

    /// A change from a browser: from a page of this console (same origin)
    /// carrying its CSRF token.
    fn same_origin_change(&self, headers: &HeaderMap) -> bool {
        let host = header_str(headers, header::HOST).unwrap_or("");
        let origin_ok = match header_str(headers, header::ORIGIN) {
            Some(origin) => origin == format!("http://{host}"),
            None => header_str(headers, "sec-fetch-site") == Some("same-origin"),
        };
        let csrf_ok = header_str(headers, CSRF_HEADER).is_some_and(|t| same(t, &self.csrf));
        origin_ok && csrf_ok
    }

    fn set_cookie(&self) -> String {
        format!(
            "{}={}; HttpOnly; SameSite=Strict; Path=/",
            self.cookie_name, self.session
        )
    }
}

/// The `Host` values a browser sends for this address.
fn allowed_hosts(addr: SocketAddr, extra: &[String]) -> Option<Vec<String>> {
    let port = addr.port();
    let mut hosts: Vec<String> = match addr.ip() {
        ip if ip.is_unspecified() && extra.is_empty() => return None,
        ip if ip.is_unspecified() => vec![],
        ip if ip.is_loopback() => vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ],
        _ => vec![addr.to_string()],
    };
    for h in extra {
        hosts.push(h.clone());
        hosts.push(format!("{h}:{port}"));
    }
    Some(hosts)
}

fn header_str<K: header::AsHeaderName>(headers: &HeaderMap, name: K) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Compares secrets in constant time.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
}

/// The `token=` of a URL's query, if any.
fn query_token(query: Option<&str>) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    pairs
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
}

/// The query without its `token=`, to redirect to once it is exchanged.
fn without_token(path: &str, query: &str) -> String {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let kept: Vec<_> = pairs.into_iter().filter(|(k, _)| k != "token").collect();
    match serde_urlencoded::to_string(&kept) {
        Ok(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_string(),
    }
}

/// The middleware in front of every route.
pub(crate) async fn guard(State(app): State<App>, req: Request, next: Next) -> Response {
    let g = &app.guard;
    if !g.host_allowed(req.headers()) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "this console does not answer to that host name (Host header); open it by the address it printed",
        );
    }
    if req.uri().path().starts_with("/assets/") {
        return next.run(req).await;
    }
    if let Some(token) = query_token(req.uri().query()) {
        if !same(&token, &g.token) {
            return refuse(StatusCode::UNAUTHORIZED, "wrong token");
        }
        let to = without_token(req.uri().path(), req.uri().query().unwrap_or(""));
        return (
            StatusCode::SEE_OTHER,
            [(header::SET_COOKIE, g.set_cookie()), (header::LOCATION, to)],
        )
            .into_response();
    }
    let cookie = g.session_cookie(req.headers());
    if !cookie && !g.bearer(req.headers()) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "open the URL `migplan serve` printed (it carries the token once), or send `Authorization: Bearer TOKEN`",
        );
    }
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // Read-only holds for every change, whichever page forgets to ask.
    if changes && app.read_only {
        let e = crate::error::Error::from(crate::error::ConsoleError::ReadOnly);
        return refuse(StatusCode::FORBIDDEN, &e.message());
    }
    // A bearer token is never sent by a browser on its own: only cookies
    // ride along on a forged request, so only they need the origin check.
    if changes && cookie && !g.bearer(req.headers()) && !g.same_origin_change(req.headers()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "a change must come from a page of this console (Origin and CSRF token checked); reload the page and try again",
        );
    }
    next.run(req).await
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{} {why}\n", status.as_u16()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_answers_to_its_names_with_the_port_only() {
        let hosts = allowed_hosts("127.0.0.1:8080".parse().unwrap(), &[]).unwrap();
        assert!(hosts.contains(&"localhost:8080".to_string()));
        assert!(!hosts.iter().any(|h| h.contains("evil")));
        assert!(!hosts.contains(&"127.0.0.1:8081".to_string()));
    }

    #[test]
    fn the_token_leaves_the_url_it_came_in() {
        assert_eq!(
            without_token("/history", "token=abc&lang=zh"),
            "/history?lang=zh"
        );
        assert_eq!(without_token("/", "token=abc"), "/");
    }

    #[test]
    fn a_short_token_is_refused_beyond_loopback_only() {
        let mut opts = super::super::tests::options();
        opts.token = "short".into();
        opts.bind = "0.0.0.0:0".parse().unwrap();
        assert!(check_bind(&opts).is_err());
        opts.bind = "127.0.0.1:0".parse().unwrap();
        assert!(check_bind(&opts).is_ok());
    }
}
