//! Password hashing on a fixed pool of threads.
//!
//! One Argon2 computation takes its whole memory cost (19 MiB with the defaults) for
//! the time it runs. Run on tokio's blocking pool, N concurrent logins meant N threads
//! each allocating that much, and the allocator kept the memory afterwards. Here a
//! fixed number of threads each own one reusable block of Argon2 memory, fed by a
//! bounded queue: at most `threads × memory cost` is ever used, and a request that
//! finds the queue full is refused at once ([`PasswordError::Busy`]) rather than
//! waiting without bound.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

/// Largest Argon2 memory cost (KiB) a stored hash may ask for; a hash above it is
/// treated as not matching rather than letting one row make a worker allocate more.
const MAX_M_COST_KIB: u32 = 256 * 1024;

/// Sizing of the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordPoolOptions {
    /// Hashing threads; 0 means one per available core.
    pub threads: usize,
    /// Requests that may wait for a free thread; beyond that they are refused.
    pub queue: usize,
}

impl Default for PasswordPoolOptions {
    fn default() -> Self {
        PasswordPoolOptions {
            threads: 0,
            queue: 64,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Every thread is busy and the queue is full.
    #[error("password hashing is at capacity")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

enum Work {
    Hash {
        digest: String,
    },
    /// `None`: a stand-in hash, so an unknown account costs what a known one does.
    Verify {
        digest: String,
        phc: Option<String>,
    },
}

enum Done {
    Hashed(Result<String, PasswordError>),
    Verified(bool),
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Done>,
}

/// The hashing threads and their queue. Dropping the pool ends the threads once
/// they finish the queued work.
pub struct PasswordPool {
    jobs: SyncSender<Job>,
    threads: usize,
}

impl PasswordPool {
    pub fn new(opts: PasswordPoolOptions) -> PasswordPool {
        let threads = if opts.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            opts.threads
        };
        let (jobs, rx) = mpsc::sync_channel::<Job>(opts.queue);
        let rx = Arc::new(Mutex::new(rx));
        let dummy = Arc::new(dummy_hash());
        for n in 0..threads {
            let rx = Arc::clone(&rx);
            let dummy = Arc::clone(&dummy);
            let spawned = std::thread::Builder::new()
                .name(format!("password-{n}"))
                .spawn(move || worker(&rx, &dummy));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        tracing::debug!(threads, queue = opts.queue, "password hashing pool started");
        PasswordPool { jobs, threads }
    }

    /// How many threads hash (and so how many Argon2 memory blocks can exist).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// A new argon2id PHC string for `digest` (the password's SHA-256 hex digest).
    pub async fn hash(&self, digest: String) -> Result<String, PasswordError> {
        match self.submit(Work::Hash { digest }).await? {
            Done::Hashed(result) => result,
            Done::Verified(_) => Err(PasswordError::Failed("unexpected answer".into())),
        }
    }

    /// Whether `digest` matches the stored PHC string. With `None` (no such account,
    /// or one without a password) the same work is done against a stand-in hash and
    /// the answer is `false`, so the two cases cannot be told apart by timing.
    pub async fn verify(&self, digest: String, phc: Option<String>) -> Result<bool, PasswordError> {
        match self.submit(Work::Verify { digest, phc }).await? {
            Done::Verified(ok) => Ok(ok),
            Done::Hashed(_) => Err(PasswordError::Failed("unexpected answer".into())),
        }
    }

    async fn submit(&self, work: Work) -> Result<Done, PasswordError> {
        let (reply, answer) = oneshot::channel();
        match self.jobs.try_send(Job { work, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(PasswordError::Busy),
            Err(TrySendError::Disconnected(_)) => {
                return Err(PasswordError::Failed("no hashing thread is running".into()))
            }
        }
        answer
            .await
            .map_err(|_| PasswordError::Failed("the hashing thread stopped".into()))
    }
}

fn worker(rx: &Mutex<Receiver<Job>>, dummy: &str) {
    // Allocated on first use, then reused for every job of this thread.
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = {
            let rx = rx.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            rx.recv()
        };
        let Ok(job) = job else {
            return; // the pool was dropped
        };
        // The caller gave up (client gone): skip the work.
        if job.reply.is_closed() {
            continue;
        }
        let done = match job.work {
            Work::Hash { digest } => Done::Hashed(hash_with(&mut memory, digest.as_bytes())),
            Work::Verify { digest, phc } => {
                let phc = phc.as_deref().unwrap_or(dummy);
                Done::Verified(verify_with(&mut memory, digest.as_bytes(), phc))
            }
        };
        let _ = job.reply.send(done);
    }
}

fn memory_for(memory: &mut Vec<Block>, params: &Params) -> Result<(), PasswordError> {
    if params.m_cost() > MAX_M_COST_KIB {
        return Err(PasswordError::Failed(format!(
            "memory cost {} KiB is over the {MAX_M_COST_KIB} KiB allowed",
            params.m_cost()
        )));
    }
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::new());
    }
    Ok(())
}

fn hash_with(memory: &mut Vec<Block>, password: &[u8]) -> Result<String, PasswordError> {
    let failed = |e: &dyn std::fmt::Display| PasswordError::Failed(e.to_string());
    let params = Params::default();
    memory_for(memory, &params)?;
    let mut salt = [0u8; argon2::RECOMMENDED_SALT_LEN];
    OsRng.fill_bytes(&mut salt);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password, &salt, &mut out, &mut memory[..])
        .map_err(|e| failed(&e))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

fn verify_with(memory: &mut Vec<Block>, password: &[u8], phc: &str) -> bool {
    match try_verify(memory, password, phc) {
        Ok(ok) => ok,
        Err(e) => {
            tracing::error!(error = %e, "a stored password hash could not be checked");
            false
        }
    }
}

fn try_verify(memory: &mut Vec<Block>, password: &[u8], phc: &str) -> Result<bool, PasswordError> {
    let failed = |e: &dyn std::fmt::Display| PasswordError::Failed(e.to_string());
    let parsed = PasswordHash::new(phc).map_err(|e| failed(&e))?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| failed(&e))?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| failed(&e))?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(|e| failed(&e))?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(PasswordError::Failed("no salt or no hash".into()));
    };
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(|e| failed(&e))?;
    memory_for(memory, &params)?;
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..])
        .map_err(|e| failed(&e))?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out).map_err(|e| failed(&e))? == expected)
}

