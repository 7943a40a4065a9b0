//! The workload's message format: the body starts with
//! `workload:<run id>:<publisher>:<seq>;` (padded to the configured size) and
//! the same ids go into the `x-workload-*` headers and `message_id` for people
//! reading the queue. Consumers trust the body.

use crate::events::MsgId;
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString};

/// The body for message `id` of run `run_id`, padded with `.` to `size`.
pub(crate) fn body(run_id: &str, id: MsgId, size: usize) -> Vec<u8> {
    let mut b = format!("workload:{run_id}:{}:{};", id.publisher, id.seq).into_bytes();
    if b.len() < size {
        b.resize(size, b'.');
    }
    b
}

/// Persistent (delivery mode 2) properties carrying the ids.
pub(crate) fn properties(run_id: &str, id: MsgId) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        "x-workload-run".into(),
        AMQPValue::LongString(LongString::from(run_id.to_string())),
    );
    headers.insert(
        "x-workload-publisher".into(),
        AMQPValue::LongLongInt(id.publisher as i64),
    );
    headers.insert(
        "x-workload-seq".into(),
        AMQPValue::LongLongInt(id.seq as i64),
    );
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_message_id(format!("{run_id}-{id}").into())
        .with_headers(headers)
}

/// What a delivered body says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// A message of this run.
    Ours(MsgId),
    /// Anything else (another run, another client).
    Foreign,
}

pub(crate) fn parse(run_id: &str, body: &[u8]) -> Parsed {
    let Some(end) = body.iter().position(|b| *b == b';') else {
        return Parsed::Foreign;
    };
    let Ok(head) = std::str::from_utf8(&body[..end]) else {
        return Parsed::Foreign;
    };
    let mut parts = head.split(':');
    let (Some("workload"), Some(run), Some(p), Some(s), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Parsed::Foreign;
    };
    match (run == run_id, p.parse(), s.parse()) {
        (true, Ok(publisher), Ok(seq)) => Parsed::Ours(MsgId { publisher, seq }),
        _ => Parsed::Foreign,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_foreign() {
        let id = MsgId {
            publisher: 3,
            seq: 12345,
        };
        let b = body("abc", id, 64);
        assert_eq!(b.len(), 64);
        assert_eq!(parse("abc", &b), Parsed::Ours(id));
        assert_eq!(parse("other", &b), Parsed::Foreign);
        assert_eq!(parse("abc", b"hello"), Parsed::Foreign);
        assert_eq!(parse("abc", b"workload:abc:x:1;"), Parsed::Foreign);
        // A small size never truncates the ids.
        assert_eq!(parse("abc", &body("abc", id, 1)), Parsed::Ours(id));
        let props = properties("abc", id);
        assert_eq!(props.delivery_mode(), &Some(2));
    }
}
