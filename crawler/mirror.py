"""HTTP server for the local mirror built by `crawler.fixtures.build_mirror`.

A request `GET /<host>/<path>?<query>` is answered from `<sites_dir>/<host>/_routes.json`: the key
"<path>?<query>" (else the bare "<path>", as servers ignore unknown parameters) gives the file, status and
content type. A host that is a legacy domain of a registry entry answers 301 to
https://<primary domain><same path and query>. Anything else is a 404 with a small HTML body.

    with MirrorServer(sites_dir, host="127.0.0.1", port=0) as srv:
        srv.url  # "http://127.0.0.1:PORT"; fetch f"{srv.url}/baocaobang.vn/chinh-tri"

CLI: python -m crawler.mirror [--sites DIR] [--host H] [--port P] [--build]
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

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

    def do_GET(self, body: bool = True) -> None:
        status, headers, data = self.server.resolve(self.path)
        self.send_response(status)
        for name, value in [*headers, ("Content-Length", str(len(data)))]:
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_HEAD(self) -> None:
        self.do_GET(body=False)

    def log_message(self, format: str, *args) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, sites_dir: Path, host_aliases: dict[str, str]):
        super().__init__(addr, _Handler)
        self.sites_dir, self.host_aliases = Path(sites_dir), host_aliases
        self._routes: dict[str, tuple[float, dict]] = {}
        self._lock = threading.Lock()

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

    def resolve(self, raw: str) -> tuple[int, list[tuple[str, str]], bytes]:
        parts = urlsplit(raw)
        host, _, rest = parts.path.lstrip("/").partition("/")
        host, path, query = host.lower(), "/" + rest, parts.query
        target = f"{path}?{query}" if query else path
        if host in self.host_aliases:
            return (
                301,
                [("Location", f"https://{self.host_aliases[host]}{target}"), ("Content-Type", HTML)],
                b"",
            )
        routes = self.routes(host) or {}
        route = routes.get(target) or (routes.get(path) if query else None)
        if route is None:
            log.info("404 %s%s", host, target)
            return 404, [("Content-Type", HTML)], NOT_FOUND
        headers = [("Content-Type", route.get("content_type", HTML))]
        if "location" in route:
            headers.append(("Location", route["location"]))
        data = (self.sites_dir / host / route["file"]).read_bytes() if route.get("file") else b""
        return route.get("status", 200), headers, data


class MirrorServer:
    """The mirror on a background thread; a context manager. `url` is "http://HOST:PORT"."""

    def __init__(self, sites_dir: Path = SITES, host: str = "127.0.0.1", port: int = 0, host_aliases=None):
        aliases = host_aliases_from_seeds() if host_aliases is None else host_aliases
        self.httpd = _Server((host, port), sites_dir, {k.lower(): v for k, v in aliases.items()})
        self.host, self.port = self.httpd.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._thread: threading.Thread | None = None

    def __enter__(self) -> MirrorServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="mirror-http", daemon=True)
        self._thread.start()
        log.info("mirror serving %s at %s", self.httpd.sites_dir, self.url)
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    start, stop = __enter__, __exit__


def serve_forever(
    sites_dir: Path = SITES, host: str = "127.0.0.1", port: int = 8000, host_aliases=None
) -> None:
    srv = MirrorServer(sites_dir, host, port, host_aliases)
    print(f"mirror: {srv.url}/<domain>/<path>  (Ctrl-C to stop)", flush=True)
    try:
        srv.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.httpd.server_close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="Serve the local newspaper mirror.")
    ap.add_argument("--sites", type=Path, default=SITES)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--build", action="store_true", help="run build_mirror(repo root) first")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.build:
        from crawler.fixtures import build_mirror

        print(build_mirror(ROOT), flush=True)
    serve_forever(args.sites, args.host, args.port)