/// A well-formed argon2id hash with the default cost that no password matches.
fn dummy_hash() -> String {
    let params = Params::default();
    let salt = SaltString::encode_b64(&[0x5a; argon2::RECOMMENDED_SALT_LEN]);
    let output = Output::new(&[0u8; Params::DEFAULT_OUTPUT_LEN]);
    match (salt, output, (&params).try_into()) {
        (Ok(salt), Ok(output), Ok(params)) => PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        }
        .to_string(),
        // Unreachable with the constants above; an unparsable stand-in still fails
        // every check (only without the equal cost).
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    fn pool(threads: usize, queue: usize) -> PasswordPool {
        PasswordPool::new(PasswordPoolOptions { threads, queue })
    }

    #[tokio::test]
    async fn hashes_verify_both_ways_with_the_stock_argon2() {
        let pool = pool(1, 4);
        let ours = pool.hash("secret".into()).await.unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"secret", &parsed)
            .is_ok());
        // A hash made elsewhere (and with other parameters) checks here, twice with
        // the same reused memory.
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"other", &salt)
        .unwrap()
        .to_string();
        for _ in 0..2 {
            assert!(pool
                .verify("other".into(), Some(theirs.clone()))
                .await
                .unwrap());
            assert!(!pool
                .verify("wrong".into(), Some(theirs.clone()))
                .await
                .unwrap());
            assert!(pool
                .verify("secret".into(), Some(ours.clone()))
                .await
                .unwrap());
        }
    }

    #[tokio::test]
    async fn unknown_accounts_and_bad_hashes_never_match() {
        let pool = pool(1, 4);
        assert!(PasswordHash::new(&dummy_hash()).is_ok());
        assert!(!pool.verify("".into(), None).await.unwrap());
        assert!(!pool
            .verify("x".into(), Some("not a hash".into()))
            .await
            .unwrap());
        let huge = "$argon2id$v=19$m=4194304,t=1,p=1$WlpaWlpaWlpaWlpaWlpaWg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(!pool.verify("x".into(), Some(huge.into())).await.unwrap());
    }

    #[tokio::test]
    async fn refuses_beyond_the_queue() {
        let pool = pool(1, 1);
        // One job running, one queued; the rest are refused at once.
        let results =
            futures::future::join_all((0..8).map(|i| pool.verify(format!("p{i}"), None))).await;
        let busy = results
            .iter()
            .filter(|r| matches!(r, Err(PasswordError::Busy)))
            .count();
        let done = results.iter().filter(|r| matches!(r, Ok(false))).count();
        assert_eq!(busy + done, 8, "{results:?}");
        assert!(
            busy >= 1 && done >= 1,
            "8 at once on a 1-thread, 1-slot pool: {done} done, {busy} refused"
        );
        // Capacity comes back once the work is done.
        assert!(!pool.verify("again".into(), None).await.unwrap());
    }
}
