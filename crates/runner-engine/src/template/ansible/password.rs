//! `password_hash`: a crypt(3) hash (`$6$salt$...`, `$5$salt$...`) as
//! Ansible's filter makes it, for `/etc/shadow` and the tools that read
//! it. The salt is required: Ansible picks a random one when it is left
//! out, so the hash, and every file holding it, would change on every run
//! and no preview could say "nothing changes". A generated secret makes a
//! good salt (`secrets: generate: {pw_salt: 16}`).

use minijinja::value::Kwargs;
use sha_crypt::{Sha256Params, Sha512Params, sha256_crypt_b64, sha512_crypt_b64};

use super::{Result, bad};

/// The rounds crypt(3) uses when `rounds=` is not written in the hash.
const DEFAULT_ROUNDS: usize = 5_000;
/// crypt(3) reads at most this many salt characters.
const MAX_SALT: usize = 16;

/// `pw | password_hash('sha512', 'salt')`, or with `salt=` and `rounds=`.
pub fn password_hash(
    password: String,
    scheme: Option<String>,
    salt: Option<String>,
    kwargs: Kwargs,
) -> Result<String> {
    let salt = salt.or(kwargs.get::<Option<String>>("salt")?).ok_or_else(|| {
        bad("password_hash needs a salt: password_hash('sha512', SALT); runner does not pick a random one, which would change the hash on every run (a generated secret makes a good salt)")
    })?;
    let rounds = kwargs
        .get::<Option<usize>>("rounds")?
        .unwrap_or(DEFAULT_ROUNDS);
    kwargs.assert_all_used()?;
    check_salt(&salt)?;
    let scheme = scheme.unwrap_or_else(|| "sha512".into());
    let (id, hash) = match scheme.as_str() {
        "sha512" | "sha512_crypt" => {
            let params = Sha512Params::new(rounds)
                .map_err(|e| bad(format!("password_hash: rounds: {e:?}")))?;
            (
                "6",
                sha512_crypt_b64(password.as_bytes(), salt.as_bytes(), &params),
            )
        }
        "sha256" | "sha256_crypt" => {
            let params = Sha256Params::new(rounds)
                .map_err(|e| bad(format!("password_hash: rounds: {e:?}")))?;
            (
                "5",
                sha256_crypt_b64(password.as_bytes(), salt.as_bytes(), &params),
            )
        }
        other => {
            return Err(bad(format!(
                "password_hash: '{other}' is not offered (sha512 or sha256)"
            )));
        }
    };
    let hash = hash.map_err(|e| bad(format!("password_hash: {e:?}")))?;
    let rounds = match rounds {
        DEFAULT_ROUNDS => String::new(),
        n => format!("rounds={n}$"),
    };
    Ok(format!("${id}${rounds}{salt}${hash}"))
}

/// crypt(3)'s salt alphabet, at most 16 characters: anything else would
/// be cut or misread, never hashed as written.
fn check_salt(salt: &str) -> Result<()> {
    let alphabet = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '/';
    if salt.is_empty() || salt.len() > MAX_SALT || !salt.chars().all(alphabet) {
        return Err(bad(format!(
            "password_hash: a salt is 1 to {MAX_SALT} characters of a-z, A-Z, 0-9, '.' and '/'"
        )));
    }
    Ok(())
}
