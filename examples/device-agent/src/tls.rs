//! rustls client configurations (ring provider): server authentication by a
//! CA file or the system roots, client authentication by an [`Identity`].

use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::keys::PrivateKey;
use crate::store::Identity;

/// Where the server's certificate must chain to.
#[derive(Debug, Clone)]
pub enum ServerRoots {
    /// A PEM file of CA certificates (for AWS IoT Core: Amazon Root CA 1).
    File(std::path::PathBuf),
    /// The operating system's roots.
    System,
}

fn roots(server: &ServerRoots) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match server {
        ServerRoots::File(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!("{}: no usable CA certificate", path.display()));
            }
        }
        ServerRoots::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err("no system CA certificates found".into());
            }
        }
    }
    Ok(store)
}

fn builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, String> {
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
}

/// Mutual TLS as `identity`.
pub fn client_config(server: &ServerRoots, identity: &Identity) -> Result<ClientConfig, String> {
    let chain = CertificateDer::pem_file_iter(&identity.certificate)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", identity.certificate.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "{}: no certificate",
            identity.certificate.display()
        ));
    }
    let key = PrivateKey::from_file(&identity.private_key)?;
    builder()?
        .with_root_certificates(roots(server)?)
        .with_client_auth_cert(chain, key.der)
        .map_err(|e| format!("certificate {}: {e}", identity.name))
}

/// Server authentication only (the SigV4-signed HTTPS data plane).
pub fn server_only_config(server: &ServerRoots) -> Result<ClientConfig, String> {
    Ok(builder()?
        .with_root_certificates(roots(server)?)
        .with_no_client_auth())
}
