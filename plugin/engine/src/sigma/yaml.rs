//! YAML documents as trees whose every node knows its line and column, read
//! with `yaml-rust2`'s event parser (pure Rust, so it builds for wasm32).
//!
//! Only what Sigma needs: mappings (keys in order), sequences and scalars,
//! with aliases of scalars resolved (an alias of a collection reads as null).
//! Tags are ignored.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A node and where it starts (1-based line and column, in characters).
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) kind: Kind,
    pub(crate) line: u32,
    pub(crate) column: u32,
}

/// What a node is.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// A scalar; `plain` when unquoted (so `null`, `true` and numbers are
    /// read as such).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Key/value pairs in document order.
    Map(Vec<(Node, Node)>),
}

/// A plain scalar's YAML 1.2 core-schema reading.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plain<'a> {
    Null,
    Bool(bool),
    Int(&'a str),
    Float(&'a str),
    Str(&'a str),
}

impl Node {
    /// The scalar text of a string-like node (any scalar but `null`).
    pub(crate) fn str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { text, plain } if !(*plain && is_null(text)) => Some(text),
            _ => None,
        }
    }

    /// The typed reading of a scalar (quoted scalars are strings).
    pub(crate) fn scalar(&self) -> Option<Plain<'_>> {
        let Kind::Scalar { text, plain } = &self.kind else { return None };
        if !plain {
            return Some(Plain::Str(text));
        }
        Some(if is_null(text) {
            Plain::Null
        } else if matches!(text.as_str(), "true" | "True" | "TRUE") {
            Plain::Bool(true)
        } else if matches!(text.as_str(), "false" | "False" | "FALSE") {
            Plain::Bool(false)
        } else if is_int(text) {
            Plain::Int(text)
        } else if is_float(text) {
            Plain::Float(text)
        } else {
            Plain::Str(text)
        })
    }

    /// The value of `key` in a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.entries().iter().find(|(k, _)| k.str() == Some(key)).map(|(_, v)| v)
    }

    /// A mapping's entries (empty for anything else).
    pub(crate) fn entries(&self) -> &[(Node, Node)] {
        match &self.kind {
            Kind::Map(e) => e,
            _ => &[],
        }
    }

    /// True for a mapping.
    pub(crate) fn is_map(&self) -> bool {
        matches!(self.kind, Kind::Map(_))
    }

    /// A sequence's items, or the node itself as the only item.
    pub(crate) fn items(&self) -> Vec<&Node> {
        match &self.kind {
            Kind::Seq(items) => items.iter().collect(),
            _ => vec![self],
        }
    }

    /// The strings of a scalar or a sequence of scalars.
    pub(crate) fn strings(&self) -> Vec<&str> {
        self.items().into_iter().filter_map(Node::str).collect()
    }
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn is_int(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit())
}

fn is_float(text: &str) -> bool {
    text.bytes().any(|b| b.is_ascii_digit())
        && text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        && text.parse::<f64>().is_ok()
}

/// A YAML syntax error: message, line, column.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub(crate) message: String,
    pub(crate) line: u32,
    pub(crate) column: u32,
}

/// Every document of a YAML stream (an empty document is skipped).
pub(crate) fn documents(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| SyntaxError {
        message: e.info().to_string(),
        line: e.marker().line() as u32,
        column: e.marker().col() as u32 + 1,
    })?;
    Ok(builder.docs)
}

/// Collects parser events into trees.
#[derive(Default)]
struct Builder {
    docs: Vec<Node>,
    /// Open collections, each with its pending mapping key.
    stack: Vec<(Node, Option<Node>)>,
    /// Anchored scalars by anchor id, for aliases.
    anchors: Vec<(usize, Node)>,
    /// The anchor ids of the open collections.
    open_anchors: Vec<usize>,
}

impl Builder {
    fn push(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some((parent, key)) => match &mut parent.kind {
                Kind::Seq(items) => items.push(node),
                Kind::Map(entries) => match key.take() {
                    None => *key = Some(node),
                    Some(k) => entries.push((k, node)),
                },
                Kind::Scalar { .. } => {}
            },
        }
    }
}

fn position(mark: Marker) -> (u32, u32) {
    (mark.line() as u32, mark.col() as u32 + 1)
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let (line, column) = position(mark);
        match ev {
            Event::Scalar(text, style, anchor, _) => {
                let node = Node { kind: Kind::Scalar { text, plain: style == TScalarStyle::Plain }, line, column };
                if anchor > 0 {
                    self.anchors.push((anchor, node.clone()));
                }
                self.push(node);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push((Node { kind: Kind::Seq(Vec::new()), line, column }, None));
                self.open_anchors.push(anchor);
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push((Node { kind: Kind::Map(Vec::new()), line, column }, None));
                self.open_anchors.push(anchor);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                // Anchors on collections are not kept: aliases of them could
                // expand a small text into a huge tree ("billion laughs").
                self.open_anchors.pop();
                if let Some((node, _)) = self.stack.pop() {
                    self.push(node);
                }
            }
            Event::Alias(id) => {
                let node = self.anchors.iter().rev().find(|(a, _)| *a == id).map(|(_, n)| n.clone());
                self.push(node.unwrap_or(Node {
                    kind: Kind::Scalar { text: String::new(), plain: true },
                    line,
                    column,
                }));
            }
            _ => {}
        }
    }
}
