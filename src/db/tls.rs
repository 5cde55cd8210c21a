//! TLS for PostgreSQL connections, paid for only when used.
//!
//! tokio-postgres asks for a TLS connector (`make_tls_connect`) before it sends the SSLRequest,
//! so a ready-built connector costs every TCP connection its setup even when the server refuses
//! TLS (the default `sslmode=prefer` against a server without ssl). [`LazyTls`] hands out a
//! plan instead; the OpenSSL context is built in `TlsConnect::connect`, which runs only after
//! the server has answered the SSLRequest with 'S'. And the context holds only the roots the
//! mode needs: none for `prefer`/`require` (nothing is verified, as in libpq), the
//! `sslrootcert` file when one is given, and the system store only for `verify-ca`/
//! `verify-full` without one — loading the system bundle was most of a short command's time.

use super::SslMode;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::ssl::{Ssl, SslContext, SslMethod, SslVerifyMode};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{X509Ref, X509};
use std::error::Error;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

type BoxError = Box<dyn Error + Send + Sync>;

/// What to verify, and against which roots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verify {
    /// Encrypt only (`prefer`, `require` without `sslrootcert`): no root store at all.
    Nothing,
    /// The chain against the roots (`verify-ca`, `require` with `sslrootcert`).
    Chain,
    /// The chain and the host name (`verify-full`).
    ChainAndHost,
}

impl Verify {
    /// libpq's rules: `require` verifies the chain when a root certificate is given.
    pub(super) fn of(mode: SslMode, has_root_cert: bool) -> Verify {
        match mode {
            SslMode::VerifyFull => Verify::ChainAndHost,
            SslMode::VerifyCa => Verify::Chain,
            SslMode::Require if has_root_cert => Verify::Chain,
            _ => Verify::Nothing,
        }
    }
}

/// A `MakeTlsConnect` that defers all TLS set-up to the handshake.
#[derive(Clone)]
pub(super) struct LazyTls {
    verify: Verify,
    /// The `sslrootcert` certificates (read and parsed before connecting, so that a bad file
    /// is reported as such); `None`: the system store, loaded only if a chain is verified.
    roots: Option<Arc<Vec<X509>>>,
}

impl LazyTls {
    pub(super) fn new(verify: Verify, roots: Option<Vec<X509>>) -> LazyTls {
        LazyTls {
            verify,
            roots: roots.map(Arc::new),
        }
    }

    /// The OpenSSL context for one handshake: built here, after the server said 'S'.
    fn context(&self) -> Result<SslContext, BoxError> {
        let mut ctx = SslContext::builder(SslMethod::tls_client())?;
        if self.verify == Verify::Nothing {
            ctx.set_verify(SslVerifyMode::NONE);
            return Ok(ctx.build());
        }
        match &self.roots {
            Some(roots) => {
                let mut store = X509StoreBuilder::new()?;
                for cert in roots.iter() {
                    store.add_cert(cert.clone())?;
                }
                ctx.set_cert_store(store.build());
            }
            None => ctx.set_default_verify_paths()?,
        }
        ctx.set_verify(SslVerifyMode::PEER);
        Ok(ctx.build())
    }
}

impl<S> MakeTlsConnect<S> for LazyTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type TlsConnect = TlsPlan;
    type Error = BoxError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<TlsPlan, BoxError> {
        Ok(TlsPlan {
            tls: self.clone(),
            domain: domain.to_string(),
        })
    }
}

/// One host's handshake, not yet started.
pub(super) struct TlsPlan {
    tls: LazyTls,
    domain: String,
}

impl<S> TlsConnect<S> for TlsPlan
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<TlsStream<S>, BoxError>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let ctx = self.tls.context()?;
            let mut ssl = Ssl::new(&ctx)?;
            let ip = self.domain.parse::<IpAddr>().ok();
            // SNI carries host names only (RFC 6066), as libpq sends it.
            if ip.is_none() && !self.domain.is_empty() {
                ssl.set_hostname(&self.domain)?;
            }
            if self.tls.verify == Verify::ChainAndHost {
                let param = ssl.param_mut();
                match ip {
                    Some(ip) => param.set_ip(ip)?,
                    None => param.set_host(&self.domain)?,
                }
            }
            let mut stream = tokio_openssl::SslStream::new(ssl, stream)?;
            Pin::new(&mut stream).connect().await.map_err(|e| {
                let verify = stream.ssl().verify_result();
                if verify.as_raw() != 0 {
                    BoxError::from(format!(
                        "certificate verify failed: {}",
                        verify.error_string()
                    ))
                } else {
                    BoxError::from(e)
                }
            })?;
            Ok(TlsStream(stream))
        })
    }
}

/// An established TLS session (with SCRAM channel binding, as postgres-openssl offers it).
pub(super) struct TlsStream<S>(tokio_openssl::SslStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for TlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        match self.0.ssl().peer_certificate() {
            Some(cert) => match server_end_point(&cert) {
                Some(hash) => ChannelBinding::tls_server_end_point(hash),
                None => ChannelBinding::none(),
            },
            None => ChannelBinding::none(),
        }
    }
}

/// RFC 5929 tls-server-end-point: the certificate's hash with its signature's digest
/// (SHA-256 for MD5 and SHA-1).
fn server_end_point(cert: &X509Ref) -> Option<Vec<u8>> {
    let algorithms = cert
        .signature_algorithm()
        .object()
        .nid()
        .signature_algorithms()?;
    let digest = match algorithms.digest {
        Nid::MD5 | Nid::SHA1 => MessageDigest::sha256(),
        nid => MessageDigest::from_nid(nid)?,
    };
    cert.digest(digest).ok().map(|d| d.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_verify_what_libpq_verifies() {
        assert_eq!(Verify::of(SslMode::Prefer, false), Verify::Nothing);
        assert_eq!(Verify::of(SslMode::Prefer, true), Verify::Nothing);
        assert_eq!(Verify::of(SslMode::Require, false), Verify::Nothing);
        assert_eq!(Verify::of(SslMode::Require, true), Verify::Chain);
        assert_eq!(Verify::of(SslMode::VerifyCa, false), Verify::Chain);
        assert_eq!(Verify::of(SslMode::VerifyFull, true), Verify::ChainAndHost);
    }

    #[test]
    fn an_unverified_context_has_no_roots() {
        // The point of the module: nothing is loaded for prefer/require.
        let ctx = LazyTls::new(Verify::Nothing, None).context().unwrap();
        assert_eq!(ctx.cert_store().all_certificates().len(), 0);
        assert_eq!(ctx.verify_mode(), SslVerifyMode::NONE);
        // …whereas a chain is verified against the sslrootcert given, and only that.
        let root = self_signed();
        let pinned = LazyTls::new(Verify::Chain, Some(vec![root]))
            .context()
            .unwrap();
        assert_eq!(pinned.cert_store().all_certificates().len(), 1);
        assert_eq!(pinned.verify_mode(), SslVerifyMode::PEER);
    }

    fn self_signed() -> X509 {
        use openssl::pkey::PKey;
        use openssl::rsa::Rsa;
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = openssl::x509::X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "arcdb test root").unwrap();
        let name = name.build();
        let mut cert = X509::builder().unwrap();
        cert.set_version(2).unwrap();
        cert.set_subject_name(&name).unwrap();
        cert.set_issuer_name(&name).unwrap();
        cert.set_pubkey(&key).unwrap();
        cert.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        cert.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        cert.sign(&key, MessageDigest::sha256()).unwrap();
        cert.build()
    }
}
