//! A command's stdout and stderr read as they come, together, and cut at
//! a cap: the runner never holds more of an answer than the cap allows,
//! however much a host prints.

use tokio::io::{AsyncRead, AsyncReadExt};

/// How much of one command's output a caller takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cap {
    /// All of it (an action's command, which is never cut short).
    None,
    /// At most this many bytes of stdout and stderr together.
    Bytes(usize),
}

impl Cap {
    pub(crate) fn bytes(self) -> usize {
        match self {
            Cap::None => usize::MAX,
            Cap::Bytes(n) => n,
        }
    }

    /// Whether output of `len` bytes passes the cap.
    pub(crate) fn passed_by(self, len: usize) -> bool {
        len > self.bytes()
    }
}

/// Why reading stopped early.
#[derive(Debug)]
pub(crate) enum Stopped {
    /// stdout and stderr together passed the cap.
    TooLarge,
    Io(std::io::Error),
}

/// Read both streams to their end, concurrently, unless together they
/// pass `cap`: then stop at once (the caller ends the command).
pub(crate) async fn read_both(
    mut stdout: impl AsyncRead + Unpin,
    mut stderr: impl AsyncRead + Unpin,
    cap: Cap,
) -> Result<(Vec<u8>, Vec<u8>), Stopped> {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (mut out_open, mut err_open) = (true, true);
    let mut out_buf = vec![0u8; 64 << 10];
    let mut err_buf = vec![0u8; 64 << 10];
    while out_open || err_open {
        // Never read past one byte over the cap.
        let room = cap
            .bytes()
            .saturating_sub(out.len() + err.len())
            .saturating_add(1)
            .min(out_buf.len());
        tokio::select! {
            r = stdout.read(&mut out_buf[..room]), if out_open => match r.map_err(Stopped::Io)? {
                0 => out_open = false,
                n => out.extend_from_slice(&out_buf[..n]),
            },
            r = stderr.read(&mut err_buf[..room]), if err_open => match r.map_err(Stopped::Io)? {
                0 => err_open = false,
                n => err.extend_from_slice(&err_buf[..n]),
            },
        }
        if cap.passed_by(out.len() + err.len()) {
            return Err(Stopped::TooLarge);
        }
    }
    Ok((out, err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reading_stops_one_byte_past_the_cap() {
        let big = vec![b'x'; 1 << 20];
        let r = read_both(&big[..], &b"err"[..], Cap::Bytes(1000)).await;
        assert!(matches!(r, Err(Stopped::TooLarge)), "{r:?}");
        let (out, err) = read_both(&b"out"[..], &b"err"[..], Cap::Bytes(6))
            .await
            .unwrap();
        assert_eq!((&out[..], &err[..]), (&b"out"[..], &b"err"[..]));
        let (out, _) = read_both(&big[..], &b""[..], Cap::None).await.unwrap();
        assert_eq!(out.len(), 1 << 20);
    }
}
