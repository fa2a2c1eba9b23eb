#!/usr/bin/env python3
"""Many clients at once: K concurrent certbot runs (default 20), each for its own name in one
zone (c01.example.com, c02.example.com, ...), separate config dirs, all against ONE sim (zone
lock of `--edit-seconds`), ONE pebble and, with `--client gateway` (the default), ONE gateway.

`--client plugin` runs the same K certbots with the original `certbot-dns-csc` plugin straight
at the sim instead (each retries `OPEN_ZONE_EDITS` with 30 s x 1.5^n sleeps): long, mostly
asleep.

Measured: total wall time (first start to last exit), each client's wall time, the time until
the zone is clean, CSC POSTs (all, 201 = edits, `OPEN_ZONE_EDITS`), records left, whether every
client got its certificate, and how busy the machine's CPUs were.

    python3 bench/many_clients.py                        # 20 x certbot --dns-rfc2136 + gateway
    python3 bench/many_clients.py --client plugin        # 20 x certbot-dns-csc (~20-30 min)
    python3 bench/many_clients.py --stagger 3            # the 20 start 3 s apart

See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import log  # noqa: E402


class CpuSampler(threading.Thread):
    """Samples the machine's CPU busy share (all cores, from /proc/stat) once a second."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.halt = threading.Event()

    @staticmethod
    def _read():
        with open("/proc/stat") as f:
            parts = [int(x) for x in f.readline().split()[1:]]
        idle = parts[3] + parts[4]
        return sum(parts), idle

    def run(self):
        last = self._read()
        while not self.halt.wait(1.0):
            now = self._read()
            total, idle = now[0] - last[0], now[1] - last[1]
            self.samples.append(0.0 if total <= 0 else 100.0 * (total - idle) / total)
            last = now

    def summary(self) -> dict:
        s = self.samples
        if not s:
            return {}
        peak10 = max(sum(s[i:i + 10]) / len(s[i:i + 10]) for i in range(len(s)))
        return {"cpu_busy_mean_pct": round(sum(s) / len(s), 1),
                "cpu_busy_peak_10s_pct": round(peak10, 1),
                "cpu_busy_first_30s_pct": round(sum(s[:30]) / len(s[:30]), 1)}


