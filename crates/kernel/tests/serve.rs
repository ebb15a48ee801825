//! `kernel::serve` over real TCP on loopback: clients that never finish a
//! request lose their connection, and cannot crowd out anyone else.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use kernel::serve::{ServeSettings, serve_with};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Safety net only: every wait below ends long before this.
const AT_MOST: Duration = Duration::from_secs(20);

async fn start(settings: ServeSettings) -> SocketAddr {
    let router = Router::new()
        .route("/ping/", get(|| async { "pong" }))
        .route(
            "/echo/",
            post(|kernel::Json(body): kernel::Json<Value>| async move { axum::Json(body) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(serve_with(
        router,
        listener,
        settings,
        std::future::pending::<()>(),
    ));
    addr
}

fn short() -> ServeSettings {
    ServeSettings {
        header_read_timeout: Duration::from_millis(200),
        body_timeout: Duration::from_millis(200),
        ..ServeSettings::default()
    }
}

/// Everything the server sends until it closes the connection.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(AT_MOST, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn half_sent_headers_are_cut_off() {
    let addr = start(short()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /ping/ HTTP/1.1\r\nHost: campus\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut stream).await;
    assert!(!answer.contains("pong"), "{answer}");
    // A connection that says nothing at all goes the same way.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    read_to_close(&mut silent).await;
}

#[tokio::test]
async fn a_body_that_never_completes_is_a_408() {
    let addr = start(short()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /echo/ HTTP/1.1\r\nHost: campus\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":",
        )
        .await
        .unwrap();
    let answer = read_to_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap(),
        json!({"detail": "Request timed out.", "code": "request_timeout"})
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let addr = start(short()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /echo/ HTTP/1.1\r\nHost: campus\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{\"a\":1}\n")
        .await
        .unwrap();
    // The whole answer arrives, then the connection is closed once idle.
    let answer = read_to_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(r#"{"a":1}"#), "{answer}");
}

#[tokio::test]
async fn idle_connections_do_not_crowd_out_a_real_request() {
    let addr = start(ServeSettings {
        header_read_timeout: Duration::from_secs(30),
        body_timeout: Duration::from_secs(30),
        ..ServeSettings::default()
    })
    .await;
    let mut idle = Vec::new();
    for i in 0..400 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        if i % 2 == 0 {
            stream.write_all(b"GET /ping/ HTTP/1.1\r\n").await.unwrap();
        }
        idle.push(stream);
    }
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /ping/ HTTP/1.1\r\nHost: campus\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("pong"), "{answer}");
    assert_eq!(idle.len(), 400);
}

/// SIGTERM's path: once shutdown begins no new connection is accepted,
/// and a request already in flight still gets its whole answer.
#[tokio::test]
async fn shutdown_finishes_requests_in_flight_and_accepts_no_more() {
    let (entered_tx, entered) = tokio::sync::oneshot::channel::<()>();
    let entered_tx = std::sync::Arc::new(std::sync::Mutex::new(Some(entered_tx)));
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let router = Router::new().route(
        "/slow/",
        get({
            let release = release.clone();
            move || {
                let release = release.clone();
                let entered_tx = entered_tx.clone();
                async move {
                    if let Some(tx) = entered_tx.lock().expect("lock").take() {
                        let _ = tx.send(());
                    }
                    release.notified().await;
                    "finished"
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("an address");
    let (stop_tx, stop) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with(
        router,
        listener,
        ServeSettings::default(),
        async move {
            let _ = stop.await;
        },
    ));

    let mut in_flight = TcpStream::connect(addr).await.expect("connect");
    in_flight
        .write_all(b"GET /slow/ HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("send");
    entered.await.expect("the request reached its handler");
    stop_tx.send(()).expect("shutdown begins");
    // The listener closes: a new client is refused.
    let refused = tokio::time::timeout(AT_MOST, async {
        loop {
            match TcpStream::connect(addr).await {
                Err(_) => return,
                Ok(_) => tokio::task::yield_now().await,
            }
        }
    })
    .await;
    assert!(refused.is_ok(), "new connections are still accepted");
    assert!(
        !server.is_finished(),
        "the server waits for the request in flight"
    );
    release.notify_one();
    let answer = read_to_close(&mut in_flight).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("finished"), "{answer}");
    tokio::time::timeout(AT_MOST, server)
        .await
        .expect("the server stops once the request is answered")
        .expect("no panic")
        .expect("served");
}
