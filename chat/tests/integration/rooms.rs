//! `/api/v1/chatrooms`.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::TestServer;

#[tokio::test]
async fn create_list_and_join_rooms() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let bob = server.user("bob").await;
    let reply = ann.post("/api/v1/chatrooms", json!({"name": "  General  "})).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["name"], "General");
    let me = ann.get("/api/v1/auth/me").await;
    assert_eq!(reply.body["created_by"], me.body["id"]);
    let room = reply.body["id"].as_str().unwrap().to_owned();

    let list = bob.get("/api/v1/chatrooms").await;
    assert_eq!(list.status, StatusCode::OK);
    let mut listed = reply.body.clone();
    listed["is_member"] = json!(false);
    assert_eq!(list.body["chatrooms"], json!([listed]), "no unread figures for a non-member");

    // The creator is a member; bob is not until he joins, and joining twice is fine.
    assert_eq!(ann.history(&room, "").await.len(), 0);
    let outsider = bob.get(&format!("/api/v1/chatrooms/{room}/messages")).await;
    outsider.assert_error(StatusCode::FORBIDDEN, "NOT_A_MEMBER");
    bob.join(&room).await;
    bob.join(&room).await;
    assert_eq!(bob.history(&room, "").await.len(), 0);
    let joined = &bob.get("/api/v1/chatrooms").await.body["chatrooms"][0];
    assert_eq!((joined["is_member"].clone(), joined["unread"].clone()), (json!(true), json!(0)));
}

#[tokio::test]
async fn room_names_are_validated_and_unique() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    ann.create_room("General").await;
    for name in ["general", " GENERAL "] {
        ann.post("/api/v1/chatrooms", json!({"name": name}))
            .await
            .assert_error(StatusCode::CONFLICT, "CHATROOM_EXISTS");
    }
    for body in
        [json!({"name": "   "}), json!({"name": "x".repeat(101)}), json!({}), json!({"name": 3})]
    {
        ann.post("/api/v1/chatrooms", body)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    }
    assert_eq!(ann.create_room(&"é".repeat(100)).await.len(), 36);
}

#[tokio::test]
async fn unknown_rooms_are_not_found_and_malformed_ids_are_bad_requests() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let missing = uuid::Uuid::now_v7();
    for (id, status, code) in [
        (missing.to_string(), StatusCode::NOT_FOUND, "NOT_FOUND"),
        ("not-a-uuid".to_owned(), StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
    ] {
        let base = format!("/api/v1/chatrooms/{id}");
        ann.post(&format!("{base}/join"), json!({})).await.assert_error(status, code);
        ann.get(&format!("{base}/messages")).await.assert_error(status, code);
        let read = json!({"message_id": uuid::Uuid::now_v7()});
        ann.post(&format!("{base}/read"), read).await.assert_error(status, code);
        let upload = ann.post(&format!("{base}/attachments?filename=a.txt"), json!("hi")).await;
        upload.assert_error(status, code);
    }
    let stranger = server.client();
    let bad = stranger.get("/api/v1/chatrooms/not-a-uuid/messages").await;
    bad.assert_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
}

#[tokio::test]
async fn room_endpoints_need_a_session() {
    let server = TestServer::start().await;
    let ann = server.user("ann").await;
    let room = ann.create_room("General").await;
    let anonymous = server.client();
    anonymous.get("/api/v1/chatrooms").await.assert_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    anonymous
        .post("/api/v1/chatrooms", json!({"name": "x"}))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    anonymous
        .post(&format!("/api/v1/chatrooms/{room}/join"), json!({}))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    anonymous
        .get(&format!("/api/v1/chatrooms/{room}/messages"))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
}
