"""What the admin page tests share: the admin account, the CSRF token of a page, a signed-in
test client, an app behind a real WSGI server."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

NAME = "ana"
PASSWORD = "correct horse battery staple"
# Hashed once for the session: werkzeug's scrypt costs a noticeable fraction of a second.
HASH = generate_password_hash(PASSWORD)
#: The test client speaks HTTPS: the session cookie is Secure, and a client keeps it only there.
BASE = "https://localhost"
#: A comment the mapping edit must keep (ruamel.yaml's round trip).
COMMENT = "# Revenue is what finance reads: keep this comment through every edit.\n"
#: Debian's chromium, which the browser tests drive (the system binary, no browser download).
CHROMIUM = Path("/usr/bin/chromium")


def csrf(html: str) -> str:
    """The CSRF token of the first form in ``html``."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def cells(html: str, table_id: str) -> list[list[str]]:
    """The text of each body cell of table ``table_id`` in ``html``, row by row."""
    table = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
        for r in rows
    ]


def signed_in(app: Flask) -> FlaskClient:
    """A test client signed in as the admin."""
    client = app.test_client()
    token = csrf(client.get(f"{BASE}/admin/sign-in").text)
    answer = client.post(
        f"{BASE}/admin/sign-in", data={"name": NAME, "password": PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 302, answer.text
    return client


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """``app`` behind a real threaded WSGI server on a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
