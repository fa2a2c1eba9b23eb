"""A burst of hostile input: random bytes, truncated and oversized messages, over UDP and TCP.

Config: server, port, zone, key {name, secret, algorithm}, seed.
Output: {"udp": {...}, "tcp": [...], "alive_udp": describe, "alive_tcp": describe} where the
rcode lists say what came back. The updates used here add `_acme-challenge.garbage-*` values
that must never be applied (the Rust test checks the sim).
"""

import random
import socket
import struct
import time

import dns.message
import dns.update

import dnswire


def signed_add(cfg, label):
    k = cfg["key"]
    u = dns.update.UpdateMessage(cfg["zone"])
    u.add(f"_acme-challenge.{label}.{cfg['zone']}.", 120, "TXT", '"must-not-apply"')
    u.use_tsig(dnswire.key(k["name"], k["secret"], k["algorithm"]), fudge=300)
    return u.to_wire()


def header(rng, opcode, counts):
    flags = (opcode & 0xF) << 11
    return struct.pack("!HHHHHH", rng.randrange(65536), flags, *counts)


def udp_burst(cfg, rng):
    server, port = cfg["server"], cfg["port"]
    datagrams = []
    for _ in range(150):  # plain random bytes
        datagrams.append(("random", rng.randbytes(rng.randrange(0, 700))))
    for _ in range(100):  # a query/update header with random counts, then junk
        opcode = rng.choice([0, 5])
        counts = [rng.randrange(65536) for _ in range(4)]
        datagrams.append(("header+junk", header(rng, opcode, counts) + rng.randbytes(rng.randrange(0, 300))))
    valid = signed_add(cfg, "garbage-prefix")
    for n in range(0, len(valid)):  # every truncation of a valid signed update
        datagrams.append(("truncated", valid[:n]))
    # A name that is a compression loop (pointer to itself at offset 12).
    datagrams.append(("compression-loop", header(rng, 0, [1, 0, 0, 0]) + b"\xc0\x0c\x00\x06\x00\x01"))
    # Oversized: a valid signed update followed by junk up to the largest UDP payload.
    oversized = signed_add(cfg, "garbage-oversized")
    datagrams.append(("oversized", oversized + rng.randbytes(65507 - len(oversized))))
    datagrams.append(("oversized-junk", rng.randbytes(65507)))

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    kinds = {}
    ids = {}
    for kind, data in datagrams:
        kinds.setdefault(kind, 0)
        kinds[kind] += 1
        try:
            sock.sendto(data, (server, port))
        except OSError:
            pass
        if len(data) >= 2:
            ids.setdefault(data[:2], []).append(kind)
        time.sleep(0.0005)  # a burst, but not one the kernel drops on the floor
    replies = {}
    sock.settimeout(1.0)
    while True:
        try:
            reply = sock.recvfrom(65535)[0]
        except socket.timeout:
            break
        rcode = dnswire.rcode_text(reply) if len(reply) >= 4 else "short"
        kind = ids.get(reply[:2], ["?"])[0]
        replies.setdefault(kind, {}).setdefault(rcode, 0)
        replies[kind][rcode] += 1
    sock.close()
    return {"sent": kinds, "replies": replies}


def tcp_case(cfg, name, payload):
    """Sends raw bytes on a fresh connection, half-closes it, and reads replies until the server
    closes; returns their rcodes (or how the connection ended)."""
    out = {"case": name, "rcodes": []}
    try:
        with socket.create_connection((cfg["server"], cfg["port"]), timeout=3) as sock:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            while True:
                head = dnswire.recv_exact(sock, 2)
                if head is None:
                    break
                body = dnswire.recv_exact(sock, struct.unpack("!H", head)[0])
                if body is None:
                    break
                out["rcodes"].append(dnswire.rcode_text(body))
    except socket.timeout:
        out["timeout"] = True
    except OSError as err:
        out["error"] = type(err).__name__
    return out


def framed(data):
    return struct.pack("!H", len(data)) + data


def tcp_cases(cfg, rng):
    zone = cfg["zone"]
    query = dns.message.make_query(f"{zone}.", "SOA").to_wire()
    valid = signed_add(cfg, "garbage-tcp-prefix")
    results = [
        tcp_case(cfg, "random-stream", rng.randbytes(3000)),
        tcp_case(cfg, "random-framed", framed(rng.randbytes(500))),
        tcp_case(cfg, "oversized-framed", framed(rng.randbytes(65535))),
        tcp_case(cfg, "short-body-then-close", struct.pack("!H", 1000) + rng.randbytes(10)),
        tcp_case(cfg, "zero-length", framed(b"")),
        tcp_case(cfg, "truncated-update", framed(valid[: len(valid) // 2])),
        # Junk, then a valid query on the same connection: the connection must go on.
        tcp_case(cfg, "junk-then-query", framed(rng.randbytes(40)) + framed(b"\x00" * 5) + framed(query)),
    ]
    # Many connections opened and left idle at once.
    idle = []
    for _ in range(20):
        try:
            idle.append(socket.create_connection((cfg["server"], cfg["port"]), timeout=3))
        except OSError:
            break
    results.append(tcp_case(cfg, "query-while-20-idle", framed(query)))
    for sock in idle:
        sock.close()
    return results


def main():
    cfg = dnswire.config()
    rng = random.Random(cfg.get("seed", 4))
    out = {"udp": udp_burst(cfg, rng), "tcp": tcp_cases(cfg, rng)}
    query = dns.message.make_query(f"{cfg['zone']}.", "SOA").to_wire()
    out["alive_udp"] = dnswire.describe(dnswire.udp(cfg["server"], cfg["port"], query))
    out["alive_tcp"] = dnswire.describe(dnswire.tcp(cfg["server"], cfg["port"], query))
    for key in ("alive_udp", "alive_tcp"):
        out[key].pop("hex", None)
    dnswire.emit(out)


if __name__ == "__main__":
    main()
