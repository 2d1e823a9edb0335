//! EAP-RADIUS for the engines: each EAP message an engine hands out
//! (`Engine::poll_radius_request`) goes to the `[radius]` servers on a task of
//! the engine's own runtime, and the answer comes back on the engine's queue
//! (`Engine::handle_radius_answer`). The engine never waits on the server.

use std::sync::Arc;

use tern_config::radius::RadiusConfig;
use tern_engine::{RadiusAnswer, RadiusGrant, RadiusRelay};
use tern_radius::{Answer, Client, EapRequest, Server};
use tokio::sync::mpsc;

/// The RADIUS client every engine shares, and what goes in each request.
#[derive(Debug)]
pub struct Relayer {
    client: Client,
    nas_identifier: String,
}

impl Relayer {
    /// What the client did so far, for the metrics.
    pub fn counts(&self) -> &tern_radius::Counts {
        self.client.counts()
    }

    pub fn new(config: &RadiusConfig) -> Relayer {
        let servers = config
            .servers
            .iter()
            .map(|s| Server {
                address: s.address,
                secret: s.secret.clone(),
            })
            .collect();
        Relayer {
            client: Client::new(servers, config.timeout, config.tries),
            nas_identifier: config.nas_identifier.clone(),
        }
    }
}

/// An engine's answers: (IKE SA unique id, answer).
pub type Answers = mpsc::UnboundedSender<(u64, RadiusAnswer)>;

/// Sends `relay` to the RADIUS servers on a task; its answer goes to `answers`.
/// Without `[radius]` (a connection given `remote_auth = "eap-radius"` by a
/// reload, when ternd started without servers) the answer is unreachable.
pub fn relay(relayer: Option<&Arc<Relayer>>, relay: RadiusRelay, answers: &Answers) {
    let Some(relayer) = relayer.cloned() else {
        let answer = RadiusAnswer::Unreachable {
            reason: "ternd started without [radius] servers (they apply at restart)".into(),
        };
        let _ = answers.send((relay.ike, answer));
        return;
    };
    let answers = answers.clone();
    tokio::spawn(async move {
        let request = EapRequest {
            user_name: relay.user.as_bytes().to_vec(),
            eap: relay.eap,
            state: relay.state,
            nas_identifier: relayer.nas_identifier.clone(),
            calling_station: Some(relay.peer.ip().to_string()),
        };
        let answer = match relayer.client.exchange(&request).await {
            Ok(Answer::Challenge { eap, state }) => RadiusAnswer::Challenge { eap, state },
            Ok(Answer::Accept { msk, grant, .. }) => {
                for why in &grant.ignored {
                    tracing::warn!(
                        user = relay.user.as_str(),
                        "the RADIUS server's Access-Accept has {why}: left out"
                    );
                }
                RadiusAnswer::Accept {
                    msk,
                    grant: RadiusGrant {
                        framed_ip: grant.framed_ip,
                        framed_ipv6: grant.framed_ipv6,
                        session_timeout: grant
                            .session_timeout
                            .map(|s| std::time::Duration::from_secs(u64::from(s))),
                        class: grant.class,
                    },
                }
            }
            Ok(Answer::Reject { reply_message, .. }) => RadiusAnswer::Reject {
                reason: reply_message,
            },
            Err(unreachable) => RadiusAnswer::Unreachable {
                reason: unreachable.to_string(),
            },
        };
        // The engine's loop may have ended (ternd stopping): nothing to do then.
        let _ = answers.send((relay.ike, answer));
    });
}
