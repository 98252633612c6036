//! The device's certificates on disk: install beside, promote, fall back.
//!
//! ```text
//! <cert-dir>/current                 the name of the current slot (one line)
//! <cert-dir>/previous                the slot that was current before it
//! <cert-dir>/slots/<name>/certificate.pem
//!                        /private-key.pem   (0600)
//!                        /chain.pem         (the issuing CA, from the document)
//! <cert-dir>/keys/*.pem              keys made on the device, waiting for a certificate
//! <cert-dir>/pending-key.pem         the same, under the name fleetcert writes
//! ```
//!
//! A new certificate goes into its own slot (named by its certificate id),
//! written to a temporary directory beside it, every file fsynced, then the
//! directory renamed into place: a crash leaves either no slot or a whole
//! one, and the current slot is never touched. Promotion rewrites `current`
//! the same way (temporary file, fsync, rename, fsync of the directory), so
//! certificate and key change together. A directory written by fleetcert
//! (`certificate.pem` and `private-key.pem` at its top) is adopted as the
//! slot `initial` on first use.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const CERTIFICATE: &str = "certificate.pem";
pub const PRIVATE_KEY: &str = "private-key.pem";
pub const CHAIN: &str = "chain.pem";
const CURRENT: &str = "current";
const PREVIOUS: &str = "previous";
const SLOTS: &str = "slots";
const KEYS: &str = "keys";
/// fleetcert's name for a key generated before its certificate exists.
const PENDING_KEY: &str = "pending-key.pem";
pub const INITIAL: &str = "initial";

/// A certificate and its key, as the TLS client loads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The slot name: the certificate id, or `initial`.
    pub name: String,
    pub certificate: PathBuf,
    pub private_key: PathBuf,
}

#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
}

fn io(path: &Path, e: std::io::Error) -> String {
    format!("{}: {e}", path.display())
}

fn fsync_dir(dir: &Path) -> Result<(), String> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))
}

/// Write `path` with `mode`, flushed to disk before it returns.
fn write_synced(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| io(path, e))?;
    file.write_all(bytes).map_err(|e| io(path, e))?;
    file.sync_all().map_err(|e| io(path, e))
}

/// Replace `dir/name` atomically: a temporary file in the same directory,
/// fsync, rename over the old one, fsync of the directory.
fn replace_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    write_synced(&tmp, bytes, 0o644)?;
    fs::rename(&tmp, dir.join(name)).map_err(|e| io(&tmp, e))?;
    fsync_dir(dir)
}

