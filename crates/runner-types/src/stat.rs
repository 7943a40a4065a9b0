//! What `stat` says of a path on a host: its kind, permission bits, owner
//! and group (names and ids). Plugins ask with the probe
//! [`STAT_PROBE`] and read the line with [`PathStat::parse`].

/// The probe's command before the quoted path: one line
/// `kind:mode:user:group:uid:gid`, kind as `stat`'s `%F`.
pub const STAT_PROBE: &str = "stat -c '%F:%a:%U:%G:%u:%g' --";

/// The kind of thing at a path (`stat` does not follow a final symlink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    File,
    Directory,
    Symlink,
    /// A socket, fifo or device.
    Other,
}

/// One path as `stat` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    pub kind: PathKind,
    pub mode: u32,
    pub user: String,
    pub group: String,
    pub uid: u32,
    pub gid: u32,
}

impl PathStat {
    /// The probe's output line, or `None` when it is not one.
    pub fn parse(line: &str) -> Option<PathStat> {
        let mut f = line.trim_end_matches('\n').rsplitn(6, ':');
        let gid = f.next()?.parse().ok()?;
        let uid = f.next()?.parse().ok()?;
        let group = f.next()?.to_string();
        let user = f.next()?.to_string();
        let mode = u32::from_str_radix(f.next()?, 8).ok()?;
        let kind = match f.next()? {
            "regular file" | "regular empty file" => PathKind::File,
            "directory" => PathKind::Directory,
            "symbolic link" => PathKind::Symlink,
            _ => PathKind::Other,
        };
        Some(PathStat {
            kind,
            mode,
            user,
            group,
            uid,
            gid,
        })
    }

    /// Whether the owner is `want` (a name or a numeric id).
    pub fn owned_by(&self, want: &str) -> bool {
        want == self.user || want.parse() == Ok(self.uid)
    }

    /// Whether the group is `want` (a name or a numeric id).
    pub fn in_group(&self, want: &str) -> bool {
        want == self.group || want.parse() == Ok(self.gid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse() {
        let s = PathStat::parse("directory:755:nobody:nogroup:65534:65534\n").unwrap();
        assert_eq!(s.kind, PathKind::Directory);
        assert_eq!(s.mode, 0o755);
        assert!(s.owned_by("nobody") && s.owned_by("65534") && !s.owned_by("root"));
        assert!(s.in_group("nogroup") && s.in_group("65534") && !s.in_group("0"));
        let f = PathStat::parse("regular empty file:640:root:root:0:0").unwrap();
        assert_eq!((f.kind, f.mode), (PathKind::File, 0o640));
        let l = PathStat::parse("symbolic link:777:a:b:1:2").unwrap();
        assert_eq!(l.kind, PathKind::Symlink);
        assert_eq!(
            PathStat::parse("fifo:644:a:b:1:2").unwrap().kind,
            PathKind::Other
        );
        // An unknown user is printed as UNKNOWN by stat: still parsed.
        assert!(PathStat::parse("directory:700:UNKNOWN:UNKNOWN:4242:4242").is_some());
        for bad in ["", "directory:755:a:b:x:1", "directory:9:a:b:1:1", "a:b"] {
            assert!(PathStat::parse(bad).is_none(), "{bad}");
        }
    }
}
