//! WhatsApp Cloud bridge (work in progress).
