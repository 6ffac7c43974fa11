//! The `chat` binary: `--help`, `--version`, and one clear line for bad
//! configuration or arguments.

use std::process::Command;

#[test]
fn help_lists_every_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_chat")).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for variable in [
        "CHAT_ADDR",
        "DATABASE_URL",
        "RABBITMQ_URL",
        "ALLOWED_ORIGINS",
        "COOKIE_SECURE",
        "LOG_FORMAT",
        "RUST_LOG",
    ] {
        assert!(help.contains(variable), "{variable} missing from --help");
    }
}

#[test]
fn bad_configuration_stops_with_one_line_naming_the_variable() {
    let output =
        Command::new(env!("CARGO_BIN_EXE_chat")).env("COOKIE_SECURE", "perhaps").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("COOKIE_SECURE"), "{stderr}");
}

#[test]
fn version_is_printed_and_unknown_arguments_refused() {
    let chat = || Command::new(env!("CARGO_BIN_EXE_chat"));
    let version = chat().arg("--version").output().unwrap();
    assert!(version.status.success());
    let printed = String::from_utf8(version.stdout).unwrap();
    assert_eq!(printed.trim(), format!("chat {}", env!("CARGO_PKG_VERSION")));
    // Never mistaken for a start: an unknown argument stops with status 2.
    let unknown = chat().arg("--port=9000").output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8(unknown.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--port=9000"), "{stderr}");
}
