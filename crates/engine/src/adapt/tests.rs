use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The peer deletes an SA of `net` at `age`, then makes `net` again `after` later.
fn end(ends: &mut PeerEnds, t0: Instant, age: Duration, after: Duration) -> Option<Duration> {
    ends.deleted("net", age, false, t0);
    ends.recreated("net", t0 + after)
}

#[test]
fn a_pattern_is_two_ends_at_about_the_same_age() {
    let (mut ends, t0, soon) = (PeerEnds::default(), Instant::now(), secs(1));
    assert_eq!(end(&mut ends, t0, secs(7), soon), None);
    assert_eq!(ends.rekey_before("net"), None);
    let a_bit_more = Duration::from_millis(7300);
    let expected = Some(Duration::from_millis(6300));
    assert_eq!(end(&mut ends, t0, a_bit_more, soon), expected);
    assert_eq!(ends.rekey_before("net"), expected);
    // Told once; the pattern holds, also past an end of another age.
    assert_eq!(end(&mut ends, t0, secs(7), soon), None);
    assert_eq!(end(&mut ends, t0, secs(60), soon), None);
    assert_eq!(ends.rekey_before("net"), expected);
    assert_eq!(ends.rekey_before("other"), None);
}

#[test]
fn a_deletion_the_peer_does_not_follow_with_the_child_is_no_end() {
    let (mut ends, t0) = (PeerEnds::default(), Instant::now());
    for _ in 0..3 {
        ends.deleted("net", secs(7), false, t0);
    }
    assert_eq!(
        end(&mut ends, t0, secs(7), secs(30)),
        None,
        "made again too late"
    );
    assert_eq!(end(&mut ends, t0, secs(7), secs(30)), None);
    assert_eq!(ends.rekey_before("net"), None);
}

#[test]
fn a_child_the_peer_leaves_deleted_is_ours_to_create_after_a_while() {
    let (mut ends, t0) = (PeerEnds::default(), Instant::now());
    assert_eq!(
        ends.deleted("net", secs(60), false, t0),
        Deletion::EndOfLife
    );
    assert_eq!(ends.recreation_due(), Some(t0 + RECREATE_WITHIN));
    assert!(ends.take_left(t0 + secs(9)).is_empty(), "too soon");
    assert_eq!(
        ends.take_left(t0 + RECREATE_WITHIN),
        [("net".to_string(), secs(60), None)]
    );
    assert_eq!(ends.recreation_due(), None);
    // The SA we made ends at the same age: the peer's lifetime, a pattern.
    let t1 = t0 + secs(80);
    assert_eq!(
        ends.deleted("net", secs(60), false, t1),
        Deletion::EndOfLife
    );
    let expected = Some(secs(54));
    assert_eq!(
        ends.take_left(t1 + RECREATE_WITHIN),
        [("net".to_string(), secs(60), expected)]
    );
    assert_eq!(ends.rekey_before("net"), expected);
}

#[test]
fn ends_of_a_peer_that_rekeys_are_failed_rekeys_not_a_pattern() {
    let (mut ends, t0) = (PeerEnds::default(), Instant::now());
    for round in 0..3 {
        let t = t0 + secs(100 * round);
        ends.deleted("net", secs(60), true, t);
        assert_eq!(ends.take_left(t + RECREATE_WITHIN)[0].2, None);
    }
    assert_eq!(ends.rekey_before("net"), None);
    // Still an end of life: the same age again is recognised.
    assert!(ends.last_end_about("net", secs(61)));
    assert!(!ends.last_end_about("net", secs(30)));
}

#[test]
fn a_child_the_peer_creates_again_itself_is_not_ours_to_create() {
    let (mut ends, t0) = (PeerEnds::default(), Instant::now());
    ends.deleted("net", secs(60), false, t0);
    assert_eq!(ends.recreated("net", t0 + secs(1)), None);
    assert_eq!(ends.recreation_due(), None);
    assert!(ends.take_left(t0 + secs(60)).is_empty());
}

