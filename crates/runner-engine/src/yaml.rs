//! YAML files with positions: parsed once into JSON values plus a table
//! that maps every JSON pointer to its line and column, so any later error
//! (a type, a schema violation, a template) can name file, line and column.

mod load;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Number, Value};

use load::Node;

/// A position in a source file, 1-based; line 0 means the file as a
/// whole (it could not be read), shown without a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// The file as a whole (line 0).
    pub fn file(path: &Path) -> Location {
        Location {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}", self.file.display());
        }
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// An error in an input file, at a position, about a field.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{location}: {field}{message}")]
pub struct InputError {
    pub location: Location,
    /// `field 'x.y': ` or empty.
    field: String,
    message: String,
}

impl InputError {
    pub fn new(location: Location, field: &str, message: impl Into<String>) -> Self {
        InputError {
            location,
            field: if field.is_empty() {
                String::new()
            } else {
                format!("field '{field}': ")
            },
            message: message.into(),
        }
    }
}

/// How deep block nesting may go (the parser guards flow nesting itself).
pub const MAX_DEPTH: usize = 100;

/// The first line (1-based) where block nesting (indentation levels, and
/// `- ` items opened on one line) goes deeper than [`MAX_DEPTH`].
fn too_deep(text: &str) -> Option<usize> {
    let mut indents: Vec<usize> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let body = line.trim_start_matches(' ');
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = line.len() - body.len();
        while indents.last().is_some_and(|&top| top >= indent) {
            indents.pop();
        }
        indents.push(indent);
        let dashes = body
            .split_inclusive(' ')
            .take_while(|w| w.trim_end() == "-")
            .count();
        if indents.len() + dashes > MAX_DEPTH {
            return Some(i + 1);
        }
    }
    None
}

/// A file's text; an error names the file and why it cannot be read.
pub fn read(path: &Path) -> Result<String, InputError> {
    std::fs::read_to_string(path).map_err(|e| {
        InputError::new(
            Location::file(path),
            "",
            match e.kind() {
                std::io::ErrorKind::NotFound => "the file does not exist".to_string(),
                std::io::ErrorKind::IsADirectory => "this is a directory, not a file".into(),
                _ => format!("cannot read: {e}"),
            },
        )
    })
}

/// A parsed YAML document.
#[derive(Debug, Clone)]
pub struct Document {
    pub file: PathBuf,
    pub value: Value,
    positions: HashMap<String, (usize, usize)>,
}

impl Document {
    pub fn load(path: &Path) -> Result<Document, InputError> {
        Document::parse(path, &read(path)?)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Document, InputError> {
        if let Some(line) = too_deep(text) {
            return Err(InputError::new(
                Location {
                    file: path.to_path_buf(),
                    line,
                    column: 1,
                },
                "",
                format!("nested deeper than {MAX_DEPTH} levels; runner reads no deeper"),
            ));
        }
        let node = load::load(text).map_err(|e| {
            InputError::new(
                Location {
                    file: path.to_path_buf(),
                    line: e.at.0,
                    column: e.at.1,
                },
                "",
                e.message,
            )
        })?;
        let mut positions = HashMap::new();
        let value = convert(&node, String::new(), &mut positions);
        Ok(Document {
            file: path.to_path_buf(),
            value,
            positions,
        })
    }

    /// A document read from another format, with the position of each
    /// pointer (`/a/b`, and `/a/b#key` for the key itself).
    pub fn from_parts(
        file: PathBuf,
        value: Value,
        positions: HashMap<String, (usize, usize)>,
    ) -> Document {
        Document {
            file,
            value,
            positions,
        }
    }

    /// The position of the value at `pointer` (`/steps/0/with/mode`), or of
    /// its nearest parent that has one.
    pub fn location(&self, pointer: &str) -> Location {
        let mut p = pointer.to_string();
        let mut exact = true;
        loop {
            // For a missing child, its parent's key is the better place.
            let key = (!exact)
                .then(|| self.positions.get(&format!("{p}#key")))
                .flatten();
            if let Some(&(line, column)) = key.or_else(|| self.positions.get(&p)) {
                return Location {
                    file: self.file.clone(),
                    line,
                    column,
                };
            }
            exact = false;
            match p.rfind('/') {
                Some(i) => p.truncate(i),
                None => {
                    return Location {
                        file: self.file.clone(),
                        line: 1,
                        column: 1,
                    };
                }
            }
        }
    }

    /// An error about the value at `pointer`, naming it as `field`.
    pub fn error(&self, pointer: &str, message: impl Into<String>) -> InputError {
        let field = pointer.trim_start_matches('/').replace('/', ".");
        InputError::new(self.location(pointer), &field, message)
    }

    /// Deserialize the value at `pointer` into `T`, with errors pointing at
    /// the offending field.
    pub fn decode<T: serde::de::DeserializeOwned>(&self, pointer: &str) -> Result<T, InputError> {
        let value = self.value.pointer(pointer).cloned().unwrap_or(Value::Null);
        serde_path_to_error::deserialize(value).map_err(|e| {
            let mut sub = String::from(pointer);
            for seg in e.path().iter() {
                use serde_path_to_error::Segment::*;
                match seg {
                    Seq { index } => sub.push_str(&format!("/{index}")),
                    Map { key } => sub.push_str(&format!("/{}", escape(key))),
                    Enum { variant } => sub.push_str(&format!("/{}", escape(variant))),
                    Unknown => {}
                }
            }
            self.error(&sub, e.into_inner().to_string())
        })
    }
}

/// Escape a key for a JSON pointer.
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn convert(node: &Node, pointer: String, positions: &mut HashMap<String, (usize, usize)>) -> Value {
    positions.insert(pointer.clone(), node.at());
    match node {
        Node::Scalar { text, plain, .. } => scalar(text, *plain),
        Node::Seq { items, .. } => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, n)| convert(n, format!("{pointer}/{i}"), positions))
                .collect(),
        ),
        Node::Map { entries, .. } => {
            let mut out = Map::new();
            for e in entries {
                let child = format!("{pointer}/{}", escape(&e.key));
                positions.insert(format!("{child}#key"), e.key_at);
                out.insert(e.key.clone(), convert(&e.value, child, positions));
            }
            Value::Object(out)
        }
    }
}

