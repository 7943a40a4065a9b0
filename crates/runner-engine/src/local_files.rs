//! Files on the runner's machine that a plugin may read while planning
//! (`read-local-file`, granted by `local-reads`): relative to the
//! playbook's directory and inside it once symlinks are resolved, never
//! the runner's state directory (`.runner/`), never a file holding a
//! secret of this run (the secrets and certificates files) or a private
//! key, at most
//! [`MAX_LOCAL_READ`] bytes.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use runner_types::Redactor;

/// The largest local file a plugin may read (the cap of a remote read).
pub const MAX_LOCAL_READ: u64 = runner_transport::files::MAX_READ;

/// Why a local read was refused.
#[derive(Debug, thiserror::Error)]
pub enum LocalReadError {
    #[error("{0}: only a relative path inside the playbook's directory, without '..', is read")]
    NotRelative(String),
    #[error("{0}: it is outside the playbook's directory once symlinks are resolved")]
    Escapes(String),
    #[error("{0}: it is the runner's own state or holds a secret, which is never read")]
    Private(String),
    #[error("{0}: larger than {max} MiB, the most a local read may return", max = MAX_LOCAL_READ >> 20)]
    TooLarge(String),
    #[error("{0}: not a regular file")]
    NotAFile(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Where local reads are resolved, and what they may not reach.
#[derive(Debug, Clone)]
pub struct LocalFiles {
    /// The playbook's directory.
    root: PathBuf,
    /// The runner's state directory (`.runner`).
    state_dir: PathBuf,
    redactor: Redactor,
}

impl LocalFiles {
    pub fn new(root: &Path, state_dir: &Path, redactor: Redactor) -> LocalFiles {
        LocalFiles {
            root: root.to_path_buf(),
            state_dir: state_dir.to_path_buf(),
            redactor,
        }
    }

    /// The bytes of `rel`, a path relative to the playbook's directory.
    pub fn read(&self, rel: &str) -> Result<Vec<u8>, LocalReadError> {
        let full = self.resolve(rel)?;
        let io = |source| LocalReadError::Io {
            path: rel.to_string(),
            source,
        };
        let file = std::fs::File::open(&full).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(LocalReadError::NotAFile(rel.to_string()));
        }
        let mut bytes = Vec::new();
        file.take(MAX_LOCAL_READ + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_LOCAL_READ {
            return Err(LocalReadError::TooLarge(rel.to_string()));
        }
        if self.redactor.redact_bytes(&bytes) != bytes || holds_private_key(&bytes) {
            return Err(LocalReadError::Private(rel.to_string()));
        }
        Ok(bytes)
    }

    /// The canonical path of `rel`, checked to stay inside the root and
    /// out of the state directory.
    fn resolve(&self, rel: &str) -> Result<PathBuf, LocalReadError> {
        let path = Path::new(rel);
        let plain = !rel.is_empty()
            && !rel.contains('\0')
            && path.components().all(|c| matches!(c, Component::Normal(_)));
        if !plain || !runner_types::capability::is_clean_local(rel) {
            return Err(LocalReadError::NotRelative(rel.to_string()));
        }
        let io = |source| LocalReadError::Io {
            path: rel.to_string(),
            source,
        };
        let root = self.root.canonicalize().map_err(io)?;
        let full = root.join(path).canonicalize().map_err(io)?;
        if !full.starts_with(&root) {
            return Err(LocalReadError::Escapes(rel.to_string()));
        }
        let state = self.state_dir.canonicalize().ok();
        let in_state = state.is_some_and(|s| full.starts_with(s));
        let hidden = full
            .strip_prefix(&root)
            .is_ok_and(|r| r.components().any(|c| c.as_os_str() == ".runner"));
        if in_state || hidden {
            return Err(LocalReadError::Private(rel.to_string()));
        }
        Ok(full)
    }
}

/// A PEM or OpenSSH private key (an SSH key beside the inventory, a TLS
/// key): never handed to a plugin, whatever it declared.
fn holds_private_key(bytes: &[u8]) -> bool {
    const MARK: &[u8] = b"PRIVATE KEY-----";
    bytes.windows(MARK.len()).any(|w| w == MARK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, LocalFiles, Redactor) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("play");
        std::fs::create_dir_all(root.join("files")).unwrap();
        std::fs::create_dir_all(root.join(".runner/runs")).unwrap();
        std::fs::write(root.join("files/app.conf"), b"\x00\xffbinary").unwrap();
        std::fs::write(root.join(".runner/runs/x.jsonl"), b"journal").unwrap();
        std::fs::write(dir.path().join("outside"), b"outside").unwrap();
        std::fs::write(root.join("secrets.yaml"), b"db: hunter2-very-secret").unwrap();
        let r = Redactor::new();
        r.add("hunter2-very-secret");
        let local = LocalFiles::new(&root, &root.join(".runner"), r.clone());
        (dir, local, r)
    }

    #[test]
    fn a_file_beside_the_playbook_is_read_as_bytes() {
        let (_d, local, _) = setup();
        assert_eq!(local.read("files/app.conf").unwrap(), b"\x00\xffbinary");
    }

    #[test]
    fn paths_out_of_the_playbook_directory_are_refused() {
        let (d, local, _) = setup();
        let root = d.path().join("play");
        std::os::unix::fs::symlink(d.path().join("outside"), root.join("files/esc")).unwrap();
        std::os::unix::fs::symlink(d.path(), root.join("up")).unwrap();
        for (rel, want) in [
            ("/etc/passwd", "relative"),
            ("../outside", "relative"),
            ("files/../../outside", "relative"),
            ("files/a\0b", "relative"),
            ("", "relative"),
            ("files/esc", "outside"),
            ("up/outside", "outside"),
            (".runner/runs/x.jsonl", "relative"),
            ("secrets.yaml", "secret"),
            ("files", "regular"),
            ("files/missing", "No such file"),
        ] {
            let err = local.read(rel).unwrap_err().to_string();
            assert!(err.contains(want), "{rel:?}: {err}");
        }
    }

    #[test]
    fn the_state_directory_is_refused_even_through_a_symlink() {
        let (d, local, _) = setup();
        let root = d.path().join("play");
        std::os::unix::fs::symlink(root.join(".runner"), root.join("state")).unwrap();
        let err = local.read("state/runs/x.jsonl").unwrap_err();
        assert!(matches!(err, LocalReadError::Private(_)), "{err}");
    }

    #[test]
    fn a_private_key_is_never_read() {
        let (d, local, _) = setup();
        std::fs::write(
            d.path().join("play/files/id_ed25519"),
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n-----END OPENSSH PRIVATE KEY-----\n",
        )
        .unwrap();
        let err = local.read("files/id_ed25519").unwrap_err();
        assert!(matches!(err, LocalReadError::Private(_)), "{err}");
    }

    #[test]
    fn a_huge_file_is_refused() {
        let (d, local, _) = setup();
        let f = std::fs::File::create(d.path().join("play/files/big")).unwrap();
        f.set_len(MAX_LOCAL_READ + 1).unwrap();
        let err = local.read("files/big").unwrap_err();
        assert!(matches!(err, LocalReadError::TooLarge(_)), "{err}");
    }
}
