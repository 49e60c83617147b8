//! A small read-only element tree over quick-xml for SAML protocol messages. Namespaces are
//! resolved, text is the concatenation of an element's own text pieces, and anything a SAML
//! message never needs (DTDs, processing instructions) is refused at parse time. Comments are
//! recorded per element so callers can refuse them where they would change a value's meaning.

use std::borrow::Cow;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesRef, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::SamlError;

const MAX_DEPTH: usize = 64;
const MAX_ELEMENTS: usize = 20_000;

#[derive(Debug, Clone, Default)]
pub struct Element {
    pub namespace: String,
    pub name: String,
    /// Unprefixed attributes only: SAML's own attributes carry no prefix.
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
    /// A comment sat directly inside this element.
    pub has_comment: bool,
}

impl Element {
    pub fn is(&self, namespace: &str, name: &str) -> bool {
        self.namespace == namespace && self.name == name
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn child(&self, namespace: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(namespace, name))
    }

    pub fn children_named<'a>(&'a self, namespace: &'a str, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(namespace, name))
    }

    /// Every element below this one (depth first), this one excluded.
    pub fn descendants(&self) -> Vec<&Element> {
        let mut out = Vec::new();
        let mut stack: Vec<&Element> = self.children.iter().rev().collect();
        while let Some(e) = stack.pop() {
            out.push(e);
            stack.extend(e.children.iter().rev());
        }
        out
    }

    /// Whether a comment appears anywhere in this element or below it.
    pub fn contains_comment(&self) -> bool {
        self.has_comment || self.descendants().iter().any(|e| e.has_comment)
    }
}

fn malformed(e: impl std::fmt::Display) -> SamlError {
    SamlError::Malformed(e.to_string())
}

/// What a text event adds to its element's text (quick-xml reports references apart from the
/// text around them): text as it is; a character reference or one of the five predefined
/// entities resolved, any other entity refused (no DTD is accepted to declare one). `None` for
/// markup.
pub(crate) fn text_piece<'e>(event: &'e Event) -> Result<Option<Cow<'e, str>>, SamlError> {
    match event {
        Event::Text(t) => Ok(Some(t.decode().map_err(malformed)?)),
        Event::GeneralRef(r) => reference(r).map(Some),
        _ => Ok(None),
    }
}

fn reference<'e>(r: &BytesRef) -> Result<Cow<'e, str>, SamlError> {
    if let Some(c) = r.resolve_char_ref().map_err(malformed)? {
        return Ok(Cow::Owned(c.to_string()));
    }
    let name = r.decode().map_err(malformed)?;
    quick_xml::escape::resolve_predefined_entity(&name)
        .map(Cow::Borrowed)
        .ok_or_else(|| malformed(format!("unrecognized entity `{name}`")))
}

/// An attribute's value with references resolved and nothing else changed: no attribute-value
/// normalisation, which quick-xml's own accessors now apply.
pub(crate) fn attribute_value(a: &Attribute) -> Result<String, SamlError> {
    let raw = std::str::from_utf8(&a.value).map_err(malformed)?;
    Ok(quick_xml::escape::unescape(raw).map_err(malformed)?.into_owned())
}

