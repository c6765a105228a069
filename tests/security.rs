//! ACLs, authentication, TLS and hostile input, against real ZooKeeper servers configured
//! for each.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zkstruct::testing::{TestCertificates, ZkServer};
use zkstruct::{AclPolicy, Error, Event, Shared, TlsConfig, ZkShared};

use common::*;

const EVENT_TIMEOUT: Duration = Duration::from_secs(20);
const PASSWORD: &str = "s3cret-Pa55word";

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MonitorState {
    pub patterns: Vec<String>,
    pub interval_ms: u64,
}

fn seed() -> MonitorState {
    MonitorState { patterns: vec!["systemd*".into()], interval_ms: 1000 }
}

/// Runs a kazoo snippet and returns what it printed, or the name of the exception it
/// raised.
fn kazoo_try(servers: &str, snippet: &str) -> String {
    let indented = snippet.replace('\n', "\n    ");
    kazoo(
        servers,
        &format!("try:\n    {indented}\nexcept Exception as error:\n    print(type(error).__name__)"),
    )
    .trim()
    .to_owned()
}

#[tokio::test]
async fn creator_acl_rejects_other_writers() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("acl");
    let owner = Shared::builder(&servers, &dir)
        .digest_auth("alice", PASSWORD)
        .acl(AclPolicy::CreatorAllWorldRead)
        .create_or_open(seed())
        .await
        .unwrap();
    let payload = owner.payload_path().to_owned();

    // Unauthenticated foreign clients may read but not write.
    assert_eq!(kazoo_try(&servers, &format!("zk.set({payload:?}, b'{{}}')")), "NoAuthError");
    assert!(kazoo_try(&servers, &format!("print(zk.get({payload:?})[0].decode())")).contains("systemd*"));
    let authenticated = format!("zk.add_auth('digest', 'alice:{PASSWORD}')\nzk.set({payload:?}, b'{{\"patterns\": [], \"interval_ms\": 5}}')\nprint('written')");
    assert_eq!(kazoo_try(&servers, &authenticated), "written");

    // An instance without credentials opens and reads, but cannot update.
    let reader = Shared::<MonitorState>::builder(&servers, &dir).open(EVENT_TIMEOUT).await.unwrap();
    assert_eq!(reader.read_consistent().await.unwrap().interval_ms, 5);
    let rejected = reader.update(|s| s.interval_ms = 6).await;
    let Err(Error::NotAuthorized { operation, path }) = &rejected else {
        panic!("expected NotAuthorized, got {rejected:?}")
    };
    assert_eq!(*operation, "create");
    assert!(path.starts_with(&format!("{dir}/lock")), "{path}");
    assert_eq!(reader.read().unwrap().interval_ms, 5, "the local copy is unchanged");
    assert!(rejected.unwrap_err().to_string().contains("not authorized to create"));

    // Wrong credentials are a different identity, and are rejected the same way.
    let mallory = Shared::<MonitorState>::builder(&servers, &dir)
        .digest_auth("alice", "guess")
        .open(EVENT_TIMEOUT)
        .await
        .unwrap();
    assert!(matches!(mallory.update(|s| s.interval_ms = 7).await, Err(Error::NotAuthorized { .. })));

    // Another instance with the same credentials writes.
    let peer = Shared::<MonitorState>::builder(&servers, &dir)
        .digest_auth("alice", PASSWORD)
        .open(EVENT_TIMEOUT)
        .await
        .unwrap();
    peer.set_interval_ms(8).await.unwrap();
    assert_eq!(owner.read_consistent().await.unwrap().interval_ms, 8);
    assert!(kazoo_children(&servers, &format!("{dir}/lock")).is_empty());
}

