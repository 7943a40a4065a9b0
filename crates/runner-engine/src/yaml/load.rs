//! YAML text to a tree with the position of every node, from yaml-rust2's
//! events: anchors, aliases and merge keys (`<<`) as Ansible reads them,
//! with a budget on the nodes aliases expand to (a "billion laughs" file is
//! refused at the node that overflows it). Duplicate keys, tags, non-scalar
//! keys and a second document are refused, never guessed.

use std::collections::HashMap;
use std::rc::Rc;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// The most nodes a document may hold once its aliases are expanded.
pub const MAX_NODES: usize = 200_000;
/// The deepest a document may nest once its aliases are expanded.
pub const MAX_NESTING: usize = 2 * super::MAX_DEPTH;

/// A line and column, 1-based.
pub type At = (usize, usize);

/// A parsed node. Aliases share the anchored node.
#[derive(Debug)]
pub enum Node {
    /// The text, and whether it was plain (unquoted, so typed).
    Scalar {
        text: String,
        plain: bool,
        at: At,
    },
    Seq {
        items: Vec<Rc<Node>>,
        at: At,
    },
    Map {
        entries: Vec<Entry>,
        at: At,
    },
}

#[derive(Debug)]
pub struct Entry {
    pub key: String,
    pub key_at: At,
    pub value: Rc<Node>,
}

impl Node {
    pub fn at(&self) -> At {
        match self {
            Node::Scalar { at, .. } | Node::Seq { at, .. } | Node::Map { at, .. } => *at,
        }
    }
}

/// Why the text is refused, and where.
#[derive(Debug)]
pub struct LoadError {
    pub at: At,
    pub message: String,
}

fn error(at: At, message: impl Into<String>) -> LoadError {
    LoadError {
        at,
        message: message.into(),
    }
}

/// The document's root, a mapping.
pub fn load(text: &str) -> Result<Rc<Node>, LoadError> {
    let mut loader = Loader {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        sizes: HashMap::new(),
    };
    loader.document()
}

/// A node being built: its events have started, its end has not come.
/// The last field is its anchor id (0: none).
enum Open {
    Seq(Vec<Rc<Node>>, At, usize),
    /// Entries so far, and the key waiting for its value.
    Map(Vec<Entry>, Option<(String, At)>, At, usize),
}

#[derive(Clone, Copy)]
struct Size {
    nodes: usize,
    depth: usize,
}

impl Size {
    const LEAF: Size = Size { nodes: 1, depth: 1 };

    /// A node holding `children`, plus `keys` key nodes.
    fn of(children: impl Iterator<Item = Size>, keys: usize) -> Size {
        children.fold(
            Size {
                nodes: 1 + keys,
                depth: 1,
            },
            |s, c| Size {
                nodes: s.nodes.saturating_add(c.nodes),
                depth: s.depth.max(c.depth + 1),
            },
        )
    }
}

struct Loader<'a> {
    parser: Parser<std::str::Chars<'a>>,
    /// Anchor id → the node it names.
    anchors: HashMap<usize, Rc<Node>>,
    /// Node (by address) → how many nodes it holds and how deep it
    /// nests, aliases expanded.
    sizes: HashMap<*const Node, Size>,
}

