//! HTTPS and WSS built in (issue 10 item 21): the real binary with a self-signed certificate
//! made here, a login over HTTPS with a real TLS client (the session cookie is Secure), a
//! WebSocket over TLS, and a replaced certificate served without a restart.

mod process;

use futures_util::StreamExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

struct Cert {
    pem: String,
    key: String,
}

fn self_signed(name: &str) -> Cert {
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Cert {
        pem: cert.pem(),
        key: key.serialize_pem(),
    }
}

fn write(dir: &Path, c: &Cert) {
    // Written beside and renamed over, as certificate tools do: never a half-written file.
    for (name, text) in [("cert.pem", &c.pem), ("key.pem", &c.key)] {
        let tmp = dir.join(format!("{name}.new"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, dir.join(name)).unwrap();
    }
}

/// A client that trusts only `cert`.
fn client(cert: &Cert) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert.pem.as_bytes()).unwrap())
        .cookie_store(true)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn rustls_config(cert: &Cert) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(cert.pem.as_bytes()).unwrap())
        .unwrap();
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn https_and_wss_with_a_certificate_reloaded_from_disk() {
    let data = tempfile::tempdir().unwrap();
    let certs = tempfile::tempdir().unwrap();
    let first = self_signed("first");
    write(certs.path(), &first);
    let cert = certs.path().join("cert.pem").display().to_string();
    let key = certs.path().join("key.pem").display().to_string();
    let https = client(&first);
    let server = process::start(
        data.path(),
        // Its own port for SIP over TLS: tests run side by side, 5061 is for one of them.
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--sip-tls-addr",
            "127.0.0.1:0",
        ],
        "https",
        &https,
    )
    .await;

    // Log in over HTTPS: the session cookie is Secure without --secure-cookies.
    let r = https
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&serde_json::json!({"login_id": "admin", "password": process::ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    let token = set_cookie.split(';').next().unwrap().trim().to_owned();
    let me = https
        .get(format!("{}/api/v1/me", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    // Plain HTTP on the same port is not served.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/healthz", server.http_port))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    assert!(plain.map_or(true, |r| !r.status().is_success()));

    // The session's WebSocket over TLS (wss://).
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.http_port))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(rustls_config(&first))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    let mut req = format!("wss://localhost:{}/api/v1/ws", server.http_port)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert("cookie", token.parse().unwrap());
    let (mut ws, resp) = tokio_tungstenite::client_async(req, tls).await.unwrap();
    assert_eq!(resp.status(), 101);
    // The server speaks on it: at least it does not close it at once.
    let next = tokio::time::timeout(Duration::from_secs(2), ws.next()).await;
    assert!(
        !matches!(next, Ok(None) | Ok(Some(Err(_)))),
        "socket ended: {next:?}"
    );

    // A new certificate on disk is served without a restart.
    let second = self_signed("second");
    write(certs.path(), &second);
    let renewed = client(&second);
    let mut served = false;
    for _ in 0..60 {
        let r = renewed.get(format!("{}/healthz", server.base)).send().await;
        if r.is_ok_and(|r| r.status().is_success()) {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(served, "the replaced certificate was not picked up");
    // A fresh client trusting only the old one is refused now.
    assert!(client(&first)
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .is_err());

    // A broken replacement (a key that is not the certificate's) keeps the last good one.
    let third = self_signed("third");
    std::fs::write(certs.path().join("key.pem"), &third.key).unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let r = client(&second)
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn unusable_certificate_files_stop_the_start_with_the_cause() {
    let data = tempfile::tempdir().unwrap();
    let certs = tempfile::tempdir().unwrap();
    let a = self_signed("a");
    let b = self_signed("b");
    std::fs::write(certs.path().join("cert.pem"), &a.pem).unwrap();
    std::fs::write(certs.path().join("key.pem"), &b.key).unwrap();
    let cert = certs.path().join("cert.pem").display().to_string();
    let key = certs.path().join("key.pem").display().to_string();
    let (args, _, _) = process::serve_args(
        data.path(),
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--sip-tls-addr",
            "127.0.0.1:0",
        ],
    );
    let (status, stderr) = process::run_to_end(process::command(&args)).await;
    assert!(!status.success());
    assert!(
        stderr.contains("does not belong to certificate"),
        "{stderr}"
    );

    let (args, _, _) = process::serve_args(data.path(), &["--tls-cert", &cert]);
    let (status, stderr) = process::run_to_end(process::command(&args)).await;
    assert!(!status.success());
    assert!(stderr.contains("--tls-cert and --tls-key"), "{stderr}");
}
