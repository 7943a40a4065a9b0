//! File operations over any [`Transport`], each one shell round trip:
//! read, atomic write (temp file in the same directory, owner, group, mode,
//! optional validation, rename), remove, and directories and symlinks.

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
/// Exit codes of the directory and symlink scripts, one per [`Refusal`].
const NOT_DIR: i32 = 48;
const NO_PARENT: i32 = 49;
const NOT_EMPTY: i32 = 50;
const IN_THE_WAY: i32 = 51;
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
    #[error("{host}: {path}: {refusal}")]
    Refused {
        host: String,
        path: String,
        refusal: Refusal,
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

/// Why a directory or symlink script left the host as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("something other than a directory is there; it is not replaced")]
    NotADirectory,
    #[error("its parent directory does not exist (set parents: true to create it)")]
    NoParent,
    #[error("the directory is not empty; set recurse: true to remove it and everything in it")]
    NotEmpty,
    #[error("a regular file or directory is in the way; set force: true to replace it")]
    InTheWay,
}

impl Refusal {
    fn of(code: i32) -> Option<Refusal> {
        match code {
            NOT_DIR => Some(Refusal::NotADirectory),
            NO_PARENT => Some(Refusal::NoParent),
            NOT_EMPTY => Some(Refusal::NotEmpty),
            IN_THE_WAY => Some(Refusal::InTheWay),
            _ => None,
        }
    }
}

/// Who a written file or directory belongs to; `None` leaves it to the
/// connecting user.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ownership<'a> {
    pub owner: Option<&'a str>,
    pub group: Option<&'a str>,
}

impl Ownership<'_> {
    /// `chown`/`chgrp` lines for the quoted path (`"$tmp"` for a write).
    fn script(&self, target: &str) -> Result<String, runner_types::shell::ShellError> {
        let mut s = String::new();
        if let Some(o) = self.owner {
            s.push_str(&format!("chown -- {} {target}\n", quote(o)?));
        }
        if let Some(g) = self.group {
            s.push_str(&format!("chgrp -- {} {target}\n", quote(g)?));
        }
        Ok(s)
    }
}

/// The content of `path`, or `None` when it does not exist.
pub async fn read(t: &dyn Transport, path: &str) -> Result<Option<Vec<u8>>, FileError> {
    let p = quote(path).map_err(|e| failed(t, path, format!("refused: {e}")))?;
    let script = format!(
        "if [ -e {p} ]; then if [ \"$(wc -c < {p})\" -gt {MAX_READ} ]; then exit {TOO_LARGE}; fi; cat -- {p}; else exit {ABSENT}; fi"
    );
    // Cut at the cap while reading too: a file that grows after its size
    // was checked is refused all the same.
    let out = match t
        .run_capped(&script, None, FILE_TIMEOUT, MAX_READ as usize)
        .await
    {
        Err(TransportError::OutputTooLarge { .. }) => {
            return Err(failed(t, path, too_large()));
        }
        out => out?,
    };
    match out.exit_code {
        0 => Ok(Some(out.stdout)),
        ABSENT => Ok(None),
        TOO_LARGE => Err(failed(t, path, too_large())),
        _ => Err(failed(t, path, out.stderr_text())),
    }
}

fn too_large() -> String {
    format!(
        "larger than {} MiB, the most a read may return",
        MAX_READ >> 20
    )
}

