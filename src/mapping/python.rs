//! The small parts of Python that Keystone's mapping engine leans on, reproduced so results
//! match byte for byte: `str.format` with positional fields, `repr` of strings and lists of
//! strings (a multi-valued `{0}` becomes the text of a Python list), and `ast.literal_eval` of
//! such a list when it is read back as `groups` or `group_ids`.

/// One piece of a compiled `str.format` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Literal(String),
    Slot(usize),
}

/// Parses a template the way `str.format` does, accepting only `{}` / `{N}` fields (no names,
/// attributes, conversions or format specs) and `{{` / `}}` escapes. Errors say why.
pub fn parse_template(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    let mut auto_index = 0usize;
    let (mut used_auto, mut used_manual) = (false, false);
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '}' => return Err("single '}' encountered in format string".into()),
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => field.push(c),
                        None => return Err("single '{' encountered in format string".into()),
                    }
                }
                let index = if field.is_empty() {
                    used_auto = true;
                    auto_index += 1;
                    auto_index - 1
                } else if field.bytes().all(|b| b.is_ascii_digit()) && field.len() <= 4 {
                    used_manual = true;
                    field.parse().map_err(|_| format!("bad field {{{field}}}"))?
                } else {
                    return Err(format!("only {{N}} placeholders are supported, found {{{field}}}"));
                };
                if used_auto && used_manual {
                    return Err("cannot mix {} and {N} placeholders".into());
                }
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Slot(index));
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

/// Python's `repr()` of a `str`.
pub fn repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (0x80..0xa0).contains(&(c as u32)) => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `repr()` of a list of `str`.
pub fn repr_list<S: AsRef<str>>(items: &[S]) -> String {
    let inner: Vec<String> = items.iter().map(|s| repr_str(s.as_ref())).collect();
    format!("[{}]", inner.join(", "))
}

/// Keystone's `_ast_literal_eval`: the text of a Python list of strings becomes that list;
/// anything else becomes a one-element list holding the text. (Keystone would also turn
/// `[1, 2]` into numbers; fedgate keeps such text whole, see the mapping corpus notes.)
pub fn literal_list(text: &str) -> Vec<String> {
    if !text.trim_start().starts_with('[') {
        return vec![text.to_string()];
    }
    parse_str_list(text).unwrap_or_else(|| vec![text.to_string()])
}

fn parse_str_list(text: &str) -> Option<Vec<String>> {
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
    };
    p.ws();
    p.eat('[')?;
    let mut items = Vec::new();
    loop {
        p.ws();
        if p.eat(']').is_some() {
            break;
        }
        items.push(p.string()?);
        p.ws();
        if p.eat(',').is_some() {
            continue;
        }
        p.ws();
        p.eat(']')?;
        break;
    }
    p.ws();
    (p.pos == p.chars.len()).then_some(items)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: char) -> Option<()> {
        (self.chars.get(self.pos) == Some(&c)).then(|| self.pos += 1)
    }

    fn string(&mut self) -> Option<String> {
        let quote = *self.chars.get(self.pos)?;
        if quote != '\'' && quote != '"' {
            return None;
        }
        self.pos += 1;
        let mut out = String::new();
        loop {
            let c = *self.chars.get(self.pos)?;
            self.pos += 1;
            match c {
                c if c == quote => return Some(out),
                '\n' => return None,
                '\\' => {
                    let e = *self.chars.get(self.pos)?;
                    self.pos += 1;
                    match e {
                        '\\' | '\'' | '"' => out.push(e),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        '0' => out.push('\0'),
                        'x' | 'u' | 'U' => {
                            let n = match e {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let hex: String = self.chars.get(self.pos..self.pos + n)?.iter().collect();
                            self.pos += n;
                            out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                        }
                        '\n' => {}
                        other => {
                            out.push('\\');
                            out.push(other);
                        }
                    }
                }
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_like_str_format() {
        use Piece::*;
        let cases: Vec<(&str, Result<Vec<Piece>, ()>)> = vec![
            ("{0}", Ok(vec![Slot(0)])),
            ("{0} {1}", Ok(vec![Slot(0), Literal(" ".into()), Slot(1)])),
            ("{}-{}", Ok(vec![Slot(0), Literal("-".into()), Slot(1)])),
            ("a{{b}}c", Ok(vec![Literal("a{b}c".into())])),
            ("", Ok(vec![Literal(String::new())])),
            ("{name}", Err(())),
            ("{0!r}", Err(())),
            ("{0:>5}", Err(())),
            ("{", Err(())),
            ("}", Err(())),
            ("{}{0}", Err(())),
        ];
        for (text, want) in cases {
            assert_eq!(parse_template(text).map_err(|_| ()), want, "{text:?}");
        }
    }

    #[test]
    fn repr_matches_python() {
        let cases = [
            ("abc", "'abc'"),
            ("it's", "\"it's\""),
            ("both ' and \"", "'both \\' and \"'"),
            ("back\\slash", "'back\\\\slash'"),
            ("tab\there", "'tab\\there'"),
            ("bell\u{7}", "'bell\\x07'"),
            ("Zoë", "'Zoë'"),
        ];
        for (s, want) in cases {
            assert_eq!(repr_str(s), want);
        }
        assert_eq!(repr_list(&["a", "b'c"]), "['a', \"b'c\"]");
    }

    #[test]
    fn literal_lists_round_trip_through_repr() {
        let items: Vec<String> = vec!["a".into(), "it's".into(), "x\\y\n".into(), "Zoë".into()];
        assert_eq!(literal_list(&repr_list(&items)), items);
        assert_eq!(literal_list("plain"), vec!["plain".to_string()]);
        assert_eq!(literal_list("['a',]"), vec!["a".to_string()]);
        assert_eq!(literal_list("[]"), Vec::<String>::new());
        assert_eq!(literal_list("['a' 'b']"), vec!["['a' 'b']".to_string()]);
    }
}
