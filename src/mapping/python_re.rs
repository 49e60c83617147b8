//! Keystone's mapping rules are Python `re` patterns, searched with `re.search`. This reads
//! one as Python 3's `sre_parse` does and writes a pattern with the same matches in the syntax
//! of the `regex` crate (or of fancy-regex, where Python needs a look-around or a
//! back-reference). Where the two engines read the same text differently, the text is
//! rewritten:
//!
//! - `$` (without MULTILINE) also matches before a newline that ends the value;
//! - `\Z` is the end of the value; `\<`, `\>` and `{` are literal; `[[:alpha:]]`, `&&`, `--`
//!   and `~~` in a class are literal characters;
//! - `\s` includes U+001C..U+001F, `\w` is letters, numbers and `_` (Python's `str.isalnum`),
//!   `\d` the decimal digits, both as of Unicode 14 (Python 3.11's data), and none of them
//!   case folded; with the ASCII flag all three are ASCII only; `\b` and `\B` look around for
//!   those word characters (`\B` never matches an empty value);
//! - under IGNORECASE, `i`, `I`, `İ` and `ı` are one letter (Python lower-cases `İ` to `i` and
//!   treats `ı` as `i`); every other pair Python folds, Unicode's simple case folding folds too;
//! - verbose mode (`x`) is read here, so whitespace and comments never reach the other engine.
//!
//! What cannot be written exactly is refused with a reason: `\N{...}` names, conditional
//! groups, back-references and the ASCII flag under IGNORECASE, possessive quantifiers and
//! atomic groups (fancy-regex lets an iteration that matched nothing backtrack), groups nested
//! deeper than `MAX_NESTING`. Not carried over: case-folding pairs Unicode added after
//! version 14, which the `regex` crate folds and Python 3.11 does not.
//!
//! Errors use Python's wording where Python refuses the pattern too.

use std::fmt::Write;

/// A pattern in the `regex` crate's syntax; `backtracking` when it needs fancy-regex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Translated {
    pub text: String,
    pub backtracking: bool,
}