impl Loader<'_> {
    fn next(&mut self) -> Result<(Event, At), LoadError> {
        self.parser
            .next_token()
            .map(|(e, m)| (e, at(&m)))
            .map_err(|e| error(at(e.marker()), format!("invalid YAML: {}", e.info())))
    }

    fn document(&mut self) -> Result<Rc<Node>, LoadError> {
        let mut root = None;
        loop {
            let (event, at) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentStart | Event::DocumentEnd => {}
                Event::StreamEnd => break,
                _ if root.is_some() => {
                    return Err(error(
                        at,
                        "a second YAML document; runner reads one per file",
                    ));
                }
                event => root = Some(self.node(event, at)?),
            }
        }
        match root {
            Some(r) if matches!(*r, Node::Map { .. }) => Ok(r),
            Some(r) => Err(error(r.at(), "the file must be a YAML mapping")),
            None => Err(error(
                (1, 1),
                "the file must be a YAML mapping (it is empty)",
            )),
        }
    }

    /// The node that `event` starts, read to its end without recursion.
    fn node(&mut self, event: Event, at: At) -> Result<Rc<Node>, LoadError> {
        let mut stack: Vec<Open> = Vec::new();
        let (mut event, mut at) = (event, at);
        loop {
            let done = match event {
                Event::Scalar(text, style, anchor, tag) => {
                    refuse_tag(tag.is_some(), at)?;
                    let plain = matches!(style, TScalarStyle::Plain);
                    Some(self.finish(anchor, Node::Scalar { text, plain, at }, Size::LEAF)?)
                }
                Event::Alias(id) => Some(
                    self.anchors
                        .get(&id)
                        .cloned()
                        .ok_or_else(|| error(at, "an alias to an unknown anchor"))?,
                ),
                Event::SequenceStart(anchor, tag) => {
                    refuse_tag(tag.is_some(), at)?;
                    stack.push(Open::Seq(Vec::new(), at, anchor));
                    None
                }
                Event::MappingStart(anchor, tag) => {
                    refuse_tag(tag.is_some(), at)?;
                    stack.push(Open::Map(Vec::new(), None, at, anchor));
                    None
                }
                Event::SequenceEnd | Event::MappingEnd => Some(self.close(stack.pop())?),
                _ => return Err(error(at, "invalid YAML: an unexpected event")),
            };
            if let Some(node) = done {
                match stack.last_mut() {
                    None => return Ok(node),
                    Some(open) => add(open, node)?,
                }
            }
            (event, at) = self.next()?;
        }
    }

    fn close(&mut self, open: Option<Open>) -> Result<Rc<Node>, LoadError> {
        match open {
            Some(Open::Seq(items, at, anchor)) => {
                let size = Size::of(items.iter().map(|c| self.size(c)), 0);
                self.finish(anchor, Node::Seq { items, at }, size)
            }
            Some(Open::Map(entries, _, at, anchor)) => {
                let entries = merge(entries)?;
                let size = Size::of(entries.iter().map(|e| self.size(&e.value)), entries.len());
                self.finish(anchor, Node::Map { entries, at }, size)
            }
            None => Err(error((0, 0), "invalid YAML: an unbalanced end")),
        }
    }

    fn size(&self, node: &Rc<Node>) -> Size {
        self.sizes
            .get(&Rc::as_ptr(node))
            .copied()
            .unwrap_or(Size::LEAF)
    }

    /// Record a finished node's size (refused over the budget) and anchor.
    fn finish(&mut self, anchor: usize, node: Node, size: Size) -> Result<Rc<Node>, LoadError> {
        if size.nodes > MAX_NODES {
            return Err(error(
                node.at(),
                format!(
                    "this node expands to more than {MAX_NODES} nodes (aliases of aliases?); runner reads no more"
                ),
            ));
        }
        if size.depth > MAX_NESTING {
            return Err(error(
                node.at(),
                format!(
                    "this node nests deeper than {MAX_NESTING} levels with its aliases expanded; runner reads no deeper"
                ),
            ));
        }
        let node = Rc::new(node);
        self.sizes.insert(Rc::as_ptr(&node), size);
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }
}

fn at(m: &Marker) -> At {
    (m.line(), m.col() + 1)
}

fn refuse_tag(tagged: bool, at: At) -> Result<(), LoadError> {
    match tagged {
        true => Err(error(at, "YAML tags (`!name`) are not supported")),
        false => Ok(()),
    }
}

/// Put a finished node into the one that holds it.
fn add(open: &mut Open, node: Rc<Node>) -> Result<(), LoadError> {
    match open {
        Open::Seq(items, _, _) => items.push(node),
        Open::Map(entries, key, _, _) => match key.take() {
            None => match &*node {
                Node::Scalar { text, at, .. } => *key = Some((text.clone(), *at)),
                other => return Err(error(other.at(), "a mapping key must be a scalar")),
            },
            Some((k, key_at)) => {
                if k != "<<" && entries.iter().any(|e| e.key == k) {
                    return Err(error(key_at, format!("duplicate key '{k}'")));
                }
                entries.push(Entry {
                    key: k,
                    key_at,
                    value: node,
                });
            }
        },
    }
    Ok(())
}

/// A mapping's merge keys (`<<: *a`, `<<: [*a, *b]`) resolved: merged
/// keys come after the mapping's own, which win, and an earlier merged
/// mapping wins over a later one.
fn merge(entries: Vec<Entry>) -> Result<Vec<Entry>, LoadError> {
    let (merges, mut own): (Vec<Entry>, Vec<Entry>) =
        entries.into_iter().partition(|e| e.key == "<<");
    for m in merges {
        let sources: Vec<Rc<Node>> = match &*m.value {
            Node::Seq { items, .. } => items.clone(),
            _ => vec![m.value.clone()],
        };
        for source in sources {
            let Node::Map { entries, .. } = &*source else {
                return Err(error(
                    source.at(),
                    "a merge key (<<) takes a mapping, or a list of mappings",
                ));
            };
            for e in entries {
                if !own.iter().any(|o| o.key == e.key) {
                    own.push(Entry {
                        key: e.key.clone(),
                        key_at: e.key_at,
                        value: e.value.clone(),
                    });
                }
            }
        }
    }
    Ok(own)
}
