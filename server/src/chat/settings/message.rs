//! Message: limits, editing and deleting, pins and stars, custom fields, the bad-words
//! filter, how text is parsed (links, colours, KaTeX), threads and discussions.

use super::registry::{def, int, Def, Default, Kind, MIB};

pub static DEFS: &[Def] = &[
    Def {
        default: Default::Int(5000),
        public: true,
        label: "Maximum allowed message size",
        description: "Longest message text, in characters.",
        ..def("Message_MaxAllowedSize", int(1, 1_000_000), "Message", "")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Allow message editing",
        ..def("Message_AllowEditing", Kind::Boolean, "Message", "")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Allow message deleting",
        ..def("Message_AllowDeleting", Kind::Boolean, "Message", "")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Allow message pinning",
        ..def("Message_AllowPinning", Kind::Boolean, "Message", "")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Allow message starring",
        ..def("Message_AllowStarring", Kind::Boolean, "Message", "")
    },
    Def {
        default: Default::Bool(false),
        public: true,
        label: "Filter bad words",
        description: "Words of a built-in English list and of the list below are stored \
                      with their letters replaced by *.",
        ..def("Message_AllowBadWordsFilter", Kind::Boolean, "Message", "")
    },
    Def {
        default: Default::Str(""),
        public: true,
        label: "Bad words",
        description: "Comma-separated words to filter besides the built-in list.",
        ..def("Message_BadWordsFilterList", Kind::String, "Message", "")
    },
    Def {
        default: Default::Str(""),
        public: true,
        label: "Allowed words",
        description: "Comma-separated words never filtered, even if listed.",
        ..def("Message_BadWordsWhitelist", Kind::String, "Message", "")
    },
    Def {
        default: Default::Str(""),
        public: true,
        label: "Custom domains to link",
        description: "Comma-separated domains whose bare addresses in messages become links \
                      although they are not under a public suffix (an intranet's, say).",
        ..def("Message_CustomDomain_AutoLink", Kind::String, "Message", "")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Colour previews",
        description: "color:#rrggbb in a message shows the colour.",
        ..def(
            "HexColorPreview_Enabled",
            Kind::Boolean,
            "Message",
            "Hex_Color_Preview",
        )
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "KaTeX formulas",
        description: "Formulas between KaTeX delimiters are typeset.",
        ..def("Katex_Enabled", Kind::Boolean, "Message", "Katex")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "KaTeX with \\[ \\] and \\( \\)",
        ..def(
            "Katex_Parenthesis_Syntax",
            Kind::Boolean,
            "Message",
            "Katex",
        )
    },
    Def {
        default: Default::Bool(false),
        public: true,
        label: "KaTeX with $$ and $",
        ..def("Katex_Dollar_Syntax", Kind::Boolean, "Message", "Katex")
    },
    Def {
        default: Default::Bool(false),
        public: true,
        label: "Enable custom fields on messages",
        ..def(
            "Message_CustomFields_Enabled",
            Kind::Boolean,
            "Message",
            "Custom Fields",
        )
    },
    Def {
        default: Default::Str(""),
        public: true,
        label: "Custom fields' JSON schema",
        description: "The JSON schema a message's customFields must match (type, enum, \
                      nullable, properties, required, additionalProperties).",
        ..def(
            "Message_CustomFields",
            Kind::Code,
            "Message",
            "Custom Fields",
        )
    },
    Def {
        default: Default::Int(100),
        label: "Maximum attachments per message",
        description: "Most attachments in one message, nested ones included.",
        ..def(
            "Message_MaxAttachments",
            int(1, 10_000),
            "Message",
            "Limits",
        )
    },
    Def {
        default: Default::Int(64 * 1024),
        label: "Maximum message payload size",
        description: "Largest serialized size of a message's attachments, custom fields, \
                      alias, emoji and avatar together, in bytes.",
        ..def(
            "Message_MaxPayloadBytes",
            int(1024, 64 * MIB),
            "Message",
            "Limits",
        )
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Enable threads",
        ..def("Threads_enabled", Kind::Boolean, "Threads", "")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Enable discussions",
        ..def("Discussion_enabled", Kind::Boolean, "Discussion", "")
    },
    Def {
        default: Default::Int(0),
        public: true,
        label: "Block message editing after (n) minutes",
        description: "0 to never block.",
        ..def(
            "Message_AllowEditing_BlockEditInMinutes",
            int(0, 525600),
            "Message",
            "",
        )
    },
    Def {
        default: Default::Int(0),
        public: true,
        label: "Block message deleting after (n) minutes",
        description: "0 to never block.",
        ..def(
            "Message_AllowDeleting_BlockDeleteInMinutes",
            int(0, 525600),
            "Message",
            "",
        )
    },
    Def {
        default: Default::Int(300),
        public: true,
        label: "Grouping period (in seconds)",
        ..def("Message_GroupingPeriod", int(0, 86400), "Message", "")
    },
    Def {
        default: Default::Str("LT"),
        public: true,
        label: "Time format",
        max_chars: 64,
        ..def("Message_TimeFormat", Kind::String, "Message", "")
    },
    Def {
        default: Default::Str("LLL"),
        public: true,
        label: "Timestamp format",
        max_chars: 64,
        ..def("Message_TimeAndDateFormat", Kind::String, "Message", "")
    },
    Def {
        default: Default::Bool(true),
        public: true,
        label: "Store last message",
        description: "Rooms carry their last message.",
        read_only: true,
        ..def("Store_Last_Message", Kind::Boolean, "General", "")
    },
    Def {
        default: Default::Int(8),
        public: true,
        label: "Max users in direct messages",
        description: "Palaver's direct messages have at most 8 members.",
        ..def("DirectMesssage_maxUsers", int(2, 8), "Message", "")
    },
    Def {
        default: Default::Int(5),
        public: true,
        label: "Number of users' autocomplete suggestions",
        ..def(
            "Number_of_users_autocomplete_suggestions",
            int(1, 100),
            "General",
            "",
        )
    },
    Def {
        default: Default::Bool(false),
        public: true,
        label: "Read receipts",
        description: "Not available on Palaver.",
        read_only: true,
        ..def("Message_Read_Receipt_Enabled", Kind::Boolean, "Message", "")
    },
];
