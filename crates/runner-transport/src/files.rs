//! File operations over any [`Transport`], each one shell round trip:
//! read, atomic write (temp file in the same directory, mode, optional
//! validation, rename) and remove.

use std::time::Duration;

use crate::{Transport, TransportError, quote};

const FILE_TIMEOUT: Duration = Duration::from_secs(60);
/// Exit code the scripts use for "no such file".
const ABSENT: i32 = 44;
/// Exit code the write script uses for "validation refused the content".
const INVALID: i32 = 45;
/// Exit code the write and remove scripts use for "the parent directory is
/// reached through a symlink".
const SYMLINKED: i32 = 47;
/// Exit code the read script uses for "larger than [`MAX_READ`]".
const TOO_LARGE: i32 = 46;
/// The largest file [`read`] returns: a read never makes the runner hold
/// more than this.
pub const MAX_READ: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{host}: {path}: {reason}")]
    Failed {
        host: String,
        path: String,
        reason: String,
    },
    #[error(
        "{host}: validation of the new {path} failed (`{command}`), the file was left as it was: {output}"
    )]
    Invalid {
        host: String,
        path: String,
        command: String,
        output: String,
    },
}

/// The content of `path`, or `None` when it does not exist.
pub async fn read(t: &dyn Transport, path: &str) -> Result<Option<Vec<u8>>, FileError> {
    let p = quote(path).map_err(|e| failed(t, path, format!("refused: {e}")))?;
    let script = format!(
        "if [ -e {p} ]; then if [ \"$(wc -c < {p})\" -gt {MAX_READ} ]; then exit {TOO_LARGE}; fi; cat -- {p}; else exit {ABSENT}; fi"
    );
    let out = t.run(&script, None, FILE_TIMEOUT).await?;
    match out.exit_code {
        0 => Ok(Some(out.stdout)),
        ABSENT => Ok(None),
        TOO_LARGE => Err(failed(
            t,
            path,
            format!(
                "larger than {} MiB, the most a read may return",
                MAX_READ >> 20
            ),
        )),
        _ => Err(failed(t, path, out.stderr_text())),
    }
}

/// Replace `path` with `content` atomically. The parent directory is
/// created when missing. `validate` runs on the temporary file (`{}` is its
/// path) and must exit 0, else nothing is replaced.
pub async fn write(
    t: &dyn Transport,
    path: &str,
    content: &[u8],
    mode: u32,
    validate: Option<&str>,
) -> Result<(), FileError> {
    let p = quote(path).map_err(|e| failed(t, path, format!("refused: {e}")))?;
    let check = match validate {
        Some(cmd) => {
            let cmd = cmd.replace("{}", "\"$tmp\"");
            format!(
                "if ! ( {cmd} ) >\"$tmp.out\" 2>&1; then cat \"$tmp.out\"; rm -f \"$tmp.out\"; exit {INVALID}; fi; rm -f \"$tmp.out\"\n"
            )
        }
        None => String::new(),
    };
    let script = format!(
        "set -e\n\
         {no_symlink}\n\
         mkdir -p \"$(dirname {p})\"\n\
         tmp=$(mktemp {tmp})\n\
         trap 'rm -f \"$tmp\"' EXIT\n\
         cat > \"$tmp\"\n\
         chmod {mode:o} \"$tmp\"\n\
         {check}\
         mv -f \"$tmp\" {p}\n\
         trap - EXIT\n",
        tmp = quote(&format!("{path}.runner-XXXXXX")).map_err(|e| failed(
            t,
            path,
            format!("refused: {e}")
        ))?,
        no_symlink = parent_not_symlinked(&p),
    );
    let out = t.run(&script, Some(content), FILE_TIMEOUT).await?;
    match out.exit_code {
        0 => Ok(()),
        SYMLINKED => Err(symlinked(t, path)),
        INVALID => Err(FileError::Invalid {
            host: t.host().to_string(),
            path: path.to_string(),
            command: validate.unwrap_or_default().to_string(),
            output: out.stdout_text().trim().to_string(),
        }),
        _ => Err(failed(t, path, out.stderr_text())),
    }
}

