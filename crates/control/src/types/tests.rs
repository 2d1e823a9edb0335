use super::*;
use serde_json::{json, Value};

/// The example of INTERFACES.md, as a value.
fn sample_sa() -> IkeSaInfo {
    IkeSaInfo {
        connection: "demo".into(),
        unique_id: 1,
        state: IkeSaState::Established,
        role: IkeRole::Initiator,
        local_addr: "192.0.2.1:500".into(),
        remote_addr: "192.0.2.2:500".into(),
        local_id: "moon.tern.example".into(),
        remote_id: "sun.tern.example".into(),
        initiator_spi: "0123456789abcdef".into(),
        responder_spi: "fedcba9876543210".into(),
        proposal: "AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE25519".into(),
        established_secs: Some(12),
        rekey_in_secs: None,
        expires_in_secs: None,
        peer_rekeyed_at_secs: None,
        rekey_failed: None,
        rekey_unanswered: None,
        nat: None,
        mobike: None,
        children: vec![ChildSaInfo {
            name: "net".into(),
            unique_id: 1,
            reqid: Some(1),
            state: ChildSaState::Installed,
            mode: ChildSaMode::Tunnel,
            protocol: "ESP".into(),
            spi_in: "c1a2b3c4".into(),
            spi_out: "c5d6e7f8".into(),
            proposal: "AES_GCM_16_128".into(),
            local_ts: vec!["10.1.0.0/24".into()],
            remote_ts: vec!["10.2.0.0/24".into()],
            bytes_in: Some(0),
            packets_in: Some(0),
            bytes_out: Some(0),
            packets_out: Some(0),
            installed_secs: None,
            rekey_in_secs: None,
            expires_in_secs: None,
            last_use_secs: Some(3),
            peer_rekeyed_at_secs: Some(2700),
            adapted_rekey_before_secs: None,
            rekey_failed: None,
            rekey_unanswered: None,
        }],
    }
}

#[test]
fn ike_sa_json_matches_the_documented_shape() {
    let documented = json!([{"connection":"demo","unique_id":1,"state":"ESTABLISHED","role":"initiator",
      "local_addr":"192.0.2.1:500","remote_addr":"192.0.2.2:500",
      "local_id":"moon.tern.example","remote_id":"sun.tern.example",
      "initiator_spi":"0123456789abcdef","responder_spi":"fedcba9876543210",
      "proposal":"AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE25519","established_secs":12,
      "rekey_in_secs":null,"expires_in_secs":null,
      "children":[{"name":"net","unique_id":1,"reqid":1,"state":"INSTALLED","mode":"TUNNEL","protocol":"ESP",
         "spi_in":"c1a2b3c4","spi_out":"c5d6e7f8","proposal":"AES_GCM_16_128",
         "local_ts":["10.1.0.0/24"],"remote_ts":["10.2.0.0/24"],
         "bytes_in":0,"packets_in":0,"bytes_out":0,"packets_out":0,
         "installed_secs":null,"rekey_in_secs":null,"expires_in_secs":null,
         "last_use_secs":3,"peer_rekeyed_at_secs":2700}]}]);
    let ours = serde_json::to_value(vec![sample_sa()]).unwrap();
    assert_eq!(ours, documented);
    let back: Vec<IkeSaInfo> = serde_json::from_value(documented).unwrap();
    assert_eq!(back, vec![sample_sa()]);
}

#[test]
fn missing_counters_serialize_as_null() {
    let mut sa = sample_sa();
    sa.children[0].bytes_in = None;
    sa.established_secs = None;
    let v = serde_json::to_value(&sa).unwrap();
    assert_eq!(v["children"][0]["bytes_in"], Value::Null);
    assert_eq!(v["established_secs"], Value::Null);
}

#[test]
fn request_json_shape() {
    let req = Request::new(Command::Initiate {
        connection: "demo".into(),
        timeout_secs: 30,
    });
    assert_eq!(
        serde_json::to_value(&req).unwrap(),
        json!({"version":1,"command":{"type":"initiate","connection":"demo","timeout_secs":30}})
    );
    assert_eq!(
        serde_json::to_value(Request::new(Command::ListSas)).unwrap(),
        json!({"version":1,"command":{"type":"list-sas"}})
    );
}

#[test]
fn response_json_shape() {
    let ok = Response::Ok {
        body: ResponseBody::Version {
            version: "0.1.0".into(),
        },
    };
    assert_eq!(
        serde_json::to_value(&ok).unwrap(),
        json!({"status":"ok","body":{"kind":"version","version":"0.1.0"}})
    );
    let err = Response::Error {
        message: "no connection named `x`".into(),
    };
    assert_eq!(
        serde_json::to_value(&err).unwrap(),
        json!({"status":"error","message":"no connection named `x`"})
    );
}

