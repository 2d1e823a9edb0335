//! The kernel's word on tern's SAs: XFRM EXPIRE notifications (traffic limits
//! reached), MAPPINGs (a NAT moved the peer) and ACQUIREs (a trap's policy matched
//! a packet), read off a monitor socket and handed to the daemon loop.

use tern_engine::KernelEvent;
use tern_xfrm::{engine_reqid, Group, Monitor, XfrmEvent};
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;

/// ESP's IP protocol number: tern's SAs are all ESP.
const ESP: u8 = 50;

/// Subscribes to EXPIRE, MAPPING and ACQUIRE in ternd's network namespace.
pub fn open() -> Result<AsyncFd<Monitor>, String> {
    let monitor = Monitor::open_groups(&[Group::Expire, Group::Mapping, Group::Acquire])
        .map_err(|e| e.to_string())?;
    // SAFETY: the Monitor owns its descriptor and never changes it, and the AsyncFd
    // owns the Monitor for as long as it is registered.
    unsafe { AsyncFd::register_with_interest(monitor, tokio::io::Interest::READABLE) }
        .map_err(|e| format!("watching the XFRM monitor socket: {e}"))
}

/// Forwards EXPIREs and MAPPINGs of ESP SAs and ACQUIREs of tern's policies to the
/// daemon until it goes away.
pub async fn forward(mut monitor: AsyncFd<Monitor>, to_daemon: mpsc::Sender<KernelEvent>) {
    loop {
        let mut ready = match monitor.readable_mut().await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(
                    "XFRM monitor: {e}; kernel EXPIREs and ACQUIREs are no longer seen"
                );
                return;
            }
        };
        let events = match ready.get_inner_mut().recv_events() {
            Ok(events) => events,
            Err(e) => {
                tracing::error!(
                    "XFRM monitor: {e}; kernel EXPIREs and ACQUIREs are no longer seen"
                );
                return;
            }
        };
        ready.clear_ready();
        for event in events.into_iter().filter_map(to_engine) {
            if to_daemon.send(event).await.is_err() {
                return;
            }
        }
    }
}

fn to_engine(event: XfrmEvent) -> Option<KernelEvent> {
    match event {
        // Only tern's own reqids: another daemon's traps are not ours to answer.
        XfrmEvent::Acquire {
            policy,
            template,
            src,
            dst,
            ..
        } => {
            let reqid = template
                .map(|t| t.reqid)
                .or_else(|| policy.templates.first().map(|t| t.reqid))?;
            Some(KernelEvent::Acquire {
                reqid: engine_reqid(reqid)?,
                src,
                dst,
            })
        }
        XfrmEvent::Mapping { dst, spi, new, .. } => Some(KernelEvent::Mapping { dst, spi, new }),
        XfrmEvent::Expire { sa, hard } if sa.proto == ESP => Some(KernelEvent::Expire {
            src: sa.src,
            dst: sa.dst,
            spi: sa.spi,
            hard,
        }),
        XfrmEvent::Overrun => {
            tracing::warn!("XFRM monitor overrun: kernel EXPIREs and ACQUIREs may have been lost");
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_xfrm::{kernel_reqid, Mode, PolicyDir, PolicySummary, Selector, Template};

    fn acquire(reqid: u32) -> XfrmEvent {
        let any = "0.0.0.0".parse().unwrap();
        let (src, dst) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let template = Template {
            src,
            dst,
            reqid,
            mode: Mode::Tunnel,
            spi: 0,
        };
        XfrmEvent::Acquire {
            policy: PolicySummary {
                selector: Selector::subnets(any, 0, any, 0),
                dir: PolicyDir::Out,
                priority: 0,
                index: 0,
                action: 0,
                templates: vec![template],
                mark: None,
                if_id: None,
                use_time: 0,
            },
            packet: None,
            template: Some(template),
            src,
            dst,
            seq: 1,
        }
    }

    #[test]
    fn acquires_of_tern_reqids_reach_the_engine_with_the_engines_reqid() {
        assert_eq!(
            to_engine(acquire(kernel_reqid(3))),
            Some(KernelEvent::Acquire {
                reqid: 3,
                src: "192.0.2.1".parse().unwrap(),
                dst: "192.0.2.2".parse().unwrap(),
            })
        );
        // Another daemon's trap (strongSwan's reqids start at 1): not ours.
        assert_eq!(to_engine(acquire(1)), None);
    }
}
