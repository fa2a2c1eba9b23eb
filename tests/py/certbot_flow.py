"""certbot-dns-rfc2136's exact flow, replayed with dnspython (its own library).

As in certbot_dns_rfc2136._RFC2136Client: for each record, walk the SOA guesses
`_acme-challenge.a.b.c`, `a.b.c`, `b.c`, `c` with an unsigned SOA query, RD cleared, no EDNS,
over TCP (UDP only if TCP fails); accept a guess only when rcode is NOERROR, AA is set and the
answer section holds an SOA owned by exactly that name. Then send one TCP UPDATE per record,
signed with HMAC-MD5 spelled upper case (`HMAC-MD5.SIG-ALG.REG.INT.`, certbot's default), and
validate the signed reply with the same key (dns.query.tcp does that, and raises otherwise).

Config: server, port, key_name, secret, action ("add" or "del"), records: [[name, value], ...].
Output: {"records": [{"name", "walk": [...], "zone", "rcode", "reply": describe(...)}]}.
"""

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.update

import dnswire

# certbot-dns-rfc2136 maps its `dns_rfc2136_algorithm` setting to dnspython's constants; the
# default, HMAC-MD5, is dns.tsig.HMAC_MD5 = "HMAC-MD5.SIG-ALG.REG.INT" (upper case).
ALGORITHM = dns.name.from_text("HMAC-MD5.SIG-ALG.REG.INT.")
TIMEOUT = 45  # certbot's default
TTL = 120  # certbot's record TTL


def base_domain_name_guesses(domain):
    """certbot.plugins.dns_common.base_domain_name_guesses."""
    fragments = domain.split(".")
    return [".".join(fragments[i:]) for i in range(0, len(fragments))]


def query_soa(server, port, domain_name, walk):
    """certbot_dns_rfc2136._RFC2136Client._query_soa (unsigned: sign_query is off by default)."""
    domain = dns.name.from_text(domain_name)
    request = dns.message.make_query(domain, dns.rdatatype.SOA, dns.rdataclass.IN)
    # Turn off Recursion Desired bit in query
    request.flags ^= dns.flags.RD
    step = {"name": domain_name, "transport": "tcp", "edns_sent": request.edns >= 0}
    try:
        try:
            response = dns.query.tcp(request, server, TIMEOUT, port)
        except (OSError, dns.exception.Timeout):
            step["transport"] = "udp"
            response = dns.query.udp(request, server, TIMEOUT, port)
        rcode = response.rcode()
        step.update(
            rcode=dns.rcode.to_text(rcode),
            aa=bool(response.flags & dns.flags.AA),
            edns=response.edns,
            answer=dnswire.rrset_summary(response.answer),
            authority=dnswire.rrset_summary(response.authority),
        )
        # Authoritative Answer bit should be set
        if (
            rcode == dns.rcode.NOERROR
            and response.get_rrset(
                response.answer, domain, dns.rdataclass.IN, dns.rdatatype.SOA
            )
            and response.flags & dns.flags.AA
        ):
            step["accepted"] = True
            walk.append(step)
            return True
        step["accepted"] = False
        walk.append(step)
        return False
    except Exception as err:  # noqa: BLE001 - certbot raises PluginError: the test fails on it
        step["error"] = f"{type(err).__name__}: {err}"
        walk.append(step)
        raise


def find_domain(server, port, record_name, walk):
    for guess in base_domain_name_guesses(record_name):
        if query_soa(server, port, guess, walk):
            return guess
    return None


def main():
    cfg = dnswire.config()
    server, port = cfg["server"], cfg["port"]
    keyring = {dns.name.from_text(cfg["key_name"]): dns.tsig.Key(cfg["key_name"], cfg["secret"], ALGORITHM)}
    results = []
    for record_name, value in cfg["records"]:
        walk = []
        result = {"name": record_name, "walk": walk}
        results.append(result)
        try:
            domain = find_domain(server, port, record_name, walk)
        except Exception as err:  # noqa: BLE001
            result["error"] = f"{type(err).__name__}: {err}"
            continue
        result["zone"] = domain
        if domain is None:
            continue
        n = dns.name.from_text(record_name)
        o = dns.name.from_text(domain)
        rel = n.relativize(o)
        update = dns.update.Update(o, keyring=keyring, keyalgorithm=ALGORITHM)
        if cfg["action"] == "add":
            update.add(rel, TTL, dns.rdatatype.TXT, value)
        else:
            update.delete(rel, dns.rdatatype.TXT, value)
        try:
            # Raises when the reply is not signed or its MAC does not verify.
            response = dns.query.tcp(update, server, TIMEOUT, port)
        except Exception as err:  # noqa: BLE001
            result["error"] = f"{type(err).__name__}: {err}"
            continue
        result["rcode"] = dns.rcode.to_text(response.rcode())
        result["reply_signed"] = response.had_tsig
        result["reply_key_name"] = response.tsig.name.to_text() if response.tsig else None
        result["reply_algorithm"] = response.tsig[0].algorithm.to_text() if response.tsig else None
        result["sent_algorithm"] = ALGORITHM.to_text()
    dnswire.emit({"records": results})


if __name__ == "__main__":
    main()