#[test]
fn the_peer_deleting_the_sa_we_made_again_at_another_age_means_to_close_it() {
    let (mut ends, t0) = (PeerEnds::default(), Instant::now());
    ends.deleted("net", secs(60), false, t0);
    ends.take_left(t0 + RECREATE_WITHIN);
    assert_eq!(
        ends.deleted("net", secs(25), false, t0 + secs(35)),
        Deletion::Close
    );
    assert_eq!(ends.recreation_due(), None);
    // Taken at its word once: a later end of life is one again.
    assert_eq!(
        ends.deleted("net", secs(60), false, t0 + secs(200)),
        Deletion::EndOfLife
    );
}

#[test]
fn once_the_sa_we_made_is_rekeyed_a_deletion_at_another_age_is_an_end_again() {
    let (mut ends, t0) = (PeerEnds::default(), Instant::now());
    ends.deleted("net", secs(60), false, t0);
    ends.take_left(t0 + RECREATE_WITHIN);
    ends.rekeyed("net");
    // A rekey answer lost on the way makes our SA younger than the peer's.
    assert_eq!(
        ends.deleted("net", secs(52), false, t0 + secs(200)),
        Deletion::EndOfLife
    );
}

#[test]
fn the_sa_we_made_deleted_younger_by_our_requests_delay_is_an_end_of_life() {
    let (mut ends, t0) = (PeerEnds::default(), Instant::now());
    ends.deleted("net", secs(13), false, t0);
    ends.take_left(t0 + RECREATE_WITHIN);
    // Our request's answer was lost once: we installed it 4 s after the peer.
    assert_eq!(
        ends.deleted("net", secs(9), false, t0 + secs(33)),
        Deletion::EndOfLife
    );
}

#[test]
fn a_young_sa_deleted_is_left_to_us_but_makes_no_pattern() {
    let (mut ends, t0) = (PeerEnds::default(), Instant::now());
    for round in 0..3 {
        let t = t0 + secs(100 * round);
        assert_eq!(ends.deleted("net", secs(2), false, t), Deletion::EndOfLife);
        assert_eq!(
            ends.take_left(t + RECREATE_WITHIN),
            [("net".to_string(), secs(2), None)]
        );
    }
    assert_eq!(ends.rekey_before("net"), None);
}

#[test]
fn young_sas_deleted_are_no_lifetimes_end() {
    let (mut ends, t0) = (PeerEnds::default(), Instant::now());
    let young = Duration::from_millis(1250);
    assert_eq!(end(&mut ends, t0, young, secs(1)), None);
    assert_eq!(end(&mut ends, t0, young, secs(1)), None);
    assert_eq!(ends.rekey_before("net"), None);
}

#[test]
fn ends_at_different_ages_are_no_pattern() {
    let (mut ends, t0, soon) = (PeerEnds::default(), Instant::now(), secs(1));
    assert_eq!(end(&mut ends, t0, secs(3600), soon), None);
    assert_eq!(end(&mut ends, t0, secs(120), soon), None);
    assert_eq!(end(&mut ends, t0, secs(1800), soon), None);
    assert_eq!(ends.rekey_before("net"), None);
}

#[test]
fn a_deletion_before_we_had_the_sa_is_no_close_and_no_age_to_learn() {
    let (mut ends, t0) = (PeerEnds::default(), Instant::now());
    ends.deleted("net", secs(16), false, t0);
    ends.take_left(t0 + RECREATE_WITHIN);
    // The SA we made is deleted before the answer to our (many times
    // retransmitted) request reached us: its age there is unknown.
    let t1 = t0 + secs(40);
    ends.deleted_unseen("net", t1);
    assert_eq!(ends.recreation_due(), Some(t1 + RECREATE_WITHIN));
    assert_eq!(
        ends.take_left(t1 + RECREATE_WITHIN),
        [("net".to_string(), Duration::ZERO, None)]
    );
    // The next SA we make ends at the lifetime seen before: an end, no close.
    assert_eq!(
        ends.deleted("net", secs(16), false, t1 + secs(30)),
        Deletion::EndOfLife
    );
    assert_eq!(ends.rekey_before("net"), None);
}