pub(super) fn translate(pattern: &str) -> Result<Translated, String> {
    let mut parser = Parser {
        chars: pattern.chars().collect(),
        at: 0,
        groups: 0,
        open_groups: Vec::new(),
        names: Vec::new(),
        backtracking: false,
    };
    let flags = parser.global_flags()?;
    let body = parser.alternation(&flags, 0)?;
    if parser.at < parser.chars.len() {
        return Err("unbalanced parenthesis".into());
    }
    let mut text = String::with_capacity(pattern.len() + 8);
    let on = flags.letters(true);
    if !on.is_empty() {
        let _ = write!(text, "(?{on})");
    }
    let mut backtracking = parser.backtracking;
    body.emit(true, &mut text, &mut backtracking);
    Ok(Translated { text, backtracking })
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Flags {
    ignore_case: bool,
    multi_line: bool,
    dot_all: bool,
    verbose: bool,
    ascii: bool,
}

impl Flags {
    /// The flags both engines read alike that are `on` (or off), as inline flag letters.
    fn letters(&self, on: bool) -> String {
        [(self.ignore_case, 'i'), (self.multi_line, 'm'), (self.dot_all, 's')]
            .iter()
            .filter(|(state, _)| *state == on)
            .map(|(_, c)| c)
            .collect()
    }

    fn set(&mut self, letter: char, on: bool) -> Result<(), String> {
        match letter {
            'i' => self.ignore_case = on,
            'm' => self.multi_line = on,
            's' => self.dot_all = on,
            'x' => self.verbose = on,
            'a' if on => self.ascii = true,
            'u' if on && self.ascii => return Err("bad inline flag: flags 'a' and 'u' are incompatible".into()),
            'u' if on => {}
            'L' => return Err("bad inline flag: cannot use 'L' flag with a str pattern".into()),
            'a' | 'u' => return Err(format!("bad inline flag: cannot turn off flag '{letter}'")),
            other => return Err(format!("unknown flag '{other}'")),
        }
        if self.ascii && self.ignore_case {
            return Err("the ASCII flag with IGNORECASE is not supported".into());
        }
        Ok(())
    }
}

/// A parsed pattern, kept only as far as `$` needs: whether nothing can follow it.
#[derive(Debug)]
enum Node {
    /// Already in the target syntax; holds no `$`.
    Text(String),
    /// A zero-width assertion, in the target syntax: Python cannot repeat one.
    Anchor(String),
    /// Python's `$` without MULTILINE: the end, or before a final newline.
    Dollar,
    Concat(Vec<Node>),
    Alternation(Vec<Node>),
    /// `open` + body + `)`. The body is a tail when the group is, unless the group looks
    /// around: there a group captured inside would keep a newline `$` consumed.
    Group {
        open: String,
        body: Box<Node>,
        looks_around: bool,
    },
    Repeat {
        body: Box<Node>,
        quantifier: String,
    },
}

impl Node {
    /// `tail`: nothing can match after this node, so a `$` here may consume the final
    /// newline (linear engine) instead of looking ahead for it (backtracking engine).
    fn emit(&self, tail: bool, out: &mut String, backtracking: &mut bool) {
        match self {
            Node::Text(t) | Node::Anchor(t) => out.push_str(t),
            Node::Dollar if tail => out.push_str(r"(?:\n?\z)"),
            Node::Dollar => {
                *backtracking = true;
                out.push_str(r"(?=\n?\z)");
            }
            Node::Concat(items) => {
                for (i, item) in items.iter().enumerate() {
                    item.emit(tail && i + 1 == items.len(), out, backtracking);
                }
            }
            Node::Alternation(branches) => {
                for (i, branch) in branches.iter().enumerate() {
                    if i > 0 {
                        out.push('|');
                    }
                    branch.emit(tail, out, backtracking);
                }
            }
            Node::Group {
                open,
                body,
                looks_around,
            } => {
                out.push_str(open);
                body.emit(tail && !looks_around, out, backtracking);
                out.push(')');
            }
            Node::Repeat { body, quantifier } => {
                out.push_str("(?:");
                body.emit(false, out, backtracking);
                out.push(')');
                out.push_str(quantifier);
            }
        }
    }

    /// Anchors cannot be repeated in Python ("nothing to repeat").
    fn is_anchor(&self) -> bool {
        matches!(self, Node::Dollar | Node::Anchor(_))
    }
}

/// Python's `\b` and `\B` between its word characters `w` (a class), found by looking around;
/// `\B` never matches an empty value in Python.
fn boundary(w: &str, at: bool) -> String {
    if at {
        format!("(?:(?<={w})(?!{w})|(?<!{w})(?={w}))")
    } else {
        format!(r"(?:(?<={w})(?={w})|(?<!{w})(?!{w})(?:(?<=[\s\S])|(?=[\s\S])))")
    }
}

/// Groups inside groups; Keystone rules nest a handful.
const MAX_NESTING: usize = 64;

/// Python's `i`, `I`, `İ` and `ı` under IGNORECASE.
const DOTTED_AND_DOTLESS_I: [char; 4] = ['i', 'I', '\u{130}', '\u{131}'];

struct Parser {
    chars: Vec<char>,
    at: usize,
    /// Capturing groups opened so far.
    groups: usize,
    /// Groups not yet closed: a back-reference to one is refused, as in Python.
    open_groups: Vec<usize>,
    names: Vec<(String, usize)>,
    backtracking: bool,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.at + offset).copied()
    }

    fn eat(&mut self, s: &str) -> bool {
        let n = s.chars().count();
        if self.chars.len() >= self.at + n && self.chars[self.at..self.at + n].iter().copied().eq(s.chars()) {
            self.at += n;
            return true;
        }
        false
    }

    /// `(?aiLmsux)` groups at the very start apply to the whole pattern (Python 3.11 refuses
    /// them anywhere else).
    fn global_flags(&mut self) -> Result<Flags, String> {
        let mut flags = Flags::default();
        loop {
            let start = self.at;
            if !self.eat("(?") {
                return Ok(flags);
            }
            let mut letters = Vec::new();
            while let Some(c) = self.peek().filter(|c| "aiLmsux".contains(*c)) {
                letters.push(c);
                self.at += 1;
            }
            if letters.is_empty() || !self.eat(")") {
                self.at = start;
                return Ok(flags);
            }
            for letter in letters {
                flags.set(letter, true)?;
            }
        }
    }

    /// Verbose mode's whitespace (ASCII only, as in Python) and `#` comments to the end of the
    /// line.
    fn skip_verbose(&mut self, flags: &Flags) -> Result<(), String> {
        if !flags.verbose {
            return Ok(());
        }
        while let Some(c) = self.peek() {
            if matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c') {
                self.at += 1;
            } else if c == '#' {
                self.at += 1;
                while let Some(token) = self.next_token()? {
                    if token == "\n" {
                        break;
                    }
                }
            } else {
                break;
            }
        }
        Ok(())
    }

    /// The next token as Python's tokenizer reads it: one character, or `\` with the one after
    /// it (so `\)` does not end a comment group, nor `\` + newline a verbose comment).
    fn next_token(&mut self) -> Result<Option<String>, String> {
        let Some(c) = self.peek() else { return Ok(None) };
        self.at += 1;
        if c != '\\' {
            return Ok(Some(c.to_string()));
        }
        let Some(escaped) = self.peek() else {
            return Err("bad escape (end of pattern)".into());
        };
        self.at += 1;
        Ok(Some(format!("\\{escaped}")))
    }

    fn alternation(&mut self, flags: &Flags, depth: usize) -> Result<Node, String> {
        let mut branches = vec![self.concat(flags, depth)?];
        while self.peek() == Some('|') {
            self.at += 1;
            branches.push(self.concat(flags, depth)?);
        }
        Ok(if branches.len() == 1 {
            branches.remove(0)
        } else {
            Node::Alternation(branches)
        })
    }

    fn concat(&mut self, flags: &Flags, depth: usize) -> Result<Node, String> {
        let mut items: Vec<Node> = Vec::new();
        loop {
            self.skip_verbose(flags)?;
            let Some(c) = self.peek() else { break };
            match c {
                '|' => break,
                ')' if depth > 0 => break,
                ')' => return Err("unbalanced parenthesis".into()),
                '*' | '+' | '?' => {
                    self.at += 1;
                    self.repeat(&mut items, c.to_string())?;
                }
                '{' => match self.counted_repetition()? {
                    Some(bounds) => self.repeat(&mut items, bounds)?,
                    None => {
                        self.at += 1;
                        items.push(literal('{', flags));
                    }
                },
                _ => {
                    if let Some(item) = self.atom(flags, depth)? {
                        items.push(item);
                    }
                }
            }
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::Concat(items)
        })
    }

    /// `{m}`, `{m,}`, `{,n}`, `{m,n}` at the cursor, read past; None (nothing read) when the
    /// brace is a literal, as Python reads it.
    fn counted_repetition(&mut self) -> Result<Option<String>, String> {
        let start = self.at;
        self.at += 1;
        let low = self.digits();
        let comma = self.eat(",");
        let high = if comma { self.digits() } else { low.clone() };
        if !self.eat("}") {
            self.at = start;
            return Ok(None);
        }
        let parse = |digits: &str| -> Result<Option<u32>, String> {
            if digits.is_empty() {
                return Ok(None);
            }
            digits
                .parse::<u32>()
                .ok()
                .filter(|n| *n < u32::MAX)
                .map(Some)
                .ok_or_else(|| "the repetition number is too large".to_string())
        };
        let low = parse(&low)?.unwrap_or(0);
        Ok(Some(match parse(&high)? {
            Some(high) if high < low => return Err("min repeat greater than max repeat".into()),
            Some(high) => format!("{{{low},{high}}}"),
            None if comma => format!("{{{low},}}"),
            // `{}` and `{,}` without digits: Python reads `{}` as literal text.
            None => {
                self.at = start;
                return Ok(None);
            }
        }))
    }

    fn digits(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek().filter(char::is_ascii_digit) {
            s.push(c);
            self.at += 1;
        }
        s
    }

    /// Applies a quantifier (with its `?` lazy suffix) to the last item.
    fn repeat(&mut self, items: &mut Vec<Node>, mut quantifier: String) -> Result<(), String> {
        let Some(body) = items.pop() else {
            return Err("nothing to repeat".into());
        };
        if body.is_anchor() {
            return Err("nothing to repeat".into());
        }
        if matches!(body, Node::Repeat { .. }) {
            return Err("multiple repeat".into());
        }
        if self.eat("?") {
            quantifier.push('?');
        } else if self.peek() == Some('+') {
            // fancy-regex lets an iteration that matched nothing backtrack, Python does not.
            return Err("possessive quantifiers are not supported".into());
        }
        items.push(Node::Repeat {
            body: Box::new(body),
            quantifier,
        });
        Ok(())
    }

    /// One atom; None for what matches nothing (a comment group).
    fn atom(&mut self, flags: &Flags, depth: usize) -> Result<Option<Node>, String> {
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        self.at += 1;
        Ok(Some(match c {
            '(' => return self.group(flags, depth),
            '[' => Node::Text(self.class(flags)?),
            '.' => Node::Text(".".into()),
            '^' => Node::Anchor("^".into()),
            '$' if flags.multi_line => Node::Anchor("$".into()),
            '$' => Node::Dollar,
            '\\' => self.escape(flags)?,
            c => literal(c, flags),
        }))
    }

    fn group(&mut self, flags: &Flags, depth: usize) -> Result<Option<Node>, String> {
        // Parsing recurses per group: bounded well below what a thread's stack holds.
        if depth >= MAX_NESTING {
            return Err(format!("groups nested more than {MAX_NESTING} deep"));
        }
        let mut inner = *flags;
        let (open, looks_around) = if self.eat("?") {
            if self.eat(":") {
                ("(?:".to_string(), false)
            } else if self.eat("P<") {
                let name = self.name('>')?;
                if self.names.iter().any(|(n, _)| *n == name) {
                    return Err(format!("redefinition of group name '{name}'"));
                }
                self.groups += 1;
                self.names.push((name, self.groups));
                self.open_groups.push(self.groups);
                ("(".to_string(), false)
            } else if self.eat("P=") {
                let name = self.name(')')?;
                let Some(&(_, number)) = self.names.iter().find(|(n, _)| *n == name) else {
                    return Err(format!("unknown group name '{name}'"));
                };
                return self.back_reference(number, flags).map(Some);
            } else if self.eat("#") {
                while let Some(token) = self.next_token()? {
                    if token == ")" {
                        return Ok(None);
                    }
                }
                return Err("missing ), unterminated comment".into());
            } else if self.eat("=") || self.eat("!") {
                self.backtracking = true;
                let kind = self.chars[self.at - 1];
                (format!("(?{kind}"), true)
            } else if self.eat("<=") || self.eat("<!") {
                self.backtracking = true;
                let kind = self.chars[self.at - 1];
                (format!("(?<{kind}"), true)
            } else if self.peek() == Some('>') {
                return Err("atomic groups are not supported".into());
            } else if self.peek() == Some('(') {
                return Err("conditional groups are not supported".into());
            } else {
                (self.scoped_flags(&mut inner)?, false)
            }
        } else {
            self.groups += 1;
            self.open_groups.push(self.groups);
            ("(".to_string(), false)
        };
        let capturing = open == "(";
        let body = self.alternation(&inner, depth + 1)?;
        if !self.eat(")") {
            return Err("missing ), unterminated subpattern".into());
        }
        if capturing {
            self.open_groups.pop();
        }
        Ok(Some(Node::Group {
            open,
            body: Box::new(body),
            looks_around,
        }))
    }

    /// `(?flags-flags:` after `(?`: sets `inner` and returns the group's opening.
    fn scoped_flags(&mut self, inner: &mut Flags) -> Result<String, String> {
        let mut on = true;
        let mut any = false;
        loop {
            match self.peek() {
                Some(':') if any => {
                    self.at += 1;
                    break;
                }
                Some(')') if any && on => {
                    return Err("global flags not at the start of the expression".into());
                }
                Some('-') if on => {
                    on = false;
                    self.at += 1;
                }
                Some(c) if c.is_ascii_alphabetic() => {
                    if !on && !"imsx".contains(c) {
                        return Err(format!("bad inline flag: cannot turn off flag '{c}'"));
                    }
                    inner.set(c, on)?;
                    any = true;
                    self.at += 1;
                }
                Some(c) => return Err(format!("unknown extension ?{c}")),
                None => return Err("unexpected end of pattern".into()),
            }
        }
        let (on, off) = (inner.letters(true), inner.letters(false));
        Ok(if off.is_empty() {
            format!("(?{on}:")
        } else {
            format!("(?{on}-{off}:")
        })
    }

    /// A group name up to `end`: a Python identifier.
    fn name(&mut self, end: char) -> Result<String, String> {
        let mut name = String::new();
        loop {
            match self.peek() {
                Some(c) if c == end => {
                    self.at += 1;
                    break;
                }
                Some(c) => {
                    name.push(c);
                    self.at += 1;
                }
                None => return Err("missing group name".into()),
            }
        }
        let mut chars = name.chars();
        let identifier = chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
            && chars.all(|c| c == '_' || c.is_alphanumeric());
        if !identifier {
            return Err(format!("bad character in group name '{name}'"));
        }
        Ok(name)
    }

    fn back_reference(&mut self, number: usize, flags: &Flags) -> Result<Node, String> {
        // Python compares the group's text by lower-casing both sides, fancy-regex by case
        // folding: they disagree on `σ`/`ς`, the Kelvin sign and more.
        if flags.ignore_case {
            return Err("back-references under IGNORECASE are not supported".into());
        }
        if number > self.groups {
            return Err(format!("invalid group reference {number}"));
        }
        if self.open_groups.contains(&number) {
            return Err("cannot refer to an open group".into());
        }
        self.backtracking = true;
        // In a group of its own, so a digit after it is not read as part of the number.
        Ok(Node::Text(format!(r"(?:\{number})")))
    }

    /// After a `\` outside a class.
    fn escape(&mut self, flags: &Flags) -> Result<Node, String> {
        let Some(c) = self.peek() else {
            return Err("bad escape (end of pattern)".into());
        };
        self.at += 1;
        let anchor = |s: &str| Ok(Node::Anchor(s.to_string()));
        match c {
            'A' => anchor(r"\A"),
            'Z' => anchor(r"\z"),
            'b' if flags.ascii => anchor(r"(?-u:\b)"),
            // Unicode word characters differ (Python's are `\w` above: no combining marks,
            // but `²`), and so does `\B` on an empty value: looked around for, not `\b`.
            'b' | 'B' => {
                self.backtracking = true;
                let word = unfolded(&set_escape('w', flags), flags);
                Ok(Node::Anchor(boundary(&word, c == 'b')))
            }
            'd' | 'D' | 's' | 'S' | 'w' | 'W' => Ok(Node::Text(unfolded(&set_escape(c, flags), flags))),
            '1'..='9' => {
                // Three octal digits are a character; otherwise one or two digits are a group.
                let octal = |c: Option<char>| c.is_some_and(|c| ('0'..='7').contains(&c));
                if octal(Some(c)) && octal(self.peek()) && octal(self.peek_at(1)) {
                    self.at -= 1;
                    return Ok(literal(self.octal()?, flags));
                }
                let mut number = c.to_digit(10).unwrap_or_default() as usize;
                if let Some(d) = self.peek().and_then(|d| d.to_digit(10)) {
                    number = number * 10 + d as usize;
                    self.at += 1;
                }
                self.back_reference(number, flags)
            }
            _ => {
                self.at -= 1;
                Ok(literal(self.character_escape()?, flags))
            }
        }
    }

    /// An escape that stands for one character (the cursor on the character after `\`).
    fn character_escape(&mut self) -> Result<char, String> {
        let Some(c) = self.peek() else {
            return Err("bad escape (end of pattern)".into());
        };
        self.at += 1;
        Ok(match c {
            'a' => '\x07',
            'f' => '\x0c',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\x0b',
            'x' => self.hex(2, 'x')?,
            'u' => self.hex(4, 'u')?,
            'U' => self.hex(8, 'U')?,
            'N' => return Err(r"\N{...} character names are not supported: write the character itself".into()),
            '0'..='7' => {
                self.at -= 1;
                self.octal()?
            }
            c if c.is_ascii_alphanumeric() => return Err(format!(r"bad escape \{c}")),
            c => c,
        })
    }

    fn hex(&mut self, n: usize, kind: char) -> Result<char, String> {
        let digits: String = (0..n)
            .filter_map(|i| self.peek_at(i))
            .take_while(char::is_ascii_hexdigit)
            .collect();
        if digits.len() != n {
            return Err(format!(r"incomplete escape \{kind}{digits}"));
        }
        self.at += n;
        u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| format!(r"bad escape \{kind}{digits}"))
    }

    /// Up to three octal digits at the cursor.
    fn octal(&mut self) -> Result<char, String> {
        let mut value = 0u32;
        let mut n = 0;
        while n < 3
            && let Some(d) = self.peek().and_then(|d| d.to_digit(8))
        {
            value = value * 8 + d;
            self.at += 1;
            n += 1;
        }
        if value > 0o377 {
            return Err(format!("octal escape value \\{value:o} outside of range 0-0o377"));
        }
        char::from_u32(value).ok_or_else(|| "bad octal escape".to_string())
    }

    /// One character of a class, or one of `\d`, `\s`, `\w` and their negations.
    fn class_item(&mut self) -> Result<ClassItem, String> {
        let Some(c) = self.peek() else {
            return Err("unterminated character set".into());
        };
        self.at += 1;
        if c != '\\' {
            return Ok(ClassItem::Char(c));
        }
        match self.peek() {
            Some(e @ ('d' | 'D' | 's' | 'S' | 'w' | 'W')) => {
                self.at += 1;
                Ok(ClassItem::Set(e))
            }
            // A backspace in a class, as in Python.
            Some('b') => {
                self.at += 1;
                Ok(ClassItem::Char('\x08'))
            }
            Some(d @ ('8' | '9')) => Err(format!(r"bad escape \{d}")),
            _ => self.character_escape().map(ClassItem::Char),
        }
    }

    /// After `[`: the class in the target syntax, every character written as `\x{..}` so
    /// nothing in it means more than in Python.
    fn class(&mut self, flags: &Flags) -> Result<String, String> {
        let negated = self.eat("^");
        let mut items = String::new();
        let mut sets: Vec<char> = Vec::new();
        let mut chars: Vec<(char, char)> = Vec::new();
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err("unterminated character set".into());
            };
            if c == ']' && !first {
                self.at += 1;
                break;
            }
            first = false;
            let range_follows = |p: &Self| p.peek() == Some('-') && p.peek_at(1).is_some_and(|c| c != ']');
            let low = match self.class_item()? {
                ClassItem::Char(low) => low,
                ClassItem::Set(e) if range_follows(self) => {
                    return Err(format!(r"bad character range \{e}-{}", self.peek_at(1).unwrap_or(']')));
                }
                ClassItem::Set(e) => {
                    sets.push(e);
                    // Nested: the class is a union.
                    items.push_str(&set_escape(e, flags));
                    continue;
                }
            };
            let high = if range_follows(self) {
                self.at += 1;
                match self.class_item()? {
                    ClassItem::Char(high) if high < low => return Err(format!("bad character range {low}-{high}")),
                    ClassItem::Char(high) => high,
                    ClassItem::Set(_) => return Err("bad character range".into()),
                }
            } else {
                low
            };
            chars.push((low, high));
        }
        if flags.ignore_case
            && chars
                .iter()
                .any(|&(low, high)| DOTTED_AND_DOTLESS_I.iter().any(|i| (low..=high).contains(i)))
        {
            chars.extend(DOTTED_AND_DOTLESS_I.iter().map(|&c| (c, c)));
        }
        if flags.ignore_case && !sets.is_empty() {
            return folded_class_with_sets(&chars, &sets, negated, flags);
        }
        for (low, high) in chars {
            if low == high {
                let _ = write!(items, "\\x{{{:X}}}", low as u32);
            } else {
                let _ = write!(items, "\\x{{{:X}}}-\\x{{{:X}}}", low as u32, high as u32);
            }
        }
        Ok(format!("[{}{items}]", if negated { "^" } else { "" }))
    }
}

