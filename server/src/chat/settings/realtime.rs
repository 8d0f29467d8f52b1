//! Realtime (Palaver's own): the realtime API's heartbeats, timeouts and limits.

use super::registry::{def, int, Def, Default, HOUR_MS};

pub static DEFS: &[Def] = &[
    Def {
        default: Default::Int(15_000),
        label: "Heartbeat interval (ms)",
        description: "A client silent this long is pinged. Applies to new connections.",
        ..def(
            "Realtime_Heartbeat_Interval_Ms",
            int(1, HOUR_MS),
            "Realtime",
            "",
        )
    },
    Def {
        default: Default::Int(15_000),
        label: "Heartbeat timeout (ms)",
        description: "A pinged client silent this much longer is disconnected. \
                      Applies to new connections.",
        ..def(
            "Realtime_Heartbeat_Timeout_Ms",
            int(1, HOUR_MS),
            "Realtime",
            "",
        )
    },
    Def {
        default: Default::Int(30_000),
        label: "Connect timeout (ms)",
        description: "Time allowed between opening the socket and the DDP connect message.",
        ..def(
            "Realtime_Connect_Timeout_Ms",
            int(1, HOUR_MS),
            "Realtime",
            "",
        )
    },
    Def {
        default: Default::Int(100),
        label: "Malformed messages before disconnect",
        ..def("Realtime_Max_Bad_Frames", int(0, 1_000_000), "Realtime", "")
    },
    Def {
        default: Default::Int(4096),
        label: "Outbound queue (frames)",
        description: "Frames that may wait for one client before it counts as too slow \
                      and is disconnected. Applies to new connections.",
        ..def("Realtime_Queue_Frames", int(16, 1_000_000), "Realtime", "")
    },
];
