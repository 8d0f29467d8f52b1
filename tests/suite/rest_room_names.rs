//! Room names with special characters (`UI_Allow_room_names_with_special_chars`),
//! as Rocket.Chat's `getValidRoomName`: the text asked becomes the display name
//! (`fname`) and the name its transliterated slug, numbered when taken; searches
//! that read display names (`rooms.autocomplete.adminRooms`, `spotlight`) find
//! rooms and discussions by it; `rooms.adminRooms` finds rooms by name or display
//! name, leaving discussions out unless its `types` ask for them.

use serde_json::{json, Value};

use crate::common::*;
use crate::rest_files::set_setting;

fn names(items: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = items
        .as_array()
        .expect("an array")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or_default().to_string(),
                r["fname"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn special_character_names_are_display_names_with_a_slug() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;

    // Off (the default): such a name is refused.
    let (s, b) = srv
        .post("groups.create", &admin, json!({"name": "Ελληνικά-x"}))
        .await;
    assert_error(
        s,
        &b,
        400,
        Some("error-invalid-room-name"),
        "special chars off",
    );

    set_setting(
        &srv,
        &admin,
        "UI_Allow_room_names_with_special_chars",
        json!(true),
    )
    .await;
    let group = srv
        .post_ok("groups.create", &admin, json!({"name": "Ελληνικά-x"}))
        .await;
    assert_eq!(group["group"]["name"], "Ellinika-x", "{group}");
    assert_eq!(group["group"]["fname"], "Ελληνικά-x", "{group}");
    let gid = group["group"]["_id"].as_str().expect("id").to_string();
    // The same slug again: numbered.
    let again = srv
        .post_ok("channels.create", &admin, json!({"name": "Ελληνικά x"}))
        .await;
    assert_eq!(again["channel"]["name"], "Ellinika-x-1", "{again}");
    assert_eq!(again["channel"]["fname"], "Ελληνικά x", "{again}");
    let info = srv.get_ok("groups.info?roomName=Ellinika-x", &admin).await;
    assert_eq!(info["group"]["fname"], "Ελληνικά-x", "{info}");

    // A discussion's name is generated; its display name is what was asked.
    let disc = srv
        .post_ok(
            "rooms.createDiscussion",
            &admin,
            json!({"prid": gid, "t_name": "Ellinika-x-talk"}),
        )
        .await;
    let disc_name = disc["discussion"]["name"]
        .as_str()
        .expect("name")
        .to_string();

    // The admin autocomplete reads display names (the discussion's too).
    let auto = srv
        .get_ok(
            "rooms.autocomplete.adminRooms?selector=%7B%22name%22%3A%22Ellinika-x%22%7D",
            &admin,
        )
        .await;
    // `names` sorts, and the discussion's generated name may sort anywhere.
    let mut expected = vec![
        (disc_name.clone(), "Ellinika-x-talk".to_string()),
        ("Ellinika-x".to_string(), "Ελληνικά-x".to_string()),
        ("Ellinika-x-1".to_string(), "Ελληνικά x".to_string()),
    ];
    expected.sort();
    assert_eq!(names(&auto["items"]), expected, "{auto}");
    // Case folded beyond ASCII.
    let greek = srv
        .get_ok(
            &format!(
                "rooms.autocomplete.adminRooms?selector={}",
                urlencode(r#"{"name":"ΕΛΛΗΝΙΚΆ-X"}"#)
            ),
            &admin,
        )
        .await;
    assert_eq!(
        names(&greek["items"]),
        vec![("Ellinika-x".to_string(), "Ελληνικά-x".to_string())],
        "{greek}"
    );
    // rooms.adminRooms filters names and display names; discussions only when
    // its types ask for them.
    let listed = srv
        .get_ok("rooms.adminRooms?filter=Ellinika-x&types[]=p", &admin)
        .await;
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["rooms"][0]["fname"], "Ελληνικά-x", "{listed}");
    let by_fname = srv
        .get_ok(
            &format!("rooms.adminRooms?filter={}", urlencode("Ελληνικά-x")),
            &admin,
        )
        .await;
    assert_eq!(
        names(&by_fname["rooms"]),
        vec![("Ellinika-x".to_string(), "Ελληνικά-x".to_string())],
        "{by_fname}"
    );
    assert_eq!(by_fname["total"], 1, "{by_fname}");
    let no_discussions = srv
        .get_ok("rooms.adminRooms?filter=Ellinika-x", &admin)
        .await;
    assert_eq!(
        names(&no_discussions["rooms"]),
        vec![
            ("Ellinika-x".to_string(), "Ελληνικά-x".to_string()),
            ("Ellinika-x-1".to_string(), "Ελληνικά x".to_string()),
        ],
        "{no_discussions}"
    );
    let with_discussions = srv
        .get_ok(
            "rooms.adminRooms?filter=Ellinika-x&types[]=c&types[]=p&types[]=discussions",
            &admin,
        )
        .await;
    assert_eq!(
        names(&with_discussions["rooms"]),
        expected,
        "{with_discussions}"
    );
    // Unfiltered, the total counts the rooms kept: the discussion is not among them.
    let all = srv.get_ok("rooms.adminRooms?count=100", &admin).await;
    let all_total = all["total"].as_u64().expect("total");
    assert!(
        all["rooms"]
            .as_array()
            .expect("rooms")
            .iter()
            .all(|r| r["prid"].is_null()),
        "{all}"
    );
    let with = srv
        .get_ok(
            "rooms.adminRooms?count=100&types[]=c&types[]=p&types[]=d&types[]=discussions",
            &admin,
        )
        .await;
    assert_eq!(with["total"].as_u64(), Some(all_total + 1), "{with}");
    // The kinds alone: every discussion, whatever its type, and nothing else.
    let only = srv
        .get_ok("rooms.adminRooms?count=100&types[]=discussions", &admin)
        .await;
    let rooms = only["rooms"].as_array().expect("rooms");
    assert!(
        !rooms.is_empty() && rooms.iter().all(|r| r["prid"].is_string()),
        "{only}"
    );
    assert_eq!(only["total"].as_u64(), Some(rooms.len() as u64), "{only}");
    // A type and a kind: the type's rooms and every discussion (here a group's).
    let channels_and = srv
        .get_ok(
            "rooms.adminRooms?count=100&types[]=c&types[]=discussions",
            &admin,
        )
        .await;
    let listed = channels_and["rooms"].as_array().expect("rooms");
    assert!(
        listed
            .iter()
            .all(|r| r["t"] == "c" || r["prid"].is_string()),
        "{channels_and}"
    );
    assert!(
        listed
            .iter()
            .any(|r| r["prid"].is_string() && r["t"] == "p"),
        "{channels_and}"
    );

    // spotlight finds the channel by its display name.
    let found = srv
        .get_ok(
            &format!("spotlight?query={}", urlencode("#Ελληνικά x")),
            &admin,
        )
        .await;
    assert_eq!(
        names(&found["rooms"]),
        vec![("Ellinika-x-1".to_string(), "Ελληνικά x".to_string())],
        "{found}"
    );

    // A rename takes a display name too.
    let renamed = srv
        .post_ok(
            "groups.rename",
            &admin,
            json!({"roomId": gid, "name": "Ωμέγα"}),
        )
        .await;
    assert_eq!(renamed["group"]["name"], "Omega", "{renamed}");
    assert_eq!(renamed["group"]["fname"], "Ωμέγα", "{renamed}");
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
