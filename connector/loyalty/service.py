"""Member operations over the stored journal: what the web API and the CLI call.

Each operation reads the member's journal and appends what the pure functions in
:mod:`connector.loyalty.operations` decide, inside one write transaction
(:meth:`~connector.store.loyalty.LoyaltyRepository.member_transaction`, ``store.loyalty``), so
concurrent requests for one member are decided one after another and a repeated idempotency key
does nothing twice.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from connector.loyalty.config import LoyaltyConfig, Program, Voucher
from connector.loyalty.earning import partner_bonuses
from connector.loyalty.ledger import as_journal, entry, lot_state, spendable
from connector.loyalty.operations import (
    LoyaltyError,
    adjust,
    cancel_redemption,
    due_expiries,
    redeem,
)
from connector.loyalty.standing import standing
from connector.store import Store

_SF_ID = re.compile(r"^(003|001)[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$")
# Voucher codes: 16 characters from an alphabet without look-alikes (0/O, 1/I/L), 80 bits.
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def voucher_code() -> str:
    """A unique, unguessable voucher code, e.g. ``L2L-7KQ4-M9XH-2RTP-WC3D``."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(16))
    return "L2L-" + "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def voucher_row(
    program: Program, member: str, voucher: Voucher, now: datetime, **source: str
) -> dict[str, Any]:
    """A new voucher of ``voucher``'s kind for ``member``, with a fresh code, as the store keeps
    it; ``source`` says why it was issued (``redemption_key`` or a promotion's ``source_key``)."""
    return {
        "code": voucher_code(),
        "program": program.id,
        "member": member,
        "voucher_id": voucher.id,
        "kind": voucher.kind,
        "value": voucher.value,
        "issued_at": now.isoformat(),
        "expires_at": (now + timedelta(days=voucher.valid_days)).isoformat(),
        "uses_left": voucher.uses,
        **source,
    }


