//! Command-line parse errors as one line (README: "one line on stderr").
//!
//! clap's own rendering of an error is several lines (the error, a usage line, "For more
//! information, try '--help'."). [`parse_from`] keeps clap's parsing and its `--help` and
//! `--version` output unchanged, and turns every other [`clap::Error`] into one line naming the
//! flag, built from the error's [`ErrorKind`] and context ([`clap::Error::get`]) and, for a
//! value parser's refusal, its source error:
//!
//! - `--by: 'foo' is not one of vm, account, tier, region`
//! - `--from: '2026-13-01' is not a real YYYY-MM-DD day`
//! - `--json cannot be used with --csv`
//! - `missing --to <YYYY-MM-DD>`
//! - `unexpected argument '--jsn' (did you mean '--json'?)`
//! - `vm needs a subcommand: create, start, …; see crabglamp vm --help`
//!
//! The caller prints `crabglamp: <line>` on stderr and exits with status 2, as clap does
//! ([`clap::Error::exit_code`]).

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser};

use super::Cli;
use crabglamp::domain::ParseEnumError;

/// Why the command line did not give a [`Cli`].
#[derive(Debug)]
pub enum ArgsError {
    /// `--help`, `--version` (and `help` subcommand): clap's own output, printed as is with
    /// [`clap::Error::exit`] (stdout, exit status 0).
    Display(clap::Error),
    /// A parse error: one line, without the `crabglamp: ` prefix. Exit status 2.
    Line(String),
}

/// Exit status of a parse error, as clap uses (`clap::Error::exit_code` for errors).
pub const USAGE_EXIT: u8 = 2;

/// Parses `args` (the program name first, like [`std::env::args_os`]).
///
/// # Errors
/// [`ArgsError::Display`] for help and version, [`ArgsError::Line`] for anything clap refuses.
pub fn parse_from<I, T>(args: I) -> Result<Cli, ArgsError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    Cli::try_parse_from(&args).map_err(|e| match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ArgsError::Display(e),
        // `crabglamp vm` alone: clap prints the subcommand's whole help on stderr.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
            ArgsError::Line(missing_subcommand(&args))
        }
        _ => ArgsError::Line(one_line(&e)),
    })
}

/// A flag as the operator typed it: `--to <YYYY-MM-DD>` → `--to`; a positional `<SLUG>` stays.
fn flag_name(arg: &str) -> &str {
    if arg.starts_with('-') {
        arg.split([' ', '=']).next().unwrap_or(arg)
    } else {
        arg
    }
}

fn string(e: &clap::Error, kind: ContextKind) -> Option<&str> {
    match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s),
        _ => None,
    }
}

fn strings(e: &clap::Error, kind: ContextKind) -> Vec<String> {
    match e.get(kind) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        _ => Vec::new(),
    }
}

/// What a value parser said about `value`, without the field name our own parse errors carry
/// (the line names the flag already).
fn refusal(e: &clap::Error, value: &str) -> String {
    let source = std::error::Error::source(e);
    if let Some(p) = source.and_then(|s| s.downcast_ref::<ParseEnumError>()) {
        let allowed: Vec<&str> = p.allowed.split_whitespace().collect();
        return format!("'{}' is not one of {}", p.given, allowed.join(", "));
    }
    if let Some(source) = source {
        return source.to_string();
    }
    let valid = strings(e, ContextKind::ValidValue);
    if valid.is_empty() {
        format!("'{value}' is not a valid value")
    } else {
        format!("'{value}' is not one of {}", valid.join(", "))
    }
}

/// One line for a clap parse error (any kind but help and version).
pub fn one_line(e: &clap::Error) -> String {
    let arg = string(e, ContextKind::InvalidArg).map(flag_name);
    match e.kind() {
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let value = string(e, ContextKind::InvalidValue).unwrap_or_default();
            let what = if value.is_empty() && e.kind() == ErrorKind::InvalidValue {
                "a value is required".to_string()
            } else {
                refusal(e, value)
            };
            format!("{}: {what}", arg.unwrap_or("argument"))
        }
        ErrorKind::ArgumentConflict => {
            let arg = arg.unwrap_or("an argument");
            let prior: Vec<String> = strings(e, ContextKind::PriorArg)
                .iter()
                .map(|p| flag_name(p).to_string())
                .collect();
            match prior.as_slice() {
                [] => format!("{arg} cannot be used with the other arguments given"),
                [one] if one == arg => format!("{arg} cannot be given more than once"),
                many => format!("{arg} cannot be used with {}", many.join(", ")),
            }
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = strings(e, ContextKind::InvalidArg);
            format!("missing {}", missing.join(", "))
        }
        ErrorKind::UnknownArgument => {
            let given = string(e, ContextKind::InvalidArg).unwrap_or_default();
            match strings(e, ContextKind::SuggestedArg).first() {
                Some(s) => format!("unexpected argument '{given}' (did you mean '{s}'?)"),
                None => format!("unexpected argument '{given}'"),
            }
        }
        ErrorKind::InvalidSubcommand => {
            let given = string(e, ContextKind::InvalidSubcommand).unwrap_or_default();
            match strings(e, ContextKind::SuggestedSubcommand).first() {
                Some(s) => format!("unknown subcommand '{given}' (did you mean '{s}'?)"),
                None => format!("unknown subcommand '{given}'; see crabglamp --help"),
            }
        }
        ErrorKind::TooManyValues => {
            let value = string(e, ContextKind::InvalidValue).unwrap_or_default();
            format!("{}: unexpected value '{value}'", arg.unwrap_or("argument"))
        }
        _ => {
            // Rare kinds (wrong number of values, invalid UTF-8, …): clap's own first line.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            first.strip_prefix("error: ").unwrap_or(first).to_string()
        }
    }
}

