#!/bin/sh
# acme.sh's `dns_nsupdate` hook, as a certbot manual hook (acme.sh itself is not packaged here).
#
#   acme_sh_dns_nsupdate.sh add   # --manual-auth-hook
#   acme_sh_dns_nsupdate.sh rm    # --manual-cleanup-hook
#
# It sends exactly what acme.sh's dnsapi/dns_nsupdate.sh sends for one challenge:
#   nsupdate -k "$NSUPDATE_KEY" with the script
#     server $NSUPDATE_SERVER  $NSUPDATE_SERVER_PORT
#     [zone $NSUPDATE_ZONE.]                      (only when NSUPDATE_ZONE is set)
#     update add _acme-challenge.DOMAIN. 60 in txt "VALUE"     (add)
#     update delete _acme-challenge.DOMAIN. txt                (rm: the whole RRset, class ANY)
#     send
# certbot gives the name and value in CERTBOT_DOMAIN and CERTBOT_VALIDATION (the base name for a
# wildcard, as acme.sh strips `*.`). acme.sh adds every challenge, waits for the records to be
# visible (its --dnssleep or DNS check), asks for validation, then removes them; certbot's
# manual plugin calls the hooks in that same order, so after the last add (no challenge left)
# this script waits, like acme.sh's DNS check, until the authoritative DNS (the simulated CSC at
# E2E_DNS_HOST:E2E_DNS_PORT, loopback only) answers every value it added.
set -eu

: "${NSUPDATE_SERVER:=localhost}"
: "${NSUPDATE_SERVER_PORT:=53}"
: "${NSUPDATE_KEY:?the path to the nsupdate key file}"
: "${E2E_STATE:?a file that lists the added name/value pairs}"
fulldomain="_acme-challenge.${CERTBOT_DOMAIN}"

# nsupdate reads its commands from standard input; a blank line would send early, so the zone
# line is printed only when acme.sh would print it.
nsupdate_script() {
  printf 'server %s  %s\n' "$NSUPDATE_SERVER" "$NSUPDATE_SERVER_PORT"
  if [ -n "${NSUPDATE_ZONE:-}" ]; then
    printf 'zone %s.\n' "$NSUPDATE_ZONE"
  fi
  printf '%s\nsend\n' "$1"
}

case "$1" in
add)
  nsupdate_script "update add ${fulldomain}. 60 in txt \"${CERTBOT_VALIDATION}\"" |
    nsupdate -k "$NSUPDATE_KEY"
  echo "$fulldomain $CERTBOT_VALIDATION" >>"$E2E_STATE"
  if [ "${CERTBOT_REMAINING_CHALLENGES:-0}" -eq 0 ]; then
    deadline=$(($(date +%s) + ${E2E_DNS_WAIT:-30}))
    while read -r name value; do
      until dig +short +norecurse +time=1 +tries=1 -p "$E2E_DNS_PORT" "@$E2E_DNS_HOST" TXT "$name" |
        grep -qF "\"$value\""; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
          echo "acme_sh_dns_nsupdate.sh: $name TXT \"$value\" not published in time" >&2
          exit 1
        fi
        sleep 0.2
      done
    done <"$E2E_STATE"
  fi
  ;;
rm)
  nsupdate_script "update delete ${fulldomain}. txt" | nsupdate -k "$NSUPDATE_KEY"
  ;;
*)
  echo "usage: $0 add|rm" >&2
  exit 2
  ;;
esac
