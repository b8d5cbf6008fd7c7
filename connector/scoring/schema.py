"""Generate models/intent.schema.json and models/lead_conversion.schema.json from the typed
settings, so editors check the YAML as it is typed.

Run ``python -m connector.scoring.schema`` after changing ``connector/scoring/config.py``; a
test fails when a committed copy drifts from what the models generate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from connector.scoring.config import IntentConfig, LeadConversionConfig

SCHEMAS: dict[str, type[BaseModel]] = {
    "intent.schema.json": IntentConfig,
    "lead_conversion.schema.json": LeadConversionConfig,
}


def render(model: type[BaseModel]) -> str:
    """The schema as the exact text committed beside the YAML."""
    return json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write both schemas into the given folder (default models/)."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0].startswith("-"):
        print(__doc__)
        return 0 if args[0] in ("-h", "--help") else 2
    folder = Path(args[0]) if args else Path("models")
    for name, model in SCHEMAS.items():
        (folder / name).write_text(render(model), encoding="utf-8")
        print(f"wrote {folder / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
