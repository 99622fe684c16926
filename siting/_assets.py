"""Private helpers: make a rendered Folium page work without internet.

Folium links Leaflet and friends from CDNs. :func:`inline_assets` replaces
each known link with the file's content from an installed package (the XStatic
packages ship the very versions folium pins), turns the images of Leaflet's
stylesheet into data URIs, and drops assets the siting map does not use. Any
external script or stylesheet left afterwards is an error, so that a new
plugin cannot silently bring a CDN link back. Only the tile background still
needs a connection.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path

from siting.errors import SitingError

_SCRIPT = re.compile(r'<script\s+src="(?P<url>[^"]+)"\s*>\s*</script>')
_LINK = re.compile(r'<link\s+rel="stylesheet"\s+href="(?P<url>[^"]+)"\s*/?>')

#: Assets folium always links that siting's maps never use (no Bootstrap widgets, no
#: awesome-markers icons); matched on the end of the URL.
UNUSED = (
    "bootstrap.bundle.min.js",
    "bootstrap.min.css",
    "bootstrap-glyphicons.css",
    "fontawesome-free@6.2.0/css/all.min.css",
    "leaflet.awesome-markers.js",
    "leaflet.awesome-markers.css",
    "leaflet.awesome.rotate.min.css",
)


def _xstatic_dir(module: str) -> Path:
    import importlib

    return Path(importlib.import_module(f"xstatic.pkg.{module}").BASE_DIR)


def _leaflet_js() -> str:
    return (_xstatic_dir("leaflet") / "leaflet.js").read_text(encoding="utf-8")


def _leaflet_css() -> str:
    base = _xstatic_dir("leaflet")
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def data_uri(m: re.Match[str]) -> str:
        data = base64.b64encode((base / m.group(1)).read_bytes()).decode()
        return f"url(data:image/png;base64,{data})"

    return re.sub(r"url\((images/[\w\-.]+\.png)\)", data_uri, css)


def _jquery_js() -> str:
    return (_xstatic_dir("jquery") / "jquery.min.js").read_text(encoding="utf-8")


def _d3_js() -> str:
    return (_xstatic_dir("d3") / "d3.js").read_text(encoding="utf-8")


#: URL endings of linked assets and where their content comes from.
LOCAL: dict[str, Callable[[], str]] = {
    "leaflet@1.9.3/dist/leaflet.js": _leaflet_js,
    "leaflet@1.9.3/dist/leaflet.css": _leaflet_css,
    "jquery-3.7.1.min.js": _jquery_js,
    "d3/3.5.5/d3.min.js": _d3_js,  # branca's colour legend; d3 3.5.17 has the same v3 API
}


def inline_assets(html: str) -> str:
    """Return ``html`` with every linked script and stylesheet inlined or dropped.

    Raises
    ------
    SitingError
        A linked asset is neither known here nor known to be unused.
    """
    cache: dict[str, str] = {}

    def content(url: str) -> str | None:
        if url.endswith(UNUSED):
            return None
        for ending, loader in LOCAL.items():
            if url.endswith(ending):
                if ending not in cache:
                    cache[ending] = loader()
                return cache[ending]
        raise SitingError(f"map asset {url} has no offline copy; add it to siting/_assets.py")

    def script(m: re.Match[str]) -> str:
        text = content(m.group("url"))
        return "" if text is None else f"<script>{text}</script>"

    def style(m: re.Match[str]) -> str:
        text = content(m.group("url"))
        return "" if text is None else f"<style>{text}</style>"

    out = _LINK.sub(style, _SCRIPT.sub(script, html))
    left = external_assets(out)
    if left:
        raise SitingError(f"map still links external assets: {', '.join(left)}")
    return out


def external_assets(html: str) -> list[str]:
    """URLs of scripts and stylesheets that a page loads from elsewhere."""
    return [m.group("url") for m in (*_SCRIPT.finditer(html), *_LINK.finditer(html))]
