"""Which orders count, and in which currency: pure functions over the Order frame.

- **Status.** Salesforce files every Order Status value under a category, ``StatusCode``:
  Draft or Activated (Object Reference, OrderStatus.StatusCode "Activated, Draft"; Order's
  ``StatusCode`` is "Status Category"). The category is what an org's own automation means by
  an activated order, whatever the admin named the Status values, so it is the default filter
  (``L2L_ORDER_STATUS_CATEGORIES=Activated``). ``L2L_ORDER_STATUSES`` names Status values
  instead, for orgs whose categories do not say what counts.
- **Currency.** In a multi-currency org each order carries ``CurrencyIsoCode`` and its
  TotalAmount is in that currency. ``CurrencyType.ConversionRate`` is "the conversion rate of this
  currency type against the corporate currency" (units of it per corporate unit), so the
  corporate amount is ``amount / rate``; with advanced currency management the rate is the
  ``DatedConversionRate`` whose ``[StartDate, NextStartDate)`` holds the order's EffectiveDate
  (Object Reference, CurrencyType and DatedConversionRate).
- **Shop orders in a currency the org cannot convert.** A webhook's order carries the shop's
  currency. In a multi-currency org it converts like an Order; the corporate currency is the
  CurrencyType row with ``IsCorporate``. A single-currency org has no CurrencyType ("not
  available in single-currency organizations"), so its currency is ``L2L_ORG_CURRENCY``. A shop
  order in neither the corporate currency nor one with a rate is held (:func:`hold_unconvertible`):
  left out of every model and named in the run record and ``events stats``, never added as is
  (EUR 80 is not USD 80). Salesforce Orders are never held: the org itself accepted their currency.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

#: Where a run keeps the rates it read (sync_state), for real-time passes and ``events stats``.
RATES_KEY = "currency_rates"
#: Order columns read beside ``resolve.ORDER_COLUMNS`` (absent in orgs without them).
FILTER_COLUMNS = ("Status", "StatusCode", "CurrencyIsoCode")


def counted_orders(
    orders: pd.DataFrame, statuses: Sequence[str], categories: Sequence[str]
) -> pd.DataFrame:
    """The orders that count: Status in ``statuses`` when given, else StatusCode (the
    category; Status where the org has no category) in ``categories``. An order with neither
    pulled counts (nothing says otherwise)."""
    if not len(orders):
        return orders
    status = orders.get("Status", pd.Series(None, index=orders.index, dtype=object))
    if statuses:
        keep = status.isin(list(statuses)) | status.isna()
    else:
        code = orders.get("StatusCode", pd.Series(None, index=orders.index, dtype=object))
        category = code.where(code.notna(), status)
        keep = category.isin(list(categories)) | category.isna()
    return orders[keep]


def to_corporate(
    orders: pd.DataFrame, currency_types: pd.DataFrame, dated: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``orders`` with TotalAmount in the corporate currency (a copy; unchanged without rates).

    ``currency_types``: IsoCode, ConversionRate; ``dated`` (advanced currency management):
    IsoCode, ConversionRate, StartDate, NextStartDate. An order in a currency without a rate,
    or without a currency, is taken to be in the corporate currency.
    """
    if not len(orders) or not len(currency_types) or "CurrencyIsoCode" not in orders:
        return orders
    codes = orders["CurrencyIsoCode"]
    rate = codes.map(currency_types.set_index("IsoCode")["ConversionRate"].astype(float))
    if dated is not None and len(dated):
        rate = _dated_rates(orders, dated).fillna(rate)
    out = orders.copy()
    amount = pd.to_numeric(out["TotalAmount"], errors="coerce")
    out["TotalAmount"] = (amount / rate.where(rate > 0).fillna(1.0)).round(2)
    return out


def _dated_rates(orders: pd.DataFrame, dated: pd.DataFrame) -> pd.Series:
    """Per order, the dated rate of its currency in force on its EffectiveDate."""
    left = pd.DataFrame(
        {
            "row": range(len(orders)),
            "IsoCode": orders["CurrencyIsoCode"].to_numpy(dtype=object),
            "day": pd.to_datetime(orders["EffectiveDate"], errors="coerce").to_numpy(),
        }
    ).dropna(subset=["day", "IsoCode"])
    right = pd.DataFrame(
        {
            "IsoCode": dated["IsoCode"].to_numpy(dtype=object),
            "day": pd.to_datetime(dated["StartDate"], errors="coerce").to_numpy(),
            "rate": pd.to_numeric(dated["ConversionRate"], errors="coerce").to_numpy(),
        }
    ).dropna()
    out = pd.Series(float("nan"), index=range(len(orders)))
    if left.empty or right.empty:
        out.index = orders.index
        return out
    # One key dtype on both sides (pandas may infer a string column as StringDtype).
    left["IsoCode"] = left["IsoCode"].astype(str)
    right["IsoCode"] = right["IsoCode"].astype(str)
    # The latest StartDate on or before the order's day: NextStartDate is exactly the next
    # StartDate of the same currency, so this is the [StartDate, NextStartDate) that holds it.
    matched = pd.merge_asof(
        left.sort_values("day"), right.sort_values("day"), on="day", by="IsoCode"
    )
    out[matched["row"].to_numpy()] = matched["rate"].to_numpy()
    out.index = orders.index
    return out


def hold_unconvertible(
    orders: pd.DataFrame, corporate: str, rated: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(orders that count, shop orders held): a shop order (Id ``<platform>:<id>``; a Salesforce
    Id never holds a colon) whose currency is neither ``corporate`` nor in ``rated`` is held.
    One without a currency is taken to be in the corporate currency (platforms send one)."""
    if not len(orders) or "CurrencyIsoCode" not in orders:
        return orders, orders.iloc[0:0]
    shop = orders["Id"].astype(str).str.contains(":", regex=False)
    code = orders["CurrencyIsoCode"]
    known = code.isna() | code.astype(str).str.upper().isin([corporate.upper(), *rated])
    held = shop & ~known
    return orders[~held], orders[held]


def held_and_strangers(
    shop: pd.DataFrame, rates: dict[str, Any], contacts: pd.DataFrame, leads: pd.DataFrame
) -> dict[str, Any]:
    """What ``events stats`` adds about shop orders that count (``shop``: the store's shop
    orders frame): those held for their currency by the last run's ``rates`` (what
    :data:`RATES_KEY` keeps; none before the first run), and the shoppers no Contact or Lead has
    (:func:`connector.sync.order_merge.strangers`)."""
    from connector.sync.order_merge import strangers

    known = {str(rates.get("corporate") or "").upper()} | {
        str(r.get("IsoCode")).upper() for r in rates.get("types") or []
    }
    codes = shop["currency"].dropna().astype(str).str.upper() if len(shop) else pd.Series([])
    held = codes[~codes.isin(known)].value_counts() if rates else codes.iloc[0:0].value_counts()
    unknown = strangers(shop, contacts, leads)
    return {
        "held": {str(k): int(v) for k, v in held.items()},
        "strangers": {
            "people": len(unknown),
            "orders": int(unknown["orders"].sum()),
            "emails": unknown["email"].head(20).tolist(),
        },
    }
