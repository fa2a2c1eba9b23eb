#!/usr/bin/env python3
"""One certificate for N names in one zone: certbot + the original `certbot-dns-csc` plugin
versus certbot `--dns-rfc2136` + the gateway, against the same kind of stack.

Every configuration (client x N) gets its own sim (`--edit-seconds`), its own pebble and (for
the gateway) its own gateway, so configurations can run in parallel (`--jobs`) without sharing
a zone lock. Per run: certbot's wall time (start to exit), the time until the zone is clean
(no `_acme-challenge` record published and no edit pending), CSC POSTs (all, 201,
`OPEN_ZONE_EDITS`), records left, and whether the certificate covers the names.

    python3 bench/plugin_vs_gateway.py                      # N = 1, 3, 10, both clients
    python3 bench/plugin_vs_gateway.py --names 3 --clients gateway --jobs 1

See bench/README.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import log  # noqa: E402


def one_run(kind: str, count: int, args, binary: Path, out: Path) -> dict:
    label = f"{kind} N={count}"
    work = out / f"{kind}-n{count}"
    work.mkdir(parents=True, exist_ok=True)
    names = common.names_for(count)
    result = {"client": kind, "n": count, "names": names, "machine_before": common.machine_note()}
    sim = gateway = pebble = None
    try:
        sim = common.Sim(binary, work, args.edit_seconds)
        if kind == "gateway":
            gateway = common.Gateway(binary, work, sim)
        pebble = common.Pebble(work, sim.dns_addr)
        if kind == "gateway":
            certbot = common.program("certbot", args.gateway_venv)
            plugin_args = common.certbot_rfc2136_args(work, gateway, args.propagation)
        else:
            certbot = common.program("certbot", args.plugin_venv)
            plugin_args = common.certbot_csc_args(work, sim, args.propagation)
        command = common.certbot_base(certbot, pebble, work, "bench") + plugin_args
        for name in names:
            command += ["-d", name]
        log(f"[{label}] start: certbot for {count} name(s), sim edit {args.edit_seconds} s, "
            f"propagation {args.propagation} s")
        rc, wall = common.run_client(command, log_path=work / "certbot.out",
                                     env=common.certbot_env(pebble), timeout=args.client_timeout)
        left_at_exit = sim.challenge_records()
        got = common.cert_names(work / "config/live/bench/fullchain.pem")
        success = rc == 0 and got == sorted(names)
        log(f"[{label}] certbot exited rc={rc} after {wall:.1f} s; certificate "
            f"{'ok' if got == sorted(names) else 'MISSING/WRONG'}; "
            f"{len(left_at_exit)} challenge record(s) published at exit")
        settle = sim.wait_settled(args.settle_timeout)
        # A stray late edit (e.g. a second cleanup batch) would come within a batch window.
        time.sleep(5)
        calls = sim.calls()
        summary = common.summarize_calls(calls)
        left_after = sim.challenge_records()
        result.update(
            success=success, exit_code=rc, certificate_names=got,
            wall_s=round(wall, 1),
            clean_after_exit_s=None if settle is None else round(settle, 1),
            start_to_clean_s=None if settle is None else round(wall + settle, 1),
            records_left_at_exit=len(left_at_exit), records_left_after=left_after,
            gateway_running=None if gateway is None else gateway.running(),
            **summary,
        )
        (work / "calls.json").write_text(json.dumps(calls, indent=1))
        log(f"[{label}] done: success={success} wall {wall:.1f} s, clean "
            f"{'never' if settle is None else f'+{settle:.1f} s'}; POSTs {summary['posts']} "
            f"(201: {summary['posts_201']}, OPEN_ZONE_EDITS: {summary['open_zone_edits']}); "
            f"records left {len(left_after)}; edits {summary['edit_items']}")
    except Exception as err:  # noqa: BLE001 - report and go on with the other runs
        log(f"[{label}] ERROR {err}")
        result.update(success=False, error=f"{err}\n{traceback.format_exc()}")
    finally:
        for part in (pebble, gateway, sim):
            if part is not None:
                part.stop()
    result["machine_after"] = common.machine_note()
    result["work"] = str(work)
    return result


def markdown(results: list[dict], args, versions: dict) -> str:
    by = {(r["client"], r["n"]): r for r in results}
    rows = ["| client | N | ok | certbot wall (s) | start → zone clean (s) | CSC POSTs | "
            "accepted (201) | `OPEN_ZONE_EDITS` | other errors | records left | accepted edits |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in sorted(results, key=lambda r: (r["client"] != "plugin", r["n"])):
        if "wall_s" not in r:
            rows.append(f"| {r['client']} | {r['n']} | **error** | | | | | | | | |")
            continue
        rows.append(
            f"| {'certbot-dns-csc' if r['client'] == 'plugin' else 'gateway + dns-rfc2136'} "
            f"| {r['n']} | {'yes' if r['success'] else '**no**'} | {r['wall_s']} | "
            f"{r['start_to_clean_s'] if r['start_to_clean_s'] is not None else 'never'} | "
            f"{r['posts']} | {r['posts_201']} | {r['open_zone_edits']} | "
            f"{r['posts_other_error']} | {len(r['records_left_after'])} | "
            f"{', '.join(r['edit_items']) if r['client'] == 'gateway' else '1 item each'} |")
    ratios = ["", "| N | plugin wall / gateway wall | plugin clean / gateway clean | "
              "POSTs plugin : gateway | accepted edits plugin : gateway |",
              "|---:|---:|---:|---:|---:|"]
    for n in sorted({r["n"] for r in results}):
        p, g = by.get(("plugin", n)), by.get(("gateway", n))
        if not p or not g or "wall_s" not in p or "wall_s" not in g:
            continue
        clean = ("n/a" if not p["start_to_clean_s"] or not g["start_to_clean_s"]
                 else f"{p['start_to_clean_s'] / g['start_to_clean_s']:.2f}x")
        ratios.append(f"| {n} | {p['wall_s'] / g['wall_s']:.2f}x | {clean} | "
                      f"{p['posts']} : {g['posts']} | {p['posts_201']} : {g['posts_201']} |")
    head = (f"Sim edit time {args.edit_seconds} s (records live at half of it), propagation "
            f"wait {args.propagation} s for both clients, {args.jobs} configuration(s) at a "
            f"time; certbot {versions.get('certbot')}, certbot-dns-csc "
            f"{versions.get('certbot-dns-csc')}, certbot-dns-rfc2136 "
            f"{versions.get('certbot-dns-rfc2136')}.\n\n")
    return head + "\n".join(rows + ratios) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--names", default="1,3,10", help="comma-separated N (default 1,3,10)")
    parser.add_argument("--clients", default="plugin,gateway",
                        help="plugin (certbot-dns-csc), gateway (dns-rfc2136 + gateway)")
    parser.add_argument("--edit-seconds", type=float, default=20,
                        help="sim: how long an edit holds the zone (default 20)")
    parser.add_argument("--propagation", type=int, default=30,
                        help="certbot's propagation wait, both plugins (default 30)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="configurations at a time, longest first (default 2)")
    parser.add_argument("--client-timeout", type=float, default=1800)
    parser.add_argument("--settle-timeout", type=float, default=180,
                        help="after certbot exits: how long to wait for a clean zone")
    parser.add_argument("--binary", default=str(common.ROOT / "target/release/csc-rfc2136"))
    parser.add_argument("--gateway-venv", default=".venv",
                        help="venv with certbot + certbot-dns-rfc2136 (default .venv)")
    parser.add_argument("--plugin-venv", default=".venv-bench",
                        help="venv with certbot + certbot-dns-csc (default .venv-bench)")
    parser.add_argument("--out", default=None,
                        help="work/results folder (default /tmp/csc-bench-plugin-<time>)")
    args = parser.parse_args()

    common.install_signal_handlers()
    out = Path(args.out or f"/tmp/csc-bench-plugin-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    binary = common.snapshot_binary(Path(args.binary), out)
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    counts = [int(n) for n in args.names.split(",") if n.strip()]
    versions = {"certbot": common.pip_version(args.plugin_venv if "plugin" in clients
                                              else args.gateway_venv, "certbot")}
    if "plugin" in clients:
        versions["certbot-dns-csc"] = common.pip_version(args.plugin_venv, "certbot-dns-csc")
    if "gateway" in clients:
        versions["certbot-dns-rfc2136"] = common.pip_version(args.gateway_venv,
                                                             "certbot-dns-rfc2136")
    # Longest first: the plugin's time grows with N.
    plan = sorted(((k, n) for k in clients for n in counts),
                  key=lambda kn: (kn[0] != "plugin", -kn[1]))
    log(f"plan: {plan} with {args.jobs} at a time; results in {out}")
    results = []
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(one_run, k, n, args, binary, out) for k, n in plan]
            for future in concurrent.futures.as_completed(futures):
                results.append(future.result())
    finally:
        common.stop_all()
    (out / "results.json").write_text(json.dumps(
        {"args": vars(args), "versions": versions, "results": results}, indent=1))
    table = markdown(results, args, versions)
    (out / "results.md").write_text(table)
    print(table)
    log(f"results: {out / 'results.json'} and {out / 'results.md'}")
    sys.exit(0 if all(r.get("success") for r in results) else 1)


if __name__ == "__main__":
    main()
