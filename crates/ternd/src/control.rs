//! The control socket: one request line in, one response line out; after `watch`,
//! event lines until the client hangs up.

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tern_control::{
    Command, EventInfo, Request, Response, ResponseBody, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION,
};
use tern_engine::log_limit::LogLimiter;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use crate::watch::WATCH_QUEUE;

/// A request handed to the daemon loop, with where to send the answer.
pub struct ControlRequest {
    pub command: Command,
    pub reply: oneshot::Sender<Response>,
    /// For `watch`: where the daemon queues the events.
    pub events: Option<mpsc::Sender<EventInfo>>,
    /// For `reload`: the configuration every engine switches to, read and
    /// validated once by `Shards` so that all switch to the same one.
    pub config: Option<Arc<tern_engine::config::EngineConfig>>,
}

/// Watch streams still being written. Once the daemon loop has ended (and with it
/// the event queues' senders), each stream writes what is queued and ends; ternd
/// waits for that on its way out, so watchers see the last events (the SAs it
/// deleted while stopping).
static OPEN_STREAMS: AtomicUsize = AtomicUsize::new(0);

struct OpenStream;

impl OpenStream {
    fn new() -> OpenStream {
        OPEN_STREAMS.fetch_add(1, Ordering::SeqCst);
        OpenStream
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        OPEN_STREAMS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits (at most `limit`) until every watch stream has written its last event.
pub async fn finish_streams(limit: Duration) {
    let give_up = tokio::time::Instant::now() + limit;
    while OPEN_STREAMS.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How long a client may take to send its request line; a connection that says
/// nothing is closed rather than kept open for ever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to read an answer or an event before ternd gives
/// up on it and closes the connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest request line accepted, newline excluded. The largest real request
/// (a command naming a connection) is well under 1 KiB.
pub const MAX_REQUEST: usize = 64 * 1024;

/// Control connections open at once, watchers included; one more is refused.
/// With [`MAX_REQUEST`] this bounds what clients can make ternd hold: about
/// 64 x 64 KiB of request buffers.
pub const MAX_CONNECTIONS: usize = 64;

/// Connections over [`MAX_CONNECTIONS`] being told so at once (each for at most
/// a second); past this they are closed unanswered.
const MAX_REFUSING: usize = 16;

/// Binds the control socket at `path`, mode 0660, owned by `group` if given.
/// It is bound under a temporary name and renamed into place once its mode and
/// group are set: it never shows at `path` with another mode, and a stale file
/// left there by a killed ternd is replaced in one step.
pub fn bind(path: &Path, group: Option<u32>) -> anyhow::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut staging = path.as_os_str().to_owned();
    staging.push(format!(".{}.new", std::process::id()));
    let staging = std::path::PathBuf::from(staging);
    if staging.exists() {
        std::fs::remove_file(&staging)?;
    }
    let listener = UnixListener::bind(&staging)?;
    let placed = std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o660))
        .and_then(|()| match group {
            Some(gid) => std::os::unix::fs::chown(&staging, None, Some(gid)),
            None => Ok(()),
        })
        // Replaces a socket file left by an earlier ternd (see `instance`).
        .and_then(|()| std::fs::rename(&staging, path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&staging);
        return Err(e.into());
    }
    Ok(listener)
}

