//! TLS for https:// endpoints: the server is verified against the CA file given (never the
//! system's roots: an etcd cluster has its own CA), and a client certificate is presented
//! when one is configured (etcd's --client-cert-auth).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

/// Where the TLS material is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca_file: Option<std::path::PathBuf>,
    pub cert_file: Option<std::path::PathBuf>,
    pub key_file: Option<std::path::PathBuf>,
}

fn certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{what} {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{what} {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{what} {}: no PEM certificate in it",
            path.display()
        ));
    }
    Ok(certs)
}

/// A client configuration from the files: errors name the file and what is wrong with it.
pub fn client_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, String> {
    let ca = files
        .ca_file
        .as_deref()
        .ok_or("https:// endpoints need a CA file to verify the etcd servers")?;
    let mut roots = RootCertStore::empty();
    for cert in certs(ca, "CA file")? {
        roots
            .add(cert)
            .map_err(|e| format!("CA file {}: {e}", ca.display()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots);
    let config = match (&files.cert_file, &files.key_file) {
        (Some(cert), Some(key)) => {
            let chain = certs(cert, "client certificate file")?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("client key file {}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate and key: {e}"))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("a client certificate needs both its certificate and key file".into()),
    };
    Ok(Arc::new(config))
}
