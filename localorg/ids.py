"""Salesforce record ids: 15-character case-sensitive ids with the 3-character checksum suffix.

Each object has its real key prefix (00Q Lead, 003 Contact...), so ids minted here look and
validate like an org's, and code that routes on the prefix (a WhoId pointing at a Lead or a
Contact) behaves as it would against Salesforce.
"""

from __future__ import annotations

import functools
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
    # Not verified against Salesforce documentation (no public key prefix list found for them).
    "CurrencyType": "01L",
    "DatedConversionRate": "04w",
    "FieldPermissions": "01k",
    "Pricebook2": "01s",
    "Product2": "01t",
    "PricebookEntry": "01u",
    "EmailMessage": "02s",
    "PermissionSet": "0PS",
    "PermissionSetAssignment": "0Pa",
    "ObjectPermissions": "110",
    "Profile": "00e",
    "UserLicense": "100",
    "PermissionSetLicense": "0PL",
    "PermissionSetLicenseAssign": "2LA",
    "FlowInterview": "0Fo",
    "Case": "500",
    "Job": "750",
    "Order": "801",
    "OrderItem": "802",
    # Loyalty Management: 0lp, 0lM and 0lV appear as ids in the Loyalty Management Developer
    # Guide's examples (Loyalty Engine Input Map, Individual Member Enrollment Output); the two
    # currency objects' prefixes are not documented there and are unused ones we picked.
    "LoyaltyProgram": "0lp",
    "LoyaltyProgramMember": "0lM",
    "TransactionJournal": "0lV",
    "LoyaltyProgramCurrency": "0lc",
    "LoyaltyMemberCurrency": "0ly",
    # JournalType 0lE and JournalSubType 0lS: the ids of the "Loyalty Engine Input Map" example.
    "JournalType": "0lE",
    "JournalSubType": "0lS",
}

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
# Fast checksum: each id character becomes "1" (upper-case letter) or "0", and a 5-character
# chunk of that bit text indexes its suffix character directly.
_UPPER_BITS = str.maketrans({ch: "1" if "A" <= ch <= "Z" else "0" for ch in _BASE62})
_CHUNK_SUFFIX = {format(bits, "05b")[::-1]: _SUFFIX[bits] for bits in range(32)}
# Ids are minted in blocks of 62**2: the last two digits of a block with their checksum bits.
_PAIR_SPAN = 62 * 62
_PAIRS = [
    (a + b, ("A" <= a <= "Z") << 3 | ("A" <= b <= "Z") << 4) for a in _BASE62 for b in _BASE62
]
_PREFIX_BY_KEY = {prefix: name for name, prefix in KEY_PREFIXES.items()}


def checksum(id15: str) -> str:
    """The 3-character suffix Salesforce appends to a 15-character id.

    Each 5-character chunk gives one character: bit i is set when the chunk's i-th character
    is an upper-case letter, and the 5-bit number indexes A-Z0-5.
    """
    bits = id15.translate(_UPPER_BITS)
    first = _CHUNK_SUFFIX.get(bits[0:5])
    second = _CHUNK_SUFFIX.get(bits[5:10])
    third = _CHUNK_SUFFIX.get(bits[10:15])
    if first is None or second is None or third is None:
        return _checksum_any(id15)  # not 15 base-62 characters: the rule spelled out
    return first + second + third


def _checksum_any(text: str) -> str:
    out = []
    for start in (0, 5, 10):
        bits = 0
        for i, ch in enumerate(text[start : start + 5]):
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
        and record_id.isascii()
        and record_id.isalnum()
        and checksum(record_id[:15]) == record_id[15:]
    )


def _base62(n: int, width: int) -> str:
    digits = []
    for _ in range(width):
        n, rem = divmod(n, 62)
        digits.append(_BASE62[rem])
    return "".join(reversed(digits))


@functools.lru_cache(maxsize=64)
def _tails(head_suffix: str, head_bits: int) -> tuple[str, ...]:
    """Every id ending of one block: two digits, then the suffix (two fixed characters, one
    from the block head's upper-case bits ``head_bits`` and the two digits)."""
    return tuple(pair + head_suffix + _SUFFIX[head_bits | bits] for pair, bits in _PAIRS)


def _mint(prefix: str, first: int, count: int) -> list[str]:
    """Ids ``prefix`` (key prefix and pod) + base-62 counter for ``first .. first+count-1``.

    Block by block: the first 13 characters and two suffix characters are fixed within a
    block of 62**2 counters, so each id is one concatenation.
    """
    out: list[str] = []
    n, end = first, first + count
    while n < end:
        block, offset = divmod(n, _PAIR_SPAN)
        take = min(_PAIR_SPAN - offset, end - n)
        head = prefix + _base62(block, 8)
        head_suffix = _checksum_any(head)[:2]
        head_bits = sum(1 << i for i, ch in enumerate(head[10:13]) if "A" <= ch <= "Z")
        out.extend(map(head.__add__, _tails(head_suffix, head_bits)[offset : offset + take]))
        n += take
    return out


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
        """``count`` fresh ids at once (one lock, for seeds and bulk jobs).

        The same ids, in the same order, as ``count`` calls of :meth:`new`.
        """
        prefix = KEY_PREFIXES.get(object_name)
        if prefix is None:
            raise KeyError(f"no key prefix known for {object_name}")
        if count <= 0:
            return []
        with self._lock:
            first = next(self._counter)
            self._counter = itertools.count(first + count)
        return _mint(prefix + self._pod, first, count)


def object_for_id(record_id: str) -> str | None:
    """The object an id belongs to, from its key prefix."""
    return _PREFIX_BY_KEY.get(record_id[:3])
