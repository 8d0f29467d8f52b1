//! An OpenLDAP directory for the LDAP tests: Debian's `slapd` (installed with
//! apt-get, once, under a lock, when missing), started per test from a generated
//! `slapd.conf` in a temp dir, with an MDB database seeded offline by `slapadd`,
//! the ppolicy overlay (for `pwdAccountLockedTime`), and plain, StartTLS and LDAPS
//! listeners on free loopback ports with a certificate signed by a CA made for the
//! test. Dropping the [`Slapd`] kills it (it also dies with the test process).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use tempfile::TempDir;

use crate::net::free_port;
use crate::process::{die_with_parent, target_dir};

const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";
const LDAPMODIFY: &str = "/usr/bin/ldapmodify";

/// The directory's suffix, manager and manager password.
pub const BASE_DN: &str = "dc=palaver,dc=test";
pub const ADMIN_DN: &str = "cn=admin,dc=palaver,dc=test";
pub const ADMIN_PASSWORD: &str = "directory-secret";
/// Where people and groups live.
pub const PEOPLE_DN: &str = "ou=people,dc=palaver,dc=test";
pub const GROUPS_DN: &str = "ou=groups,dc=palaver,dc=test";

fn installed() -> bool {
    [SLAPD, SLAPADD, LDAPMODIFY]
        .iter()
        .all(|p| Path::new(p).exists())
}

/// Installs `slapd` and `ldap-utils` with apt-get when missing.
pub fn ensure_slapd() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        if installed() {
            return;
        }
        let target = target_dir();
        fs::create_dir_all(&target).expect("create the target directory");
        let lock_path = target.join("slapd-install.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .unwrap_or_else(|e| panic!("open {}: {e}", lock_path.display()));
        use std::os::fd::AsRawFd;
        let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "lock {}", lock_path.display());
        if installed() {
            return;
        }
        eprintln!("LDAP tests: installing slapd and ldap-utils with apt-get");
        let packages = [
            "install",
            "-y",
            "--no-install-recommends",
            "slapd",
            "ldap-utils",
        ];
        if let Err(first) = crate::browser::run_apt(&packages) {
            eprintln!("LDAP tests: {first}\nretrying after apt-get update");
            crate::browser::run_apt(&["update"]).unwrap_or_else(|e| panic!("{first}\n{e}"));
            crate::browser::run_apt(&packages)
                .unwrap_or_else(|e| panic!("the LDAP tests need slapd: {e}"));
        }
        assert!(
            installed(),
            "apt-get installed slapd but {SLAPD} is missing"
        );
    });
}

/// A person to seed.
#[derive(Clone, Debug)]
pub struct Person {
    pub uid: String,
    pub cn: String,
    pub mail: String,
    pub password: String,
}

impl Person {
    pub fn new(uid: &str, cn: &str, password: &str) -> Person {
        Person {
            uid: uid.into(),
            cn: cn.into(),
            mail: format!("{uid}@corp.test"),
            password: password.into(),
        }
    }

    pub fn dn(&self) -> String {
        format!("uid={},{PEOPLE_DN}", self.uid)
    }

    pub fn ldif(&self) -> String {
        format!(
            "dn: {}\nobjectClass: inetOrgPerson\nuid: {}\ncn: {}\nsn: {}\nmail: {}\nuserPassword: {}\n\n",
            self.dn(),
            self.uid,
            self.cn,
            self.cn.split(' ').next_back().unwrap_or("x"),
            self.mail,
            self.password
        )
    }
}

/// A `posixGroup` with `memberUid`s (what Rocket.Chat's default group filter reads).
pub fn group_ldif(cn: &str, gid: u32, members: &[&str]) -> String {
    let mut s =
        format!("dn: cn={cn},{GROUPS_DN}\nobjectClass: posixGroup\ncn: {cn}\ngidNumber: {gid}\n");
    for m in members {
        s.push_str(&format!("memberUid: {m}\n"));
    }
    s.push('\n');
    s
}

