//! TLS to PostgreSQL, as `DATABASE_URL`'s `sslmode` asks, with libpq's
//! meanings:
//!
//! - `disable`: plain TCP.
//! - `prefer` (the default): TLS when the server offers it, unverified;
//!   plain TCP when it does not.
//! - `require`: TLS, unverified (verified as for `verify-ca` when
//!   `sslrootcert` is given).
//! - `verify-ca`: TLS with a certificate chained to a trusted root.
//! - `verify-full`: that, and the certificate names the host.
//!
//! Roots are the system's store, or the PEM file `sslrootcert` names.
//! `tokio-postgres` knows only the first three modes, so both parameters are
//! taken out of the URL here and the rest is parsed as before.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verify {
    Nothing,
    Chain,
    ChainAndName,
}

/// Where and how to connect: `DATABASE_URL` read, and its TLS settings.
#[derive(Clone)]
pub(crate) struct Connection {
    /// Everything but TLS (`ssl_mode` is set from `sslmode`).
    pub(crate) config: tokio_postgres::Config,
    /// Makes the TLS sessions.
    pub(crate) tls: MakeRustlsConnect,
}

/// Reads `url`: a `postgres://` URL whose `sslmode` and `sslrootcert` are
/// libpq's, or a key=value string (where `tokio-postgres`'s three modes apply).
pub(crate) fn parse(url: &str) -> Result<Connection, String> {
    let (rest, mode, root_file) = take_tls_parameters(url)?;
    let mut config: tokio_postgres::Config = rest.parse().map_err(|e| format!("{e}"))?;
    let mode = match mode.as_deref() {
        None => match config.get_ssl_mode() {
            SslMode::Disable => "disable",
            SslMode::Require => "require",
            _ => "prefer",
        },
        Some(mode) => mode,
    };
    let (ssl_mode, verify) = match (mode, root_file.is_some()) {
        ("disable", _) => (SslMode::Disable, Verify::Nothing),
        ("allow" | "prefer", _) => (SslMode::Prefer, Verify::Nothing),
        ("require", false) => (SslMode::Require, Verify::Nothing),
        ("require" | "verify-ca", _) => (SslMode::Require, Verify::Chain),
        ("verify-full", _) => (SslMode::Require, Verify::ChainAndName),
        (other, _) => {
            return Err(format!(
                "sslmode={other}: expected disable, prefer, require, verify-ca or verify-full"
            ));
        }
    };
    config.ssl_mode(ssl_mode);
    let roots = roots(root_file.as_deref())?;
    Ok(Connection { config, tls: connector(verify, roots)? })
}

/// `url` without `sslmode` and `sslrootcert`, and their values.
fn take_tls_parameters(url: &str) -> Result<(String, Option<String>, Option<String>), String> {
    let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let Some((base, query)) = url.split_once('?').filter(|_| is_url) else {
        return Ok((url.to_owned(), None, None));
    };
    let (mut mode, mut root_file, mut kept) = (None, None, Vec::new());
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = || {
            form_urlencoded::parse(format!("v={value}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        match key {
            "sslmode" => mode = Some(decoded()),
            "sslrootcert" => root_file = Some(decoded()),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok((rest, mode, root_file))
}

/// The roots certificates must chain to.
fn roots(file: Option<&str>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match file {
        Some(path) => {
            let certificates = CertificateDer::pem_file_iter(path)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(|e| format!("sslrootcert={path}: {e}"))?;
            let (added, _) = roots.add_parsable_certificates(certificates);
            if added == 0 {
                return Err(format!("sslrootcert={path}: no certificate in it"));
            }
        }
        None => {
            // Unreadable entries of the system store are skipped, as libpq does.
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    Ok(roots)
}

fn connector(verify: Verify, roots: RootCertStore) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = if verify == Verify::Nothing || roots.is_empty() {
        None
    } else {
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| format!("cannot use the trusted roots: {e}"))?;
        Some(verifier)
    };
    if verify != Verify::Nothing && chain.is_none() {
        return Err("sslmode asks to verify the server, but no trusted root was found".into());
    }
    let verifier = LibpqVerifier { chain, check_name: verify == Verify::ChainAndName, provider };
    let config = rustls::ClientConfig::builder_with_provider(verifier.provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("{e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// libpq's checks: none, the chain only, or the chain and the host name.
/// The handshake's signatures are always checked.
#[derive(Debug)]
struct LibpqVerifier {
    chain: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for LibpqVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            verified => verified,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_parameters_are_taken_out_of_the_url() {
        let (rest, mode, root) = take_tls_parameters(
            "postgres://u@h:5432/db?sslmode=verify-full&application_name=chat&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u@h:5432/db?application_name=chat");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/etc/ca.pem"));
        let (rest, mode, _) = take_tls_parameters("host=h dbname=db sslmode=require").unwrap();
        assert_eq!((rest.as_str(), mode), ("host=h dbname=db sslmode=require", None));
    }

    #[test]
    fn modes_are_libpqs() {
        let mode = |url: &str| parse(url).map(|c| c.config.get_ssl_mode());
        assert_eq!(mode("postgres://u@h/db").unwrap(), SslMode::Prefer);
        assert_eq!(mode("postgres://u@h/db?sslmode=disable").unwrap(), SslMode::Disable);
        assert_eq!(mode("postgres://u@h/db?sslmode=require").unwrap(), SslMode::Require);
        assert!(mode("postgres://u@h/db?sslmode=sometimes").is_err());
        assert!(mode("postgres://u@h/db?sslmode=verify-ca&sslrootcert=/nonexistent.pem").is_err());
    }

    /// Whether the store's connections are encrypted, as PostgreSQL sees them.
    async fn encrypted(url: &str) -> Result<bool, crate::store::StoreError> {
        let store = crate::store::Store::connect(url).await?;
        let client = store.client().await?;
        let row = client
            .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
            .await?;
        Ok(row.get(0))
    }

    /// Against this machine's PostgreSQL, which serves TLS with a
    /// self-signed certificate for `localhost` (its `ssl_cert_file`).
    #[tokio::test]
    async fn each_mode_connects_as_libpq_would() {
        let database = testkit::database::TestDatabase::new();
        let url = database.url();
        let admin = crate::store::Store::connect(&url).await.unwrap();
        let client = admin.client().await.unwrap();
        let ssl: String = client.query_one("SHOW ssl", &[]).await.unwrap().get(0);
        assert_eq!(ssl, "on", "this machine's PostgreSQL serves TLS");
        let cert: String = client.query_one("SHOW ssl_cert_file", &[]).await.unwrap().get(0);
        let with = |query: &str| format!("{url}?{query}");
        let by_name = |query: &str| format!("{}?{query}", url.replace("127.0.0.1", "localhost"));

        assert!(!encrypted(&with("sslmode=disable")).await.unwrap());
        assert!(encrypted(&url).await.unwrap(), "prefer takes TLS when offered");
        assert!(encrypted(&with("sslmode=require")).await.unwrap());
        let root = format!("sslrootcert={cert}");
        assert!(encrypted(&with(&format!("sslmode=verify-ca&{root}"))).await.unwrap());
        assert!(encrypted(&by_name(&format!("sslmode=verify-full&{root}"))).await.unwrap());
        // The certificate names localhost, not 127.0.0.1.
        assert!(encrypted(&with(&format!("sslmode=verify-full&{root}"))).await.is_err());
        // No public authority signed it.
        let public = "sslrootcert=/etc/ssl/certs/ca-certificates.crt";
        assert!(encrypted(&with(&format!("sslmode=verify-ca&{public}"))).await.is_err());
    }
}
