//! The small expression language of `set_column`: column references,
//! literals, `+ - * /`, comparisons, `and`/`or`/`not` and a handful of
//! functions. Parsed once when the adapter file is loaded (errors point at
//! the offending character inside the string), resolved against the table's
//! columns when a chain is planned, evaluated once per row.
//!
//! ```text
//! expr    := or
//! or      := and ("or" and)*
//! and     := not ("and" not)*
//! not     := "not" not | cmp
//! cmp     := add (("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=") add)?
//! add     := mul (("+" | "-") mul)*
//! mul     := unary (("*" | "/") unary)*
//! unary   := "-" unary | primary
//! primary := INT | FLOAT | STRING | "null" | "true" | "false"
//!          | NAME "(" expr ("," expr)* ")" | NAME | `QUOTED NAME` | "(" expr ")"
//! ```

use std::borrow::Cow;
use std::cmp::Ordering;
use std::ops::Range;

use crate::catalog::ColumnInfo;
use crate::value::{ColumnType, Value};

/// A parsed expression node; `span` is a byte range of the expression text.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Lit(Value),
    /// A column by name; the index into the row is filled in by [`Expr::resolve`].
    Column(String, usize),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Call(Func, Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "and",
            BinOp::Or => "or",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Concat,
    Lower,
    Upper,
    Trim,
    Coalesce,
    If,
    IsNull,
}

/// Name, function, minimum and maximum argument count.
const FUNCS: &[(&str, Func, usize, usize)] = &[
    ("concat", Func::Concat, 1, usize::MAX),
    ("lower", Func::Lower, 1, 1),
    ("upper", Func::Upper, 1, 1),
    ("trim", Func::Trim, 1, 1),
    ("coalesce", Func::Coalesce, 1, usize::MAX),
    ("if", Func::If, 3, 3),
    ("is_null", Func::IsNull, 1, 1),
];

/// A syntax error at `span` of the expression text.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError {
    pub span: Range<usize>,
    pub message: String,
}

fn err<T>(span: Range<usize>, message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError {
        span,
        message: message.into(),
    })
}

// ---- lexing ---------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    /// A `backquoted` column name: never a keyword or a function.
    Quoted(String),
    Str(String),
    Int(i64),
    Float(f64),
    LParen,
    RParen,
    Comma,
    Op(BinOp),
    End,
}

