//! Validated values: once parsed, a name or password is known to satisfy the reference's rules.

use super::error::{Error, IamCode};

fn check_len(field: &str, value: &str, min: usize, max: usize) -> Result<(), Error> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(Error::invalid(
            field,
            format!("length must be between {min} and {max} characters"),
        ));
    }
    Ok(())
}

/// User name: 1-64 characters of letters, digits, space, `-`, `_`, `.`; not starting with a
/// digit or a space (reference §5.6; 64 also on update, see DESIGN.md decision 14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        check_len(field, value, 1, 64)?;
        let first = value.chars().next().unwrap_or(' ');
        if first.is_ascii_digit() || first == ' ' {
            return Err(Error::IamRule {
                code: IamCode::InvalidUserName,
                message: "Invalid username.".into(),
            });
        }
        if !value
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
        {
            return Err(Error::IamRule {
                code: IamCode::InvalidUserName,
                message: "Invalid username.".into(),
            });
        }
        Ok(Self(value.to_string()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Characters no one types as part of a name: C0 and C1 controls (NUL, CR, LF, ESC, NEL, ...)
/// and DEL, the bidirectional controls that reorder what a screen shows (U+061C, U+200E/F,
/// U+202A-U+202E, U+2066-U+2069), and the Unicode line and paragraph separators.
pub fn is_untypeable(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}'
        )
}

/// `value` safe for a log line or an error message: untypeable characters as `\u{..}`.
pub fn escaped(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if is_untypeable(c) {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A display name for groups, projects and agencies: trimmed non-empty text without control
/// characters, within `max` characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceName(String);

impl ResourceName {
    pub fn parse(field: &str, value: &str, max: usize) -> Result<Self, Error> {
        check_len(field, value, 1, max)?;
        if value.trim().is_empty() || value.chars().any(is_untypeable) {
            return Err(Error::invalid(
                field,
                "must be non-blank text without control characters",
            ));
        }
        Ok(Self(value.to_string()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Descriptions: at most 255 characters, no control characters other than newlines.
pub fn parse_description(field: &str, value: &str) -> Result<String, Error> {
    check_len(field, value, 0, 255)?;
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(value.to_string())
}

/// A display name (Alibaba Cloud's `DisplayName`): 1-128 characters, no control characters.
pub fn parse_display_name(field: &str, value: &str) -> Result<String, Error> {
    check_len(field, value, 1, 128)?;
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(value.to_string())
}

/// A new password: 8-32 characters with at least two of lower case, upper case, digits and
/// other characters (reference §5.6). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword([redacted])")
    }
}

impl NewPassword {
    pub fn parse(value: &str) -> Result<Self, Error> {
        let n = value.chars().count();
        let classes = [
            value.chars().any(|c| c.is_ascii_lowercase()),
            value.chars().any(|c| c.is_ascii_uppercase()),
            value.chars().any(|c| c.is_ascii_digit()),
            value.chars().any(|c| !c.is_ascii_alphanumeric()),
        ]
        .iter()
        .filter(|&&b| b)
        .count();
        if !(8..=32).contains(&n) || classes < 2 || value.chars().any(char::is_control) {
            return Err(Error::IamRule {
                code: IamCode::WeakPassword,
                message: "The password is weak.".into(),
            });
        }
        Ok(Self(value.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_follow_the_reference_rule() {
        let cases = [
            ("alice", true),
            ("Alice Smith-Jones_2.0", true),
            ("Zoë", true),
            ("", false),
            ("1alice", false),
            (" alice", false),
            ("alice@example", false),
            ("a/b", false),
            (&"x".repeat(64), true),
            (&"x".repeat(65), false),
        ];
        for (name, ok) in cases {
            assert_eq!(UserName::parse("user.name", name).is_ok(), ok, "{name:?}");
        }
    }

    #[test]
    fn passwords_need_length_and_two_classes() {
        let cases = [
            ("Secret12", true),
            ("secret12", true),
            ("secretpw", false),
            ("Sec1", false),
            (&"aA".repeat(17), false),
            ("pass\u{0}word1", false),
        ];
        for (pw, ok) in cases {
            assert_eq!(NewPassword::parse(pw).is_ok(), ok, "{pw:?}");
        }
    }
}
