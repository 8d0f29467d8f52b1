//! `users.autocomplete`: people to mention or invite. Its `conditions` are a small
//! MongoDB-style filter Rocket.Chat allows with only `$and` and `$or` as operators
//! (`isValidQuery(conditions, ['*'], ['$or', '$and'])`); anything else is refused.
//! Without `view-outside-room`, only people sharing a room with the caller are found.

use serde_json::Value;

use super::error::{ChatError, ChatResult};
use super::permissions::Perm;
use super::Chat;
use crate::store::{Direction, Page, Sort, SortKey, User};

/// A parsed `conditions` filter.
#[derive(Clone, Debug, PartialEq)]
pub enum UserCondition {
    And(Vec<UserCondition>),
    Or(Vec<UserCondition>),
    /// A field (dotted path) equal to a value; an array field matches if it holds it.
    Eq(String, Value),
}

fn invalid_query() -> ChatError {
    ChatError::refused("error-invalid-query", "")
}

impl UserCondition {
    pub fn parse(v: &Value) -> ChatResult<UserCondition> {
        let obj = v.as_object().ok_or_else(invalid_query)?;
        let mut all = Vec::with_capacity(obj.len());
        for (key, value) in obj {
            all.push(match key.as_str() {
                "$and" | "$or" => {
                    let parts = value
                        .as_array()
                        .ok_or_else(invalid_query)?
                        .iter()
                        .map(UserCondition::parse)
                        .collect::<ChatResult<Vec<_>>>()?;
                    if key == "$and" {
                        UserCondition::And(parts)
                    } else {
                        UserCondition::Or(parts)
                    }
                }
                k if k.starts_with('$') => return Err(invalid_query()),
                k => {
                    // An operator object (`{"$exists": …}`) is not allowed.
                    if value
                        .as_object()
                        .is_some_and(|o| o.keys().any(|k| k.starts_with('$')))
                    {
                        return Err(invalid_query());
                    }
                    UserCondition::Eq(k.to_string(), value.clone())
                }
            });
        }
        Ok(UserCondition::And(all))
    }

    /// Whether a user's document (Rocket.Chat's field names) matches.
    pub fn matches(&self, doc: &Value) -> bool {
        match self {
            UserCondition::And(parts) => parts.iter().all(|p| p.matches(doc)),
            UserCondition::Or(parts) => parts.iter().any(|p| p.matches(doc)),
            UserCondition::Eq(path, want) => {
                let found = path
                    .split('.')
                    .try_fold(doc, |d, key| d.get(key))
                    .unwrap_or(&Value::Null);
                found == want || found.as_array().is_some_and(|a| a.contains(want))
            }
        }
    }
}

/// How many rooms' members, and how many members of each, are read looking for
/// people who share a room with the caller.
const SHARED_ROOMS: u64 = 100;
const SHARED_MEMBERS: u64 = 200;

impl Chat {
    /// Active users whose username or name contains `term`, except `exceptions` and
    /// the caller, matching `conditions`; at most `limit`.
    pub async fn autocomplete_users(
        &self,
        actor: &User,
        term: &str,
        exceptions: &[String],
        conditions: Option<&UserCondition>,
        limit: usize,
    ) -> ChatResult<Vec<User>> {
        let term = term.trim().to_lowercase();
        let keep = |u: &User| {
            u.active
                && u.id != actor.id
                && !exceptions.contains(&u.username)
                && (term.is_empty()
                    || u.username.to_lowercase().contains(&term)
                    || u.name.to_lowercase().contains(&term))
                && conditions.is_none_or(|c| {
                    serde_json::to_value(u).is_ok_and(|mut doc| {
                        // A condition on a secret field must not find who holds what.
                        if let Value::Object(map) = &mut doc {
                            map.remove("inviteToken");
                        }
                        c.matches(&doc)
                    })
                })
        };
        if self
            .has_permission(actor, Perm::VIEW_OUTSIDE_ROOM, None)
            .await?
        {
            let sort = Sort {
                key: SortKey::Name,
                dir: Direction::Asc,
            };
            let filter = Some(term.as_str()).filter(|t| !t.is_empty());
            let page = Page::new(0, (limit + exceptions.len()) as u64 * 2 + 10);
            let listing = self.store.list_users(filter, sort, page).await?;
            return Ok(listing.items.into_iter().filter(keep).take(limit).collect());
        }
        // Only people the caller shares a room with.
        let (subs, _) = self.subscriptions_since(actor, None).await?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for sub in subs.iter().take(SHARED_ROOMS as usize) {
            let members = self
                .store
                .room_subscriptions(&sub.rid, Page::new(0, SHARED_MEMBERS))
                .await?
                .items;
            for m in members {
                if m.u.id == actor.id || !seen.insert(m.u.id.clone()) {
                    continue;
                }
                if let Some(u) = self.store.user_by_id(&m.u.id).await? {
                    if keep(&u) {
                        out.push(u);
                    }
                }
            }
        }
        out.sort_by(|a, b| a.username.cmp(&b.username));
        out.truncate(limit);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn conditions_allow_and_or_only() {
        let c = UserCondition::parse(&json!({"$and": [{"active": false}, {"status": "online"}]}))
            .expect("allowed");
        assert!(!c.matches(&json!({"active": true, "status": "online"})));
        assert!(c.matches(&json!({"active": false, "status": "online"})));
        let c = UserCondition::parse(&json!({"$or": [{"roles": "admin"}, {"username": "x"}]}))
            .expect("allowed");
        assert!(c.matches(&json!({"roles": ["user", "admin"], "username": "y"})));
        assert!(!c.matches(&json!({"roles": ["user"], "username": "y"})));
        for bad in [
            json!({"$nor": [{"username": {"$exists": false}}]}),
            json!({"username": {"$exists": false}}),
            json!({"$where": "1"}),
            json!([1]),
        ] {
            assert!(UserCondition::parse(&bad).is_err(), "{bad}");
        }
    }
}
