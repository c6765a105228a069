//! Credentials, TLS and ACLs: who an instance is to ZooKeeper, how it connects, and who may
//! touch the nodes it creates.
//!
//! Credentials are kept out of every `Debug` output, error message and log line.

use std::fmt;

use zookeeper_client::{Acl, Acls, Permission};

use crate::error::{Error, Result};

/// The protection of the nodes this library creates: `/<dir>`, its ancestors, the
/// payload, the lock and listener nodes.
///
/// ZooKeeper checks ACLs per node and per operation. `exists` is never checked, so any
/// client can see that the nodes exist.
///
/// ```
/// use zkstruct_core::acl::{Acl, AuthId, Permission};
/// use zkstruct_core::AclPolicy;
///
/// // The writer service may do anything; the auditors may only read.
/// let policy = AclPolicy::Custom(vec![
///     Acl::new(Permission::ALL, AuthId::new("digest", "writer:Xb3Pj/8Tq1CSW5ZK6Sx5NnBo2cU=")),
///     Acl::new(Permission::READ, AuthId::new("digest", "auditor:k2wdM+Cf0kEd0ZLcbzWI7YdaYzU=")),
/// ]);
/// assert_ne!(policy, AclPolicy::default());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AclPolicy {
    /// Anyone may read, write, create, delete and change ACLs (`world:anyone`, all
    /// rights), as ZooKeeper's `OPEN_ACL_UNSAFE`. The default, so instances work without
    /// credentials.
    #[default]
    Open,
    /// The authenticated identities of the creating session have all rights; everyone
    /// else may only read. Other instances must use the same credentials to write.
    CreatorAllWorldRead,
    /// Only the authenticated identities of the creating session have any rights; others
    /// can neither read nor write.
    CreatorOnly,
    /// An explicit list, such as several `digest` identities with different rights.
    Custom(Vec<Acl>),
}

static CREATOR_ALL_WORLD_READ: [Acl; 2] =
    [Acl::new_const(Permission::ALL, "auth", ""), Acl::new_const(Permission::READ, "world", "anyone")];

impl AclPolicy {
    /// Returns the ACL list to create nodes with.
    pub(crate) fn acls(&self) -> Acls<'_> {
        match self {
            AclPolicy::Open => Acls::anyone_all(),
            AclPolicy::CreatorAllWorldRead => Acls::new(&CREATOR_ALL_WORLD_READ),
            AclPolicy::CreatorOnly => Acls::creator_all(),
            AclPolicy::Custom(acls) => Acls::new(acls),
        }
    }

    /// Returns `true` if the policy grants rights to the creator's authenticated
    /// identities, which requires credentials.
    fn needs_credentials(&self) -> bool {
        let by_creator = |acl: &Acl| acl.scheme() == "auth";
        match self {
            AclPolicy::Open => false,
            AclPolicy::CreatorAllWorldRead | AclPolicy::CreatorOnly => true,
            AclPolicy::Custom(acls) => acls.iter().any(by_creator),
        }
    }
}

/// A credential added to every session, such as a `digest` user and password.
#[derive(Clone)]
pub(crate) struct AuthCredential {
    pub(crate) scheme: String,
    pub(crate) secret: Vec<u8>,
}

impl fmt::Debug for AuthCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthCredential").field("scheme", &self.scheme).finish_non_exhaustive()
    }
}

/// A SASL DIGEST-MD5 user and password.
#[cfg(feature = "sasl")]
#[derive(Clone)]
pub(crate) struct SaslCredential {
    pub(crate) user: String,
    pub(crate) password: String,
}

/// TLS settings for connections to the servers.
///
/// The server certificate is verified against the given CA certificates, including its
/// host name or IP address. A client certificate is sent when the server requests one.
///
/// ```no_run
/// # fn demo() -> std::io::Result<()> {
/// use zkstruct_core::TlsConfig;
///
/// let tls = TlsConfig::new(std::fs::read_to_string("/etc/zookeeper/tls/ca.pem")?).with_client_identity(
///     std::fs::read_to_string("/etc/zookeeper/tls/client.pem")?,
///     std::fs::read_to_string("/etc/zookeeper/tls/client.key")?,
/// );
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "tls")]
#[derive(Clone)]
pub struct TlsConfig {
    ca_pem: String,
    identity: Option<(String, String)>,
}

