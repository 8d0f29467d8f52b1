//! Push: mobile apps through a gateway, FCM or APNs; browsers through Web Push.

use super::registry::{def, Check, Def, Default, Kind};

pub static DEFS: &[Def] = &[
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Enable push",
        description: "Push notifications to registered mobile devices and browsers.",
        ..def("Push_enable", Kind::Boolean, "Push", "")
    },
    Def {
        default: Default::Bool(false),
        label: "Enable gateway",
        description: "Send mobile pushes through the push gateway below (Rocket.Chat's \
                      gateway protocol), as Rocket.Chat's published apps need; off: \
                      directly to FCM and APNs with the credentials below.",
        ..def("Push_enable_gateway", Kind::Boolean, "Push", "")
    },
    Def {
        default: Default::Str("https://gateway.rocket.chat"),
        check: Check::HttpUrl,
        label: "Gateway",
        ..def("Push_gateway", Kind::String, "Push", "")
    },
    Def {
        label: "Gateway token",
        description: "Sent as Authorization: Bearer to the gateway (the workspace's \
                      cloud token for Rocket.Chat's gateway).",
        ..def("Push_gateway_token", Kind::Password, "Push", "")
    },
    Def {
        default: Default::Bool(false),
        label: "Hide message content",
        description: "Pushes say only \"You have a new message\"; the app fetches the \
                      content with push.get.",
        ..def(
            "Push_request_content_from_server",
            Kind::Boolean,
            "Push",
            "Privacy",
        )
    },
    Def {
        default: Default::Bool(true),
        label: "Show channel and user names",
        ..def("Push_show_username_room", Kind::Boolean, "Push", "Privacy")
    },
    Def {
        default: Default::Bool(true),
        label: "Show message content",
        ..def("Push_show_message", Kind::Boolean, "Push", "Privacy")
    },
    Def {
        max_chars: 16384,
        label: "Google service account (JSON)",
        description: "The Firebase service account key file's content, for FCM HTTP v1.",
        ..def(
            "Push_google_api_credentials",
            Kind::Password,
            "Push",
            "Certificates and Keys",
        )
    },
    Def {
        max_chars: 8192,
        label: "APNs auth key (.p8)",
        ..def(
            "Push_apn_key",
            Kind::Password,
            "Push",
            "Certificates and Keys",
        )
    },
    Def {
        label: "APNs key id",
        ..def(
            "Push_apn_key_id",
            Kind::String,
            "Push",
            "Certificates and Keys",
        )
    },
    Def {
        label: "APNs team id",
        ..def(
            "Push_apn_team_id",
            Kind::String,
            "Push",
            "Certificates and Keys",
        )
    },
    Def {
        default: Default::Bool(true),
        label: "APNs production",
        description: "api.push.apple.com; off: api.sandbox.push.apple.com.",
        ..def(
            "Push_production",
            Kind::Boolean,
            "Push",
            "Certificates and Keys",
        )
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Enable Web Push",
        description: "Browsers that subscribed get pushes even with the tab closed.",
        ..def("WebPush_enable", Kind::Boolean, "Push", "Web Push")
    },
    Def {
        check: Check::EmailOrEmpty,
        label: "Web Push contact",
        description: "The e-mail address push services may contact (VAPID subject); \
                      empty: the site URL.",
        ..def("WebPush_contact", Kind::String, "Push", "Web Push")
    },
];
