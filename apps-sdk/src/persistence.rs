//! A key/value store private to the app, kept in Palaver's storage and bounded by a
//! quota (number of keys and total bytes). Needs `persistence`.
//!
//! Values are bytes; the `_json` functions store serde values as JSON.
//!
//! ```ignore
//! use palaver_apps_sdk::persistence;
//!
//! let mut seen: Vec<String> = persistence::get_json("seen")?.unwrap_or_default();
//! seen.push(user_id);
//! persistence::set_json("seen", &seen)?; // Error::LimitExceeded when over quota
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bindings::palaver::apps::persistence as wit;
use crate::Result;

/// The value stored under `key`, if any.
pub fn get(key: &str) -> Result<Option<Vec<u8>>> {
    Ok(wit::get(key)?)
}

/// Stores `value` under `key`. Fails with `Error::LimitExceeded` when the quota would be
/// exceeded; nothing is written then.
pub fn set(key: &str, value: &[u8]) -> Result<()> {
    Ok(wit::set(key, value)?)
}

/// Stores `value` under `key` only if the key is absent; returns whether this call
/// stored it. Atomic, also across several Palaver instances: use it to do something
/// exactly once (drop a redelivered webhook, send a reminder once).
pub fn set_if_absent(key: &str, value: &[u8]) -> Result<bool> {
    Ok(wit::set_if_absent(key, value)?)
}

/// [`set_if_absent`] with `value` stored as JSON.
pub fn set_if_absent_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<bool> {
    set_if_absent(key, &serde_json::to_vec(value)?)
}

/// Removes `key`; returns whether it existed.
pub fn delete(key: &str) -> Result<bool> {
    Ok(wit::delete(key)?)
}

/// Keys starting with `prefix`, sorted, at most `limit`.
pub fn list(prefix: &str, limit: u32) -> Result<Vec<String>> {
    Ok(wit::list(prefix, limit)?)
}

/// The value under `key` as UTF-8 text, if any.
pub fn get_string(key: &str) -> Result<Option<String>> {
    match get(key)? {
        None => Ok(None),
        Some(bytes) => Ok(Some(String::from_utf8(bytes)?)),
    }
}

/// Stores `value` as text under `key`.
pub fn set_string(key: &str, value: &str) -> Result<()> {
    set(key, value.as_bytes())
}

/// The value under `key` decoded from JSON, if any.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>> {
    match get(key)? {
        None => Ok(None),
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
    }
}

/// Stores `value` as JSON under `key`.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<()> {
    set(key, &serde_json::to_vec(value)?)
}