/// The test CA and the server's certificate (for 127.0.0.1 and localhost).
pub struct TestPki {
    pub ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl TestPki {
    pub fn new() -> TestPki {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "Palaver LDAP test CA");
        let ca_cert = ca.self_signed(&ca_key).expect("self-sign the CA");
        let key = KeyPair::generate().expect("server key");
        let mut leaf =
            CertificateParams::new(vec!["localhost".to_string()]).expect("server params");
        leaf.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().expect("address")));
        leaf.distinguished_name
            .push(DnType::CommonName, "localhost");
        let cert = leaf
            .signed_by(&key, &ca_cert, &ca_key)
            .expect("sign the server certificate");
        TestPki {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

impl Default for TestPki {
    fn default() -> Self {
        TestPki::new()
    }
}

/// A running slapd.
pub struct Slapd {
    dir: TempDir,
    child: Option<Child>,
    /// `ldap://` (plain and StartTLS).
    pub port: u16,
    /// `ldaps://`.
    pub tls_port: u16,
    pub pki: TestPki,
}

impl Slapd {
    /// Starts a directory holding `seed` (LDIF entries below the people and groups OUs).
    pub fn start(seed: &str) -> Slapd {
        ensure_slapd();
        let dir = TempDir::new().expect("temp dir");
        let pki = TestPki::new();
        let path = dir.path();
        fs::create_dir_all(path.join("db")).expect("db dir");
        fs::write(path.join("ca.pem"), &pki.ca_pem).expect("write CA");
        fs::write(path.join("cert.pem"), &pki.cert_pem).expect("write cert");
        fs::write(path.join("key.pem"), &pki.key_pem).expect("write key");
        let conf = format!(
            "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
pidfile {p}/slapd.pid
TLSCACertificateFile {p}/ca.pem
TLSCertificateFile {p}/cert.pem
TLSCertificateKeyFile {p}/key.pem
database mdb
maxsize 67108864
suffix \"{BASE_DN}\"
rootdn \"{ADMIN_DN}\"
rootpw {ADMIN_PASSWORD}
directory {p}/db
overlay ppolicy
access to attrs=userPassword by anonymous auth by self write by * none
access to * by * read
",
            p = path.display()
        );
        fs::write(path.join("slapd.conf"), conf).expect("write slapd.conf");
        let base = format!(
            "dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: palaver\no: Palaver Test\n\n\
             dn: {PEOPLE_DN}\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: {GROUPS_DN}\nobjectClass: organizationalUnit\nou: groups\n\n{seed}"
        );
        fs::write(path.join("seed.ldif"), base).expect("write seed");
        let out = Command::new(SLAPADD)
            .arg("-f")
            .arg(path.join("slapd.conf"))
            .arg("-l")
            .arg(path.join("seed.ldif"))
            .output()
            .expect("run slapadd");
        assert!(
            out.status.success(),
            "slapadd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let tls_port = free_port();
        let log = fs::File::create(path.join("slapd.log")).expect("log");
        let mut cmd = Command::new(SLAPD);
        cmd.arg("-f")
            .arg(path.join("slapd.conf"))
            .arg("-h")
            .arg(format!(
                "ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/"
            ))
            .args(["-d", "0"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        die_with_parent(&mut cmd);
        let child = cmd.spawn().expect("start slapd");
        let mut slapd = Slapd {
            dir,
            child: Some(child),
            port,
            tls_port,
            pki,
        };
        slapd.wait_ready();
        slapd
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let up = TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && TcpStream::connect(("127.0.0.1", self.tls_port)).is_ok();
            if up {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("slapd exited ({status}): {}", self.log());
                }
            }
            assert!(
                Instant::now() < deadline,
                "slapd did not listen within 20s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    /// The temp dir holding the configuration.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Applies an LDIF change set (`changetype: add|modify|delete`) as the manager.
    pub fn modify(&self, ldif: &str) {
        let mut child = Command::new(LDAPMODIFY)
            .args(["-x", "-H"])
            .arg(format!("ldap://127.0.0.1:{}", self.port))
            .args(["-D", ADMIN_DN, "-w", ADMIN_PASSWORD])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ldapmodify");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(ldif.as_bytes())
            .expect("write LDIF");
        let out = child.wait_with_output().expect("ldapmodify");
        assert!(
            out.status.success(),
            "ldapmodify failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            ldif
        );
    }

    /// Stops the server (to test a directory that is down).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}