/// The group id of `[daemon].socket_group`: a number, or a name looked up in the
/// system's group database.
pub fn resolve_group(group: &str) -> anyhow::Result<u32> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(gid);
    }
    let name = std::ffi::CString::new(group)?;
    let mut entry: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; `buf` outlives `entry`'s use.
    let rc = unsafe {
        libc::getgrnam_r(
            name.as_ptr(),
            &mut entry,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 {
        anyhow::bail!(
            "cannot look up group `{group}`: {}",
            std::io::Error::from_raw_os_error(rc)
        );
    }
    if found.is_null() {
        anyhow::bail!("socket_group: there is no group `{group}` (create it with groupadd)");
    }
    Ok(entry.gr_gid)
}

pub async fn serve(
    listener: UnixListener,
    to_daemon: mpsc::Sender<ControlRequest>,
    socket_group: Option<u32>,
) {
    serve_at_most(listener, to_daemon, socket_group, MAX_CONNECTIONS).await
}

/// [`serve`], with at most `cap` connections open at once.
async fn serve_at_most(
    listener: UnixListener,
    to_daemon: mpsc::Sender<ControlRequest>,
    socket_group: Option<u32>,
    cap: usize,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(cap));
    let refusing = Arc::new(tokio::sync::Semaphore::new(MAX_REFUSING));
    let mut noise = LogLimiter::default();
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    let (log, ended) = noise.allow(
                        std::time::Instant::now(),
                        "control connections refused (too many open)",
                        IpAddr::from([0, 0, 0, 0]),
                    );
                    if let Some(summary) = ended {
                        tracing::warn!("{summary}");
                    }
                    if log {
                        tracing::warn!("control connection refused: {cap} already open");
                    }
                    // Past this too, the connection just closes.
                    if let Ok(refusing) = refusing.clone().try_acquire_owned() {
                        tokio::spawn(async move {
                            refuse_busy(stream, cap).await;
                            drop(refusing);
                        });
                    }
                    continue;
                };
                let to_daemon = to_daemon.clone();
                tokio::spawn(async move {
                    let timeout = REQUEST_TIMEOUT;
                    if let Err(e) = handle(stream, to_daemon, timeout, socket_group).await {
                        tracing::debug!("control client: {e}");
                    }
                    drop(slot);
                });
            }
            Err(e) => {
                tracing::warn!("control socket accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Tells a client over the cap why it is refused. Its request is read and
/// thrown away meanwhile (for at most a second): closing on an unread request
/// would break the client's pipe before it reads the answer.
async fn refuse_busy(stream: UnixStream, cap: usize) {
    let (mut read, mut write) = stream.into_split();
    let refusal = Response::Error {
        message: format!("ternd is busy: {cap} control connections are open; try again"),
    };
    let Ok(mut line) = serde_json::to_vec(&refusal) else {
        return;
    };
    line.push(b'\n');
    let _ = tokio::time::timeout(Duration::from_secs(1), write.write_all(&line)).await;
    let _ = write.shutdown().await;
    drain(&mut read, Duration::from_secs(1)).await;
}

/// Reads and drops what the client still sends, through a small buffer, until it
/// closes its end or `limit` has passed.
async fn drain(read: &mut OwnedReadHalf, limit: Duration) {
    let mut ignored = [0u8; 4096];
    let _ = tokio::time::timeout(limit, async {
        while matches!(read.read(&mut ignored).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// Who may talk to ternd: root, ternd's own user, and members of the socket's
/// group (`socket_group`, else ternd's), as their primary or a supplementary group
/// (the socket's mode, 0660, says the same; this holds even if the mode is
/// loosened). `groups` is asked only when needed.
fn allowed(
    uid: u32,
    gid: u32,
    groups: impl FnOnce() -> Vec<u32>,
    socket_group: Option<u32>,
) -> bool {
    // SAFETY: geteuid/getegid cannot fail.
    let (our_uid, our_gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let group = socket_group.unwrap_or(our_gid);
    uid == 0 || uid == our_uid || gid == group || groups().contains(&group)
}

/// The supplementary groups of process `pid`. SO_PEERCRED carries only the primary
/// group, so they come from /proc; none if the process is already gone.
fn supplementary_groups(pid: Option<i32>) -> Vec<u32> {
    let Some(pid) = pid else {
        return Vec::new();
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|g| {
            g.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

async fn handle(
    stream: UnixStream,
    to_daemon: mpsc::Sender<ControlRequest>,
    request_timeout: Duration,
    socket_group: Option<u32>,
) -> anyhow::Result<()> {
    let credentials = stream.peer_cred()?;
    let (read, mut write) = stream.into_split();
    // The request is read before a refusal, so the client gets to see the answer.
    let mut line = Vec::new();
    // One byte over the limit, so an over-long request is seen as such.
    let mut reader = BufReader::new(read.take(MAX_REQUEST as u64 + 1));
    tokio::time::timeout(request_timeout, reader.read_until(b'\n', &mut line))
        .await
        .map_err(|_| anyhow::anyhow!("no request within {request_timeout:?}; closed"))??;
    if line.len() > MAX_REQUEST && line.last() != Some(&b'\n') {
        let refusal = Response::Error {
            message: format!("request longer than {MAX_REQUEST} bytes; connection closed"),
        };
        send(&mut write, &refusal).await?;
        // Unread bytes at close would reset the connection and could cost the
        // client the answer: drain briefly, through a small buffer.
        let _ = write.shutdown().await;
        drain(
            &mut reader.into_inner().into_inner(),
            Duration::from_secs(1),
        )
        .await;
        anyhow::bail!("request longer than {MAX_REQUEST} bytes; closed");
    }
    let groups = || supplementary_groups(credentials.pid());
    if !allowed(credentials.uid(), credentials.gid(), groups, socket_group) {
        tracing::warn!(
            uid = credentials.uid(),
            gid = credentials.gid(),
            "control request refused: not root, ternd's user or its group"
        );
        let refusal = Response::Error {
            message: "permission denied: ternctl must run as root, as ternd's user or in its group"
                .into(),
        };
        return send(&mut write, &refusal).await;
    }
    let response = match serde_json::from_slice::<Request>(&line) {
        Err(e) => Response::Error {
            message: format!("bad request: {e}"),
        },
        Ok(req) if !(MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&req.version) => {
            Response::Error {
                message: format!(
                    "protocol version {} is not supported (ternd speaks {MIN_PROTOCOL_VERSION} to {PROTOCOL_VERSION})",
                    req.version
                ),
            }
        }
        Ok(req) if req.version < req.command.since_version() => Response::Error {
            message: format!(
                "this command needs protocol version {}, the request says {}",
                req.command.since_version(),
                req.version
            ),
        },
        Ok(Request {
            command: Command::Watch { connection },
            ..
        }) => {
            let read = reader.into_inner().into_inner();
            return watch(connection, &to_daemon, read, write).await;
        }
        Ok(req) => ask(&to_daemon, req.command).await,
    };
    send(&mut write, &response).await
}

/// Writes one line; a client that does not read it within [`WRITE_TIMEOUT`] is
/// given up on.
async fn send<T: serde::Serialize>(write: &mut OwnedWriteHalf, value: &T) -> anyhow::Result<()> {
    let mut out = serde_json::to_vec(value)?;
    out.push(b'\n');
    tokio::time::timeout(WRITE_TIMEOUT, write.write_all(&out))
        .await
        .map_err(|_| anyhow::anyhow!("the client read nothing for {WRITE_TIMEOUT:?}; closed"))??;
    Ok(())
}

/// Subscribes, then copies events to the client until it hangs up or ternd stops.
/// Only this task waits on a slow client; the daemon drops what does not fit.
async fn watch(
    connection: Option<String>,
    to_daemon: &mpsc::Sender<ControlRequest>,
    mut read: OwnedReadHalf,
    mut write: OwnedWriteHalf,
) -> anyhow::Result<()> {
    let (events_tx, mut events) = mpsc::channel(WATCH_QUEUE);
    let (reply, answer) = oneshot::channel();
    let request = ControlRequest {
        command: Command::Watch { connection },
        reply,
        events: Some(events_tx),
        config: None,
    };
    let response = if to_daemon.send(request).await.is_err() {
        Response::Error {
            message: "ternd is shutting down".into(),
        }
    } else {
        answer.await.unwrap_or(Response::Error {
            message: "ternd dropped the request".into(),
        })
    };
    let watching = matches!(
        response,
        Response::Ok {
            body: ResponseBody::Watching { .. }
        }
    );
    if !watching {
        return send(&mut write, &response).await;
    }
    let _open = OpenStream::new();
    send(&mut write, &response).await?;
    // The client says nothing more; its end of file (or an error) means it is gone.
    let mut ignored = [0u8; 256];
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => send(&mut write, &event).await?,
                None => return Ok(()),
            },
            read = read.read(&mut ignored) => match read {
                Ok(0) | Err(_) => return Ok(()),
                Ok(_) => {}
            },
        }
    }
}

async fn ask(to_daemon: &mpsc::Sender<ControlRequest>, command: Command) -> Response {
    let wait = match &command {
        Command::Initiate { timeout_secs, .. } => Duration::from_secs(*timeout_secs),
        // A terminate waits for the peer at most through the retransmission schedule.
        // So do rekeys: the peer may need retransmissions to answer.
        Command::Terminate { .. } | Command::Rekey { .. } | Command::RekeyIke { .. } => {
            Duration::from_secs(180)
        }
        _ => Duration::from_secs(10),
    };
    let (reply, answer) = oneshot::channel();
    if to_daemon
        .send(ControlRequest {
            command,
            reply,
            events: None,
            config: None,
        })
        .await
        .is_err()
    {
        return Response::Error {
            message: "ternd is shutting down".into(),
        };
    }
    match tokio::time::timeout(wait, answer).await {
        Ok(Ok(response)) => response,
        Ok(Err(_)) => Response::Error { message: "ternd dropped the request".into() },
        Err(_) => Response::Error {
            message: format!("no outcome after {} s; the negotiation may still be running (see ternctl list-sas)", wait.as_secs()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{allowed, handle, serve_at_most, supplementary_groups, MAX_REQUEST};
    use std::time::Duration;
    use tern_control::{Command, Request, Response, ResponseBody};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// Everything the server wrote until it closed the connection.
    async fn answer_of(client: &mut tokio::net::UnixStream) -> String {
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(5), client.read_to_string(&mut answer))
            .await
            .expect("the server closes the connection")
            .unwrap();
        answer
    }

    /// A stand-in daemon that answers every request with its version.
    fn fake_daemon() -> tokio::sync::mpsc::Sender<super::ControlRequest> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<super::ControlRequest>(4);
        tokio::spawn(async move {
            while let Some(req) = rx.recv().await {
                let _ = req.reply.send(Response::Ok {
                    body: ResponseBody::Version {
                        version: "test".into(),
                    },
                });
            }
        });
        tx
    }

    fn version_request() -> Vec<u8> {
        let mut line = serde_json::to_vec(&Request::new(Command::Version)).unwrap();
        line.push(b'\n');
        line
    }

    #[test]
    fn an_over_long_request_gets_an_error_and_the_connection_closes() {
        runtime().block_on(async {
            let (server, mut client) = tokio::net::UnixStream::pair().unwrap();
            let served = tokio::spawn(handle(server, fake_daemon(), Duration::from_secs(5), None));
            // No newline within the limit: the server stops reading after it.
            let flood = vec![b'x'; MAX_REQUEST + 4096];
            let writer = tokio::spawn(async move {
                let _ = client.write_all(&flood).await;
                client
            });
            assert!(served.await.unwrap().is_err());
            let mut client = writer.await.unwrap();
            let answer = answer_of(&mut client).await;
            assert!(
                answer.contains(&format!("request longer than {MAX_REQUEST} bytes")),
                "{answer}"
            );
        });
    }

    #[test]
    fn a_malformed_request_gets_an_error_and_the_connection_closes() {
        runtime().block_on(async {
            for garbage in [&b"hello\n"[..], &b"\xff\xfe{}\n"[..]] {
                let (server, mut client) = tokio::net::UnixStream::pair().unwrap();
                let served =
                    tokio::spawn(handle(server, fake_daemon(), Duration::from_secs(5), None));
                client.write_all(garbage).await.unwrap();
                let answer = answer_of(&mut client).await;
                assert!(answer.contains("bad request"), "{answer}");
                served.await.unwrap().unwrap();
            }
        });
    }

    #[test]
    fn connections_over_the_cap_are_refused_and_later_ones_served() {
        runtime().block_on(async {
            let dir = std::env::temp_dir().join(format!("ternd-cap-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("ternd.sock");
            let listener = tokio::net::UnixListener::bind(&path).unwrap();
            tokio::spawn(serve_at_most(listener, fake_daemon(), None, 2));

            let held: Vec<_> = [
                tokio::net::UnixStream::connect(&path).await.unwrap(),
                tokio::net::UnixStream::connect(&path).await.unwrap(),
            ]
            .into();
            let mut third = tokio::net::UnixStream::connect(&path).await.unwrap();
            let answer = answer_of(&mut third).await;
            assert!(
                answer.contains("ternd is busy: 2 control connections are open"),
                "{answer}"
            );

            // Their slots come back when they close; a request is served again.
            drop(held);
            let mut answered = String::new();
            for _ in 0..50 {
                let mut next = tokio::net::UnixStream::connect(&path).await.unwrap();
                let _ = next.write_all(&version_request()).await;
                answered = answer_of(&mut next).await;
                if !answered.contains("busy") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(answered.contains("\"version\":\"test\""), "{answered}");
        });
    }

    #[test]
    fn a_silent_client_is_closed_after_the_request_timeout() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (server, mut client) = tokio::net::UnixStream::pair().unwrap();
            let (to_daemon, _daemon) = tokio::sync::mpsc::channel(1);
            let started = std::time::Instant::now();
            let result = handle(server, to_daemon, Duration::from_millis(50), None).await;
            let err = result.unwrap_err().to_string();
            assert!(err.contains("no request within"), "{err}");
            assert!(started.elapsed() < Duration::from_secs(5));
            // The client sees the connection closed.
            let mut buf = [0u8; 8];
            assert_eq!(client.read(&mut buf).await.unwrap(), 0);
        });
    }

    #[test]
    fn root_and_our_own_user_and_group_may_connect() {
        // SAFETY: as above.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let none = Vec::new;
        assert!(allowed(0, 12345, none, None));
        assert!(allowed(uid, 54321, none, None));
        assert!(allowed(54321, gid, none, None));
        let (stranger_uid, stranger_gid) = (uid + 54321, gid + 54322);
        assert!(!allowed(stranger_uid, stranger_gid, none, None));
        assert!(allowed(stranger_uid, stranger_gid, || vec![7, gid], None));
        assert!(!allowed(stranger_uid, stranger_gid, || vec![7], None));
        // With socket_group, its members instead of ternd's group.
        assert!(allowed(stranger_uid, 4242, none, Some(4242)));
        assert!(allowed(stranger_uid, 1, || vec![4242], Some(4242)));
        assert!(!allowed(stranger_uid, gid, none, Some(4242)));
    }

    #[test]
    fn groups_by_number_or_name() {
        assert_eq!(super::resolve_group("4242").unwrap(), 4242);
        assert_eq!(super::resolve_group("root").unwrap(), 0);
        let err = super::resolve_group("no-such-group-here").unwrap_err();
        assert!(
            err.to_string()
                .contains("there is no group `no-such-group-here`"),
            "{err}"
        );
    }

    #[test]
    fn supplementary_groups_of_a_process() {
        // SAFETY: getgroups with a zero size only counts.
        let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
        let mut ours = vec![0; n as usize];
        // SAFETY: the buffer holds n entries.
        unsafe { libc::getgroups(n, ours.as_mut_ptr()) };
        let mut seen = supplementary_groups(Some(std::process::id() as i32));
        seen.sort_unstable();
        ours.sort_unstable();
        assert_eq!(seen, ours);
        assert!(supplementary_groups(None).is_empty());
    }
}
