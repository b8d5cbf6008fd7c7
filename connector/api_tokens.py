"""Scoped bearer tokens of the loyalty API, parsed from ``L2L_LOYALTY_API_TOKENS`` (pure).

The setting is a comma-separated list of entries, each one of:

- ``<name>:<scope>[+<scope>...][:<partner>]=<secret>``: a named token with those scopes, bound
  to one partner when ``<partner>`` is given. Scopes: ``read`` (a member's standing),
  ``redeem`` (redemptions, their cancellation, voucher uses), ``accrue`` (partner accruals),
  ``adjust`` (adjustments).
- ``<secret>`` alone (no ``:`` before its first ``=``): a token of the earlier, unscoped
  setting, which keeps working with every scope and no partner, named ``token<n>`` by its
  place among such entries (``token1`` for the first).

Rules:

1. A name is 1-40 letters, digits, ``_``, ``-`` or ``.``; the journal records it, never the
   secret. One name may appear on several entries with the same scopes and partner: that is a
   rotation, old and new secrets valid at once, and the journal and the daily caps see one
   token. Two entries may not share a secret.
2. A partner token accrues only for its own partner, and holds ``read`` and ``accrue`` at
   most: a partner never redeems or adjusts a member's points.
3. Problems are reported all at once, by entry number, never quoting a secret.
4. :func:`match` compares the presented secret with every token's in constant time, without
   stopping at a match, so timing says nothing about which token (or whether any) matched.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field

SCOPES = ("read", "redeem", "accrue", "adjust")
PARTNER_SCOPES = frozenset({"read", "accrue"})
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
_PARTNER = re.compile(r"^[^\s:=,][^:=,]{0,79}$")


@dataclass(frozen=True)
class ApiToken:
    """One accepted bearer token: its name, what it may do, and the partner it speaks for."""

    name: str
    scopes: frozenset[str]
    partner: str | None = None
    secret: bytes = field(default=b"", repr=False)

    def allows(self, scope: str) -> bool:
        """True when the token holds ``scope``."""
        return scope in self.scopes


def parse_tokens(text: str) -> list[ApiToken]:
    """The tokens of a setting's value; :class:`ValueError` naming every bad entry."""
    tokens: list[ApiToken] = []
    problems: list[str] = []
    legacy = 0
    entries = [e.strip() for e in text.split(",")]
    for number, raw in enumerate((e for e in entries if e), start=1):
        spec, eq, secret = raw.partition("=")
        if not eq or ":" not in spec:
            legacy += 1
            tokens.append(ApiToken(f"token{legacy}", frozenset(SCOPES), None, raw.encode()))
            continue
        problem, token = _scoped(spec, secret)
        if problem:
            problems.append(f"entry {number}: {problem}")
        elif token is not None:
            tokens.append(token)
    problems.extend(_conflicts(tokens))
    if problems:
        raise ValueError(
            "; ".join(problems) + " (write name:scope1+scope2[:partner]=secret, scopes "
            f"{', '.join(SCOPES)})"
        )
    return tokens


def _scoped(spec: str, secret: str) -> tuple[str | None, ApiToken | None]:
    name, _, rest = spec.partition(":")
    scope_text, _, partner = rest.partition(":")
    if not _NAME.match(name):
        return "the name must be 1-40 letters, digits, '_', '-' or '.'", None
    scopes = [s.strip() for s in scope_text.split("+")]
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scope_text:
        named = ", ".join(repr(s) for s in unknown) or "(none given)"
        return f"token {name}: unknown scope {named}", None
    if partner and not _PARTNER.match(partner):
        return f"token {name}: the partner must be 1-80 characters without ':', '=' or ','", None
    if partner and set(scopes) - PARTNER_SCOPES:
        return f"token {name}: a partner token may hold read and accrue only", None
    if not secret.strip():
        return f"token {name}: the secret after '=' is empty", None
    return None, ApiToken(name, frozenset(scopes), partner or None, secret.strip().encode())


def _conflicts(tokens: list[ApiToken]) -> list[str]:
    problems: list[str] = []
    seen: dict[str, ApiToken] = {}
    secrets: set[bytes] = set()
    for token in tokens:
        first = seen.setdefault(token.name, token)
        if (first.scopes, first.partner) != (token.scopes, token.partner):
            problems.append(
                f"token {token.name} is listed twice with different scopes or partner "
                "(a rotation lists the same scopes and partner with a new secret)"
            )
        if token.secret in secrets:
            problems.append(f"token {token.name} has the secret of another entry")
        secrets.add(token.secret)
    return problems


def match(tokens: list[ApiToken], presented: bytes) -> ApiToken | None:
    """The token whose secret is ``presented``, compared with every one (rule 4)."""
    found: ApiToken | None = None
    for token in tokens:
        if hmac.compare_digest(presented, token.secret) and found is None:
            found = token
    return found


def bearer(tokens: list[ApiToken], authorization: str) -> tuple[ApiToken | None, str]:
    """The token an ``Authorization: Bearer <secret>`` header presents (RFC 6750, section 2.1).

    ``(token, "")`` on a match, else ``(None, why)``: the header is missing or not a bearer
    one, or its secret is none of the tokens' (never quoting what was sent).
    """
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return None, "send Authorization: Bearer <token>"
    found = match(tokens, given.strip().encode("utf-8", "replace"))
    if found is None:
        return None, "the bearer token is not valid"
    return found, ""
