//! Devices' CSRs: read and checked in parallel, reported in device order.

use std::collections::BTreeMap;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::confine::{MAX_CSR_BYTES, read_capped};
use super::files::read_problem;
use super::messages::clip_message;
use super::{CsrJob, CsrOutcome, Loader};
use crate::pki::csr::{self, CsrError};
use crate::spec::diagnostic::display_path;
use crate::spec::{DeviceKey, DeviceSpec};

impl Loader {
    /// Reads and checks every CSR in parallel, then reports in device order.
    pub(super) fn check_csrs(
        &mut self,
        jobs: Vec<CsrJob>,
        devices: &mut BTreeMap<String, DeviceSpec>,
    ) {
        let results: Vec<(Vec<u8>, CsrOutcome)> = jobs
            .par_iter()
            .map(|job| match read_capped(&job.path, MAX_CSR_BYTES) {
                Err(error) => (Vec::new(), Err(read_problem(&error))),
                Ok(bytes) => {
                    let parsed = match std::str::from_utf8(&bytes) {
                        Ok(text) => csr::parse_csr(&job.path, text),
                        Err(_) => Err(CsrError::NotPem),
                    };
                    (bytes, Ok(parsed))
                }
            })
            .collect();
        for (job, (bytes, result)) in jobs.into_iter().zip(results) {
            let shown = display_path(&job.path);
            match result {
                Err(problem) => {
                    self.error(
                        &job.file,
                        job.loc,
                        format!("cannot read CSR `{shown}`: {problem}"),
                        "paths in fleet.yaml are relative to the directory of fleet.yaml; make the CSR on the device and commit it",
                    );
                    if job.attach {
                        devices.remove(&job.device);
                    }
                }
                Ok(parsed) => {
                    self.hashes
                        .insert(job.path.clone(), hex::encode(Sha256::digest(&bytes)));
                    match parsed {
                        Err(error) => {
                            let hint = match error {
                                CsrError::WrongKey { .. } | CsrError::BadPoint => {
                                    "make the device's key on P-256 (prime256v1), e.g. `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=<device>`"
                                }
                                CsrError::BadSignature => {
                                    "make a new CSR on the device; a CSR must be signed by the key it carries"
                                }
                                CsrError::BadBase64 { .. } => {
                                    "the lines between BEGIN and END must be the request's base64 as the device wrote it: copy the CSR file from the device again"
                                }
                                _ => {
                                    "a CSR is a PEM file starting with -----BEGIN CERTIFICATE REQUEST-----"
                                }
                            };
                            // A PEM label or a parser's detail comes from the file: cut it.
                            let message = clip_message(&format!("CSR `{shown}` {error}"));
                            self.error(&job.file, job.loc, message, hint);
                            if job.attach {
                                devices.remove(&job.device);
                            }
                        }
                        Ok(info) if info.common_name != job.device => {
                            self.error(
                                &job.file,
                                job.loc,
                                clip_message(&format!(
                                    "CSR `{shown}` has CN `{}`, but the device is `{}`",
                                    info.common_name, job.device
                                )),
                                format!(
                                    "the CN of a device's CSR is its thing name: make a new CSR with CN={}",
                                    job.device
                                ),
                            );
                            if job.attach {
                                devices.remove(&job.device);
                            }
                        }
                        Ok(info) => {
                            if let Some(device) =
                                devices.get_mut(&job.device).filter(|_| job.attach)
                            {
                                device.key = DeviceKey::Csr(info);
                            }
                        }
                    }
                }
            }
        }
    }
}
