//! tern-radius against a real FreeRADIUS (Debian's `freeradius` package),
//! started here with its own configuration directory on a loopback port:
//! an EAP-MSCHAPv2 login relayed end to end, the MSK checked against the one
//! the peer derives, wrong password and unknown user refused, a wrong shared
//! secret and a dead server seen as unreachable, and a dead first server
//! passed over for the second; a user the server gives an address, a
//! Session-Timeout and a Class, and that session's accounting Start and Stop
//! as FreeRADIUS writes them to its `detail` file.
//!
//! Without FreeRADIUS installed these tests fail, saying so.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tern_crypto::mschapv2::{self, NtHash};
use tern_crypto::Secret;
use tern_radius::acct::{Status, Usage};
use tern_radius::{AccountingRequest, Answer, Client, EapRequest, Server};

const SECRET: &[u8] = b"tern-test-secret";
const USER: &str = "carol";
const PASSWORD: &str = "carol-radius-pw";
/// A user whose Access-Accept grants more than the login.
const GRANTED: &str = "erin";
const GRANTED_PASSWORD: &str = "erin-radius-pw";

/// A FreeRADIUS running in the foreground for one test; killed on drop.
struct FreeRadius {
    child: Child,
    dir: PathBuf,
    port: u16,
    acct_port: u16,
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn binary() -> PathBuf {
    for candidate in ["/usr/sbin/freeradius", "/usr/sbin/radiusd"] {
        if std::path::Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    panic!(
        "FreeRADIUS is not installed (no /usr/sbin/freeradius): these tests need it; \
         install it with `apt-get install freeradius`"
    );
}

impl FreeRadius {
    fn start(name: &str) -> FreeRadius {
        let binary = binary();
        let dir =
            std::env::temp_dir().join(format!("tern-freeradius-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_udp_port();
        let acct_port = free_udp_port();
        let conf = include_str!("freeradius/radiusd.conf")
            .replace("@DIR@", dir.to_str().unwrap())
            .replace("@PORT@", &port.to_string())
            .replace("@ACCTPORT@", &acct_port.to_string())
            .replace("@SECRET@", std::str::from_utf8(SECRET).unwrap());
        std::fs::write(dir.join("radiusd.conf"), conf).unwrap();
        std::fs::write(
            dir.join("users"),
            format!(
                "{USER} Cleartext-Password := \"{PASSWORD}\"\n\
                 {GRANTED} Cleartext-Password := \"{GRANTED_PASSWORD}\"\n\
                 \tFramed-IP-Address = 10.9.0.7,\n\
                 \tSession-Timeout = 3600,\n\
                 \tClass = \"tern-class\"\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.join("dictionary"), "").unwrap();
        let log = std::fs::File::create(dir.join("radiusd.log")).unwrap();
        let child = Command::new(binary)
            .args(["-X", "-d"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot start freeradius");
        let server = FreeRadius {
            child,
            dir,
            port,
            acct_port,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = server.log();
            if log.contains("Ready to process requests") {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "FreeRADIUS did not start:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("radiusd.log")).unwrap_or_default()
    }

    fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn accounting_address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.acct_port))
    }

    /// The accounting requests FreeRADIUS wrote down.
    fn detail(&self) -> String {
        std::fs::read_to_string(self.dir.join("detail")).unwrap_or_default()
    }
}

impl Drop for FreeRadius {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("FreeRADIUS log kept in {}", self.dir.display());
        }
    }
}

fn server(address: SocketAddr, secret: &[u8]) -> Server {
    Server {
        address,
        secret: Secret::from_slice(secret),
    }
}

fn client(servers: Vec<Server>) -> Client {
    Client::new(servers, Duration::from_millis(300), 2)
}

/// An EAP response of `method` with `data`.
fn eap_response(identifier: u8, method: u8, data: &[u8]) -> Vec<u8> {
    let len = (5 + data.len()) as u16;
    let mut p = vec![2, identifier];
    p.extend_from_slice(&len.to_be_bytes());
    p.push(method);
    p.extend_from_slice(data);
    p
}

fn request(eap: Vec<u8>, state: Option<Vec<u8>>, user: &str) -> EapRequest {
    EapRequest {
        user_name: user.as_bytes().to_vec(),
        eap,
        state,
        nas_identifier: "tern-test".into(),
        calling_station: Some("192.0.2.10".into()),
    }
}

/// A Challenge's EAP request: (identifier, type, type data), and the State.
fn challenge(answer: Answer) -> (u8, u8, Vec<u8>, Option<Vec<u8>>) {
    let Answer::Challenge { eap, state } = answer else {
        panic!("expected an Access-Challenge, got {answer:?}")
    };
    assert_eq!(eap[0], 1, "an EAP request");
    assert_eq!(u16::from_be_bytes([eap[2], eap[3]]) as usize, eap.len());
    (eap[1], eap[4], eap[5..].to_vec(), state)
}

/// Outcome of an MS-CHAPv2 login as far as the Response: the answer to it,
/// and what the peer computed.
struct AfterResponse {
    answer: Answer,
    verified: Option<mschapv2::Verified>,
}

async fn login_to_response(client: &Client, user: &str, password: &str) -> AfterResponse {
    // EAP-Response/Identity: FreeRADIUS starts EAP-MSCHAPv2 (its default here).
    let first = client
        .exchange(&request(eap_response(1, 1, user.as_bytes()), None, user))
        .await
        .expect("FreeRADIUS answers");
    let (id, method, data, state) = challenge(first);
    assert_eq!(method, 26, "EAP-MSCHAPv2");
    assert_eq!(data[0], 1, "MS-CHAPv2 Challenge");
    assert_eq!(data[4], 16, "a 16-octet challenge");
    let ms_id = data[1];
    let mut auth_challenge = [0u8; 16];
    auth_challenge.copy_from_slice(&data[5..21]);

    let peer_challenge = [0x5c; 16];
    let hash = NtHash::of_password(password);
    let nt = mschapv2::nt_response(&hash, &auth_challenge, &peer_challenge, user.as_bytes());
    let mut value = peer_challenge.to_vec();
    value.extend_from_slice(&[0; 8]);
    value.extend_from_slice(&nt);
    value.push(0);
    let ms_len = (4 + 1 + value.len() + user.len()) as u16;
    let mut ms = vec![2, ms_id];
    ms.extend_from_slice(&ms_len.to_be_bytes());
    ms.push(49);
    ms.extend_from_slice(&value);
    ms.extend_from_slice(user.as_bytes());
    let answer = client
        .exchange(&request(eap_response(id, 26, &ms), state, user))
        .await
        .expect("FreeRADIUS answers");
    let verified = mschapv2::verify_response(
        &hash,
        &auth_challenge,
        &peer_challenge,
        user.as_bytes(),
        &nt,
    );
    AfterResponse { answer, verified }
}

/// A whole EAP-MSCHAPv2 login: the Access-Accept, and what the peer computed.
async fn login(client: &Client, user: &str, password: &str) -> (Answer, mschapv2::Verified) {
    let AfterResponse { answer, verified } = login_to_response(client, user, password).await;
    let verified = verified.unwrap();
    let (id, method, data, state) = challenge(answer);
    assert_eq!((method, data[0]), (26, 3), "MS-CHAPv2 Success request");
    let message = String::from_utf8_lossy(&data[4..]).to_string();
    assert!(
        message.starts_with(&verified.authenticator_response),
        "FreeRADIUS proves it knows the password: {message}"
    );
    let last = client
        .exchange(&request(eap_response(id, 26, &[3]), state, user))
        .await
        .unwrap();
    (last, verified)
}

#[tokio::test]
async fn eap_mschapv2_login_gives_the_peers_msk() {
    let radius = FreeRadius::start("login");
    let client = client(vec![server(radius.address(), SECRET)]);
    let (last, verified) = login(&client, USER, PASSWORD).await;
    let Answer::Accept { eap, msk, .. } = last else {
        panic!("expected Access-Accept, got {last:?}")
    };
    assert_eq!(eap.unwrap()[0], 3, "EAP-Success for the peer");
    let msk = msk.expect("the Accept carries MS-MPPE keys");
    // The peer's MSK is the same 32 octets (its last 32 are zeros, which HMAC
    // keys treat alike).
    assert_eq!(msk.len(), 32);
    assert_eq!(msk.expose(), &verified.msk.expose()[..32]);
    assert!(verified.msk.expose()[32..].iter().all(|&b| b == 0));
    assert!(radius.log().contains("Sent Access-Accept"));
}

/// FreeRADIUS answers a bad MS-CHAPv2 Response with Access-Reject and
/// EAP-Failure at once (its mschapv2 `send_error` is off by default).
async fn refused(client: &Client, user: &str, password: &str) -> Answer {
    login_to_response(client, user, password).await.answer
}

#[tokio::test]
async fn wrong_password_and_unknown_user_are_rejected() {
    let radius = FreeRadius::start("reject");
    let client = client(vec![server(radius.address(), SECRET)]);
    for (user, password) in [(USER, "not-the-password"), ("mallory", PASSWORD)] {
        match refused(&client, user, password).await {
            Answer::Reject { eap, .. } => {
                assert_eq!(eap.unwrap()[0], 4, "EAP-Failure for the peer")
            }
            other => panic!("{user}: expected Access-Reject, got {other:?}"),
        }
    }
    let log = radius.log();
    assert!(log.contains("Sent Access-Reject"), "{log}");
}

#[tokio::test]
async fn a_wrong_secret_or_a_dead_server_is_unreachable() {
    let radius = FreeRadius::start("unreachable");
    let dead = SocketAddr::from(([127, 0, 0, 1], free_udp_port()));
    let client = client(vec![
        server(radius.address(), b"not-the-secret"),
        server(dead, SECRET),
    ]);
    let started = Instant::now();
    let err = client
        .exchange(&request(eap_response(1, 1, USER.as_bytes()), None, USER))
        .await
        .expect_err("nobody answers");
    let waited = started.elapsed();
    assert_eq!(err.tried.len(), 2, "{err}");
    assert_eq!(err.tried[0].0, radius.address());
    assert_eq!(err.tried[1].0, dead);
    assert!(err.tried[0].1.contains("no reply to 2 tries"), "{err}");
    // Two servers, two tries each, 300 ms apart.
    assert!(waited >= Duration::from_millis(1200), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    // FreeRADIUS dropped them for their Message-Authenticator.
    let log = radius.log();
    assert!(log.contains("Message-Authenticator"), "{log}");
}

#[tokio::test]
async fn a_dead_first_server_is_passed_over() {
    let radius = FreeRadius::start("failover");
    let dead = SocketAddr::from(([127, 0, 0, 1], free_udp_port()));
    let client = client(vec![server(dead, SECRET), server(radius.address(), SECRET)]);
    let started = Instant::now();
    let AfterResponse { answer, .. } = login_to_response(&client, USER, PASSWORD).await;
    let (_, method, data, _) = challenge(answer);
    assert_eq!((method, data[0]), (26, 3), "MS-CHAPv2 Success request");
    // Only the first request waited for the dead server: the second went
    // straight to the one that answered.
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(600), "{waited:?}");
    assert!(waited < Duration::from_millis(1200), "{waited:?}");
}

#[tokio::test]
async fn the_servers_grant_is_read_and_its_session_accounted() {
    let radius = FreeRadius::start("accounting");
    let client = client(vec![server(radius.address(), SECRET)]);
    let (last, _) = login(&client, GRANTED, GRANTED_PASSWORD).await;
    let Answer::Accept { grant, .. } = last else {
        panic!("expected Access-Accept, got {last:?}")
    };
    assert_eq!(grant.framed_ip, Some(std::net::Ipv4Addr::new(10, 9, 0, 7)));
    assert_eq!(grant.session_timeout, Some(3600));
    assert_eq!(grant.class, [b"tern-class".to_vec()]);
    assert!(grant.ignored.is_empty(), "{:?}", grant.ignored);

    let accounting = Client::new(
        vec![server(radius.accounting_address(), SECRET)],
        Duration::from_millis(300),
        2,
    );
    let mut request = AccountingRequest {
        status: Status::Start,
        user_name: GRANTED.into(),
        session_id: "5eed000000000007".into(),
        framed: vec!["10.9.0.7".parse().unwrap()],
        nas_ip: "127.0.0.1".parse().unwrap(),
        nas_identifier: "tern-test".into(),
        called_station: "127.0.0.1".into(),
        calling_station: "192.0.2.10".into(),
        class: grant.class.clone(),
    };
    accounting
        .account(&request)
        .await
        .expect("Start acknowledged");
    let usage = Usage {
        session_time: 90,
        input_octets: (2 << 32) + 1000,
        output_octets: 2000,
        input_packets: 10,
        output_packets: 20,
    };
    request.status = Status::InterimUpdate(usage);
    accounting
        .account(&request)
        .await
        .expect("Interim-Update acknowledged");
    request.status = Status::Stop {
        usage,
        terminate_cause: tern_radius::acct::cause::USER_REQUEST,
    };
    accounting
        .account(&request)
        .await
        .expect("Stop acknowledged");

    let detail = radius.detail();
    let records: Vec<&str> = detail
        .split("\n\n")
        .filter(|r| !r.trim().is_empty())
        .collect();
    assert_eq!(records.len(), 3, "{detail}");
    for (record, status) in records.iter().zip(["Start", "Interim-Update", "Stop"]) {
        for line in [
            format!("Acct-Status-Type = {status}"),
            format!("User-Name = \"{GRANTED}\""),
            "Framed-IP-Address = 10.9.0.7".to_string(),
            "Acct-Session-Id = \"5eed000000000007\"".to_string(),
            "Calling-Station-Id = \"192.0.2.10\"".to_string(),
            "NAS-Identifier = \"tern-test\"".to_string(),
            // "tern-class" in hex: Class is octets.
            "Class = 0x7465726e2d636c617373".to_string(),
        ] {
            assert!(
                record.lines().any(|l| l.trim() == line),
                "no `{line}` in the {status} record:\n{record}"
            );
        }
    }
    // FreeRADIUS's names for the counters, the octets split at 2^32.
    for record in &records[1..] {
        for line in [
            "Acct-Input-Octets = 1000",
            "Acct-Input-Gigawords = 2",
            "Acct-Output-Octets = 2000",
            "Acct-Input-Packets = 10",
            "Acct-Output-Packets = 20",
            "Acct-Session-Time = 90",
        ] {
            assert!(
                record.lines().any(|l| l.trim() == line),
                "no `{line}` in:\n{record}"
            );
        }
    }
    assert!(
        records[2]
            .lines()
            .any(|l| l.trim() == "Acct-Terminate-Cause = User-Request"),
        "{}",
        records[2]
    );
    assert!(
        records[2]
            .lines()
            .any(|l| l.trim() == "Acct-Session-Time = 90"),
        "{}",
        records[2]
    );
    // A wrong secret: FreeRADIUS drops it (the Request Authenticator does not
    // verify), and the client gives up.
    let wrong = Client::new(
        vec![server(radius.accounting_address(), b"not-the-secret")],
        Duration::from_millis(200),
        1,
    );
    assert!(wrong.account(&request).await.is_err());
    assert_eq!(
        radius
            .detail()
            .split("\n\n")
            .filter(|r| !r.trim().is_empty())
            .count(),
        3,
        "nothing logged beyond Start, Interim-Update and Stop"
    );
}
