//! The filter expression parser: text → [`Filter`].
//!
//! Grammar (keywords in any case; precedence from loosest: `OR`, `AND`, `NOT`):
//!
//! ```text
//! expr     := and ("OR" and)*
//! and      := unary ("AND" unary)*
//! unary    := "NOT" unary | primary
//! primary  := "(" expr ")"
//!           | "EXISTS" name
//!           | name ("=" | "!=" | "<>" | "<" | "<=" | ">" | ">=") literal
//!           | name ["NOT"] "IN" "(" [literal ("," literal)*] ")"
//!           | name ["NOT"] "BETWEEN" literal "AND" literal
//! literal  := 'text' ('' inside is one quote) | integer | float
//! name     := [A-Za-z_][A-Za-z0-9_]*   (`_key` names the document key: `=`, `!=`, `IN` only)
//! ```
//!
//! Parentheses and NOTs nest at most 128 deep together.
//! An integer is `-?[0-9]+` within i64; a float has a fraction or an exponent and must be
//! finite. Every error is [`Error::FilterSyntax`] with the byte offset and what was expected.

use super::{CmpOp, Filter, Literal};
use crate::error::{Error, Result};
use crate::types::Key;

/// Nesting deeper than this is refused (the parser recurses once per level).
const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    Op(CmpOp),
    LParen,
    RParen,
    Comma,
    End,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Str(s) => format!("string '{s}'"),
        Tok::Int(i) => format!("number {i}"),
        Tok::Float(f) => format!("number {f:?}"),
        Tok::Op(op) => format!("'{}'", op.symbol()),
        Tok::LParen => "'('".to_owned(),
        Tok::RParen => "')'".to_owned(),
        Tok::Comma => "','".to_owned(),
        Tok::End => "the end of the expression".to_owned(),
    }
}

fn syntax(at: usize, expected: &str, found: impl Into<String>) -> Error {
    Error::FilterSyntax {
        at,
        expected: expected.to_owned(),
        found: found.into(),
    }
}

/// Splits `src` into tokens with their byte offsets; the last token is `End`.
fn lex(src: &str) -> Result<Vec<(usize, Tok)>> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let start = i;
        let next = bytes.get(i + 1).copied();
        let tok = match b {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b',' => Tok::Comma,
            b'=' => Tok::Op(CmpOp::Eq),
            b'!' if next == Some(b'=') => Tok::Op(CmpOp::Ne),
            b'<' if next == Some(b'>') => Tok::Op(CmpOp::Ne),
            b'<' if next == Some(b'=') => Tok::Op(CmpOp::Le),
            b'<' => Tok::Op(CmpOp::Lt),
            b'>' if next == Some(b'=') => Tok::Op(CmpOp::Ge),
            b'>' => Tok::Op(CmpOp::Gt),
            b'\'' => {
                let (s, end) = lex_string(src, i)?;
                out.push((start, Tok::Str(s)));
                i = end;
                continue;
            }
            b'-' | b'0'..=b'9' => {
                let (t, end) = lex_number(src, i)?;
                out.push((start, t));
                i = end;
                continue;
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let end = bytes
                    .iter()
                    .skip(i)
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    .map_or(bytes.len(), |n| i + n);
                out.push((start, Tok::Ident(src.get(i..end).unwrap_or("").to_owned())));
                i = end;
                continue;
            }
            _ => {
                let c = src.get(i..).and_then(|s| s.chars().next()).unwrap_or('?');
                return Err(syntax(
                    i,
                    "a name, a value, an operator or a parenthesis",
                    format!("'{c}'"),
                ));
            }
        };
        i += match tok {
            Tok::Op(CmpOp::Ne | CmpOp::Le | CmpOp::Ge) => 2,
            _ => 1,
        };
        out.push((start, tok));
    }
    out.push((src.len(), Tok::End));
    Ok(out)
}

/// A single-quoted string starting at `start`; returns it and the offset after it.
fn lex_string(src: &str, start: usize) -> Result<(String, usize)> {
    let mut s = String::new();
    let mut chars = src.get(start + 1..).unwrap_or("").char_indices().peekable();
    while let Some((k, c)) = chars.next() {
        if c == '\'' {
            if chars.peek().map(|(_, c)| *c) == Some('\'') {
                chars.next();
                s.push('\'');
            } else {
                return Ok((s, start + 1 + k + 1));
            }
        } else {
            s.push(c);
        }
    }
    Err(syntax(
        start,
        "a closing quote for the string",
        "the end of the expression",
    ))
}

/// A number starting at `start`; returns it and the offset after it.
fn lex_number(src: &str, start: usize) -> Result<(Tok, usize)> {
    let bytes = src.as_bytes();
    let mut i = start;
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let s = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > s
    };
    if !digits(&mut i) {
        return Err(syntax(start, "digits", "'-' without a number"));
    }
    let mut float = false;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        float = true;
        if !digits(&mut i) {
            return Err(syntax(i, "digits after the decimal point", "none"));
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        float = true;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return Err(syntax(i, "digits of the exponent", "none"));
        }
    }
    if bytes
        .get(i)
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    {
        return Err(syntax(
            i,
            "a space or an operator after the number",
            "a letter",
        ));
    }
    let text = src.get(start..i).unwrap_or("");
    let tok = if float {
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Tok::Float(f),
            _ => return Err(syntax(start, "a finite number", format!("'{text}'"))),
        }
    } else {
        match text.parse::<i64>() {
            Ok(v) => Tok::Int(v),
            Err(_) => {
                return Err(syntax(
                    start,
                    "an integer within i64 (or a float with a '.')",
                    format!("'{text}'"),
                ));
            }
        }
    };
    Ok((tok, i))
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    depth: usize,
}

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
}

