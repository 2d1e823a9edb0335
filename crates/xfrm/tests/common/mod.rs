//! Helpers shared by the tests that run against the real kernel.
#![allow(dead_code)]

use std::net::IpAddr;
use std::process::Command;

use tern_xfrm::*;

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Runs `f` on a fresh thread moved into a new, empty network namespace.
/// The namespace disappears with the thread and the sockets it opened.
pub fn in_fresh_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        // SAFETY: unshare(2) only affects the calling thread's namespaces.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            panic!(
                "cannot create a network namespace ({}): these tests need root \
                 (CAP_SYS_ADMIN and CAP_NET_ADMIN); run them as root",
                std::io::Error::last_os_error()
            );
        }
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// `ip xfrm <args>` run inside the calling thread's namespace, as a second
/// opinion from an independent implementation.
pub fn ip_xfrm_here(args: &[&str]) -> String {
    let mut all = vec!["xfrm"];
    all.extend_from_slice(args);
    ip_here(&all)
}

/// `ip <args>` run inside the calling thread's network namespace.
pub fn ip_here(args: &[&str]) -> String {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    let ns = format!("--net=/proc/{}/task/{tid}/ns/net", std::process::id());
    let out = Command::new("nsenter")
        .arg(&ns)
        .arg("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run nsenter/ip (util-linux, iproute2 needed): {e}"));
    assert!(
        out.status.success(),
        "ip {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn open() -> Xfrm {
    Xfrm::open().unwrap_or_else(|e| panic!("{e}"))
}
