//! Control requests: answered at once, or held until the IKE SAs they started
//! reach an outcome.

use super::*;

impl Daemon {
    pub(super) fn control(&mut self, req: ControlRequest) {
        let now = std::time::Instant::now();
        let response = match req.command {
            ControlCommand::ListSas => {
                let mut kernel = self.kernel.lock().expect("kernel lock");
                let sas = self
                    .engine
                    .list_sas(now)
                    .iter()
                    .map(|sa| present::ike_sa(sa, &mut *kernel))
                    .collect();
                // Every engine shares the one history: the first answers with it,
                // so the merged answer holds it once.
                let history = if self.engine.shard().index() == 0 {
                    self.history
                        .lock()
                        .expect("history lock")
                        .answer(SystemTime::now())
                } else {
                    Vec::new()
                };
                Response::Ok {
                    body: ResponseBody::Sas { sas, history },
                }
            }
            ControlCommand::ListConns => {
                let traps = self.engine.traps();
                let conns = self
                    .engine
                    .config()
                    .connections
                    .iter()
                    .map(|c| {
                        let mut info = tern_config::conn_info(c);
                        for child in &mut info.children {
                            child.trapped = traps.contains(&(c.name.clone(), child.name.clone()));
                        }
                        info
                    })
                    .collect();
                Response::Ok {
                    body: ResponseBody::Conns { conns },
                }
            }
            ControlCommand::Reload => match &req.config {
                Some(config) => Response::Ok {
                    body: ResponseBody::Reloaded {
                        message: self.reload(config),
                    },
                },
                // Shards loads the file; a reload without it would be a bug.
                None => Response::Error {
                    message: "reload refused: no configuration came with the request".into(),
                },
            },
            ControlCommand::Version => Response::Ok {
                body: ResponseBody::Version {
                    version: env!("CARGO_PKG_VERSION").into(),
                },
            },
            ControlCommand::Stats => Response::Ok {
                body: ResponseBody::Stats {
                    stats: Box::new(stats::info(stats::Sources {
                        engine: self.engine.stats(),
                        half_open: self.engine.half_open(),
                        sas: &self.engine.list_sas(now),
                        sockets: &self.sockets_counted,
                        daemon: &self.counters,
                        uptime: self.started.elapsed(),
                        watchers: self.watchers.count(),
                        events_dropped: self.watchers.dropped(),
                    })),
                },
            },
            ControlCommand::ListLeases => Response::Ok {
                body: ResponseBody::Leases {
                    leases: self.engine.leases().into_iter().map(lease_info).collect(),
                },
            },
            ControlCommand::Watch { connection } => self.subscribe(connection, req.events),
            // Shards puts it together from list-conns, list-sas and stats.
            ControlCommand::Diagnose { .. } => Response::Error {
                message: "diagnose is answered for all engines at once, not by one".into(),
            },
            ControlCommand::Initiate { connection, .. } => {
                let with_child = self
                    .engine
                    .config()
                    .connections
                    .iter()
                    .any(|c| c.name == connection && !c.children.is_empty());
                return self.start_waiting(
                    req.reply,
                    connection.clone(),
                    Command::Initiate { connection },
                    Goal::Established { with_child },
                );
            }
            ControlCommand::Rekey { connection } => {
                return self.start_waiting(
                    req.reply,
                    connection.clone(),
                    Command::Rekey { connection },
                    Goal::Rekeyed,
                );
            }
            ControlCommand::RekeyIke { connection } => {
                return self.start_waiting(
                    req.reply,
                    connection.clone(),
                    Command::RekeyIke { connection },
                    Goal::IkeRekeyed,
                );
            }
            ControlCommand::Terminate { connection } => {
                return self.start_waiting(
                    req.reply,
                    connection.clone(),
                    Command::Terminate { connection },
                    Goal::Deleted,
                );
            }
        };
        let _ = req.reply.send(response);
    }

    fn start_waiting(
        &mut self,
        reply: tokio::sync::oneshot::Sender<Response>,
        connection: String,
        command: Command,
        goal: Goal,
    ) {
        match self
            .engine
            .handle_command(std::time::Instant::now(), command)
        {
            // Only a trap to remove (terminate): nothing to wait for.
            Ok(accepted) if accepted.ike_ids.is_empty() && goal == Goal::Deleted => {
                let _ = reply.send(Response::Ok {
                    body: ResponseBody::Terminated {
                        message: format!("{connection}: trap removed"),
                    },
                });
            }
            Ok(accepted) => self.waiters.push(Waiter {
                connection,
                ike_ids: accepted.ike_ids,
                goal,
                started: Instant::now(),
                reply,
            }),
            Err(message) => {
                let _ = reply.send(Response::Error { message });
            }
        }
    }

