//! What a node tells its operator, in Prometheus' text format
//! (`GET /metrics`): requests by route template, method, status and system,
//! their latency, requests in flight, open live streams, jobs run and
//! failed, the job queue's depth, the database pool, sign-ins refused by
//! the lockout and requests refused by the throttles.
//!
//! Counters live in this process (one series per route template, never per
//! path, so cardinality stays bounded); gauges read from the database and
//! the pool are taken when scraped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use sea_orm::DatabaseConnection;

/// Latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bucket, le) in self.counts.iter_mut().zip(BUCKETS) {
            if seconds <= le {
                *bucket += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// Method, route template, status.
type RequestSeries = (&'static str, Arc<str>, u16);

/// A node's counters; one per kernel, shared by its clones.
#[derive(Debug)]
pub struct Metrics {
    system: &'static str,
    started: Instant,
    requests: Mutex<BTreeMap<RequestSeries, u64>>,
    latency: Mutex<BTreeMap<Arc<str>, Histogram>>,
    in_flight: AtomicI64,
    streams: AtomicI64,
    jobs: Mutex<BTreeMap<(String, &'static str), u64>>,
    job_seconds: Mutex<BTreeMap<String, Histogram>>,
    lockouts: AtomicU64,
    throttled: Mutex<BTreeMap<&'static str, u64>>,
    throttle_store_errors: AtomicU64,
}

/// The route template a request matched, handed from inside the router to
/// the outer measuring layer.
#[derive(Debug, Clone)]
struct Route(Arc<str>);

/// How a job run ended, for [`Metrics::job_ran`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    Succeeded,
    Failed,
}

impl Metrics {
    pub fn new(system: &'static str) -> Self {
        Self {
            system,
            started: Instant::now(),
            requests: Mutex::default(),
            latency: Mutex::default(),
            in_flight: AtomicI64::new(0),
            streams: AtomicI64::new(0),
            jobs: Mutex::default(),
            job_seconds: Mutex::default(),
            lockouts: AtomicU64::new(0),
            throttled: Mutex::default(),
            throttle_store_errors: AtomicU64::new(0),
        }
    }

    fn request_done(&self, method: &'static str, route: Arc<str>, status: u16, took: Duration) {
        *lock(&self.requests)
            .entry((method, route.clone(), status))
            .or_default() += 1;
        lock(&self.latency)
            .entry(route)
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// A job of `kind` ran for `took` and ended so.
    pub fn job_ran(&self, kind: &str, outcome: JobOutcome, took: Duration) {
        let outcome = match outcome {
            JobOutcome::Succeeded => "succeeded",
            JobOutcome::Failed => "failed",
        };
        *lock(&self.jobs)
            .entry((kind.to_owned(), outcome))
            .or_default() += 1;
        lock(&self.job_seconds)
            .entry(kind.to_owned())
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// A sign-in refused because its account and address are locked.
    pub fn lockout_refused(&self) {
        self.lockouts.fetch_add(1, Ordering::Relaxed);
    }

    /// A request refused by the `scope` (`anon` or `user`) throttle.
    pub fn throttled(&self, scope: &'static str) {
        *lock(&self.throttled).entry(scope).or_default() += 1;
    }

    /// The throttle counters' store (Redis) could not be reached.
    pub fn throttle_store_failed(&self) {
        self.throttle_store_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a live stream as open until the guard is dropped.
    pub fn stream_opened(self: &Arc<Self>) -> StreamGuard {
        self.streams.fetch_add(1, Ordering::Relaxed);
        StreamGuard(self.clone())
    }

    /// The text exposition of every series, with the gauges read now from
    /// `db` (its pool and the kernel's job queue).
    pub async fn render(&self, db: &DatabaseConnection) -> String {
        let system = escape(self.system);
        let mut out = String::with_capacity(4096);
        let mut lines = Vec::new();

        let name = family(
            &mut out,
            "campus_http_requests_total",
            "counter",
            "HTTP requests answered, by method, route template and status.",
        );
        for ((method, route, status), n) in lock(&self.requests).iter() {
            lines.push(format!(
                "{name}{{system=\"{system}\",method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            ));
        }
        flush(&mut out, &mut lines);

        let name = family(
            &mut out,
            "campus_http_request_duration_seconds",
            "histogram",
            "Time to answer a request (to its headers), by route template.",
        );
        for (route, histogram) in lock(&self.latency).iter() {
            let labels = format!("system=\"{system}\",route=\"{}\"", escape(route));
            histogram_lines(&mut lines, &name, &labels, histogram);
        }
        flush(&mut out, &mut lines);

        gauge(
            &mut out,
            "campus_http_requests_in_flight",
            "Requests being answered now.",
            &system,
            self.in_flight.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "campus_live_streams_open",
            "Live event streams (Server-Sent Events) open now.",
            &system,
            self.streams.load(Ordering::Relaxed),
        );

        let name = "campus_jobs_total";
        let _ = writeln!(
            out,
            "# HELP {name} Jobs this node ran, by kind and outcome.\n# TYPE {name} counter"
        );
        for ((kind, outcome), n) in lock(&self.jobs).iter() {
            lines.push(format!(
                "{name}{{system=\"{system}\",kind=\"{}\",outcome=\"{outcome}\"}} {n}",
                escape(kind)
            ));
        }
        flush(&mut out, &mut lines);
        let name = "campus_job_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time a job ran, by kind.\n# TYPE {name} histogram"
        );
        for (kind, histogram) in lock(&self.job_seconds).iter() {
            let labels = format!("system=\"{system}\",kind=\"{}\"", escape(kind));
            histogram_lines(&mut lines, name, &labels, histogram);
        }
        flush(&mut out, &mut lines);

        match crate::jobs::queue_stats(db).await {
            Ok(stats) => {
                gauge(
                    &mut out,
                    "campus_job_queue_depth",
                    "Jobs waiting or running in the shared queue.",
                    &system,
                    stats.queued,
                );
                gauge(
                    &mut out,
                    "campus_job_queue_due",
                    "Jobs due now and not taken by a worker.",
                    &system,
                    stats.due,
                );
                gauge(
                    &mut out,
                    "campus_job_queue_dead",
                    "Jobs that failed every attempt and wait for an operator.",
                    &system,
                    stats.dead,
                );
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read the job queue for metrics");
            }
        }

        if let Some((size, idle, max)) = crate::db::pool_use(db) {
            gauge(
                &mut out,
                "campus_db_pool_connections",
                "Connections the database pool holds open.",
                &system,
                size,
            );
            gauge(
                &mut out,
                "campus_db_pool_idle",
                "Open connections of the pool not in use.",
                &system,
                idle,
            );
            gauge(
                &mut out,
                "campus_db_pool_max",
                "The most connections the pool may open.",
                &system,
                max,
            );
        }

        counter(
            &mut out,
            "campus_login_lockouts_total",
            "Sign-ins refused because the account and address are locked.",
            &system,
            self.lockouts.load(Ordering::Relaxed),
        );
        let name = "campus_throttled_requests_total";
        let _ = writeln!(
            out,
            "# HELP {name} Requests refused by a throttle (429), by scope.\n# TYPE {name} counter"
        );
        for (scope, n) in lock(&self.throttled).iter() {
            lines.push(format!(
                "{name}{{system=\"{system}\",scope=\"{scope}\"}} {n}"
            ));
        }
        flush(&mut out, &mut lines);
        counter(
            &mut out,
            "campus_throttle_store_errors_total",
            "Throttle checks that could not reach Redis (then CAMPUS_THROTTLE_FAIL decides).",
            &system,
            self.throttle_store_errors.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "campus_uptime_seconds",
            "Seconds since this node started.",
            &system,
            i64::try_from(self.started.elapsed().as_secs()).unwrap_or(i64::MAX),
        );
        out
    }
}

/// A request counted in flight until dropped (answered or abandoned).
struct InFlight<'a>(&'a AtomicI64);

impl<'a> InFlight<'a> {
    fn enter(gauge: &'a AtomicI64) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        Self(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A live stream counted as open.
#[derive(Debug)]
pub struct StreamGuard(Arc<Metrics>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::Relaxed);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) -> String {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    name.to_owned()
}

fn flush(out: &mut String, lines: &mut Vec<String>) {
    for line in lines.drain(..) {
        out.push_str(&line);
        out.push('\n');
    }
}

fn gauge(out: &mut String, name: &str, help: &str, system: &str, value: i64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{system=\"{system}\"}} {value}"
    );
}

fn counter(out: &mut String, name: &str, help: &str, system: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name}{{system=\"{system}\"}} {value}"
    );
}

fn histogram_lines(lines: &mut Vec<String>, name: &str, labels: &str, histogram: &Histogram) {
    for (count, le) in histogram.counts.iter().zip(BUCKETS) {
        lines.push(format!("{name}_bucket{{{labels},le=\"{le}\"}} {count}"));
    }
    lines.push(format!(
        "{name}_bucket{{{labels},le=\"+Inf\"}} {}",
        histogram.count
    ));
    lines.push(format!("{name}_sum{{{labels}}} {}", histogram.sum));
    lines.push(format!("{name}_count{{{labels}}} {}", histogram.count));
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Inside the router: remembers the route template the request matched.
pub async fn mark_route(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| Route(Arc::from(path.as_str())));
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// Outside everything: counts and times every request, by the template
/// [`mark_route`] found (`unmatched` for paths no route serves).
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let method = method_label(request.method());
    let started = Instant::now();
    let in_flight = InFlight::enter(&metrics.in_flight);
    let response = next.run(request).await;
    drop(in_flight);
    let route = response
        .extensions()
        .get::<Route>()
        .map_or_else(|| Arc::from("unmatched"), |route| route.0.clone());
    metrics.request_done(method, route, response.status().as_u16(), started.elapsed());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_count_into_every_bucket_at_or_above() {
        let mut histogram = Histogram::default();
        histogram.observe(0.003);
        histogram.observe(0.2);
        assert_eq!(histogram.count, 2);
        assert_eq!(histogram.counts[0], 0, "0.001");
        assert_eq!(histogram.counts[2], 1, "0.005");
        assert_eq!(histogram.counts[7], 2, "0.25");
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