/// Remove `path`; `false` when it was already absent.
pub async fn remove(t: &dyn Transport, path: &str) -> Result<bool, FileError> {
    let p = quote(path).map_err(|e| failed(t, path, format!("refused: {e}")))?;
    let script = format!(
        "{}; if [ -e {p} ] || [ -L {p} ]; then rm -f -- {p}; else exit {ABSENT}; fi",
        parent_not_symlinked(&p)
    );
    let out = t.run(&script, None, FILE_TIMEOUT).await?;
    match out.exit_code {
        0 => Ok(true),
        SYMLINKED => Err(symlinked(t, path)),
        ABSENT => Ok(false),
        _ => Err(failed(t, path, out.stderr_text())),
    }
}

/// Shell that exits [`SYMLINKED`] when the existing part of the quoted
/// path's parent is reached through a symlink: a write or remove never
/// lands outside the directory it names.
fn parent_not_symlinked(quoted: &str) -> String {
    format!(
        "d=$(dirname {quoted}); while [ ! -e \"$d\" ] && [ ! -L \"$d\" ]; do d=$(dirname \"$d\"); done; \
         if [ \"$(cd -P -- \"$d\" 2>/dev/null && pwd)\" != \"$(cd -L -- \"$d\" 2>/dev/null && pwd)\" ] || [ -L \"$d\" ]; then exit {SYMLINKED}; fi"
    )
}

fn symlinked(t: &dyn Transport, path: &str) -> FileError {
    failed(
        t,
        path,
        "refused: a directory on its path is a symlink, so the file would land elsewhere".into(),
    )
}

fn failed(t: &dyn Transport, path: &str, stderr: String) -> FileError {
    FileError::Failed {
        host: t.host().to_string(),
        path: path.to_string(),
        reason: stderr.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalTransport;

    #[tokio::test]
    async fn write_read_validate_remove_locally() {
        let dir = tempfile_dir();
        let t = LocalTransport::new("local");
        let path = format!("{dir}/sub/it's a file");
        assert_eq!(read(&t, &path).await.unwrap(), None);
        write(&t, &path, b"one\n", 0o640, None).await.unwrap();
        assert_eq!(
            read(&t, &path).await.unwrap().as_deref(),
            Some(&b"one\n"[..])
        );
        let mode = std::fs::metadata(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o640);

        let err = write(&t, &path, b"two\n", 0o640, Some("grep -q one {}"))
            .await
            .unwrap_err();
        assert!(matches!(err, FileError::Invalid { .. }), "{err}");
        assert_eq!(
            read(&t, &path).await.unwrap().as_deref(),
            Some(&b"one\n"[..])
        );
        write(&t, &path, b"one two\n", 0o600, Some("grep -q one {}"))
            .await
            .unwrap();
        assert_eq!(
            read(&t, &path).await.unwrap().as_deref(),
            Some(&b"one two\n"[..])
        );
        let leftovers: Vec<_> = std::fs::read_dir(format!("{dir}/sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "temporary files left: {leftovers:?}");
        assert!(remove(&t, &path).await.unwrap());
        assert!(!remove(&t, &path).await.unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_path_with_a_control_character_is_refused_not_altered() {
        let t = LocalTransport::new("local");
        let dir = tempfile_dir();
        let sneaky = format!("{dir}/.\0./.\0./etc-passwd");
        for err in [
            read(&t, &sneaky).await.unwrap_err(),
            write(&t, &sneaky, b"x", 0o644, None).await.unwrap_err(),
            remove(&t, &sneaky).await.unwrap_err(),
        ] {
            assert!(err.to_string().contains("NUL"), "{err}");
        }
        assert!(!std::path::Path::new(&format!("{dir}/../../etc-passwd")).exists());
    }

    #[tokio::test]
    async fn no_write_through_a_symlinked_directory() {
        let t = LocalTransport::new("local");
        let dir = tempfile_dir();
        let outside = format!("{dir}-outside");
        std::fs::create_dir_all(&outside).unwrap();
        let link = format!("{dir}/link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        for path in [format!("{link}/x"), format!("{link}/new/x")] {
            let err = write(&t, &path, b"x", 0o644, None).await.unwrap_err();
            assert!(err.to_string().contains("symlink"), "{err}");
        }
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
        std::fs::write(format!("{outside}/y"), "y").unwrap();
        assert!(remove(&t, &format!("{link}/y")).await.is_err());
        std::fs::remove_dir_all(&outside).unwrap();
        std::fs::remove_file(&link).unwrap();
    }

    fn tempfile_dir() -> String {
        let dir = std::env::temp_dir().join(format!("runner-files-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.to_string_lossy().into_owned()
    }
}
