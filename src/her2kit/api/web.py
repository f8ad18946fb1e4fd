"""The web page's files, served by `her2kit serve` from the package (no CDN, no network).

``scripts/setup_web.sh`` bundles ``web/`` (OpenSeadragon and the page's own code, with
esbuild) into ``her2kit/api/static/``; :data:`router` serves ``/`` (the page) and
``/static/<file>`` (only the files the build wrote: no path from the request reaches the
file system), and ``/api/web/config`` (upload limits and known assays, for the forms). The
page talks to the service only through ``/api`` on the same origin; the
Content-Security-Policy makes the browser refuse anything else.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from her2kit.api.deps import CurrentUser, ServiceDep

__all__ = ["ISH_KIT_ASSAY", "STATIC_FILES", "WEB_HEADERS", "router", "static_dir"]

#: The files ``web/build.mjs`` writes, and their media types.
STATIC_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "app.js.LEGAL.txt": "text/plain; charset=utf-8",
    "openseadragon-LICENSE.txt": "text/plain; charset=utf-8",
}

#: Same-origin only: scripts, styles, tiles and API calls; blob: for canvas snapshots.
WEB_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

_MISSING = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>her2kit: page not built</title></head><body style="font-family:sans-serif;margin:40px">
<h1>The web page is not built</h1><p>Run <code>bash scripts/setup_web.sh</code> (needs node
and npm; <code>make test</code> and <code>make demo</code> run it), then reload. The API is
at <a href="/docs">/docs</a>.</p></body></html>"""


def static_dir() -> Path:
    """The folder the page was built into (``her2kit/api/static``; may not exist)."""
    return Path(str(resources.files("her2kit.api").joinpath("static")))


router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> HTMLResponse:
    """The page (one HTML file; the hash routes are resolved in the browser)."""
    path = static_dir() / "index.html"
    if not path.is_file():
        return HTMLResponse(_MISSING, status_code=503, headers=WEB_HEADERS)
    return HTMLResponse(path.read_text(encoding="utf-8"), headers=WEB_HEADERS)


#: The count-ish assay (``--assay``) of each known ISH kit of :data:`her2kit.casefile.ASSAYS`.
ISH_KIT_ASSAY = {
    "PathVysion HER-2 DNA Probe Kit": "fish",
    "HER2 IQFISH pharmDx": "fish",
    "INFORM HER2 Dual ISH": "dual-ish",
    "SPoT-Light HER2 CISH": "cish",
    "HER2 CISH pharmDx": "cish",
}


@router.get("/api/web/config")
def config(user: CurrentUser, svc: ServiceDep) -> dict:
    """What the page needs to fill its forms: the upload limits it checks before sending
    (the service checks again), the known assays (kit, test, maker, regulatory status;
    ISH kits with the count-ish assay they need), and the IHC classes' words, colours
    (:data:`her2kit.viz.colors.CLASS_COLORS`) and shapes. Needs a login, as every route
    but health."""
    from her2kit.casefile import ASSAYS

    assays = [{"name": name, "test": test, "maker": maker, "status": status,
               "job_assay": ISH_KIT_ASSAY.get(name)} for name, (test, maker, status)
              in ASSAYS.items() if test in ("ihc", "ish")]
    from her2kit.api.viewer import class_table

    return {"max_upload_bytes": svc.settings.max_upload_bytes,
            "max_upload_pixels": svc.settings.max_upload_pixels, "assays": assays,
            "ihc_classes": class_table(None, "ihc")}


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    """One built file, by its name in :data:`STATIC_FILES`."""
    media_type = STATIC_FILES.get(name)
    path = static_dir() / name if media_type else None
    if path is None or not path.is_file():
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(path, media_type=media_type, headers=WEB_HEADERS)
