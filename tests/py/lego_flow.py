"""lego's rfc2136 provider (4.9, miekg/dns), replayed with dnspython.

Zone discovery (dns01.FindZoneByFqdnCustom): for `_acme-challenge.a.b.c.`, `a.b.c.`, `b.c.`,
`c.` send an SOA query with RD=1 and EDNS0 (4096) over UDP (TCP again if TC); NXDOMAIN, or
NOERROR with an empty answer (or one without an SOA), moves to the next label; any other rcode
(REFUSED, SERVFAIL...) is fatal; the first SOA in the answer gives the zone (its owner).
Update (DNSProvider.changeRecord): one UDP message, signed with hmac-sha1 by default: INSERT is
"delete the TXT RRset (class ANY)" then "add the value" (TTL 120); REMOVE is class NONE.

Config: server, port, key_name, secret, algorithm, action ("add"|"del"|"walk"),
records: [[fqdn, value], ...]. Output: {"records": [{"name","walk","zone","error","reply"}]}.
"""

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.update

import dnswire


def dns_query(server, port, fqdn):
    """createDNSMsg(fqdn, SOA, recursive=true) + sendDNSQuery."""
    m = dns.message.make_query(fqdn, dns.rdatatype.SOA)  # RD set, as miekg's SetQuestion
    m.use_edns(0, 0, 4096)
    wire = m.to_wire()
    reply = dnswire.udp(server, port, wire, timeout=10)
    transport = "udp"
    if reply is not None and reply[2] & 0x02:  # TC
        reply = dnswire.tcp(server, port, wire, timeout=10)
        transport = "tcp"
    return reply, transport


def find_zone(server, port, fqdn, walk):
    labels = fqdn.rstrip(".").split(".")
    for i in range(len(labels)):
        domain = ".".join(labels[i:]) + "."
        wire, transport = dns_query(server, port, domain)
        step = {"name": domain, "transport": transport}
        walk.append(step)
        if wire is None:
            raise RuntimeError(f"no answer for {domain}")
        reply = dns.message.from_wire(wire)
        step.update(
            rcode=dns.rcode.to_text(reply.rcode()),
            flags=dnswire.flag_names(reply.flags),
            edns=reply.edns,
            payload=reply.payload if reply.edns >= 0 else None,
            answer=dnswire.rrset_summary(reply.answer),
            authority=dnswire.rrset_summary(reply.authority),
        )
        if reply.rcode() == dns.rcode.NOERROR:
            if not reply.answer:
                continue
            for rrset in reply.answer:  # the first SOA in the answer
                if rrset.rdtype == dns.rdatatype.SOA:
                    return rrset.name.to_text()
        elif reply.rcode() == dns.rcode.NXDOMAIN:
            continue
        else:
            raise RuntimeError(f"unexpected response code '{step['rcode']}' for {domain}")
    raise RuntimeError(f"could not find the start of authority for {fqdn}")


def main():
    cfg = dnswire.config()
    server, port = cfg["server"], cfg["port"]
    tsig_key = dnswire.key(cfg["key_name"], cfg["secret"], cfg.get("algorithm", "hmac-sha1."))
    results = []
    for fqdn, value in cfg["records"]:
        walk = []
        result = {"name": fqdn, "walk": walk}
        results.append(result)
        try:
            zone = find_zone(server, port, fqdn, walk)
        except Exception as err:  # noqa: BLE001 - lego fails the challenge
            result["error"] = str(err)
            continue
        result["zone"] = zone
        if cfg["action"] == "walk":
            continue
        m = dns.update.UpdateMessage(zone)
        if cfg["action"] == "add":
            # Always remove old challenge left over from who knows what.
            m.delete(fqdn, "TXT")
            m.add(fqdn, 120, "TXT", f'"{value}"')
        else:
            m.delete(fqdn, "TXT", f'"{value}"')
        m.use_tsig(tsig_key, fudge=300)
        wire = m.to_wire()
        reply = dnswire.udp(server, port, wire, timeout=10)
        result["reply"] = dnswire.describe(reply, tsig_key, m.mac)
    dnswire.emit({"records": results})


if __name__ == "__main__":
    main()
