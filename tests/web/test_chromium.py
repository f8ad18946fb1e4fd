"""Chromium starts headless offline and runs the page's bundle (no server needed)."""

from __future__ import annotations


def test_chromium_runs_the_bundle(browser):
    from her2kit.api.web import STATIC_FILES, static_dir

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    index = (static_dir() / "index.html").read_text(encoding="utf-8")

    def fulfil(route):
        name = route.request.url.split("/static/")[-1] if "/static/" in route.request.url else ""
        if name in STATIC_FILES:
            route.fulfill(path=str(static_dir() / name), content_type=STATIC_FILES[name])
        elif name:
            route.fulfill(status=404, body="")
        elif "/api/" in route.request.url:  # no service: not logged in
            route.fulfill(status=401, content_type="application/json",
                          body='{"error": {"code": "not_authenticated", "message": "log in"}}')
        else:
            route.fulfill(body=index, content_type="text/html")

    page.route("http://127.0.0.1:9/**", fulfil)
    page.goto("http://127.0.0.1:9/")
    # Not logged in: the bundle shows the login form.
    page.wait_for_selector("#username")
    assert page.title().startswith("her2kit")
    # The overlay draws on a 2-D canvas: headless Chromium without a GPU must draw and read.
    rgba = page.evaluate("""() => {
        const c = document.createElement('canvas'); c.width = c.height = 4;
        const g = c.getContext('2d'); g.fillStyle = '#d55e00'; g.fillRect(0, 0, 4, 4);
        return Array.from(g.getImageData(1, 1, 1, 1).data); }""")
    assert rgba == [213, 94, 0, 255]
    assert int(browser.version.split(".")[0]) >= 100
    page.close()
    assert errors == []
