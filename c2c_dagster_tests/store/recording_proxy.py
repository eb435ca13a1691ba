"""An HTTP proxy in front of the real OpenSearch node that records every request it forwards.

Tests point a c2c client at it to see exactly what reaches the store (the node runs without the
security plugin, so "read-only credentials" are shown as "the client sends no write request").
The fault tests give it a ``fault``: a function of (method, path) that returns a status and JSON
body to answer instead of the node (a 429 or a 503), or None to forward the request.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

# Hop-by-hop headers are the proxy's own business, never forwarded (RFC 9110 section 7.6.1).
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
                         "proxy-authorization", "proxy-authenticate", "host", "content-length"})


@dataclass
class RecordingProxy:
    target: str
    requests: list[tuple[str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    fault: Callable[[str, str], tuple[int, dict] | None] | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> RecordingProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                proxy.requests.append((self.command, self.path))
                injected = proxy.fault(self.command, self.path) if proxy.fault is not None else None
                if injected is not None:
                    status, answer = injected
                    payload = json.dumps(answer).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                upstream = requests.request(
                    self.command, proxy.target + self.path, data=body, timeout=60,
                    headers={k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP},
                )
                content = upstream.content
                self.send_response(upstream.status_code)
                for key, value in upstream.headers.items():
                    if key.lower() not in _HOP_BY_HOP and key.lower() != "content-encoding":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _forward

            def log_message(self, *args: object) -> None:  # the requests list is the log
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def writes(self) -> list[tuple[str, str]]:
        """Requests that are not reads: anything but GET/HEAD, and POST other than a search."""
        return [
            (method, path) for method, path in self.requests
            if method not in ("GET", "HEAD") and not (method == "POST" and path.split("?")[0].endswith("/_search"))
        ]
