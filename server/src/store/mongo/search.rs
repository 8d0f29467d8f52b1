//! Substring search on MongoDB through trigrams.
//!
//! No B-tree index serves a substring (`$regex` without an anchor), so a search used
//! to walk the listing's index until a page filled: for a term few documents match,
//! every user or every room of the types. Each user and room document therefore
//! carries `searchGrams`, the distinct lower-cased trigrams of the fields searched
//! (a user's username and name, a room's name and display name), in the multikey
//! index `by_search_grams`. A search for a term of 3+ characters first counts, in
//! that index, the documents holding a few of the term's trigrams (at most
//! [`SEARCH_CANDIDATES`] keys each); when the rarest is under that bound the search
//! reads only the documents holding it, checks the same regex as the walk, sorts
//! them and counts them exactly. Commoner terms keep the walk, where matches are
//! dense enough that the page fills after at most `documents / SEARCH_CANDIDATES`
//! reads per row of the page.
//!
//! `searchGrams` is written by every insert and update that changes those fields;
//! documents written before it existed are filled once at start-up
//! ([`MongoStore::backfill_search_grams`]), recorded by a marker in `palaver_meta`.

use std::collections::BTreeSet;

use mongodb::bson::{doc, Bson, Document};
use mongodb::options::Hint;
use mongodb::Collection;

use super::{Ctx, MongoStore};
use crate::store::{StoreResult, Ts};

/// The multikey index of `searchGrams`, on users and on rooms.
pub(super) const IDX_SEARCH_GRAMS: &str = "by_search_grams";
/// The field holding a document's trigrams.
pub(super) const SEARCH_GRAMS: &str = "searchGrams";
/// The collection of the store's own bookkeeping (one-time migrations).
const META: &str = "palaver_meta";
/// The marker of the `searchGrams` backfill in [`META`].
const BACKFILL_MARKER: &str = "search_grams_v1";
/// Most documents a gram may be in for a search to read its documents rather than
/// walk the listing's index (as `SEARCH_CANDIDATES` on SQLite).
pub const SEARCH_CANDIDATES: u64 = 2_000;
/// Most of a term's grams whose frequency is probed (spread over the term): each
/// probe costs up to [`SEARCH_CANDIDATES`] index keys.
const PROBED_GRAMS: usize = 4;

/// The distinct trigrams (of characters) of `text` lower-cased, in order.
pub(super) fn grams(text: &str) -> BTreeSet<String> {
    let chars: Vec<char> = text.to_lowercase().chars().collect();
    chars.windows(3).map(|w| w.iter().collect()).collect()
}

/// A document's `searchGrams`: the grams of each field (none across fields).
pub(super) fn document_grams<'a>(fields: impl IntoIterator<Item = Option<&'a str>>) -> Vec<String> {
    let mut all = BTreeSet::new();
    for field in fields.into_iter().flatten() {
        all.extend(grams(field));
    }
    all.into_iter().collect()
}

/// The grams of `term` whose frequency a search probes: up to [`PROBED_GRAMS`],
/// spread from its first to its last; none for a term under 3 characters.
pub(super) fn probe_grams(term: &str) -> Vec<String> {
    let chars: Vec<char> = term.to_lowercase().chars().collect();
    let all: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
    if all.len() <= PROBED_GRAMS {
        return dedup(all);
    }
    let last = all.len() - 1;
    let picked = (0..PROBED_GRAMS).map(|i| all[i * last / (PROBED_GRAMS - 1)].clone());
    dedup(picked.collect())
}

fn dedup(mut grams: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    grams.retain(|g| seen.insert(g.clone()));
    grams
}

impl MongoStore {
    /// The gram a search of `coll` for `term` is read through: the rarest probed
    /// gram, when fewer than [`SEARCH_CANDIDATES`] documents hold it; `None` (walk
    /// the listing's index) for a common or short term. Each probe is a count of one
    /// key's range of `by_search_grams`, stopped at the bound.
    pub(super) async fn rare_gram(
        &self,
        coll: &Collection<Document>,
        term: &str,
    ) -> StoreResult<Option<String>> {
        let mut rarest: Option<(u64, String)> = None;
        for gram in probe_grams(term) {
            let n = coll
                .count_documents(doc! { SEARCH_GRAMS: &gram })
                .hint(Hint::Name(IDX_SEARCH_GRAMS.into()))
                .limit(SEARCH_CANDIDATES)
                .await
                .ctx("count search candidates")?;
            if rarest.as_ref().is_none_or(|(least, _)| n < *least) {
                rarest = Some((n, gram));
            }
            if n == 0 {
                break;
            }
        }
        Ok(rarest
            .filter(|(n, _)| *n < SEARCH_CANDIDATES)
            .map(|(_, gram)| gram))
    }

