//! Logs: how much the server logs, how much of it administrators see, and the
//! method and subscription traces (Rocket.Chat's "Logs" group).

use super::registry::{def, int, Check, Def, Default, Kind};

pub static DEFS: &[Def] = &[
    Def {
        // Rocket.Chat starts at `0`; Palaver has always logged information, and
        // `RUST_LOG`, when given, governs stderr anyway.
        default: Default::Str("1"),
        public: true,
        label: "Log level",
        description: "0: errors only; 1: errors and information; 2: errors, information \
                      and debug. Applies at once to the log administrators view, and to \
                      the server's stderr unless RUST_LOG is set.",
        ..def("Log_Level", Kind::Select(&["0", "1", "2"]), "Logs", "")
    },
    Def {
        default: Default::Int(1000),
        label: "Lines kept for viewing",
        description: "How many of the last log lines administrators can view (per instance).",
        ..def("Log_View_Limit", int(1, 100_000), "Logs", "")
    },
    Def {
        default: Default::Bool(false),
        label: "Trace method calls",
        description: "Logs each realtime method call (also over REST) with its connection: \
                      id, address, request headers (credentials redacted) and user.",
        ..def("Log_Trace_Methods", Kind::Boolean, "Logs", "")
    },
    Def {
        label: "Trace method calls: filter",
        description: "A regular expression: only methods whose name it matches are traced \
                      (empty: all).",
        check: Check::RegexOrEmpty,
        ..def("Log_Trace_Methods_Filter", Kind::String, "Logs", "")
    },
    Def {
        default: Default::Bool(false),
        label: "Trace subscriptions",
        description: "Logs each realtime subscription with its connection.",
        ..def("Log_Trace_Subscriptions", Kind::Boolean, "Logs", "")
    },
    Def {
        label: "Trace subscriptions: filter",
        description: "A regular expression: only publications whose name it matches are \
                      traced (empty: all).",
        check: Check::RegexOrEmpty,
        ..def("Log_Trace_Subscriptions_Filter", Kind::String, "Logs", "")
    },
];
