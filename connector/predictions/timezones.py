"""Each person's time zone, so a best send time is said in the clock they live by.

The rule, first match wins:

1. **A mapped zone field**: an IANA name (``Europe/Paris``) the org keeps on the record.
2. **The mailing address**: a country with one zone gives it; the United States, Canada and
   Australia go by state or province (a state split between two zones takes the zone most of its
   people live in, e.g. Texas -> America/Chicago); a country we cannot place alone, without a
   state, stays unplaced. Country and state match by name or ISO code, case-insensitive.
3. **UTC**, said as such, so the field never pretends to know a zone.

Names come from the IANA tz database (the ``zoneinfo`` module reads it); an unknown name in a
mapped field is ignored, not guessed at.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import pandas as pd

UTC_ZONE = "UTC"

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


def person_zones(
    people: pd.DataFrame,
    zone_column: str | None = None,
    country_column: str = "MailingCountry",
    state_column: str = "MailingState",
) -> pd.Series:
    """The IANA zone of each row of ``people`` by the module's rule (``UTC`` when unplaced).

    ``zone_column`` names a mapped field holding zone names; the country and state columns may
    be absent (a person then falls through to the next rule)."""
    zones = pd.Series(UTC_ZONE, index=people.index, dtype=object)
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
    if zone_column is not None and zone_column in people:
        known = available_timezones()
        mapped = people[zone_column].astype("string").str.strip()
        ok = mapped.isin(known).fillna(False).to_numpy()
        zones[ok] = mapped[ok]
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
            local = stamps[rows].dt.tz_convert(ZoneInfo(str(name)))
        except ZoneInfoNotFoundError:  # person_zones only gives known names; be safe
            local = stamps[rows]
        out[rows] = (local.dt.day_of_week * 24 + local.dt.hour).to_numpy()
    return out.set_axis(when.index)