/// `crabglamp vm` (a command that needs a subcommand, given none): names it and its
/// subcommands, found by walking clap's command tree along `args`.
fn missing_subcommand(args: &[OsString]) -> String {
    let mut cmd = Cli::command();
    let mut path: Vec<String> = Vec::new();
    for arg in args.iter().skip(1) {
        let Some(word) = arg.to_str() else { continue };
        if let Some(sub) = cmd.find_subcommand(word).cloned() {
            path.push(sub.get_name().to_string());
            cmd = sub;
        }
    }
    let subs: Vec<&str> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .map(|s| s.get_name())
        .collect();
    let name = if path.is_empty() {
        "crabglamp".to_string()
    } else {
        path.join(" ")
    };
    format!(
        "{name} needs a subcommand: {}; see crabglamp {} --help",
        subs.join(", "),
        path.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(args: &[&str]) -> String {
        let mut all = vec!["crabglamp"];
        all.extend_from_slice(args);
        match parse_from(all) {
            Err(ArgsError::Line(l)) => l,
            Err(ArgsError::Display(e)) => panic!("help/version for {args:?}: {e}"),
            Ok(_) => panic!("parsed: {args:?}"),
        }
    }

    #[test]
    fn parse_errors_are_one_line_naming_the_flag() {
        assert_eq!(
            line(&["usage", "--json", "--csv"]),
            "--json cannot be used with --csv"
        );
        assert_eq!(
            line(&["usage", "--by", "foo"]),
            "--by: 'foo' is not one of vm, account, tier, region"
        );
        assert_eq!(
            line(&["usage", "--from", "2026-13-01", "--to", "2026-12-01"]),
            "--from: '2026-13-01' is not a real YYYY-MM-DD day"
        );
        assert_eq!(
            line(&["usage", "--from", "2026-11-01", "--to", "2026-11-31"]),
            "--to: '2026-11-31' is not a real YYYY-MM-DD day"
        );
        assert_eq!(
            line(&["usage", "--from", "X"]),
            "--from: 'X' is not a real YYYY-MM-DD day"
        );
        assert_eq!(
            line(&["usage", "--from", "2026-11-01"]),
            "missing --to <YYYY-MM-DD>"
        );
        assert_eq!(
            line(&["usage", "--month", "2026-11", "--from", "2026-11-01"]),
            "--month cannot be used with --from"
        );
        assert_eq!(line(&["usage", "--by"]), "--by: a value is required");
        assert_eq!(
            line(&["vms", "--json=yes"]),
            "--json: unexpected value 'yes'"
        );
        assert_eq!(
            line(&["vms", "--json", "--json"]),
            "--json cannot be given more than once"
        );
        assert_eq!(line(&["account", "add", "x"]), "missing --kind <KIND>");
        assert_eq!(
            line(&["usage", "--jsn"]),
            "unexpected argument '--jsn' (did you mean '--json'?)"
        );
        assert_eq!(
            line(&["nosuch"]),
            "unknown subcommand 'nosuch'; see crabglamp --help"
        );
        assert_eq!(
            line(&["account", "add", "x", "--kind", "foo"]),
            "--kind: 'foo' is not one of personal, org"
        );
        assert_eq!(
            line(&["audit", "export", "--format", "foo"]),
            "--format: 'foo' is not one of jsonl, csv"
        );
        assert_eq!(
            line(&["audit"]),
            "audit needs a subcommand: list, verify, prove, key, export; see crabglamp audit --help"
        );
    }

    #[test]
    fn help_and_version_stay_clap_output() {
        for args in [["crabglamp", "--help"], ["crabglamp", "--version"]] {
            match parse_from(args) {
                Err(ArgsError::Display(e)) => {
                    assert_eq!(e.exit_code(), 0);
                    assert!(e.render().to_string().contains("crabglamp"));
                }
                Err(ArgsError::Line(l)) => panic!("{args:?}: {l}"),
                Ok(_) => panic!("{args:?} parsed"),
            }
        }
    }
}
