"""Screenshots of a plan map and a comparison map for the docs, taken in the same
headless Chromium, with no network, as the browser tests (:mod:`tests.browser`).

    python -m tests.map_screenshots RUN_DIR COMPARE_DIR [OUT_DIR]

writes ``OUT_DIR/map.png`` (``RUN_DIR/map.html``) and ``OUT_DIR/comparison-map.png``
(``COMPARE_DIR/comparison_map.html``), default ``docs/``, each reduced to a palette
of 256 colours so that it stays small.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.browser import inspect_map

WINDOW = (1280, 1000)


def screenshot(html: Path, png: Path) -> int:
    """Open ``html`` offline and save it as a small palette PNG; its size in bytes."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "shot.png"
        info = inspect_map(html, raw, window=WINDOW)
        if info["errors"]:
            raise RuntimeError(f"{html}: script errors {info['errors']}")
        image = Image.open(raw).convert("RGB").quantize(colors=256, dither=Image.Dither.NONE)
        png.parent.mkdir(parents=True, exist_ok=True)
        image.save(png, optimize=True)
    return png.stat().st_size


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        sys.stderr.write(__doc__ or "")
        return 2
    run, compare = Path(argv[0]), Path(argv[1])
    out = Path(argv[2]) if len(argv) == 3 else Path("docs")
    for html, png in (
        (run / "map.html", out / "map.png"),
        (compare / "comparison_map.html", out / "comparison-map.png"),
    ):
        sys.stdout.write(f"{png}: {screenshot(html, png):,} bytes\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
