//! The control requests of a sharded ternd: each goes to the shard that holds
//! what it names, or to all of them, and their answers are merged so ternctl sees
//! one daemon (docs/CONTROL.md is unchanged).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tern_control::{Command, ConnHistory, EventInfo, Response, ResponseBody};
use tokio::sync::{mpsc, oneshot};

use crate::control::ControlRequest;
use crate::dispatch;

/// The control queues of the shards, by index.
pub struct Shards {
    control: Vec<mpsc::Sender<ControlRequest>>,
    /// Where `reload` reads the configuration; `None` is the built-in one.
    config_source: Option<PathBuf>,
}

impl Shards {
    pub fn new(
        control: Vec<mpsc::Sender<ControlRequest>>,
        config_source: Option<PathBuf>,
    ) -> Arc<Shards> {
        Arc::new(Shards {
            control,
            config_source,
        })
    }

    /// Answers control requests until the control server stops.
    pub async fn serve(self: Arc<Self>, mut requests: mpsc::Receiver<ControlRequest>) {
        while let Some(req) = requests.recv().await {
            // Reload and diagnose are answered here, whatever the number of shards.
            let here = matches!(req.command, Command::Reload | Command::Diagnose { .. });
            if self.control.len() == 1 && !here {
                // One shard: exactly the unsharded daemon.
                if self.control[0].send(req).await.is_err() {
                    return;
                }
                continue;
            }
            // Each on its own task: a terminate waiting for its peer holds up nothing.
            let shards = self.clone();
            tokio::spawn(async move {
                let response = shards.answer(req.command, req.events).await;
                let _ = req.reply.send(response);
            });
        }
    }

    async fn answer(&self, command: Command, events: Option<mpsc::Sender<EventInfo>>) -> Response {
        match command {
            Command::Version => ask(&self.control[0], command, None).await,
            Command::ListConns => merge_conns(self.ask_all(&command, None).await),
            Command::Initiate { ref connection, .. } => {
                let shard = self.home_of(connection).await;
                ask(&self.control[shard], command, None).await
            }
            Command::Reload => self.reload().await,
            Command::Watch { .. } => {
                // Every shard writes into the one stream; it ends when all have let go.
                let answers = self.ask_all(&command, events).await;
                first_error_or_first(answers)
            }
            Command::ListSas => merge_sas(self.ask_all(&command, None).await),
            Command::ListLeases => merge_leases(self.ask_all(&command, None).await),
            Command::Stats => crate::stats::merge_responses(self.ask_all(&command, None).await),
            Command::Diagnose { ref connection } => {
                let conns = merge_conns(self.ask_all(&Command::ListConns, None).await);
                let sas = merge_sas(self.ask_all(&Command::ListSas, None).await);
                let stats =
                    crate::stats::merge_responses(self.ask_all(&Command::Stats, None).await);
                crate::diagnose::answer(connection.as_deref(), conns, sas, stats)
            }
            // The connection's SAs may be in several shards (many peers of one
            // connection): each acts on its own, and any success is the answer.
            Command::Terminate { .. } | Command::Rekey { .. } | Command::RekeyIke { .. } => {
                merge_outcomes(self.ask_all(&command, None).await)
            }
        }
    }

    /// Reads and validates the configuration once, then switches every shard to
    /// it: all of them or, if it does not load, none.
    pub async fn reload(&self) -> Response {
        let source = self.config_source.clone();
        let loaded = tokio::task::spawn_blocking(move || match &source {
            Some(path) => tern_config::load_file(path),
            None => tern_config::default_config(),
        })
        .await;
        let config = match loaded {
            Ok(Ok(config)) => Arc::new(config.engine),
            Ok(Err(e)) => return refused(e),
            Err(e) => return refused(e),
        };
        let asked: Vec<_> = self
            .control
            .iter()
            .map(|shard| {
                let (shard, config) = (shard.clone(), config.clone());
                tokio::spawn(async move { reload_shard(&shard, config).await })
            })
            .collect();
        let mut answers = Vec::with_capacity(asked.len());
        for task in asked {
            answers.push(task.await.unwrap_or_else(|e| Response::Error {
                message: format!("a shard failed to answer: {e}"),
            }));
        }
        // The same configuration gives every shard the same report.
        first_error_or_first(answers)
    }

