//! The control requests of a sharded ternd: each goes to the shard that holds
//! what it names, or to all of them, and their answers are merged so ternctl sees
//! one daemon (docs/CONTROL.md is unchanged).

use std::net::IpAddr;
use std::sync::Arc;

use tern_control::{Command, ConnHistory, EventInfo, Response, ResponseBody};
use tokio::sync::{mpsc, oneshot};

use crate::control::ControlRequest;
use crate::dispatch;

/// The control queues of the shards, by index.
pub struct Shards {
    control: Vec<mpsc::Sender<ControlRequest>>,
}

impl Shards {
    pub fn new(control: Vec<mpsc::Sender<ControlRequest>>) -> Arc<Shards> {
        Arc::new(Shards { control })
    }

    /// Answers control requests until the control server stops.
    pub async fn serve(self: Arc<Self>, mut requests: mpsc::Receiver<ControlRequest>) {
        while let Some(req) = requests.recv().await {
            if self.control.len() == 1 {
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
            Command::Stats => crate::stats::merge_responses(self.ask_all(&command, None).await),
            // The connection's SAs may be in several shards (many peers of one
            // connection): each acts on its own, and any success is the answer.
            Command::Terminate { .. } | Command::Rekey { .. } | Command::RekeyIke { .. } => {
                merge_outcomes(self.ask_all(&command, None).await)
            }
        }
    }

    /// Reloads every shard, one after the other; the first refusal is the answer.
    pub async fn reload(&self) -> Response {
        let mut first = None;
        for shard in &self.control {
            let answer = ask(shard, Command::Reload, None).await;
            if matches!(answer, Response::Error { .. }) {
                return answer;
            }
            first.get_or_insert(answer);
        }
        first.expect("at least one shard")
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

async fn ask(
    shard: &mpsc::Sender<ControlRequest>,
    command: Command,
    events: Option<mpsc::Sender<EventInfo>>,
) -> Response {
    let (reply, answer) = oneshot::channel();
    let request = ControlRequest {
        command,
        reply,
        events,
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
