"""A local stand-in for Overpass and Nominatim on 127.0.0.1, answering from the extract.

It serves ``/api/status`` and ``/api/interpreter`` like the Overpass API (drivable ways
with a node inside the query polygon's bounding box, and their nodes; for a query of
``amenity=charging_station``, the ``stations`` given, as tagged nodes), ``/search``
like Nominatim (one administrative boundary: the configured polygon) and ``/v3/poi``
like the Open Charge Map API (the ``ocm`` records inside its ``boundingbox``). ``mode`` makes it
fail on purpose: ``"http500"``, ``"slow"`` (answers after ``slow_s`` seconds) or
``"empty"`` (no elements).
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import osmium
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from siting._osm import is_drivable

STATUS = (
    "Connected as: 1\nCurrent time: 2026-01-01T00:00:00Z\nAnnounced endpoint: none\n"
    "Rate limit: 0\n2 slots available now.\n"
    "Currently running queries (pid, space limit, time limit, start time):\n"
)


@functools.lru_cache(maxsize=2)
def load_ways(pbf: Path) -> tuple[dict[int, tuple[float, float]], list[dict[str, Any]]]:
    """Drivable ways of the extract (missing node refs dropped, as Overpass never has them)."""
    coords: dict[int, tuple[float, float]] = {}
    ways: list[dict[str, Any]] = []
    proc = osmium.FileProcessor(str(pbf), osmium.osm.NODE | osmium.osm.WAY).with_locations()
    for obj in proc:
        if not isinstance(obj, osmium.osm.Way) or not is_drivable(obj.tags):
            continue
        refs = []
        for n in obj.nodes:
            if n.location.valid():
                coords[n.ref] = (n.location.lat, n.location.lon)
                refs.append(n.ref)
        if len(refs) >= 2:
            ways.append(
                {"type": "way", "id": obj.id, "nodes": refs, "tags": {t.k: t.v for t in obj.tags}}
            )
    return coords, ways


class _QuietServer(ThreadingHTTPServer):
    """Records handler errors (a slow answer to a client that gave up) instead of printing."""

    errors: list[str]

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        self.errors.append(repr(sys.exc_info()[1]))


class FakeOSM:
    """Start with ``with FakeOSM(pbf, area) as srv:``; ``srv.url`` is the base URL."""

    def __init__(
        self,
        pbf: Path,
        area: BaseGeometry,
        *,
        mode: str = "ok",
        slow_s: float = 5.0,
        stations: list[dict[str, Any]] | None = None,
        ocm: list[dict[str, Any]] | None = None,
    ):
        self.stations = stations or []
        self.ocm = ocm or []
        self.coords, self.ways = load_ways(pbf)
        self.area = area
        self.mode = mode
        self.slow_s = slow_s
        self.requests: list[str] = []
        self.queries: list[str] = []
        handler = self._handler()
        self.server = _QuietServer(("127.0.0.1", 0), handler)
        self.server.errors = []
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeOSM:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---------------------------------------------------------------- answers
    def overpass(self, query: str) -> dict[str, Any]:
        self.queries.append(query)
        if self.mode == "empty":
            return {"version": 0.6, "elements": []}
        polys = re.findall(r"poly:['\"]([^'\"]+)['\"]", query)
        nums = [float(v) for p in polys for v in p.split()]
        lats, lons = nums[0::2], nums[1::2]
        s, n, w, e = min(lats), max(lats), min(lons), max(lons)
        if "charging_station" in query:
            nodes = [
                {"type": "node", **st}
                for st in self.stations
                if s <= st["lat"] <= n and w <= st["lon"] <= e
            ]
            return {"version": 0.6, "generator": "siting fake Overpass", "elements": nodes}
        inside = {k for k, (la, lo) in self.coords.items() if s <= la <= n and w <= lo <= e}
        ways = [wy for wy in self.ways if any(r in inside for r in wy["nodes"])]
        used = sorted({r for wy in ways for r in wy["nodes"]})
        nodes = [
            {"type": "node", "id": r, "lat": self.coords[r][0], "lon": self.coords[r][1]}
            for r in used
        ]
        return {"version": 0.6, "generator": "siting fake Overpass", "elements": nodes + ways}

    def open_charge_map(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        """Records inside ``boundingbox=(south,west),(north,east)``, as the OCM API."""
        if self.mode == "empty":
            return []
        nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", query["boundingbox"][0])]
        s, w, n, e = nums
        return [
            rec
            for rec in self.ocm
            if s <= rec["AddressInfo"]["Latitude"] <= n
            and w <= rec["AddressInfo"]["Longitude"] <= e
        ]

    def nominatim(self) -> list[dict[str, Any]]:
        if self.mode == "empty":
            return []
        w, s, e, n = self.area.bounds
        c = self.area.representative_point()
        return [
            {
                "place_id": 1,
                "osm_type": "relation",
                "osm_id": 2465058,
                "lat": str(c.y),
                "lon": str(c.x),
                "class": "boundary",
                "type": "administrative",
                "place_rank": 12,
                "importance": 0.8,
                "addresstype": "city",
                "name": "Test area",
                "display_name": "Test area, Almaty, Kazakhstan",
                "boundingbox": [str(s), str(n), str(w), str(e)],
                "geojson": mapping(self.area),
            }
        ]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # silence the default stderr log
                pass

            def _send(self, code: int, body: str, ctype: str = "application/json") -> None:
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _fail_or_wait(self) -> bool:
                if fake.mode == "http500":
                    self._send(500, "Internal Server Error", "text/plain")
                    return True
                if fake.mode == "slow":
                    time.sleep(fake.slow_s)
                return False

            def do_GET(self) -> None:
                fake.requests.append(self.path)
                if self.path.startswith("/api/status"):
                    self._send(200, STATUS, "text/plain")
                elif self.path.startswith("/search"):
                    if not self._fail_or_wait():
                        self._send(200, json.dumps(fake.nominatim()))
                elif self.path.startswith("/v3/poi"):
                    query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                    if not self._fail_or_wait():
                        self._send(200, json.dumps(fake.open_charge_map(query)))
                else:
                    self._send(404, "not found", "text/plain")

            def do_POST(self) -> None:
                fake.requests.append(self.path)
                length = int(self.headers.get("Content-Length", 0))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                if not self.path.startswith("/api/interpreter"):
                    self._send(404, "not found", "text/plain")
                elif not self._fail_or_wait():
                    self._send(200, json.dumps(fake.overpass(form.get("data", [""])[0])))

        return Handler
