"""Signing in to the admin page: accounts from settings, CSRF on every POST, the lockout, the
cookie's flags, and no secret ever on a page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.config import Settings, load_settings
from connector.errors import ConfigError
from connector.web import create_app, intake
from tests.backends import database_settings
from tests.web_admin.helpers import BASE, HASH, NAME, PASSWORD, csrf, signed_in

PAGES = ("/admin/", "/admin/runs", "/admin/runs/1", "/admin/mappings", "/admin/mappings/x.yaml/0")


def _attempt(client, password: str, *, address: str = "10.0.0.1", name: str = NAME):  # type: ignore[no-untyped-def]
    token = csrf(client.get(f"{BASE}/admin/sign-in").text)
    return client.post(
        f"{BASE}/admin/sign-in",
        data={"name": name, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def test_without_an_admin_account_every_page_says_how_to_make_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = create_app(load_settings(**database_settings(tmp_path)))
    client = app.test_client()
    for path in (*PAGES, "/admin/sign-in"):
        page = client.get(f"{BASE}{path}")
        assert page.status_code == 503, path
        assert "lead2loyalty admin hash-password" in page.text
        assert "L2L_ADMIN_USERS" in page.text
    assert client.post(f"{BASE}/admin/sign-in", data={"name": "x"}).status_code == 503


def test_signed_out_requests_are_sent_to_sign_in_and_back(admin_settings: Settings) -> None:
    client = create_app(admin_settings).test_client()
    root = client.get(f"{BASE}/")
    assert root.status_code == 302
    assert root.location.endswith("/admin/")
    for path in PAGES:
        page = client.get(f"{BASE}{path}")
        assert page.status_code == 302, path
        assert "/admin/sign-in?next=" in page.location
    token = csrf(client.get(f"{BASE}/admin/sign-in").text)
    back = client.post(
        f"{BASE}/admin/sign-in",
        data={"name": NAME, "password": PASSWORD, "csrf_token": token, "next": "/admin/mappings"},
    )
    assert back.location == "/admin/mappings"
    assert client.get(f"{BASE}/admin/mappings").status_code == 200


def test_next_never_leads_off_the_admin_site(admin_settings: Settings) -> None:
    client = create_app(admin_settings).test_client()
    token = csrf(client.get(f"{BASE}/admin/sign-in").text)
    answer = client.post(
        f"{BASE}/admin/sign-in",
        data={"name": NAME, "password": PASSWORD, "csrf_token": token, "next": "//evil.test/x"},
    )
    assert answer.location == "/admin/"


def test_a_wrong_password_or_name_is_refused_alike(admin_settings: Settings) -> None:
    client = create_app(admin_settings).test_client()
    wrong_password = _attempt(client, "not it")
    wrong_name = _attempt(client, PASSWORD, name="bob")
    assert wrong_password.status_code == wrong_name.status_code == 401
    assert "Wrong name or password." in wrong_password.text
    assert "Wrong name or password." in wrong_name.text
    assert client.get(f"{BASE}/admin/runs").status_code == 302  # still signed out


def test_a_post_without_its_csrf_token_is_refused_and_does_nothing(
    admin_settings: Settings,
) -> None:
    app = create_app(admin_settings)
    anonymous = app.test_client()
    refused = anonymous.post(f"{BASE}/admin/sign-in", data={"name": NAME, "password": PASSWORD})
    assert refused.status_code == 400
    assert "CSRF" in refused.text
    assert anonymous.get(f"{BASE}/admin/runs").status_code == 302  # not signed in

    client = signed_in(app)
    forged = client.post(f"{BASE}/admin/runs/start", data={"csrf_token": "made-up"})
    assert forged.status_code == 400
    assert intake_runs(app) == []  # no run started
    # a token from another session is not this session's
    other = csrf(app.test_client().get(f"{BASE}/admin/sign-in").text)
    assert client.post(f"{BASE}/admin/runs/start", data={"csrf_token": other}).status_code == 400


def intake_runs(app):  # type: ignore[no-untyped-def]
    with app.app_context():
        return intake.store().runs.latest()


def test_repeated_failures_lock_the_account_from_that_address_only(
    admin_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = admin_settings.model_copy(
        update={"admin_lockout_failures": 3, "admin_lockout_minutes": 10}
    )
    client = create_app(settings).test_client()
    for _ in range(3):
        assert _attempt(client, "guess").status_code == 401
    locked = _attempt(client, PASSWORD)  # the right password, but locked
    assert locked.status_code == 429
    assert "try again in 10 minutes" in locked.text
    assert client.get(f"{BASE}/admin/runs").status_code == 302
    # another address is not locked out by this one's failures
    assert _attempt(client, PASSWORD, address="10.0.0.2").status_code == 302

    later = datetime.now(UTC) + timedelta(minutes=11)  # the window has passed
    monkeypatch.setattr(intake, "now", lambda: later)
    fresh = create_app(settings).test_client()
    assert _attempt(fresh, PASSWORD).status_code == 302


def test_the_session_cookie_is_secure_httponly_and_samesite(admin_settings: Settings) -> None:
    client = create_app(admin_settings).test_client()
    answer = _attempt(client, PASSWORD)
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("l2l_admin="))
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    page = client.get(f"{BASE}/admin/runs")
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_sign_out_ends_the_session(admin_settings: Settings) -> None:
    client = signed_in(create_app(admin_settings))
    token = csrf(client.get(f"{BASE}/admin/runs").text)
    assert client.post(f"{BASE}/admin/sign-out", data={"csrf_token": token}).status_code == 302
    assert client.get(f"{BASE}/admin/runs").status_code == 302


def test_no_page_shows_a_secret(admin_settings: Settings) -> None:
    settings = admin_settings.model_copy(
        update={
            "salesforce_client_secret": load_settings(
                salesforce_client_secret="s3cr3t-value"
            ).salesforce_client_secret
        }
    )
    client = signed_in(create_app(settings))
    hash_tail = HASH.split("$")[-1]
    for path in ("/admin/runs", "/admin/mappings", "/admin/mappings/contact.yaml/0"):
        text = client.get(f"{BASE}{path}").text
        assert "s3cr3t-value" not in text
        assert hash_tail not in text
        assert PASSWORD not in text


def test_hash_password_makes_an_entry_that_signs_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(
        main, ["admin", "hash-password", "--name", "bo"], input="a long passphrase\n" * 2
    )
    assert done.exit_code == 0, done.output
    line = done.output.strip().splitlines()[-1]
    assert line.startswith("L2L_ADMIN_USERS=bo:")
    assert "a long passphrase" not in done.output
    settings = load_settings(**database_settings(tmp_path), admin_users=line.split("=", 1)[1])
    client = create_app(settings).test_client()
    assert _attempt(client, "a long passphrase", name="bo").status_code == 302


def test_hash_password_refuses_a_short_password(tmp_path: Path) -> None:
    done = CliRunner().invoke(main, ["admin", "hash-password"], input="short\nshort\n")
    assert done.exit_code == 2
    assert "12 characters" in done.output


def test_a_malformed_admin_entry_is_one_error_that_never_shows_it() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(admin_users=f"{NAME}:{HASH},nohash-at-all-secretish")
    message = str(raised.value)
    assert "L2L_ADMIN_USERS" in message
    assert "entry 2" in message
    assert "secretish" not in message
    assert HASH not in message
