"""Open a map in real headless Chromium (Debian's chromium + chromedriver) with no network."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def require_browser() -> None:
    """Fail (or skip when SITING_SKIP_BROWSER=1) if Chromium is not installed."""
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    msg = "Chromium/chromedriver not found: run scripts/setup.sh as root (Debian packages)"
    if os.environ.get("SITING_SKIP_BROWSER") == "1":
        pytest.skip(msg)
    pytest.fail(msg)


def inspect_map(
    html_path: Path,
    screenshot: Path,
    *,
    extra: str | None = None,
    window: tuple[int, int] = (1400, 1000),
) -> dict[str, Any]:
    """Load ``html_path`` from disk and report what Leaflet drew.

    Returns the Leaflet version, the number of maps, station markers (all and
    existing), the layer control's entries, whether the panel and legend are
    there, and the page's script errors (``errors``); with ``extra`` (a JavaScript
    expression) also its value, taken just before the screenshot (``extra``).
    ``window`` is the browser window's size in pixels.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    require_browser()
    profile = tempfile.mkdtemp(prefix="siting-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={window[0]},{window[1]}",
        # no network at all: every host name fails to resolve
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        driver.get(html_path.resolve().as_uri())
        deadline = time.monotonic() + 30
        info: dict[str, Any] = {}
        while time.monotonic() < deadline:
            info = driver.execute_script(
                """
                const maps = Object.keys(window).filter(
                    k => k.startsWith('map_') && window[k] instanceof (window.L ? L.Map : Object));
                return {
                  leaflet: typeof window.L !== 'undefined' ? L.version : null,
                  maps: maps.length,
                  stations: document.querySelectorAll('path.siting-station').length,
                  existing: document.querySelectorAll('path.siting-existing').length,
                  layers: Array.from(document.querySelectorAll(
                      '.leaflet-control-layers-list label > span > span'))
                      .map(s => s.textContent.trim()),
                  panel: !!document.getElementById('siting-panel'),
                  legend: !!document.getElementById('siting-legend'),
                  existing_on_top: (() => {
                      const all = Array.from(document.querySelectorAll('path.siting-station'));
                      const old = all.map(p => p.classList.contains('siting-existing'));
                      const first = old.indexOf(true);
                      return first === -1 || first > old.lastIndexOf(false);
                  })(),
                };
                """
            )
            if info.get("maps") and info.get("stations"):
                break
            time.sleep(0.25)
        if extra is not None:
            time.sleep(0.5)  # let the zoom-dependent marker sizes settle
            info["extra"] = driver.execute_script(f"return ({extra});")
        driver.save_screenshot(str(screenshot))
        # script errors of the page itself; tiles failing offline are expected
        info["errors"] = [
            e["message"]
            for e in driver.get_log("browser")
            if e["level"] == "SEVERE" and "net::ERR_" not in e["message"]
        ]
        return info
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
