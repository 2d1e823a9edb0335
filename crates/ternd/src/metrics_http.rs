//! The metrics endpoint: `GET /metrics` over HTTP/1.x on `[daemon] metrics_listen`,
//! one request per connection. It runs on ternd's main runtime, not the engines'
//! threads; each scrape asks every engine's loop for a snapshot (a message on a
//! queue, answered between datagrams), so a slow or stuck scraper holds up only
//! its own task.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::{self, SetupTimes, ShardSnapshot};
use crate::stats::SocketCounters;

/// Where a scrape asks one engine for its snapshot.
pub type SnapshotQueue = mpsc::Sender<oneshot::Sender<ShardSnapshot>>;

/// How long a scraper may take to send its request, and the engines to answer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Longest request head read.
const MAX_HEAD: usize = 8192;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn serve(
    listener: TcpListener,
    shards: Vec<SnapshotQueue>,
    sockets: Arc<SocketCounters>,
    setup_times: SetupTimes,
    radius: Option<Arc<crate::radius::Relayer>>,
) {
    let shards: Arc<[SnapshotQueue]> = shards.into();
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let (shards, sockets) = (shards.clone(), sockets.clone());
                let setup_times = setup_times.clone();
                let radius = radius.clone();
                tokio::spawn(async move {
                    let radius = radius.as_ref().map(|r| metrics::RadiusCounts {
                        auth: r.counts(),
                        accounting: r.accounting_counts(),
                    });
                    if let Err(e) = answer(stream, &shards, &sockets, &setup_times, radius).await {
                        tracing::debug!(%peer, "metrics request: {e}");
                    }
                });
            }
            Err(e) => {
                tracing::warn!("metrics endpoint: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn answer(
    mut stream: TcpStream,
    shards: &[SnapshotQueue],
    sockets: &SocketCounters,
    setup_times: &SetupTimes,
    radius: Option<metrics::RadiusCounts<'_>>,
) -> std::io::Result<()> {
    let head = tokio::time::timeout(TIMEOUT, read_head(&mut stream))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no request in time"))??;
    let (status, content_type, body) = match route(&head) {
        Route::Metrics => match gather(shards).await {
            // Prometheus asks for OpenMetrics; anyone else gets the older text format.
            Some(snapshots) if wants_openmetrics(&head) => {
                let text = metrics::render(snapshots, sockets, setup_times, radius);
                ("200 OK", OPENMETRICS, text)
            }
            Some(snapshots) => (
                "200 OK",
                TEXT_FORMAT,
                metrics::text_format(&metrics::render(snapshots, sockets, setup_times, radius)),
            ),
            None => (
                "503 Service Unavailable",
                "text/plain",
                "an engine did not answer; try again\n".into(),
            ),
        },
        Route::NotFound => (
            "404 Not Found",
            "text/plain",
            "metrics are at /metrics\n".into(),
        ),
        Route::BadMethod => ("405 Method Not Allowed", "text/plain", "only GET\n".into()),
        Route::Malformed => ("400 Bad Request", "text/plain", "bad request\n".into()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// The request line and headers, up to the blank line that ends them.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics,
    NotFound,
    BadMethod,
    Malformed,
}

fn route(head: &str) -> Route {
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Route::Malformed;
    };
    if !version.starts_with("HTTP/1.") {
        return Route::Malformed;
    }
    if method != "GET" {
        return Route::BadMethod;
    }
    let path = target.split('?').next().unwrap_or_default();
    if path == "/metrics" {
        Route::Metrics
    } else {
        Route::NotFound
    }
}

/// Whether the request's Accept header names OpenMetrics.
fn wants_openmetrics(head: &str) -> bool {
    head.lines().skip(1).any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("accept")
                && value.contains("application/openmetrics-text")
        })
    })
}

/// Every engine's snapshot, or `None` if one did not answer in time.
async fn gather(shards: &[SnapshotQueue]) -> Option<Vec<ShardSnapshot>> {
    let mut pending = Vec::with_capacity(shards.len());
    for shard in shards {
        let (reply, answer) = oneshot::channel();
        tokio::time::timeout(TIMEOUT, shard.send(reply))
            .await
            .ok()?
            .ok()?;
        pending.push(answer);
    }
    let mut snapshots = Vec::with_capacity(pending.len());
    for answer in pending {
        snapshots.push(tokio::time::timeout(TIMEOUT, answer).await.ok()?.ok()?);
    }
    Some(snapshots)
}

#[cfg(test)]
mod tests {
    use super::{route, wants_openmetrics, Route};

    #[test]
    fn openmetrics_only_for_those_who_ask() {
        let prometheus = "GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n\r\n";
        assert!(wants_openmetrics(prometheus));
        assert!(wants_openmetrics(
            "GET /metrics HTTP/1.1\r\naccept:application/openmetrics-text\r\n\r\n"
        ));
        assert!(!wants_openmetrics(
            "GET /metrics HTTP/1.1\r\nAccept: */*\r\n\r\n"
        ));
        assert!(!wants_openmetrics("GET /metrics HTTP/1.1\r\n\r\n"));
    }

    #[test]
    fn only_get_metrics_is_served() {
        let get = |target: &str| format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(route(&get("/metrics")), Route::Metrics);
        assert_eq!(route(&get("/metrics?x=1")), Route::Metrics);
        assert_eq!(route(&get("/")), Route::NotFound);
        assert_eq!(route("POST /metrics HTTP/1.1\r\n\r\n"), Route::BadMethod);
        assert_eq!(route("garbage\r\n\r\n"), Route::Malformed);
        assert_eq!(route(""), Route::Malformed);
    }
}