#[tokio::test]
async fn creator_only_acl_hides_the_payload() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("private");
    let owner = Shared::builder(&servers, &dir)
        .digest_auth("alice", PASSWORD)
        .acl(AclPolicy::CreatorOnly)
        .create_or_open(seed())
        .await
        .unwrap();

    assert_eq!(kazoo_try(&servers, &format!("zk.get({:?})", owner.payload_path())), "NoAuthError");
    let outsider = Shared::<MonitorState>::builder(&servers, &dir).open(EVENT_TIMEOUT).await;
    let Err(Error::NotAuthorized { operation, .. }) = &outsider else {
        panic!("expected NotAuthorized, got {outsider:?}")
    };
    assert_eq!(*operation, "get_data");
}

#[tokio::test]
async fn creator_acl_without_credentials_is_rejected() {
    let result =
        Shared::builder("127.0.0.1:1", "/app").acl(AclPolicy::CreatorOnly).create_or_open(seed()).await;
    assert!(matches!(result, Err(Error::InvalidOption { option: "acl", .. })), "{result:?}");
}

/// A `tracing` writer that keeps everything written to it.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Credentials appear in no log line (down to the client's trace level), no `Debug`
/// output and no error message.
#[tokio::test(flavor = "current_thread")]
async fn credentials_stay_secret() {
    let logs = CapturedLogs::default();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(logs.clone()).finish();
    // The runtime has one thread, so every task of the handle logs through this subscriber.
    let _subscriber = tracing::subscriber::set_default(subscriber);
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("secret");

    let builder =
        Shared::builder(&servers, &dir).digest_auth("alice", PASSWORD).acl(AclPolicy::CreatorAllWorldRead);
    let mut texts = vec![format!("{builder:?}")];
    let owner = builder.create_or_open(seed()).await.unwrap();
    owner.set_interval_ms(5).await.unwrap();
    texts.push(format!("{owner:?}"));

    let intruder = Shared::<MonitorState>::builder(&servers, &dir).digest_auth("mallory", PASSWORD);
    texts.push(format!("{intruder:?}"));
    let intruder = intruder.open(EVENT_TIMEOUT).await.unwrap();
    let error = intruder.update(|s| s.interval_ms = 6).await.unwrap_err();
    texts.push(error.to_string());
    texts.push(format!("{error:?}"));
    let unreachable = Shared::<MonitorState>::builder("127.0.0.1:1", &dir)
        .digest_auth("alice", PASSWORD)
        .session_timeout(Duration::from_millis(500))
        .open(Duration::from_millis(100))
        .await
        .unwrap_err();
    texts.push(unreachable.to_string());
    texts.push(format!("{unreachable:?}"));
    drop((owner, intruder));

    texts.push(String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned());
    assert!(texts.last().unwrap().contains("ZooKeeper session established"), "the logs were captured");
    for text in &texts {
        assert!(!text.contains(PASSWORD), "the password leaked into: {text}");
    }
}

#[tokio::test]
async fn tls_server_accepts_verified_clients() {
    init_tracing();
    let certificates = TestCertificates::generate().unwrap();
    let server = ZkServer::builder().tls(certificates.server_tls(false)).start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("tls");

    let state = Shared::builder(&servers, &dir)
        .tls(TlsConfig::new(certificates.ca_pem()))
        .create_or_open(seed())
        .await
        .unwrap();
    state.set_interval_ms(5).await.unwrap();
    assert_eq!(state.read_consistent().await.unwrap().interval_ms, 5);

    // A plain connection to the TLS port gets no session.
    let plain = Shared::<MonitorState>::builder(&servers, &dir)
        .session_timeout(Duration::from_secs(1))
        .open(EVENT_TIMEOUT)
        .await;
    assert!(matches!(plain, Err(Error::Connect { .. })), "{plain:?}");
}