#[test]
fn every_command_and_response_round_trips() {
    let commands = [
        Command::ListSas,
        Command::ListConns,
        Command::Initiate {
            connection: "demo".into(),
            timeout_secs: 5,
        },
        Command::Terminate {
            connection: "demo".into(),
        },
        Command::Version,
        Command::Watch {
            connection: Some("demo".into()),
        },
        Command::Watch { connection: None },
        Command::Stats,
        Command::RekeyIke {
            connection: "demo".into(),
        },
        Command::Diagnose { connection: None },
        Command::Diagnose {
            connection: Some("demo".into()),
        },
    ];
    for command in commands {
        let req = Request::new(command);
        let text = serde_json::to_string(&req).unwrap();
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), req);
    }
    let conn = ConnInfo {
        name: "demo".into(),
        local_addrs: vec!["192.0.2.1".into()],
        remote_addrs: vec![],
        local_id: "moon.tern.example".into(),
        remote_id: None,
        auth: "psk".into(),
        ike_proposals: vec!["aes128gcm16-prfsha256-x25519".into()],
        children: vec![ChildConnInfo {
            name: "net".into(),
            local_ts: vec!["10.1.0.0/24".into()],
            remote_ts: vec!["10.2.0.0/24".into()],
            esp_proposals: vec!["aes128gcm16".into()],
            mode: "tunnel".into(),
            start_action: "none".into(),
            dpd_action: "restart".into(),
            close_action: "none".into(),
            trapped: false,
            lifetime: Some(LifetimeInfo {
                rekey_time_secs: 3600,
                life_time_secs: 3960,
                rand_time_secs: 360,
            }),
            pfs_groups: vec!["x25519".into()],
        }],
        dpd_delay: Some("30s".into()),
        ike_lifetime: None,
    };
    let bodies = [
        ResponseBody::Sas {
            sas: vec![sample_sa()],
            history: vec![ConnHistory {
                connection: "demo".into(),
                ends: vec![SaEndInfo {
                    ago_secs: 5,
                    unix_ms: None,
                    kind: "CHILD".into(),
                    ike_id: 1,
                    child: Some("net".into()),
                    spi_in: Some("c0000101".into()),
                    spi_out: Some("c1b2c3d4".into()),
                    was_up: true,
                    cause: "deleted by the peer".into(),
                    end_kind: "deleted_by_peer".into(),
                    routine: false,
                    ke_ours: vec![],
                    ke_asked: vec![],
                }],
            }],
        },
        ResponseBody::Diagnosis {
            connections: vec![ConnEvidence {
                conn: conn.clone(),
                sas: vec![sample_sa()],
                ends: vec![],
            }],
            stats: Box::default(),
        },
        ResponseBody::Conns { conns: vec![conn] },
        ResponseBody::Initiated {
            message: "up".into(),
        },
        ResponseBody::Terminated {
            message: "down".into(),
        },
        ResponseBody::Version {
            version: "0.1.0".into(),
        },
        ResponseBody::Watching { connection: None },
        ResponseBody::Stats {
            stats: Box::new(StatsInfo {
                version: "0.1.0".into(),
                uptime_secs: 3,
                dropped: [("malformed".to_string(), 2)].into_iter().collect(),
                ..StatsInfo::default()
            }),
        },
    ];
    for body in bodies {
        let resp = Response::Ok { body };
        let text = serde_json::to_string(&resp).unwrap();
        assert_eq!(serde_json::from_str::<Response>(&text).unwrap(), resp);
    }
}

#[test]
fn old_commands_keep_version_1_new_ones_say_2() {
    // A ternd that speaks only version 1 still understands what ternctl sends
    // for the commands it knows.
    for command in [
        Command::ListSas,
        Command::ListConns,
        Command::Reload,
        Command::Version,
    ] {
        assert_eq!(Request::new(command).version, 1);
    }
    assert_eq!(
        serde_json::to_value(Request::new(Command::Watch { connection: None })).unwrap(),
        json!({"version":2,"command":{"type":"watch"}})
    );
    assert_eq!(
        serde_json::to_value(Request::new(Command::Stats)).unwrap(),
        json!({"version":2,"command":{"type":"stats"}})
    );
    // A version 1 request as an old ternctl wrote it still parses.
    let old: Request =
        serde_json::from_str(r#"{"version":1,"command":{"type":"list-sas"}}"#).unwrap();
    assert_eq!(old.command, Command::ListSas);
}

#[test]
fn event_json_leaves_out_what_does_not_apply() {
    let event = EventInfo {
        unix_ms: 5,
        kind: EventKind::ChildSaDeleted,
        connection: "demo".into(),
        ike_id: 3,
        new_ike_id: None,
        initiator_spi: None,
        responder_spi: None,
        child: Some("net".into()),
        spi_in: Some("c0000101".into()),
        spi_out: Some("c1b2c3d4".into()),
        reason: Some("rekeyed".into()),
        end_kind: None,
        lost: None,
    };
    let v = serde_json::to_value(&event).unwrap();
    assert_eq!(
        v,
        json!({"unix_ms":5,"kind":"child-sa-deleted","connection":"demo","ike_id":3,
               "child":"net","spi_in":"c0000101","spi_out":"c1b2c3d4","reason":"rekeyed"})
    );
    assert_eq!(serde_json::from_value::<EventInfo>(v).unwrap(), event);
}

#[test]
fn unknown_command_is_rejected() {
    let r = serde_json::from_str::<Request>(r#"{"version":1,"command":{"type":"reboot"}}"#);
    assert!(r.is_err());
}
