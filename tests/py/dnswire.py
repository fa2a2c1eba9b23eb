"""Shared helpers for the dnspython scripts the Rust tests run (tests/dns_wire.rs).

Every script takes one argument, a JSON object (server, port, keys, names...), and prints one
JSON object on stdout that the Rust test parses. Messages go out as raw bytes over our own
sockets so the scripts see exactly what the gateway sent back.
"""

import json
import socket
import struct
import sys
import time

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.renderer
import dns.tsig

TIMEOUT = 5.0

# TSIG error codes (RFC 8945 §3); 16 is BADSIG here, not EDNS's BADVERS.
TSIG_ERRORS = {0: "NOERROR", 16: "BADSIG", 17: "BADKEY", 18: "BADTIME", 22: "BADTRUNC"}


def config():
    """The JSON object passed as the only argument."""
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} JSON-CONFIG")
    return json.loads(sys.argv[1])


def emit(result):
    """Prints the result for the Rust side."""
    print(json.dumps(result, sort_keys=True))


def key(name, secret, algorithm):
    """A dnspython TSIG key; `algorithm` is sent exactly as spelled (e.g. upper case)."""
    return dns.tsig.Key(name, secret, algorithm=dns.name.from_text(algorithm))


def udp(server, port, wire, timeout=TIMEOUT):
    """Sends one datagram and returns the reply bytes (None on timeout)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(wire, (server, port))
        try:
            return sock.recvfrom(65535)[0]
        except socket.timeout:
            return None


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def tcp(server, port, wire, timeout=TIMEOUT):
    """Sends one length-prefixed message and returns the reply bytes (None if none came)."""
    with socket.create_connection((server, port), timeout=timeout) as sock:
        sock.sendall(struct.pack("!H", len(wire)) + wire)
        try:
            head = recv_exact(sock, 2)
            if head is None:
                return None
            return recv_exact(sock, struct.unpack("!H", head)[0])
        except socket.timeout:
            return None


def send(server, port, wire, transport):
    return tcp(server, port, wire) if transport == "tcp" else udp(server, port, wire)


def rcode_text(wire):
    """The header rcode of a reply as text (without the TSIG extension)."""
    return dns.rcode.to_text(wire[3] & 0x0F)


def flag_names(flags):
    return sorted(dns.flags.to_text(flags).lower().split())


def rrset_summary(rrsets):
    out = []
    for rrset in rrsets:
        for rdata in rrset:
            out.append(
                {
                    "name": rrset.name.to_text(),
                    "type": dns.rdatatype.to_text(rrset.rdtype),
                    "class": dns.rdataclass.to_text(rrset.rdclass),
                    "ttl": rrset.ttl,
                    "data": rdata.to_text(),
                }
            )
    return out


def _capture_validate():
    """Wraps dns.tsig.validate to keep the arguments of the last call (wire, rr_start...)."""
    captured = {}
    original = dns.tsig.validate

    def capture(wire, key, owner, rdata, now, request_mac, tsig_start, ctx=None, multi=False):
        captured.update(wire=wire, rdata=rdata, tsig_start=tsig_start, owner=owner)
        return original(wire, key, owner, rdata, now, request_mac, tsig_start, ctx, multi)

    return captured, capture


def mac_verifies(wire, tsig_start, rdata, tsig_key, request_mac):
    """Whether the reply's MAC is right, whatever its TSIG error (dnspython stops at the error)."""
    (adcount,) = struct.unpack("!H", wire[10:12])
    body = wire[0:10] + struct.pack("!H", adcount - 1) + wire[12:tsig_start]
    ctx = dns.tsig._digest(body, tsig_key, rdata, None, request_mac)
    try:
        ctx.verify(rdata.mac)
        return True
    except dns.tsig.BadSignature:
        return False


