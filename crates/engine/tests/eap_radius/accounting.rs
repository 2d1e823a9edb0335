//! Accounting's traffic figures (RFC 2866 §5.3-5.4, §5.8; RFC 2869 §5.16):
//! what the gateway received from the client (input) and sent it (output),
//! over every CHILD SA of the session, across CHILD and IKE rekeys, in the
//! Stop and in Interim-Updates at the interval the server asked for.

use tern_engine::{AccountingRecord, AccountingStatus, Engine, Usage};

use super::*;

fn road_warrior() -> EngineConfig {
    client("carol", "Ar3etTnp")
}

fn accounting(engine: &mut Engine) -> Vec<AccountingRecord> {
    std::iter::from_fn(|| engine.poll_accounting()).collect()
}

/// Carol's session is up at the gateway (B), its Start taken.
fn logged_in(grant: RadiusGrant) -> Pair {
    let mut pair = Pair::new(road_warrior(), gateway());
    let mut radius = Radius::new(Behaviour::Normal);
    radius.grant = grant;
    pair.initiate_from_a("demo");
    converse(&mut pair, &mut radius);
    let start = accounting(&mut pair.b.engine);
    assert_eq!(start.len(), 1, "{start:?}");
    assert_eq!(start[0].status, AccountingStatus::Start);
    pair
}

fn usage(record: &AccountingRecord) -> Usage {
    match record.status {
        AccountingStatus::Interim { usage, .. } | AccountingStatus::Stop { usage, .. } => usage,
        AccountingStatus::Start => panic!("a Start has no usage"),
    }
}

fn session_time(record: &AccountingRecord) -> Duration {
    match record.status {
        AccountingStatus::Interim { session_time, .. }
        | AccountingStatus::Stop { session_time, .. } => session_time,
        AccountingStatus::Start => panic!("a Start has no session time"),
    }
}

#[test]
fn the_stop_counts_every_child_sa_across_a_child_rekey_and_an_ike_rekey() {
    let mut pair = logged_in(RadiusGrant::default());
    let child_spis = |pair: &Pair| {
        let b = pair.b.engine.list_sas(pair.now);
        (b[0].unique_id, b[0].children[0].spi_in)
    };
    let (ike_before, child_before) = child_spis(&pair);

    // The first CHILD SA: 10 packets of 100 bytes in, 5 of 200 out.
    pair.b.receive_packets(10, 100);
    pair.b.send_packets(5, 200);
    pair.run_for(Duration::from_secs(10));
    pair.b.rekey(pair.now, "demo");
    pair.deliver();
    pair.run_for(Duration::from_secs(20));
    let (_, child_after) = child_spis(&pair);
    assert_ne!(child_after, child_before, "CHILD SA rekeyed");
    assert!(
        !pair.b.kernel().sas.keys().any(|k| k.2 == child_before),
        "the first CHILD SA's SAs are gone from the kernel, and their counters with them"
    );

    // The second: 20 of 100 in.
    pair.b.receive_packets(20, 100);
    pair.b.rekey_ike(pair.now, "demo");
    pair.deliver();
    pair.run_for(Duration::from_secs(20));
    let (ike_after, _) = child_spis(&pair);
    assert_ne!(ike_after, ike_before, "IKE SA rekeyed");
    assert!(
        accounting(&mut pair.b.engine).is_empty(),
        "rekeys neither stop nor start the session"
    );

    // Under the new IKE SA: 30 of 100 in, 7 of 50 out; then Carol leaves.
    pair.b.receive_packets(30, 100);
    pair.b.send_packets(7, 50);
    pair.run_for(Duration::from_secs(10));
    pair.a.terminate(pair.now, "demo");
    pair.deliver();
    assert!(pair.b.engine.list_sas(pair.now).is_empty());

    let stop = accounting(&mut pair.b.engine);
    assert_eq!(stop.len(), 1, "{stop:?}");
    assert!(matches!(stop[0].status, AccountingStatus::Stop { .. }));
    assert_eq!(
        usage(&stop[0]),
        Usage {
            input_octets: 6000,
            input_packets: 60,
            output_octets: 1350,
            output_packets: 12,
        }
    );
    assert_eq!(session_time(&stop[0]), Duration::from_secs(60));
}

