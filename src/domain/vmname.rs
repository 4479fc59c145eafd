//! The Plain VM name, which is also its hostname (docs/product-rules.md §2, issue 4 "Provision").

/// Longest name: an RFC 1123 label is at most 63 characters.
pub const MAX_VM_NAME_LEN: usize = 63;

/// Checks a VM name: an RFC 1123 label (1–63 lowercase ASCII letters, digits and hyphens, not
/// starting or ending with a hyphen), not already used by another VM in the project
/// (`existing_names`; Hetzner server names are unique per project).
///
/// Errors name the field `name`, e.g. `name: 'A' is not allowed (lowercase letters, digits and
/// hyphens only)`, `name: web-1 is already used in this project`.
pub fn validate_vm_name<S: AsRef<str>>(name: &str, existing_names: &[S]) -> Result<(), String> {
    if name.is_empty() {
        return Err("name: must not be empty".into());
    }
    let chars = name.chars().count();
    if chars > MAX_VM_NAME_LEN {
        return Err(format!(
            "name: {chars} characters, at most {MAX_VM_NAME_LEN} (RFC 1123 label)"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        let shown = if c.is_control() {
            format!("U+{:04X}", c as u32)
        } else {
            format!("'{c}'")
        };
        return Err(format!(
            "name: {shown} is not allowed (lowercase letters, digits and hyphens only)"
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("name: must not start or end with a hyphen".into());
    }
    if existing_names.iter().any(|n| n.as_ref() == name) {
        return Err(format!("name: {name} is already used in this project"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: &[&str] = &[];

    #[test]
    fn valid_names() {
        assert_eq!(validate_vm_name("web-1", NONE), Ok(()));
        assert_eq!(validate_vm_name("a", NONE), Ok(()));
        assert_eq!(validate_vm_name("42", NONE), Ok(()));
        assert_eq!(validate_vm_name(&"a".repeat(63), NONE), Ok(()));
        assert_eq!(validate_vm_name("web-1", &["web-2", "db"]), Ok(()));
    }

    #[test]
    fn refused_names() {
        assert_eq!(
            validate_vm_name("", NONE),
            Err("name: must not be empty".into())
        );
        assert_eq!(
            validate_vm_name(&"a".repeat(64), NONE),
            Err("name: 64 characters, at most 63 (RFC 1123 label)".into())
        );
        assert_eq!(
            validate_vm_name("Web", NONE),
            Err("name: 'W' is not allowed (lowercase letters, digits and hyphens only)".into())
        );
        assert_eq!(
            validate_vm_name("web_1", NONE),
            Err("name: '_' is not allowed (lowercase letters, digits and hyphens only)".into())
        );
        assert_eq!(
            validate_vm_name("web.example", NONE),
            Err("name: '.' is not allowed (lowercase letters, digits and hyphens only)".into())
        );
        assert_eq!(
            validate_vm_name("wéb", NONE),
            Err("name: 'é' is not allowed (lowercase letters, digits and hyphens only)".into())
        );
        assert_eq!(
            validate_vm_name("web\n", NONE),
            Err("name: U+000A is not allowed (lowercase letters, digits and hyphens only)".into())
        );
        assert_eq!(
            validate_vm_name("-web", NONE),
            Err("name: must not start or end with a hyphen".into())
        );
        assert_eq!(
            validate_vm_name("web-", NONE),
            Err("name: must not start or end with a hyphen".into())
        );
        assert_eq!(
            validate_vm_name("db", &["web-1".to_string(), "db".to_string()]),
            Err("name: db is already used in this project".into())
        );
    }
}