    /// The shard of a connection's peer (shard 0 if it is unknown: that shard
    /// then says so).
    async fn home_of(&self, connection: &str) -> usize {
        let count = self.control.len() as u32;
        let Response::Ok {
            body: ResponseBody::Conns { conns },
        } = ask(&self.control[0], Command::ListConns, None).await
        else {
            return 0;
        };
        let remotes: Vec<IpAddr> = conns
            .iter()
            .find(|c| c.name == connection)
            .map(|c| {
                c.remote_addrs
                    .iter()
                    .filter_map(|a| a.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        dispatch::connection_shard(&remotes, count)
    }

    async fn ask_all(
        &self,
        command: &Command,
        events: Option<mpsc::Sender<EventInfo>>,
    ) -> Vec<Response> {
        let asked: Vec<_> = self
            .control
            .iter()
            .map(|shard| {
                let (shard, command, events) = (shard.clone(), command.clone(), events.clone());
                tokio::spawn(async move { ask(&shard, command, events).await })
            })
            .collect();
        let mut answers = Vec::with_capacity(asked.len());
        for task in asked {
            answers.push(task.await.unwrap_or_else(|e| Response::Error {
                message: format!("a shard failed to answer: {e}"),
            }));
        }
        answers
    }
}

fn refused(e: impl std::fmt::Display) -> Response {
    Response::Error {
        message: format!("reload refused, the running configuration stays: {e}"),
    }
}

async fn ask(
    shard: &mpsc::Sender<ControlRequest>,
    command: Command,
    events: Option<mpsc::Sender<EventInfo>>,
) -> Response {
    send(shard, command, events, None).await
}

async fn reload_shard(
    shard: &mpsc::Sender<ControlRequest>,
    config: Arc<tern_engine::config::EngineConfig>,
) -> Response {
    send(shard, Command::Reload, None, Some(config)).await
}

async fn send(
    shard: &mpsc::Sender<ControlRequest>,
    command: Command,
    events: Option<mpsc::Sender<EventInfo>>,
    config: Option<Arc<tern_engine::config::EngineConfig>>,
) -> Response {
    let (reply, answer) = oneshot::channel();
    let request = ControlRequest {
        command,
        reply,
        events,
        config,
    };
    if shard.send(request).await.is_err() {
        return Response::Error {
            message: "ternd is shutting down".into(),
        };
    }
    answer.await.unwrap_or(Response::Error {
        message: "ternd dropped the request".into(),
    })
}

fn first_error_or_first(answers: Vec<Response>) -> Response {
    let error = answers
        .iter()
        .position(|a| matches!(a, Response::Error { .. }));
    answers
        .into_iter()
        .nth(error.unwrap_or(0))
        .expect("at least one shard")
}

/// Terminate and rekey: the shards that had SAs of the connection answer with
/// what they did (joined); the others say they had none, which matters only if
/// none had any — then the most specific refusal is the answer.
fn merge_outcomes(answers: Vec<Response>) -> Response {
    let (oks, errors): (Vec<_>, Vec<_>) = answers
        .into_iter()
        .partition(|a| matches!(a, Response::Ok { .. }));
    if oks.is_empty() {
        // "no IKE SA for `x`; its pending restart is cancelled" says more than
        // "no IKE SA for `x`".
        return errors
            .into_iter()
            .max_by_key(|e| match e {
                Response::Error { message } => message.len(),
                Response::Ok { .. } => 0,
            })
            .expect("at least one shard");
    }
    let mut oks = oks.into_iter();
    let first = oks.next().expect("not empty");
    let more: Vec<String> = oks.filter_map(|a| message_of(&a)).collect();
    if more.is_empty() {
        return first;
    }
    let Response::Ok { body } = first else {
        unreachable!("partitioned")
    };
    let join = |m: String| {
        std::iter::once(m)
            .chain(more)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let body = match body {
        ResponseBody::Terminated { message } => ResponseBody::Terminated {
            message: join(message),
        },
        ResponseBody::Rekeyed { message } => ResponseBody::Rekeyed {
            message: join(message),
        },
        other => other,
    };
    Response::Ok { body }
}

fn message_of(answer: &Response) -> Option<String> {
    match answer {
        Response::Ok {
            body: ResponseBody::Terminated { message } | ResponseBody::Rekeyed { message },
        } => Some(message.clone()),
        _ => None,
    }
}

/// Every shard has the same connections; a child is trapped if the shard that
/// owns the connection holds its trap.
/// Every shard's leases (each hands out its own share of a pool), in one list
/// by pool and address.
fn merge_leases(answers: Vec<Response>) -> Response {
    let mut all = Vec::new();
    for answer in answers {
        let Response::Ok {
            body: ResponseBody::Leases { leases },
        } = answer
        else {
            return answer;
        };
        all.extend(leases);
    }
    all.sort_by(|a, b| (&a.pool, a.address).cmp(&(&b.pool, b.address)));
    Response::Ok {
        body: ResponseBody::Leases { leases: all },
    }
}

fn merge_conns(answers: Vec<Response>) -> Response {
    let mut merged: Option<Response> = None;
    for answer in answers {
        let Response::Ok {
            body: ResponseBody::Conns { conns },
        } = answer
        else {
            return answer;
        };
        let Some(Response::Ok {
            body: ResponseBody::Conns { conns: into },
        }) = merged.as_mut()
        else {
            merged = Some(Response::Ok {
                body: ResponseBody::Conns { conns },
            });
            continue;
        };
        for (ours, theirs) in into.iter_mut().zip(conns) {
            for (child, other) in ours.children.iter_mut().zip(theirs.children) {
                child.trapped |= other.trapped;
            }
        }
    }
    merged.expect("at least one shard")
}

/// The IKE SAs of all shards by unique id (which no two shards share), and each
/// connection's history, merged oldest first.
fn merge_sas(answers: Vec<Response>) -> Response {
    let mut all_sas = Vec::new();
    let mut all_history: Vec<ConnHistory> = Vec::new();
    for answer in answers {
        match answer {
            Response::Ok {
                body: ResponseBody::Sas { sas, history },
            } => {
                all_sas.extend(sas);
                for h in history {
                    match all_history
                        .iter_mut()
                        .find(|m| m.connection == h.connection)
                    {
                        Some(m) => m.ends.extend(h.ends),
                        None => all_history.push(h),
                    }
                }
            }
            other => return other,
        }
    }
    all_sas.sort_by_key(|sa| sa.unique_id);
    // Only the first engine answers with the history (which all share), so this
    // keeps its order and length; the sort is for older answers, each engine its own.
    for h in &mut all_history {
        h.ends.sort_by_key(|e| std::cmp::Reverse(e.ago_secs));
    }
    all_history.sort_by(|a, b| a.connection.cmp(&b.connection));
    Response::Ok {
        body: ResponseBody::Sas {
            sas: all_sas,
            history: all_history,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_engine::config::EngineConfig;

    /// `count` stand-in engines that answer every reload and pass on the
    /// configuration each was handed.
    fn fake_shards(
        count: usize,
    ) -> (
        Vec<mpsc::Sender<ControlRequest>>,
        mpsc::UnboundedReceiver<Arc<EngineConfig>>,
    ) {
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let queues = (0..count)
            .map(|_| {
                let (tx, mut rx) = mpsc::channel::<ControlRequest>(4);
                let seen_tx = seen_tx.clone();
                tokio::spawn(async move {
                    while let Some(req) = rx.recv().await {
                        let response = match req.config {
                            Some(config) => {
                                let _ = seen_tx.send(config);
                                Response::Ok {
                                    body: ResponseBody::Reloaded {
                                        message: "reloaded".into(),
                                    },
                                }
                            }
                            None => error("no configuration"),
                        };
                        let _ = req.reply.send(response);
                    }
                });
                tx
            })
            .collect();
        (queues, seen)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn config_file(tag: &str, text: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("ternd-shards-{}-{tag}.toml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    const GOOD: &str = include_str!("../../../conf/ternd.toml");

    #[test]
    fn every_shard_switches_to_the_one_configuration_read() {
        runtime().block_on(async {
            let (queues, mut seen) = fake_shards(3);
            let path = config_file("good", GOOD);
            let shards = Shards::new(queues, Some(path.clone()));
            let answer = shards.reload().await;
            assert!(matches!(answer, Response::Ok { .. }), "{answer:?}");
            // Read once: after the reload the file may say anything.
            std::fs::write(&path, "not = [toml").unwrap();
            let configs: Vec<_> = (0..3).map(|_| seen.try_recv().unwrap()).collect();
            assert!(configs.iter().all(|c| Arc::ptr_eq(c, &configs[0])));
            assert!(seen.try_recv().is_err(), "a shard was asked twice");
        });
    }

    #[test]
    fn a_file_that_does_not_load_reaches_no_shard() {
        runtime().block_on(async {
            let (queues, mut seen) = fake_shards(3);
            let path = config_file("bad", "[daemon]\nno_such_key = 1\n");
            let shards = Shards::new(queues, Some(path));
            let answer = shards.reload().await;
            let Response::Error { message } = answer else {
                panic!("{answer:?}")
            };
            assert!(
                message.starts_with("reload refused, the running configuration stays:")
                    && message.contains("no_such_key"),
                "{message}"
            );
            assert!(seen.try_recv().is_err(), "a shard reloaded a bad file");
        });
    }

    #[test]
    fn one_shard_reloads_through_the_same_single_read() {
        runtime().block_on(async {
            let (queues, mut seen) = fake_shards(1);
            let shards = Shards::new(queues, Some(config_file("one", GOOD)));
            let (to_shards, requests) = mpsc::channel(1);
            tokio::spawn(shards.serve(requests));
            let (reply, answer) = oneshot::channel();
            to_shards
                .send(ControlRequest {
                    command: Command::Reload,
                    reply,
                    events: None,
                    config: None,
                })
                .await
                .unwrap();
            let answer = answer.await.unwrap();
            assert!(matches!(answer, Response::Ok { .. }), "{answer:?}");
            assert!(seen.try_recv().is_ok());
        });
    }

    fn terminated(message: &str) -> Response {
        Response::Ok {
            body: ResponseBody::Terminated {
                message: message.into(),
            },
        }
    }

    fn error(message: &str) -> Response {
        Response::Error {
            message: message.into(),
        }
    }

    #[test]
    fn a_command_succeeds_if_any_shard_had_the_connection() {
        assert_eq!(
            merge_outcomes(vec![
                error("no IKE SA for connection `a`"),
                terminated("a: gone")
            ]),
            terminated("a: gone")
        );
        assert_eq!(
            merge_outcomes(vec![terminated("a: one"), terminated("a: two")]),
            terminated("a: one; a: two")
        );
        assert_eq!(
            merge_outcomes(vec![
                error("no IKE SA for connection `a`"),
                error("no IKE SA for connection `a`; its pending restart is cancelled"),
            ]),
            error("no IKE SA for connection `a`; its pending restart is cancelled")
        );
    }
}
