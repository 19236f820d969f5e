"""Charts: Plotly.js served from the installed `plotly` package (no CDN, no build step), and
dataset profiles turned into the chart data that `static/charts.js` draws."""

from __future__ import annotations

import gzip
import hashlib
import html
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from modelyard.data.schemas import ColumnProfile, ProfilePublic
from modelyard.errors import NotFoundError

router = APIRouter(include_in_schema=False)

PLOTLY_PATH = "/static/vendor/plotly.min.js"
NULL_LABEL = "(null)"
# Plotly's bundled MapLibre injects its stylesheet as a <style> element with content, which
# the CSP refuses (and reports) unless an element with its id is already on the page.
_MAPLIBRE_STYLE = re.compile(
    rb'getElementById\("([0-9a-f]{16,64})"\)\)\{var \w+=document\.createElement\("style"\)'
)


@dataclass(frozen=True)
class PlotlyBundle:
    script: bytes
    etag: str
    style_guard: str

    @property
    def src(self) -> str:
        return f"{PLOTLY_PATH}?v={self.etag}"


@cache
def find_plotly() -> PlotlyBundle | None:
    """plotly.min.js from site-packages/plotly/package_data, read once on first use."""
    try:
        script = resources.files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    guard = _MAPLIBRE_STYLE.search(script)
    return PlotlyBundle(
        script=script,
        etag=hashlib.sha256(script).hexdigest()[:16],
        style_guard=guard.group(1).decode() if guard else "",
    )


def plotly_bundle() -> PlotlyBundle:
    bundle = find_plotly()
    if bundle is None:
        raise NotFoundError("plotly.min.js is not installed (pip install plotly)")
    return bundle


@cache
def _gzipped(etag: str) -> bytes:
    return gzip.compress(plotly_bundle().script, compresslevel=6, mtime=0)


def plotly_context() -> dict[str, str]:
    """What a page with charts needs: the script URL and the id that quiets MapLibre's CSS.
    Without plotly installed the page still renders; charts.js says why there are no charts."""
    bundle = find_plotly()
    if bundle is None:
        return {"src": "", "style_guard": ""}
    return {"src": bundle.src, "style_guard": bundle.style_guard}


@router.get(PLOTLY_PATH)
def plotly_script(request: Request) -> Response:
    bundle = plotly_bundle()
    headers = {
        # The URL carries the content hash, so a new plotly version is a new URL.
        "Cache-Control": "public, max-age=31536000, immutable",
        "ETag": f'"{bundle.etag}"',
        "Vary": "Accept-Encoding",
    }
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    media_type = "text/javascript; charset=utf-8"
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = _gzipped(bundle.etag)
        return Response(
            body, media_type=media_type, headers={**headers, "Content-Encoding": "gzip"}
        )
    return Response(bundle.script, media_type=media_type, headers=headers)


def _column_chart(index: int, column: ColumnProfile) -> dict[str, Any] | None:
    chart_id = f"chart-{index}"
    if column.histogram is not None and column.histogram.counts:
        bins = list(pairwise(column.histogram.edges))
        return {
            "id": chart_id,
            "column": column.name,
            "kind": "histogram",
            "x": [(lo + hi) / 2 for lo, hi in bins],
            "width": [hi - lo for lo, hi in bins],
            "labels": [f"{lo:.4g} to {hi:.4g}" for lo, hi in bins],
            "y": column.histogram.counts,
        }
    if column.top:
        return {
            "id": chart_id,
            "column": column.name,
            "kind": "top",
            # Plotly reads a subset of HTML in labels (<b>, <a href>); values are data, so
            # their markup is escaped and shown as typed.
            "x": [NULL_LABEL if t.value is None else html.escape(t.value) for t in column.top],
            "y": [t.count for t in column.top],
        }
    return None


def profile_charts(profile: ProfilePublic | None) -> list[dict[str, Any]]:
    """One chart per column worth drawing: a histogram for numbers, else its top values."""
    if profile is None:
        return []
    charts = [_column_chart(i, c) for i, c in enumerate(profile.columns)]
    return [c for c in charts if c is not None]
