"""Each person's time zone, so a best send time is said in the clock they live by.

The rule, first match wins:

1. **The events' clock**: the zone the person's own events were sent from. Segment's
   ``context.timezone`` (a tzdata name; the intake keeps it, ``connector.events.generic``) when
   their events carry one, their most frequent; else the most frequent non-zero UTC offset of
   their events' timestamps, as a fixed zone ``UTC+01:00`` (an offset names no place and no
   daylight saving, so it comes after a name). Events say where the person is now.
2. **The mailing address**: a country with one zone gives it; the United States, Canada and
   Australia go by state or province (a state split between two zones takes the zone most of its
   people live in, e.g. Texas -> America/Chicago); a country we cannot place alone, without a
   state, stays unplaced. Country and state match by name or ISO code, case-insensitive.
3. **A mapped zone field**: an IANA name (``Europe/Paris``) the org keeps on the record.
4. **The org's default zone** (``predictions.default_zone``, UTC unless set), said as such, so
   the field never pretends to know more.

Names come from the IANA tz database (the ``zoneinfo`` module reads it); an unknown name, in an
event or a mapped field, is ignored, not guessed at.
"""

from __future__ import annotations

import re
from datetime import timedelta, timezone, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import pandas as pd

UTC_ZONE = "UTC"
#: A fixed offset's name, as :func:`offset_zone` writes it: UTC+01:00, UTC-05:30.
_FIXED = re.compile(r"^UTC([+-])(\d{2}):(\d{2})$")

