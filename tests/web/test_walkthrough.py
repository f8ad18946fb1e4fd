"""A case end to end in the browser: register, upload, analyse, view, override, sign out,
download the final PDF, read the history — as a technologist and as a pathologist."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ACCESSION = "S26-0420"


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A generated IHC 3+ region (her2kit synth-ihc, TIFF with its pixel size) and a small
    JPEG-tiled slide pyramid of a generated 1+ region."""
    from her2kit.io.slide_writer import write_slide
    from her2kit.synthetic.ihc import generate_ihc_region

    folder = tmp_path_factory.mktemp("images")
    field = folder / "field-3plus.tif"
    subprocess.run([sys.executable, "-m", "her2kit", "synth-ihc", str(field), "--score", "3+",
                    "--size", "512", "--seed", "7"], check=True, capture_output=True,
                   env=os.environ | {"PYTHONPATH": str(Path(__file__).parents[2] / "src")},
                   timeout=120)
    region = generate_ihc_region(shape_px=(1536, 2048), pixel_size_um=0.5, target_score="1+",
                                 seed=3)
    slide = folder / "slide-1plus.tif"
    write_slide(slide, region.image, pixel_size_um=0.5, flavour="tiff", tile_px=256)
    return {"field": field, "slide": slide}


def _case_page(pages, page, accession=ACCESSION):
    page.goto(f"{pages.server.url}/#/cases")
    page.fill("#search", accession)
    page.click(f"tr[data-accession='{accession}'] a")
    page.wait_for_selector(f"h1:has-text('Case {accession}')")


def _upload(page, path):
    with page.expect_file_chooser() as fc:
        page.click("label[for=file-input]")
    fc.value.set_files(str(path))
    page.wait_for_selector(f"li[data-upload-id] >> text={path.name}")


def _patch_rgb(page, x, y, r=2):
    """Mean RGB of a (2r+1)² patch of the page at (x, y) CSS px."""
    from io import BytesIO

    from PIL import Image

    png = page.screenshot(clip={"x": x - r, "y": y - r, "width": 2 * r + 1, "height": 2 * r + 1})
    return np.asarray(Image.open(BytesIO(png)).convert("RGB")).reshape(-1, 3).mean(axis=0)


def _technologist(pages, shots, images):
    page = pages.new()
    shots(page, "login")
    pages.login(page, "tess")
    shots(page, "case-list-empty")
    page.click("#new-case-button")
    page.fill("#nc-accession", ACCESSION)
    page.select_option("#nc-specimen", "core biopsy")
    page.select_option("#nc-laterality", "left")
    shots(page, "register-case")
    page.click("#new-case button[type=submit]")
    page.wait_for_selector(f"h1:has-text('Case {ACCESSION}')")
    assert page.inner_text("[data-status]") == "Awaiting analysis"
    _upload(page, images["field"])
    _upload(page, images["slide"])
    page.select_option("#job-image", label=images["field"].name)
    shots(page, "uploaded")
    page.click("#job-start")
    page.wait_for_selector("li[data-job][data-status=done]", timeout=180_000)
    page.wait_for_selector("[data-testid=score]")
    assert page.inner_text("[data-testid=score]") == "IHC 3+"
    assert page.inner_text("[data-status]") == "Analysed"
    # A technologist reviews nothing and signs nothing out.
    assert page.locator("#sign-out").count() == 0
    assert page.locator("form.review").count() == 0
    shots(page, "analysed-technologist", full_page=True)
    return page


