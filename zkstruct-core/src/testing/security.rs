//! Certificates and server settings for tests of TLS and SASL.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA, a server certificate it signed (for `127.0.0.1` and `localhost`) and a client
/// certificate it signed, made with the `openssl` and `keytool` commands in a temporary
/// directory.
#[derive(Debug)]
pub struct TestCertificates {
    dir: tempfile::TempDir,
}

/// The password of the generated key stores.
const STORE_PASSWORD: &str = "zkstruct-test";

impl TestCertificates {
    /// Generates the certificates.
    ///
    /// # Errors
    ///
    /// Fails when `openssl` or `keytool` is missing or fails; the error includes its output.
    pub fn generate() -> io::Result<TestCertificates> {
        let dir = tempfile::Builder::new().prefix("zkstruct-certs-").tempdir()?;
        let path = dir.path();
        let run = |program: &str, args: &[&str]| run(path, program, args);

        run(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=zkstruct test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        )?;
        std::fs::write(path.join("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n")?;
        // Extensions make the client certificate X.509 v3, which rustls requires.
        std::fs::write(path.join("client.ext"), "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")?;
        for name in ["server", "client"] {
            let key = format!("{name}.key");
            let request = format!("{name}.csr");
            let certificate = format!("{name}.pem");
            let subject = format!("/CN=zkstruct test {name}");
            run(
                "openssl",
                &[
                    "req", "-newkey", "rsa:2048", "-nodes", "-subj", &subject, "-keyout", &key, "-out",
                    &request,
                ],
            )?;
            let mut sign = vec![
                "x509",
                "-req",
                "-in",
                &request,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &certificate,
            ];
            let extensions = format!("{name}.ext");
            sign.extend(["-extfile", &extensions]);
            run("openssl", &sign)?;
        }
        let password = format!("pass:{STORE_PASSWORD}");
        run(
            "openssl",
            &[
                "pkcs12",
                "-export",
                "-in",
                "server.pem",
                "-inkey",
                "server.key",
                "-certfile",
                "ca.pem",
                "-out",
                "server.p12",
                "-passout",
                &password,
            ],
        )?;
        run(
            "keytool",
            &[
                "-importcert",
                "-noprompt",
                "-alias",
                "ca",
                "-file",
                "ca.pem",
                "-keystore",
                "trust.p12",
                "-storetype",
                "PKCS12",
                "-storepass",
                STORE_PASSWORD,
            ],
        )?;
        Ok(TestCertificates { dir })
    }

    /// Returns the CA certificate, PEM text.
    pub fn ca_pem(&self) -> String {
        self.read("ca.pem")
    }

    /// Returns the client certificate, PEM text.
    pub fn client_cert_pem(&self) -> String {
        self.read("client.pem")
    }

    /// Returns the client's private key, PEM text.
    pub fn client_key_pem(&self) -> String {
        self.read("client.key")
    }

    /// Returns the server settings that serve clients only over TLS with these
    /// certificates; with `require_client_certificate`, clients must present one that the
    /// CA signed.
    pub fn server_tls(&self, require_client_certificate: bool) -> ServerTls {
        ServerTls {
            keystore: self.dir.path().join("server.p12"),
            truststore: self.dir.path().join("trust.p12"),
            password: STORE_PASSWORD.to_owned(),
            require_client_certificate,
        }
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

fn run(dir: &Path, program: &str, args: &[&str]) -> io::Result<()> {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|error| io::Error::new(error.kind(), format!("cannot run {program}: {error}")))?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(())
}

/// Settings of a server that serves clients only on a TLS port.
#[derive(Clone, Debug)]
pub struct ServerTls {
    keystore: PathBuf,
    truststore: PathBuf,
    password: String,
    require_client_certificate: bool,
}

impl ServerTls {
    /// Returns the `zoo.cfg` lines for a secure client port on `port`.
    pub(crate) fn config_lines(&self, port: u16) -> String {
        let client_auth = if self.require_client_certificate { "need" } else { "none" };
        format!(
            "secureClientPort={port}\nsecureClientPortAddress=127.0.0.1\n\
             serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
             ssl.keyStore.location={}\nssl.keyStore.password={}\nssl.keyStore.type=PKCS12\n\
             ssl.trustStore.location={}\nssl.trustStore.password={}\nssl.trustStore.type=PKCS12\n\
             ssl.clientAuth={client_auth}\n",
            self.keystore.display(),
            self.password,
            self.truststore.display(),
            self.password,
        )
    }
}

/// Writes the JAAS file that makes a server accept SASL DIGEST-MD5 for `users`
/// (name and password pairs).
pub(crate) fn write_jaas(dir: &Path, users: &[(String, String)]) -> io::Result<PathBuf> {
    let mut text = String::from("Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required");
    for (user, password) in users {
        text.push_str(&format!("\n  user_{user}=\"{password}\""));
    }
    text.push_str(";\n};\n");
    let path = dir.join("jaas.conf");
    std::fs::write(&path, text)?;
    Ok(path)
}
