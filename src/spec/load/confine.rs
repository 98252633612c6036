//! What a spec may read: only files inside its repository, only regular
//! files, and only so much of each.
//!
//! Whoever opens a pull request writes fleet.yaml and every file beside it,
//! while the pipeline that runs fleetcert holds AWS credentials in its
//! environment. A path such as `/proc/self/environ`, `../../etc/passwd` or a
//! committed symlink to either would put the pipeline's secrets into an error
//! snippet, and `/dev/zero` or a FIFO would hang it. So every path a spec
//! names must stay inside the repository (the git work tree holding the
//! spec, or the spec's directory outside one), and is read only if it is a
//! regular file no larger than its kind's cap.

use std::fs;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// The most fleet.yaml or an included file may hold.
pub const MAX_SPEC_BYTES: u64 = 8 * 1024 * 1024;
/// The most a policy document file may hold: IoT takes 2048 characters
/// without whitespace, so this leaves room for indentation and nothing more.
pub const MAX_POLICY_BYTES: u64 = 64 * 1024;
/// The most a CSR file may hold; a P-256 CSR is well under 1 KiB.
pub const MAX_CSR_BYTES: u64 = 64 * 1024;

/// The directory a spec's paths must stay in, canonical.
#[derive(Debug, Clone)]
pub struct Root {
    pub dir: PathBuf,
}

/// Why a path named in a spec is refused before it is read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Escape {
    #[error("`{value}` is an absolute path")]
    Absolute { value: String },
    #[error("`{value}` leaves the repository with `..`")]
    DotDot { value: String },
    #[error("`{value}` resolves to `{target}`, outside the repository")]
    Symlink { value: String, target: String },
}

impl Root {
    /// The git work tree containing `spec_dir` (the nearest ancestor with a
    /// `.git` file or directory), or `spec_dir` itself outside one.
    pub fn find(spec_dir: &Path) -> Root {
        let start = if spec_dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            spec_dir
        };
        let dir = fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
        let repo = dir
            .ancestors()
            .find(|a| a.join(".git").symlink_metadata().is_ok())
            .map(Path::to_path_buf);
        Root {
            dir: repo.unwrap_or(dir),
        }
    }

    /// Checks `value`, a path as written in the spec, resolved against
    /// `base` (the spec's directory): relative, no `..` above the root, and
    /// no symlink on the way that leads outside it.
    pub fn check(&self, base: &Path, value: &str) -> Result<(), Escape> {
        let written = Path::new(value);
        if written.is_absolute() || value.starts_with('/') || value.starts_with('\\') {
            return Err(Escape::Absolute {
                value: value.to_owned(),
            });
        }
        let base = if base.as_os_str().is_empty() {
            Path::new(".")
        } else {
            base
        };
        let base = fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
        let lexical = normalize(&base.join(written));
        if !lexical.starts_with(&self.dir) {
            return Err(Escape::DotDot {
                value: value.to_owned(),
            });
        }
        self.check_resolved(&base.join(written), value)
    }

    /// Checks where `path` really leads: its longest existing prefix,
    /// canonicalized (every symlink followed), must be inside the root.
    pub fn check_resolved(&self, path: &Path, value: &str) -> Result<(), Escape> {
        let mut existing = path.to_path_buf();
        let mut rest = Vec::new();
        let real = loop {
            match fs::canonicalize(&existing) {
                Ok(real) => break real,
                Err(_) => match (existing.file_name(), existing.parent()) {
                    (Some(name), Some(parent)) => {
                        rest.push(name.to_owned());
                        existing = parent.to_path_buf();
                    }
                    // Nothing of it exists: reading it fails as "no such file".
                    _ => return Ok(()),
                },
            }
        };
        let full = rest.iter().rev().fold(real, |p, name| p.join(name));
        if normalize(&full).starts_with(&self.dir) {
            Ok(())
        } else {
            Err(Escape::Symlink {
                value: value.to_owned(),
                target: full.to_string_lossy().into_owned(),
            })
        }
    }
}

/// `path` with `.` and `..` taken away lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Why a file named in a spec could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("it is a directory")]
    Directory,
    #[error("it is not a regular file (a FIFO, socket or device is never read)")]
    NotRegular,
    #[error("it is larger than {} KiB, the most fleetcert reads for this kind of file", cap / 1024)]
    TooLarge { cap: u64 },
}

/// Reads `path` if it is a regular file of at most `cap` bytes. The type is
/// checked before opening, and the open does not block (a FIFO swapped in
/// after the check opens without waiting for a writer and is refused by the
/// second check); at most `cap + 1` bytes are ever read.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let regular = |meta: &fs::Metadata| {
        if meta.is_dir() {
            Err(ReadError::Directory)
        } else if !meta.is_file() {
            Err(ReadError::NotRegular)
        } else if meta.len() > cap {
            Err(ReadError::TooLarge { cap })
        } else {
            Ok(())
        }
    };
    regular(&fs::metadata(path)?)?;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    regular(&file.metadata()?)?;
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge { cap });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_inside_pass_and_paths_outside_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::find(dir.path());
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/a.json"), "{}").unwrap();
        assert_eq!(root.check(dir.path(), "sub/a.json"), Ok(()));
        assert_eq!(root.check(dir.path(), "sub/../sub/a.json"), Ok(()));
        assert_eq!(root.check(dir.path(), "missing/new"), Ok(()));
        assert!(matches!(
            root.check(dir.path(), "/etc/passwd"),
            Err(Escape::Absolute { .. })
        ));
        assert!(matches!(
            root.check(dir.path(), "sub/../../x"),
            Err(Escape::DotDot { .. })
        ));
        std::os::unix::fs::symlink("/etc", dir.path().join("out")).unwrap();
        assert!(matches!(
            root.check(dir.path(), "out/passwd"),
            Err(Escape::Symlink { .. })
        ));
        assert!(matches!(
            root.check(dir.path(), "out/not-there/x"),
            Err(Escape::Symlink { .. })
        ));
        std::os::unix::fs::symlink("sub/a.json", dir.path().join("inside")).unwrap();
        assert_eq!(root.check(dir.path(), "inside"), Ok(()));
    }

    #[test]
    fn the_root_is_the_work_tree_above_the_spec() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".git"), "gitdir: elsewhere\n").unwrap();
        fs::create_dir_all(dir.path().join("fleets/prod")).unwrap();
        let root = Root::find(&dir.path().join("fleets/prod"));
        assert_eq!(root.dir, fs::canonicalize(dir.path()).unwrap());
    }

    #[test]
    fn only_regular_files_within_the_cap_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "12345").unwrap();
        assert_eq!(read_capped(&file, 5).unwrap(), b"12345");
        assert!(matches!(
            read_capped(&file, 4),
            Err(ReadError::TooLarge { cap: 4 })
        ));
        assert!(matches!(
            read_capped(dir.path(), 4),
            Err(ReadError::Directory)
        ));
        assert!(matches!(
            read_capped(Path::new("/dev/zero"), 4),
            Err(ReadError::NotRegular)
        ));
    }
}
