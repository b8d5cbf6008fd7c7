"""Admin accounts from ``L2L_ADMIN_USERS`` and the sign-in check with its lockout.

Rules:

1. An account is ``name:hash``; the hash is werkzeug's (``scrypt:...`` by default), made by
   ``lead2loyalty admin hash-password``. Passwords are never stored or compared in clear.
2. An unknown name costs the same hash check as a known one, so timing does not tell which
   names exist; the answer is the same too ("wrong name or password").
3. After ``L2L_ADMIN_LOCKOUT_FAILURES`` failures of one account from one address within
   ``L2L_ADMIN_LOCKOUT_MINUTES``, that pair is refused, right password or not, until the
   window has passed. Failures are counted in the store, so every web worker sees them. A good
   sign-in forgets the pair's failures.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from werkzeug.security import check_password_hash, generate_password_hash

from connector.config import Settings, secret_list
from connector.store import Store

# Hashed once at import: rule 2's stand-in for a name that has no account.
_NO_ACCOUNT = generate_password_hash("no account has this password")


class SignIn(StrEnum):
    """The outcome of one sign-in attempt."""

    OK = "ok"
    WRONG = "wrong name or password"
    LOCKED = "locked"


def accounts(settings: Settings) -> dict[str, str]:
    """Name -> password hash of every configured admin (empty: the page is off)."""
    pairs = (entry.partition(":") for entry in secret_list(settings.admin_users))
    return {name.strip(): hashed.strip() for name, _, hashed in pairs}


def salesforce_users(settings: Settings) -> set[str]:
    """The Salesforce usernames that may sign in with the org's login, case-folded (empty:
    that way is off, or no connected app is configured to run it)."""
    if not settings.salesforce_client_id:
        return set()
    names = (n.strip().casefold() for n in settings.admin_salesforce_users.split(","))
    return {n for n in names if n}


def hash_password(password: str) -> str:
    """The hash to put after ``name:`` in ``L2L_ADMIN_USERS``."""
    return generate_password_hash(password)


def sign_in(
    settings: Settings, store: Store, name: str, password: str, address: str, now: datetime
) -> SignIn:
    """Check one attempt under rules 1-3, counting a failure."""
    window = timedelta(minutes=settings.admin_lockout_minutes)
    if store.admin.failures_since(name, address, now - window) >= settings.admin_lockout_failures:
        return SignIn.LOCKED
    hashed = accounts(settings).get(name)
    good = check_password_hash(hashed or _NO_ACCOUNT, password) and hashed is not None
    if good:
        store.admin.clear_failures(name, address, now - window)
        return SignIn.OK
    store.admin.record_failure(name, address, now)
    return SignIn.WRONG