fn is_slot_name(name: &str) -> bool {
    name == INITIAL || (name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Store {
    /// Open `dir`, adopting a fleetcert-written directory as slot `initial`.
    pub fn open(dir: &Path) -> Result<Store, String> {
        let store = Store {
            dir: dir.to_path_buf(),
        };
        if !dir.join(CURRENT).exists() {
            let (cert, key) = (dir.join(CERTIFICATE), dir.join(PRIVATE_KEY));
            if !(cert.is_file() && key.is_file()) {
                return Err(format!(
                    "{} has neither a `current` slot nor {CERTIFICATE} and {PRIVATE_KEY} to start from",
                    dir.display()
                ));
            }
            let read = |p: &Path| fs::read(p).map_err(|e| io(p, e));
            let chain = dir.join(CHAIN);
            let chain = if chain.is_file() {
                read(&chain)?
            } else {
                Vec::new()
            };
            store.write_slot(INITIAL, &read(&cert)?, &read(&key)?, &chain)?;
            replace_file(dir, CURRENT, format!("{INITIAL}\n").as_bytes())?;
        }
        store.current()?;
        Ok(store)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn slot_dir(&self, name: &str) -> PathBuf {
        self.dir.join(SLOTS).join(name)
    }

    fn identity(&self, name: &str) -> Identity {
        let dir = self.slot_dir(name);
        Identity {
            name: name.to_string(),
            certificate: dir.join(CERTIFICATE),
            private_key: dir.join(PRIVATE_KEY),
        }
    }

    fn pointer(&self, file: &str) -> Result<Option<String>, String> {
        let path = self.dir.join(file);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let name = text.trim().to_string();
                if !is_slot_name(&name) || !self.slot_dir(&name).is_dir() {
                    return Err(format!("{} names no slot: {name:?}", path.display()));
                }
                Ok(Some(name))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    /// The certificate the device connects with.
    pub fn current(&self) -> Result<Identity, String> {
        let name = self
            .pointer(CURRENT)?
            .ok_or_else(|| format!("{} has no current slot", self.dir.display()))?;
        Ok(self.identity(&name))
    }

    /// The certificate that was current before the last promotion.
    pub fn previous(&self) -> Result<Option<Identity>, String> {
        Ok(self.pointer(PREVIOUS)?.map(|n| self.identity(&n)))
    }

    /// The private keys this device holds: the current one, then the pending
    /// ones (`keys/*.pem` in name order, then `pending-key.pem`).
    pub fn key_candidates(&self) -> Result<Vec<PathBuf>, String> {
        let mut keys = vec![self.current()?.private_key];
        let pending = self.dir.join(KEYS);
        if pending.is_dir() {
            let mut found: Vec<PathBuf> = fs::read_dir(&pending)
                .map_err(|e| io(&pending, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pem") && p.is_file())
                .collect();
            found.sort();
            keys.extend(found);
        }
        let fleetcert_pending = self.dir.join(PENDING_KEY);
        if fleetcert_pending.is_file() {
            keys.push(fleetcert_pending);
        }
        Ok(keys)
    }

    fn write_slot(&self, name: &str, cert: &[u8], key: &[u8], chain: &[u8]) -> Result<(), String> {
        let slots = self.dir.join(SLOTS);
        fs::create_dir_all(&slots).map_err(|e| io(&slots, e))?;
        let tmp = slots.join(format!(".{name}.tmp-{}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
        }
        fs::create_dir(&tmp).map_err(|e| io(&tmp, e))?;
        write_synced(&tmp.join(CERTIFICATE), cert, 0o644)?;
        write_synced(&tmp.join(PRIVATE_KEY), key, 0o600)?;
        write_synced(&tmp.join(CHAIN), chain, 0o644)?;
        fsync_dir(&tmp)?;
        let target = slots.join(name);
        if target.exists() {
            // A slot left by an earlier attempt that was never promoted.
            fs::remove_dir_all(&target).map_err(|e| io(&target, e))?;
        }
        fs::rename(&tmp, &target).map_err(|e| io(&tmp, e))?;
        fsync_dir(&slots)
    }

    /// Install a new certificate (and its key) in the slot `certificate_id`,
    /// beside the current one, which is left as it is.
    pub fn install(
        &self,
        certificate_id: &str,
        certificate_pem: &str,
        key_pem: &[u8],
        chain_pem: &str,
    ) -> Result<Identity, String> {
        if !is_slot_name(certificate_id) || certificate_id == INITIAL {
            return Err(format!("{certificate_id:?} is not a certificate id"));
        }
        if self.current()?.name == certificate_id {
            return Err(format!(
                "{certificate_id} is already the current certificate"
            ));
        }
        self.write_slot(
            certificate_id,
            certificate_pem.as_bytes(),
            key_pem,
            chain_pem.as_bytes(),
        )?;
        Ok(self.identity(certificate_id))
    }

    /// Make `new` current; the old slot stays, named by `previous`. A pending
    /// key file the new slot was made from (`used_key`) is removed afterwards.
    pub fn promote(&self, new: &Identity, used_key: Option<&Path>) -> Result<(), String> {
        let old = self.current()?;
        if old.name == new.name {
            return Ok(());
        }
        replace_file(&self.dir, PREVIOUS, format!("{}\n", old.name).as_bytes())?;
        replace_file(&self.dir, CURRENT, format!("{}\n", new.name).as_bytes())?;
        if let Some(key) = used_key
            && key != old.private_key
            && key.starts_with(&self.dir)
            && !key.starts_with(self.dir.join(SLOTS))
        {
            fs::remove_file(key).map_err(|e| io(key, e))?;
            fsync_dir(key.parent().unwrap_or(&self.dir))?;
        }
        Ok(())
    }

    /// Drop a slot that was installed but not proven. The current slot is
    /// never removed; pending keys stay where they were.
    pub fn discard(&self, slot: &Identity) -> Result<(), String> {
        if self.current()?.name == slot.name {
            return Err(format!("{} is the current certificate", slot.name));
        }
        let dir = self.slot_dir(&slot.name);
        fs::remove_dir_all(&dir).map_err(|e| io(&dir, e))?;
        fsync_dir(&self.dir.join(SLOTS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const NEW: &str = "1111111111111111111111111111111111111111111111111111111111111111";

    fn fleetcert_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CERTIFICATE), "OLD CERT").unwrap();
        fs::write(dir.path().join(PRIVATE_KEY), "OLD KEY").unwrap();
        fs::write(dir.path().join(CHAIN), "CA").unwrap();
        dir
    }

    #[test]
    fn adopts_a_fleetcert_directory_as_the_initial_slot() {
        let dir = fleetcert_dir();
        let store = Store::open(dir.path()).unwrap();
        let current = store.current().unwrap();
        assert_eq!(current.name, INITIAL);
        assert_eq!(
            fs::read_to_string(&current.certificate).unwrap(),
            "OLD CERT"
        );
        assert_eq!(fs::read_to_string(&current.private_key).unwrap(), "OLD KEY");
        let mode = fs::metadata(&current.private_key)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // Opening again keeps the pointer.
        assert_eq!(Store::open(dir.path()).unwrap().current().unwrap(), current);
        assert!(Store::open(tempfile::tempdir().unwrap().path()).is_err());
    }

    #[test]
    fn install_goes_beside_the_current_slot_and_promote_switches_the_pointer() {
        let dir = fleetcert_dir();
        fs::create_dir(dir.path().join(KEYS)).unwrap();
        let pending = dir.path().join(KEYS).join("next.pem");
        fs::write(&pending, "NEW KEY").unwrap();
        let store = Store::open(dir.path()).unwrap();
        let old = store.current().unwrap();
        assert_eq!(
            store.key_candidates().unwrap(),
            vec![old.private_key.clone(), pending.clone()]
        );

        let new = store.install(NEW, "NEW CERT", b"NEW KEY", "CA").unwrap();
        assert_eq!(new.name, NEW);
        assert_eq!(fs::read_to_string(&new.certificate).unwrap(), "NEW CERT");
        // Nothing of the current slot changed, and no temporary is left.
        assert_eq!(store.current().unwrap(), old);
        assert_eq!(fs::read_to_string(&old.certificate).unwrap(), "OLD CERT");
        let names: Vec<_> = fs::read_dir(dir.path().join(SLOTS))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");

        store.promote(&new, Some(&pending)).unwrap();
        assert_eq!(store.current().unwrap(), new);
        assert_eq!(store.previous().unwrap(), Some(old.clone()));
        assert!(old.certificate.exists(), "the old certificate is kept");
        assert!(!pending.exists(), "the used pending key is now in the slot");
        assert_eq!(Store::open(dir.path()).unwrap().current().unwrap(), new);
    }

    #[test]
    fn discard_drops_an_unproven_slot_but_never_the_current_one() {
        let dir = fleetcert_dir();
        let store = Store::open(dir.path()).unwrap();
        let old = store.current().unwrap();
        let new = store.install(NEW, "NEW CERT", b"NEW KEY", "CA").unwrap();
        store.discard(&new).unwrap();
        assert!(!new.certificate.exists());
        assert_eq!(store.current().unwrap(), old);
        assert!(store.discard(&old).is_err());
        assert!(store.install(INITIAL, "X", b"Y", "Z").is_err());
        // An install of the same id again replaces the earlier attempt.
        store.install(NEW, "A", b"B", "C").unwrap();
        let again = store.install(NEW, "NEW CERT 2", b"K", "C").unwrap();
        assert_eq!(
            fs::read_to_string(&again.certificate).unwrap(),
            "NEW CERT 2"
        );
    }

    #[test]
    fn an_install_that_crashed_half_way_leaves_no_slot_and_the_current_one_whole() {
        let dir = fleetcert_dir();
        let store = Store::open(dir.path()).unwrap();
        let old = store.current().unwrap();
        // What a crash before the rename leaves: a partial temporary directory.
        let tmp = dir.path().join(SLOTS).join(format!(".{NEW}.tmp-999999"));
        fs::create_dir(&tmp).unwrap();
        fs::write(tmp.join(CERTIFICATE), "HALF").unwrap();
        let reopened = Store::open(dir.path()).unwrap();
        assert_eq!(reopened.current().unwrap(), old);
        assert_eq!(fs::read_to_string(&old.certificate).unwrap(), "OLD CERT");
        assert!(!dir.path().join(SLOTS).join(NEW).exists());
        // A temporary is never a slot a pointer may name.
        fs::write(dir.path().join(CURRENT), format!(".{NEW}.tmp-999999\n")).unwrap();
        assert!(Store::open(dir.path()).is_err());
        fs::write(dir.path().join(CURRENT), "initial\n").unwrap();
        // The retry installs whole.
        let new = reopened.install(NEW, "NEW CERT", b"NEW KEY", "CA").unwrap();
        assert_eq!(fs::read_to_string(&new.certificate).unwrap(), "NEW CERT");
    }

    #[test]
    fn a_corrupt_pointer_is_an_error_not_a_guess() {
        let dir = fleetcert_dir();
        Store::open(dir.path()).unwrap();
        fs::write(dir.path().join(CURRENT), "../../etc\n").unwrap();
        assert!(
            Store::open(dir.path())
                .unwrap_err()
                .contains("names no slot")
        );
    }
}
