"""Loyalty: programs, an exact points journal, earning and redemption rules, tiers, expiry.

The rules and the ledger arithmetic are pure (``config``, ``earning``, ``ledger``, ``tiers``,
``spend``, ``operations``, ``standing``); the journal is kept by :mod:`connector.store.loyalty`, and
:mod:`connector.sync.loyalty` books orders and events into it on every sync.
"""

from __future__ import annotations

from connector.loyalty.config import LoyaltyConfig, Program
from connector.loyalty.operations import LoyaltyError
from connector.loyalty.standing import STANDING_KEYS, standing

__all__ = ["STANDING_KEYS", "LoyaltyConfig", "LoyaltyError", "Program", "standing"]
