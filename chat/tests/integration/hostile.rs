//! Hostile and malformed input: every refusal is the documented one, never a 500.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::TestServer;

#[tokio::test]
async fn malformed_and_oversized_bodies_are_refused() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let raw = |body: Vec<u8>| {
        let ann = ann.clone();
        async move {
            let response = ann
                .http
                .post(format!("{}/api/v1/chatrooms", ann.base))
                .header("cookie", format!("session_id={}", ann.cookie.clone().unwrap()))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    for body in [&b"{"[..], b"", b"null", b"[]", b"\"name\"", b"{\"name\": [1]}", b"\xff\xfe"] {
        let (status, reply) = raw(body.to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
        assert_eq!(reply["code"], "VALIDATION_ERROR");
    }
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(20 * 1024));
    let (status, reply) = raw(huge.into_bytes()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply["code"], "PAYLOAD_TOO_LARGE");
    assert!(ann.get("/api/v1/chatrooms").await.body["chatrooms"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn unknown_paths_and_methods_are_answered_in_json() {
    let server = TestServer::start().await;
    let client = server.client();
    client.get("/api/v1/nothing").await.assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    client.get("/../../etc/passwd").await.assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    client.get("/assets/../Cargo.toml").await.assert_error(StatusCode::NOT_FOUND, "NOT_FOUND");
    let wrong = client.send(Method::DELETE, "/api/v1/chatrooms", None).await;
    wrong.assert_error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
    assert_eq!(wrong.headers["allow"], "GET, POST");
    let wrong = client.get("/api/v1/auth/login").await;
    assert_eq!(wrong.headers["allow"], "POST");
}

#[tokio::test]
async fn cross_site_writes_are_refused() {
    let server = TestServer::start().await;
    let mut ann = server.user("ann").await;
    ann.origin = Some("https://evil.example".into());
    ann.post("/api/v1/chatrooms", json!({"name": "x"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "CSRF_REJECTED");
    ann.post("/api/v1/auth/logout", json!({}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "CSRF_REJECTED");
    // Reads are not writes.
    assert_eq!(ann.get("/api/v1/chatrooms").await.status, StatusCode::OK);

    ann.origin = None;
    let response = ann
        .http
        .post(format!("{}/api/v1/chatrooms", ann.base))
        .header("cookie", format!("session_id={}", ann.cookie.clone().unwrap()))
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    ann.origin = Some(format!("http://{}", server.addr));
    assert_eq!(
        ann.post("/api/v1/chatrooms", json!({"name": "mine"})).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn pages_health_and_headers() {
    let server = TestServer::start().await;
    let client = server.client();
    let page = client.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.body.as_str().unwrap().contains("data-testid=\"messages\""));
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert!(page.headers.contains_key("x-request-id"));
    for asset in [
        "/assets/app.js",
        "/assets/style.css",
        "/assets/favicon.svg",
        "/assets/api-docs.js",
        "/assets/swagger-ui-bundle.js",
        "/assets/swagger-ui.css",
        "/api/docs",
        "/api/v1/openapi.yaml",
        "/api/v1/asyncapi.yaml",
    ] {
        assert_eq!(client.get(asset).await.status, StatusCode::OK, "{asset}");
    }

    assert_eq!(client.get("/health").await.body, json!({"status": "ok"}));
    let ready = client.get("/health/ready").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(
        ready.body,
        json!({"status": "ready", "database": "connected", "rabbitmq": "connected"})
    );
}

#[tokio::test]
async fn a_supplied_request_id_is_echoed_and_a_bad_one_replaced() {
    let server = TestServer::start().await;
    let client = server.client();
    let get =
        |id: &'static str| client.http.get(server.url("/health")).header("x-request-id", id).send();
    assert_eq!(get("abc-123").await.unwrap().headers()["x-request-id"], "abc-123");
    let replaced = get("bad id with spaces").await.unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "bad id with spaces");
}