/// Replace `path` with `content` atomically. The parent directory is
/// created when missing. The temporary file gets `owner`'s owner and group
/// and `mode` before `validate` runs on it (`{}` is its path), which must
/// exit 0, else nothing is replaced.
pub async fn write(
    t: &dyn Transport,
    path: &str,
    content: &[u8],
    mode: u32,
    owner: Ownership<'_>,
    validate: Option<&str>,
) -> Result<(), FileError> {
    let p = quote(path).map_err(|e| failed(t, path, format!("refused: {e}")))?;
    let chown = owner
        .script("\"$tmp\"")
        .map_err(|e| failed(t, path, format!("refused: {e}")))?;
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
         {chown}\
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

/// Make `path` a directory with `mode` and `owner`: created when missing
/// (its parent must exist), refused when something else is there.
pub async fn ensure_dir(
    t: &dyn Transport,
    path: &str,
    mode: u32,
    owner: Ownership<'_>,
) -> Result<(), FileError> {
    let p = quote(path).map_err(|e| failed(t, path, format!("refused: {e}")))?;
    let chown = owner
        .script(&p)
        .map_err(|e| failed(t, path, format!("refused: {e}")))?;
    let script = format!(
        "set -e\n{}\n\
         if [ -L {p} ] || {{ [ -e {p} ] && [ ! -d {p} ]; }}; then exit {NOT_DIR}; fi\n\
         if [ ! -d {p} ]; then [ -d \"$(dirname {p})\" ] || exit {NO_PARENT}; mkdir -- {p}; fi\n\
         {chown}chmod {mode:o} {p}\n",
        parent_not_symlinked(&p)
    );
    outcome(t, path, t.run(&script, None, FILE_TIMEOUT).await?)
}

/// Make `path` a symlink to `target`. An existing symlink is replaced; a
/// regular file or an empty directory only with `force`.
pub async fn symlink(
    t: &dyn Transport,
    path: &str,
    target: &str,
    force: bool,
) -> Result<(), FileError> {
    let p = quote(path).map_err(|e| failed(t, path, format!("refused: {e}")))?;
    let to = quote(target).map_err(|e| failed(t, path, format!("refused: {e}")))?;
    let (dir, file) = match force {
        true => (
            format!("rmdir -- {p} 2>/dev/null || exit {NOT_EMPTY}"),
            ":".to_string(),
        ),
        false => (format!("exit {IN_THE_WAY}"), format!("exit {IN_THE_WAY}")),
    };
    let script = format!(
        "set -e\n{}\n\
         if [ -d {p} ] && [ ! -L {p} ]; then {dir}; elif [ -e {p} ] && [ ! -L {p} ]; then {file}; fi\n\
         [ -d \"$(dirname {p})\" ] || exit {NO_PARENT}\n\
         ln -sfn -- {to} {p}\n",
        parent_not_symlinked(&p)
    );
    outcome(t, path, t.run(&script, None, FILE_TIMEOUT).await?)
}

/// Remove the directory `path` (everything in it only when `recurse`);
/// `false` when it was already absent. A file or symlink there is refused.
pub async fn remove_dir(t: &dyn Transport, path: &str, recurse: bool) -> Result<bool, FileError> {
    let p = quote(path).map_err(|e| failed(t, path, format!("refused: {e}")))?;
    let rm = match recurse {
        true => format!("rm -rf -- {p}"),
        false => format!("rmdir -- {p} 2>/dev/null || exit {NOT_EMPTY}"),
    };
    let script = format!(
        "{}\n\
         if [ -L {p} ] || {{ [ -e {p} ] && [ ! -d {p} ]; }}; then exit {NOT_DIR}; fi\n\
         [ -d {p} ] || exit {ABSENT}\n\
         {rm}\n",
        parent_not_symlinked(&p)
    );
    let out = t.run(&script, None, FILE_TIMEOUT).await?;
    match out.exit_code {
        ABSENT => Ok(false),
        _ => outcome(t, path, out).map(|()| true),
    }
}

/// What a directory or symlink script's exit code means.
fn outcome(t: &dyn Transport, path: &str, out: crate::Output) -> Result<(), FileError> {
    match out.exit_code {
        0 => Ok(()),
        SYMLINKED => Err(symlinked(t, path)),
        code => match Refusal::of(code) {
            Some(refusal) => Err(FileError::Refused {
                host: t.host().to_string(),
                path: path.to_string(),
                refusal,
            }),
            None => Err(failed(t, path, out.stderr_text())),
        },
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
        write(&t, &path, b"one\n", 0o640, Ownership::default(), None)
            .await
            .unwrap();
        assert_eq!(
            read(&t, &path).await.unwrap().as_deref(),
            Some(&b"one\n"[..])
        );
        let mode = std::fs::metadata(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o640);

        let err = write(
            &t,
            &path,
            b"two\n",
            0o640,
            Ownership::default(),
            Some("grep -q one {}"),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, FileError::Invalid { .. }), "{err}");
        assert_eq!(
            read(&t, &path).await.unwrap().as_deref(),
            Some(&b"one\n"[..])
        );
        write(
            &t,
            &path,
            b"one two\n",
            0o600,
            Ownership::default(),
            Some("grep -q one {}"),
        )
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
            write(&t, &sneaky, b"x", 0o644, Ownership::default(), None)
                .await
                .unwrap_err(),
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
            let err = write(&t, &path, b"x", 0o644, Ownership::default(), None)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("symlink"), "{err}");
        }
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
        std::fs::write(format!("{outside}/y"), "y").unwrap();
        assert!(remove(&t, &format!("{link}/y")).await.is_err());
        std::fs::remove_dir_all(&outside).unwrap();
        std::fs::remove_file(&link).unwrap();
    }

    #[tokio::test]
    async fn directories_and_symlinks_locally() {
        let t = LocalTransport::new("local");
        let dir = format!("{}-dirs", tempfile_dir());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let d = format!("{dir}/d");
        let refusal = |e: FileError| match e {
            FileError::Refused { refusal, .. } => refusal,
            other => panic!("{other}"),
        };
        let nested = format!("{dir}/missing/d");
        let e = ensure_dir(&t, &nested, 0o755, Ownership::default())
            .await
            .unwrap_err();
        assert_eq!(refusal(e), Refusal::NoParent);
        ensure_dir(&t, &d, 0o750, Ownership::default())
            .await
            .unwrap();
        ensure_dir(&t, &d, 0o750, Ownership::default())
            .await
            .unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&d).unwrap().permissions().mode() & 0o777,
            0o750
        );
        let f = format!("{dir}/f");
        std::fs::write(&f, "x").unwrap();
        let e = ensure_dir(&t, &f, 0o755, Ownership::default())
            .await
            .unwrap_err();
        assert_eq!(refusal(e), Refusal::NotADirectory);

        let l = format!("{dir}/l");
        symlink(&t, &l, &d, false).await.unwrap();
        symlink(&t, &l, &f, false).await.unwrap();
        assert_eq!(std::fs::read_link(&l).unwrap().to_str(), Some(f.as_str()));
        let e = symlink(&t, &f, &d, false).await.unwrap_err();
        assert_eq!(refusal(e), Refusal::InTheWay);
        let e = remove_dir(&t, &l, false).await.unwrap_err();
        assert_eq!(refusal(e), Refusal::NotADirectory);

        std::fs::write(format!("{d}/x"), "x").unwrap();
        let e = remove_dir(&t, &d, false).await.unwrap_err();
        assert_eq!(refusal(e), Refusal::NotEmpty);
        assert!(e_to_string_names_recurse(&t, &d).await);
        assert!(remove_dir(&t, &d, true).await.unwrap());
        assert!(!remove_dir(&t, &d, true).await.unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    async fn e_to_string_names_recurse(t: &LocalTransport, d: &str) -> bool {
        let e = remove_dir(t, d, false).await.unwrap_err();
        e.to_string().contains("recurse: true")
    }

    fn tempfile_dir() -> String {
        let dir = std::env::temp_dir().join(format!("runner-files-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.to_string_lossy().into_owned()
    }
}