#[tokio::test]
async fn tls_wrong_ca_fails_clearly() {
    init_tracing();
    let certificates = TestCertificates::generate().unwrap();
    let other = TestCertificates::generate().unwrap();
    let server = ZkServer::builder().tls(certificates.server_tls(false)).start().await.unwrap();

    let started = std::time::Instant::now();
    let result = Shared::builder(server.connect_string(), unique_dir("wrong-ca"))
        .tls(TlsConfig::new(other.ca_pem()))
        .session_timeout(Duration::from_secs(2))
        .create_or_open(seed())
        .await;

    let Err(error) = result else { panic!("a server signed by another CA was accepted") };
    assert!(matches!(error, Error::Tls { .. }), "{error:?}");
    assert!(error.to_string().contains("certificate"), "{error}");
    assert!(started.elapsed() < EVENT_TIMEOUT, "the failure must not hang");

    let garbage = Shared::builder(server.connect_string(), unique_dir("bad-pem"))
        .tls(TlsConfig::new("not a certificate"))
        .create_or_open(seed())
        .await;
    assert!(matches!(garbage, Err(Error::Tls { .. })), "{garbage:?}");
}

#[tokio::test]
async fn tls_to_plaintext_port_fails() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let certificates = TestCertificates::generate().unwrap();

    let result = Shared::builder(server.connect_string(), unique_dir("tls-plain"))
        .tls(TlsConfig::new(certificates.ca_pem()))
        .session_timeout(Duration::from_secs(2))
        .create_or_open(seed())
        .await;
    let Err(error) = result else { panic!("TLS to a plaintext port succeeded") };
    assert!(matches!(error, Error::Tls { .. }), "{error:?}");
    assert!(error.to_string().contains("secureClientPort"), "{error}");
}

#[tokio::test]
async fn tls_client_certificate_when_required() {
    init_tracing();
    let certificates = TestCertificates::generate().unwrap();
    let server = ZkServer::builder().tls(certificates.server_tls(true)).start().await.unwrap();
    let dir = unique_dir("mtls");

    let anonymous = Shared::builder(server.connect_string(), &dir)
        .tls(TlsConfig::new(certificates.ca_pem()))
        .session_timeout(Duration::from_secs(2))
        .create_or_open(seed())
        .await;
    let Err(error) = anonymous else { panic!("a client without a certificate was accepted") };
    assert!(error.to_string().contains("with_client_identity"), "{error}");

    let identified = Shared::builder(server.connect_string(), &dir)
        .tls(
            TlsConfig::new(certificates.ca_pem())
                .with_client_identity(certificates.client_cert_pem(), certificates.client_key_pem()),
        )
        .create_or_open(seed())
        .await
        .unwrap();
    identified.set_interval_ms(9).await.unwrap();
}

#[tokio::test]
async fn sasl_digest_authenticates_sessions() {
    init_tracing();
    let server = ZkServer::builder().sasl_users(&[("alice", PASSWORD)]).start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("sasl");

    let state = Shared::builder(&servers, &dir)
        .sasl_digest_md5("alice", PASSWORD)
        .acl(AclPolicy::CreatorOnly)
        .create_or_open(seed())
        .await
        .unwrap();
    state.set_interval_ms(5).await.unwrap();

    let wrong = Shared::builder(&servers, &dir)
        .sasl_digest_md5("alice", "guess")
        .session_timeout(Duration::from_secs(2))
        .create_or_open(seed())
        .await;
    let Err(error) = wrong else { panic!("a wrong SASL password was accepted") };
    assert!(matches!(error, Error::AuthFailed { .. }), "{error:?}");
    assert!(!error.to_string().contains("guess"));
}

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Numbers {
    pub values: Vec<u64>,
    pub nested: Vec<Vec<u64>>,
}