fn lex(src: &str) -> Result<Vec<(Tok, Range<usize>)>, ExprError> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let tok = if c.is_ascii_alphabetic() || c == '_' {
            let mut name = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if !(c.is_ascii_alphanumeric() || c == '_') {
                    break;
                }
                name.push(c);
                chars.next();
            }
            Tok::Name(name)
        } else if c.is_ascii_digit() {
            let mut text = String::new();
            let mut float = false;
            while let Some(&(_, c)) = chars.peek() {
                if c.is_ascii_digit() || (c == '.' && !float) {
                    float |= c == '.';
                    text.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            let end = start + text.len();
            if text.ends_with('.') {
                return err(
                    start..end,
                    format!("`{text}` is not a number: a digit must follow the point"),
                );
            }
            if float {
                Tok::Float(text.parse().expect("digits and one point"))
            } else {
                match text.parse() {
                    Ok(i) => Tok::Int(i),
                    Err(_) => return err(start..end, format!("integer `{text}` is too large")),
                }
            }
        } else if c == '\'' || c == '"' || c == '`' {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    Some((_, q)) if q == c => {
                        // A doubled quote stands for the quote itself.
                        if chars.peek().is_some_and(|&(_, n)| n == c) {
                            chars.next();
                            text.push(c);
                        } else {
                            break;
                        }
                    }
                    Some((_, ch)) => text.push(ch),
                    None => {
                        let what = if c == '`' { "column name" } else { "string" };
                        return err(
                            start..src.len(),
                            format!("unterminated {what}: it has no closing {c}"),
                        );
                    }
                }
            }
            if c == '`' {
                Tok::Quoted(text)
            } else {
                Tok::Str(text)
            }
        } else {
            chars.next();
            let next = chars.peek().map(|&(_, n)| n);
            let two = |chars: &mut std::iter::Peekable<std::str::CharIndices>, op| {
                chars.next();
                Tok::Op(op)
            };
            match (c, next) {
                ('(', _) => Tok::LParen,
                (')', _) => Tok::RParen,
                (',', _) => Tok::Comma,
                ('+', _) => Tok::Op(BinOp::Add),
                ('-', _) => Tok::Op(BinOp::Sub),
                ('*', _) => Tok::Op(BinOp::Mul),
                ('/', _) => Tok::Op(BinOp::Div),
                ('=', Some('=')) => two(&mut chars, BinOp::Eq),
                ('=', _) => Tok::Op(BinOp::Eq),
                ('!', Some('=')) => two(&mut chars, BinOp::Ne),
                ('<', Some('>')) => two(&mut chars, BinOp::Ne),
                ('<', Some('=')) => two(&mut chars, BinOp::Le),
                ('<', _) => Tok::Op(BinOp::Lt),
                ('>', Some('=')) => two(&mut chars, BinOp::Ge),
                ('>', _) => Tok::Op(BinOp::Gt),
                _ => {
                    return err(
                        start..start + c.len_utf8(),
                        format!("unexpected character `{c}`"),
                    );
                }
            }
        };
        let end = chars.peek().map_or(src.len(), |&(i, _)| i);
        out.push((tok, start..end));
    }
    out.push((Tok::End, src.len()..src.len()));
    Ok(out)
}

// ---- parsing --------------------------------------------------------------

/// Parses an expression; errors point into `src`.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    let mut p = Parser {
        toks: lex(src)?,
        pos: 0,
    };
    if p.peek() == &Tok::End {
        return err(0..src.len(), "empty expression");
    }
    let e = p.or()?;
    match p.peek() {
        Tok::End => Ok(e),
        _ => err(
            p.span(),
            format!("unexpected {}: expected an operator or the end", p.what()),
        ),
    }
}

struct Parser {
    toks: Vec<(Tok, Range<usize>)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn span(&self) -> Range<usize> {
        self.toks[self.pos].1.clone()
    }

    fn bump(&mut self) -> (Tok, Range<usize>) {
        let t = self.toks[self.pos].clone();
        if t.0 != Tok::End {
            self.pos += 1;
        }
        t
    }

