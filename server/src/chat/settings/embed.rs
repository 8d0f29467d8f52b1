//! Link previews (Rocket.Chat's "Message › Embed"): whether the links of posted
//! messages are read for a preview, and which hosts and ports may be.

use super::registry::{def, int, Def, Default, Kind};

pub static DEFS: &[Def] = &[
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Link previews",
        description: "Reads the pages linked in messages for a preview (title, description, \
                      image), shortly after the message is posted or edited.",
        ..def("API_Embed", Kind::Boolean, "Message", "Embed")
    },
    Def {
        default: Default::Str(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/41.0.2227.0 Safari/537.36",
        ),
        public: true,
        label: "User agent of preview requests",
        ..def("API_Embed_UserAgent", Kind::String, "Message", "Embed")
    },
    Def {
        default: Default::Int(30),
        label: "Keep a page's preview (days)",
        description: "A link read again within this time reuses what was read (kept in \
                      memory, per instance, for the most recent pages).",
        ..def(
            "API_EmbedCacheExpirationDays",
            int(0, 3650),
            "Message",
            "Embed",
        )
    },
    Def {
        default: Default::Str("localhost, 127.0.0.1, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16"),
        label: "Hosts never previewed",
        description: "Comma-separated host names, addresses and address ranges (CIDR). \
                      Private addresses stay refused unless the operator's outbound \
                      allow-list names them.",
        max_chars: 4096,
        ..def("API_EmbedIgnoredHosts", Kind::String, "Message", "Embed")
    },
    Def {
        default: Default::Str("80, 443"),
        label: "Ports previewed",
        description: "Comma-separated ports a previewed link may use (empty: any).",
        ..def("API_EmbedSafePorts", Kind::String, "Message", "Embed")
    },
];