def call_offsets(calls: list, start_wall: float) -> list[dict]:
    """Accepted POSTs with their items and their time since the clients started."""
    out = []
    for c in calls:
        if c.get("method") != "POST" or c.get("path") != common.EDITS_PATH:
            continue
        if c.get("status") != 201:
            continue
        when = datetime.datetime.fromisoformat(c["time"].replace("Z", "+00:00")).timestamp()
        kinds: dict[str, int] = {}
        for e in (c.get("requestBody") or {}).get("edits") or []:
            kinds[e.get("action", "?")] = kinds.get(e.get("action", "?"), 0) + 1
        out.append({"t": round(when - start_wall, 1),
                    "items": "+".join(f"{k}x{v}" for k, v in sorted(kinds.items()))})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--client", choices=["gateway", "plugin"], default="gateway")
    parser.add_argument("--clients", type=int, default=20, help="concurrent certbots (20)")
    parser.add_argument("--edit-seconds", type=float, default=20,
                        help="sim: how long an edit holds the zone (default 20)")
    parser.add_argument("--propagation", type=int, default=60,
                        help="certbot's propagation wait (default 60: covers a change that "
                             "just missed an edit: batch 2-10 s + the open edit's lock 20 s + "
                             "half an edit to go live + a 3 s status poll)")
    parser.add_argument("--stagger", type=float, default=0,
                        help="start client i at (i-1) x STAGGER seconds (default 0: all at once)")
    parser.add_argument("--client-timeout", type=float, default=None,
                        help="per client (default 600 s gateway, 2700 s plugin)")
    parser.add_argument("--settle-timeout", type=float, default=300)
    parser.add_argument("--binary", default=str(common.ROOT / "target/release/csc-rfc2136"))
    parser.add_argument("--gateway-venv", default=".venv")
    parser.add_argument("--plugin-venv", default=".venv-bench")
    parser.add_argument("--out", default=None,
                        help="work/results folder (default /tmp/csc-bench-many-<client>-<time>)")
    args = parser.parse_args()
    timeout = args.client_timeout or (600 if args.client == "gateway" else 2700)

    common.install_signal_handlers()
    out = Path(args.out or
               f"/tmp/csc-bench-many-{args.client}-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    binary = common.snapshot_binary(Path(args.binary), out)
    venv = args.gateway_venv if args.client == "gateway" else args.plugin_venv
    certbot = common.program("certbot", venv)
    versions = {"certbot": common.pip_version(venv, "certbot")}
    versions["plugin"] = common.pip_version(
        venv, "certbot-dns-rfc2136" if args.client == "gateway" else "certbot-dns-csc")

    result = {"client": args.client, "clients": args.clients, "args": vars(args),
              "versions": versions, "machine_before": common.machine_note()}
    sim = gateway = pebble = None
    sampler = CpuSampler()
    try:
        sim = common.Sim(binary, out, args.edit_seconds)
        if args.client == "gateway":
            gateway = common.Gateway(binary, out, sim)
        pebble = common.Pebble(out, sim.dns_addr)
        env = common.certbot_env(pebble)
        outcomes: dict[int, dict] = {}

        def client(i: int):
            time.sleep((i - 1) * args.stagger)
            work = out / f"client{i:02d}"
            work.mkdir(exist_ok=True)
            name = f"c{i:02d}.{common.ZONE}"
            plugin_args = (common.certbot_rfc2136_args(work, gateway, args.propagation)
                           if gateway else common.certbot_csc_args(work, sim, args.propagation))
            command = common.certbot_base(certbot, pebble, work, "bench") + plugin_args
            command += ["-d", name]
            rc, wall = common.run_client(command, log_path=work / "certbot.out", env=env,
                                         timeout=timeout)
            got = common.cert_names(work / "config/live/bench/fullchain.pem")
            ok = rc == 0 and got == [name]
            outcomes[i] = {"name": name, "exit_code": rc, "wall_s": round(wall, 1), "ok": ok}
            log(f"[client {i:02d}] {name}: rc={rc} after {wall:.1f} s, "
                f"certificate {'ok' if got == [name] else 'MISSING/WRONG'}")

        when = "at once" if not args.stagger else f"one every {args.stagger} s"
        log(f"start: {args.clients} x certbot ({args.client}) {when}, one zone, sim edit "
            f"{args.edit_seconds} s, propagation {args.propagation} s; results in {out}")
        sampler.start()
        start_wall, start = time.time(), time.monotonic()
        threads = [threading.Thread(target=client, args=(i,), daemon=True)
                   for i in range(1, args.clients + 1)]
        for t in threads:
            t.start()
        last_report = start
        while any(t.is_alive() for t in threads):
            time.sleep(1)
            if time.monotonic() - last_report >= 30:
                last_report = time.monotonic()
                s = common.summarize_calls(sim.calls())
                log(f"... {sum(1 for t in threads if t.is_alive())} client(s) running; "
                    f"POSTs {s['posts']} (201: {s['posts_201']}, OPEN_ZONE_EDITS: "
                    f"{s['open_zone_edits']})")
        total = time.monotonic() - start
        left_at_exit = sim.challenge_records()
        log(f"all {args.clients} clients exited after {total:.1f} s; "
            f"{len(left_at_exit)} challenge record(s) published at that moment")
        settle = sim.wait_settled(args.settle_timeout)
        time.sleep(5)
        sampler.halt.set()
        calls = sim.calls()
        (out / "calls.json").write_text(json.dumps(calls, indent=1))
        summary = common.summarize_calls(calls)
        walls = [o["wall_s"] for o in outcomes.values()]
        result.update(
            total_wall_s=round(total, 1),
            start_to_clean_s=None if settle is None else round(total + settle, 1),
            all_ok=len(outcomes) == args.clients and all(o["ok"] for o in outcomes.values()),
            ok_count=sum(1 for o in outcomes.values() if o["ok"]),
            client_wall_min_s=min(walls) if walls else None,
            client_wall_median_s=statistics.median(walls) if walls else None,
            client_wall_max_s=max(walls) if walls else None,
            records_left_at_exit=len(left_at_exit),
            records_left_after=sim.challenge_records(),
            gateway_running=None if gateway is None else gateway.running(),
            accepted_edits=call_offsets(calls, start_wall),
            outcomes=[outcomes[i] for i in sorted(outcomes)],
            **summary, **sampler.summary(),
        )
        log(f"done: {result['ok_count']}/{args.clients} certificates; total {total:.1f} s "
            f"(clients {result['client_wall_min_s']}-{result['client_wall_max_s']} s, median "
            f"{result['client_wall_median_s']}); clean "
            f"{'never' if settle is None else f'+{settle:.1f} s'}; POSTs {summary['posts']} "
            f"(201: {summary['posts_201']}, OPEN_ZONE_EDITS: {summary['open_zone_edits']}, "
            f"other errors: {summary['posts_other_error']}); records left "
            f"{len(result['records_left_after'])}")
        log(f"accepted edits (s since start: items): {result['accepted_edits']}")
    finally:
        sampler.halt.set()
        for part in (pebble, gateway, sim):
            if part is not None:
                part.stop()
        common.stop_all()
    result["machine_after"] = common.machine_note()
    (out / "results.json").write_text(json.dumps(result, indent=1))
    log(f"results: {out / 'results.json'}")
    sys.exit(0 if result.get("all_ok") else 1)


if __name__ == "__main__":
    main()
