"""What the admin page tests share: the admin account, the CSRF token of a page, a signed-in
test client."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

NAME = "ana"
PASSWORD = "correct horse battery staple"
# Hashed once for the session: werkzeug's scrypt costs a noticeable fraction of a second.
HASH = generate_password_hash(PASSWORD)
#: The test client speaks HTTPS: the session cookie is Secure, and a client keeps it only there.
BASE = "https://localhost"
#: A comment the mapping edit must keep (ruamel.yaml's round trip).
COMMENT = "# Revenue is what finance reads: keep this comment through every edit.\n"


def csrf(html: str) -> str:
    """The CSRF token of the first form in ``html``."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def signed_in(app: Flask) -> FlaskClient:
    """A test client signed in as the admin."""
    client = app.test_client()
    token = csrf(client.get(f"{BASE}/admin/sign-in").text)
    answer = client.post(
        f"{BASE}/admin/sign-in", data={"name": NAME, "password": PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 302, answer.text
    return client