    fn what(&self) -> String {
        match self.peek() {
            Tok::End => "end of the expression".into(),
            Tok::Name(n) => format!("`{n}`"),
            Tok::Quoted(n) => format!("`{n}`"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Int(i) => format!("number {i}"),
            Tok::Float(f) => format!("number {f}"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Op(op) => format!("`{}`", op.symbol()),
        }
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Name(n) if n.eq_ignore_ascii_case(kw))
    }

    fn binary(l: Expr, op: BinOp, r: Expr) -> Expr {
        let span = l.span.start..r.span.end;
        Expr {
            kind: ExprKind::Binary(op, Box::new(l), Box::new(r)),
            span,
        }
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut l = self.and()?;
        while self.keyword("or") {
            self.bump();
            let r = self.and()?;
            l = Self::binary(l, BinOp::Or, r);
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut l = self.not()?;
        while self.keyword("and") {
            self.bump();
            let r = self.not()?;
            l = Self::binary(l, BinOp::And, r);
        }
        Ok(l)
    }

    fn not(&mut self) -> Result<Expr, ExprError> {
        if self.keyword("not") {
            let (_, span) = self.bump();
            let inner = self.not()?;
            let span = span.start..inner.span.end;
            return Ok(Expr {
                kind: ExprKind::Not(Box::new(inner)),
                span,
            });
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, ExprError> {
        let l = self.add()?;
        match *self.peek() {
            Tok::Op(
                op @ (BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge),
            ) => {
                self.bump();
                let r = self.add()?;
                if let Tok::Op(
                    BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge,
                ) = self.peek()
                {
                    return err(self.span(), "comparisons do not chain: use `and`");
                }
                Ok(Self::binary(l, op, r))
            }
            _ => Ok(l),
        }
    }

    fn add(&mut self) -> Result<Expr, ExprError> {
        let mut l = self.mul()?;
        while let Tok::Op(op @ (BinOp::Add | BinOp::Sub)) = *self.peek() {
            self.bump();
            let r = self.mul()?;
            l = Self::binary(l, op, r);
        }
        Ok(l)
    }

    fn mul(&mut self) -> Result<Expr, ExprError> {
        let mut l = self.unary()?;
        while let Tok::Op(op @ (BinOp::Mul | BinOp::Div)) = *self.peek() {
            self.bump();
            let r = self.unary()?;
            l = Self::binary(l, op, r);
        }
        Ok(l)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        if let Tok::Op(BinOp::Sub) = self.peek() {
            let (_, span) = self.bump();
            let inner = self.unary()?;
            let span = span.start..inner.span.end;
            return Ok(Expr {
                kind: ExprKind::Neg(Box::new(inner)),
                span,
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ExprError> {
        let here = self.span();
        let what = self.what();
        let (tok, span) = self.bump();
        let lit = |v: Value| {
            Ok(Expr {
                kind: ExprKind::Lit(v),
                span: span.clone(),
            })
        };
        match tok {
            Tok::Int(i) => lit(Value::Int(i)),
            Tok::Float(f) => lit(Value::Float(f)),
            Tok::Str(s) => lit(Value::Text(s)),
            Tok::Quoted(name) => Ok(Expr {
                kind: ExprKind::Column(name, usize::MAX),
                span,
            }),
            Tok::LParen => {
                let inner = self.or()?;
                self.expect_close(&here)?;
                Ok(inner)
            }
            Tok::Name(name) => {
                let lower = name.to_ascii_lowercase();
                match lower.as_str() {
                    "null" => return lit(Value::Null),
                    "true" => return lit(Value::Bool(true)),
                    "false" => return lit(Value::Bool(false)),
                    "and" | "or" | "not" => {
                        return err(
                            span,
                            format!(
                                "`{name}` is an operator; quote a column of that name as `{name}`"
                            ),
                        );
                    }
                    _ => {}
                }
                if self.peek() != &Tok::LParen {
                    return Ok(Expr {
                        kind: ExprKind::Column(name, usize::MAX),
                        span,
                    });
                }
                self.call(&name, span)
            }
            _ => err(
                here,
                format!("unexpected {what}: expected a value, a column or a function"),
            ),
        }
    }

    fn expect_close(&mut self, open: &Range<usize>) -> Result<(), ExprError> {
        match self.peek() {
            Tok::RParen => {
                self.bump();
                Ok(())
            }
            Tok::End => err(open.clone(), "this `(` is never closed"),
            _ => err(
                self.span(),
                format!("unexpected {}: expected `)`", self.what()),
            ),
        }
    }

    fn call(&mut self, name: &str, name_span: Range<usize>) -> Result<Expr, ExprError> {
        let Some(&(_, func, min, max)) = FUNCS.iter().find(|(n, ..)| n.eq_ignore_ascii_case(name))
        else {
            let known: Vec<&str> = FUNCS.iter().map(|f| f.0).collect();
            return err(
                name_span,
                format!("unknown function `{name}`; functions: {}", known.join(", ")),
            );
        };
        let open = self.bump().1;
        let mut args = Vec::new();
        if self.peek() != &Tok::RParen {
            loop {
                args.push(self.or()?);
                if self.peek() == &Tok::Comma {
                    self.bump();
                } else {
                    break;
                }
            }
        }
        let close = self.span();
        self.expect_close(&open)?;
        let span = name_span.start..close.end;
        if args.len() < min || args.len() > max {
            let wanted = match (min, max) {
                (a, b) if a == b => format!("{a}"),
                (a, _) => format!("at least {a}"),
            };
            return err(
                span,
                format!("`{name}` takes {wanted} argument(s), not {}", args.len()),
            );
        }
        Ok(Expr {
            kind: ExprKind::Call(func, args),
            span,
        })
    }
}

// ---- resolution and types -------------------------------------------------

impl Expr {
    /// Fills in each column reference's index in `columns`; the first
    /// unknown column is returned with its span.
    pub fn resolve(&mut self, columns: &[ColumnInfo]) -> Result<(), (String, Range<usize>)> {
        match &mut self.kind {
            ExprKind::Lit(_) => Ok(()),
            ExprKind::Column(name, idx) => match columns.iter().position(|c| &c.name == name) {
                Some(i) => {
                    *idx = i;
                    Ok(())
                }
                None => Err((name.clone(), self.span.clone())),
            },
            ExprKind::Neg(e) | ExprKind::Not(e) => e.resolve(columns),
            ExprKind::Binary(_, l, r) => {
                l.resolve(columns)?;
                r.resolve(columns)
            }
            ExprKind::Call(_, args) => args.iter_mut().try_for_each(|a| a.resolve(columns)),
        }
    }

    /// The type of the expression's values, as far as it can be told
    /// statically ([`ColumnType::Any`] when not). Call after [`Expr::resolve`].
    pub fn infer(&self, columns: &[ColumnInfo]) -> ColumnType {
        use ColumnType as T;
        match &self.kind {
            ExprKind::Lit(v) => value_type(v),
            ExprKind::Column(_, i) => columns.get(*i).map_or(T::Any, |c| c.ty),
            ExprKind::Neg(e) => e.infer(columns),
            ExprKind::Not(_) => T::Bool,
            ExprKind::Binary(op, l, r) => match op {
                BinOp::Div => T::Float,
                BinOp::Add | BinOp::Sub | BinOp::Mul => {
                    match (l.infer(columns), r.infer(columns)) {
                        (T::Int, T::Int) => T::Int,
                        (T::Int | T::Float, T::Int | T::Float) => T::Float,
                        _ => T::Any,
                    }
                }
                _ => T::Bool,
            },
            ExprKind::Call(f, args) => match f {
                Func::Concat | Func::Lower | Func::Upper | Func::Trim => T::Text,
                Func::IsNull => T::Bool,
                Func::Coalesce => common(args.iter().map(|a| a.infer(columns))),
                Func::If => common(args[1..].iter().map(|a| a.infer(columns))),
            },
        }
    }
}

/// The one type all branches share, ignoring `null` literals; else `Any`.
fn common(types: impl Iterator<Item = ColumnType>) -> ColumnType {
    let mut found = None;
    for t in types.filter(|t| *t != ColumnType::Any) {
        match found {
            None => found = Some(t),
            Some(f) if f == t => {}
            Some(_) => return ColumnType::Any,
        }
    }
    found.unwrap_or(ColumnType::Any)
}

/// The column type a literal value suggests.
pub fn value_type(v: &Value) -> ColumnType {
    match v {
        Value::Bool(_) => ColumnType::Bool,
        Value::Int(_) | Value::UInt(_) => ColumnType::Int,
        Value::Float(_) => ColumnType::Float,
        Value::Decimal(_) => ColumnType::Decimal,
        Value::Text(_) => ColumnType::Text,
        Value::Bytes(_) => ColumnType::Blob,
        Value::Null => ColumnType::Any,
    }
}

/// A value's plain text form, as map keys and conditions compare it: `0`,
/// `true`, `1.5`, the text itself. `None` for NULL and bytes.
pub fn text_form(v: &Value) -> Option<Cow<'_, str>> {
    Some(match v {
        Value::Null | Value::Bytes(_) => return None,
        Value::Bool(b) => Cow::Owned(b.to_string()),
        Value::Int(i) => Cow::Owned(i.to_string()),
        Value::UInt(u) => Cow::Owned(u.to_string()),
        Value::Float(f) => Cow::Owned(f.to_string()),
        Value::Decimal(d) => Cow::Borrowed(d.as_str()),
        Value::Text(s) => Cow::Borrowed(s.as_str()),
    })
}

// ---- evaluation -----------------------------------------------------------

#[derive(Clone, Copy)]
enum Num {
    I(i128),
    F(f64),
}

impl Num {
    fn f(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }
}

fn num(v: &Value, op: &str) -> Result<Num, String> {
    match v {
        Value::Int(i) => Ok(Num::I(*i as i128)),
        Value::UInt(u) => Ok(Num::I(*u as i128)),
        Value::Float(f) => Ok(Num::F(*f)),
        Value::Decimal(d) => Err(format!(
            "`{op}` does not compute with exact decimals ({d}): migplan keeps them exact"
        )),
        other => Err(format!("`{op}` needs numbers, got {}", other.display())),
    }
}

fn int_value(i: i128, op: &str) -> Result<Value, String> {
    if let Ok(i) = i64::try_from(i) {
        Ok(Value::Int(i))
    } else if let Ok(u) = u64::try_from(i) {
        Ok(Value::UInt(u))
    } else {
        Err(format!("`{op}` overflows a 64-bit integer"))
    }
}

fn truth(v: &Value, what: &str) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(false),
        other => Err(format!(
            "{what} needs true or false, got {}",
            other.display()
        )),
    }
}

fn text_of(v: &Value, func: &str) -> Result<Option<String>, String> {
    match v {
        Value::Bytes(_) => Err(format!("`{func}` cannot take binary data")),
        v => Ok(text_form(v).map(Cow::into_owned)),
    }
}

fn compare(op: BinOp, l: &Value, r: &Value) -> Result<Value, String> {
    if l.is_null() || r.is_null() {
        return Ok(Value::Null);
    }
    let numeric = |v: &Value| matches!(v, Value::Int(_) | Value::UInt(_) | Value::Float(_));
    let ord = if numeric(l) && numeric(r) {
        match (num(l, "")?, num(r, "")?) {
            (Num::I(a), Num::I(b)) => Some(a.cmp(&b)),
            (a, b) => a.f().partial_cmp(&b.f()),
        }
    } else {
        match (l, r) {
            (Value::Text(a), Value::Text(b)) => Some(a.cmp(b)),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            (Value::Decimal(a), Value::Decimal(b)) if matches!(op, BinOp::Eq | BinOp::Ne) => {
                Some(if a == b {
                    Ordering::Equal
                } else {
                    Ordering::Less
                })
            }
            (Value::Bytes(a), Value::Bytes(b)) if matches!(op, BinOp::Eq | BinOp::Ne) => {
                Some(if a == b {
                    Ordering::Equal
                } else {
                    Ordering::Less
                })
            }
            _ => {
                return Err(format!(
                    "`{}` cannot compare {} with {}",
                    op.symbol(),
                    l.display(),
                    r.display()
                ));
            }
        }
    };
    // NaN compares with nothing: every comparison is false but `!=`.
    let Some(ord) = ord else {
        return Ok(Value::Bool(op == BinOp::Ne));
    };
    Ok(Value::Bool(match op {
        BinOp::Eq => ord == Ordering::Equal,
        BinOp::Ne => ord != Ordering::Equal,
        BinOp::Lt => ord == Ordering::Less,
        BinOp::Le => ord != Ordering::Greater,
        BinOp::Gt => ord == Ordering::Greater,
        _ => ord != Ordering::Less,
    }))
}

fn arith(op: BinOp, l: &Value, r: &Value) -> Result<Value, String> {
    if l.is_null() || r.is_null() {
        return Ok(Value::Null);
    }
    let sym = op.symbol();
    let (a, b) = (num(l, sym)?, num(r, sym)?);
    if op == BinOp::Div {
        if b.f() == 0.0 {
            return Err("division by zero".into());
        }
        return Ok(Value::Float(a.f() / b.f()));
    }
    match (a, b) {
        (Num::I(a), Num::I(b)) => int_value(
            match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                _ => a * b,
            },
            sym,
        ),
        (a, b) => Ok(Value::Float(match op {
            BinOp::Add => a.f() + b.f(),
            BinOp::Sub => a.f() - b.f(),
            _ => a.f() * b.f(),
        })),
    }
}

impl Expr {
    /// Evaluates the (resolved) expression over one row.
    pub fn eval(&self, row: &[Value]) -> Result<Value, String> {
        match &self.kind {
            ExprKind::Lit(v) => Ok(v.clone()),
            ExprKind::Column(_, i) => Ok(row[*i].clone()),
            ExprKind::Neg(e) => match e.eval(row)? {
                Value::Null => Ok(Value::Null),
                v => match num(&v, "-")? {
                    Num::I(i) => int_value(-i, "-"),
                    Num::F(f) => Ok(Value::Float(-f)),
                },
            },
            ExprKind::Not(e) => Ok(Value::Bool(!truth(&e.eval(row)?, "`not`")?)),
            ExprKind::Binary(op, l, r) => match op {
                BinOp::And => Ok(Value::Bool(
                    truth(&l.eval(row)?, "`and`")? && truth(&r.eval(row)?, "`and`")?,
                )),
                BinOp::Or => Ok(Value::Bool(
                    truth(&l.eval(row)?, "`or`")? || truth(&r.eval(row)?, "`or`")?,
                )),
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => {
                    arith(*op, &l.eval(row)?, &r.eval(row)?)
                }
                _ => compare(*op, &l.eval(row)?, &r.eval(row)?),
            },
            ExprKind::Call(func, args) => self.call(*func, args, row),
        }
    }

    fn call(&self, func: Func, args: &[Expr], row: &[Value]) -> Result<Value, String> {
        let one = |name: &str, f: fn(&str) -> String| -> Result<Value, String> {
            Ok(match text_of(&args[0].eval(row)?, name)? {
                Some(s) => Value::Text(f(&s)),
                None => Value::Null,
            })
        };
        match func {
            Func::Concat => {
                let mut out = String::new();
                for a in args {
                    if let Some(s) = text_of(&a.eval(row)?, "concat")? {
                        out.push_str(&s);
                    }
                }
                Ok(Value::Text(out))
            }
            Func::Lower => one("lower", str::to_lowercase),
            Func::Upper => one("upper", str::to_uppercase),
            Func::Trim => one("trim", |s| s.trim().to_string()),
            Func::Coalesce => {
                for a in args {
                    let v = a.eval(row)?;
                    if !v.is_null() {
                        return Ok(v);
                    }
                }
                Ok(Value::Null)
            }
            Func::If => {
                if truth(&args[0].eval(row)?, "the condition of `if`")? {
                    args[1].eval(row)
                } else {
                    args[2].eval(row)
                }
            }
            Func::IsNull => Ok(Value::Bool(args[0].eval(row)?.is_null())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: ColumnType) -> ColumnInfo {
        ColumnInfo {
            name: name.into(),
            ty,
            sql_type: ty.name().into(),
            nullable: true,
            has_default: false,
            choices: vec![],
        }
    }

    fn eval(src: &str, row: &[Value]) -> Result<Value, String> {
        let cols = [
            col("a", ColumnType::Int),
            col("b", ColumnType::Int),
            col("s", ColumnType::Text),
            col("n", ColumnType::Any),
        ];
        let mut e = parse(src).map_err(|e| e.message)?;
        e.resolve(&cols).map_err(|(n, _)| n)?;
        e.eval(row)
    }

    fn row() -> Vec<Value> {
        vec![
            Value::Int(7),
            Value::Int(2),
            Value::Text(" Hi ".into()),
            Value::Null,
        ]
    }

    #[test]
    fn arithmetic_follows_precedence_and_keeps_integers() {
        assert_eq!(eval("a + b * 3", &row()), Ok(Value::Int(13)));
        assert_eq!(eval("(a + b) * 3", &row()), Ok(Value::Int(27)));
        assert_eq!(eval("a - -b", &row()), Ok(Value::Int(9)));
        assert_eq!(eval("a / b", &row()), Ok(Value::Float(3.5)));
        assert_eq!(eval("a + 0.5", &row()), Ok(Value::Float(7.5)));
        assert_eq!(eval("a + n", &row()), Ok(Value::Null));
        assert_eq!(eval("a / 0", &row()), Err("division by zero".into()));
        let err = eval("a + s", &row()).unwrap_err();
        assert!(err.contains("needs numbers"), "{err}");
    }

    #[test]
    fn functions_and_conditions() {
        let text = |s: &str| Ok(Value::Text(s.into()));
        assert_eq!(eval("concat(s, '-', a, n)", &row()), text(" Hi -7"));
        assert_eq!(eval("upper(trim(s))", &row()), text("HI"));
        assert_eq!(eval("lower(s)", &row()), text(" hi "));
        assert_eq!(eval("coalesce(n, s)", &row()), text(" Hi "));
        assert_eq!(
            eval("if(a > b and not is_null(s), 'big', 'small')", &row()),
            text("big")
        );
        assert_eq!(eval("if(n = 1, 'x', 'y')", &row()), text("y"));
        assert_eq!(eval("'it''s'", &row()), text("it's"));
        assert_eq!(eval("a == 7 or false", &row()), Ok(Value::Bool(true)));
        assert_eq!(eval("a <> 7", &row()), Ok(Value::Bool(false)));
    }

    #[test]
    fn syntax_errors_point_at_the_offending_text() {
        let e = |src: &str| parse(src).unwrap_err();
        assert_eq!(e("a + ").span, 4..4);
        assert_eq!(e("concat(a, b").span, 6..7);
        assert!(e("concat(a, b").message.contains("never closed"));
        assert_eq!(e("a $ b").span, 2..3);
        let unknown = e("lowr(a)");
        assert_eq!(unknown.span, 0..4);
        assert!(
            unknown.message.contains("unknown function `lowr`"),
            "{}",
            unknown.message
        );
        assert_eq!(e("if(a, b)").span, 0..8);
        assert_eq!(e("'open").span, 0..5);
        assert_eq!(e("a b").span, 2..3);
        assert_eq!(e("").message, "empty expression");
        assert!(e("a < b < 3").message.contains("do not chain"));
    }

    #[test]
    fn resolution_names_the_unknown_column_and_types_are_inferred() {
        let cols = [col("a", ColumnType::Int), col("s", ColumnType::Text)];
        let mut e = parse("concat(s, zz)").unwrap();
        assert_eq!(e.resolve(&cols), Err(("zz".into(), 10..12)));
        let infer = |src: &str| {
            let mut e = parse(src).unwrap();
            e.resolve(&cols).unwrap();
            e.infer(&cols)
        };
        assert_eq!(infer("a * 2"), ColumnType::Int);
        assert_eq!(infer("a * 2.0"), ColumnType::Float);
        assert_eq!(infer("concat(a)"), ColumnType::Text);
        assert_eq!(infer("coalesce(s, null)"), ColumnType::Text);
        assert_eq!(infer("if(a > 1, s, a)"), ColumnType::Any);
        assert_eq!(infer("`a` = 1"), ColumnType::Bool);
    }
}
