"""Sign in with Salesforce, in a real browser: Playwright drives Debian's chromium from the
admin page to localorg's login page (the OAuth 2.0 web server flow with PKCE; its rules, and
the Salesforce documentation they follow, in ``localorg/web_login.py``) and back, signed in.
A callback whose state this browser did not start is refused, and so is a Salesforce user not
listed in ``L2L_ADMIN_SALESFORCE_USERS``; neither signs anyone in. Screenshots go beside the
other pages' (``tests/.artifacts/admin/``) and axe-core checks the sign-in page."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.web import create_app
from localorg.access import ADMIN_USERNAME
from localorg.org import LocalOrg
from localorg.server import Running
from tests.support import localorg_settings
from tests.web_admin.helpers import CHROMIUM, HASH, NAME, serving
from tests.web_admin.test_browser import AXE, _axe, _shot

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="no playwright package: pip install -e '.[dev]'"
)
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no /usr/bin/chromium: apt-get install -y chromium (Debian's; no browser download)",
)


@pytest.fixture
def site(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The admin app (one password account, and the org's administrator allowed to sign in
    with Salesforce) behind a real WSGI server; its callback is the connected app's."""
    monkeypatch.chdir(tmp_path)
    settings = localorg_settings(
        org,
        localorg_server,
        tmp_path,
        admin_users=f"{NAME}:{HASH}",
        admin_salesforce_users=f"someone@else.test, {ADMIN_USERNAME.upper()}",
    )
    with serving(create_app(settings)) as base:
        org.config.callback_urls = (f"{base}/admin/sign-in/salesforce/callback",)
        yield base


def _to_localorg(page: Any, site: str) -> None:
    page.goto(f"{site}/admin/runs")
    assert "/admin/sign-in" in page.url  # signed out: redirected
    page.get_by_role("link", name="Sign in with Salesforce").click()
    assert "/services/oauth2/authorize" in page.url
    assert "code_challenge=" in page.url
    assert "code_challenge_method=S256" in page.url


def _log_in(page: Any, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log In").click()


def test_an_allowed_salesforce_user_signs_in_and_comes_back(
    site: str, org: LocalOrg, browser: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # localorg's certificate is its own: the browser is told to accept it
    page = browser.new_context(ignore_https_errors=True).new_page()
    page.goto(f"{site}/admin/sign-in")
    _shot(page, "sign-in-with-salesforce")
    _to_localorg(page, site)
    _shot(page, "salesforce-login")
    _log_in(page, ADMIN_USERNAME, org.config.admin_password)
    assert page.url == f"{site}/admin/runs"  # back where it was going, signed in
    assert ADMIN_USERNAME in page.content()
    _shot(page, "runs-signed-in-with-salesforce")
    # no secret of the flow anywhere in the page or the logs
    said = page.content() + caplog.text
    assert org.config.client_secret not in said
    assert org.config.admin_password not in said
    assert "access_token" not in said
    # signing out ends it
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{site}/admin/runs")
    assert "/admin/sign-in" in page.url


def test_a_callback_with_another_state_signs_nobody_in(
    site: str, org: LocalOrg, browser: Any
) -> None:
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    _to_localorg(page, site)  # a sign-in is under way in this browser, at the login page
    # a forged callback in another tab: a code, and a state this browser did not get
    forged = context.new_page()
    answer = forged.goto(f"{site}/admin/sign-in/salesforce/callback?code=abc&state=forged")
    assert answer.status == 400
    assert "was not started here" in forged.content()
    forged.goto(f"{site}/admin/runs")
    assert "/admin/sign-in" in forged.url
    # the refusal forgot the sign-in under way: its own good login is refused too
    _log_in(page, ADMIN_USERNAME, org.config.admin_password)
    assert "/admin/sign-in/salesforce/callback" in page.url
    assert "was not started here" in page.content()
    page.goto(f"{site}/admin/runs")
    assert "/admin/sign-in" in page.url


def test_a_salesforce_user_not_listed_is_refused(site: str, org: LocalOrg, browser: Any) -> None:
    page = browser.new_context(ignore_https_errors=True).new_page()
    _to_localorg(page, site)
    _log_in(page, org.config.username, org.config.password)  # the API user: not listed
    assert "/admin/sign-in/salesforce/callback" in page.url
    text = page.locator("main").inner_text()
    assert f"{org.config.username} may not sign in here" in text
    _shot(page, "salesforce-user-refused")
    page.goto(f"{site}/admin/runs")
    assert "/admin/sign-in" in page.url  # still signed out


@pytest.mark.skipif(
    not AXE.exists(), reason="axe-core missing: run `npm ci` in tests/web_admin (the CI does)"
)
def test_the_sign_in_page_with_salesforce_has_no_serious_violation(site: str, browser: Any) -> None:
    page = browser.new_context(bypass_csp=True).new_page()
    page.goto(f"{site}/admin/sign-in")
    assert page.get_by_role("link", name="Sign in with Salesforce").is_visible()
    assert _axe(page) == []
