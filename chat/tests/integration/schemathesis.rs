//! Property-based API testing: schemathesis generates requests from the
//! project's OpenAPI document and checks that none gets a 5xx and every
//! response matches the document.
//!
//! Runs where `schemathesis` is installed (on PATH, or at `$SCHEMATHESIS`);
//! elsewhere it says so and passes, unless `REQUIRE_SCHEMATHESIS=1` (set by
//! `scripts/test`, which installs it) makes its absence a failure.

use std::path::PathBuf;
use std::process::Command;

use crate::support::TestServer;

fn schemathesis() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SCHEMATHESIS") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("schemathesis")).find(|p| p.is_file())
}

#[tokio::test]
async fn generated_requests_get_no_5xx_and_match_the_document() {
    let Some(schemathesis) = schemathesis() else {
        assert!(
            std::env::var_os("REQUIRE_SCHEMATHESIS").is_none(),
            "schemathesis is required but not installed"
        );
        println!("SKIPPED: schemathesis is not installed");
        return;
    };
    let server = TestServer::start().await;
    let client = server.user("fuzzer").await;
    let cookie = format!("Cookie: session_id={}", client.cookie.clone().unwrap());
    let schema = server.url("/api/v1/openapi.yaml");
    let base = server.url("");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(schemathesis)
            .args(["run", &schema, "--url", &base, "-H", &cookie])
            .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
            // Logging out would end the session the rest of the run uses.
            .args(["--exclude-path", "/api/v1/auth/logout", "--max-examples", "100", "--seed", "1"])
            .env("NO_COLOR", "1")
            // It keeps a cache where it runs: not in the source tree.
            .current_dir(env!("CARGO_TARGET_TMPDIR"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}");
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("generated"), "the run generated test cases:\n{report}");
}

/// `chat/openapi.yaml` is a valid OpenAPI 3.1 document, as
/// `openapi-spec-validator` (at `$OPENAPI_SPEC_VALIDATOR`, installed by
/// `scripts/test`) reads it; skipped elsewhere unless `REQUIRE_OPENAPI_VALIDATOR=1`.
#[test]
fn the_openapi_document_is_valid_openapi_3_1() {
    let Some(validator) = std::env::var_os("OPENAPI_SPEC_VALIDATOR") else {
        assert!(
            std::env::var_os("REQUIRE_OPENAPI_VALIDATOR").is_none(),
            "openapi-spec-validator is required but not installed"
        );
        println!("SKIPPED: openapi-spec-validator is not installed");
        return;
    };
    let document = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    let text = std::fs::read_to_string(document).unwrap();
    assert!(text.starts_with("openapi: 3.1."), "an OpenAPI 3.1 document");
    let output = Command::new(validator).arg(document).output().unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
