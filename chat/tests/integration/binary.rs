//! The `chat` binary: `--help`, `--version`, and clap's refusal (status 2)
//! for bad configuration or arguments.

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
fn bad_configuration_stops_naming_the_variable() {
    let output =
        Command::new(env!("CARGO_BIN_EXE_chat")).env("COOKIE_SECURE", "perhaps").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: ") && first.contains("COOKIE_SECURE"), "{stderr}");
}

#[test]
fn a_flag_configures_like_its_variable_and_an_empty_variable_is_unset() {
    let chat = || Command::new(env!("CARGO_BIN_EXE_chat"));
    let flag = chat().args(["--cookie-secure", "perhaps"]).output().unwrap();
    assert_eq!(flag.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&flag.stderr).contains("COOKIE_SECURE"));
    // Empty here means unset, so the (bad) address is the only complaint.
    let empty = chat().env("COOKIE_SECURE", "").env("CHAT_ADDR", "nowhere").output().unwrap();
    let stderr = String::from_utf8_lossy(&empty.stderr);
    assert!(stderr.contains("CHAT_ADDR") && !stderr.contains("COOKIE_SECURE"), "{stderr}");
}

#[test]
fn a_refused_database_url_does_not_print_its_password() {
    let output = Command::new(env!("CARGO_BIN_EXE_chat"))
        .env("DATABASE_URL", "postgres://chat:hunter2@db:5432/chat?sslmode=often")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("DATABASE_URL") && !stderr.contains("hunter2"), "{stderr}");
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
    assert!(stderr.starts_with("error: ") && stderr.contains("--port"), "{stderr}");
}