    /// Fills `searchGrams` on the users and rooms written before it existed, once
    /// per database: a marker in `palaver_meta` says it is done, so restarts and
    /// other instances skip it. Two instances racing both fill; each write is
    /// conditional on the document still lacking the field and holding the values
    /// read, so neither overwrites a newer write.
    pub(super) async fn backfill_search_grams(&self) -> StoreResult<()> {
        let meta = self.coll(META);
        let done = meta
            .find_one(doc! { "_id": BACKFILL_MARKER })
            .await
            .ctx("read search grams marker")?;
        if done.is_some() {
            return Ok(());
        }
        let users = self.fill_grams(&self.users, "usernameKey", "name").await?;
        let rooms = self.fill_grams(&self.rooms, "name", "fname").await?;
        meta.update_one(
            doc! { "_id": BACKFILL_MARKER },
            doc! { "$setOnInsert": { "at": Ts::now().0, "users": users as i64, "rooms": rooms as i64 } },
        )
        .upsert(true)
        .await
        .ctx("write search grams marker")?;
        tracing::info!(users, rooms, "search grams filled in");
        Ok(())
    }

    /// Sets `searchGrams` from fields `a` and `b` on every document of `coll`
    /// lacking it; returns how many were written.
    async fn fill_grams(&self, coll: &Collection<Document>, a: &str, b: &str) -> StoreResult<u64> {
        let mut cursor = coll
            .find(doc! { SEARCH_GRAMS: { "$exists": false } })
            .projection(doc! { a: 1, b: 1 })
            .await
            .ctx("find documents without search grams")?;
        let mut written = 0;
        while cursor
            .advance()
            .await
            .ctx("find documents without search grams")?
        {
            let found = cursor
                .deserialize_current()
                .ctx("read a document without search grams")?;
            let Some(id) = found.get("_id").cloned() else {
                continue;
            };
            let text = |field: &str| found.get_str(field).ok().map(str::to_string);
            let (va, vb) = (text(a), text(b));
            let grams = document_grams([va.as_deref(), vb.as_deref()]);
            let unchanged = |v: &Option<String>| v.clone().map_or(Bson::Null, Bson::String);
            let r = coll
                .update_one(
                    doc! {
                        "_id": id,
                        SEARCH_GRAMS: { "$exists": false },
                        a: unchanged(&va),
                        b: unchanged(&vb),
                    },
                    doc! { "$set": { SEARCH_GRAMS: grams } },
                )
                .await
                .ctx("fill search grams")?;
            written += r.modified_count;
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grams_are_distinct_lowercase_trigrams() {
        assert_eq!(
            grams("Banana").into_iter().collect::<Vec<_>>(),
            ["ana", "ban", "nan"]
        );
        assert!(grams("ab").is_empty());
        assert_eq!(
            grams("ÉTÉ!").into_iter().collect::<Vec<_>>(),
            ["té!", "été"]
        );
        assert_eq!(
            document_grams([Some("abc"), None, Some("bcd")]),
            ["abc", "bcd"]
        );
        assert_eq!(
            document_grams([Some("ab"), Some("cd")]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn probes_a_few_grams_spread_over_the_term() {
        assert!(probe_grams("ab").is_empty());
        assert_eq!(probe_grams("ABC"), ["abc"]);
        assert_eq!(probe_grams("aaaa"), ["aaa"]);
        let probed = probe_grams("abcdefghij");
        assert_eq!(probed, ["abc", "cde", "efg", "hij"]);
        // Every probed gram is in every document the term is a substring of.
        let doc = grams("xxabcdefghijyy");
        assert!(probed.iter().all(|g| doc.contains(g)));
    }
}