# Countries with a single zone (name and ISO 3166 alpha-2 code, lower case).
_COUNTRY_ZONES: dict[str, str] = {
    "united kingdom": "Europe/London",
    "uk": "Europe/London",
    "gb": "Europe/London",
    "great britain": "Europe/London",
    "england": "Europe/London",
    "scotland": "Europe/London",
    "wales": "Europe/London",
    "ireland": "Europe/Dublin",
    "ie": "Europe/Dublin",
    "france": "Europe/Paris",
    "fr": "Europe/Paris",
    "germany": "Europe/Berlin",
    "de": "Europe/Berlin",
    "spain": "Europe/Madrid",
    "es": "Europe/Madrid",
    "italy": "Europe/Rome",
    "it": "Europe/Rome",
    "netherlands": "Europe/Amsterdam",
    "nl": "Europe/Amsterdam",
    "belgium": "Europe/Brussels",
    "be": "Europe/Brussels",
    "switzerland": "Europe/Zurich",
    "ch": "Europe/Zurich",
    "austria": "Europe/Vienna",
    "at": "Europe/Vienna",
    "sweden": "Europe/Stockholm",
    "se": "Europe/Stockholm",
    "norway": "Europe/Oslo",
    "no": "Europe/Oslo",
    "denmark": "Europe/Copenhagen",
    "dk": "Europe/Copenhagen",
    "finland": "Europe/Helsinki",
    "fi": "Europe/Helsinki",
    "poland": "Europe/Warsaw",
    "pl": "Europe/Warsaw",
    "portugal": "Europe/Lisbon",
    "pt": "Europe/Lisbon",
    "greece": "Europe/Athens",
    "gr": "Europe/Athens",
    "czech republic": "Europe/Prague",
    "czechia": "Europe/Prague",
    "cz": "Europe/Prague",
    "japan": "Asia/Tokyo",
    "jp": "Asia/Tokyo",
    "india": "Asia/Kolkata",
    "in": "Asia/Kolkata",
    "singapore": "Asia/Singapore",
    "sg": "Asia/Singapore",
    "south korea": "Asia/Seoul",
    "kr": "Asia/Seoul",
    "china": "Asia/Shanghai",
    "cn": "Asia/Shanghai",
    "new zealand": "Pacific/Auckland",
    "nz": "Pacific/Auckland",
    "south africa": "Africa/Johannesburg",
    "za": "Africa/Johannesburg",
    "israel": "Asia/Jerusalem",
    "il": "Asia/Jerusalem",
    "united arab emirates": "Asia/Dubai",
    "ae": "Asia/Dubai",
}
# States and provinces of the countries that span several zones, by name and postal code.
_EASTERN_US = (
    "CT DE DC FL GA IN KY ME MD MA MI NH NJ NY NC OH PA RI SC VT VA WV "
    "connecticut delaware florida georgia indiana kentucky maine maryland massachusetts michigan "
    "new_hampshire new_jersey new_york north_carolina ohio pennsylvania rhode_island "
    "south_carolina vermont virginia west_virginia district_of_columbia"
)
_CENTRAL_US = (
    "AL AR IL IA KS LA MN MS MO NE ND OK SD TN TX WI alabama arkansas illinois iowa kansas "
    "louisiana minnesota mississippi missouri nebraska north_dakota oklahoma south_dakota "
    "tennessee texas wisconsin"
)
_STATE_ZONES: dict[str, dict[str, str]] = {
    "united states": {
        **dict.fromkeys(_EASTERN_US.lower().split(), "America/New_York"),
        **dict.fromkeys(_CENTRAL_US.lower().split(), "America/Chicago"),
        **dict.fromkeys(
            [
                "co",
                "id",
                "mt",
                "nm",
                "ut",
                "wy",
                "colorado",
                "idaho",
                "montana",
                "new_mexico",
                "utah",
                "wyoming",
            ],
            "America/Denver",
        ),
        **dict.fromkeys(["az", "arizona"], "America/Phoenix"),
        **dict.fromkeys(
            ["ca", "nv", "or", "wa", "california", "nevada", "oregon", "washington"],
            "America/Los_Angeles",
        ),
        **dict.fromkeys(["ak", "alaska"], "America/Anchorage"),
        **dict.fromkeys(["hi", "hawaii"], "Pacific/Honolulu"),
    },
    "canada": {
        **dict.fromkeys(["on", "qc", "ontario", "quebec"], "America/Toronto"),
        **dict.fromkeys(["bc", "british_columbia"], "America/Vancouver"),
        **dict.fromkeys(["ab", "alberta"], "America/Edmonton"),
        **dict.fromkeys(["mb", "manitoba"], "America/Winnipeg"),
        **dict.fromkeys(["sk", "saskatchewan"], "America/Regina"),
        **dict.fromkeys(
            ["ns", "nb", "pe", "nova_scotia", "new_brunswick", "prince_edward_island"],
            "America/Halifax",
        ),
        **dict.fromkeys(["nl", "newfoundland_and_labrador"], "America/St_Johns"),
    },
    "australia": {
        **dict.fromkeys(["nsw", "act", "vic", "new_south_wales", "victoria"], "Australia/Sydney"),
        **dict.fromkeys(["qld", "queensland"], "Australia/Brisbane"),
        **dict.fromkeys(["sa", "south_australia"], "Australia/Adelaide"),
        **dict.fromkeys(["wa", "western_australia"], "Australia/Perth"),
        **dict.fromkeys(["tas", "tasmania"], "Australia/Hobart"),
        **dict.fromkeys(["nt", "northern_territory"], "Australia/Darwin"),
    },
}
_COUNTRY_ALIASES = {
    "us": "united states",
    "usa": "united states",
    "united states of america": "united states",
    "ca": "canada",
    "au": "australia",
}


