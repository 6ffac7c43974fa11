//! The command line of both binaries, declared once with clap's derive: each
//! option is a flag and an environment variable (`--chat-addr` and
//! `CHAT_ADDR`), and `--help` is generated from the same declarations.
//!
//! clap reads an argument's variable itself, but it takes an empty variable
//! as an empty value, and it can only read the process environment. So the
//! variables are read here instead, through a lookup (the environment, or a
//! test's map), and given to clap as flags placed before the real ones: an
//! empty variable counts as unset, and a flag on the command line wins over
//! its variable.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Arg, CommandFactory, Parser};

/// Appended to every binary's `--help`.
pub const ENVIRONMENT_NOTE: &str = "\
Every option can also be set by the environment variable shown with it. An \
empty variable counts as unset; an option given on the command line wins \
over its variable.";

/// Parses `P` from `args` (the program's name first) and from the variables
/// its arguments name, read through `lookup`. A refusal is clap's error:
/// printed with [`exit_status`], it is one style for every binary.
pub fn parse<P: Parser>(
    args: impl IntoIterator<Item = OsString>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<P, clap::Error> {
    let command = P::command();
    let mut args = args.into_iter();
    let mut argv: Vec<OsString> = vec![args.next().unwrap_or_else(|| command.get_name().into())];
    for arg in command.get_arguments() {
        let (Some(variable), Some(long)) = (arg.get_env(), arg.get_long()) else { continue };
        let value = variable.to_str().and_then(&lookup).filter(|value| !value.is_empty());
        if let Some(value) = value {
            argv.push(format!("--{long}={value}").into());
        }
    }
    argv.extend(args);
    let mut command = command.args_override_self(true).mut_args(variable_in_help);
    let matches = command.try_get_matches_from_mut(argv)?;
    P::from_arg_matches(&matches).map_err(|error| error.format(&mut command))
}

/// `P`'s `--help`, as [`parse`] prints it.
pub fn help<P: CommandFactory>() -> String {
    P::command().mut_args(variable_in_help).render_long_help().to_string()
}

/// A binary's configuration, read from its command line and its
/// environment (through [`parse`]) and then checked as a whole.
pub trait Configuration: Sized {
    /// The binary's name: the program name when no arguments are given.
    const PROGRAM: &'static str;

    /// Reads the configuration from `args` (the program's name first) and
    /// the variables `lookup` finds; a flag wins over its variable.
    fn from_args(
        args: impl IntoIterator<Item = OsString>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, clap::Error>;

    /// Reads the configuration from the process's arguments and environment.
    fn from_process() -> Result<Self, clap::Error> {
        Self::from_args(std::env::args_os(), |name| std::env::var(name).ok())
    }

    /// Reads the configuration from variables looked up through `lookup` (a
    /// test's map), with no arguments.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, clap::Error> {
        Self::from_args([OsString::from(Self::PROGRAM)], lookup)
    }
}

/// A `RUST_LOG` filter, checked (a value parser for both binaries).
pub fn log_filter(text: &str) -> Result<String, crate::InvalidFilter> {
    crate::check_filter(text).map(|()| text.to_owned())
}

/// Refuses the URL given to `flag` for `reason`, showing it without its
/// password (clap's own refusal would print it whole).
pub fn refuse_url<P: CommandFactory>(
    flag: &str,
    url: &str,
    reason: impl std::fmt::Display,
) -> clap::Error {
    let shown = redact_password(url);
    refuse::<P>(format!("invalid value '{shown}' for '{flag}': {reason}"))
}

/// A refusal of `P`'s configuration that clap's parsers could not see (one
/// value against another, or a value that must not be printed), in clap's
/// style.
pub fn refuse<P: CommandFactory>(message: impl std::fmt::Display) -> clap::Error {
    P::command().error(ErrorKind::ValueValidation, message)
}

/// Prints `error` (help and the version to stdout, refusals to stderr) and
/// returns the status to exit with: 0 after `--help` or `--version`, 2 for
/// anything refused.
pub fn exit_status(error: &clap::Error) -> ExitCode {
    let _ = error.print();
    ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2))
}

/// `url` with its password, if any, replaced, so that it can be printed.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "(not a URL)".into() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split_once(':').map_or(credentials, |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{path}")
        }
        _ => url.to_owned(),
    }
}

/// Clap would read the variable itself; [`parse`] has done so already, so
/// the variable is only named in the help, where clap would name it.
fn variable_in_help(arg: Arg) -> Arg {
    let Some(variable) = arg.get_env().map(|name| name.to_string_lossy().into_owned()) else {
        return arg;
    };
    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
    arg.env(None).help(format!("{help} [env: {variable}]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Parser)]
    #[command(name = "demo", version = "1.2.3")]
    struct Demo {
        /// A number.
        #[arg(long, env, default_value_t = 7)]
        demo_count: u32,
        /// A word.
        #[arg(long, env)]
        demo_word: Option<String>,
    }

    fn demo(args: &[&str], vars: &[(&str, &str)]) -> Result<Demo, clap::Error> {
        let args = std::iter::once("demo").chain(args.iter().copied()).map(OsString::from);
        parse(args, |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn variables_flags_and_defaults() {
        let defaults = demo(&[], &[]).unwrap();
        assert_eq!((defaults.demo_count, defaults.demo_word), (7, None));
        let from_env = demo(&[], &[("DEMO_COUNT", "3"), ("DEMO_WORD", "hi")]).unwrap();
        assert_eq!((from_env.demo_count, from_env.demo_word.as_deref()), (3, Some("hi")));
        let flag_wins = demo(&["--demo-count", "9"], &[("DEMO_COUNT", "3")]).unwrap();
        assert_eq!(flag_wins.demo_count, 9);
        let empty_is_unset = demo(&[], &[("DEMO_COUNT", ""), ("DEMO_WORD", "")]).unwrap();
        assert_eq!((empty_is_unset.demo_count, empty_is_unset.demo_word), (7, None));
    }

    #[test]
    fn refusals_name_the_variable_and_exit_2() {
        let error = demo(&[], &[("DEMO_COUNT", "many")]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(error.to_string().contains("DEMO_COUNT"), "{error}");
        let unknown = demo(&["--verbose"], &[]).unwrap_err();
        assert_eq!((unknown.kind(), unknown.exit_code()), (ErrorKind::UnknownArgument, 2));
        let help = demo(&["--help"], &[]).unwrap_err();
        assert_eq!(help.exit_code(), 0);
        assert!(help.to_string().contains("[env: DEMO_COUNT]"), "{help}");
        let version = demo(&["--version"], &[]).unwrap_err();
        assert_eq!(version.to_string().trim(), "demo 1.2.3");
    }

    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(
            redact_password("postgres://chat:s3cret@db:5432/chat?sslmode=require"),
            "postgres://chat:***@db:5432/chat?sslmode=require"
        );
        assert_eq!(redact_password("amqp://rabbit/%2f"), "amqp://rabbit/%2f");
        assert_eq!(redact_password("host=db password=x"), "(not a URL)");
    }
}
