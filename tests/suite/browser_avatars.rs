//! Avatars in the web client: people's pictures beside their messages, in the
//! sidebar and the member list, and the profile dialog where one uploads a picture
//! (seen at once everywhere on the page) or goes back to the initials.
//! Screenshots go to `target/screenshots/`.

use palaver_tests::browser::Browser;
use palaver_tests::images;
use palaver_tests::server::{password_for, Palaver};
use serde_json::json;

use crate::apps_support::channel;
use crate::browser_chat::{log_in, open_channel, send, tid};

/// JavaScript: the colour at the middle of every loaded avatar image of `user`
/// inside `scope` (a CSS selector), as `[r, g, b]` lists.
fn pixels_js(scope: &str, user: &str) -> String {
    format!(
        r#"const imgs = [...document.querySelectorAll('{scope} img[data-avatar-user="{user}"]')];
        if (!imgs.length || imgs.some(i => !i.complete || !i.naturalWidth)) return null;
        return imgs.map(i => {{
          const c = document.createElement('canvas'); c.width = 8; c.height = 8;
          const g = c.getContext('2d'); g.drawImage(i, 0, 0, 8, 8);
          return [...g.getImageData(4, 4, 1, 1).data].slice(0, 3);
        }});"#
    )
}

fn is_red(px: &serde_json::Value) -> bool {
    px.as_array().is_some_and(|all| {
        !all.is_empty()
            && all.iter().all(|p| {
                let c: Vec<i64> = p
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_i64().unwrap())
                    .collect();
                c[0] > 170 && c[1] < 80 && c[2] < 80
            })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avatars_shown_and_changed_from_the_profile_dialog() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let rid = channel(&srv, &admin, "gallery", &["alice", "bob"]).await;
    srv.post_ok(
        "chat.postMessage",
        &bob,
        json!({"roomId": rid, "text": "hello from bob"}),
    )
    .await;
    srv.post_ok("im.create", &alice, json!({"username": "bob"}))
        .await;

    let b = Browser::start().await;
    log_in(&b, &srv, "alice", &password_for("alice")).await;
    open_channel(&b, "gallery").await;
    // Bob's initials beside his message and in the DM list, loaded from /avatar.
    b.wait_js(
        "bob's avatar in the message list",
        &format!(
            "return {}",
            wrap(&pixels_js("[data-testid=\"message-list\"]", "bob"))
        ),
    )
    .await;
    b.wait_js(
        "bob's avatar among the DMs",
        &format!(
            "return {}",
            wrap(&pixels_js("[data-testid=\"sidebar-section-d\"]", "bob"))
        ),
    )
    .await;
    send(&b, "my first message").await;

    // Upload a red picture from the profile dialog.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("red.png");
    let red = image_file(200, 160);
    std::fs::write(&file, red).unwrap();
    b.click(&tid("open-profile")).await;
    b.wait_for(&tid("profile-dialog")).await;
    b.wait_for(&tid("avatar-file"))
        .await
        .send_keys(file.to_str().unwrap())
        .await
        .expect("choose the file");
    b.click(&tid("avatar-upload")).await;
    b.wait_text(&tid("profile-status"), "done").await;
    // Seen at once: in the dialog, the sidebar head, beside her message.
    for scope in [
        "[data-testid=\"profile-avatar\"]",
        "[data-testid=\"open-profile\"]",
        "[data-testid=\"message-list\"]",
    ] {
        let px = b
            .wait_js(&format!("alice's red avatar in {scope}"), &format!("const px = (() => {{ {} }})(); return px && px.every(p => p[0] > 170 && p[1] < 80 && p[2] < 80) ? px : null", pixels_js(scope, "alice")))
            .await;
        assert!(is_red(&px), "{scope}: {px}");
    }
    b.screenshot("avatars-profile-uploaded").await;
    let me = srv.get_ok("me", &alice).await;
    assert!(me["avatarETag"].is_string(), "{me}");

    // Bob's page shows it in the member list.
    let bb = Browser::start().await;
    log_in(&bb, &srv, "bob", &password_for("bob")).await;
    open_channel(&bb, "gallery").await;
    bb.click(&tid("room-members")).await;
    bb.wait_for(&tid("member-alice")).await;
    bb.wait_js("alice's red avatar among the members", &format!("const px = (() => {{ {} }})(); return px && px.every(p => p[0] > 170 && p[2] < 80) ? px : null", pixels_js("[data-testid=\"members-list\"]", "alice"))).await;
    bb.screenshot("avatars-members").await;

    // Back to the initials.
    b.click(&tid("avatar-reset")).await;
    b.wait_text(&tid("profile-status"), "Resetting: done").await;
    b.wait_js("alice's initials again", &format!("const px = (() => {{ {} }})(); return px && px.every(p => !(p[0] > 170 && p[1] < 80)) ? px : null", pixels_js("[data-testid=\"open-profile\"]", "alice"))).await;
    let me = srv.get_ok("me", &alice).await;
    assert!(me.get("avatarETag").is_none(), "{me}");
    b.screenshot("avatars-profile-reset").await;
    let _ = bob;
}

/// Wraps a function body returning null until ready into an expression.
fn wrap(body: &str) -> String {
    format!("(() => {{ {body} }})()")
}

/// A plain red PNG.
fn image_file(width: u32, height: u32) -> Vec<u8> {
    let _ = images::png; // the shared helpers make patterned pictures; this one is flat red
    let img = image::RgbImage::from_pixel(width, height, image::Rgb([230, 20, 20]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}
