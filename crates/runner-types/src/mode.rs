//! Unix permission bits as octal text (`"0640"`) in JSON: events, the
//! journal and saved plans. Reading also takes the integer that plans
//! saved before this form (`416`).

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(mode: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{mode:04o}"))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Either {
    Text(String),
    Number(u32),
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    match Either::deserialize(d)? {
        Either::Number(n) => Ok(n),
        Either::Text(t) => parse(&t).map_err(serde::de::Error::custom),
    }
}

/// `"0640"`, `"640"` or `"0o640"` as bits; at most `07777`.
pub fn parse(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    let bad = || format!("mode {text:?} is not octal permission bits like \"0640\"");
    if digits.is_empty() || digits.len() > 5 {
        return Err(bad());
    }
    let mode = u32::from_str_radix(digits, 8).map_err(|_| bad())?;
    if mode > 0o7777 { Err(bad()) } else { Ok(mode) }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct M {
        #[serde(with = "super")]
        mode: u32,
    }

    #[test]
    fn written_as_octal_text() {
        let json = serde_json::to_string(&M { mode: 0o640 }).unwrap();
        assert_eq!(json, r#"{"mode":"0640"}"#);
        assert_eq!(
            serde_json::to_string(&M { mode: 0o7 }).unwrap(),
            r#"{"mode":"0007"}"#
        );
    }

    #[test]
    fn read_from_text_or_the_old_integer() {
        let from = |j: &str| serde_json::from_str::<M>(j).map(|m| m.mode);
        assert_eq!(from(r#"{"mode":"0640"}"#).unwrap(), 0o640);
        assert_eq!(from(r#"{"mode":"640"}"#).unwrap(), 0o640);
        assert_eq!(from(r#"{"mode":416}"#).unwrap(), 0o640);
        for bad in [
            r#"{"mode":"0648"}"#,
            r#"{"mode":""}"#,
            r#"{"mode":"077777"}"#,
            r#"{"mode":"rw"}"#,
        ] {
            assert!(from(bad).is_err(), "{bad}");
        }
    }
}
