"""Fixtures of the sync tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest


class Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]
    answer = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(
            {"type": self.headers["Content-Type"], "body": json.loads(body), "path": self.path}
        )
        self.send_response(self.answer)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[Hook]]]:
    """A webhook on 127.0.0.1 that keeps what it receives; yields (url, handler class)."""
    handler = type("Hook", (Hook,), {"received": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # A Slack-style URL carries its token in the path: a secret, never to be shown.
    yield f"http://127.0.0.1:{server.server_port}/services/T000/B000/tok3n-in-url", handler
    server.shutdown()
    server.server_close()