/// YAML 1.2 core-schema resolution of a plain scalar; quoted ones stay text.
fn scalar(text: &str, plain: bool) -> Value {
    if !plain {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Value::Number(i.into());
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Value::Number(i.into());
    }
    let looks_numeric = text
        .trim_start_matches(['-', '+'])
        .starts_with(|c: char| c.is_ascii_digit() || c == '.');
    if looks_numeric
        && let Ok(f) = text.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_positions() {
        let doc = Document::parse(
            Path::new("p.yaml"),
            "a: 1\nb:\n  - x\n  - 'true'\n  - true\nc: 0644\nd: ~\ne: 1.5\n",
        )
        .unwrap();
        assert_eq!(
            doc.value,
            serde_json::json!({"a": 1, "b": ["x", "true", true], "c": 644, "d": null, "e": 1.5})
        );
        let loc = doc.location("/b/1");
        assert_eq!((loc.line, loc.column), (4, 5));
        assert_eq!(doc.location("/b/9/zz").line, 2);
    }

    #[test]
    fn deep_nesting_is_refused_with_its_line() {
        let deep: String = (0..5000)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        let err = Document::parse(Path::new("deep.yaml"), &deep).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("deep.yaml:101:1: nested deeper"),
            "{err}"
        );
        let dashes = format!("a: {}x\n", "- ".repeat(500));
        assert!(Document::parse(Path::new("d.yaml"), &dashes).is_err());
        let fine = "a:\n  b:\n    - c: 1\n";
        assert!(Document::parse(Path::new("ok.yaml"), fine).is_ok());
    }

    #[test]
    fn syntax_error_names_line() {
        let err = Document::parse(Path::new("bad.yaml"), "a: [1, 2\nb: 3\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("bad.yaml:"), "{text}");
        let err = Document::parse(Path::new("dup.yaml"), "a: 1\na: 2\n").unwrap_err();
        assert!(err.to_string().contains("dup.yaml:2:"), "{err}");
        assert!(err.to_string().contains("duplicate key 'a'"), "{err}");
    }

    #[test]
    fn anchors_aliases_and_merge_keys_as_ansible_reads_them() {
        let text = "base: &base\n  port: 5672\n  tags: &tags [a, b]\nweb:\n  <<: *base\n  port: 80\nboth:\n  <<: [*base, {port: 1, extra: x}]\nlist: *tags\n";
        let doc = Document::parse(Path::new("a.yaml"), text).unwrap();
        assert_eq!(
            doc.value,
            serde_json::json!({
                "base": {"port": 5672, "tags": ["a", "b"]},
                "web": {"port": 80, "tags": ["a", "b"]},
                "both": {"port": 5672, "tags": ["a", "b"], "extra": "x"},
                "list": ["a", "b"],
            })
        );
        // An own key is where it is written; a merged one where its anchor is.
        assert_eq!(doc.location("/web/port").line, 6);
        assert_eq!(doc.location("/web/tags").line, 3);
    }

    #[test]
    fn what_aliases_cannot_make_is_refused_where_it_is() {
        let err = |text: &str| {
            Document::parse(Path::new("x.yaml"), text)
                .unwrap_err()
                .to_string()
        };
        let mut bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n".to_string();
        for i in 1..8 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [{}]\n",
                vec![format!("*a{p}"); 10].join(", ")
            ));
        }
        let e = err(&bomb);
        assert!(
            e.starts_with("x.yaml:6:") && e.contains("expands to more than 200000 nodes"),
            "{e}"
        );
        let e = err("a: *nowhere\n");
        assert!(e.starts_with("x.yaml:1:"), "{e}");
        let e = err("a: &a {x: 1}\nb:\n  <<: [*a, 3]\n");
        assert!(e.contains("a merge key (<<) takes a mapping"), "{e}");
        assert!(err("a: !!str x\n").contains("tags"));
        assert!(err("a: 1\n---\nb: 2\n").contains("a second YAML document"));
        assert!(err("").contains("must be a YAML mapping"));
        assert!(err("- a\n").contains("must be a YAML mapping"));
        assert!(err("? [a]\n: 1\n").contains("a mapping key must be a scalar"));
        // Depth through aliases is bounded too.
        let mut deep = "l0: &l0 [x]\n".to_string();
        for i in 1..300 {
            deep.push_str(&format!("l{i}: &l{i} [*l{}]\n", i - 1));
        }
        assert!(
            err(&deep).contains("nests deeper than 200 levels"),
            "{}",
            err(&deep)
        );
    }
}
