//! A real server on a loopback port with a fresh SQLite database, and an HTTP client that keeps
//! the session cookie and sends the CSRF token like the web app does.

#![allow(dead_code)]

use api::{ApiConfig, AppState};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use store::Store;

pub struct Server {
    pub base: String,
    pub store: Store,
    /// The data directory (database, `voice/`).
    pub data_dir: std::path::PathBuf,
    /// The server's state (its background jobs are not started: tests run them).
    pub state: AppState,
    _dir: tempfile::TempDir,
}

pub async fn start(demo: bool) -> Server {
    start_with(demo, None).await
}

/// A server whose live routes are backed by `telephony` (a test double).
pub async fn start_with(
    demo: bool,
    telephony: Option<std::sync::Arc<dyn api::telephony::Telephony>>,
) -> Server {
    start_configured(demo, telephony, |_| {}).await
}

/// A server with its configuration changed by `configure` first.
pub async fn start_configured(
    demo: bool,
    telephony: Option<std::sync::Arc<dyn api::telephony::Telephony>>,
    configure: impl FnOnce(&mut ApiConfig),
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(dir.path()).await.unwrap();
    api::seed::first_start(&store, Some("Admin1234".into()), demo)
        .await
        .unwrap();
    let web_dir = dir.path().join("web");
    std::fs::create_dir_all(&web_dir).unwrap();
    std::fs::write(
        web_dir.join("index.html"),
        "<!doctype html><title>Tsunagu</title>",
    )
    .unwrap();
    let mut config = ApiConfig::new(web_dir, dir.path().join("voice"));
    configure(&mut config);
    let mut state = AppState::new(store.clone(), config);
    if let Some(t) = telephony {
        state = state.with_telephony(t);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = state.clone();
    tokio::spawn(async move {
        axum::serve(listener, api::make_service(served))
            .await
            .unwrap()
    });
    Server {
        base,
        store,
        data_dir: dir.path().to_path_buf(),
        state,
        _dir: dir,
    }
}

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub csrf: Option<String>,
}

pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// The `field` of the first error, for asserting which field a 4xx names.
    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Client {
    pub fn anonymous(server: &Server) -> Client {
        Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap(),
            base: server.base.clone(),
            csrf: None,
        }
    }

    pub async fn login(server: &Server, login_id: &str, password: &str) -> Client {
        let mut c = Client::anonymous(server);
        let r = c
            .send(
                Method::POST,
                "/api/v1/auth/login",
                Some(serde_json::json!({"login_id": login_id, "password": password})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "login {login_id}: {}", r.body);
        c.csrf = r.body["csrf_token"].as_str().map(str::to_owned);
        c
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.csrf {
            req = req.header("x-csrf-token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.finish(req).await
    }

    pub async fn raw(&self, method: Method, path: &str, body: &str) -> Resp {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header("content-type", "application/json")
            // Bodies sent raw include refused oversized ones, after which the server drops
            // the connection: never reuse it.
            .header("connection", "close")
            .body(body.to_owned());
        if let Some(t) = &self.csrf {
            req = req.header("x-csrf-token", t);
        }
        self.finish(req).await
    }

    async fn finish(&self, req: reqwest::RequestBuilder) -> Resp {
        let r = req.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None).await
    }
}
