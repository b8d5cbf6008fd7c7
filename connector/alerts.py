"""Run alerts: one JSON POST to ``L2L_ALERT_WEBHOOK_URL`` when a run needs a person.

A run alerts when it failed or crashed, or when it is ``partial`` and the run before it was
too (one partial run is routine: a locked row, a value carried to the next run; two in a row
mean something in the org refuses our values). The body is ``{"text": ...}``, which a Slack
incoming webhook (and Mattermost, Teams workflows, most chat tools) shows as a message.

The text holds the run's id, status and first errors only: run errors never carry secrets
(``connector/errors.py``), and the masking filter runs over the text once more. Posting is best
effort: a failing alert is logged and never changes the run's outcome.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

ALERT_TIMEOUT_SECONDS = 10.0


def should_alert(status: str, previous: str | None, *, effects_failed: int = 0) -> bool:
    """True for a failed or crashed run, a partial one right after a partial one, or a
    partial one whose Flow calls failed (a missing or failing Flow is an admin's fix, not a
    passing fault: it is said at once)."""
    if status in ("failed", "crashed"):
        return True
    return status == "partial" and (previous == "partial" or effects_failed > 0)


def alert_text(
    run_id: int, status: str, errors: Sequence[str], database: str, *, again: bool = True
) -> str:
    """The message: which run, what state (``again``: a partial run after a partial one), its
    first three errors."""
    lines = [f"lead2loyalty run {run_id} on {database}: {status}"]
    if status == "partial" and again:
        lines[0] += " (twice in a row)"
    lines.extend(f"• {e}" for e in list(errors)[:3])
    if len(errors) > 3:
        lines.append(f"… and {len(errors) - 3} more; `lead2loyalty runs --json` lists them")
    return "\n".join(lines)


def post_alert(
    url: str,
    text: str,
    *,
    redact: Callable[[str], str] = lambda s: s,
    timeout: float = ALERT_TIMEOUT_SECONDS,
) -> bool:
    """POST ``{"text": text}`` to ``url``; True when it was accepted (2xx). Never raises."""
    body = json.dumps({"text": redact(text)}).encode()
    request = urllib.request.Request(  # noqa: S310 (the URL is the operator's own setting)
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            ok = 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        # The URL itself may hold a token (Slack's do): name only the kind of failure.
        log.warning("run alert not delivered (%s); the run's outcome is unchanged", _kind(exc))
        return False
    if not ok:
        log.warning("run alert refused by the webhook; the run's outcome is unchanged")
    return ok


def _kind(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    reason: Any = getattr(exc, "reason", None)
    return type(reason).__name__ if isinstance(reason, BaseException) else type(exc).__name__
