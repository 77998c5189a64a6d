//! Small value types shared by every layer: document keys, metrics, scored hits.

use std::cmp::Ordering;
use std::fmt;

/// The external key of a document, chosen by the application.
///
/// An index holds keys of one kind, fixed by its schema ([`KeyKind`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// A 64-bit unsigned key.
    U64(u64),
    /// A UTF-8 string key.
    Str(String),
}

impl Key {
    /// The kind of this key.
    pub fn kind(&self) -> KeyKind {
        match self {
            Key::U64(_) => KeyKind::U64,
            Key::Str(_) => KeyKind::Str,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::U64(v) => write!(f, "{v}"),
            Key::Str(s) => f.write_str(s),
        }
    }
}

impl From<u64> for Key {
    fn from(v: u64) -> Key {
        Key::U64(v)
    }
}

impl From<&str> for Key {
    fn from(v: &str) -> Key {
        Key::Str(v.to_owned())
    }
}

impl From<String> for Key {
    fn from(v: String) -> Key {
        Key::Str(v)
    }
}

/// Which kind of key an index uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// `u64` keys.
    U64,
    /// String keys.
    Str,
}

/// How two vectors are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Cosine similarity; higher is closer.
    Cosine,
    /// Inner product; higher is closer.
    Dot,
    /// Squared Euclidean distance; lower is closer.
    L2,
}

impl Metric {
    /// Parses the names used on the command line: `cosine`/`cos`, `dot`/`ip`, `l2`.
    pub fn parse(s: &str) -> Option<Metric> {
        match s {
            "cosine" | "cos" => Some(Metric::Cosine),
            "dot" | "ip" => Some(Metric::Dot),
            "l2" => Some(Metric::L2),
            _ => None,
        }
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::Dot => "dot",
            Metric::L2 => "l2",
        }
    }

    /// Turns a metric value into a rank value where larger is always better.
    #[inline]
    pub fn rank_value(self, score: f32) -> f32 {
        match self {
            Metric::L2 => -score,
            Metric::Cosine | Metric::Dot => score,
        }
    }
}

/// One search result: the document's key and its metric value (similarity for cosine and dot,
/// squared distance for l2).
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The document key.
    pub key: Key,
    /// The metric value.
    pub score: f32,
}

/// Orders hits best first for `metric`, breaking exact score ties by ascending key so results
/// never depend on how documents are spread over segments.
pub fn compare_hits(metric: Metric, a: &Hit, b: &Hit) -> Ordering {
    let (ra, rb) = (metric.rank_value(a.score), metric.rank_value(b.score));
    rb.total_cmp(&ra).then_with(|| a.key.cmp(&b.key))
}

/// A dense vector in the precision the application supplies it.
#[derive(Debug, Clone, PartialEq)]
pub enum Vector {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 16-bit IEEE floats.
    F16(Vec<half::f16>),
}

impl Vector {
    /// Number of components.
    pub fn dim(&self) -> usize {
        match self {
            Vector::F32(v) => v.len(),
            Vector::F16(v) => v.len(),
        }
    }

    /// An f32 copy (exact for f16).
    pub fn to_f32(&self) -> Vec<f32> {
        match self {
            Vector::F32(v) => v.clone(),
            Vector::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
        }
    }

    /// Index of the first component that is NaN or infinite.
    pub fn first_non_finite(&self) -> Option<usize> {
        match self {
            Vector::F32(v) => v.iter().position(|x| !x.is_finite()),
            Vector::F16(v) => v.iter().position(|x| !x.is_finite()),
        }
    }
}

impl From<Vec<f32>> for Vector {
    fn from(v: Vec<f32>) -> Vector {
        Vector::F32(v)
    }
}

impl From<&[f32]> for Vector {
    fn from(v: &[f32]) -> Vector {
        Vector::F32(v.to_vec())
    }
}

impl From<Vec<half::f16>> for Vector {
    fn from(v: Vec<half::f16>) -> Vector {
        Vector::F16(v)
    }
}

/// The kind of a metadata attribute (see [`crate::Schema::with_attribute`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrKind {
    /// One or several strings per document, matched exactly (equality, `IN`, ranges in byte
    /// order).
    Keyword,
    /// A signed 64-bit integer.
    I64,
    /// A finite 64-bit float.
    F64,
}

impl AttrKind {
    /// The name used on the command line and in messages: `keyword`, `i64`, `f64`.
    pub fn name(self) -> &'static str {
        match self {
            AttrKind::Keyword => "keyword",
            AttrKind::I64 => "i64",
            AttrKind::F64 => "f64",
        }
    }

    /// Parses [`AttrKind::name`] (also `kw`, `string`, `int`, `float`).
    pub fn parse(s: &str) -> Option<AttrKind> {
        match s {
            "keyword" | "kw" | "string" => Some(AttrKind::Keyword),
            "i64" | "int" => Some(AttrKind::I64),
            "f64" | "float" => Some(AttrKind::F64),
            _ => None,
        }
    }
}

/// The value of one attribute of one document.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// Keyword values (an empty list is the same as leaving the attribute out).
    Keywords(Vec<String>),
    /// An integer.
    I64(i64),
    /// A float (must be finite).
    F64(f64),
}

impl AttrValue {
    /// One keyword.
    pub fn keyword(s: impl Into<String>) -> AttrValue {
        AttrValue::Keywords(vec![s.into()])
    }

    /// The kind of value this is.
    pub fn kind(&self) -> AttrKind {
        match self {
            AttrValue::Keywords(_) => AttrKind::Keyword,
            AttrValue::I64(_) => AttrKind::I64,
            AttrValue::F64(_) => AttrKind::F64,
        }
    }
}

/// Keywords joined by commas, or the number.
impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Keywords(k) => f.write_str(&k.join(",")),
            AttrValue::I64(x) => write!(f, "{x}"),
            AttrValue::F64(x) => write!(f, "{x}"),
        }
    }
}

impl From<&str> for AttrValue {
    fn from(v: &str) -> AttrValue {
        AttrValue::keyword(v)
    }
}

impl From<String> for AttrValue {
    fn from(v: String) -> AttrValue {
        AttrValue::Keywords(vec![v])
    }
}

impl From<Vec<String>> for AttrValue {
    fn from(v: Vec<String>) -> AttrValue {
        AttrValue::Keywords(v)
    }
}

impl From<i64> for AttrValue {
    fn from(v: i64) -> AttrValue {
        AttrValue::I64(v)
    }
}

impl From<f64> for AttrValue {
    fn from(v: f64) -> AttrValue {
        AttrValue::F64(v)
    }
}
