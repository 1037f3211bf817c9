//! TLS to a PostgreSQL server as libpq's `sslmode=prefer` and `require` do
//! it: the connection encrypted, the server's certificate not verified.
//!
//! Why not native-tls (which the MySQL driver and webhooks use): its
//! OpenSSL connector loads the system's whole certificate bundle whenever
//! one is built, about 60 ms of CPU per process (an incremental export
//! takes a few hundred), only to never look at it. Here an OpenSSL context
//! with no certificate store at all is built once per process.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::ssl::{Ssl, SslContext, SslMethod, SslRef, SslVerifyMode};
use tokio::io::{AsyncRead, AsyncWrite, BufReader, ReadBuf};
use tokio_postgres::tls::{self, ChannelBinding, MakeTlsConnect, TlsConnect};

/// Makes a TLS session per connection from the process's one context.
#[derive(Clone)]
pub(super) struct Unverified(SslContext);

/// The process's context: built on first use, then shared.
pub(super) fn unverified() -> Result<Unverified, openssl::error::ErrorStack> {
    static CONTEXT: OnceLock<SslContext> = OnceLock::new();
    if let Some(context) = CONTEXT.get() {
        return Ok(Unverified(context.clone()));
    }
    let mut builder = SslContext::builder(SslMethod::tls_client())?;
    // Nothing is verified, as with libpq's prefer and require: no store of
    // trusted certificates is needed (and none is loaded).
    builder.set_verify(SslVerifyMode::NONE);
    let context = CONTEXT.get_or_init(|| builder.build());
    Ok(Unverified(context.clone()))
}

impl<S> MakeTlsConnect<S> for Unverified
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type TlsConnect = Connect;
    type Error = openssl::error::ErrorStack;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Connect, Self::Error> {
        let mut ssl = Ssl::new(&self.0)?;
        // The host name goes out in the handshake (SNI), as libpq sends it
        // (`sslsni=1`): services that route connections by it need it. An
        // address is never sent.
        if domain.parse::<std::net::IpAddr>().is_err() {
            ssl.set_hostname(domain)?;
        }
        Ok(Connect(ssl))
    }
}

/// One connection's TLS session, before its handshake.
pub(super) struct Connect(Ssl);

impl<S> TlsConnect<S> for Connect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<TlsStream<S>, Self::Error>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            // The handshake reads many small records: buffered, as
            // postgres-native-tls does.
            let stream = BufReader::with_capacity(8192, stream);
            let mut tls = tokio_openssl::SslStream::new(self.0, stream)?;
            Pin::new(&mut tls).connect().await?;
            Ok(TlsStream(tls))
        })
    }
}

/// An encrypted connection to the server.
pub(super) struct TlsStream<S>(tokio_openssl::SslStream<BufReader<S>>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tls::TlsStream for TlsStream<S> {
    /// SCRAM's channel binding (`SCRAM-SHA-256-PLUS`) ties the login to
    /// this TLS session by the server certificate's hash.
    fn channel_binding(&self) -> ChannelBinding {
        match server_end_point(self.0.ssl()) {
            Some(hash) => ChannelBinding::tls_server_end_point(hash),
            None => ChannelBinding::none(),
        }
    }
}

/// RFC 5929's `tls-server-end-point`: the server certificate hashed with
/// its signature's digest, SHA-256 in place of MD5 and SHA-1.
fn server_end_point(ssl: &SslRef) -> Option<Vec<u8>> {
    let cert = ssl.peer_certificate()?;
    let algorithms = cert
        .signature_algorithm()
        .object()
        .nid()
        .signature_algorithms()?;
    let digest = match algorithms.digest {
        Nid::MD5 | Nid::SHA1 => MessageDigest::sha256(),
        nid => MessageDigest::from_nid(nid)?,
    };
    cert.digest(digest).ok().map(|hash| hash.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ssl::NameType;

    fn server_name(host: &str) -> Option<String> {
        let mut tls = unverified().unwrap();
        let Connect(ssl) =
            MakeTlsConnect::<tokio::net::TcpStream>::make_tls_connect(&mut tls, host).unwrap();
        ssl.servername(NameType::HOST_NAME).map(str::to_string)
    }

    #[test]
    fn the_host_name_is_sent_in_the_handshake_and_an_address_is_not() {
        assert_eq!(
            server_name("db.example.com").as_deref(),
            Some("db.example.com")
        );
        assert_eq!(server_name("127.0.0.1"), None);
        assert_eq!(server_name("::1"), None);
    }
}
