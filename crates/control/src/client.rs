//! A synchronous client: one connection per request, as the protocol prescribes.

use std::io::{self, BufReader};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::framing::{read_line, write_line};
use crate::types::{Command, EventInfo, Request, Response, ResponseBody};

/// Talks to ternd over its unix socket.
#[derive(Debug, Clone)]
pub struct Client {
    path: PathBuf,
}

/// Why a call did not produce a response.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nobody is listening at the socket (or we may not connect to it).
    #[error("cannot reach daemon at {} (is ternd running?): {source}", path.display())]
    Unreachable { path: PathBuf, source: io::Error },
    /// The daemon accepted the request but did not answer in time.
    #[error("no answer from ternd within {} s", timeout.as_secs_f64())]
    Timeout { timeout: Duration },
    /// The connection broke while the request or response was in transit.
    #[error("connection to ternd failed: {0}")]
    Io(io::Error),
    /// The daemon answered with something that is not a response.
    #[error("ternd sent a malformed answer: {0}")]
    Protocol(String),
}

impl Client {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Client { path: path.into() }
    }

    /// The socket this client connects to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends `cmd` and waits at most `timeout` for each of the write and the read.
    pub fn call(&self, cmd: Command, timeout: Duration) -> Result<Response, ClientError> {
        let stream = self.connect(timeout)?;
        let mut writer = &stream;
        write_line(&mut writer, &Request::new(cmd)).map_err(|e| classify(e, timeout))?;
        let mut reader = BufReader::new(&stream);
        read_line(&mut reader).map_err(|e| classify(e, timeout))
    }
}

/// The events after a successful [`Client::watch`], one at a time.
#[derive(Debug)]
pub struct EventStream {
    reader: BufReader<UnixStream>,
}

impl EventStream {
    /// Waits for the next event; `Ok(None)` when ternd closed the stream (it stopped).
    pub fn next_event(&mut self) -> Result<Option<EventInfo>, ClientError> {
        match read_line(&mut self.reader) {
            Ok(event) => Ok(Some(event)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                Err(ClientError::Protocol(e.to_string()))
            }
            Err(e) => Err(ClientError::Io(e)),
        }
    }
}

impl Client {
    /// Subscribes to events (of `connection`, or all). Waits at most `timeout` for
    /// ternd to confirm; the stream then waits as long as it takes for each event.
    /// A refusal comes back as `Ok(Err(response))`.
    pub fn watch(
        &self,
        connection: Option<String>,
        timeout: Duration,
    ) -> Result<Result<EventStream, Response>, ClientError> {
        let stream = self.connect(timeout)?;
        let mut writer = &stream;
        write_line(&mut writer, &Request::new(Command::Watch { connection }))
            .map_err(|e| classify(e, timeout))?;
        let mut reader = BufReader::new(stream);
        let response: Response = read_line(&mut reader).map_err(|e| classify(e, timeout))?;
        if !matches!(
            response,
            Response::Ok {
                body: ResponseBody::Watching { .. }
            }
        ) {
            return Ok(Err(response));
        }
        reader
            .get_ref()
            .set_read_timeout(None)
            .map_err(ClientError::Io)?;
        Ok(Ok(EventStream { reader }))
    }

    fn connect(&self, timeout: Duration) -> Result<UnixStream, ClientError> {
        let stream =
            UnixStream::connect(&self.path).map_err(|source| ClientError::Unreachable {
                path: self.path.clone(),
                source,
            })?;
        // A zero timeout would mean "block forever" to the socket API.
        let timeout = timeout.max(Duration::from_millis(1));
        stream
            .set_read_timeout(Some(timeout))
            .map_err(ClientError::Io)?;
        stream
            .set_write_timeout(Some(timeout))
            .map_err(ClientError::Io)?;
        Ok(stream)
    }
}

