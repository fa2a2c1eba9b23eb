"""Shared helpers for the end-to-end benchmarks in bench/ (stdlib only).

Each benchmark runs real programs on loopback only:

- the simulated CSC (`csc-rfc2136 sim`: REST API + authoritative DNS of the zone),
- optionally the gateway (`csc-rfc2136 serve`) in front of it,
- pebble as the ACME server (throw-away CA made with openssl), validating dns-01 against the
  sim's DNS,
- certbot, either with `certbot-dns-rfc2136` (pointed at the gateway) or with the original
  `certbot-dns-csc` plugin (pointed at the sim's REST API through `dns_csc_base_url`).

Every process started here is tracked and killed (by its own process group id) when the
benchmark ends, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZONE = "example.com"
API_KEY = "bench-api-key"
BEARER_TOKEN = "bench-bearer-token"
PENDING = {"NEW", "SUBMITTED", "PROCESSING", "PROPAGATING"}
EDITS_PATH = "/dbs/api/v2/zones/edits"

# ---------------------------------------------------------------------------------------------
# Processes

_CHILDREN: list[subprocess.Popen] = []
_CHILDREN_LOCK = threading.Lock()
_T0 = time.monotonic()


def log(message: str) -> None:
    """One progress line, with the seconds since the benchmark started."""
    print(f"[{time.monotonic() - _T0:7.1f}s] {message}", flush=True)


def spawn(args, *, log_path: Path, env=None, cwd=None) -> subprocess.Popen:
    """Starts a tracked child in its own process group, stdout+stderr to `log_path`."""
    out = open(log_path, "ab")
    proc = subprocess.Popen(
        [str(a) for a in args],
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    out.close()
    with _CHILDREN_LOCK:
        _CHILDREN.append(proc)
    return proc


def stop(proc: subprocess.Popen, grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL, to the child's own process group (by its id)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
    with _CHILDREN_LOCK:
        if proc in _CHILDREN:
            _CHILDREN.remove(proc)


def stop_all() -> None:
    with _CHILDREN_LOCK:
        children = list(_CHILDREN)
    for proc in children:
        stop(proc, grace=1.0)


def install_signal_handlers() -> None:
    """Ctrl-C / SIGTERM: kill every child we started, then exit."""

    def handler(signum, _frame):
        log(f"signal {signum}: stopping every process this benchmark started")
        stop_all()
        os._exit(130)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def program(name: str, venv: str | None = None) -> Path:
    """A program from `venv` (relative to the repo) first, then PATH."""
    if venv:
        candidate = ROOT / venv / "bin" / name
        if candidate.is_file():
            return candidate
        sys.exit(f"{candidate} is missing (see bench/README.md for the setup)")
    found = shutil.which(name)
    if not found:
        sys.exit(f"`{name}` is not installed (see bench/README.md)")
    return Path(found)


def snapshot_binary(binary: Path, work: Path) -> Path:
    """Copies the gateway binary into the work folder so a rebuild mid-run changes nothing."""
    if not binary.is_file():
        sys.exit(f"{binary} is missing: run `cargo build --release` first")
    copy = work / "csc-rfc2136"
    shutil.copy2(binary, copy)
    return copy


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_line(path: Path, prefix: str, proc: subprocess.Popen, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith(prefix):
                    return line
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    tail = path.read_text(errors="replace")[-3000:] if path.exists() else ""
    raise RuntimeError(f"no `{prefix}` line from {proc.args}:\n{tail}")


def field(line: str, name: str) -> str:
    for part in line.split():
        if part.startswith(name):
            return part[len(name):]
    raise RuntimeError(f"no {name} in {line!r}")


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_json(url: str, method: str = "GET", timeout: float = 10):
    request = urllib.request.Request(url, method=method)
    with _NO_PROXY.open(request, timeout=timeout) as reply:
        return json.loads(reply.read())


# ---------------------------------------------------------------------------------------------
# The simulated CSC


class Sim:
    """`csc-rfc2136 sim` for one zone on free loopback ports."""

    def __init__(self, binary: Path, work: Path, edit_seconds: float, zone: str = ZONE):
        self.log_path = work / "sim.log"
        self.proc = spawn(
            [binary, "sim", "--http", "127.0.0.1:0", "--dns", "127.0.0.1:0", "--zones", zone,
             "--edit-seconds", edit_seconds, "--api-key", API_KEY,
             "--bearer-token", BEARER_TOKEN],
            log_path=self.log_path,
        )
        line = wait_for_line(self.log_path, "sim ready:", self.proc)
        self.api_base = field(line, "api=")
        self.origin = self.api_base.removesuffix("/dbs/api/v2")
        self.dns_addr = field(line, "dns=")
        self.zone = zone

    def control(self, path: str):
        return http_json(self.origin + path)

    def calls(self) -> list:
        return self.control("/sim/calls")

    def edits(self) -> list:
        return self.control("/sim/edits")

    def challenge_records(self) -> list[tuple[str, str]]:
        left = []
        for zone in self.control("/sim/records").values():
            for record in zone.get("txt") or []:
                key = record.get("key", "")
                if key.lower().startswith("_acme-challenge"):
                    left.append((key, record.get("value", "")))
        return sorted(left)

    def pending_edits(self) -> int:
        return sum(1 for e in self.edits() if e.get("status") in PENDING)

    def wait_settled(self, timeout: float) -> float | None:
        """Seconds until no challenge record is published and no edit is pending (None: not
        within `timeout`)."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if not self.challenge_records() and self.pending_edits() == 0:
                return time.monotonic() - start
            time.sleep(0.25)
        return None

    def stop(self):
        stop(self.proc)


