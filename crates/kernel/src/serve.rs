//! Running a router: bind, serve with client addresses, stop gracefully, and
//! never let a client that does not finish its request hold a connection.
//!
//! Each connection speaks HTTP/1.1 (behind a proxy, as in production, that
//! is what arrives). A request's headers must arrive within
//! `CAMPUS_HEADER_READ_TIMEOUT`, which also closes a keep-alive connection
//! left idle that long; its body must arrive within
//! `CAMPUS_REQUEST_BODY_TIMEOUT` of its headers, or the request answers 408
//! and the connection is closed. At start-up the soft limit on open files is
//! raised to the hard one, so idle sockets cannot starve the process of
//! descriptors before the timeouts reclaim them.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tower::ServiceExt;

use crate::config::SettingError;
use crate::error::ApiError;

/// How long clients may take to send a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeSettings {
    /// `CAMPUS_HEADER_READ_TIMEOUT` (seconds, default 10): a request's
    /// headers must arrive within this, counted from the connection's
    /// opening or the end of its previous response; an idle keep-alive
    /// connection is closed after as long.
    pub header_read_timeout: Duration,
    /// `CAMPUS_REQUEST_BODY_TIMEOUT` (seconds, default 30): a request's whole
    /// body must arrive within this after its headers.
    pub body_timeout: Duration,
    /// `CAMPUS_SHUTDOWN_TIMEOUT` (seconds, default 30): after SIGTERM, how
    /// long requests in flight and running jobs have to finish.
    pub shutdown_timeout: Duration,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

impl ServeSettings {
    /// Reads the settings through `lookup`, falling back to the defaults.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let defaults = Self::default();
        let seconds = |name: &'static str, default: Duration| match lookup(name) {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| SettingError {
                    name,
                    reason: format!(
                        "{value:?} is not a positive number of seconds (at most 86400)"
                    ),
                }),
        };
        Ok(Self {
            header_read_timeout: seconds(
                "CAMPUS_HEADER_READ_TIMEOUT",
                defaults.header_read_timeout,
            )?,
            body_timeout: seconds("CAMPUS_REQUEST_BODY_TIMEOUT", defaults.body_timeout)?,
            shutdown_timeout: seconds("CAMPUS_SHUTDOWN_TIMEOUT", defaults.shutdown_timeout)?,
        })
    }
}

/// Serves `router` on `listener` until Ctrl-C or SIGTERM, with the
/// configured timeouts (see [`ServeSettings`]). Then the node closes
/// (`lifecycle`: live streams end, workers stop claiming), stops accepting,
/// and waits up to `CAMPUS_SHUTDOWN_TIMEOUT` for the requests in flight and
/// the jobs already running.
pub async fn serve(
    router: Router,
    listener: tokio::net::TcpListener,
    settings: ServeSettings,
    lifecycle: crate::lifecycle::Lifecycle,
) -> std::io::Result<()> {
    raise_open_file_limit();
    let closing = lifecycle.clone();
    let started = tokio::time::Instant::now();
    let signal = async move {
        shutdown_signal().await;
        closing.close();
    };
    serve_with(router, listener, settings, signal).await?;
    let left = settings
        .shutdown_timeout
        .saturating_sub(started.elapsed().min(settings.shutdown_timeout));
    if tokio::time::timeout(left.max(Duration::from_millis(1)), lifecycle.jobs_done())
        .await
        .is_err()
    {
        tracing::warn!("jobs still running at the shutdown timeout; their leases will expire");
    }
    Ok(())
}

/// Raises the soft limit on open files to the hard limit (best effort).
pub fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(open_files = limit, "open file limit"),
        Err(error) => tracing::warn!(%error, "could not raise the open file limit"),
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops
/// accepting and waits for the requests in flight.
pub async fn serve_with(
    router: Router,
    listener: tokio::net::TcpListener,
    settings: ServeSettings,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let body_timeout = settings.body_timeout;
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(|body| {
                if body.is_end_stream() {
                    Body::new(body)
                } else {
                    Body::new(DeadlineBody::new(body, body_timeout))
                }
            });
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        "waiting for open connections"
    );
    if tokio::time::timeout(settings.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight at the shutdown timeout");
    }
    Ok(())
}

/// A failed accept: a connection reset before it was accepted is nothing;
/// anything else (out of descriptors, say) is logged, and accepting pauses
/// briefly instead of spinning.
async fn accept_failed(error: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// A request body that fails with [`BodyTimedOut`] unless it has all arrived
/// by its deadline.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, timeout: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body did not arrive in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimedOut;

/// Whether `error`, or any error behind it, is a [`BodyTimedOut`].
pub fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error.is::<BodyTimedOut>() {
            return true;
        }
        next = error.source();
    }
    false
}

/// 408 `{"detail": "Request timed out.", "code": "request_timeout"}`.
pub fn timed_out() -> ApiError {
    ApiError::detailed(
        axum::http::StatusCode::REQUEST_TIMEOUT,
        "Request timed out.",
        "request_timeout",
        serde_json::Value::Null,
    )
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_the_environment() {
        let none = |_: &str| None;
        assert_eq!(
            ServeSettings::from_lookup(&none).unwrap(),
            ServeSettings::default()
        );
        let set = |k: &str| match k {
            "CAMPUS_HEADER_READ_TIMEOUT" => Some("0.25".to_owned()),
            "CAMPUS_REQUEST_BODY_TIMEOUT" => Some("5".to_owned()),
            _ => None,
        };
        assert_eq!(
            ServeSettings::from_lookup(&set).unwrap(),
            ServeSettings {
                header_read_timeout: Duration::from_millis(250),
                body_timeout: Duration::from_secs(5),
                ..ServeSettings::default()
            }
        );
        for bad in ["0", "-1", "soon", "NaN", "1e9"] {
            let lookup = |k: &str| (k == "CAMPUS_HEADER_READ_TIMEOUT").then(|| bad.to_owned());
            assert_eq!(
                ServeSettings::from_lookup(&lookup).unwrap_err().name,
                "CAMPUS_HEADER_READ_TIMEOUT",
                "{bad}"
            );
        }
    }
}
