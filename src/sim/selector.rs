//! Hetzner label selectors: parsing and matching.
//!
//! Grammar (docs/hetzner-api.md §2, the same as Kubernetes set-based selectors; comma = AND,
//! there is no OR across terms):
//!
//! | Expression | Matches |
//! |---|---|
//! | `k=v`, `k==v` | label `k` equals `v` |
//! | `k!=v` | label `k` is not `v` (objects without `k` match too) |
//! | `k` | key `k` present |
//! | `!k` | key `k` absent |
//! | `k in (v1,v2)` | value is one of the list |
//! | `k notin (v1,v2)` | value is none of the list (objects without `k` match too) |
//!
//! The input must already be URL-decoded. Spaces are allowed around operators and commas.

use std::collections::BTreeMap;
use std::fmt;

/// One term of a selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// `k=v` or `k==v`.
    Equals(String, String),
    /// `k!=v`.
    NotEquals(String, String),
    /// `k`.
    Exists(String),
    /// `!k`.
    NotExists(String),
    /// `k in (v1,v2)`.
    In(String, Vec<String>),
    /// `k notin (v1,v2)`.
    NotIn(String, Vec<String>),
}

impl Requirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::NotExists(k) => !labels.contains_key(k),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
        }
    }
}

/// A parsed label selector: a conjunction of [`Requirement`]s. The empty selector matches
/// everything.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Selector {
    /// The terms, all of which must match.
    pub requirements: Vec<Requirement>,
}

impl Selector {
    /// True when every requirement matches `labels`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

impl fmt::Display for Requirement {
    /// The canonical text form (`k=v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirement::Equals(k, v) => write!(f, "{k}={v}"),
            Requirement::NotEquals(k, v) => write!(f, "{k}!={v}"),
            Requirement::Exists(k) => write!(f, "{k}"),
            Requirement::NotExists(k) => write!(f, "!{k}"),
            Requirement::In(k, vs) => write!(f, "{k} in ({})", vs.join(",")),
            Requirement::NotIn(k, vs) => write!(f, "{k} notin ({})", vs.join(",")),
        }
    }
}

impl fmt::Display for Selector {
    /// Requirements joined by `,` (parses back to the same selector).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Why a selector failed to parse: a human message naming the byte offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorError {
    /// Byte offset in the selector where parsing stopped.
    pub position: usize,
    /// What was expected.
    pub message: String,
}

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid label selector at position {}: {}",
            self.position, self.message
        )
    }
}

impl std::error::Error for SelectorError {}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')
}

