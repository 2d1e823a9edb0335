#!/usr/bin/env python3
"""Writes seeds/behind_decryption/: scripts for the behind_decryption target (see
its header for the opcodes) around real-shaped payload chains: DPD, DELETEs, a
CHILD SA rekey and answers to our own requests. Run from fuzz/."""
import struct, os

def gen(next_type, body, critical=False):
    return struct.pack("!BBH", next_type, 0x80 if critical else 0, 4 + len(body)) + body

def chain(payloads):
    """payloads: [(type, body)] -> (first type, bytes)."""
    out = b""
    for i, (t, body) in enumerate(payloads):
        nxt = payloads[i + 1][0] if i + 1 < len(payloads) else 0
        out += gen(nxt, body)
    return (payloads[0][0] if payloads else 0), out

SA, KE, NONCE, NOTIFY, DELETE, TSI, TSR = 33, 34, 40, 41, 42, 44, 45

def transform(last, ttype, tid, attrs=b""):
    body = struct.pack("!BBH", ttype, 0, tid) + attrs
    return struct.pack("!BBH", 0 if last else 3, 0, 4 + len(body)) + body

def esp_sa(spi):
    ts = transform(False, 1, 20, struct.pack("!HH", 0x800E, 128)) + transform(True, 5, 0)
    prop = struct.pack("!BBBB", 1, 3, 4, 2) + struct.pack("!I", spi) + ts
    return struct.pack("!BBH", 0, 0, 4 + len(prop)) + prop

def ike_sa(spi8):
    ts = (transform(False, 1, 20, struct.pack("!HH", 0x800E, 128)) + transform(False, 2, 5)
          + transform(True, 4, 31))
    prop = struct.pack("!BBBB", 1, 1, 8, 3) + spi8 + ts
    return struct.pack("!BBH", 0, 0, 4 + len(prop)) + prop

def ts(net):
    a = bytes(net) ; b = bytes(net[:3]) + b"\xff"
    sel = struct.pack("!BBHHH", 7, 0, 16, 0, 65535) + a + b
    return struct.pack("!B3x", 1) + sel

def notify(ntype, proto=0, spi=b"", data=b""):
    return struct.pack("!BBH", proto, len(spi), ntype) + spi + data

def inject(op, exchange, payloads, pick=0):
    first, body = chain(payloads)
    return bytes([op, exchange, pick, first]) + struct.pack("!H", len(body)) + body

MOON, SUN = 0x00, 0x80          # side bit
REQ, RESP = 0, 1
IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL = 0, 1, 2
COMMAND, DELIVER, ADVANCE, LOSE = 4, 5, 6, 7
REKEY, REKEY_IKE, TERMINATE, INITIATE = 0, 1, 2, 3
nonce = b"\x5a" * 32
ke = struct.pack("!HH", 31, 0) + b"\x09" * 32

seeds = {
    "dpd_to_sun": inject(SUN | REQ, INFORMATIONAL, []),
    "delete_ike_to_moon": inject(MOON | REQ, INFORMATIONAL, [(DELETE, struct.pack("!BBH", 1, 0, 0))]),
    "delete_child_to_sun": inject(SUN | REQ, INFORMATIONAL,
        [(DELETE, struct.pack("!BBH", 3, 4, 2) + struct.pack("!II", 0xc0000001, 0xc0000002))]),
    "rekey_child_to_sun": inject(SUN | REQ, CREATE_CHILD_SA,
        [(SA, esp_sa(0xc0000100)), (NONCE, nonce), (NOTIFY, notify(16393, 3, struct.pack("!I", 0xc0000001))),
         (TSI, ts([10, 1, 0, 0])), (TSR, ts([10, 2, 0, 0]))]),
    "rekey_ike_to_moon": inject(MOON | REQ, CREATE_CHILD_SA,
        [(SA, ike_sa(b"\x11" * 8)), (NONCE, nonce), (KE, ke)]),
    "answer_moons_child_rekey": bytes([MOON | COMMAND, REKEY, MOON | LOSE]) + inject(MOON | RESP, CREATE_CHILD_SA,
        [(SA, esp_sa(0xd0000100)), (NONCE, nonce), (TSI, ts([10, 1, 0, 0])), (TSR, ts([10, 2, 0, 0]))]),
    "answer_suns_ike_rekey": bytes([SUN | COMMAND, REKEY_IKE, SUN | LOSE]) + inject(SUN | RESP, CREATE_CHILD_SA,
        [(SA, ike_sa(b"\x22" * 8)), (NONCE, nonce), (KE, ke)]),
    "answer_moons_delete_with_error": bytes([MOON | COMMAND, TERMINATE, MOON | LOSE]) + inject(MOON | RESP, INFORMATIONAL,
        [(NOTIFY, notify(7))]),
    "mobike_update_to_sun": inject(SUN | REQ, INFORMATIONAL, [(NOTIFY, notify(16400)), (NOTIFY, notify(16390, data=b"\x01" * 20))]),
    "critical_unknown_to_sun": bytes([SUN | REQ, INFORMATIONAL, 0, 200, 0, 4]) + gen(0, b"", critical=True),
    "time_passes": bytes([MOON | LOSE, ADVANCE, 200, ADVANCE, 200, DELIVER, ADVANCE, 255, DELIVER]),
}
os.makedirs("seeds/behind_decryption", exist_ok=True)
for name, data in seeds.items():
    with open(f"seeds/behind_decryption/{name}", "wb") as f:
        f.write(data)