    /// A new watcher of `connection` (or of all), if there is such a connection.
    fn subscribe(
        &mut self,
        connection: Option<String>,
        events: Option<mpsc::Sender<tern_control::EventInfo>>,
    ) -> Response {
        let Some(events) = events else {
            return Response::Error {
                message: "watch needs a stream".into(),
            };
        };
        if let Some(name) = &connection {
            if !self
                .engine
                .config()
                .connections
                .iter()
                .any(|c| &c.name == name)
            {
                return Response::Error {
                    message: format!("no connection named `{name}`"),
                };
            }
        }
        if self.watchers.is_empty() {
            self.ike_spis = self
                .engine
                .list_sas(std::time::Instant::now())
                .iter()
                .map(|sa| (sa.unique_id, (sa.initiator_spi, sa.responder_spi)))
                .collect();
        }
        self.watchers.subscribe(connection.clone(), events);
        Response::Ok {
            body: ResponseBody::Watching { connection },
        }
    }

    /// Completes the control requests an event settles.
    pub(super) fn on_event(&mut self, event: Event) {
        self.publish(&event);
        let (id, outcome) = match &event {
            Event::IkeSaEstablished { ike_id, .. } => (*ike_id, Outcome::IkeUp),
            Event::ChildSaInstalled {
                ike_id,
                child,
                spi_in,
                spi_out,
                ..
            } => (
                *ike_id,
                Outcome::ChildUp(format!(
                    "CHILD SA {child} installed (in {spi_in:08x}, out {spi_out:08x})"
                )),
            ),
            Event::ChildSaFailed {
                ike_id,
                child,
                reason,
                ..
            } => (
                *ike_id,
                Outcome::ChildFailed(format!("CHILD SA {child} failed: {reason}")),
            ),
            Event::IkeSaFailed { ike_id, reason, .. }
            | Event::IkeSaDeleted { ike_id, reason, .. } => {
                (*ike_id, Outcome::Gone(reason.text.clone()))
            }
            Event::IkeSaRekeyed {
                old_ike_id,
                new_ike_id,
                ..
            } => (*old_ike_id, Outcome::IkeRekeyed(*new_ike_id)),
            // The engine logs end actions itself; no control request waits on one.
            Event::ChildSaDeleted { .. } | Event::EndAction { .. } => return,
        };
        let mut i = 0;
        while i < self.waiters.len() {
            if self.waiters[i].ike_ids.contains(&id) {
                if let Some(response) = settle(&mut self.waiters[i], id, &outcome) {
                    let waiter = self.waiters.swap_remove(i);
                    let _ = waiter.reply.send(response);
                    continue;
                }
            }
            i += 1;
        }
    }
}

enum Outcome {
    IkeUp,
    IkeRekeyed(u64),
    ChildUp(String),
    ChildFailed(String),
    Gone(String),
}

/// Whether `outcome` for IKE SA `id` finishes the waiter's request, and how.
fn settle(w: &mut Waiter, id: u64, outcome: &Outcome) -> Option<Response> {
    let ms = w.started.elapsed().as_millis();
    let ok = |message: String| {
        Some(Response::Ok {
            body: ResponseBody::Initiated { message },
        })
    };
    let fail = |message: String| Some(Response::Error { message });
    match (w.goal, outcome) {
        (Goal::Established { with_child: false }, Outcome::IkeUp) => ok(format!(
            "{}: IKE SA #{id} established in {ms} ms",
            w.connection
        )),
        (Goal::Established { with_child: true }, Outcome::ChildUp(what)) => ok(format!(
            "{}: IKE SA #{id} established, {what} in {ms} ms",
            w.connection
        )),
        (Goal::Established { .. }, Outcome::ChildFailed(what)) => fail(format!(
            "{}: IKE SA #{id} established, but {what}",
            w.connection
        )),
        (Goal::Established { .. }, Outcome::Gone(reason)) => {
            fail(format!("{}: {reason}", w.connection))
        }
        (Goal::Rekeyed, Outcome::ChildUp(what)) => Some(Response::Ok {
            body: ResponseBody::Rekeyed {
                message: format!("{}: rekeyed, {what} in {ms} ms", w.connection),
            },
        }),
        (Goal::Rekeyed, Outcome::ChildFailed(what) | Outcome::Gone(what)) => {
            fail(format!("{}: {what}", w.connection))
        }
        (Goal::IkeRekeyed, Outcome::IkeRekeyed(new_id)) => Some(Response::Ok {
            body: ResponseBody::Rekeyed {
                message: format!(
                    "{}: IKE SA #{id} rekeyed, now IKE SA #{new_id}, in {ms} ms",
                    w.connection
                ),
            },
        }),
        (Goal::IkeRekeyed, Outcome::Gone(what)) => fail(format!("{}: {what}", w.connection)),
        (Goal::Deleted, Outcome::Gone(_)) => {
            w.ike_ids.retain(|x| *x != id);
            w.ike_ids.is_empty().then(|| Response::Ok {
                body: ResponseBody::Terminated {
                    message: format!("{}: IKE SA deleted in {ms} ms", w.connection),
                },
            })
        }
        _ => None,
    }
}

fn lease_info(lease: tern_engine::LeaseInfo) -> tern_control::LeaseInfo {
    tern_control::LeaseInfo {
        pool: lease.pool,
        address: lease.address,
        identity: lease.identity,
        online: lease.online,
    }
}
