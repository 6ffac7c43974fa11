//! `/api/v1/auth/*`.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{PASSWORD, TestServer};

#[tokio::test]
async fn register_returns_the_user_without_secrets() {
    let server = TestServer::start().await;
    let client = server.client();
    let reply = client
        .post(
            "/api/v1/auth/register",
            json!({"username": "ann_1", "password": PASSWORD, "email": "ann@example.com"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["username"], "ann_1");
    assert_eq!(reply.body["email"], "ann@example.com");
    assert!(reply.body["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());
    assert!(reply.body["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(reply.body.as_object().unwrap().len(), 4, "{}", reply.body);
    let stored =
        server.db.query_strings("SELECT password_hash FROM users WHERE username = 'ann_1'").await;
    assert!(stored[0].as_deref().unwrap().starts_with("$argon2id$"));
}

#[tokio::test]
async fn register_refuses_invalid_input() {
    let server = TestServer::start().await;
    let client = server.client();
    let long_password = "x".repeat(129);
    let long_name = "a".repeat(51);
    for body in [
        json!({"username": "an", "password": PASSWORD}),
        json!({"username": long_name, "password": PASSWORD}),
        json!({"username": "ann smith", "password": PASSWORD}),
        json!({"username": "ann", "password": "short"}),
        json!({"username": "ann", "password": long_password}),
        json!({"username": "ann", "password": PASSWORD, "email": "not-an-email"}),
        json!({"username": "ann", "password": PASSWORD, "email": ""}),
        json!({"username": "ann"}),
        json!({"username": 5, "password": PASSWORD}),
    ] {
        let reply = client.post("/api/v1/auth/register", body.clone()).await;
        reply.assert_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    }
    let users =
        server.db.query_strings("SELECT count(*) FROM users WHERE username <> 'StockBot'").await;
    assert_eq!(users, vec![Some("0".to_owned())]);
}

#[tokio::test]
async fn usernames_are_unique_regardless_of_case_and_stockbot_is_reserved() {
    let server = TestServer::start().await;
    let client = server.client();
    client.register("Ann").await;
    for name in ["Ann", "ann", "ANN", "stockbot", "StockBot"] {
        let reply = client
            .post("/api/v1/auth/register", json!({"username": name, "password": PASSWORD}))
            .await;
        reply.assert_error(StatusCode::CONFLICT, "USERNAME_TAKEN");
    }
}

#[tokio::test]
async fn login_sets_the_session_cookie_and_me_answers() {
    let server = TestServer::start().await;
    let mut client = server.client();
    client.register("ann").await;
    let reply = client.login("ANN").await;
    assert_eq!(reply.body["success"], true);
    assert_eq!(reply.body["user"]["username"], "ann");
    let cookie = reply.headers["set-cookie"].to_str().unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "COOKIE_SECURE=false: {cookie}");
    let token = client.cookie.clone().unwrap();
    assert_eq!(token.len(), 43, "256 random bits, base64url");
    let stored = server.db.query_strings("SELECT encode(token_hash, 'hex') FROM sessions").await;
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].as_deref().unwrap().contains(&token), "only a hash is stored");

    let me = client.get("/api/v1/auth/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["username"], "ann");
}

#[tokio::test]
async fn the_cookie_is_secure_by_default() {
    let server = TestServer::start_with_env(&[("COOKIE_SECURE", "true")]).await;
    let client = server.client();
    client.register("ann").await;
    let reply =
        client.post("/api/v1/auth/login", json!({"username": "ann", "password": PASSWORD})).await;
    assert!(reply.headers["set-cookie"].to_str().unwrap().contains("; Secure"));
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_are_refused_alike() {
    let server = TestServer::start().await;
    let client = server.client();
    client.register("ann").await;
    for (name, password) in
        [("ann", "wrong password"), ("nobody", PASSWORD), ("StockBot", "anything at all"), ("", "")]
    {
        let reply = client
            .post("/api/v1/auth/login", json!({"username": name, "password": password}))
            .await;
        reply.assert_error(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS");
        assert!(reply.headers.get("set-cookie").is_none());
    }
}

#[tokio::test]
async fn requests_without_a_valid_session_are_unauthorized() {
    let server = TestServer::start().await;
    let mut client = server.client();
    client.get("/api/v1/auth/me").await.assert_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    for forged in ["", "garbage", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "a;b=c"] {
        client.cookie = Some(forged.to_owned());
        client.get("/api/v1/auth/me").await.assert_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
        client
            .get("/api/v1/chatrooms")
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    }
}

#[tokio::test]
async fn logout_ends_the_session() {
    let server = TestServer::start().await;
    let client = server.user("ann").await;
    let reply = client.post("/api/v1/auth/logout", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!({"success": true}));
    assert!(reply.headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    client.get("/api/v1/auth/me").await.assert_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    client
        .post("/api/v1/auth/logout", json!({}))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    assert_eq!(
        server.db.query_strings("SELECT count(*) FROM sessions").await,
        vec![Some("0".into())]
    );
}
