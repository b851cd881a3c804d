"""HTTP server for the local mirror built by `crawler.fixtures.build_mirror`.

A request `GET /<host>/<path>?<query>` is answered from `<sites_dir>/<host>/_routes.json`: the key
"<path>?<query>" (else the bare "<path>", as servers ignore unknown parameters) gives the file, status and
content type. A host that is a legacy domain of a registry entry answers 301 to
https://<primary domain><same path and query>. Anything else is a 404 with a small HTML body.

A 200 carries an ETag (hash of the bytes) and a Last-Modified (when the paper's mirror was last
built) and a conditional request for unchanged bytes gets a 304, as from the papers' servers, so
incremental refreshes are tested end to end. `MirrorServer.requests` logs every request as
(method, "/<host><target>", status); `delay` slows every answer (to kill a crawl half-way).

    with MirrorServer(sites_dir, host="127.0.0.1", port=0) as srv:
        srv.url  # "http://127.0.0.1:PORT"; fetch f"{srv.url}/baocaobang.vn/chinh-tri"

With a `FaultPlan` (`python -m crawler mirror --faults RATE --seed N`, see crawler/faults.py), the
server injects faults into its answers, deterministically per (seed, request path, attempt), never
into robots.txt; `MirrorServer.fault_counts` counts every injected fault by kind, `fault_log` lists
them (path, attempt, kind); each is also logged.

CLI: python -m crawler.mirror [--sites DIR] [--host H] [--port P] [--build] [fault options]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import socket
import struct
import threading
import time
import tomllib
from collections import Counter
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from crawler import faults as F

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
SITES = ROOT / "mirror" / "sites"
HTML = "text/html; charset=utf-8"
NOT_FOUND = b"<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>"


def host_aliases_from_seeds(seeds_dir: Path = ROOT / "seeds") -> dict[str, str]:
    """legacy domain -> primary domain, from seeds/*.toml."""
    aliases = {}
    for path in sorted(Path(seeds_dir).glob("*.toml")):
        seed = tomllib.loads(path.read_text("utf-8"))
        for legacy in seed.get("legacy_domains", []):
            aliases[legacy.lower()] = seed["domains"][0]
    return aliases


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    _abort = False

    def do_GET(self, body: bool = True) -> None:
        self.server.begin_request()
        try:
            self._get(body)
        finally:
            self.server.end_request()

    def _get(self, body: bool) -> None:
        if self.server.delay:
            time.sleep(self.server.delay)
        self.server.count_agent(self.headers.get("User-Agent", ""))
        reply = self.server.respond(self.path, self.headers)
        if reply.delay:
            self.server.stopping.wait(reply.delay)
        if reply.hang or reply.reset:  # no response at all (logged as status 0)
            self.server.log_request_line(self.command, self.path, 0)
            self.server.stopping.wait(reply.hang)
            self._abort, self.close_connection = reply.reset, True
            return
        self.server.log_request_line(self.command, self.path, reply.status)
        self.send_response(reply.status)
        # a 304 has no body
        length = [] if reply.status == 304 else [("Content-Length", str(reply.content_length))]
        for name, value in [*reply.headers, *length]:
            self.send_header(name, value)
        self.end_headers()
        if body and reply.status != 304:
            self._write(reply)
        if reply.send is not None:
            self.close_connection = True

    def _write(self, reply: F.Reply) -> None:
        left = reply.send
        try:
            for chunk in [reply.body] if isinstance(reply.body, bytes) else reply.body:
                if left is not None:
                    chunk, left = chunk[:left], left - min(left, len(chunk))
                self.wfile.write(chunk)
                if left == 0:
                    break
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a bomb, a huge page)
            self.close_connection = True

    def do_HEAD(self) -> None:
        self.do_GET(body=False)

    def finish(self) -> None:
        if self._abort:  # linger 0: closing sends a TCP RST instead of a FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.server.aborted.add(self.connection)
        super().finish()

    def log_message(self, format: str, *args) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, addr, sites_dir: Path, host_aliases: dict[str, str], delay: float = 0.0, faults: F.FaultPlan | None = None
    ):
        super().__init__(addr, _Handler)
        self.sites_dir, self.host_aliases, self.delay = Path(sites_dir), host_aliases, delay
        self.faults = faults or F.FaultPlan()
        self.attempts: Counter[str] = Counter()  # request path -> times seen
        self.fault_counts: Counter[str] = Counter()  # fault kind -> times injected
        self.fault_log: list[tuple[str, int, str]] = []  # (request path, attempt, kind) of each injected fault
        self.aborted: set[socket.socket] = set()
        self.stopping = threading.Event()  # wakes sleeping `slow` and `timeout` handlers on shutdown
        self._routes: dict[str, tuple[float, dict]] = {}
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str, int]] = []
        self.in_flight = 0  # requests being answered now (see wait_idle)
        self.user_agents: Counter[str] = Counter()  # User-Agent header -> requests that sent it

    # A request is logged when it is answered, after `delay`: a client killed while waiting leaves its
    # request to be logged later. Tests that compare request logs across such a kill wait for quiet first.
    def begin_request(self) -> None:
        with self._lock:
            self.in_flight += 1

    def end_request(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once no request is being answered (False if `timeout` passed first)."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self.in_flight

    def count_agent(self, agent: str) -> None:
        with self._lock:
            self.user_agents[agent] += 1

    def log_request_line(self, method: str, raw: str, status: int) -> None:
        with self._lock:
            self.requests.append((method, raw, status))

    def shutdown_request(self, request) -> None:
        if request in self.aborted:  # no shutdown(SHUT_WR) first: that would send a FIN
            self.aborted.discard(request)
            self.close_request(request)
        else:
            super().shutdown_request(request)

    def routes(self, host: str) -> dict | None:
        manifest = self.sites_dir / host / "_routes.json"
        if not host or "/" in host or host.startswith(".") or not manifest.is_file():
            return None
        mtime = manifest.stat().st_mtime
        with self._lock:
            cached = self._routes.get(host)
            if cached is None or cached[0] != mtime:
                cached = self._routes[host] = (mtime, json.loads(manifest.read_text("utf-8")))
        return cached[1]

    @staticmethod
    def split(raw: str) -> tuple[str, str, str]:
        """`/<host>/<path>?<query>` -> (host, path, query)."""
        parts = urlsplit(raw)
        host, _, rest = parts.path.lstrip("/").partition("/")
        return host.lower(), "/" + rest, parts.query

    def resolve(self, raw: str, request_headers=None) -> tuple[int, list[tuple[str, str]], bytes]:
        host, path, query = self.split(raw)
        target = f"{path}?{query}" if query else path
        if host in self.host_aliases:
            return (
                301,
                [("Location", f"https://{self.host_aliases[host]}{target}"), ("Content-Type", HTML)],
                b"",
            )
        routes = self.routes(host) or {}
        route = routes.get(target) or (routes.get(path) if query else None)
        if route is None and "%" in path:  # `/a%2Db.html` is `/a-b.html`, as on any web server
            route = routes.get(unquote(path))
        if route is None:
            log.info("404 %s%s", host, target)
            return 404, [("Content-Type", HTML)], NOT_FOUND
        headers = [("Content-Type", route.get("content_type", HTML))]
        if "location" in route:
            headers.append(("Location", route["location"]))
        if not route.get("file"):
            return route.get("status", 200), headers, b""
        path_on_disk = self.sites_dir / host / route["file"]
        data = path_on_disk.read_bytes()
        status = route.get("status", 200)
        if status == 200:
            etag = '"' + hashlib.sha1(data).hexdigest()[:20] + '"'
            mtime = int(path_on_disk.stat().st_mtime)
            headers += [("ETag", etag), ("Last-Modified", formatdate(mtime, usegmt=True))]
            if _not_modified(request_headers, etag, mtime):
                return 304, headers, b""
        return status, headers, data

    def respond(self, raw: str, request_headers=None) -> F.Reply:
        """The reply to one request: `resolve()`, then the fault that the plan draws for it, if any."""
        reply = F.Reply(*self.resolve(raw, request_headers))
        if not self.faults:
            return reply
        host, path, query = self.split(raw)
        target = f"{path}?{query}" if query else path
        step = F.loop_step(target)
        if step is not None:  # inside a redirect loop: keep looping (counted once, when it started)
            log.debug("fault redirect-loop hop: %s", raw)
            return F.loop_redirect(host, target, step, fault="redirect-loop")
        with self._lock:
            self.attempts[raw] += 1
            attempt = self.attempts[raw]
        allowed = F.eligible(raw, reply.status, reply.header("Content-Type"), len(reply.body))
        forced = self.faults.paths.get(raw)
        if forced in allowed:
            kind = forced
        else:
            kind = F.decide(self.faults.seed, raw, attempt, self.faults.rates, allowed)
        if kind is None:
            return reply
        with self._lock:
            self.fault_counts[kind] += 1
            self.fault_log.append((raw, attempt, kind))
        log.info("fault %s: %s (attempt %d)", kind, raw, attempt)
        return F.apply(kind, reply, self.faults, host, target)


def _not_modified(request_headers, etag: str, mtime: int) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present, else If-Modified-Since."""
    if request_headers is None:
        return False
    inm = request_headers.get("If-None-Match")
    if inm:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or etag in tags
    ims = request_headers.get("If-Modified-Since")
    if ims:
        try:
            return mtime <= parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError):
            return False
    return False


class MirrorServer:
    """The mirror on a background thread; a context manager. `url` is "http://HOST:PORT".

    `faults` (a `crawler.faults.FaultPlan`) switches fault injection on; `fault_counts` counts the
    injected faults by kind.
    """

    def __init__(
        self,
        sites_dir: Path = SITES,
        host: str = "127.0.0.1",
        port: int = 0,
        host_aliases=None,
        delay: float = 0.0,
        faults: F.FaultPlan | None = None,
    ):
        aliases = host_aliases_from_seeds() if host_aliases is None else host_aliases
        self.httpd = _Server((host, port), sites_dir, {k.lower(): v for k, v in aliases.items()}, delay, faults)
        self.host, self.port = self.httpd.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._thread: threading.Thread | None = None

    @property
    def faults(self) -> F.FaultPlan:
        return self.httpd.faults

    @property
    def fault_counts(self) -> Counter[str]:
        return self.httpd.fault_counts

    @property
    def user_agents(self) -> Counter[str]:
        """User-Agent header -> how many requests sent it."""
        return self.httpd.user_agents

    @property
    def fault_log(self) -> list[tuple[str, int, str]]:
        """Every injected fault: (request path "/<host><target>", attempt, kind)."""
        return self.httpd.fault_log

    def __enter__(self) -> MirrorServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="mirror-http", daemon=True)
        self._thread.start()
        log.info("mirror serving %s at %s", self.httpd.sites_dir, self.url)
        if self.faults:
            log.info("mirror %s", self.faults.describe())
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    start, stop = __enter__, __exit__

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        """Every request served so far: (method, "/<host><target>", status)."""
        return self.httpd.requests


def serve_forever(
    sites_dir: Path = SITES,
    host: str = "127.0.0.1",
    port: int = 8000,
    host_aliases=None,
    faults: F.FaultPlan | None = None,
) -> None:
    srv = MirrorServer(sites_dir, host, port, host_aliases, faults=faults)
    print(f"mirror: {srv.url}/<domain>/<path>  (Ctrl-C to stop)", flush=True)
    if srv.faults:
        print(f"mirror: {srv.faults.describe()}; robots.txt is never faulted", flush=True)
    try:
        srv.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.httpd.stopping.set()
        srv.httpd.server_close()
        if srv.faults:
            counts = ", ".join(f"{k}={n}" for k, n in srv.fault_counts.most_common()) or "none"
            print(f"mirror: faults injected: {counts}", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="Serve the local newspaper mirror.")
    ap.add_argument("--sites", type=Path, default=SITES)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--build", action="store_true", help="run build_mirror(repo root) first")
    F.add_arguments(ap)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.build:
        from crawler.fixtures import build_mirror

        print(build_mirror(ROOT), flush=True)
    serve_forever(args.sites, args.host, args.port, faults=F.plan_from_args(args))
