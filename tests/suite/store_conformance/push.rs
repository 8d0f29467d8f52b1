//! Push devices: save (insert, replace by id, a token moving to another id or
//! user), list per user in registration order, delete by id, token (of one user
//! or anyone's), login token and user; the server's push keys are kept once.

use palaver_server::store::push::{PushDevice, PushDeviceFilter, PushTarget, WebSubscription};
use palaver_server::store::{DynStore, Ts};

fn device(id: &str, user: &str, token: PushTarget, auth: &str, at: i64) -> PushDevice {
    PushDevice {
        id: id.into(),
        token,
        app_name: "chat.rocket.reactnative".into(),
        user_id: user.into(),
        auth_token: auth.into(),
        enabled: true,
        created_at: Ts(at),
        updated_at: Ts(at),
    }
}

fn ids(devices: &[PushDevice]) -> Vec<&str> {
    devices.iter().map(|d| d.id.as_str()).collect()
}

pub async fn push_devices(store: DynStore) {
    assert!(store.push_devices_of_user("u1").await.unwrap().is_empty());
    assert_eq!(store.push_device("d1").await.unwrap(), None);

    let web = PushTarget::Web(WebSubscription {
        endpoint: "https://push.example.com/sub/1".into(),
        p256dh: "BPub".into(),
        auth: "secret".into(),
    });
    let d1 = device("d1", "u1", PushTarget::Apn("apn-1".into()), "h1", 10);
    let d2 = device("d2", "u1", PushTarget::Gcm("gcm-1".into()), "h2", 20);
    let d3 = device("d3", "u1", web.clone(), "h1", 30);
    let d4 = device("d4", "u2", PushTarget::Gcm("gcm-2".into()), "h4", 5);
    for d in [&d3, &d1, &d2, &d4] {
        store.save_push_device(d).await.unwrap();
    }
    assert_eq!(store.push_device("d3").await.unwrap().as_ref(), Some(&d3));
    let mine = store.push_devices_of_user("u1").await.unwrap();
    assert_eq!(ids(&mine), ["d1", "d2", "d3"]);
    assert_eq!(mine[0], d1);

    // Same id again: replaced in place (new token, same registration time).
    let mut d1b = d1.clone();
    d1b.token = PushTarget::Apn("apn-1b".into());
    d1b.updated_at = Ts(40);
    store.save_push_device(&d1b).await.unwrap();
    assert_eq!(store.push_device("d1").await.unwrap().as_ref(), Some(&d1b));
    assert_eq!(store.push_devices_of_user("u1").await.unwrap().len(), 3);

    // The same token under another id (and user): the old entry goes.
    let moved = device("d5", "u2", PushTarget::Gcm("gcm-1".into()), "h5", 50);
    store.save_push_device(&moved).await.unwrap();
    assert_eq!(store.push_device("d2").await.unwrap(), None);
    assert_eq!(
        ids(&store.push_devices_of_user("u2").await.unwrap()),
        ["d4", "d5"]
    );

    // By token, of another user: nothing; of the owner: removed.
    let of_u1 = |v: &str| PushDeviceFilter::Value {
        value: v.into(),
        user_id: Some("u1".into()),
    };
    assert_eq!(store.delete_push_devices(&of_u1("gcm-2")).await.unwrap(), 0);
    assert_eq!(
        store.delete_push_devices(&of_u1("apn-1b")).await.unwrap(),
        1
    );
    // A Web Push subscription is found by its endpoint.
    let anyone = PushDeviceFilter::Value {
        value: "https://push.example.com/sub/1".into(),
        user_id: None,
    };
    store.save_push_device(&d1).await.unwrap();
    assert_eq!(store.delete_push_devices(&anyone).await.unwrap(), 1);
    assert_eq!(
        ids(&store.push_devices_of_user("u1").await.unwrap()),
        ["d1"]
    );

    // By login token, by id, by user.
    store.save_push_device(&d3).await.unwrap();
    assert_eq!(
        store
            .delete_push_devices(&PushDeviceFilter::AuthToken("h1".into()))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .delete_push_devices(&PushDeviceFilter::Id("d4".into()))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .delete_push_devices(&PushDeviceFilter::User("u2".into()))
            .await
            .unwrap(),
        1
    );
    assert!(store.push_devices_of_user("u2").await.unwrap().is_empty());
    assert!(store.push_devices_of_user("u1").await.unwrap().is_empty());
}

pub async fn push_keys(store: DynStore) {
    assert_eq!(store.push_key("vapid", "first").await.unwrap(), "first");
    // Later candidates (another instance's first start) lose to the stored key.
    assert_eq!(store.push_key("vapid", "second").await.unwrap(), "first");
    assert_eq!(store.push_key("other", "x").await.unwrap(), "x");
}
