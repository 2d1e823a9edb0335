//! The peer's rekey rhythm (PROBLEM.md, first row: lifetimes differ between peers).
//!
//! IKEv2 does not negotiate lifetimes: each end rekeys on its own clock, and the
//! end with the shorter lifetime rekeys first. tern accepts a peer's rekey at any
//! moment; it also remembers how old the SA was when the peer rekeyed it, carries
//! that to the SA's successors, shows it in `ternctl list-sas` beside our own
//! schedule, and logs it when the peer rekeys sooner than we ever would.

use std::time::Duration;

use crate::config::Lifetime;
use crate::ike_sa::IkeSa;

/// Whether a rekey by the peer at `age` came before ours could have: our
/// rekey_time less the whole of rand_time.
fn sooner_than_ours(age: Duration, ours: &Lifetime) -> bool {
    !ours.rekey_time.is_zero() && age < ours.rekey_time.saturating_sub(ours.rand_time)
}

/// Whether `age` is news: the first time, or more than a tenth away from before.
fn changed(before: Option<Duration>, age: Duration) -> bool {
    before.is_none_or(|b| b.abs_diff(age) > b / 10)
}

/// The peer rekeyed `sa` itself, or its CHILD SA of `child`, at `age` (it had
/// rekeyed the predecessor at `before`): says so when that is sooner than our
/// own schedule and news.
pub(crate) fn note_peer_rekey(
    sa: &IkeSa,
    child: Option<&str>,
    age: Duration,
    before: Option<Duration>,
    ours: &Lifetime,
) {
    if sooner_than_ours(age, ours) && changed(before, age) {
        tracing::info!(
            ike = sa.unique_id,
            conn = sa.connection.name,
            child,
            "the peer rekeyed the {} after {} s, before our rekey_time of {} s: \
             its lifetime is shorter than ours, and tern follows its lead",
            if child.is_some() {
                "CHILD SA"
            } else {
                "IKE SA"
            },
            age.as_secs(),
            ours.rekey_time.as_secs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn sooner_means_before_our_earliest_rekey() {
        let ours = Lifetime {
            rekey_time: secs(3600),
            life_time: secs(3960),
            rand_time: secs(360),
        };
        assert!(sooner_than_ours(secs(2700), &ours));
        assert!(
            !sooner_than_ours(secs(3300), &ours),
            "within our own jitter"
        );
        let off = Lifetime {
            rekey_time: Duration::ZERO,
            ..ours
        };
        assert!(!sooner_than_ours(secs(10), &off));
    }

    #[test]
    fn only_news_is_told() {
        assert!(changed(None, secs(2700)));
        assert!(!changed(Some(secs(2700)), secs(2650)));
        assert!(changed(Some(secs(2700)), secs(2000)));
    }
}
