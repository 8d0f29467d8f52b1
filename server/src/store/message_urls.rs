//! The links of a message and their previews (Rocket.Chat's `urls`, its
//! `MessageUrl`): found in the text when the message is sent or edited, filled
//! with the page's metadata afterwards.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One link of a message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageUrl {
    pub url: String,
    /// The page's relevant `<meta>` tags, camel-cased (`ogTitle`), and
    /// `pageTitle`; empty until (unless) the page was read.
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
    /// `contentType`, `contentLength` of the page, once read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// The sender asked for no preview of this link (`previewUrls` left it out).
    #[serde(
        rename = "ignoreParse",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub ignore_parse: bool,
}