def summarize_calls(calls: list) -> dict:
    """What the CSC API saw: POSTs (all, 201, OPEN_ZONE_EDITS, other), edits' items."""
    posts = [c for c in calls if c.get("method") == "POST" and c.get("path") == EDITS_PATH]
    accepted = [c for c in posts if c.get("status") == 201]
    open_zone = [
        c for c in posts
        if c.get("status") == 400 and isinstance(c.get("responseBody"), dict)
        and c["responseBody"].get("code") == "OPEN_ZONE_EDITS"
    ]
    items = []
    for c in accepted:
        body = c.get("requestBody") or {}
        kinds: dict[str, int] = {}
        for e in body.get("edits") or []:
            kinds[e.get("action", "?")] = kinds.get(e.get("action", "?"), 0) + 1
        items.append("+".join(f"{k}x{v}" for k, v in sorted(kinds.items())))
    return {
        "api_calls": len(calls),
        "gets": sum(1 for c in calls if c.get("method") == "GET"),
        "posts": len(posts),
        "posts_201": len(accepted),
        "open_zone_edits": len(open_zone),
        "posts_other_error": len(posts) - len(accepted) - len(open_zone),
        "edit_items": items,
    }


# ---------------------------------------------------------------------------------------------
# The gateway


class Gateway:
    """`csc-rfc2136 serve` with the shipped defaults for batching and polling (no [edits]
    table: batch window 2 s, max wait 10 s, status polls every 3 s, reply "queued")."""

    KEY_NAME = "bench."
    ALGORITHM = "hmac-sha256"

    def __init__(self, binary: Path, work: Path, sim: Sim):
        self.secret = base64.b64encode(secrets.token_bytes(32)).decode()
        state = work / "gateway-state"
        state.mkdir(parents=True, exist_ok=True)
        config = work / "gateway.toml"
        config.write_text(
            f'[server]\nlisten = ["127.0.0.1:0"]\n\n'
            f'[csc]\nbase_url = "{sim.api_base}"\napi_key = "{API_KEY}"\n'
            f'bearer_token = "{BEARER_TOKEN}"\n\n'
            f'[state]\ndir = "{state}"\n\n'
            f'[[key]]\nname = "{self.KEY_NAME}"\nalgorithm = "{self.ALGORITHM}"\n'
            f'secret = "{self.secret}"\nzones = ["{sim.zone}"]\n'
        )
        self.config = config
        self.log_path = work / "gateway.log"
        self.proc = spawn([binary, "serve", "--config", config], log_path=self.log_path)
        line = wait_for_line(self.log_path, "gateway ready:", self.proc)
        self.dns_addr = field(line, "dns=").split(",")[0]
        self.port = self.dns_addr.rsplit(":", 1)[1]

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self):
        stop(self.proc)


# ---------------------------------------------------------------------------------------------
# Pebble


