//! Google Calendar integration (work in progress).
