//! axe-core on each view of the page: signing in, a room with messages,
//! reactions and an image, the reaction picker open, an image full size, and
//! a phone's screen with the rooms drawer open. No serious or critical
//! violation in any of them.
//!
//! axe-core comes from npm (`scripts/test` installs it in `target/axe`, or
//! `AXE_CORE` names `axe.min.js`); without it the test says so and passes,
//! unless `REQUIRE_AXE=1` (set by `scripts/test`) makes that a failure.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::chrome::Chromedriver;
use super::page::Page;
use crate::support::TestServer;

/// The serious and critical violations axe finds in the page as it is.
const RUN_AXE: &str = r#"
    const done = arguments[arguments.length - 1];
    axe.run(document, { resultTypes: ['violations'] }).then((result) => done(result.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => ({ id: v.id, nodes: v.nodes.slice(0, 4).map((n) => n.target.join(' ')) }))),
        (error) => done([{ id: 'axe failed', nodes: [String(error)] }]));
"#;

/// axe-core's source, or `None` (after saying so) where it is not installed.
fn axe_source() -> Option<String> {
    let path = std::env::var_os("AXE_CORE").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/axe/node_modules/axe-core/axe.min.js")
    });
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(_) if std::env::var("REQUIRE_AXE").as_deref() == Ok("1") => {
            panic!("axe-core is not at {} (scripts/test installs it)", path.display())
        }
        Err(_) => {
            println!(
                "SKIPPED: axe-core is not installed (npm install --prefix target/axe axe-core)"
            );
            None
        }
    }
}

/// Asserts that axe finds nothing serious in `page` now; `view` names it.
async fn assert_accessible(page: &Page, axe: &str, view: &str) {
    page.js(&format!("{axe}\nreturn true;"), vec![]).await;
    let found: Value = page.js_async(RUN_AXE, vec![]).await;
    assert_eq!(found, json!([]), "{view}: serious or critical violations");
}

#[tokio::test]
async fn axe_finds_nothing_serious_in_any_view() {
    let Some(axe) = axe_source() else { return };
    let driver = chromedriver_or_skip!("axe_finds_nothing_serious_in_any_view");
    let server = TestServer::start().await;
    let alice = Page::open(&driver, "alice", &server.url("/")).await;
    let bob = Page::open(&driver, "bob", &server.url("/")).await;
    assert_accessible(&alice, &axe, "signing in").await;
    alice.register().await;
    alice.create_room("Checked").await;
    bob.register().await;
    bob.join_room("Checked").await;

    // A room with messages, a mention, a reaction and an image.
    bob.say("hello @alice").await;
    alice.wait_message("hello @alice").await;
    alice
        .js("document.querySelector('[data-testid=\"add-reaction\"]').click(); return 1;", vec![])
        .await;
    alice.js("document.querySelector('[data-testid=\"reaction-picker\"] [data-emoji=\"👍\"]').click(); return 1;", vec![]).await;
    let path = std::env::temp_dir().join(format!("axe-{}.png", uuid::Uuid::new_v4()));
    std::fs::write(&path, super::PNG).unwrap();
    alice.testid("file-input").await.send_keys(path.to_str().unwrap()).await.unwrap();
    let loaded = "const img = document.querySelector('[data-testid=\"attachment-image\"]');
                  return !!img && img.complete && img.naturalWidth > 0
                      && !!document.querySelector('[data-testid=\"reaction\"]');";
    alice.wait_for("the image and the reaction", loaded, vec![]).await;
    let _ = std::fs::remove_file(&path);
    assert_accessible(&alice, &axe, "a room").await;

    alice
        .js("document.querySelector('[data-testid=\"add-reaction\"]').click(); return 1;", vec![])
        .await;
    assert_accessible(&alice, &axe, "the reaction picker open").await;
    alice
        .js(
            "document.querySelector('[data-testid=\"reaction-search\"]').dispatchEvent(
                  new KeyboardEvent('keydown', { key: 'Escape', bubbles: true })); return 1;",
            vec![],
        )
        .await;

    alice
        .js(
            "document.querySelector('[data-testid=\"attachment-image\"]').click(); return 1;",
            vec![],
        )
        .await;
    assert_accessible(&alice, &axe, "an image full size").await;
    alice
        .js("document.querySelector('[data-testid=\"lightbox-close\"]').click(); return 1;", vec![])
        .await;

    let metrics = json!({"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true});
    alice.cdp("Emulation.setDeviceMetricsOverride", metrics).await;
    alice.click("rooms-toggle").await;
    let open = "const d = document.getElementById('rooms-drawer');
                return d.dataset.open === 'true' && d.getBoundingClientRect().left >= 0;";
    alice.wait_for("the drawer open", open, vec![]).await;
    assert_accessible(&alice, &axe, "a phone, rooms open").await;
    alice.close().await;
    bob.close().await;
}
