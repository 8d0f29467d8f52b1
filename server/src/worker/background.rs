//! The background runtime: where the delivery queue's workers (notification
//! fan-outs, pushes, mails, webhooks, the Matrix bridge's sends) run, apart from
//! the runtime that answers requests.
//!
//! A post to a large room hands thousands of pushes and mails to this runtime. On
//! the request runtime they would queue beside the next requests and take their
//! cores; here they get a bounded number of threads, at a lower scheduling
//! priority (a positive `nice`, Linux only), so the kernel gives a request's
//! thread the core first and the deliveries use what is left. Deliveries are
//! latency-tolerant (seconds); a request is not.
//!
//! What a delivery spawns (an HTTP connection's task, a blocking store read) runs
//! here too, at the same priority. Store writes go through the store's own writer
//! thread, at normal priority, so a lowered thread never holds the writer; they are
//! marked background ([`Lane`]), so the writer serves requests' writes first.

use std::io;

use tokio::runtime::{Builder, Handle, Runtime};

use crate::store::lane::{set_thread_lane, Lane};

/// The runtime of background deliveries; shut down after the workers on it
/// stopped (see `serve`).
pub struct BackgroundRuntime {
    runtime: Option<Runtime>,
    handle: Handle,
}

impl BackgroundRuntime {
    /// `threads` worker threads (0: half the cores, at least one), each lowered to
    /// `nice` (0: not lowered; ignored off Linux).
    pub fn start(threads: usize, nice: i32) -> io::Result<BackgroundRuntime> {
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            n => n,
        };
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads)
            // Blocking work (store reads) waits for its thread rather than
            // crowding the machine.
            .max_blocking_threads(threads.max(2) * 2)
            .thread_name("palaver-bg")
            .on_thread_start(move || {
                lower_priority(nice);
                set_thread_lane(Lane::Background);
            })
            .enable_all()
            .build()?;
        tracing::info!(threads, nice, "background runtime started");
        let handle = runtime.handle().clone();
        Ok(BackgroundRuntime {
            runtime: Some(runtime),
            handle,
        })
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Ends the runtime without waiting for tasks still on it (the workers were
    /// stopped and drained before); callable from async code.
    pub fn shutdown(mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for BackgroundRuntime {
    fn drop(&mut self) {
        // Dropping a runtime inside another one's task would panic.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Lowers the calling thread's scheduling priority by `nice` steps. On Linux a thread id given
/// to `setpriority(PRIO_PROCESS, …)` names that one thread.
#[cfg(target_os = "linux")]
fn lower_priority(nice: i32) {
    if nice == 0 {
        return;
    }
    // Relative to the process's own priority (a server started under `nice`
    // keeps its background below its requests all the same).
    // SAFETY: plain system calls on the calling thread's own id.
    let rc = unsafe {
        let tid = libc::gettid() as libc::id_t;
        let current = libc::getpriority(libc::PRIO_PROCESS, tid);
        libc::setpriority(libc::PRIO_PROCESS, tid, (current + nice).min(19))
    };
    if rc != 0 {
        tracing::debug!(nice, error = %io::Error::last_os_error(), "could not lower a background thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_nice: i32) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn its_threads_run_lowered_and_the_callers_not() {
        let bg = BackgroundRuntime::start(1, 7).unwrap();
        let seen = bg
            .handle()
            .block_on(async { tokio::spawn(async { current_nice() }).await.unwrap() });
        assert_eq!(seen, current_nice() + 7);
        let lane = bg.handle().block_on(async {
            tokio::spawn(async { crate::store::lane::thread_lane() })
                .await
                .unwrap()
        });
        assert_eq!(lane, Lane::Background);
        bg.shutdown();
    }

    #[cfg(target_os = "linux")]
    fn current_nice() -> i32 {
        // SAFETY: reads the calling thread's own priority.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
    }

    #[tokio::test]
    async fn dropped_inside_a_runtime_it_does_not_panic() {
        let bg = BackgroundRuntime::start(1, 0).unwrap();
        let answer = bg.handle().spawn(async { 42 }).await.unwrap();
        assert_eq!(answer, 42);
        drop(bg);
    }
}
