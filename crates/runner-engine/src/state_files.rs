//! Files the runner keeps on this machine (journals, saved plans, fixtures,
//! secrets, certificates, the log): created with their mode whatever the
//! umask (private ones 0600, in directories made 0700), and written whole
//! through a fresh temporary name that no planted symlink can redirect,
//! then renamed over a destination that must not be a symlink.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Who may read a file the runner writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readers {
    /// The user only (0600): anything that may hold a secret.
    Owner,
    /// Everyone (0644): what is public by nature, a CA certificate.
    Everyone,
}

impl Readers {
    fn mode(self) -> u32 {
        match self {
            Readers::Owner => 0o600,
            Readers::Everyone => 0o644,
        }
    }
}

/// `dir` and its missing parents, each one made 0700 (set after making
/// it, as the umask may take bits away). Existing directories are left as
/// they are.
pub fn create_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => std::fs::set_permissions(dir, Permissions::from_mode(0o700))
            .with_context(|| format!("{}", dir.display())),
        Err(e) if e.kind() == ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating {}", dir.display())),
    }
}

/// A new file at `path`, 0600, never one that exists (nor a symlink):
/// for appending, as a journal.
pub fn create_new(path: &Path) -> anyhow::Result<File> {
    if let Some(dir) = path.parent() {
        create_dir(dir)?;
    }
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.set_permissions(Permissions::from_mode(0o600))?;
    Ok(file)
}

/// `path` opened for appending; made 0600 when this makes it (an existing
/// file keeps its mode): the log file.
pub fn append(path: &Path) -> anyhow::Result<File> {
    match create_new(path) {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == ErrorKind::AlreadyExists) =>
        {
            OpenOptions::new()
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))
        }
        other => other,
    }
}

/// Replace `path` with `content` whole: written to a new temporary file
/// beside it (exclusive create, so nothing planted there is followed),
/// given its mode, synced, then renamed into place. A symlink at `path`
/// is refused, not replaced or followed.
pub fn write(path: &Path, content: &[u8], readers: Readers) -> anyhow::Result<()> {
    refuse_symlink(path)?;
    if let Some(dir) = path.parent() {
        create_dir(dir)?;
    }
    let tmp = temp_name(path);
    let written = (|| -> anyhow::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.set_permissions(Permissions::from_mode(readers.mode()))?;
        f.write_all(content)?;
        f.sync_all()?;
        refuse_symlink(path)?;
        std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn refuse_symlink(path: &Path) -> anyhow::Result<()> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        anyhow::bail!(
            "{} is a symlink: runner writes its own file there, never through a link (remove it)",
            path.display()
        );
    }
    Ok(())
}

/// `.NAME.RANDOM.tmp` beside `path`: a name nobody can plant in advance.
fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nonce: u64 = rand::random();
    path.with_file_name(format!(".{name}.{nonce:016x}.tmp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_get_their_mode_and_new_directories_0700() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a/b/plan.json");
        write(&f, b"{}", Readers::Owner).unwrap();
        assert_eq!(mode(&f), 0o600);
        assert_eq!(mode(&d.path().join("a")), 0o700);
        assert_eq!(mode(&d.path().join("a/b")), 0o700);
        let ca = d.path().join("a/ca.pem");
        write(&ca, b"cert", Readers::Everyone).unwrap();
        assert_eq!(mode(&ca), 0o644);
        // Written again: replaced whole, nothing left beside it.
        write(&f, b"{\"x\":1}", Readers::Owner).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"{\"x\":1}");
        assert_eq!(std::fs::read_dir(d.path().join("a/b")).unwrap().count(), 1);
        let j = d.path().join("runs/1.jsonl");
        create_new(&j).unwrap();
        assert_eq!((mode(&j), mode(&d.path().join("runs"))), (0o600, 0o700));
        assert!(create_new(&j).is_err(), "never an existing file");
        let log = d.path().join("log");
        append(&log).unwrap().write_all(b"1\n").unwrap();
        append(&log).unwrap().write_all(b"2\n").unwrap();
        assert_eq!(
            (std::fs::read(&log).unwrap(), mode(&log)),
            (b"1\n2\n".to_vec(), 0o600)
        );
    }

    #[test]
    fn a_planted_symlink_is_never_followed() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let dest = d.path().join("secrets.yaml");
        std::os::unix::fs::symlink(&victim, &dest).unwrap();
        let err = write(&dest, b"secret", Readers::Owner).unwrap_err();
        assert!(err.to_string().contains("is a symlink"), "{err}");
        let journal = d.path().join("run.jsonl");
        std::os::unix::fs::symlink(&victim, &journal).unwrap();
        assert!(create_new(&journal).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }
}
