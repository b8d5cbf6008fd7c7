"""Salesforce record ids: 15-character case-sensitive ids with the 3-character checksum suffix.

Each object has its real key prefix (00Q Lead, 003 Contact...), so ids minted here look and
validate like an org's, and code that routes on the prefix (a WhoId pointing at a Lead or a
Contact) behaves as it would against Salesforce.
"""

from __future__ import annotations

import itertools
import threading

KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Opportunity": "006",
    "Task": "00T",
    "Lead": "00Q",
    "CustomField": "00N",
    "FieldPermissions": "01k",
    "Pricebook2": "01s",
    "Product2": "01t",
    "PricebookEntry": "01u",
    "EmailMessage": "02s",
    "PermissionSet": "0PS",
    "FlowInterview": "0Fo",
    "Case": "500",
    "Job": "750",
    "Order": "801",
    "OrderItem": "802",
}

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def checksum(id15: str) -> str:
    """The 3-character suffix Salesforce appends to a 15-character id.

    Each 5-character chunk gives one character: bit i is set when the chunk's i-th character
    is an upper-case letter, and the 5-bit number indexes A-Z0-5.
    """
    out = []
    for start in (0, 5, 10):
        bits = 0
        for i, ch in enumerate(id15[start : start + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_SUFFIX[bits])
    return "".join(out)


def to18(id15: str) -> str:
    """Extend a 15-character id to its 18-character form."""
    if len(id15) == 18:
        return id15
    if len(id15) != 15:
        raise ValueError(f"a Salesforce id has 15 or 18 characters, got {len(id15)}")
    return id15 + checksum(id15)


def is_valid(record_id: str) -> bool:
    """True when ``record_id`` is 18 characters of [0-9A-Za-z] with a correct checksum."""
    return (
        len(record_id) == 18
        and all(ch in _BASE62 for ch in record_id)
        and checksum(record_id[:15]) == record_id[15:]
    )


def _base62(n: int, width: int) -> str:
    digits = []
    for _ in range(width):
        n, rem = divmod(n, 62)
        digits.append(_BASE62[rem])
    return "".join(reversed(digits))


class IdFactory:
    """Mints unique 18-character ids per object, thread-safe.

    ``pod`` keeps ids from different factories (say, a seed and a running server) apart.
    """

    def __init__(self, pod: str = "5g", start: int = 1) -> None:
        if len(pod) != 2:
            raise ValueError("pod must be two characters")
        self._pod = pod
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def new(self, object_name: str) -> str:
        """A fresh id for a record of ``object_name``."""
        prefix = KEY_PREFIXES.get(object_name)
        if prefix is None:
            raise KeyError(f"no key prefix known for {object_name}")
        with self._lock:
            n = next(self._counter)
        return to18(prefix + self._pod + _base62(n, 10))

    def batch(self, object_name: str, count: int) -> list[str]:
        """``count`` fresh ids at once (one lock, for seeds and bulk jobs)."""
        prefix = KEY_PREFIXES[object_name]
        with self._lock:
            first = next(self._counter)
            self._counter = itertools.count(first + count)
        return [to18(prefix + self._pod + _base62(first + i, 10)) for i in range(count)]


def object_for_id(record_id: str) -> str | None:
    """The object an id belongs to, from its key prefix."""
    prefix = record_id[:3]
    for name, known in KEY_PREFIXES.items():
        if known == prefix:
            return name
    return None
