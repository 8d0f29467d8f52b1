//! The invite link settings (Rocket.Chat's ids): what address `findOrCreateInvite`
//! hands out for an invite, read each time a link is made.

use super::registry::{def, Check, Def, Default, Kind};

pub static DEFS: &[Def] = &[
    Def {
        default: Default::Str("proxy"),
        label: "Invite URL type",
        description: "direct: links are <Site_Url>/invite/<token>. proxy: links go through the deep-link service (DeepLink_Url), which opens the mobile app or forwards to that address.",
        ..def(
            "Accounts_Registration_InviteUrlType",
            Kind::Select(&["direct", "proxy"]),
            "Accounts",
            "Registration",
        )
    },
    Def {
        default: Default::Str("https://go.rocket.chat"),
        public: true,
        label: "Deep link URL",
        description: "The deep-link service proxy invite links go through.",
        check: Check::HttpUrl,
        ..def("DeepLink_Url", Kind::String, "General", "")
    },
];
