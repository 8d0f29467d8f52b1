//! Sign-in with the organisation's identity: OAuth 2.0 / OpenID Connect and LDAP.
//! Each provider proves who someone is and maps them to a Palaver account linked by
//! the provider's own identifier (`User::services`), never by a bare e-mail match;
//! sessions are then issued by `chat::login` like any other.

pub mod ldap;
pub mod oauth;
pub mod saml;