enum ClassItem {
    Char(char),
    /// The letter of a `\d`-like escape.
    Set(char),
}

/// A class of Python's `\w`, `\d` or `\s` kind kept out of IGNORECASE: Python tests those by
/// category, while case folding `[\p{L}\p{N}_]` would add U+0345 (which folds to `ι`).
fn unfolded(class: &str, flags: &Flags) -> String {
    if flags.ignore_case {
        format!("(?-i:{class})")
    } else {
        class.to_string()
    }
}

/// A class under IGNORECASE that mixes characters (folded) with `\w`-like sets (not folded),
/// written out range by range.
fn folded_class_with_sets(
    chars: &[(char, char)],
    sets: &[char],
    negated: bool,
    flags: &Flags,
) -> Result<String, String> {
    use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind};
    let mut class = ClassUnicode::new(chars.iter().map(|&(low, high)| ClassUnicodeRange::new(low, high)));
    class
        .try_case_fold_simple()
        .map_err(|_| "case folding is not available".to_string())?;
    for &e in sets {
        let text = set_escape(e, flags);
        match regex_syntax::parse(&text).map(Hir::into_kind) {
            Ok(HirKind::Class(Class::Unicode(set))) => class.union(&set),
            _ => return Err(format!("cannot read the class {text}")),
        }
    }
    if negated {
        class.negate();
    }
    if class.ranges().is_empty() {
        return Ok(r"(?-i:[^\x{0}-\x{10FFFF}])".into());
    }
    let mut out = String::from("(?-i:[");
    for range in class.ranges() {
        let _ = write!(out, "\\x{{{:X}}}-\\x{{{:X}}}", range.start() as u32, range.end() as u32);
    }
    out.push_str("])");
    Ok(out)
}