fn classify(e: io::Error, timeout: Duration) -> ClientError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ClientError::Timeout { timeout },
        io::ErrorKind::InvalidData => ClientError::Protocol(e.to_string()),
        _ => ClientError::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ResponseBody;
    use std::io::Write;
    use std::os::unix::net::UnixListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    /// A fresh socket path in the temp directory, unique per test.
    fn temp_socket() -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("tern-control-{}-{n}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        path
    }

    /// Serves one connection with `serve` on a background thread.
    fn one_shot_server(
        serve: impl FnOnce(UnixStream) + Send + 'static,
    ) -> (PathBuf, thread::JoinHandle<()>) {
        let path = temp_socket();
        let listener = UnixListener::bind(&path).unwrap();
        let handle = thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            serve(stream);
        });
        (path, handle)
    }

    #[test]
    fn call_sends_the_request_and_returns_the_response() {
        let (path, server) = one_shot_server(|stream| {
            let req: Request = read_line(&mut BufReader::new(&stream)).unwrap();
            assert_eq!(req, Request::new(Command::Version));
            let resp = Response::Ok {
                body: ResponseBody::Version {
                    version: "9.9".into(),
                },
            };
            write_line(&mut &stream, &resp).unwrap();
        });
        let resp = Client::new(&path)
            .call(Command::Version, Duration::from_secs(5))
            .unwrap();
        assert_eq!(
            resp,
            Response::Ok {
                body: ResponseBody::Version {
                    version: "9.9".into()
                }
            }
        );
        server.join().unwrap();
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn watch_reads_events_until_the_daemon_closes() {
        let event = EventInfo {
            unix_ms: 1_700_000_000_000,
            kind: crate::EventKind::IkeSaEstablished,
            connection: "demo".into(),
            ike_id: 1,
            new_ike_id: None,
            initiator_spi: Some("0123456789abcdef".into()),
            responder_spi: Some("fedcba9876543210".into()),
            child: None,
            spi_in: None,
            spi_out: None,
            reason: None,
            end_kind: None,
            lost: None,
        };
        let sent = event.clone();
        let (path, server) = one_shot_server(move |stream| {
            let req: Request = read_line(&mut BufReader::new(&stream)).unwrap();
            assert_eq!(
                req,
                Request {
                    version: 2,
                    command: Command::Watch {
                        connection: Some("demo".into())
                    }
                }
            );
            let ok = Response::Ok {
                body: ResponseBody::Watching {
                    connection: Some("demo".into()),
                },
            };
            write_line(&mut &stream, &ok).unwrap();
            write_line(&mut &stream, &sent).unwrap();
            write_line(&mut &stream, &sent).unwrap();
        });
        let mut events = Client::new(&path)
            .watch(Some("demo".into()), Duration::from_secs(5))
            .unwrap()
            .unwrap();
        assert_eq!(events.next_event().unwrap(), Some(event.clone()));
        assert_eq!(events.next_event().unwrap(), Some(event));
        server.join().unwrap();
        assert_eq!(events.next_event().unwrap(), None);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn watch_refused_returns_the_response() {
        let (path, server) = one_shot_server(|stream| {
            let _: Request = read_line(&mut BufReader::new(&stream)).unwrap();
            let refusal = Response::Error {
                message: "no connection named `x`".into(),
            };
            write_line(&mut &stream, &refusal).unwrap();
        });
        let refused = Client::new(&path)
            .watch(Some("x".into()), Duration::from_secs(5))
            .unwrap()
            .unwrap_err();
        assert_eq!(
            refused,
            Response::Error {
                message: "no connection named `x`".into()
            }
        );
        server.join().unwrap();
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn missing_socket_is_unreachable() {
        let path = temp_socket();
        let err = Client::new(&path)
            .call(Command::ListSas, Duration::from_secs(1))
            .unwrap_err();
        assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("cannot reach daemon at"), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("is ternd running?"), "{text}");
    }

    #[test]
    fn garbage_answer_is_a_protocol_error() {
        let (path, server) = one_shot_server(|mut stream| {
            let _: Request = read_line(&mut BufReader::new(&stream)).unwrap();
            stream.write_all(b"{\"status\":\"maybe\"}\n").unwrap();
        });
        let err = Client::new(&path)
            .call(Command::ListSas, Duration::from_secs(5))
            .unwrap_err();
        assert!(matches!(err, ClientError::Protocol(_)), "{err:?}");
        server.join().unwrap();
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn silent_daemon_times_out() {
        let (path, server) = one_shot_server(|stream| {
            let _: Request = read_line(&mut BufReader::new(&stream)).unwrap();
            thread::sleep(Duration::from_millis(500));
        });
        let err = Client::new(&path)
            .call(Command::ListSas, Duration::from_millis(100))
            .unwrap_err();
        assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");
        server.join().unwrap();
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn daemon_closing_early_is_an_io_error() {
        let (path, server) = one_shot_server(|stream| {
            let _: Request = read_line(&mut BufReader::new(&stream)).unwrap();
            drop(stream);
        });
        let err = Client::new(&path)
            .call(Command::ListSas, Duration::from_secs(5))
            .unwrap_err();
        assert!(matches!(err, ClientError::Io(_)), "{err:?}");
        server.join().unwrap();
        let _ = std::fs::remove_file(path);
    }
}
