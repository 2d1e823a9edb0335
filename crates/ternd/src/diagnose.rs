//! The answer to `diagnose`: what ternd knows of each connection (its
//! configuration, its SAs now, how its recent SAs ended) and the counters, put
//! together from the answers to `list-conns`, `list-sas` and `stats`, so that
//! nothing new is kept: the history is already bounded per connection.
//! ternctl judges it (tern_engine::verdict).

use tern_control::{ConnEvidence, Response, ResponseBody};

/// The evidence for `connection` (or every configured one) out of the merged
/// answers to `list-conns`, `list-sas` and `stats`; an error if one failed or
/// the connection is not configured.
pub fn answer(
    connection: Option<&str>,
    conns: Response,
    sas: Response,
    stats: Response,
) -> Response {
    let (conns, (sas, history), stats) = match (conns, sas, stats) {
        (
            Response::Ok {
                body: ResponseBody::Conns { conns },
            },
            Response::Ok {
                body: ResponseBody::Sas { sas, history },
            },
            Response::Ok {
                body: ResponseBody::Stats { stats },
            },
        ) => (conns, (sas, history), stats),
        (e @ Response::Error { .. }, _, _)
        | (_, e @ Response::Error { .. }, _)
        | (_, _, e @ Response::Error { .. }) => return e,
        _ => {
            return Response::Error {
                message: "diagnose: an engine gave an answer of the wrong kind".into(),
            }
        }
    };
    if let Some(name) = connection {
        if !conns.iter().any(|c| c.name == name) {
            return Response::Error {
                message: format!("no connection named `{name}`"),
            };
        }
    }
    let connections = conns
        .into_iter()
        .filter(|c| connection.is_none_or(|name| c.name == name))
        .map(|conn| ConnEvidence {
            sas: sas
                .iter()
                .filter(|sa| sa.connection == conn.name)
                .cloned()
                .collect(),
            ends: history
                .iter()
                .filter(|h| h.connection == conn.name)
                .flat_map(|h| h.ends.iter().cloned())
                .collect(),
            conn,
        })
        .collect();
    Response::Ok {
        body: ResponseBody::Diagnosis { connections, stats },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_control::{ConnHistory, ConnInfo, SaEndInfo, StatsInfo};

    fn conn(name: &str) -> ConnInfo {
        ConnInfo {
            name: name.into(),
            local_addrs: vec![],
            remote_addrs: vec!["192.0.2.2".into()],
            local_id: "moon".into(),
            remote_id: None,
            auth: "psk".into(),
            ike_proposals: vec![],
            children: vec![],
            dpd_delay: None,
            ike_lifetime: None,
        }
    }

    fn end(cause: &str) -> SaEndInfo {
        SaEndInfo {
            ago_secs: 1,
            unix_ms: Some(1),
            kind: "IKE".into(),
            ike_id: 1,
            child: None,
            spi_in: None,
            spi_out: None,
            was_up: true,
            cause: cause.into(),
            end_kind: "dead_peer".into(),
            routine: false,
            ke_ours: vec![],
            ke_asked: vec![],
        }
    }

    fn answers() -> (Response, Response, Response) {
        (
            Response::Ok {
                body: ResponseBody::Conns {
                    conns: vec![conn("a"), conn("b")],
                },
            },
            Response::Ok {
                body: ResponseBody::Sas {
                    sas: vec![],
                    history: vec![
                        ConnHistory {
                            connection: "a".into(),
                            ends: vec![end("dead peer")],
                        },
                        ConnHistory {
                            connection: "gone".into(),
                            ends: vec![end("old")],
                        },
                    ],
                },
            },
            Response::Ok {
                body: ResponseBody::Stats {
                    stats: Box::new(StatsInfo::default()),
                },
            },
        )
    }

    #[test]
    fn every_configured_connection_with_its_own_ends() {
        let (c, s, t) = answers();
        let Response::Ok {
            body: ResponseBody::Diagnosis { connections, .. },
        } = answer(None, c, s, t)
        else {
            panic!("not a diagnosis");
        };
        let names: Vec<(&str, usize)> = connections
            .iter()
            .map(|c| (c.conn.name.as_str(), c.ends.len()))
            .collect();
        assert_eq!(names, [("a", 1), ("b", 0)]);
    }

    #[test]
    fn one_connection_or_a_clear_error() {
        let (c, s, t) = answers();
        let Response::Ok {
            body: ResponseBody::Diagnosis { connections, .. },
        } = answer(Some("b"), c, s, t)
        else {
            panic!("not a diagnosis");
        };
        assert_eq!(connections.len(), 1);
        let (c, s, t) = answers();
        assert_eq!(
            answer(Some("nope"), c, s, t),
            Response::Error {
                message: "no connection named `nope`".into()
            }
        );
        let (c, _, t) = answers();
        let failed = Response::Error {
            message: "ternd is shutting down".into(),
        };
        assert_eq!(answer(None, c, failed.clone(), t), failed);
    }
}