/// `\d`, `\s`, `\w` and their negations as a class (it may be nested in another). Python
/// 3.11's data is Unicode 14, the `regex` crate's newer: letters and digits assigned since
/// are not Python's.
fn set_escape(e: char, flags: &Flags) -> String {
    let positive = match (e.to_ascii_lowercase(), flags.ascii) {
        ('d', true) => "0-9",
        ('d', false) => r"\d&&\p{Age=14.0}",
        ('s', true) => r"\t\n\x0B\x0C\r ",
        ('s', false) => r"\s\x1C-\x1F",
        ('w', true) => "0-9A-Za-z_",
        _ => r"\p{L}\p{N}_&&\p{Age=14.0}",
    };
    let negation = if e.is_ascii_uppercase() { "^" } else { "" };
    format!("[{negation}{positive}]")
}

/// One character as itself: escaped, and under IGNORECASE the four Python i's together.
fn literal(c: char, flags: &Flags) -> Node {
    if flags.ignore_case && DOTTED_AND_DOTLESS_I.contains(&c) {
        return Node::Text("[iI\\x{130}\\x{131}]".into());
    }
    let mut s = String::new();
    if c.is_ascii_alphanumeric() || (!c.is_ascii() && !c.is_whitespace() && !c.is_control()) {
        s.push(c);
    } else {
        let _ = write!(s, "\\x{{{:X}}}", c as u32);
    }
    Node::Text(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translations() {
        const W: &str = r"[\p{L}\p{N}_&&\p{Age=14.0}]";
        let word_boundary = format!("(?:(?<={W})(?!{W})|(?<!{W})(?={W}))x");
        // (Python pattern, text in the regex crate's syntax, needs backtracking).
        let cases = [
            ("^guest$", r"^guest(?:\n?\z)", false),
            ("a$|b$", r"a(?:\n?\z)|b(?:\n?\z)", false),
            ("(a$)", r"(a(?:\n?\z))", false),
            ("a$b", r"a(?=\n?\z)b", true),
            ("(a$)*", r"(?:(a(?=\n?\z)))*", true),
            ("(?m)a$", "(?m)a$", false),
            (r"a\Z", r"a\z", false),
            (r"\<a\>", r"\x{3C}a\x{3E}", false),
            ("a{,2}", "(?:a){0,2}", false),
            ("a{2}", "(?:a){2,2}", false),
            ("a{}", r"a\x{7B}\x{7D}", false),
            ("a{x}", r"a\x{7B}x\x{7D}", false),
            (
                "[[:alpha:]]",
                r"[\x{5B}\x{3A}\x{61}\x{6C}\x{70}\x{68}\x{61}\x{3A}]\x{5D}",
                false,
            ),
            ("[a&&b]", r"[\x{61}\x{26}\x{26}\x{62}]", false),
            ("[]a]", r"[\x{5D}\x{61}]", false),
            ("[^-a-c]", r"[^\x{2D}\x{61}-\x{63}]", false),
            (r"\s", r"[\s\x1C-\x1F]", false),
            (r"[\S]", r"[[^\s\x1C-\x1F]]", false),
            (r"\w", r"[\p{L}\p{N}_&&\p{Age=14.0}]", false),
            ("(?a)\\w", "[0-9A-Za-z_]", false),
            ("(?i)id", r"(?i)[iI\x{130}\x{131}]d", false),
            (r"(?i)\w", r"(?i)(?-i:[\p{L}\p{N}_&&\p{Age=14.0}])", false),
            (r"^admin(?#\)|(x)$", r"^admin(?:\n?\z)", false),
            ("(?x)a # c\\\n|b", "a", false),
            ("(?i)[h-j]", r"(?i)[\x{68}-\x{6A}\x{69}\x{49}\x{130}\x{131}]", false),
            ("(?x) a b # comment\n c", "abc", false),
            ("(?x)[ ]", r"[\x{20}]", false),
            ("a(?#note)b", "ab", false),
            ("(?P<x>a)(?P=x)", r"(a)(?:\1)", true),
            (r"\101", "A", false),
            (r"\0", r"\x{0}", false),
            ("(?!guest)", "(?!guest)", true),
            ("(?=a$)", r"(?=a(?=\n?\z))", true),
            ("(?<=@)x$", r"(?<=\x{40})x(?:\n?\z)", true),
            ("(?i:a)b", "(?i-ms:a)b", false),
            ("(?s:.)", "(?s-im:.)", false),
            ("a*?", "(?:a)*?", false),
            ("é", "é", false),
            (r"\bx", word_boundary.as_str(), true),
            (r"(?a)\bx", r"(?-u:\b)x", false),
            ("\\é", "é", false),
        ];
        for (python, want, backtracking) in cases {
            assert_eq!(
                translate(python),
                Ok(Translated {
                    text: want.into(),
                    backtracking
                }),
                "{python}"
            );
        }
    }

    #[test]
    fn refusals_say_why() {
        let cases = [
            ("(", "missing ), unterminated subpattern"),
            (")", "unbalanced parenthesis"),
            ("*a", "nothing to repeat"),
            ("^*", "nothing to repeat"),
            (r"\b+", "nothing to repeat"),
            ("a**", "multiple repeat"),
            ("[a", "unterminated character set"),
            ("[z-a]", "bad character range z-a"),
            (r"[\d-z]", r"bad character range \d-z"),
            (r"(a)\10", "invalid group reference 10"),
            (r"\q", r"bad escape \q"),
            (r"\x4", r"incomplete escape \x4"),
            (r"(a)\2", "invalid group reference 2"),
            (r"(a\1)", "cannot refer to an open group"),
            (
                r"\N{BULLET}",
                r"\N{...} character names are not supported: write the character itself",
            ),
            ("(?(1)a|b)", "conditional groups are not supported"),
            ("a(?i)b", "global flags not at the start of the expression"),
            ("(?ai)a", "the ASCII flag with IGNORECASE is not supported"),
            ("(?L)a", "bad inline flag: cannot use 'L' flag with a str pattern"),
            ("(?a)(?u:a)", "bad inline flag: flags 'a' and 'u' are incompatible"),
            ("a++", "possessive quantifiers are not supported"),
            ("(?>a)", "atomic groups are not supported"),
            (r"(?#a\)", "missing ), unterminated comment"),
            ("(?x)a#\\", "bad escape (end of pattern)"),
            (r"(?i)(k)\1", "back-references under IGNORECASE are not supported"),
            (
                "(?i:(?P<x>a)(?P=x))",
                "back-references under IGNORECASE are not supported",
            ),
            ("a{3,2}", "min repeat greater than max repeat"),
            (r"\400", "octal escape value \\400 outside of range 0-0o377"),
        ];
        for (python, why) in cases {
            assert_eq!(translate(python), Err(why.to_string()), "{python}");
        }
        // Refused before the parser's recursion could exhaust a thread's stack.
        assert_eq!(
            translate(&"(".repeat(4096)),
            Err(format!("groups nested more than {MAX_NESTING} deep"))
        );
    }
}
