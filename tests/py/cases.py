"""Exact wire cases against the gateway: each case builds one message, sends it, and describes
the reply (see dnswire.describe).

Config (JSON argument):
  server, port, zone        where to send, and the served zone the cases use
  key: {name, secret, algorithm}   the configured key (algorithm as configured, e.g. hmac-sha256)
  cases: [case names]       run in order; the output maps each name to its reply
  transport: "udp"|"tcp"    optional, default udp
or, with "sign_add": {name, value}, only prints {"wire": hex} of one signed UPDATE adding that
TXT value (the Rust test sends those exact bytes itself, e.g. twice for the replay case).
"""

import base64
import struct

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.update

import dnswire
from dnswire import ShiftedClock, describe, key, send, with_mac


def main():
    cfg = dnswire.config()
    zone = cfg["zone"]
    k = cfg["key"]
    good = key(k["name"], k["secret"], k["algorithm"])

    def update(keyring=good, zone_name=zone):
        u = dns.update.UpdateMessage(zone_name)
        if keyring is not None:
            u.use_tsig(keyring, fudge=300)
        return u

    def challenge(label):
        return f"_acme-challenge.{label.replace('_', '-')}.{zone}."

    def add(u, label, value="tok"):
        u.add(challenge(label), 120, "TXT", f'"{value}"')
        return u

    if "sign_add" in cfg:
        u = update()
        u.add(cfg["sign_add"]["name"], 120, "TXT", f'"{cfg["sign_add"]["value"]}"')
        dnswire.emit({"wire": u.to_wire().hex()})
        return

    wrong_secret = base64.b64encode(b"not the secret, not at all!!").decode()
    other_alg = "hmac-sha512" if k["algorithm"].lower() != "hmac-sha512" else "hmac-sha256"

    def build(case):
        """(message, wire override or None, key the client holds or None)."""
        if case == "unsigned":
            return add(update(keyring=None), case), None, None
        if case == "notauth":
            u = update(zone_name="not-served.test")
            u.add("_acme-challenge.not-served.test.", 120, "TXT", '"x"')
            return u, None, good
        if case == "notauth_below_apex":
            # A zone section naming a name inside a served zone, not its apex.
            u = update(zone_name=f"sub.{zone}")
            u.add(f"_acme-challenge.sub.{zone}.", 120, "TXT", '"x"')
            return u, None, good
        if case == "notzone":
            u = update()
            u.add("_acme-challenge.elsewhere.test.", 120, "TXT", '"x"')
            return u, None, good
        if case == "a_record":
            u = update()
            u.add(challenge(case), 120, "A", "192.0.2.1")
            return u, None, good
        if case == "txt_outside_acme":
            u = update()
            u.add(f"www.{zone}.", 120, "TXT", '"x"')
            return u, None, good
        if case == "txt_outside_acme_in_second_record":
            # All or nothing: one allowed record does not carry a forbidden one.
            u = add(update(), case)
            u.add(f"www.{zone}.", 120, "TXT", '"x"')
            return u, None, good
        if case == "any_with_rdata":
            u = update()
            rrset = u.find_rrset(
                u.update,
                dns.name.from_text(challenge(case)),
                dns.rdataclass.IN,
                dns.rdatatype.TXT,
                dns.rdatatype.NONE,
                dns.rdataclass.ANY,
                True,
                True,
            )
            rrset.add(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, '"x"'), 0)
            return u, None, good
        if case == "badsig":
            return add(update(keyring=key(k["name"], wrong_secret, k["algorithm"])), case), None, None
        if case == "badkey":
            return add(update(keyring=key("no-such-key.", k["secret"], k["algorithm"])), case), None, None
        if case == "badkey_other_algorithm":
            return add(update(keyring=key(k["name"], k["secret"], other_alg)), case), None, None
        if case == "badtime":
            u = add(update(), case)
            with ShiftedClock(3600):
                wire = u.to_wire()
            return u, wire, good
        if case.startswith("short_mac_"):
            u = add(update(), case)
            wire = u.to_wire()
            n = int(case.rsplit("_", 1)[1])
            return u, with_mac(wire, u.mac[:n]), good
        if case == "pre_yxdomain":
            u = add(update(), case)
            u.absent(f"{zone}.")  # the apex is in use
            return u, None, good
        if case == "pre_yxrrset":
            u = add(update(), case)
            u.absent(f"{zone}.", "TXT")  # the apex has the SPF TXT record
            return u, None, good
        if case == "pre_nxdomain":
            u = add(update(), case)
            u.present(f"nothing-here.{zone}.")
            return u, None, good
        if case == "pre_nxrrset":
            u = add(update(), case)
            u.present(f"{zone}.", "TXT")  # holds, so the next one decides
            u.present(f"{zone}.", "A")
            return u, None, good
        if case == "pre_value_nxrrset":
            u = add(update(), case)
            u.present(f"{zone}.", "TXT", '"v=spf1 something else"')
            return u, None, good
        if case == "pre_notzone":
            u = add(update(), case)
            u.present("elsewhere.test.")
            return u, None, good
        if case == "pre_ok":
            u = add(update(), case, "prereq-held")
            u.present(f"{zone}.")
            u.present(f"{zone}.", "TXT", f'"v=spf1 include:_spf.{zone} ~all"')
            u.absent(challenge(case), "TXT")
            u.absent(f"nothing-here.{zone}.")
            return u, None, good
        if case == "tsig_not_last":
            # A record after the TSIG (ARCOUNT raised to match): FORMERR, never processed.
            u = add(update(), case)
            wire = bytearray(u.to_wire())
            wire[10:12] = struct.pack("!H", struct.unpack("!H", wire[10:12])[0] + 1)
            wire += b"\x00" + struct.pack("!HHIH", 1, 1, 0, 4) + bytes([192, 0, 2, 1])
            return u, bytes(wire), good
        if case == "sig0":
            # A SIG(0)-signed update (SIG covering type 0 in the additional section): REFUSED,
            # never treated as unsigned.
            u = add(update(keyring=None), case)
            sig = dns.rdata.from_text(
                dns.rdataclass.ANY,
                dns.rdatatype.SIG,
                f"TYPE0 8 0 0 20300101000000 20200101000000 12345 {zone}. AAAA",
            )
            u.additional.append(dns.rrset.from_rdata(dns.name.root, 0, sig))
            return u, None, None
        if case == "plain_add":
            return add(update(), case), None, good
        if case == "upper_case_names":
            # Key and algorithm names in another case than configured: matched
            # case-insensitively, echoed byte for byte.
            upper = key(k["name"].upper(), k["secret"], k["algorithm"].upper())
            q = dns.message.make_query(f"{zone}.", "SOA")
            q.use_tsig(upper, fudge=300)
            return q, None, upper
        if case == "signed_query":
            q = dns.message.make_query(f"{zone}.", "SOA")
            q.flags &= ~dns.flags.RD
            q.use_tsig(good, fudge=300)
            return q, None, good
        raise SystemExit(f"unknown case {case}")

    results = {}
    for case in cfg["cases"]:
        message, wire, client_key = build(case)
        if wire is None:
            wire = message.to_wire()
        request_mac = message.mac if message.had_tsig else None
        sent_time = None
        if message.had_tsig:
            try:
                sent = dns.message.from_wire(wire, keyring=False).tsig[0]
                sent_time, request_mac = sent.time_signed, sent.mac  # as sent (maybe truncated)
            except dns.exception.FormError:
                pass  # dnspython will not parse what it refuses to accept (class ANY + rdata)
        reply = send(cfg["server"], cfg["port"], wire, cfg.get("transport", "udp"))
        result = describe(reply, client_key, request_mac)
        result["request_time_signed"] = sent_time
        results[case] = result
    dnswire.emit(results)

if __name__ == "__main__":
    main()
