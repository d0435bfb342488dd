//! A small GraphQL document reader for the guards: just enough structure (operations,
//! fragments, fields with alias, `limit` argument and directive count, spreads, inline
//! fragments) to measure a query before juniper executes it. It never recurses deeper than
//! [`MAX_NESTING`], so a hostile document cannot exhaust the stack.

use std::collections::HashMap;

/// Nesting beyond this is refused outright (far past any allowed depth).
pub const MAX_NESTING: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub enum Limit {
    Default,
    Literal(u64),
    Variable(String),
}

#[derive(Debug, Clone)]
pub enum Sel {
    Field { name: String, aliased: bool, limit: Limit, directives: usize, sels: Vec<Sel> },
    Spread { name: String, directives: usize },
    Inline { type_condition: Option<String>, directives: usize, sels: Vec<Sel> },
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub kind: String,
    pub name: Option<String>,
    pub directives: usize,
    pub sels: Vec<Sel>,
}

#[derive(Debug, Clone)]
pub struct Fragment {
    pub type_condition: String,
    pub directives: usize,
    pub sels: Vec<Sel>,
}

#[derive(Debug, Default)]
pub struct Document {
    pub operations: Vec<Operation>,
    pub fragments: HashMap<String, Fragment>,
    pub tokens: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Punct(char),
    Spread,
    Name(String),
    Int(u64),
    Other,
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseFailure {
    Syntax(String),
    TooNested,
    TooManyTokens,
}

fn lex(src: &str, max_tokens: usize) -> Result<Vec<Tok>, ParseFailure> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if out.len() > max_tokens {
            return Err(ParseFailure::TooManyTokens);
        }
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | b',' | 0xEF | 0xBB | 0xBF => i += 1,
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'.' if b.get(i + 1..i + 3) == Some(b"..") => {
                out.push(Tok::Spread);
                i += 3;
            }
            b'{' | b'}' | b'(' | b')' | b'[' | b']' | b':' | b'=' | b'@' | b'$' | b'!' | b'|' | b'&' => {
                out.push(Tok::Punct(c as char));
                i += 1;
            }
            b'"' => {
                if b.get(i..i + 3) == Some(b"\"\"\"") {
                    let end = src[i + 3..]
                        .find("\"\"\"")
                        .ok_or_else(|| ParseFailure::Syntax("unterminated block string".into()))?;
                    i += 3 + end + 3;
                } else {
                    i += 1;
                    loop {
                        match b.get(i) {
                            None | Some(b'\n') => return Err(ParseFailure::Syntax("unterminated string".into())),
                            Some(b'\\') => i += 2,
                            Some(b'"') => {
                                i += 1;
                                break;
                            }
                            _ => i += 1,
                        }
                    }
                }
                out.push(Tok::Other);
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'.' | b'+' | b'-')) {
                    i += 1;
                }
                out.push(src[start..i].parse::<u64>().map(Tok::Int).unwrap_or(Tok::Other));
            }
            _ if c == b'_' || c.is_ascii_alphabetic() => {
                let start = i;
                while i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                out.push(Tok::Name(src[start..i].to_string()));
            }
            _ => return Err(ParseFailure::Syntax(format!("unexpected character {:?}", c as char))),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: char) -> Result<(), ParseFailure> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(ParseFailure::Syntax(format!("expected {c:?}")))
        }
    }
    fn name(&mut self) -> Result<String, ParseFailure> {
        match self.next() {
            Some(Tok::Name(n)) => Ok(n),
            _ => Err(ParseFailure::Syntax("expected a name".into())),
        }
    }

    /// Skips one input value (nested lists and objects bounded by `MAX_NESTING`).
    fn skip_value(&mut self, nesting: usize) -> Result<Option<Limit>, ParseFailure> {
        if nesting > MAX_NESTING {
            return Err(ParseFailure::TooNested);
        }
        match self.next() {
            Some(Tok::Punct('$')) => Ok(Some(Limit::Variable(self.name()?))),
            Some(Tok::Int(n)) => Ok(Some(Limit::Literal(n))),
            Some(Tok::Punct('[')) => {
                while !self.eat(']') {
                    self.peek().ok_or_else(|| ParseFailure::Syntax("unterminated list".into()))?;
                    self.skip_value(nesting + 1)?;
                }
                Ok(None)
            }
            Some(Tok::Punct('{')) => {
                while !self.eat('}') {
                    self.name()?;
                    self.expect(':')?;
                    self.skip_value(nesting + 1)?;
                }
                Ok(None)
            }
            Some(Tok::Name(_)) | Some(Tok::Other) => Ok(None),
            _ => Err(ParseFailure::Syntax("expected a value".into())),
        }
    }

    /// `(name: value …)`; returns the `limit` argument.
    fn arguments(&mut self, nesting: usize) -> Result<Limit, ParseFailure> {
        let mut limit = Limit::Default;
        if self.eat('(') {
            while !self.eat(')') {
                let name = self.name()?;
                self.expect(':')?;
                let value = self.skip_value(nesting)?;
                if name == "limit" {
                    limit = value.unwrap_or(Limit::Default);
                }
            }
        }
        Ok(limit)
    }

    fn directives(&mut self, nesting: usize) -> Result<usize, ParseFailure> {
        let mut n = 0;
        while self.eat('@') {
            self.name()?;
            self.arguments(nesting)?;
            n += 1;
        }
        Ok(n)
    }

    fn selection_set(&mut self, nesting: usize) -> Result<Vec<Sel>, ParseFailure> {
        if nesting > MAX_NESTING {
            return Err(ParseFailure::TooNested);
        }
        self.expect('{')?;
        let mut sels = Vec::new();
        while !self.eat('}') {
            if self.peek() == Some(&Tok::Spread) {
                self.pos += 1;
                match self.peek() {
                    Some(Tok::Name(n)) if n != "on" => {
                        let name = self.name()?;
                        let directives = self.directives(nesting)?;
                        sels.push(Sel::Spread { name, directives });
                    }
                    _ => {
                        let type_condition = if self.peek() == Some(&Tok::Name("on".into())) {
                            self.pos += 1;
                            Some(self.name()?)
                        } else {
                            None
                        };
                        let directives = self.directives(nesting)?;
                        let inner = self.selection_set(nesting + 1)?;
                        sels.push(Sel::Inline { type_condition, directives, sels: inner });
                    }
                }
                continue;
            }
            let first = self.name()?;
            let (name, aliased) = if self.eat(':') { (self.name()?, true) } else { (first, false) };
            let limit = self.arguments(nesting)?;
            let directives = self.directives(nesting)?;
            let inner =
                if self.peek() == Some(&Tok::Punct('{')) { self.selection_set(nesting + 1)? } else { Vec::new() };
            sels.push(Sel::Field { name, aliased, limit, directives, sels: inner });
        }
        Ok(sels)
    }
}