def describe(wire, tsig_key=None, request_mac=None):
    """Everything a test asserts on about a reply, as a JSON-able dict.

    With `tsig_key`, the reply is validated as a client would (`validation` is "ok" or the
    exception's class name), and `mac_ok` says whether its MAC is right in any case.
    """
    if wire is None:
        return {"reply": False}
    result = {
        "reply": True,
        "rcode": rcode_text(wire),
        "hex": wire.hex(),
        "length": len(wire),
    }
    try:
        message = dns.message.from_wire(wire, keyring=False)
    except Exception as err:  # noqa: BLE001 - reported to the test
        result["parse_error"] = type(err).__name__
        return result
    result.update(
        {
            "id": message.id,
            "flags": flag_names(message.flags),
            "opcode": dns.opcode.to_text(message.opcode()),
            "question": [
                {"name": q.name.to_text(), "type": dns.rdatatype.to_text(q.rdtype)}
                for q in message.question
            ],
            "answer": rrset_summary(message.answer),
            "authority": rrset_summary(message.authority),
            "edns": message.edns,
            "payload": message.payload if message.edns >= 0 else None,
            "signed": False,
        }
    )
    if message.tsig:
        rdata = message.tsig[0]
        result["tsig"] = {
            # Raw spellings: the server must echo them byte for byte.
            "key_name": message.tsig.name.to_text(),
            "algorithm": rdata.algorithm.to_text(),
            "error": TSIG_ERRORS.get(rdata.error, str(rdata.error)),
            "mac_len": len(rdata.mac),
            "time_signed": rdata.time_signed,
            "fudge": rdata.fudge,
            "original_id": rdata.original_id,
            "other_hex": rdata.other.hex(),
        }
        result["signed"] = len(rdata.mac) > 0
        if len(rdata.other) == 6:
            hi, lo = struct.unpack("!HI", rdata.other)
            result["tsig"]["other_time"] = (hi << 32) | lo
    if tsig_key is not None:
        captured, capture = _capture_validate()
        original = dns.tsig.validate
        dns.tsig.validate = capture
        try:
            dns.message.from_wire(wire, keyring=tsig_key, request_mac=request_mac)
            result["validation"] = "ok"
        except Exception as err:  # noqa: BLE001 - reported to the test
            result["validation"] = type(err).__name__
        finally:
            dns.tsig.validate = original
        if captured and result.get("signed"):
            result["mac_ok"] = mac_verifies(
                captured["wire"], captured["tsig_start"], captured["rdata"], tsig_key, request_mac
            )
    return result


class ShiftedClock:
    """Makes dnspython sign with a clock `offset` seconds off (it calls time.time() in
    dns.message and dns.renderer)."""

    MODULES = (dns.message, dns.renderer)

    def __init__(self, offset):
        self.offset = offset

    def __enter__(self):
        offset = self.offset

        class Clock:
            @staticmethod
            def time():
                return time.time() + offset

        self.saved = [module.time for module in self.MODULES]
        for module in self.MODULES:
            module.time = Clock
        return self

    def __exit__(self, *exc):
        for module, saved in zip(self.MODULES, self.saved):
            module.time = saved
        return False


def tsig_start(wire):
    """Where the last record (the TSIG) of a message starts."""
    message = dns.message.from_wire(wire, keyring=False)
    captured = {}
    original = dns.tsig.validate

    def capture(wire_, key_, owner, rdata, now, request_mac, start, ctx=None, multi=False):
        captured["start"] = start
        return None

    dns.tsig.validate = capture
    try:
        dns.message.from_wire(wire, keyring=dns.tsig.Key(message.tsig.name, b"x" * 16))
    except Exception:  # noqa: BLE001 - only the offset matters
        pass
    finally:
        dns.tsig.validate = original
    return captured["start"]


def with_mac(wire, mac):
    """The signed message `wire` with its TSIG MAC replaced by `mac` (e.g. a truncated one)."""
    start = tsig_start(wire)
    rr = wire[start:]
    parser_offset = 0
    # owner name (uncompressed, as dnspython renders TSIG)
    while rr[parser_offset] != 0:
        parser_offset += rr[parser_offset] + 1
    parser_offset += 1
    fixed = parser_offset + 10  # type, class, ttl, rdlength
    rdata = rr[fixed:]
    pos = 0
    while rdata[pos] != 0:
        pos += rdata[pos] + 1
    pos += 1  # algorithm name
    pos += 6 + 2  # time signed, fudge
    (mac_len,) = struct.unpack("!H", rdata[pos : pos + 2])
    rest = rdata[pos + 2 + mac_len :]
    new_rdata = rdata[:pos] + struct.pack("!H", len(mac)) + mac + rest
    head = rr[: parser_offset + 8] + struct.pack("!H", len(new_rdata))
    return wire[:start] + head + new_rdata


def mac_of(wire):
    return dns.message.from_wire(wire, keyring=False).tsig[0].mac
