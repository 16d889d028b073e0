"""A local HTTP server for testing network backends: it answers scripted replies and records requests.

    with StubServer() as stub:
        stub.add("POST", "/v1/images/generations", Reply(429, {"error": {...}}, headers={"Retry-After": "2"}),
                 Reply(200, {"data": [...]}))
        ... backend with base_url=stub.url + "/v1" ...
        assert stub.requests[0].json()["prompt"] == "a cat"

Replies for one route are served in order and the last one repeats. A reply may instead be a function of
the recorded request (for answers that depend on it), and may wait ``delay`` seconds first (to make a
client time out). A path ending in ``*`` matches every path it starts. Unrouted requests answer 404.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it (header names lower-case)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """What to answer: a JSON document (``json``) or raw ``body``, with a status and headers."""

    status: int = 200
    json: Any = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if self.json is not None:
            headers.setdefault("Content-Type", "application/json")
            return json.dumps(self.json).encode(), headers
        return self.body, headers


Answer = Reply | Callable[[Recorded], Reply]


class StubServer:
    """A threaded HTTP server on 127.0.0.1 and a free port; use as a context manager."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._routes: dict[tuple[str, str], list[Answer]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def add(self, method: str, path: str, *answers: Answer) -> None:
        """Answer ``method path`` with ``answers`` in order, the last one from then on."""
        with self._lock:
            self._routes[(method.upper(), path)] = list(answers)

    def hits(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method.upper() and r.path == path]

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            queue = self._routes.get((recorded.method, recorded.path))
            if queue is None:
                queue = next(
                    (answers for (method, path), answers in self._routes.items()
                     if method == recorded.method and path.endswith("*") and recorded.path.startswith(path[:-1])),
                    None,
                )  # fmt: skip
            if not queue:
                return Reply(404, {"error": {"message": f"no route {recorded.method} {recorded.path}"}})
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return answer(recorded) if callable(answer) else answer

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(
                    method=self.command,
                    path=parts.path,
                    query={k: v[-1] for k, v in parse_qs(parts.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                reply = stub._answer(recorded)
                if reply.delay:
                    time.sleep(reply.delay)
                body, headers = reply.encoded()
                try:
                    self.send_response(reply.status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