class Pebble:
    """pebble with a throw-away CA for its HTTPS endpoint, validating against `dns`."""

    def __init__(self, work: Path, dns: str):
        d = work / "pebble"
        d.mkdir(parents=True, exist_ok=True)
        openssl = program("openssl")

        def run(*args):
            subprocess.run([str(openssl), *args], cwd=d, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-keyout", "ca.key", "-out", "ca.pem",
            "-subj", "/CN=csc-rfc2136 bench CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", "key.pem", "-out", "server.csr", "-subj", "/CN=localhost")
        (d / "server.ext").write_text(
            "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
            "basicConstraints = critical, CA:FALSE\n"
            "keyUsage = critical, digitalSignature\n"
            "extendedKeyUsage = serverAuth\n"
            "subjectKeyIdentifier = hash\n"
            "authorityKeyIdentifier = keyid\n")
        run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", "2", "-days", "2", "-extfile", "server.ext", "-out", "cert.pem")
        port = free_port()
        config = {"pebble": {
            "listenAddress": f"127.0.0.1:{port}",
            "managementListenAddress": f"127.0.0.1:{free_port()}",
            "certificate": str(d / "cert.pem"),
            "privateKey": str(d / "key.pem"),
            "httpPort": free_port(),
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }}
        (d / "pebble.json").write_text(json.dumps(config))
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0",
                   PEBBLE_AUTHZREUSE="0")
        self.log_path = work / "pebble.log"
        self.proc = spawn([program("pebble"), "-config", d / "pebble.json", "-dnsserver", dns],
                          log_path=self.log_path, env=env)
        self.directory = f"https://127.0.0.1:{port}/dir"
        self.ca_pem = d / "ca.pem"
        self._wait_ready()

    def _wait_ready(self):
        context = ssl.create_default_context(cafile=str(self.ca_pem))
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=context))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with opener.open(self.directory, timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"pebble did not come up:\n{self.log_path.read_text()[-3000:]}")

    def stop(self):
        stop(self.proc)


# ---------------------------------------------------------------------------------------------
# certbot


def names_for(count: int, zone: str = ZONE) -> list[str]:
    """`count` names in `zone`: the apex, www, then a, b, c, ..."""
    names = [zone, f"www.{zone}"] + [f"{chr(ord('a') + i)}.{zone}" for i in range(24)]
    if count > len(names):
        raise ValueError(f"at most {len(names)} names")
    return names[:count]


def private_file(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


def certbot_base(certbot: Path, pebble: Pebble, work: Path, cert_name: str) -> list:
    return [certbot, "certonly", "--server", pebble.directory,
            "--config-dir", work / "config", "--work-dir", work / "work",
            "--logs-dir", work / "logs", "--non-interactive", "--agree-tos",
            "--register-unsafely-without-email", "--cert-name", cert_name]


def certbot_env(pebble: Pebble) -> dict:
    env = dict(os.environ)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY",
                "all_proxy"):
        env.pop(var, None)
    env.update(REQUESTS_CA_BUNDLE=str(pebble.ca_pem), NO_PROXY="127.0.0.1,localhost",
               no_proxy="127.0.0.1,localhost")
    return env


def certbot_rfc2136_args(work: Path, gateway: Gateway, propagation: int) -> list:
    ini = work / "rfc2136.ini"
    private_file(ini,
                 f"dns_rfc2136_server = 127.0.0.1\ndns_rfc2136_port = {gateway.port}\n"
                 f"dns_rfc2136_name = {gateway.KEY_NAME}\n"
                 f"dns_rfc2136_secret = {gateway.secret}\n"
                 f"dns_rfc2136_algorithm = HMAC-SHA256\n")
    return ["--authenticator", "dns-rfc2136", "--dns-rfc2136-credentials", ini,
            "--dns-rfc2136-propagation-seconds", str(propagation)]


def certbot_csc_args(work: Path, sim: Sim, propagation: int) -> list:
    ini = work / "csc.ini"
    private_file(ini,
                 f"dns_csc_api_key = {API_KEY}\ndns_csc_bearer_token = {BEARER_TOKEN}\n"
                 f"dns_csc_base_url = {sim.api_base}\n")
    return ["--authenticator", "dns-csc", "--dns-csc-credentials", ini,
            "--dns-csc-propagation-seconds", str(propagation)]


def run_client(args, *, log_path: Path, env: dict, timeout: float) -> tuple[int | None, float]:
    """Runs a client to its end (killed after `timeout`): (exit code or None, wall seconds)."""
    start = time.monotonic()
    proc = spawn(args, log_path=log_path, env=env)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        rc = None
    elapsed = time.monotonic() - start
    stop(proc)
    return rc, elapsed


def cert_names(path: Path) -> list[str]:
    """The DNS names of the certificate at `path` (empty when missing or unparsable)."""
    if not path.is_file():
        return []
    out = subprocess.run([str(program("openssl")), "x509", "-noout", "-ext", "subjectAltName",
                          "-in", str(path)], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        return []
    return sorted(part.strip()[4:] for part in out.stdout.replace(",", "\n").splitlines()
                  if part.strip().startswith("DNS:"))


def machine_note() -> dict:
    return {"cpus": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()]}


def pip_version(venv: str, package: str) -> str:
    py = ROOT / venv / "bin" / "python"
    out = subprocess.run(
        [str(py), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        capture_output=True, text=True, timeout=60)
    return out.stdout.strip() or "?"
