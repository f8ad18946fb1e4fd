"""Bad input in the browser: a wrong file type, an oversized file, content that is not what
its name says, a connection lost mid-upload; and the admin's page (no case controls)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from her2kit.io.export import png_bytes
    from her2kit.synthetic.ihc import generate_ihc_region

    folder = tmp_path_factory.mktemp("bad")
    (folder / "notes.txt").write_text("not an image\n")
    (folder / "huge.tif").write_bytes(b"II*\x00" + bytes(9 * 1024 * 1024))  # over 8 MB
    (folder / "fake.png").write_bytes(b"GIF89a" + bytes(2000))
    region = generate_ihc_region(shape_px=(256, 256), pixel_size_um=0.5, target_score="2+",
                                 seed=1)
    (folder / "good.png").write_bytes(png_bytes(region.image))
    return folder


def _choose(page, path):
    with page.expect_file_chooser() as fc:
        page.click("label[for=file-input]")
    fc.value.set_files(str(path))


def test_bad_files_leave_the_page_working(pages, shots, files):
    page = pages.new()
    pages.login(page, "tess")
    page.click("#new-case-button")
    page.fill("#nc-accession", "S26-BAD-1")
    page.click("#new-case button[type=submit]")
    page.wait_for_selector("h1:has-text('Case S26-BAD-1')")

    _choose(page, files / "notes.txt")
    msg = page.locator(".card:has(#images-title) .msg.error")
    assert "notes.txt: not an image the service takes" in msg.inner_text()
    _choose(page, files / "huge.tif")
    assert "huge.tif is 9.0 MB, over the 8.0 MB limit" in msg.inner_text()
    shots(page, "wrong-type-and-oversized")
    # Named .png, but not a PNG: the service refuses it and the page says why.
    _choose(page, files / "fake.png")
    page.wait_for_selector("li[data-pending='fake.png'] .msg.error")
    assert "image/png" in page.inner_text("li[data-pending='fake.png']") or \
        "PNG" in page.inner_text("li[data-pending='fake.png']")
    assert page.locator("li[data-pending='fake.png'] >> text=Retry the upload").count() == 0
    shots(page, "content-not-its-type")
    page.click("li[data-pending='fake.png'] >> text=Dismiss")

    # The connection drops during the upload: the page offers a retry of the same file.
    page.route("**/api/cases/*/uploads*", lambda route: route.abort("connectionreset"))
    _choose(page, files / "good.png")
    page.wait_for_selector("li[data-pending='good.png'] >> text=Retry the upload")
    assert "connection was lost" in page.inner_text("li[data-pending='good.png']")
    shots(page, "connection-lost")
    page.unroute("**/api/cases/*/uploads*")
    page.click("li[data-pending='good.png'] >> text=Retry the upload")
    page.wait_for_selector("li[data-upload-id] >> text=good.png")
    assert page.locator("li[data-pending]").count() == 0
    shots(page, "retried")
    # Still working: the analysis form is there for the uploaded image.
    assert page.locator("#job-form").count() == 1


def test_the_admin_sees_cases_but_no_case_controls(pages, shots):
    page = pages.new()
    pages.login(page, "ada")
    assert page.inner_text("#usernav .role") == "admin"
    assert page.locator("#new-case-button").count() == 0
    shots(page, "admin-case-list")
