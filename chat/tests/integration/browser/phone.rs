//! The page on phones: a one-line header, the rooms in a drawer behind the
//! Rooms button, the message log taking most of the height, the composer
//! above the on-screen keyboard, and touch targets of 44 px.

use serde_json::{Value, json};

use super::chrome::Chromedriver;
use super::page::Page;
use crate::support::TestServer;

/// Makes the page a phone's screen of `width`×`height` CSS pixels.
async fn phone(page: &Page, width: u32, height: u32) {
    let metrics = json!({"width": width, "height": height, "deviceScaleFactor": 2, "mobile": true});
    page.cdp("Emulation.setDeviceMetricsOverride", metrics).await;
}

/// The share of the window's height the message log gets, the composer's
/// bottom edge and the window's height, and the visible buttons under 44 px;
/// `null` until the page has followed the window's new size.
const LAYOUT: &str = "
    const app = document.getElementById('app-view').getBoundingClientRect();
    if (Math.abs(app.height - innerHeight) > 1) return null;
    const log = document.querySelector('[data-testid=\"messages\"]').getBoundingClientRect();
    const send = document.querySelector('[data-testid=\"send\"]').getBoundingClientRect();
    const small = Array.from(document.querySelectorAll('.topbar button, .composer button, .chat-head button'))
        .filter((b) => b.getClientRects().length > 0 && getComputedStyle(b).visibility !== 'hidden')
        .filter((b) => b.getBoundingClientRect().height < 44)
        .map((b) => b.dataset.testid || b.id || b.textContent);
    return { share: log.height / innerHeight, send_bottom: send.bottom, height: innerHeight, small };
";

#[tokio::test]
async fn on_a_phone_the_log_takes_the_screen_and_the_rooms_a_drawer() {
    let driver =
        chromedriver_or_skip!("on_a_phone_the_log_takes_the_screen_and_the_rooms_a_drawer");
    let server = TestServer::start().await;
    let alice = Page::open(&driver, "alice", &server.url("/")).await;
    phone(&alice, 390, 844).await;
    alice.register().await;

    // The room list is behind the Rooms button; picking a room closes it.
    let drawer = "return document.getElementById('rooms-drawer').dataset.open === arguments[0];";
    let slid_in = "const d = document.getElementById('rooms-drawer');
                   return d.dataset.open === 'true' && d.getBoundingClientRect().left >= 0;";
    alice.click("rooms-toggle").await;
    alice.wait_for("the drawer open", slid_in, vec![]).await;
    alice.create_room("Pocket").await;
    alice.wait_for("the drawer closed", drawer, vec![json!("false")]).await;
    alice.say("Hello from a phone").await;
    alice.wait_message("Hello from a phone").await;

    for (width, height, least) in [(390, 844, 0.60), (360, 640, 0.45)] {
        phone(&alice, width, height).await;
        let layout: Value = alice.wait_for("the layout", LAYOUT, vec![]).await;
        let share = layout["share"].as_f64().unwrap();
        assert!(
            share >= least,
            "{width}x{height}: the log gets {share:.2} of the height: {layout}"
        );
        assert_eq!(layout["small"], json!([]), "{width}x{height}: touch targets under 44 px");
    }
    // The README's picture of a phone is replaced only when asked: UPDATE_SCREENSHOT=1.
    phone(&alice, 390, 844).await;
    alice.wait_for("the layout", LAYOUT, vec![]).await;
    if std::env::var_os("UPDATE_SCREENSHOT").is_some() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshot-phone.png");
        std::fs::write(path, alice.screenshot().await).unwrap();
    }
    // The on-screen keyboard takes 300 px: the composer stays above it.
    phone(&alice, 390, 544).await;
    let layout: Value = alice.wait_for("the layout", LAYOUT, vec![]).await;
    let (bottom, height) =
        (layout["send_bottom"].as_f64().unwrap(), layout["height"].as_f64().unwrap());
    assert!(bottom <= height, "Send at {bottom} of {height}: under the keyboard");
    alice.close().await;
}
