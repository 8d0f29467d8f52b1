//! Files in the web client (headless Chromium): a file attached with the button and a
//! description, a screenshot pasted into the composer, two files dropped onto the room
//! at once, upload progress and cancelling an upload, the inline image preview and
//! the full-size viewer, a non-image as a card whose link downloads it, and the room's
//! files list. Screenshots go to `target/screenshots/files-*.png`.

use std::time::{Duration, Instant};

use palaver_tests::browser::Browser;
use palaver_tests::server::{password_for, Palaver};
use serde_json::{json, Value};

use crate::apps_support::channel;
use crate::browser_chat::{browser_session, log_in, open_channel, tid};
use crate::rest_files::count_files;

/// Files in the room's timeline, by name, as cards or images.
async fn file_names(b: &Browser) -> Value {
    b.exec(
        "const l = document.querySelector('[data-testid=\"message-list\"]');
         return {
           cards: [...l.querySelectorAll('[data-testid=\"file-name\"]')].map(e => e.textContent),
           images: [...l.querySelectorAll('[data-testid=\"file-image\"]')].map(e => e.alt),
           descriptions: [...l.querySelectorAll('[data-testid=\"file-description\"]')].map(e => e.textContent),
         }",
        vec![],
    )
    .await
}

/// Stages files built in the page by dropping them onto the room (`files`:
/// `[name, type, size]`, filled with a byte pattern).
const DROP: &str = "
  const [files] = arguments;
  const dt = new DataTransfer();
  for (const [name, type, size] of files) {
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31) & 255;
    dt.items.add(new File([bytes], name, { type }));
  }
  const target = document.querySelector('.room-body');
  target.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
  const active = target.classList.contains('drop-active');
  target.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
  target.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  return { active, after: target.classList.contains('drop-active') };
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_paste_drop_progress_cancel_preview_download_and_list() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let rid = channel(&srv, &admin, "files", &["alice", "bob"]).await;

    let b = Browser::start().await;
    log_in(&b, &srv, "alice", &password_for("alice")).await;
    let alice = browser_session(&b, "alice").await;
    open_channel(&b, "files").await;

    // 1. The attach button's file input, with a description.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("notes.csv");
    std::fs::write(&csv, "a,b\n1,2\n").unwrap();
    b.exec(
        "document.querySelector('[data-testid=\"attach-input\"]').hidden = false",
        vec![],
    )
    .await;
    let input = b.wait_for(&tid("attach-input")).await;
    input.send_keys(csv.to_str().unwrap()).await.unwrap();
    b.wait_text(&tid("upload-name"), "notes.csv").await;
    b.fill(&tid("upload-description"), "the quarterly numbers")
        .await;
    b.screenshot("files-tray").await;
    b.click(&tid("upload-send")).await;
    b.wait_text(&tid("file-name"), "notes.csv").await;
    b.wait_text(&tid("file-description"), "the quarterly numbers")
        .await;
    b.wait_gone(&tid("upload-tray")).await;

    // A non-image is a card whose link downloads it (as an attachment).
    let href = b
        .exec(
            "const a = document.querySelector('[data-testid=\"file-download\"]');
             return [a.href, a.hasAttribute('download'), document.querySelector('[data-testid=\"file-size\"]').textContent]",
            vec![],
        )
        .await;
    assert_eq!(href[1], json!(true), "{href}");
    assert_eq!(href[2], json!("CSV · 8 B"), "{href}");
    let resp = reqwest::Client::new()
        .get(href[0].as_str().unwrap())
        .header(
            "Cookie",
            format!("rc_uid={}; rc_token={}", alice.user_id, alice.token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"a,b\n1,2\n");

    // 2. A screenshot pasted into the composer: an inline preview that renders.
    let pasted = b
        .exec(
            "const c = document.createElement('canvas');
             c.width = 64; c.height = 48;
             const g = c.getContext('2d');
             g.fillStyle = '#d33'; g.fillRect(0, 0, 64, 48);
             g.fillStyle = '#33d'; g.fillRect(16, 12, 32, 24);
             const bin = atob(c.toDataURL('image/png').split(',')[1]);
             const bytes = Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
             const dt = new DataTransfer();
             dt.items.add(new File([bytes], 'image.png', { type: 'image/png' }));
             const input = document.querySelector('[data-testid=\"composer-input\"]');
             const ev = new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true });
             input.dispatchEvent(ev);
             return ev.defaultPrevented",
            vec![],
        )
        .await;
    assert_eq!(pasted, json!(true), "the paste was taken as a file");
    b.wait_text(&tid("upload-name"), "screenshot-").await;
    b.click(&tid("upload-send")).await;
    b.wait_js(
        "the pasted image's preview to render",
        "const img = document.querySelector('[data-testid=\"message-list\"] [data-testid=\"file-image\"]');
         return img && img.complete && img.naturalWidth === 64 && img.naturalHeight === 48",
    )
    .await;
    b.screenshot("files-image-preview").await;
    // Click: the full-size picture in the viewer.
    b.click(&tid("file-image-open")).await;
    b.wait_js(
        "the viewer's image",
        "const img = document.querySelector('[data-testid=\"viewer-image\"]');
         return img && img.complete && img.naturalWidth === 64",
    )
    .await;
    b.screenshot("files-viewer").await;
    b.click(&tid("viewer-close")).await;
    b.wait_gone(&tid("image-viewer")).await;

    // 3. Two files dropped onto the room at once; progress is reported.
    b.exec(
        "window.__progress = [];
         document.addEventListener('upload-progress', (ev) => window.__progress.push([ev.detail.name, ev.detail.fraction]));",
        vec![],
    )
    .await;
    let dropped = b
        .exec(
            DROP,
            vec![json!([
                ["dragged.txt", "text/plain", 5],
                ["big.bin", "application/octet-stream", 24 * 1024 * 1024]
            ])],
        )
        .await;
    assert_eq!(
        dropped,
        json!({"active": true, "after": false}),
        "the drop zone shows while dragging"
    );
    b.wait_count(&tid("upload-item"), 2).await;
    b.click(&tid("upload-send")).await;
    b.wait_text(&tid("message-list"), "big.bin").await;
    b.wait_text(&tid("message-list"), "dragged.txt").await;
    let progress = b
        .exec(
            "return window.__progress.filter(p => p[0] === 'big.bin').map(p => p[1])",
            vec![],
        )
        .await;
    let fractions: Vec<f64> = progress
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    // Loopback is too fast for intermediate events to be certain: the bar is fed and
    // ends full.
    assert_eq!(
        fractions.last(),
        Some(&1.0),
        "progress of a 24 MiB upload: {fractions:?}"
    );

    // 4. Cancelled while in flight (the cancel button right after sending): nothing
    // posted, nothing left stored.
    b.exec(
        DROP,
        vec![json!([[
            "cancel-me.bin",
            "application/octet-stream",
            64 * 1024 * 1024
        ]])],
    )
    .await;
    b.wait_count(&tid("upload-item"), 1).await;
    let cancelled = b
        .exec(
            "document.querySelector('[data-testid=\"upload-send\"]').click();
             const bar = document.querySelector('[data-testid=\"upload-progress\"]');
             const shown = !bar.hidden;
             document.querySelector('[data-testid=\"upload-item\"][data-name=\"cancel-me.bin\"] [data-testid=\"upload-cancel\"]').click();
             return shown",
            vec![],
        )
        .await;
    assert_eq!(
        cancelled,
        json!(true),
        "the progress bar shows while uploading"
    );
    b.wait_gone(&tid("upload-tray")).await;
    // The server drops the cut-off upload: only the four posted files stay stored.
    let uploads = srv.data_dir().join("uploads");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let partial = std::fs::read_dir(uploads.join(".partial"))
            .map(|d| d.count())
            .unwrap_or(0);
        if count_files(&uploads) == 4 && partial == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cancelled upload left {} objects, {partial} partial",
            count_files(&uploads)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let names = file_names(&b).await;
    let mut cards: Vec<String> = names["cards"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    cards.sort();
    assert_eq!(cards, ["big.bin", "dragged.txt", "notes.csv"], "{names}");
    assert!(!names.to_string().contains("cancel-me"), "{names}");

    // Bob sees the same files over REST.
    let listed = srv
        .get_ok(&format!("channels.files?roomId={rid}"), &bob)
        .await;
    assert_eq!(listed["total"], json!(4), "{listed}");

    // 5. The room's files list.
    b.click(&tid("room-files")).await;
    let items = b.wait_count(&tid("files-item"), 4).await;
    assert_eq!(items.len(), 4);
    b.wait_text(&tid("files-list"), "notes.csv").await;
    b.wait_text(&tid("files-list"), "the quarterly numbers")
        .await;
    b.screenshot("files-list").await;
}
