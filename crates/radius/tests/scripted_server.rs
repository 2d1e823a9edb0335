//! The client against a scripted UDP server on loopback: a reply whose
//! authenticator does not verify (a forgery, or a server with another secret)
//! is ignored and counted, and the valid reply that follows is taken; silence
//! is retransmitted the same bytes, then reported.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tern_crypto::Secret;
use tern_radius::auth::seal_response;
use tern_radius::packet::{Packet, ACCESS_CHALLENGE};
use tern_radius::{attr, Answer, Client, EapRequest, Server};
use tokio::net::UdpSocket;

const SECRET: &[u8] = b"scripted-secret";

fn request() -> EapRequest {
    EapRequest {
        user_name: b"carol".to_vec(),
        eap: vec![2, 1, 0, 10, 1, b'c', b'a', b'r', b'o', b'l'],
        state: None,
        nas_identifier: "tern-test".into(),
        calling_station: None,
    }
}

fn challenge(request: &[u8], secret: &[u8]) -> Vec<u8> {
    let req = Packet::parse(request).unwrap();
    let mut p = Packet {
        code: ACCESS_CHALLENGE,
        identifier: req.identifier,
        authenticator: [0; 16],
        attributes: vec![],
    };
    p.push_split(attr::EAP_MESSAGE, &[1, 2, 0, 6, 26, 1]);
    p.push_split(attr::STATE, b"s1");
    p.push_split(attr::MESSAGE_AUTHENTICATOR, &[0; 16]);
    seal_response(&p, &req.authenticator, &Secret::from_slice(secret))
}

async fn server() -> (UdpSocket, SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

#[tokio::test]
async fn a_forged_reply_is_ignored_and_counted_and_the_valid_one_taken() {
    let (socket, addr) = server().await;
    let script = tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        let (n, from) = socket.recv_from(&mut buf).await.unwrap();
        // Signed with another secret: its Response Authenticator fails.
        socket
            .send_to(&challenge(&buf[..n], b"not-our-secret"), from)
            .await
            .unwrap();
        socket
            .send_to(&challenge(&buf[..n], SECRET), from)
            .await
            .unwrap();
    });
    let client = Client::new(
        vec![Server {
            address: addr,
            secret: Secret::from_slice(SECRET),
        }],
        Duration::from_secs(2),
        1,
    );
    let answer = client.exchange(&request()).await.unwrap();
    assert_eq!(
        answer,
        Answer::Challenge {
            eap: vec![1, 2, 0, 6, 26, 1],
            state: Some(b"s1".to_vec())
        }
    );
    script.await.unwrap();
    let counts = client.counts();
    assert_eq!(counts.requests.load(Ordering::Relaxed), 1);
    assert_eq!(counts.replies_refused.load(Ordering::Relaxed), 1);
    assert_eq!(counts.retransmissions.load(Ordering::Relaxed), 0);
    assert_eq!(counts.unreachable.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn silence_is_retransmitted_unchanged_then_reported() {
    let (socket, addr) = server().await;
    let script = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(800), socket.recv_from(&mut buf)).await
        {
            seen.push(buf[..n].to_vec());
        }
        seen
    });
    let client = Client::new(
        vec![Server {
            address: addr,
            secret: Secret::from_slice(SECRET),
        }],
        Duration::from_millis(200),
        3,
    );
    let err = client.exchange(&request()).await.unwrap_err();
    assert_eq!(err.tried.len(), 1);
    assert!(err.to_string().contains("no reply to 3 tries"), "{err}");
    let seen = script.await.unwrap();
    assert_eq!(seen.len(), 3, "three sends");
    assert!(
        seen.iter().all(|d| d == &seen[0]),
        "a retransmission repeats the request (RFC 5080 2.2.1)"
    );
    let counts = client.counts();
    assert_eq!(counts.retransmissions.load(Ordering::Relaxed), 2);
    assert_eq!(counts.unreachable.load(Ordering::Relaxed), 1);
}

fn accounting_start() -> tern_radius::AccountingRequest {
    tern_radius::AccountingRequest {
        status: tern_radius::Status::Start,
        user_name: "carol".into(),
        session_id: "00000001".into(),
        framed: vec!["10.9.0.7".parse().unwrap()],
        nas_ip: "127.0.0.1".parse().unwrap(),
        nas_identifier: "tern-test".into(),
        called_station: "127.0.0.1".into(),
        calling_station: "192.0.2.1".into(),
        class: Vec::new(),
    }
}

#[tokio::test]
async fn an_accounting_request_is_retransmitted_the_same_until_acknowledged() {
    let (socket, addr) = server().await;
    let script = tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        // The first try goes unanswered; the retransmission is the same bytes.
        let (n, _) = socket.recv_from(&mut buf).await.unwrap();
        let first = buf[..n].to_vec();
        let (n, from) = socket.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &first[..], "retransmitted unchanged");
        let req = Packet::parse(&first).unwrap();
        assert_eq!(req.code, tern_radius::acct::ACCOUNTING_REQUEST);
        let reply = Packet {
            code: tern_radius::acct::ACCOUNTING_RESPONSE,
            identifier: req.identifier,
            authenticator: [0; 16],
            attributes: vec![],
        };
        let sealed = seal_response(&reply, &req.authenticator, &Secret::from_slice(SECRET));
        socket.send_to(&sealed, from).await.unwrap();
    });
    let client = Client::new(
        vec![Server {
            address: addr,
            secret: Secret::from_slice(SECRET),
        }],
        Duration::from_millis(300),
        3,
    );
    client.account(&accounting_start()).await.unwrap();
    assert_eq!(client.counts().retransmissions.load(Ordering::Relaxed), 1);
    script.await.unwrap();
}

#[tokio::test]
async fn an_accounting_server_that_never_answers_is_given_up_after_the_tries() {
    let (_socket, addr) = server().await;
    let client = Client::new(
        vec![Server {
            address: addr,
            secret: Secret::from_slice(SECRET),
        }],
        Duration::from_millis(100),
        2,
    );
    let err = client.account(&accounting_start()).await.unwrap_err();
    assert_eq!(err.tried.len(), 1);
    assert!(err.tried[0].1.contains("no reply to 2 tries"), "{err}");
    assert_eq!(client.counts().unreachable.load(Ordering::Relaxed), 1);
}
