//! One connection to the directory: connect (plain, StartTLS or LDAPS with the
//! configured CA), service bind, user and group searches (paged), and the bind as a
//! user that checks their password.

use std::collections::HashMap;
use std::sync::Arc;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{ldap_escape, Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};

use super::config::{Encryption, LdapConfig, SearchScope};
use super::LdapError;

/// Operational attributes asked for next to the user attributes (`*`): the unique
/// identifier candidates and the account-lock markers.
const OPERATIONAL: &[&str] = &[
    "entryUUID",
    "nsUniqueId",
    "pwdAccountLockedTime",
    "nsAccountLock",
    "memberOf",
];

/// One directory entry: its DN, text attributes and binary ones (e.g. `objectGUID`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entry {
    pub dn: String,
    pub attrs: HashMap<String, Vec<String>>,
    pub bin_attrs: HashMap<String, Vec<Vec<u8>>>,
}

impl Entry {
    /// The first value of `name` (attribute names compare case-insensitively).
    pub fn first(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }

    /// The first photo among `fields` (binary, or text for a mis-typed schema).
    pub fn photo(&self, fields: &[String]) -> Option<&[u8]> {
        fields.iter().find_map(|f| {
            self.first_bin(f)
                .or_else(|| self.first(f).map(str::as_bytes))
                .filter(|v| !v.is_empty())
        })
    }

    fn first_bin(&self, name: &str) -> Option<&[u8]> {
        self.bin_attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.first())
            .map(Vec::as_slice)
    }

    /// The first of `fields` the entry has, as (attribute, value); a binary value
    /// (Active Directory's `objectGUID`) as lower-case hex.
    pub fn unique_id(&self, fields: &[String]) -> Option<(String, String)> {
        fields.iter().find_map(|f| {
            if let Some(v) = self.first(f).filter(|v| !v.is_empty()) {
                return Some((f.clone(), v.to_string()));
            }
            self.first_bin(f)
                .filter(|v| !v.is_empty())
                .map(|v| (f.clone(), hex::encode(v)))
        })
    }

    /// Whether the directory marks the account disabled or locked: Active
    /// Directory's `userAccountControl` ACCOUNTDISABLE bit (2), OpenLDAP's ppolicy
    /// `pwdAccountLockedTime`, 389-DS / Oracle's `nsAccountLock`.
    pub fn is_disabled(&self) -> bool {
        let uac = self
            .first("userAccountControl")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .is_some_and(|v| v & 2 != 0);
        let locked = self
            .first("pwdAccountLockedTime")
            .is_some_and(|v| !v.trim().is_empty());
        let ns = self
            .first("nsAccountLock")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        uac || locked || ns
    }

    fn from_search(e: SearchEntry) -> Entry {
        Entry {
            dn: e.dn,
            attrs: e.attrs,
            bin_attrs: e.bin_attrs,
        }
    }
}

/// Replaces `#{name}` placeholders with filter-escaped values.
pub fn fill_filter(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in vars {
        out = out.replace(&format!("#{{{name}}}"), &ldap_escape(*value));
    }
    out
}

/// `(&<filter>(|(<field>=<name>)…))` with the name escaped.
pub fn user_filter(cfg: &LdapConfig, login: &str) -> String {
    let escaped = ldap_escape(login);
    let fields: String = cfg
        .search_fields
        .iter()
        .map(|f| format!("({f}={escaped})"))
        .collect();
    let by_name = if cfg.search_fields.len() == 1 {
        fields
    } else {
        format!("(|{fields})")
    };
    match wrap(&cfg.user_filter) {
        Some(base) => format!("(&{base}{by_name})"),
        None => by_name,
    }
}

/// The configured filter with parentheses, or `None` when empty.
fn wrap(filter: &str) -> Option<String> {
    let f = filter.trim();
    if f.is_empty() {
        None
    } else if f.starts_with('(') {
        Some(f.to_string())
    } else {
        Some(format!("({f})"))
    }
}

fn scope(s: SearchScope) -> Scope {
    match s {
        SearchScope::Base => Scope::Base,
        SearchScope::One => Scope::OneLevel,
        SearchScope::Sub => Scope::Subtree,
    }
}

