//! The one end-to-end test binary: every module drives real code (the storage
//! backends directly, or the `palaver` binary over HTTP/websocket).

mod store_conformance;

mod apps_build;
mod apps_hello;
mod apps_hostile;
mod apps_hostile_limits;
mod apps_lifecycle;
mod apps_message_limits;
mod apps_packages;
mod apps_preview;
mod apps_slots;
mod apps_support;
mod browser_admin;
mod browser_chat;
mod browser_chat_apps;
mod cli;
mod common;
mod durability;
mod http_limits;
mod login_hardening;
mod realtime_auth;
mod realtime_closes;
mod realtime_commands;
mod realtime_instances;
mod realtime_methods;
mod realtime_protocol;
mod realtime_slow;
mod realtime_streams;
mod rest_auth;
mod rest_channels;
mod rest_dm;
mod rest_edge;
mod rest_groups;
mod rest_impersonation;
mod rest_integrations;
mod rest_message_limits;
mod rest_messages;
mod rest_misc;
mod rest_pagination;
mod rest_ratelimit;
mod rest_threads;
mod rest_users;
mod sample_gcal;
mod sample_whatsapp;
mod serve_startup;