def _viewer_toggles_cells(pages, shots, page):
    page.click("[id^=open-viewer-]")
    page.wait_for_function("() => document.getElementById('viewer')?.her2kit?.ready()")
    page.wait_for_function(
        "() => ['outlines', 'cells'].includes(document.getElementById('viewer').her2kit.mode())")
    uid = page.url.split("/viewer/")[1].split("?")[0]
    cells = page.request.get(f"{pages.server.url}/api/viewer/{uid}/cells/0_0").json()
    info = page.request.get(f"{pages.server.url}/api/viewer/{uid}").json()
    # A complete-intense cell well inside the view.
    k = next(i for i, c in enumerate(info["overlay"]["classes"]) if c["key"] == "complete_intense")
    i = next(j for j in range(cells["n"]) if cells["c"][j] == k and cells["counted"][j]
             and 60 < cells["x"][j] < 450 and 60 < cells["y"][j] < 450)
    page.wait_for_timeout(800)  # the overlay tile arrives and is drawn
    box = page.locator("#viewer").bounding_box()
    at = page.evaluate("([x, y]) => document.getElementById('viewer').her2kit.imageToElement(x, y)",
                       [cells["x"][i], cells["y"][i]])
    x, y = box["x"] + at["x"], box["y"] + at["y"]
    shots(page, "viewer-overlay")
    with_layer = _patch_rgb(page, x, y)
    page.uncheck("input[data-layer=complete_intense]")
    page.wait_for_timeout(300)
    without = _patch_rgb(page, x, y)
    shots(page, "viewer-complete-intense-off")
    page.check("input[data-layer=complete_intense]")
    page.wait_for_timeout(300)
    again = _patch_rgb(page, x, y)
    # The cell's mark (vermillion, 213 94 0) is drawn, gone with its layer, and back.
    assert np.abs(with_layer - without).sum() > 60, (with_layer, without)
    assert np.abs(with_layer - again).sum() < 12, (with_layer, again)
    # Zoomed out far enough, a slide shows the class-density heatmap instead of cells.
    page.go_back()


def test_a_case_end_to_end(pages, shots, images):
    tech = _technologist(pages, shots, images)
    # The slide: Deep Zoom tiles through the slide reader, no analysis yet.
    tech.click(f"li[data-upload-id]:has-text('{images['slide'].name}') >> text=View")
    tech.wait_for_function("() => document.getElementById('viewer')?.her2kit?.ready()")
    assert "2,048 × 1,536 px" in tech.inner_text(".viewer-side")
    shots(tech, "viewer-slide")

    path = pages.new()
    pages.login(path, "paula")
    _case_page(pages, path)
    assert path.locator("form.review").count() == 1
    shots(path, "pathologist-case", full_page=True)
    _viewer_toggles_cells(pages, shots, path)
    path.wait_for_selector("form.review")
    path.check("#override-1")
    path.select_option("#ov-1-score", "2+")
    reason = ("Membrane staining is moderate, not intense, at 10x; several cells are cut "
              "tangentially.")
    path.fill("#reason-1", reason)
    shots(path, "override-typed")
    # The session ends while the reason is typed: back at login, then back to the case
    # with the reason still there.
    path.context.clear_cookies()
    path.click("#review-submit-1")
    path.wait_for_selector("#username")
    assert "session has ended" in path.inner_text("#banner")
    shots(path, "session-expired")
    path.fill("#username", "paula")
    path.fill("#password", "paula-password")
    path.click("button[type=submit]")
    path.wait_for_selector("#reason-1")
    assert path.input_value("#reason-1") == reason
    assert path.is_checked("#override-1")
    path.click("#review-submit-1")
    path.wait_for_selector("[data-review-state=overridden]")
    assert "IHC 2+" in path.inner_text("[data-review-state=overridden]")
    path.click("#sign-out")
    path.wait_for_selector("#signed-out-note")
    assert path.inner_text("[data-status]") == "Signed out"
    # A signed-out case shows no edit control.
    for sel in ("form.review", "#job-form", "#file-input", "#sign-out"):
        assert path.locator(sel).count() == 0, sel
    path.click("#make-report")
    path.wait_for_selector("li[data-status=final]")
    with path.expect_download() as dl:
        path.click("li[data-status=final] a[data-file$='lab.pdf']")
    pdf = dl.value.path().read_bytes()
    assert pdf.startswith(b"%PDF")
    shots(path, "signed-out-final-report", full_page=True)
    history = path.inner_text("table.history")
    for words in ("registered the case", "uploaded an image", "overrode the result", "IHC 2+",
                  reason, "signed the case out", "made a report"):
        assert words in history, words
    path.locator("table.history").scroll_into_view_if_needed()
    shots(path, "history")
    # Amend after sign-out: a new revision, reviewed and signed out again, reported amended.
    path.click("#amend-button")
    path.fill("#amend-reason", "Deeper levels show intense complete staining: 3+ stands.")
    path.click("#amend-form button[type=submit]")
    path.wait_for_selector("form.review")
    assert path.inner_text("[data-status]") == "Under review"
    path.check("#agree-1")
    path.click("#review-submit-1")
    path.wait_for_selector("[data-review-state=agreed]")
    path.click("#sign-out")
    path.wait_for_selector("#signed-out-note")
    assert path.inner_text("[data-status]") == "Amended"
    path.click("#make-report")
    path.wait_for_selector("li[data-status=amended]")
    assert "opened an amendment" in path.inner_text("table.history")
    shots(path, "amended", full_page=True)
    # The technologist sees the signed-out case, without any control to change it.
    _case_page(pages, tech)
    assert tech.locator("#job-form, #file-input, form.review, #amend-button").count() == 0