/// Reads a document, counting tokens (refused past `max_tokens`).
pub fn parse(src: &str, max_tokens: usize) -> Result<Document, ParseFailure> {
    let toks = lex(src, max_tokens)?;
    let mut doc = Document { tokens: toks.len(), ..Default::default() };
    let mut p = Parser { toks, pos: 0 };
    while let Some(tok) = p.peek().cloned() {
        match tok {
            Tok::Punct('{') => {
                let sels = p.selection_set(1)?;
                doc.operations.push(Operation { kind: "query".into(), name: None, directives: 0, sels });
            }
            Tok::Name(kw) if kw == "query" || kw == "mutation" || kw == "subscription" => {
                p.pos += 1;
                let name = match p.peek() {
                    Some(Tok::Name(_)) => Some(p.name()?),
                    _ => None,
                };
                if p.eat('(') {
                    while !p.eat(')') {
                        p.expect('$')?;
                        p.name()?;
                        p.expect(':')?;
                        skip_type(&mut p)?;
                        if p.eat('=') {
                            p.skip_value(1)?;
                        }
                        p.directives(1)?;
                    }
                }
                let directives = p.directives(1)?;
                let sels = p.selection_set(1)?;
                doc.operations.push(Operation { kind: kw, name, directives, sels });
            }
            Tok::Name(kw) if kw == "fragment" => {
                p.pos += 1;
                let name = p.name()?;
                if p.name()? != "on" {
                    return Err(ParseFailure::Syntax("expected `on`".into()));
                }
                let type_condition = p.name()?;
                let directives = p.directives(1)?;
                let sels = p.selection_set(1)?;
                doc.fragments.insert(name, Fragment { type_condition, directives, sels });
            }
            _ => return Err(ParseFailure::Syntax("expected an operation or fragment".into())),
        }
    }
    Ok(doc)
}

fn skip_type(p: &mut Parser) -> Result<(), ParseFailure> {
    let mut open = 0;
    loop {
        match p.next() {
            Some(Tok::Punct('[')) => open += 1,
            Some(Tok::Name(_)) => {
                while p.eat(']') || p.eat('!') {}
                return if open <= MAX_NESTING { Ok(()) } else { Err(ParseFailure::TooNested) };
            }
            _ => return Err(ParseFailure::Syntax("expected a type".into())),
        }
    }
}
