//! Reading the spec's files: text (hashed as it is read), YAML, include
//! patterns, and the digest over every file read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::Loader;
use super::confine::{ReadError, read_capped};
use super::messages::{io_problem, yaml_error};
use crate::spec::diagnostic::display_path;
use crate::spec::model::{self, Loc, Sp};

impl Loader {
    /// Reads a text file, recording its hash. On failure reports at `at`
    /// (where the file is named) or, for the spec itself, at the file.
    pub(super) fn read_text(
        &mut self,
        path: &Path,
        what: &str,
        at: Option<(&Path, Loc)>,
        cap: u64,
    ) -> Option<String> {
        let result = read_capped(path, cap);
        let problem = match result {
            Ok(bytes) => {
                self.hashes
                    .insert(path.to_path_buf(), hex::encode(Sha256::digest(&bytes)));
                match String::from_utf8(bytes) {
                    Ok(text) => return Some(text),
                    Err(_) => "it is not UTF-8 text".to_owned(),
                }
            }
            Err(error) => read_problem(&error),
        };
        let message = format!("cannot read {what} `{}`: {problem}", display_path(path));
        let (file, loc) = at.unwrap_or((path, Loc::default()));
        let file = file.to_path_buf();
        let hint = if path == self.spec_path {
            "name the spec with -f, e.g. `fleetcert validate -f path/to/fleet.yaml`"
        } else {
            "paths in fleet.yaml are relative to the directory of fleet.yaml"
        };
        self.error(&file, loc, message, hint);
        None
    }

    pub(super) fn parse_yaml<T: DeserializeOwned>(&mut self, path: &Path, text: &str) -> Option<T> {
        self.sources.insert(path.to_path_buf(), Arc::from(text));
        match serde_saphyr::from_str::<T>(text) {
            Ok(value) => Some(value),
            Err(error) => {
                self.push(yaml_error(path, text, &error));
                None
            }
        }
    }

    pub(super) fn digest(&self) -> (String, BTreeMap<PathBuf, String>) {
        let mut lines: Vec<(String, &String)> = self
            .hashes
            .iter()
            .map(|(path, hash)| {
                let relative = path.strip_prefix(&self.base).unwrap_or(path);
                (display_path(relative), hash)
            })
            .collect();
        lines.sort();
        let mut hasher = Sha256::new();
        for (path, hash) in lines {
            hasher.update(format!("{hash}  {path}\n").as_bytes());
        }
        (hex::encode(hasher.finalize()), self.hashes.clone())
    }

    pub(super) fn include_paths(
        &mut self,
        f: &Path,
        include: &Sp<model::IncludeList>,
    ) -> Vec<PathBuf> {
        let mut paths = BTreeSet::new();
        for pattern in &include.value.0 {
            let loc = if pattern.loc.is_known() {
                pattern.loc
            } else {
                include.loc
            };
            if !self.confined(f, loc, &pattern.value, "include pattern") {
                continue;
            }
            let full = self.resolve(&pattern.value);
            let full_text = full.to_string_lossy().into_owned();
            let matches = match glob::glob(&full_text) {
                Err(error) => {
                    self.error(
                        f,
                        loc,
                        format!("invalid include pattern `{}`: {}", pattern.value, error.msg),
                        "an include is a glob pattern relative to fleet.yaml, e.g. `devices/*.yaml`",
                    );
                    continue;
                }
                Ok(matches) => matches,
            };
            let mut found = 0;
            for entry in matches {
                match entry {
                    Ok(path) if path == self.spec_path => {}
                    Ok(path)
                        if self
                            .root
                            .check_resolved(&path, &display_path(&path))
                            .is_err() =>
                    {
                        found += 1;
                        let shown = display_path(&path);
                        self.error(
                            f,
                            loc,
                            format!(
                                "include pattern `{}` matches `{shown}`, which resolves outside the repository",
                                pattern.value
                            ),
                            super::CONFINED_HINT,
                        );
                    }
                    Ok(path) if path.is_file() => {
                        found += 1;
                        paths.insert(path);
                    }
                    Ok(_) => {}
                    Err(error) => {
                        found += 1;
                        let path = error.path().to_path_buf();
                        self.error(
                            f,
                            loc,
                            format!(
                                "cannot read included file `{}`: {}",
                                display_path(&path),
                                io_problem(error.error())
                            ),
                            "check the file's permissions",
                        );
                    }
                }
            }
            if found == 0 {
                self.error(
                    f,
                    loc,
                    format!("include pattern `{}` matches no file", pattern.value),
                    "patterns are relative to the directory of fleet.yaml; remove the pattern or add the files",
                );
            }
        }
        paths.into_iter().collect()
    }
}

/// A read failure in words that do not depend on the platform.
pub(super) fn read_problem(error: &ReadError) -> String {
    match error {
        ReadError::Io(error) => io_problem(error),
        other => other.to_string(),
    }
}
