//! JSON text as Python's `json.dumps` writes it, which is what Ansible's
//! `to_json` and `to_nice_json` print: `", "` and `": "` between items,
//! non-ASCII escaped as `\u00e9` (`ensure_ascii`), and for `to_nice_json`
//! four-space indents with sorted keys. A configuration file made with
//! these filters is then byte for byte the one Ansible makes.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};
use serde_json::{Map, Value};

/// `json.dumps(v)`.
pub fn dumps(v: &Value) -> serde_json::Result<String> {
    write(v, Python(Compact))
}

/// `json.dumps(v, indent=4, sort_keys=True, separators=(',', ': '))`.
pub fn dumps_nice(v: &Value) -> serde_json::Result<String> {
    write(&sorted(v), Python(PrettyFormatter::with_indent(b"    ")))
}

fn write<F: Formatter>(v: &Value, f: F) -> serde_json::Result<String> {
    let mut out = Vec::new();
    v.serialize(&mut serde_json::Serializer::with_formatter(&mut out, f))?;
    Ok(String::from_utf8(out).expect("ASCII only"))
}

/// `v` with every mapping's keys in order.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Python's default separators on one line.
struct Compact;

impl Formatter for Compact {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

/// A layout `F`, with Python's `ensure_ascii` escaping of text.
struct Python<F>(F);

impl<F: Formatter> Formatter for Python<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        for c in fragment.chars() {
            if c.is_ascii() {
                w.write_all(&[c as u8])?;
            } else {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    write!(w, "\\u{u:04x}")?;
                }
            }
        }
        Ok(())
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn as_python_writes_it() {
        // python3 -c 'import json; print(json.dumps({"b": [1, "x", True, None], "a": {"z": 1.5, "y": "é😀"}}))'
        let v = json!({"b": [1, "x", true, null], "a": {"z": 1.5, "y": "é😀"}});
        assert_eq!(
            dumps(&v).unwrap(),
            r#"{"b": [1, "x", true, null], "a": {"z": 1.5, "y": "\u00e9\ud83d\ude00"}}"#
        );
        assert_eq!(
            dumps_nice(&json!({"b": [1], "a": {}})).unwrap(),
            "{\n    \"a\": {},\n    \"b\": [\n        1\n    ]\n}"
        );
    }
}
