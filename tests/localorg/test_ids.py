"""Salesforce ids: the fast minting and checksum agree with the rule spelled out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localorg.ids import KEY_PREFIXES, IdFactory, checksum, is_valid, object_for_id, to18

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
id15s = st.text(alphabet=BASE62, min_size=15, max_size=15)


def reference_checksum(id15: str) -> str:
    """Salesforce's published rule, written as plainly as possible."""
    out = ""
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")
        out += SUFFIX[bits]
    return out


@pytest.mark.parametrize(
    "start",
    [
        1,
        3843,  # a batch that crosses the first block of 62**2 counters
        62**2 * 17 - 5,
        62**5 - 2,  # the second checksum character changes
        62**7 * 40 + 11,  # upper-case digits high up in the counter
    ],
)
def test_batch_equals_sequential_new_ids(start: int) -> None:
    batched, single = IdFactory(start=start), IdFactory(start=start)
    ids = batched.batch("Contact", 8000)
    assert ids == [single.new("Contact") for _ in range(8000)]
    assert all(is_valid(i) and i.startswith("0035g") for i in ids)
    assert len(set(ids)) == len(ids)
    assert batched.new("Lead") == single.new("Lead")  # both counters moved on alike


def test_batch_keeps_other_factories_and_objects_apart() -> None:
    factory = IdFactory(pod="9z")
    leads = factory.batch("Lead", 3)
    orders = factory.batch("Order", 3)
    assert [object_for_id(i) for i in leads + orders] == ["Lead"] * 3 + ["Order"] * 3
    assert {i[3:5] for i in leads + orders} == {"9z"}
    assert not set(leads) & set(IdFactory(pod="5g").batch("Lead", 3))
    assert factory.batch("Lead", 0) == []
    with pytest.raises(KeyError, match="Spaceship"):
        factory.batch("Spaceship__c", 1)


@given(id15s)
def test_to18_round_trips_and_validates(id15: str) -> None:
    id18 = to18(id15)
    assert id18[:15] == id15
    assert id18[15:] == checksum(id15) == reference_checksum(id15)
    assert is_valid(id18)
    assert to18(id18) == id18


@given(id15s, st.integers(min_value=0, max_value=14))
def test_changing_the_case_of_a_letter_breaks_the_checksum(id15: str, at: int) -> None:
    id18 = to18(id15)
    if not id15[at].isalpha():
        return
    flipped = id15[:at] + id15[at].swapcase() + id15[at + 1 :]
    assert not is_valid(flipped + id18[15:])
    assert is_valid(to18(flipped))


@given(st.text(max_size=20))
def test_is_valid_refuses_what_is_not_an_id(text: str) -> None:
    expected = (
        len(text) == 18
        and all(ch in BASE62 for ch in text)
        and reference_checksum(text[:15]) == text[15:]
    )
    assert is_valid(text) == expected


def test_checksum_of_odd_input_follows_the_rule() -> None:
    assert checksum("abc") == "AAA"
    assert checksum("00Q5g00000AbCdE") == reference_checksum("00Q5g00000AbCdE") == "EAV"
    assert checksum("ÄBCDE-----éé...") == reference_checksum("ÄBCDE-----éé...")
    with pytest.raises(ValueError, match="15 or 18"):
        to18("abc")


def test_object_for_id_knows_every_prefix() -> None:
    factory = IdFactory()
    for name in KEY_PREFIXES:
        assert object_for_id(factory.new(name)) == name
    assert object_for_id("zzz5g0000000001AAA") is None
