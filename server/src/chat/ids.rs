//! Identifiers and secrets in Rocket.Chat's formats.

use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};

/// Meteor's `Random.id()` alphabet (no look-alike characters).
const ID_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";

/// `len` random characters from Meteor's alphabet (`Random.id(len)`).
pub fn random_id(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())] as char)
        .collect()
}

/// A 17-character random id, as Rocket.Chat uses for users, rooms and messages.
pub fn new_id() -> String {
    random_id(17)
}

/// A fresh login token: 32 random bytes, base64url without padding (43 chars).
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a token: base64 of its SHA-256, as Rocket.Chat's `hashedToken`.
pub fn hash_token(token: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(token.as_bytes()))
}

/// A generated password for the first admin: 24 characters from a 55-letter alphabet.
pub fn new_password() -> String {
    random_id(24)
}

/// Whether `id` looks like a client-chosen message id we accept.
pub fn is_valid_client_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_meteor_shape() {
        let id = new_id();
        assert_eq!(id.len(), 17);
        assert!(id.bytes().all(|b| ID_ALPHABET.contains(&b)));
        assert_ne!(new_id(), new_id());
    }

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let t = new_token();
        assert_eq!(t.len(), 43);
        assert_ne!(t, new_token());
        assert_eq!(
            hash_token("abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }

    #[test]
    fn client_ids_are_checked() {
        assert!(is_valid_client_id("abc-DEF_123"));
        assert!(!is_valid_client_id(""));
        assert!(!is_valid_client_id("a b"));
        assert!(!is_valid_client_id(&"x".repeat(65)));
    }
}