#[cfg(feature = "tls")]
impl TlsConfig {
    /// Creates settings that trust the CA certificates in `ca_pem` (PEM text).
    pub fn new(ca_pem: impl Into<String>) -> Self {
        TlsConfig { ca_pem: ca_pem.into(), identity: None }
    }

    /// Adds a client certificate chain and its private key (both PEM text), for servers
    /// that require client authentication.
    pub fn with_client_identity(mut self, cert_pem: impl Into<String>, key_pem: impl Into<String>) -> Self {
        self.identity = Some((cert_pem.into(), key_pem.into()));
        self
    }

    pub(crate) fn to_options(&self) -> Result<zookeeper_client::TlsOptions> {
        let invalid =
            |what: &str, error: zookeeper_client::Error| Error::Tls { reason: format!("{what}: {error}") };
        let mut options = zookeeper_client::TlsOptions::new()
            .with_pem_ca(&self.ca_pem)
            .map_err(|error| invalid("invalid CA certificates", error))?;
        if let Some((cert, key)) = &self.identity {
            options = options
                .with_pem_identity(cert, key)
                .map_err(|error| invalid("invalid client certificate or key", error))?;
        }
        Ok(options)
    }
}

#[cfg(feature = "tls")]
impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig").field("client_identity", &self.identity.is_some()).finish_non_exhaustive()
    }
}

/// Tries a TLS handshake with the servers of the connect string, to turn a certificate
/// that does not verify into a clear error: the client would only retry until its
/// connection times out.
///
/// Returns the error of the first server that responded but failed the handshake, or
/// `None` when a handshake succeeded or no server responded.
#[cfg(feature = "tls")]
pub(crate) async fn probe_tls(servers: &str, config: &TlsConfig) -> Option<Error> {
    let servers = servers.to_owned();
    let config = config.clone();
    tokio::task::spawn_blocking(move || probe_tls_blocking(&servers, &config)).await.ok().flatten()
}

