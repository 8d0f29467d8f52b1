//! Single-use keys with an expiry, shared by every instance using the database:
//! SAML request ids (an answer must come back to a request we made, once), the
//! assertion replay cache, and the credential tokens handed to a client between
//! the identity provider's answer and the login call.

use async_trait::async_trait;

use super::{StoreResult, Ts};

#[async_trait]
pub trait OnceStore: Send + Sync {
    /// Records `key` (of `kind`) with `value` until `expires`; `false` when the key
    /// is already there and unexpired at `now` (the caller has seen it before).
    async fn put_once(
        &self,
        kind: &str,
        key: &str,
        value: &str,
        expires: Ts,
        now: Ts,
    ) -> StoreResult<bool>;
    /// Removes `key` and returns its value when it was there and unexpired at
    /// `now`; exactly one caller gets it.
    async fn take_once(&self, kind: &str, key: &str, now: Ts) -> StoreResult<Option<String>>;
}