fn op_err(e: ldap3::LdapError) -> LdapError {
    LdapError::Operation(e.to_string())
}

/// The TLS client configuration: the system's roots plus the configured CA.
fn tls_config(pem: &str) -> Result<Arc<rustls::ClientConfig>, LdapError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| LdapError::Config(format!("LDAP_CA_Cert: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| LdapError::Config(format!("LDAP_CA_Cert: {e}")))?;
        added += 1;
    }
    if added == 0 {
        return Err(LdapError::Config(
            "LDAP_CA_Cert holds no PEM certificate".into(),
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| LdapError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// An open, service-bound connection.
pub struct Directory {
    ldap: Ldap,
    cfg: Arc<LdapConfig>,
}

impl Directory {
    /// Connects and does the service bind (or stays anonymous).
    pub async fn connect(cfg: Arc<LdapConfig>) -> Result<Directory, LdapError> {
        if cfg.host.is_empty() {
            return Err(LdapError::Config("LDAP_Host is empty".into()));
        }
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(cfg.connect_timeout)
            .set_starttls(cfg.encryption == Encryption::StartTls);
        if cfg.encryption != Encryption::Plain {
            if !cfg.reject_unauthorized {
                settings = settings.set_no_tls_verify(true);
            } else if !cfg.ca_pem.trim().is_empty() {
                settings = settings.set_config(tls_config(&cfg.ca_pem)?);
            }
        }
        let url = cfg.url();
        let connect = LdapConnAsync::with_settings(settings, &url);
        let (conn, mut ldap) = tokio::time::timeout(cfg.connect_timeout + cfg.timeout, connect)
            .await
            .map_err(|_| LdapError::Unreachable(format!("{url}: timed out")))?
            .map_err(|e| LdapError::Unreachable(format!("{url}: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended");
            }
        });
        ldap.with_timeout(cfg.timeout);
        let mut dir = Directory { ldap, cfg };
        dir.service_bind().await?;
        Ok(dir)
    }

    async fn service_bind(&mut self) -> Result<(), LdapError> {
        if let Some((dn, password)) = &self.cfg.bind {
            let result = self
                .ldap
                .with_timeout(self.cfg.timeout)
                .simple_bind(dn, password)
                .await
                .map_err(|e| LdapError::Unreachable(e.to_string()))?;
            result
                .success()
                .map_err(|e| LdapError::ServiceBind(e.to_string()))?;
        }
        Ok(())
    }

    fn attrs(&self) -> Vec<String> {
        let mut attrs = vec!["*".to_string()];
        attrs.extend(OPERATIONAL.iter().map(|a| a.to_string()));
        attrs.extend(self.cfg.unique_fields.iter().cloned());
        attrs
    }

    /// The one entry `login` names, if exactly one matches.
    pub async fn find_user(&mut self, login: &str) -> Result<Option<Entry>, LdapError> {
        let filter = user_filter(&self.cfg, login);
        let mut found = self.search(&filter, 2).await?;
        if found.len() == 1 {
            Ok(found.pop())
        } else {
            if found.len() > 1 {
                tracing::warn!("LDAP login name matches several entries; refused");
            }
            Ok(None)
        }
    }

    /// Every entry the user filter selects (paged), for the sync.
    pub async fn all_users(&mut self) -> Result<Vec<Entry>, LdapError> {
        let filter = wrap(&self.cfg.user_filter).unwrap_or_else(|| "(objectClass=*)".into());
        self.search(&filter, 0).await
    }

    /// Searches the base DN with the configured scope; `limit` 0 = no limit.
    async fn search(&mut self, filter: &str, limit: i32) -> Result<Vec<Entry>, LdapError> {
        let base = self.cfg.base_dn.clone();
        let scope = scope(self.cfg.scope);
        let limit = if limit == 0 {
            self.cfg.size_limit.max(0)
        } else {
            limit
        };
        let mut adapters: Vec<Box<dyn Adapter<'_, String, Vec<String>>>> =
            vec![Box::new(EntriesOnly::new())];
        if self.cfg.page_size > 0 {
            adapters.push(Box::new(PagedResults::new(self.cfg.page_size)));
        }
        if limit > 0 {
            self.ldap
                .with_search_options(ldap3::SearchOptions::new().sizelimit(limit));
        }
        let attrs = self.attrs();
        let mut stream = self
            .ldap
            .with_timeout(self.cfg.timeout)
            .streaming_search_with(adapters, &base, scope, filter, attrs)
            .await
            .map_err(op_err)?;
        let mut out = Vec::new();
        loop {
            match stream.next().await {
                Ok(Some(e)) => out.push(Entry::from_search(SearchEntry::construct(e))),
                Ok(None) => break,
                Err(e) => return Err(op_err(e)),
            }
        }
        let res = stream.finish().await;
        // Size limit exceeded (4) still returns what was found.
        if res.rc != 0 && res.rc != 4 {
            return Err(LdapError::Operation(format!(
                "search failed: {} {}",
                res.rc, res.text
            )));
        }
        Ok(out)
    }

    /// Whether `password` is `dn`'s: a bind as the user, then back to the service
    /// account. An empty password is refused up front (it would be an anonymous bind).
    pub async fn check_password(&mut self, dn: &str, password: &str) -> Result<bool, LdapError> {
        if password.is_empty() {
            return Ok(false);
        }
        let result = self
            .ldap
            .with_timeout(self.cfg.timeout)
            .simple_bind(dn, password)
            .await
            .map_err(|e| LdapError::Unreachable(e.to_string()))?;
        let ok = result.rc == 0;
        // 49: invalidCredentials; anything else is the directory failing.
        if !ok && result.rc != 49 {
            return Err(LdapError::Operation(format!(
                "bind failed: {} {}",
                result.rc, result.text
            )));
        }
        self.service_bind().await?;
        Ok(ok)
    }

    /// Whether any entry under `base` (default: the base DN) matches `filter`.
    pub async fn any_match(&mut self, base: &str, filter: &str) -> Result<bool, LdapError> {
        let base = if base.trim().is_empty() {
            self.cfg.base_dn.clone()
        } else {
            base.to_string()
        };
        let (entries, res) = self
            .ldap
            .with_timeout(self.cfg.timeout)
            .search(&base, Scope::Subtree, filter, vec!["1.1"])
            .await
            .map_err(op_err)?
            .success()
            .map(|(e, _)| (e, 0))
            .or_else(|e| match e {
                ldap3::LdapError::LdapResult { result } if result.rc == 32 => Ok((vec![], 32)),
                other => Err(op_err(other)),
            })?;
        let _ = res;
        Ok(!entries.is_empty())
    }

    /// Ends the session politely.
    pub async fn close(mut self) {
        let _ = self.ldap.unbind().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_escape_the_login_name() {
        assert_eq!(
            fill_filter(
                "(&(cn=#{groupName})(memberUid=#{username}))",
                &[("groupName", "a*"), ("username", "x)(y")]
            ),
            "(&(cn=a\\2a)(memberUid=x\\29\\28y))"
        );
    }

    #[test]
    fn disabled_markers() {
        let mut e = Entry::default();
        assert!(!e.is_disabled());
        e.attrs
            .insert("userAccountControl".into(), vec!["514".into()]);
        assert!(e.is_disabled());
        e.attrs
            .insert("userAccountControl".into(), vec!["512".into()]);
        assert!(!e.is_disabled());
        e.attrs
            .insert("pwdAccountLockedTime".into(), vec!["000001010000Z".into()]);
        assert!(e.is_disabled());
    }

    #[test]
    fn unique_id_prefers_the_first_field_and_hexes_binary() {
        let mut e = Entry::default();
        e.attrs.insert("uid".into(), vec!["alice".into()]);
        e.bin_attrs
            .insert("objectGUID".into(), vec![vec![0xab, 0x01]]);
        let fields = vec!["objectGUID".to_string(), "uid".to_string()];
        assert_eq!(
            e.unique_id(&fields),
            Some(("objectGUID".into(), "ab01".into()))
        );
    }
}
