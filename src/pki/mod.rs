//! X.509 and key material: P-256 key generation, CSR building, certificate
//! parsing, and key files written with mode 0600. Private keys are held in
//! zeroizing buffers and never logged.

pub mod cert;
pub mod csr;
pub mod keys;
