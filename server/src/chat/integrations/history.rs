//! Integrations' history (each outgoing delivery attempt, each incoming call) with
//! bounded retention, the guard on outgoing targets at definition time, and token
//! regeneration.

use serde_json::Value;

use super::super::error::{ChatError, ChatResult};
use super::super::permissions::Perm;
use super::super::{ids, Chat};
use super::{integration_not_found, new_token};
use crate::outbound::HttpError;
use crate::store::integrations::{
    Integration, IntegrationHistory, WEBHOOK_INCOMING, WEBHOOK_OUTGOING,
};
use crate::store::{Listing, Page, Ts, User};

/// Longest excerpt of a request or response body kept in the history, in characters.
pub const EXCERPT_CHARS: usize = 2000;
/// How long resolving a target's name may take when an integration is saved.
const VET_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The start of `bytes` as text (lossy), at most [`EXCERPT_CHARS`] characters.
pub fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

/// A new history entry for `integration`, stamped now.
pub fn entry(integration: &Integration, event: &str, step: &str) -> IntegrationHistory {
    IntegrationHistory {
        id: ids::new_id(),
        integration_id: integration.id.clone(),
        kind: integration.kind.clone(),
        event: event.to_string(),
        step: step.to_string(),
        url: None,
        request: None,
        status: None,
        response: None,
        error: None,
        trigger_word: None,
        delivery_id: None,
        attempt: None,
        retrying: false,
        at: Ts::now(),
    }
}

impl Chat {
    /// Records a history entry and prunes the integration's history to the
    /// configured size and age. Failures are logged: history never fails a call.
    pub async fn record_integration_history(&self, entry: IntegrationHistory) {
        let opts = &self.opts.integrations;
        if opts.history_keep == 0 {
            return;
        }
        if let Err(e) = self.store.insert_integration_history(&entry).await {
            tracing::warn!(integration_id = %entry.integration_id, error = %e, "integration history not recorded");
            return;
        }
        let max_age = i64::try_from(opts.history_max_age.as_millis()).unwrap_or(i64::MAX);
        let before = Ts(Ts::now().0.saturating_sub(max_age));
        if let Err(e) = self
            .store
            .prune_integration_history(&entry.integration_id, opts.history_keep, before)
            .await
        {
            tracing::warn!(integration_id = %entry.integration_id, error = %e, "integration history not pruned");
        }
    }

    /// Records an incoming webhook's call (its id and token were right): the
    /// payload, the status answered and the refusal if any.
    pub async fn record_incoming_call(
        &self,
        integration_id: &str,
        payload: &Value,
        status: u16,
        error: Option<String>,
    ) {
        let integration = match self.store.integration(integration_id).await {
            Ok(Some(i)) if i.kind == WEBHOOK_INCOMING => i,
            _ => return,
        };
        let step = if error.is_none() {
            "after-process-send-message"
        } else {
            "failed"
        };
        let mut e = entry(&integration, "incoming", step);
        e.request = Some(excerpt(payload.to_string().as_bytes()));
        e.status = Some(status);
        e.error = error;
        self.record_integration_history(e).await;
    }

    /// An integration's history, newest first (Rocket.Chat's `integrations.history`;
    /// here for both kinds, each under its own management permission).
    pub async fn integration_history(
        &self,
        actor: &User,
        id: &str,
        page: Page,
    ) -> ChatResult<Listing<IntegrationHistory>> {
        // Rocket.Chat lets only those who manage outgoing webhooks (all or their
        // own) read any history: others get its bare 403.
        let mut outgoing = false;
        for perm in [
            Perm::MANAGE_OUTGOING_INTEGRATIONS,
            Perm::MANAGE_OWN_OUTGOING_INTEGRATIONS,
        ] {
            outgoing |= self.has_permission(actor, perm, None).await?;
        }
        if !outgoing {
            return Err(ChatError::unauthorized_bare());
        }
        match self.store.integration(id).await? {
            Some(i) => {
                if !self
                    .may_manage_integration(actor, &i.kind, Some(&i.created_by.id))
                    .await?
                {
                    return Err(ChatError::not_allowed());
                }
            }
            None => {
                // As Rocket.Chat: an unknown id is an empty history, for those who
                // may manage integrations at all.
                let mut any = false;
                for kind in [WEBHOOK_INCOMING, WEBHOOK_OUTGOING] {
                    any |= self.may_manage_integration(actor, kind, None).await?;
                }
                if !any {
                    return Err(ChatError::not_allowed());
                }
                return Ok(Listing {
                    items: Vec::new(),
                    total: 0,
                });
            }
        }
        Ok(self.store.integration_history(id, page).await?)
    }

    /// Gives an integration a new random token: an incoming hook's URL changes, an
    /// outgoing hook's calls carry (and are signed with) the new one.
    pub async fn regenerate_integration_token(
        &self,
        actor: &User,
        id: &str,
    ) -> ChatResult<Integration> {
        let mut integration = self
            .store
            .integration(id)
            .await?
            .ok_or_else(integration_not_found)?;
        if !self
            .may_manage_integration(actor, &integration.kind, Some(&integration.created_by.id))
            .await?
        {
            return Err(ChatError::not_allowed());
        }
        integration.token = new_token();
        integration.updated_at = Ts::now();
        if !self.store.update_integration(&integration).await? {
            return Err(integration_not_found());
        }
        self.integrations_changed();
        tracing::info!(integration_id = %id, user_id = %actor.id, "integration token regenerated");
        Ok(integration)
    }

    /// Refuses outgoing targets the guard would refuse at delivery: a private,
    /// loopback or otherwise reserved address the operator has not allowed. A name
    /// that does not resolve now is accepted (it is vetted again at each delivery).
    pub(super) async fn vet_webhook_urls(&self, urls: &[String]) -> ChatResult<()> {
        let opts = &self.opts.integrations;
        for url in urls {
            let vetted = tokio::time::timeout(VET_TIMEOUT, opts.http.vet(&opts.policy, url)).await;
            match vetted {
                Ok(Ok(_)) => {}
                Ok(Err(HttpError::AddressRefused { host, addr, reason })) => {
                    return Err(ChatError::refused(
                        "error-invalid-urls",
                        format!(
                            "Invalid URL {url:?}: {host} is {addr}, a {reason} address outgoing \
                             webhooks may not call unless the operator allows it (apps.http_allow)"
                        ),
                    ));
                }
                Ok(Err(HttpError::InvalidRequest(why))) => {
                    return Err(ChatError::refused(
                        "error-invalid-urls",
                        format!("Invalid URL {url:?}: {why}"),
                    ));
                }
                Ok(Err(e)) => {
                    tracing::info!(%url, error = %e, "outgoing webhook target not vetted now; it is at each delivery");
                }
                Err(_) => {
                    tracing::info!(%url, "outgoing webhook target: resolving timed out; it is vetted at each delivery");
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_bounded_on_char_boundaries() {
        assert_eq!(excerpt(b"short"), "short");
        let long = "é".repeat(EXCERPT_CHARS + 10);
        let cut = excerpt(long.as_bytes());
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
