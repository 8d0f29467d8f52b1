//! Single-use keys shared by the instances (SAML request ids, the assertion replay
//! cache, credential tokens), and ending the sessions an identity provider's
//! single logout names.

use super::error::ChatResult;
use super::events::Event;
use super::Chat;
use crate::store::{Ts, User};

impl Chat {
    /// Records `key` of `kind` until `expires`; `false` when already recorded.
    pub async fn put_once(
        &self,
        kind: &str,
        key: &str,
        value: &str,
        expires: Ts,
    ) -> ChatResult<bool> {
        Ok(self
            .store
            .put_once(kind, key, value, expires, Ts::now())
            .await?)
    }

    /// Takes `key` of `kind` (once, unexpired): its value.
    pub async fn take_once(&self, kind: &str, key: &str) -> ChatResult<Option<String>> {
        Ok(self.store.take_once(kind, key, Ts::now()).await?)
    }

    /// Merges `fields` into `user`'s link to `service` (a provider's session data).
    pub async fn update_service_fields(
        &self,
        user: &User,
        service: &str,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> ChatResult<User> {
        let mut after = user.clone();
        if let Some(link) = after.services.get_mut(service) {
            link.extra.extend(fields);
        }
        if &after == user {
            return Ok(after);
        }
        after.updated_at = Ts::now();
        self.store.update_user(&after).await?;
        Ok(after)
    }

    /// Ends every session of `user` (an identity provider's logout): its tokens are
    /// revoked and the realtime connections using `token_hashes` are closed.
    pub async fn end_sessions(&self, user: &User, token_hashes: &[String]) -> ChatResult<u64> {
        let n = self.store.delete_user_tokens(&user.id).await?;
        for hash in token_hashes {
            self.bus.publish(Event::LoggedOut {
                user_id: user.id.clone(),
                token_hash: hash.clone(),
            });
        }
        tracing::info!(user_id = %user.id, tokens = n, "sessions ended by the identity provider");
        Ok(n)
    }
}
