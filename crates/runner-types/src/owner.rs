//! Owner and group names a file or directory may be given: a user or group
//! name as `useradd` accepts it, or a numeric id. Anything else (spaces,
//! `:`, a leading `-`, shell characters) is refused before it reaches a
//! host's `chown`.

/// Why an owner or group name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnerError {
    #[error("owner or group name is empty")]
    Empty,
    #[error("owner or group {0:?} is longer than 32 characters")]
    TooLong(String),
    #[error(
        "owner or group {0:?} is neither a numeric id nor a name of letters, digits, '_', '.' and '-' (not first)"
    )]
    Invalid(String),
}

/// Whether `name` is a plain user or group name or a numeric id.
pub fn check(name: &str) -> Result<(), OwnerError> {
    if name.is_empty() {
        return Err(OwnerError::Empty);
    }
    if name.len() > 32 {
        return Err(OwnerError::TooLong(name.escape_default().to_string()));
    }
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(OwnerError::Invalid(name.escape_default().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_pass() {
        for ok in ["nobody", "nogroup", "www-data", "_apt", "65534", "svc.app"] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn anything_shell_or_chown_would_read_otherwise_is_refused() {
        for bad in [
            "",
            "-R",
            "root:root",
            "a b",
            "a;b",
            "$(id)",
            "a\0b",
            "ü",
            &"x".repeat(33),
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
    }
}