def test_ish_counts_and_signals_in_the_viewer(pages, shots, tmp_path):
    field = tmp_path / "dual-ish-group1.png"
    subprocess.run([sys.executable, "-m", "her2kit", "synth-ish", str(field), "--assay",
                    "dual-ish", "--scenario", "group1", "--size", "768", "--seed", "2"],
                   check=True, capture_output=True, timeout=120,
                   env=os.environ | {"PYTHONPATH": str(Path(__file__).parents[2] / "src")})
    page = pages.new()
    pages.login(page, "tess")
    page.click("#new-case-button")
    page.fill("#nc-accession", "S26-0421")
    page.uncheck("#nc-ihc")
    page.check("#nc-ish")
    page.select_option("#nc-ish-assay", "INFORM HER2 Dual ISH")
    page.click("#new-case button[type=submit]")
    page.wait_for_selector("h1:has-text('Case S26-0421')")
    _upload(page, field)
    page.fill("#job-mpp", "0.2")  # a PNG records no pixel size
    page.click("#job-start")
    page.wait_for_selector("li[data-job][data-status=done]", timeout=180_000)
    text = page.inner_text("section[data-test=ish]")
    assert "ISH group 1" in text and "HER2 / CEP17 ratio" in text
    shots(page, "ish-result", full_page=True)
    page.click("[id^=open-viewer-]")
    page.wait_for_function("() => document.getElementById('viewer')?.her2kit?.ready()")
    uid = page.url.split("/viewer/")[1].split("?")[0]
    tile = page.request.get(f"{pages.server.url}/api/viewer/{uid}/cells/0_0").json()
    assert tile["her2"] and len(tile["her2"]) == tile["n"] and tile["signals"]["x"]
    sig = tile["signals"]
    j = next(i for i in range(len(sig["x"])) if 40 < sig["x"][i] < 480 and 40 < sig["y"][i] < 480)
    page.wait_for_timeout(800)
    box = page.locator("#viewer").bounding_box()
    at = page.evaluate("([x, y]) => document.getElementById('viewer').her2kit.imageToElement(x, y)",
                       [sig["x"][j], sig["y"][j]])
    x, y = box["x"] + at["x"], box["y"] + at["y"]
    shots(page, "ish-viewer")
    before = _patch_rgb(page, x, y, r=1)
    page.uncheck("input[data-layer=signals]")
    page.wait_for_timeout(300)
    after = _patch_rgb(page, x, y, r=1)
    shots(page, "ish-viewer-signals-off")
    assert np.abs(before - after).sum() > 40, (before, after)
