//! TLS to the engines Palisade connects to (PostgreSQL with `sslmode=require`, Redis with
//! `rediss://`), for deployments whose database or Redis is across a network. rustls on
//! ring: nothing to install, no OpenSSL. The server's certificate and host name are always
//! checked — against the system's CA certificates, or only against the CAs of a PEM file
//! when one is configured (a private CA, a managed database's CA bundle). There is no
//! setting that skips the check: a connection that would accept any certificate would give
//! a man in the middle every row and every counter.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// A PEM file of CA certificates, read once: its text (for clients that take PEM) and the
/// certificates in it, at least one (`key` names the setting, for the error).
pub fn ca_file(key: &str, path: &str) -> Result<(Vec<u8>, Vec<CertificateDer<'static>>), String> {
    let pem = std::fs::read(path).map_err(|e| format!("{key}: cannot read {path}: {e}"))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{key}: {path} is not PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{key}: {path} holds no certificate"));
    }
    Ok((pem, certs))
}

/// A client configuration trusting `ca_file`'s CAs, or the system's when it is empty.
pub fn client_config(key: &str, ca_file: &str) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    if ca_file.is_empty() {
        for cert in rustls_native_certs::load_native_certs().certs {
            // One unusable system certificate does not spoil the others.
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            return Err(format!(
                "{key}: no system CA certificates found (install ca-certificates, or name a PEM file)"
            ));
        }
    } else {
        for cert in self::ca_file(key, ca_file)?.1 {
            roots.add(cert).map_err(|e| format!("{key}: {ca_file}: {e}"))?;
        }
    }
    // The process's provider: ring, the one rustls is built with here (Cargo.toml).
    let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_hold_pem_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = client_config("store.tls_ca_file", missing.to_str().unwrap()).unwrap_err();
        assert!(err.starts_with("store.tls_ca_file: cannot read"), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = client_config("shared.tls_ca_file", empty.to_str().unwrap()).unwrap_err();
        assert!(err.contains("holds no certificate"), "{err}");
    }
}
