//! Writes that never follow a symlink and never race. A directory is opened
//! once and checked; every file in it is then named relative to that handle:
//! created exclusively (`O_CREAT | O_EXCL | O_NOFOLLOW`) under a temporary
//! name, synced, renamed into place (a rename replaces a symlink at the
//! destination, it never writes through one), and the directory synced
//! before the write counts as done. A pull request that commits
//! `out/<device>` as a symlink, or `certificate.pem` as a link to a file of
//! the runner's, cannot make fleetcert write anywhere else.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};

/// An open directory, checked when it was opened.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

fn other(path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{}: {what}", path.display()))
}

/// The error of an `openat` with `O_NOFOLLOW`, in words.
fn nofollow_error(path: &Path, error: rustix::io::Errno, kind: &str) -> io::Error {
    match error {
        rustix::io::Errno::LOOP => other(
            path,
            format!("is a symlink; fleetcert {kind} real files and directories only"),
        ),
        rustix::io::Errno::NOTDIR => other(path, "is not a directory"),
        error => io::Error::new(
            io::Error::from(error).kind(),
            format!("{}: {error}", path.display()),
        ),
    }
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The permission bits of a `Stat`.
pub fn mode_bits(stat: &Stat) -> u32 {
    stat.st_mode & 0o7777
}

impl Dir {
    /// Open the directory at `path`, following symlinks in it: for a
    /// directory the spec loader already confined to the repository, or one
    /// the pipeline's owner named (`--out`).
    pub fn open(path: &Path) -> io::Result<Self> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| nofollow_error(path, e, "opens"))?;
        Ok(Self {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Open the directory at `path`; refused if `path` itself is a symlink.
    pub fn open_nofollow(path: &Path) -> io::Result<Self> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            let link = e == rustix::io::Errno::NOTDIR
                && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            nofollow_error(
                path,
                if link { rustix::io::Errno::LOOP } else { e },
                "reads keys from",
            )
        })?;
        Ok(Self {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// `path`, created (with its parents, 0700) when missing.
    pub fn create_all(path: &Path) -> io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Self::open(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The subdirectory `name`, created 0700 if missing. It must be a real
    /// directory (not a symlink) owned by this user; its mode is tightened
    /// to 0700, since it may hold a private key.
    pub fn private_child(&self, name: &str) -> io::Result<Self> {
        match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(io::Error::from(e)),
        }
        let child = self.child(name)?;
        let stat = rustix::fs::fstat(&child.fd)?;
        if stat.st_uid != euid() {
            return Err(other(
                &child.path,
                format!(
                    "is owned by uid {}, not by uid {} that runs fleetcert",
                    stat.st_uid,
                    euid()
                ),
            ));
        }
        rustix::fs::fchmod(&child.fd, Mode::from_raw_mode(0o700))?;
        Ok(child)
    }

    /// The existing subdirectory `name`, not followed if it is a symlink;
    /// `None` when there is nothing of that name.
    pub fn existing_child(&self, name: &str) -> io::Result<Option<Self>> {
        match self.child(name) {
            Ok(dir) => Ok(Some(dir)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn child(&self, name: &str) -> io::Result<Self> {
        let path = self.path.join(name);
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            // O_DIRECTORY is checked before O_NOFOLLOW: a symlink answers ENOTDIR.
            let link = e == rustix::io::Errno::NOTDIR
                && self.entry(name).ok().flatten() == Some(FileType::Symlink);
            nofollow_error(
                &path,
                if link { rustix::io::Errno::LOOP } else { e },
                "writes into",
            )
        })?;
        Ok(Self { fd, path })
    }

    pub fn stat(&self) -> io::Result<Stat> {
        Ok(rustix::fs::fstat(&self.fd)?)
    }

    /// What is at `name` (not followed), if anything.
    pub fn entry(&self, name: &str) -> io::Result<Option<FileType>> {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(FileType::from_raw_mode(stat.st_mode))),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(io::Error::from(e)),
        }
    }

    /// Write `contents` to `name` with `mode`, atomically and durably: a
    /// crash leaves the old file or the whole new one, never a part.
    pub fn write_file(&self, name: &str, contents: &[u8], mode: u32) -> io::Result<()> {
        let tmp = format!(".{name}.tmp");
        let path = self.path.join(name);
        let wrap = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        // unlinkat removes a planted symlink itself, never its target.
        match rustix::fs::unlinkat(&self.fd, tmp.as_str(), AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(wrap(e.into())),
        }
        let fd = rustix::fs::openat(
            &self.fd,
            tmp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )
        .map_err(|e| wrap(e.into()))?;
        let mut file = File::from(fd);
        // The mode given to openat is narrowed by the umask; set it exactly.
        rustix::fs::fchmod(&file, Mode::from_raw_mode(mode)).map_err(|e| wrap(e.into()))?;
        file.write_all(contents).map_err(wrap)?;
        file.sync_all().map_err(wrap)?;
        self.rename(&tmp, name)
    }

    /// Rename `from` to `to` within this directory, then sync it.
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        rustix::fs::renameat(&self.fd, from, &self.fd, to).map_err(|e| {
            io::Error::new(
                io::Error::from(e).kind(),
                format!("{}: renaming {from} to {to}: {e}", self.path.display()),
            )
        })?;
        self.sync()
    }

    pub fn sync(&self) -> io::Result<()> {
        Ok(rustix::fs::fsync(&self.fd)?)
    }

    /// Open `name` for reading, not following a symlink and not blocking on
    /// a FIFO; with the file's `Stat` taken from the open file itself, so
    /// what is checked is what is read.
    pub fn open_read(&self, name: &str) -> io::Result<(File, Stat)> {
        let path = self.path.join(name);
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| nofollow_error(&path, e, "reads"))?;
        let stat = rustix::fs::fstat(&fd)?;
        Ok((File::from(fd), stat))
    }

    /// At most `limit` bytes of `name`, read through [`Dir::open_read`].
    pub fn read_limited(&self, name: &str, limit: u64, into: &mut String) -> io::Result<Stat> {
        let (file, stat) = self.open_read(name)?;
        file.take(limit).read_to_string(into)?;
        Ok(stat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    #[test]
    fn a_write_replaces_a_planted_symlink_and_leaves_its_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let out = Dir::create_all(&dir.path().join("out")).unwrap();
        symlink(&victim, out.path().join("certificate.pem")).unwrap();
        symlink(&victim, out.path().join(".chain.pem.tmp")).unwrap();
        out.write_file("certificate.pem", b"cert", 0o644).unwrap();
        out.write_file("chain.pem", b"chain", 0o644).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        let written = out.path().join("certificate.pem");
        assert!(!written.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(written).unwrap(), "cert");
        assert!(out.entry(".chain.pem.tmp").unwrap().is_none());
    }

    #[test]
    fn a_symlinked_device_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let out = Dir::create_all(&dir.path().join("out")).unwrap();
        symlink(&elsewhere, out.path().join("sensor-1")).unwrap();
        let error = out.private_child("sensor-1").unwrap_err().to_string();
        assert!(error.contains("sensor-1: is a symlink"), "{error}");
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    }

    #[test]
    fn a_private_child_is_tightened_to_0700_and_files_get_their_exact_mode() {
        let dir = tempfile::tempdir().unwrap();
        let out = Dir::create_all(dir.path()).unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::set_permissions(dir.path().join("d"), PermissionsExt::from_mode(0o755)).unwrap();
        let child = out.private_child("d").unwrap();
        assert_eq!(mode_bits(&child.stat().unwrap()), 0o700);
        child.write_file("k", b"x", 0o600).unwrap();
        let (_, stat) = child.open_read("k").unwrap();
        assert_eq!(mode_bits(&stat), 0o600);
    }
}
