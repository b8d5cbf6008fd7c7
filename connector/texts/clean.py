"""What a person wrote, without what they quoted or signed: the text the models score.

Rules, applied in order (a reply is cut at the first line that starts quoted history or a
signature; nothing after it is kept):

1. Quoted-history headers: ``On <...> wrote:`` (Gmail, Apple Mail; may wrap onto the next line),
   ``-----Original Message-----`` and ``From: ... Sent: ...`` blocks (Outlook),
   ``________________________________`` (Outlook on the web), ``Begin forwarded message:``.
2. Quoted lines: a line starting with ``>``.
3. Signatures: the RFC 3676 delimiter ``-- `` (dash dash space, section 4.3), ``--`` on its own,
   a line of ``Sent from my <device>``, and a valediction line (``Thanks``, ``Best regards``,
   ``Cheers``...) followed only by at most four short lines (a name, a title, a phone number).
4. Whitespace is collapsed; the result is empty when nothing of the person's own text remains.

Pure: no I/O, no state.
"""

from __future__ import annotations

import re

_HISTORY = re.compile(
    r"^\s*(?:"
    r"On\b.{0,200}\bwrote:\s*$"
    r"|On\b.{0,200}$(?=\n.{0,200}\bwrote:\s*$)"
    r"|-{2,}\s*Original Message\s*-{2,}"
    r"|_{10,}\s*$"
    r"|Begin forwarded message:"
    r"|From:\s.+$(?=\n(?:Sent|Date):\s)"
    r")",
    re.IGNORECASE | re.MULTILINE,
)
_QUOTED = re.compile(r"^\s*>")
_SIGNATURE = re.compile(r"^(?:--\s?|Sent from my .{1,40}|Get Outlook for .{1,40})$", re.IGNORECASE)
_VALEDICTION = re.compile(
    r"^(?:thanks?(?: you)?|many thanks|thx|cheers|best|best regards|kind regards|regards|"
    r"warm regards|sincerely|all the best|br)[,.!]?$",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")


def strip_reply(body: str | None) -> str:
    """The person's own words in an email body or a note: quoted history and signature removed,
    whitespace collapsed to single spaces (rules in the module docstring)."""
    if not body:
        return ""
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    history = _HISTORY.search(text)
    if history is not None:
        text = text[: history.start()]
    lines = text.split("\n")
    kept: list[str] = []
    for index, raw in enumerate(lines):
        line = raw.strip()
        if _QUOTED.match(raw) or _SIGNATURE.match(line):
            break
        if _VALEDICTION.match(line):
            rest = [rest_line for rest_line in lines[index + 1 :] if rest_line.strip()]
            if len(rest) <= 4 and all(len(rest_line.strip()) <= 60 for rest_line in rest):
                break
        kept.append(line)
    return _SPACES.sub(" ", " ".join(kept)).strip()


def message_text(subject: str | None, body: str | None) -> str:
    """Subject and cleaned body as one text (a new message's subject often says it all:
    "Cancel my order"). A reply's or forward's subject (``Re:``, ``Fwd:``...) is the subject
    of the message it answers, someone else's words, so it is left out when there is a body."""
    raw = (subject or "").strip()
    head = re.sub(r"^(?:\s*(?:re|fw|fwd|aw|sv)\s*:\s*)+", "", raw, flags=re.IGNORECASE).strip()
    own = strip_reply(body)
    if own and head != raw:
        return own
    if not head or not own:
        return head or own
    return f"{head} {own}" if head.endswith((".", "?", "!")) else f"{head}. {own}"