fn is_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn err(&self, message: impl Into<String>) -> SelectorError {
        SelectorError {
            position: self.pos,
            message: message.into(),
        }
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if f(c) {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
        &self.s[start..self.pos]
    }

    fn eat(&mut self, token: &str) -> bool {
        if self.s[self.pos..].starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn key(&mut self) -> Result<String, SelectorError> {
        let k = self.take_while(is_key_char);
        if k.is_empty() {
            return Err(self.err("expected a label key"));
        }
        Ok(k.to_string())
    }

    fn value(&mut self) -> String {
        self.take_while(is_value_char).to_string()
    }

    fn list(&mut self) -> Result<Vec<String>, SelectorError> {
        self.skip_ws();
        if !self.eat("(") {
            return Err(self.err("expected '('"));
        }
        let mut values = Vec::new();
        loop {
            self.skip_ws();
            let v = self.value();
            if v.is_empty() {
                return Err(self.err("expected a value"));
            }
            values.push(v);
            self.skip_ws();
            if self.eat(",") {
                continue;
            }
            if self.eat(")") {
                return Ok(values);
            }
            return Err(self.err("expected ',' or ')'"));
        }
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        self.skip_ws();
        if self.eat("!") {
            self.skip_ws();
            return Ok(Requirement::NotExists(self.key()?));
        }
        let key = self.key()?;
        self.skip_ws();
        match self.peek() {
            None | Some(',') => Ok(Requirement::Exists(key)),
            Some('=') => {
                if !self.eat("==") {
                    self.eat("=");
                }
                self.skip_ws();
                Ok(Requirement::Equals(key, self.value()))
            }
            Some('!') => {
                if !self.eat("!=") {
                    return Err(self.err("expected '!='"));
                }
                self.skip_ws();
                Ok(Requirement::NotEquals(key, self.value()))
            }
            Some(_) => {
                let word = self.take_while(|c| c.is_ascii_alphabetic());
                match word {
                    "in" => Ok(Requirement::In(key, self.list()?)),
                    "notin" => Ok(Requirement::NotIn(key, self.list()?)),
                    _ => Err(self.err("expected '=', '==', '!=', 'in', 'notin', ',' or end")),
                }
            }
        }
    }
}

/// Parse a (URL-decoded) label selector.
///
/// Errors: [`SelectorError`] with the offset of the first unexpected character; an empty
/// string parses to the empty selector (matches everything).
pub fn parse(selector: &str) -> Result<Selector, SelectorError> {
    let mut p = Parser {
        s: selector,
        pos: 0,
    };
    let mut requirements = Vec::new();
    p.skip_ws();
    if p.peek().is_none() {
        return Ok(Selector { requirements });
    }
    loop {
        requirements.push(p.requirement()?);
        p.skip_ws();
        if p.peek().is_none() {
            break;
        }
        if !p.eat(",") {
            return Err(p.err("expected ','"));
        }
    }
    Ok(Selector { requirements })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn m(sel: &str, pairs: &[(&str, &str)]) -> bool {
        parse(sel).map(|s| s.matches(&labels(pairs))).unwrap()
    }

    #[test]
    fn parses_each_operator() {
        assert_eq!(
            parse("env=prod").unwrap().requirements,
            vec![Requirement::Equals("env".into(), "prod".into())]
        );
        assert_eq!(
            parse("env==prod").unwrap().requirements,
            vec![Requirement::Equals("env".into(), "prod".into())]
        );
        assert_eq!(
            parse("env != prod").unwrap().requirements,
            vec![Requirement::NotEquals("env".into(), "prod".into())]
        );
        assert_eq!(
            parse("crabglamp/vm-id").unwrap().requirements,
            vec![Requirement::Exists("crabglamp/vm-id".into())]
        );
        assert_eq!(
            parse("!legacy").unwrap().requirements,
            vec![Requirement::NotExists("legacy".into())]
        );
        assert_eq!(
            parse("env in (dev, prod)").unwrap().requirements,
            vec![Requirement::In(
                "env".into(),
                vec!["dev".into(), "prod".into()]
            )]
        );
        assert_eq!(
            parse("env notin (dev)").unwrap().requirements,
            vec![Requirement::NotIn("env".into(), vec!["dev".into()])]
        );
    }

    #[test]
    fn matching_semantics() {
        assert!(m("env=prod", &[("env", "prod")]));
        assert!(!m("env=prod", &[("env", "dev")]));
        assert!(!m("env=prod", &[]));
        assert!(m("env!=prod", &[("env", "dev")]));
        assert!(m("env!=prod", &[]));
        assert!(!m("env!=prod", &[("env", "prod")]));
        assert!(m("env", &[("env", "")]));
        assert!(!m("env", &[("other", "x")]));
        assert!(m("!env", &[("other", "x")]));
        assert!(!m("!env", &[("env", "x")]));
        assert!(m("env in (dev,prod)", &[("env", "prod")]));
        assert!(!m("env in (dev,prod)", &[("env", "test")]));
        assert!(!m("env in (dev,prod)", &[]));
        assert!(m("env notin (dev,prod)", &[("env", "test")]));
        assert!(m("env notin (dev,prod)", &[]));
        assert!(!m("env notin (dev,prod)", &[("env", "dev")]));
    }

    #[test]
    fn comma_is_and() {
        let s = "env in (dev,prod),!legacy,tier=small";
        assert_eq!(parse(s).unwrap().requirements.len(), 3);
        assert!(m(s, &[("env", "dev"), ("tier", "small")]));
        assert!(!m(s, &[("env", "dev"), ("tier", "small"), ("legacy", "")]));
        assert!(!m(s, &[("env", "dev"), ("tier", "large")]));
    }

    #[test]
    fn empty_selector_matches_all_and_empty_value_is_allowed() {
        assert!(m("", &[("a", "b")]));
        assert!(m("a=", &[("a", "")]));
        assert!(!m("a=", &[("a", "b")]));
    }

    #[test]
    fn invalid_selectors_are_rejected() {
        for bad in [
            "=prod",
            "env in dev",
            "env in (dev",
            "env in ()",
            "env=prod,",
            "env prod",
            "env=pr od",
            "env !~ x",
            "a,,b",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let e = parse("env=prod,").unwrap_err();
        assert_eq!(e.position, 9);
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn key() -> impl Strategy<Value = String> {
            "[a-z][a-z0-9._-]{0,8}(/[a-z][a-z0-9]{0,5})?"
        }

        fn value() -> impl Strategy<Value = String> {
            "[a-z0-9][a-z0-9._-]{0,6}"
        }

        fn requirement() -> impl Strategy<Value = Requirement> {
            prop_oneof![
                (key(), value()).prop_map(|(k, v)| Requirement::Equals(k, v)),
                (key(), value()).prop_map(|(k, v)| Requirement::NotEquals(k, v)),
                key().prop_map(Requirement::Exists),
                key().prop_map(Requirement::NotExists),
                (key(), prop::collection::vec(value(), 1..4))
                    .prop_map(|(k, vs)| Requirement::In(k, vs)),
                (key(), prop::collection::vec(value(), 1..4))
                    .prop_map(|(k, vs)| Requirement::NotIn(k, vs)),
            ]
        }

        proptest! {
            #[test]
            fn display_then_parse_round_trips(reqs in prop::collection::vec(requirement(), 1..5)) {
                let sel = Selector { requirements: reqs };
                prop_assert_eq!(parse(&sel.to_string()), Ok(sel));
            }

            #[test]
            fn any_input_parses_or_errors_and_successes_round_trip(s in "\\PC{0,40}") {
                match parse(&s) {
                    Ok(sel) => prop_assert_eq!(parse(&sel.to_string()), Ok(sel)),
                    Err(e) => prop_assert!(e.position <= s.len()),
                }
            }

            #[test]
            fn in_matches_exactly_the_listed_values(
                k in key(), vs in prop::collection::vec(value(), 1..4), probe in value()
            ) {
                let sel = Selector { requirements: vec![Requirement::In(k.clone(), vs.clone())] };
                let labels: BTreeMap<String, String> = [(k, probe.clone())].into_iter().collect();
                prop_assert_eq!(sel.matches(&labels), vs.contains(&probe));
            }
        }
    }
}