#[test]
fn interim_updates_come_at_the_servers_interval_with_the_running_totals() {
    let mut pair = logged_in(RadiusGrant {
        interim_interval: Some(Duration::from_secs(60)),
        ..Default::default()
    });
    pair.b.receive_packets(10, 100);
    pair.b.send_packets(2, 300);
    pair.run_for(Duration::from_secs(59));
    assert!(accounting(&mut pair.b.engine).is_empty(), "not before 60 s");
    pair.run_for(Duration::from_secs(2));
    let first = accounting(&mut pair.b.engine);
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(matches!(first[0].status, AccountingStatus::Interim { .. }));
    assert_eq!(session_time(&first[0]), Duration::from_secs(60));
    assert_eq!(
        usage(&first[0]),
        Usage {
            input_octets: 1000,
            input_packets: 10,
            output_octets: 600,
            output_packets: 2,
        }
    );

    // A CHILD rekey between two updates loses nothing.
    pair.b.rekey(pair.now, "demo");
    pair.deliver();
    pair.run_for(Duration::from_secs(10));
    pair.b.receive_packets(5, 100);
    pair.run_for(Duration::from_secs(50));
    let second = accounting(&mut pair.b.engine);
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!(session_time(&second[0]), Duration::from_secs(120));
    assert_eq!(usage(&second[0]).input_octets, 1500);
    assert_eq!(usage(&second[0]).input_packets, 15);
    assert_eq!(usage(&second[0]).output_octets, 600);
    assert_eq!(second[0].session_id, first[0].session_id);
}

#[test]
fn without_an_interval_there_is_no_interim_update() {
    let mut pair = logged_in(RadiusGrant::default());
    pair.b.receive_packets(10, 100);
    pair.run_for(Duration::from_secs(3600));
    assert!(accounting(&mut pair.b.engine).is_empty());
}

#[test]
fn the_stop_still_goes_when_the_kernel_never_answers() {
    let mut pair = logged_in(RadiusGrant {
        interim_interval: Some(Duration::from_secs(60)),
        ..Default::default()
    });
    pair.b.receive_packets(10, 100);
    pair.b.set_answer_traffic(false);
    pair.run_for(Duration::from_secs(62));
    let interim = accounting(&mut pair.b.engine);
    assert_eq!(interim.len(), 1, "the Interim-Update went without counters");
    assert_eq!(usage(&interim[0]), Usage::default());

    pair.run_for(Duration::from_secs(8));
    pair.a.terminate(pair.now, "demo");
    pair.deliver();
    assert!(pair.b.engine.list_sas(pair.now).is_empty());
    assert!(
        accounting(&mut pair.b.engine).is_empty(),
        "the Stop waits for the counters a while"
    );
    pair.run_for(Duration::from_secs(2));
    let stop = accounting(&mut pair.b.engine);
    assert_eq!(stop.len(), 1, "{stop:?}");
    let AccountingStatus::Stop {
        cause,
        session_time,
        usage,
    } = stop[0].status
    else {
        panic!("{stop:?}")
    };
    assert_eq!(cause, EndKind::DeletedByPeer);
    assert_eq!(
        session_time,
        Duration::from_secs(70),
        "when it ended, not when it was sent"
    );
    assert_eq!(usage, Usage::default(), "not known: zeros, never a guess");
}

#[test]
fn a_stop_while_an_interim_update_waits_takes_its_place() {
    let mut pair = logged_in(RadiusGrant {
        interim_interval: Some(Duration::from_secs(60)),
        ..Default::default()
    });
    pair.b.set_answer_traffic(false);
    pair.run_for(Duration::from_millis(60_500));
    assert!(
        accounting(&mut pair.b.engine).is_empty(),
        "the Interim-Update waits for its counters"
    );
    pair.a.terminate(pair.now, "demo");
    pair.deliver();
    pair.run_for(Duration::from_secs(5));
    let after = accounting(&mut pair.b.engine);
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(
        matches!(after[0].status, AccountingStatus::Stop { .. }),
        "{after:?}"
    );
}
