"""Generate models/texts.schema.json from the typed settings, so editors check the YAML as it
is typed.

Run ``python -m connector.texts.text_schema`` after changing ``connector/texts/text_config.py``;
a test fails when the committed copy drifts from what the model generates.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from connector.texts.text_config import TextsConfig

SCHEMA_FILE = "texts.schema.json"


def render() -> str:
    """The schema as the exact text committed beside the YAML."""
    return json.dumps(TextsConfig.model_json_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the schema into the given folder (default models/)."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0].startswith("-"):
        print(__doc__)
        return 0 if args[0] in ("-h", "--help") else 2
    folder = Path(args[0]) if args else Path("models")
    (folder / SCHEMA_FILE).write_text(render(), encoding="utf-8")
    print(f"wrote {folder / SCHEMA_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