#[cfg(feature = "tls")]
fn probe_tls_blocking(servers: &str, config: &TlsConfig) -> Option<Error> {
    use std::io::ErrorKind;
    use std::net::{TcpStream, ToSocketAddrs};
    use std::sync::Arc;
    use std::time::Duration;

    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls_pemfile::certs(&mut config.ca_pem.as_bytes()) {
        roots.add(certificate.ok()?).ok()?;
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    let client_config = match &config.identity {
        Some((certificate, key)) => {
            let chain = rustls_pemfile::certs(&mut certificate.as_bytes())
                .collect::<std::result::Result<_, _>>()
                .ok()?;
            let key = rustls_pemfile::private_key(&mut key.as_bytes()).ok()??;
            builder.with_client_auth_cert(chain, key).ok()?
        }
        None => builder.with_no_client_auth(),
    };
    let client_config = Arc::new(client_config);

    let timeout = Duration::from_secs(3);
    // A server that closes the connection during the handshake is no proof by itself, but
    // when no server completes one, it is the likeliest cause.
    let mut closed = None;
    for (host, port) in tls_endpoints(servers) {
        let Ok(server_name) = rustls::pki_types::ServerName::try_from(host.clone()) else { continue };
        let Ok(addresses) = (host.as_str(), port).to_socket_addrs() else { continue };
        for address in addresses {
            let Ok(mut stream) = TcpStream::connect_timeout(&address, timeout) else { continue };
            let _ = stream.set_read_timeout(Some(timeout));
            let _ = stream.set_write_timeout(Some(timeout));
            let mut connection =
                rustls::ClientConnection::new(client_config.clone(), server_name.clone()).ok()?;
            while connection.is_handshaking() {
                match connection.complete_io(&mut stream) {
                    Ok(_) => {}
                    Err(error) if error.kind() == ErrorKind::InvalidData => {
                        let text = error.to_string();
                        let hint = if text.contains("BadCertificate") || text.contains("CertificateRequired")
                        {
                            "; the server did not accept this client: give it a certificate the server \
                             trusts with TlsConfig::with_client_identity"
                        } else if text.contains("invalid peer certificate") {
                            "; check that the CA given to TlsConfig::new signed the server's certificate"
                        } else {
                            ""
                        };
                        return Some(Error::Tls {
                            reason: format!("handshake with {address} failed: {text}{hint}"),
                        });
                    }
                    Err(error)
                        if matches!(
                            error.kind(),
                            ErrorKind::UnexpectedEof
                                | ErrorKind::ConnectionReset
                                | ErrorKind::ConnectionAborted
                        ) =>
                    {
                        closed = Some(format!(
                            "{address} closed the connection during the TLS handshake ({error}): the port \
                             may serve plaintext only (use the server's secureClientPort), or the server \
                             requires a client certificate"
                        ));
                        break;
                    }
                    Err(_) => break,
                }
            }
            if !connection.is_handshaking() {
                return None;
            }
        }
    }
    closed.map(|reason| Error::Tls { reason })
}

/// Lists the `(host, port)` pairs of a connect string that use TLS: every server not
/// written as `tcp://host:port`. The port defaults to 2181, as in the client.
#[cfg(feature = "tls")]
fn tls_endpoints(servers: &str) -> Vec<(String, u16)> {
    servers
        .split(',')
        .filter(|entry| !entry.starts_with("tcp://"))
        .filter_map(|entry| {
            let entry = entry.strip_prefix("tcp+tls://").unwrap_or(entry);
            // The last entry carries the chroot, if any.
            let address = entry.split('/').next().unwrap_or(entry);
            parse_address(address)
        })
        .collect()
}

#[cfg(feature = "tls")]
fn parse_address(address: &str) -> Option<(String, u16)> {
    let port = |text: &str| text.parse::<u16>().ok();
    if let Some(bracketed) = address.strip_prefix('[') {
        let (host, rest) = bracketed.split_once(']')?;
        let port = match rest.strip_prefix(':') {
            Some(text) => port(text)?,
            None => 2181,
        };
        return Some((host.to_owned(), port));
    }
    match address.rsplit_once(':') {
        Some((host, text)) => Some((host.to_owned(), port(text)?)),
        None => Some((address.to_owned(), 2181)),
    }
}

/// Everything that identifies an instance to ZooKeeper and protects its nodes.
#[derive(Clone, Default)]
pub(crate) struct Security {
    pub(crate) credentials: Vec<AuthCredential>,
    #[cfg(feature = "sasl")]
    pub(crate) sasl: Option<SaslCredential>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<TlsConfig>,
    pub(crate) acl: AclPolicy,
}

impl Security {
    fn has_credentials(&self) -> bool {
        #[cfg(feature = "sasl")]
        if self.sasl.is_some() {
            return true;
        }
        !self.credentials.is_empty()
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.acl.needs_credentials() && !self.has_credentials() {
            return Err(Error::InvalidOption {
                option: "acl",
                reason: "this policy grants rights to the creator's credentials, so add credentials with digest_auth()",
            });
        }
        for credential in &self.credentials {
            if credential.scheme.is_empty() {
                return Err(Error::InvalidOption { option: "auth", reason: "the scheme must not be empty" });
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Security");
        debug.field("credentials", &self.credentials);
        #[cfg(feature = "sasl")]
        debug.field("sasl", &self.sasl.as_ref().map(|_| "<redacted>"));
        #[cfg(feature = "tls")]
        debug.field("tls", &self.tls);
        debug.field("acl", &self.acl).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let security = Security {
            credentials: vec![AuthCredential {
                scheme: "digest".into(),
                secret: b"alice:s3cret-pass".to_vec(),
            }],
            ..Security::default()
        };

        let debug = format!("{security:?}");

        assert!(debug.contains("digest"), "{debug}");
        assert!(!debug.contains("s3cret-pass"), "{debug}");
        assert!(!debug.contains("alice"), "{debug}");
    }

    #[cfg(feature = "tls")]
    #[test]
    fn tls_endpoints_skip_plain_servers_and_the_chroot() {
        let endpoints = tls_endpoints("a:1,tcp://b:2,tcp+tls://[::1]:3,c/apps/x");
        assert_eq!(endpoints, [("a".to_owned(), 1), ("::1".to_owned(), 3), ("c".to_owned(), 2181)]);
    }

    #[test]
    fn creator_policies_need_credentials() {
        let security = Security { acl: AclPolicy::CreatorOnly, ..Security::default() };
        assert!(matches!(security.validate(), Err(Error::InvalidOption { option: "acl", .. })));

        let open = Security::default();
        assert!(open.validate().is_ok());
    }
}