@dataclass
class LoyaltyService:
    """The loyalty books of one database, for one set of programs."""

    store: Store
    config: LoyaltyConfig
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def __post_init__(self) -> None:
        self.books = self.store.loyalty

    # ------------------------------------------------------------------ lookups
    def program(self, program_id: str | None = None) -> Program:
        """The named program, or the first one; :class:`LoyaltyError` when there is none."""
        if not self.config.programs:
            raise LoyaltyError(
                "no loyalty program is configured; add one to models/loyalty.yaml",
                code="not_configured",
                status=404,
            )
        if program_id is None:
            return self.config.programs[0]
        for p in self.config.programs:
            if p.id == program_id:
                return p
        known = ", ".join(p.id for p in self.config.programs)
        raise LoyaltyError(
            f"no program {program_id!r}; programs: {known}", code="not_found", status=404
        )

    def member_key(self, identifier: str) -> str:
        """``Contact:<id>`` / ``Account:<id>`` for an id, a member key or a Contact's email."""
        ident = identifier.strip()
        if ident.startswith(("Contact:", "Account:")):
            return ident
        if _SF_ID.match(ident):
            return ("Contact:" if ident.startswith("003") else "Account:") + ident
        if "@" in ident:
            found = self.store.records.contact_ids_by_email(ident)
            if len(found) == 1:
                return "Contact:" + found[0]
            if len(found) > 1:
                raise LoyaltyError(
                    f"{len(found)} Contacts have that email; give the Contact Id instead",
                    code="ambiguous",
                    status=409,
                )
        raise LoyaltyError(
            f"no member {identifier!r} (give a Contact Id or email)", code="not_found", status=404
        )

    # ------------------------------------------------------------------ reads
    def member(self, member: str, program_id: str | None = None) -> dict[str, Any]:
        """Balance, tier, spendable points, lots, vouchers and the journal of one member."""
        program = self.program(program_id)
        journal = self.books.journal(program.id, member)
        if journal.empty:
            raise LoyaltyError(
                f"{member} is not a member of {program.id}", code="not_found", status=404
            )
        now = self.clock()
        values = standing(journal, program, now).iloc[0]
        lots = lot_state(journal).lots
        return {
            "member": member,
            "program": program.id,
            "points_balance": int(values["loyalty.points_balance"]),
            "spendable_points": spendable(journal, member, now),
            "qualifying_points": _plain(values["loyalty.qualifying_points"]),
            "tier": _plain(values["loyalty.tier"]),
            "points_to_next_tier": _plain(values["loyalty.points_to_next_tier"]),
            "points_expiring_30d": int(values["loyalty.points_expiring_30d"]),
            "points_expiry_date": _plain(values["loyalty.points_expiry_date"]),
            "cashback_balance": float(values["loyalty.cashback_balance"]),
            "member_since": _plain(values["loyalty.member_since"]),
            "lots": [
                {
                    "lot": r.lot,
                    "earned_at": _plain(r.at),
                    "points": int(r.net),
                    "remaining": int(r.remaining),
                    "expires_at": _plain(r.expires_at),
                }
                for r in lots.itertuples()
                if r.remaining > 0
            ],
            "vouchers": self.books.vouchers(program.id, member),
            "journal": [
                {k: _plain(v) for k, v in row.items()} for row in journal.to_dict("records")
            ],
        }

    # ------------------------------------------------------------------ writes
    def redeem(
        self,
        member: str,
        request_key: str,
        *,
        points: int | None = None,
        voucher_id: str | None = None,
        program_id: str | None = None,
    ) -> dict[str, Any]:
        """Spend points (or a voucher's cost in points, issuing the voucher). The same
        ``request_key`` again returns the first outcome and spends nothing more."""
        program = self.program(program_id)
        voucher = None
        if voucher_id is not None:
            voucher = next((v for v in program.vouchers if v.id == voucher_id), None)
            if voucher is None or voucher.cost_points is None:
                raise LoyaltyError(
                    f"no voucher {voucher_id!r} can be had for points", code="not_found", status=404
                )
            points = voucher.cost_points
        if points is None:
            raise LoyaltyError("give points or voucher")
        key = f"{program.id}:redemption:{member}:{request_key}"
        now = self.clock()
        with self.books.member_transaction():
            journal = self.books.journal(program.id, member)
            if journal.empty:
                raise LoyaltyError(
                    f"{member} is not a member of {program.id}", code="not_found", status=404
                )
            repeated = key in set(journal["key"])
            if not repeated:
                new = redeem(journal, program, member, points, request_key, now)
                self.books.append(as_journal(new))
                if voucher is not None:
                    self.books.add_voucher(
                        voucher_row(program, member, voucher, now, redemption_key=key)
                    )
            after = self.books.journal(program.id, member)
        redeemed = after[after["key"] == key]
        issued = self.books.voucher_for(key)
        first_points = -int(redeemed["points"].iloc[0])
        first_voucher = issued["voucher_id"] if issued else None
        if repeated and (first_points != points or first_voucher != voucher_id):
            raise _reused(request_key, f"a redemption of {first_points} points")
        return {
            "redemption": request_key,
            "points": first_points,
            "repeated": repeated,
            "balance": int(after[after["currency"] == "points"]["points"].sum()),
            "voucher": issued,
        }

    def cancel(
        self, member: str, request_key: str, program_id: str | None = None
    ) -> dict[str, Any]:
        """Cancel a redemption: its points come back with their original expiry."""
        program = self.program(program_id)
        now = self.clock()
        with self.books.member_transaction():
            journal = self.books.journal(program.id, member)
            new = cancel_redemption(journal, program, member, request_key, now)
            self.books.append(as_journal(new))
            self.books.void_voucher(f"{program.id}:redemption:{member}:{request_key}")
            after = self.books.journal(program.id, member)
        return {
            "redemption": request_key,
            "cancelled": True,
            "balance": int(after[after["currency"] == "points"]["points"].sum()),
        }

    def adjust(
        self,
        member: str,
        points: int,
        reason: str,
        request_key: str,
        program_id: str | None = None,
        *,
        token: str | None = None,
    ) -> dict[str, Any]:
        """An admin adjustment, journaled with its reason (and the API token's name that asked
        for it, when one did)."""
        program = self.program(program_id)
        now = self.clock()
        with self.books.member_transaction():
            row = adjust(program, member, points, reason, request_key, now)
            if token is not None:
                row.update(source_type="api", token=token)
            added = self.books.append(as_journal([row]))
            after = self.books.journal(program.id, member)
            first = after[after["key"] == row["key"]]
            if not added and int(first["points"].iloc[0]) != points:
                raise _reused(request_key, f"an adjustment of {int(first['points'].iloc[0])}")
        return {
            "member": member,
            "points": points,
            "repeated": added == 0,
            "balance": int(after[after["currency"] == "points"]["points"].sum()),
        }

    def partner_accrual(
        self,
        member: str,
        points: int,
        partner: str,
        request_key: str,
        *,
        brand: str | None = None,
        reason: str = "",
        program_id: str | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Points a partner issues (a hotel stay, a card spend): a lot like earned points,
        tagged with the partner for its settlement report and with the name of the API
        ``token`` that asked, whose caps (the program's ``api_caps``) it must fit."""
        if points <= 0:
            raise LoyaltyError("partner points must be a positive whole number")
        if not partner.strip():
            raise LoyaltyError("a partner accrual needs the partner's id")
        program = self.program(program_id)
        per_request = program.api_caps.accrual_points_per_request
        if token is not None and per_request is not None and points > per_request:
            raise LoyaltyError(
                f"an accrual may add at most {per_request:,} points in program {program.id}; "
                "split it, or raise api_caps.accrual_points_per_request in models/loyalty.yaml",
                code="accrual_cap",
                status=403,
            )
        if brand is not None and brand not in program.brands:
            known = ", ".join(program.brands) or "none configured"
            raise LoyaltyError(
                f"brand {brand!r} is not a brand of program {program.id} ({known})",
                code="unknown_brand",
            )
        now = self.clock()
        row = adjust(program, member, points, reason or f"partner {partner}", request_key, now)
        key = f"{program.id}:partner:{partner}:{request_key}"
        row.update(
            key=key,
            lot=key,
            kind="accrual",
            source_type="partner",
            partner=partner.strip(),
            brand=brand,
            token=token,
        )
        qualifying = entry(
            key=key + ":qualifying",
            program=program.id,
            member=member,
            kind="accrual",
            currency="qualifying",
            points=points,
            at=now,
            source_type="partner",
            source_id=request_key,
            partner=partner.strip(),
            brand=brand,
            token=token,
        )
        rows = [row, qualifying]
        tier = self.books.notified_tiers(program.id).get(member)
        bonuses = partner_bonuses(program, partner.strip(), points, now, tier)
        for promo_id, extra in bonuses:
            # the promotion's points are the program's, not the partner's (settlement)
            for currency in ("points", "qualifying"):
                promo_key = f"{key}:{promo_id}:{currency}"
                rows.append(
                    entry(
                        key=promo_key,
                        program=program.id,
                        member=member,
                        kind="accrual",
                        currency=currency,
                        points=extra,
                        at=now,
                        lot=promo_key if currency == "points" else None,
                        expires_at=row["expires_at"] if currency == "points" else None,
                        available_at=row["available_at"] if currency == "points" else None,
                        source_type="promotion",
                        source_id=request_key,
                        rule_id=promo_id,
                        reason=f"promotion {promo_id} on partner {partner.strip()}",
                        token=token,
                    )
                )
        with self.books.member_transaction():
            # A repeated key adds nothing, not even a promotion that started since the first.
            mine = self.books.journal(program.id, member)
            first = mine[mine["key"] == key]
            if first.empty and token is not None:
                self._check_daily_cap(program, token, points, now)
            added = 0 if len(first) else self.books.append(as_journal(rows))
            # The key is the partner's: the first request may have been for someone else.
            if not added and (first.empty or int(first["points"].iloc[0]) != points):
                raise _reused(request_key, "another accrual")
        out: dict[str, Any] = {
            "member": member,
            "points": points,
            "partner": partner,
            "repeated": added == 0,
        }
        if added and bonuses:
            out["promotion_points"] = sum(extra for _, extra in bonuses)
        return out

    def _check_daily_cap(self, program: Program, token: str, points: int, now: datetime) -> None:
        """Refuse (403) an accrual that takes ``token`` past its daily cap. Inside the member
        transaction, whose write lock also orders concurrent accruals for other members."""
        cap = program.api_caps.accrual_points_per_day
        if cap is None:
            return
        local = now.astimezone(ZoneInfo(program.timezone))
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        used = self.books.token_accrued(program.id, token, day.astimezone(UTC))
        if used + points > cap:
            raise LoyaltyError(
                f"token {token} has accrued {used:,} of its {cap:,} points today in program "
                f"{program.id}; this request of {points:,} would pass the cap "
                "(api_caps.accrual_points_per_day in models/loyalty.yaml)",
                code="accrual_cap",
                status=403,
            )

    def use_voucher(self, code: str, request_key: str) -> dict[str, Any]:
        """Consume one use of a voucher code (a storefront's checkout). Unknown: 404; used up
        or expired: 409; the same ``request_key`` again answers the first outcome (refusals
        included) and uses nothing more; the same key for another code: 422."""
        now = self.clock()
        with self.store.transaction():
            first = self.books.voucher_use(request_key)
            if first is not None:
                if first["code"] != code:
                    raise _reused(request_key, "a use of another code")
                status, outcome = int(first["status"]), json.loads(first["outcome"])
            else:
                status, outcome = self._decide_use(code, now)
                if status != 404:  # an unknown code is not remembered: nothing happened to it
                    self.books.record_use(
                        request_key, code, status, json.dumps(outcome), now.isoformat()
                    )
        if status != 200:
            raise LoyaltyError(outcome["message"], code=outcome["code"], status=status)
        return {**outcome, "repeated": first is not None}

    def _decide_use(self, code: str, now: datetime) -> tuple[int, dict[str, Any]]:
        voucher = self.books.voucher(code)
        if voucher is None:
            return 404, {"code": "not_found", "message": f"no voucher with code {code!r}"}
        expires = datetime.fromisoformat(voucher["expires_at"])
        if expires <= now:
            message = f"voucher {code} expired at {voucher['expires_at']}"
            return 409, {"code": "voucher_expired", "message": message}
        if not self.books.take_use(code):
            return 409, {"code": "voucher_used_up", "message": f"voucher {code} is used up"}
        return 200, {
            "code": code,
            "voucher": voucher["voucher_id"],
            "kind": voucher["kind"],
            "value": voucher["value"],
            "member": voucher["member"],
            "uses_left": int(voucher["uses_left"]) - 1,
        }

    def expire(self, program_id: str | None = None) -> int:
        """Post the expiry due now for every member; returns the points expired."""
        program = self.program(program_id)
        with self.books.member_transaction():
            journal = self.books.journal(program.id)
            due = due_expiries(journal, program, self.clock())
            self.books.append(as_journal(due))
        return -sum(int(e["points"]) for e in due)  # type: ignore[call-overload]

    def report(self, program_id: str | None = None) -> dict[str, Any]:
        """Members per tier; points issued, redeemed, expired, reversed, adjusted and
        outstanding (the liability: the sum of member balances); top earning rules; partners."""
        program = self.program(program_id)
        journal = self.books.journal(program.id)
        now = self.clock()
        values = standing(journal, program, now) if len(journal) else pd.DataFrame()
        pts = journal[journal["currency"] == "points"]

        def total(kinds: tuple[str, ...], sign: int = 1) -> int:
            return sign * int(pts[pts["kind"].isin(kinds)]["points"].sum())

        tiers = (
            {str(k): int(v) for k, v in values["loyalty.tier"].value_counts().items()}
            if len(values) and program.tiers is not None
            else {}
        )
        rules = (
            pts[pts["kind"] == "accrual"]
            .groupby("rule_id")["points"]
            .sum()
            .sort_values(ascending=False)
            .head(10)
        )
        partners = pts[pts["partner"].notna()].groupby("partner")["points"].sum()
        return {
            "program": program.id,
            "members": len(values),
            "tiers": tiers,
            "points": {
                "issued": total(("accrual",)),
                "redeemed": total(("redemption", "redemption_cancel"), -1),
                "expired": total(("expiry",), -1),
                "reversed": total(("reversal",), -1),
                "adjusted": total(("adjustment", "transfer", "settlement", "deferral")),
                "outstanding": int(pts["points"].sum()),
            },
            "top_rules": [{"rule": str(k), "points": int(v)} for k, v in rules.items()],
            "partners": {str(k): int(v) for k, v in partners.items()},
            "cashback_outstanding": round(
                int(journal[journal["currency"] == "cashback"]["points"].sum()) / 100, 2
            ),
        }


def _reused(request_key: str, first: str) -> LoyaltyError:
    """The same idempotency key with a different request: refused, nothing done twice."""
    return LoyaltyError(
        f"idempotency key {request_key!r} was already used for {first}; "
        "use a new key for a new request",
        code="idempotency_key_reused",
        status=422,
    )


def _plain(value: Any) -> Any:
    """JSON-friendly: timestamps as ISO text, missing as None, numpy scalars as Python."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return None if pd.isna(value) else value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and pd.isna(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value
