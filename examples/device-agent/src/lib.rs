//! A reference device agent for fleetcert's certificate rotation by AWS IoT
//! Jobs (README.md is the contract). Pure parts: [`document`] (the job
//! document), [`keys`] (which key a certificate is for), [`store`] (install,
//! promote, fall back on disk). Transports: [`mqtt`] (the broker, and the
//! Jobs device MQTT API) and [`https`] (the Jobs device HTTP API, SigV4).
//! [`agent::rotate_once`] ties them together.

pub mod agent;
pub mod document;
pub mod https;
pub mod jobs;
pub mod keys;
pub mod mqtt;
pub mod sigv4;
pub mod store;
pub mod tls;