fn is_reserved(s: &str) -> bool {
    crate::schema::RESERVED_NAMES
        .iter()
        .any(|r| *r != "_key" && r.eq_ignore_ascii_case(s))
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map_or(&Tok::End, |(_, t)| t)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(0, |(a, _)| *a)
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn error(&self, expected: &str) -> Error {
        syntax(self.at(), expected, describe(self.peek()))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if is_kw(self.peek(), kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: Tok, what: &str) -> Result<()> {
        if *self.peek() == t {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn expr(&mut self) -> Result<Filter> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(&format!("at most {MAX_DEPTH} levels of nesting")));
        }
        let mut parts = vec![self.and()?];
        while self.eat_kw("or") {
            parts.push(self.and()?);
        }
        self.depth -= 1;
        Ok(if parts.len() == 1 {
            parts.pop().unwrap_or(Filter::And(Vec::new()))
        } else {
            Filter::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Filter> {
        let mut parts = vec![self.unary()?];
        while self.eat_kw("and") {
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap_or(Filter::And(Vec::new()))
        } else {
            Filter::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Filter> {
        // NOTs count towards the nesting limit like parentheses, so the text `Display` writes
        // for a parsed filter (which may drop parentheses, never add nesting) parses again.
        let mut nots = 0usize;
        while self.eat_kw("not") {
            nots += 1;
            if self.depth + nots > MAX_DEPTH {
                return Err(self.error(&format!("at most {MAX_DEPTH} levels of nesting")));
            }
        }
        self.depth += nots;
        let mut f = self.primary()?;
        self.depth -= nots;
        for _ in 0..nots {
            f = Filter::Not(Box::new(f));
        }
        Ok(f)
    }

    fn name(&mut self, what: &str) -> Result<String> {
        match self.peek() {
            Tok::Ident(s) if !is_reserved(s) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.error(what)),
        }
    }

    fn literal(&mut self) -> Result<Literal> {
        match self.peek() {
            Tok::Str(_) | Tok::Int(_) | Tok::Float(_) => {}
            _ => return Err(self.error("a value ('text', an integer or a float)")),
        }
        Ok(match self.bump() {
            Tok::Str(s) => Literal::Str(s),
            Tok::Int(v) => Literal::Int(v),
            Tok::Float(v) => Literal::Float(v),
            _ => Literal::Int(0),
        })
    }

    fn primary(&mut self) -> Result<Filter> {
        if *self.peek() == Tok::LParen {
            self.pos += 1;
            let f = self.expr()?;
            self.expect(Tok::RParen, "')' or AND/OR")?;
            return Ok(f);
        }
        if self.eat_kw("exists") {
            let at = self.at();
            let name = self.name("an attribute name after EXISTS")?;
            if name == "_key" {
                return Err(syntax(at, "an attribute name after EXISTS", "'_key'"));
            }
            return Ok(Filter::Exists(name));
        }
        let name_at = self.at();
        let name = self.name("an attribute name, NOT, EXISTS or '('")?;
        let negated = self.eat_kw("not");
        let f = if self.eat_kw("in") {
            self.expect(Tok::LParen, "'(' after IN")?;
            let mut values = Vec::new();
            if *self.peek() != Tok::RParen {
                values.push(self.literal()?);
                while *self.peek() == Tok::Comma {
                    self.pos += 1;
                    values.push(self.literal()?);
                }
            }
            self.expect(Tok::RParen, "',' or ')' in the IN list")?;
            Filter::In { attr: name, values }
        } else if self.eat_kw("between") {
            let low = self.literal()?;
            if !self.eat_kw("and") {
                return Err(self.error("AND between the bounds of BETWEEN"));
            }
            let high = self.literal()?;
            Filter::Between {
                attr: name,
                low,
                high,
            }
        } else if negated {
            return Err(self.error("IN or BETWEEN after NOT"));
        } else {
            let Tok::Op(op) = self.peek().clone() else {
                return Err(self.error("an operator (=, !=, <, <=, >, >=, IN, BETWEEN)"));
            };
            self.pos += 1;
            let value = self.literal()?;
            Filter::Compare {
                attr: name,
                op,
                value,
            }
        };
        let f = if f.names_key() {
            key_filter(f, name_at)?
        } else {
            f
        };
        Ok(if negated { Filter::Not(Box::new(f)) } else { f })
    }
}

/// Turns a predicate on `_key` into a key set.
fn key_filter(f: Filter, at: usize) -> Result<Filter> {
    let key = |l: Literal| match l {
        Literal::Int(v) if v >= 0 => Ok(Key::U64(v.cast_unsigned())),
        Literal::Str(s) => Ok(Key::Str(s)),
        other => Err(syntax(
            at,
            "a key: 'text' or a non-negative integer",
            format!("{other}"),
        )),
    };
    match f {
        Filter::Compare {
            op: CmpOp::Eq,
            value,
            ..
        } => Ok(Filter::Keys(vec![key(value)?])),
        Filter::Compare {
            op: CmpOp::Ne,
            value,
            ..
        } => Ok(Filter::Not(Box::new(Filter::Keys(vec![key(value)?])))),
        Filter::In { values, .. } => Ok(Filter::Keys(
            values.into_iter().map(key).collect::<Result<_>>()?,
        )),
        _ => Err(syntax(
            at,
            "=, != or IN after _key (keys have no order)",
            "a range",
        )),
    }
}

/// Parses a filter expression (see the module docs for the grammar).
pub(super) fn parse(src: &str) -> Result<Filter> {
    let mut p = Parser {
        toks: lex(src)?,
        pos: 0,
        depth: 0,
    };
    let f = p.expr()?;
    if *p.peek() != Tok::End {
        return Err(p.error("AND, OR or the end of the expression"));
    }
    Ok(f)
}
