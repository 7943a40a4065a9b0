//! `now()`: the time the run started, as Ansible's `now(utc=False,
//! fmt=None)`. One instant for the whole run, so every host and step
//! sees the same time; a parameter that uses it still differs from run to
//! run, so its step is never "unchanged" (docs/from-ansible.md).

use std::sync::OnceLock;

use minijinja::value::Kwargs;
use time::format_description::parse_strftime_owned;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use super::{Result, bad};

static STARTED: OnceLock<OffsetDateTime> = OnceLock::new();
/// The local time zone's offset, read while the process had one thread
/// (`time` refuses to read it later: the environment could change under it).
static LOCAL: OnceLock<Option<UtcOffset>> = OnceLock::new();

/// Read the local offset now; call it before any thread starts.
pub fn capture_local_offset() {
    LOCAL.get_or_init(|| UtcOffset::current_local_offset().ok());
}

/// The run's start, in UTC.
fn started() -> OffsetDateTime {
    *STARTED.get_or_init(OffsetDateTime::now_utc)
}

/// `now()`, `now(utc=true)`, `now(fmt='%Y-%m-%d')`: text, as Python's
/// `str(datetime)` when no format is given.
pub fn now(kwargs: Kwargs) -> Result<String> {
    let utc = kwargs.get::<Option<bool>>("utc")?.unwrap_or(false);
    let fmt = kwargs.get::<Option<String>>("fmt")?;
    kwargs.assert_all_used()?;
    let at = match utc {
        true => started(),
        false => {
            let offset = LOCAL
                .get()
                .copied()
                .flatten()
                .or_else(|| UtcOffset::current_local_offset().ok())
                .ok_or_else(|| {
                    bad("now(): the local time zone could not be read; use now(utc=true)")
                })?;
            started().to_offset(offset)
        }
    };
    let text = match fmt {
        Some(f) => {
            let items =
                parse_strftime_owned(&f).map_err(|e| bad(format!("now(fmt='{f}'): {e}")))?;
            at.format(&items)
        }
        None => at.format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
        )),
    };
    text.map_err(|e| bad(format!("now(): {e}")))
}