/// A hostile payload within the size limit is rejected with an error, never a crash, and
/// the last good state stays.
#[tokio::test]
async fn hostile_payloads_are_rejected() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let state = Shared::builder(&servers, unique_dir("hostile"))
        .create_or_open(Numbers { values: vec![1], nested: vec![] })
        .await
        .unwrap();
    let mut events = state.subscribe();
    let path = state.payload_path().to_owned();

    let depth = 100_000;
    let deep = format!(r#"{{"values": [], "nested": {}{}}}"#, "[".repeat(depth), "]".repeat(depth));
    let deep_unknown =
        format!(r#"{{"values": [2], "nested": [], "x": {}0{}}}"#, "[".repeat(depth), "]".repeat(depth));
    let many = format!(r#"{{"values": [{}0], "nested": []}}"#, "0,".repeat(400_000));
    let cases = [
        (deep, "invalid type: sequence"),
        (r#"{"values": [1e400], "nested": []}"#.to_owned(), "number out of range"),
        (r#"{"values": [-1], "nested": []}"#.to_owned(), "invalid value"),
        ("\u{feff}{}".to_owned(), "expected value"),
    ];
    for (payload, expected) in cases {
        kazoo_set_bytes(&servers, &path, payload.as_bytes());
        let event = next_event(&mut events, EVENT_TIMEOUT).await;
        let Event::Failed(Error::Decode { source, .. }) = &event else {
            panic!("expected a decode failure, got {event:?}")
        };
        assert!(source.to_string().contains(expected), "{source}");
        assert_eq!(state.read().unwrap().values, [1]);
    }

    // Nesting under a key the struct does not declare is kept as raw text, without
    // recursion, and never overflows the stack.
    kazoo_set_bytes(&servers, &path, deep_unknown.as_bytes());
    let changes = next_changes(&mut events, EVENT_TIMEOUT).await;
    assert_eq!(changes.snapshot().values, [2]);

    // A long but well-formed payload within the limit decodes, and memory follows its size.
    kazoo_set_bytes(&servers, &path, many.as_bytes());
    let changes = next_changes(&mut events, EVENT_TIMEOUT).await;
    assert!(!changes.is_empty());
    assert_eq!(changes.snapshot().values.len(), 400_001);
}

#[tokio::test]
async fn chroot_connect_string_confines_the_nodes() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    kazoo(&servers, "zk.create('/tenant-a')");

    let state =
        Shared::builder(format!("{servers}/tenant-a"), "/monitor").create_or_open(seed()).await.unwrap();
    state.set_interval_ms(5).await.unwrap();

    assert_eq!(state.payload_path(), "/monitor/payload");
    let stored: MonitorState =
        serde_json::from_str(&kazoo_get(&servers, "/tenant-a/monitor/payload")).unwrap();
    assert_eq!(stored.interval_ms, 5);
    assert_eq!(kazoo_children(&servers, "/tenant-a/monitor/listeners").len(), 1);
}

/// Credentials are added again to the session that replaces an expired one, so writes
/// under a creator ACL keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_survive_session_expiry() {
    init_tracing();
    let server = ZkServer::start().await.unwrap();
    let proxy = zkstruct::testing::FaultProxy::start(format!("127.0.0.1:{}", server.port()).parse().unwrap())
        .await
        .unwrap();
    let state = Shared::builder(proxy.connect_string(), unique_dir("reauth"))
        .digest_auth("alice", PASSWORD)
        .acl(AclPolicy::CreatorOnly)
        .session_timeout(Duration::from_secs(2))
        .create_or_open(seed())
        .await
        .unwrap();
    let mut states = state.connection_states();
    let first_session = state.session_id();

    proxy.set_mode(zkstruct::testing::ProxyMode::Cut);
    wait_for(&mut states, zkstruct::ConnectionState::Expired).await;
    proxy.set_mode(zkstruct::testing::ProxyMode::Forward);
    wait_for(&mut states, zkstruct::ConnectionState::NewSession).await;

    assert_ne!(state.session_id(), first_session);
    state.set_interval_ms(5).await.unwrap();
    assert_eq!(state.read_consistent().await.unwrap().interval_ms, 5);
}

async fn wait_for(states: &mut zkstruct::ConnectionStates, expected: zkstruct::ConnectionState) {
    let found = tokio::time::timeout(EVENT_TIMEOUT, async {
        while let Some(state) = states.recv().await {
            if state == expected {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "no {expected:?} within {EVENT_TIMEOUT:?}");
}