/// Parses one document into its root element.
pub fn parse(xml: &str) -> Result<Element, SamlError> {
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(malformed)?;
        match event {
            Event::DocType(_) => return Err(SamlError::Doctype),
            Event::PI(_) => return Err(SamlError::Malformed("processing instructions are not accepted".into())),
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() {
                    return Err(SamlError::Malformed("content after the root element".into()));
                }
                count += 1;
                if count > MAX_ELEMENTS || stack.len() >= MAX_DEPTH {
                    return Err(SamlError::Malformed("document nests or repeats too much".into()));
                }
                let namespace = match ns {
                    ResolveResult::Bound(n) => String::from_utf8_lossy(n.as_ref()).into_owned(),
                    ResolveResult::Unbound => String::new(),
                    ResolveResult::Unknown(p) => {
                        return Err(SamlError::Malformed(format!(
                            "undeclared namespace prefix {}",
                            String::from_utf8_lossy(&p)
                        )));
                    }
                };
                let mut element = Element {
                    namespace,
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Element::default()
                };
                for a in e.attributes() {
                    let a = a.map_err(malformed)?;
                    if a.key.prefix().is_some() || a.key.as_ref().starts_with(b"xmlns") {
                        continue;
                    }
                    let value = attribute_value(&a)?;
                    element
                        .attributes
                        .push((String::from_utf8_lossy(a.key.as_ref()).into_owned(), value));
                }
                if matches!(event, Event::Empty(_)) {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(element),
                        None => root = Some(element),
                    }
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let done = stack.pop().ok_or_else(|| malformed("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(_) | Event::GeneralRef(_) => {
                let text = text_piece(&event)?.unwrap_or_default();
                match stack.last_mut() {
                    Some(e) => e.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(malformed("text outside the root element")),
                }
            }
            Event::CData(t) => {
                if let Some(e) = stack.last_mut() {
                    e.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::Comment(_) => {
                if let Some(e) = stack.last_mut() {
                    e.has_comment = true;
                }
            }
            Event::Eof => break,
            Event::Decl(_) if count > 0 => {
                return Err(malformed("an XML declaration is only allowed at the start"));
            }
            Event::Decl(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(malformed("document ends inside an element"));
    }
    root.ok_or_else(|| malformed("no root element"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespaces_text_and_comments() {
        let root = parse(
            "<?xml version=\"1.0\"?><a:R xmlns:a=\"urn:a\" ID=\"x\" a:skip=\"1\"><a:N>one<!-- c -->two</a:N><b/></a:R>",
        )
        .unwrap();
        assert!(root.is("urn:a", "R"));
        assert_eq!(root.attr("ID"), Some("x"));
        assert_eq!(root.attr("skip"), None);
        let n = root.child("urn:a", "N").unwrap();
        assert_eq!(n.text, "onetwo");
        assert!(n.has_comment && root.contains_comment());
        assert!(root.child("", "b").is_some());
    }

    /// References resolve in text and attribute values; attribute values are otherwise kept as
    /// written (no whitespace normalisation).
    #[test]
    fn resolves_references_and_keeps_attribute_values() {
        for (xml, text, attr) in [
            ("<r a=\"x\">plain</r>", "plain", "x"),
            (
                "<r a=\"&lt;&amp;&#x41;&#66;\">a &amp; b&#13;&#xA;c</r>",
                "a & b\r\nc",
                "<&AB",
            ),
            ("<r a=\"x\ty z\">&quot;&apos;&gt;<!-- c -->&lt;</r>", "\"'><", "x\ty z"),
        ] {
            let root = parse(xml).unwrap();
            assert_eq!(root.text, text, "{xml}");
            assert_eq!(root.attr("a"), Some(attr), "{xml}");
        }
        for xml in ["<r>&nbsp;</r>", "<r a=\"&nbsp;\"/>", "<r>a & b</r>", "<r>&#0;</r>"] {
            assert!(matches!(parse(xml), Err(SamlError::Malformed(_))), "{xml}");
        }
    }

    #[test]
    fn refuses_what_saml_never_needs() {
        for (xml, want) in [
            ("<!DOCTYPE r [<!ENTITY e \"x\">]><r>&e;</r>", "document type"),
            ("<r><?pi x?></r>", "processing instructions"),
            ("<r><a></r>", "malformed"),
            ("<r/><r/>", "after the root"),
            ("<p:r/>", "undeclared"),
            ("<r>", "ends inside"),
            ("<r><?xml version=\"1.0\"?><a/></r>", "declaration"),
            ("", "no root"),
        ] {
            let err = parse(xml).unwrap_err().to_string();
            assert!(
                err.contains(want) || (want == "malformed" && err.contains("XML")),
                "{xml}: {err}"
            );
        }
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(parse(&deep).is_err());
    }
}
