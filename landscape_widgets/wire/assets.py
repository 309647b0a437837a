"""Where the built front-end lives, and the tables Python shares with it.

The JS build (``js/build.mjs``) writes the bundles into ``static/`` and copies
the JSON tables of ``js/src/`` beside them, so one file is read by both sides
(the colour maps, the role colours). A checkout whose bundle is not built yet
falls back on the sources in ``js/src/``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent.parent / "static"
_SOURCES = STATIC.parent.parent / "js" / "src"


@functools.cache
def shared_table(name: str) -> Any:
    """The parsed JSON table ``name`` (e.g. ``"colormaps.json"``)."""
    places = (STATIC / name, _SOURCES / name)
    for path in places:
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    raise FileNotFoundError(
        f"{name} not found; build the front-end (npm run build in js/) "
        f"or reinstall the package. Looked in: {', '.join(map(str, places))}"
    )
