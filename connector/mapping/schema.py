"""Generate mappings/mapping.schema.json from the typed models, so editors can check YAML as typed.

Run `python -m connector.mapping.schema [output]` after changing the models; a test fails when
the committed copy drifts from what the models generate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from connector.mapping.models import MappingFile

DEFAULT_OUTPUT = Path("mappings/mapping.schema.json")


def mapping_schema() -> dict[str, Any]:
    """The JSON Schema of a mappings/*.yaml file."""
    return MappingFile.model_json_schema()


def render_schema() -> str:
    """The schema as the exact text committed to mappings/mapping.schema.json."""
    return json.dumps(mapping_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the schema to the given path (default mappings/mapping.schema.json)."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0].startswith("-"):  # --help, or a mistyped option: never a file name
        print(__doc__)
        return 0 if args[0] in ("-h", "--help") else 2
    out = Path(args[0]) if args else DEFAULT_OUTPUT
    out.write_text(render_schema(), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