def _key(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().str.lower().str.replace(" ", "_", regex=False)


@cache
def known_zones() -> frozenset[str]:
    """The IANA names this machine's tz database knows (read once)."""
    return frozenset(available_timezones())


def offset_zone(minutes: int) -> str:
    """The fixed zone of a UTC offset in minutes: 60 -> ``UTC+01:00``, -330 -> ``UTC-05:30``."""
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(int(minutes)), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


def zone_info(name: str) -> tzinfo:
    """The tzinfo of a zone name: an IANA name or a fixed ``UTC+hh:mm``; ValueError else."""
    fixed = _FIXED.match(name)
    if fixed:
        sign = 1 if fixed.group(1) == "+" else -1
        delta = timedelta(hours=int(fixed.group(2)), minutes=int(fixed.group(3)))
        return timezone(sign * delta)
    if name not in known_zones():
        raise ValueError(f"{name!r} is not a time zone of the IANA database")
    return ZoneInfo(name)


def event_zones(
    events: pd.DataFrame, zone_column: str = "_timezone", offset_column: str = "_utc_offset"
) -> pd.Series:
    """Each person's zone by their events' clock (rule 1), indexed by ``person_id``.

    ``events`` has person_id and, when the sender told them, a tzdata name (``zone_column``)
    and the timestamp's UTC offset in minutes (``offset_column``). A person's most frequent
    known name wins; without one, their most frequent offset as a fixed zone. People whose
    events tell neither are left out."""
    found: dict[str, pd.Series] = {}
    for column, named in ((offset_column, False), (zone_column, True)):
        if column not in events or "person_id" not in events:
            continue
        values = events[column]
        if named:
            values = values.astype("string").str.strip()
            values = values.where(values.isin(known_zones()).fillna(False))
        else:
            minutes = pd.to_numeric(values, errors="coerce")
            # real offsets lie within -12:00..+14:00; anything else is a sender's mistake
            ok = minutes.between(-12 * 60, 14 * 60) & minutes.ne(0)
            values = minutes.where(ok).map(lambda m: None if pd.isna(m) else offset_zone(int(m)))
        told = pd.DataFrame({"person_id": events["person_id"], "zone": values}).dropna()
        if len(told):
            counts = told.groupby(["person_id", "zone"]).size().rename("n").reset_index()
            counts = counts.sort_values(["person_id", "n", "zone"], ascending=[True, False, True])
            found[column] = counts.drop_duplicates("person_id").set_index("person_id")["zone"]
    if not found:
        return pd.Series(dtype=object, name="zone")
    by_offset = found.get(offset_column, pd.Series(dtype=object))
    by_name = found.get(zone_column, pd.Series(dtype=object))
    out = by_name.combine_first(by_offset).astype(object)
    return out.rename("zone")


def person_zones(
    people: pd.DataFrame,
    zone_column: str | None = None,
    country_column: str = "MailingCountry",
    state_column: str = "MailingState",
    events_zones: pd.Series | None = None,
    default_zone: str = UTC_ZONE,
) -> pd.Series:
    """The zone of each row of ``people`` by the module's rule (``default_zone`` when unplaced).

    ``events_zones`` (:func:`event_zones`) is indexed like ``people``; ``zone_column`` names a
    mapped field holding zone names; the country and state columns may be absent (a person
    then falls through to the next rule). ``default_zone`` must be a name :func:`zone_info`
    knows."""
    zone_info(default_zone)  # a wrong default fails here, with its name, not mid-run
    zones = pd.Series(default_zone, index=people.index, dtype=object)
    if zone_column is not None and zone_column in people:
        mapped = people[zone_column].astype("string").str.strip()
        ok = mapped.isin(known_zones()).fillna(False).to_numpy()
        zones[ok] = mapped[ok]
    if country_column in people:
        country = _key(people[country_column]).str.replace("_", " ", regex=False)
        country = country.replace(_COUNTRY_ALIASES)
        single = country.map(_COUNTRY_ZONES)
        by_state = pd.Series(pd.NA, index=people.index, dtype=object)
        if state_column in people:
            state = _key(people[state_column])
            for name, table in _STATE_ZONES.items():
                here = (country == name).fillna(False).to_numpy()
                by_state[here] = state[here].map(table)
        found = single.where(single.notna(), by_state)
        ok = found.notna().to_numpy()
        zones[ok] = found[ok]
    if events_zones is not None and len(events_zones):
        told = events_zones.reindex(people.index)
        ok = told.notna().to_numpy()
        zones[ok] = told[ok]
    return zones


def local_hour_of_week(when: pd.Series, zones: pd.Series) -> pd.Series:
    """Hour of the week (0 = Monday 00:00) of each aware time on its own zone's clock.

    ``when`` and ``zones`` align by position; converted one zone at a time (a store has few)."""
    stamps = pd.to_datetime(when, utc=True).reset_index(drop=True)
    names = zones.astype(object).reset_index(drop=True)
    out = pd.Series(0, index=stamps.index, dtype="int64")
    for name in names.unique():
        rows = names == name
        try:
            local = stamps[rows].dt.tz_convert(zone_info(str(name)))
        except (ValueError, ZoneInfoNotFoundError):  # person_zones gives known names only
            local = stamps[rows]
        out[rows] = (local.dt.day_of_week * 24 + local.dt.hour).to_numpy()
    return out.set_axis(when.index)
