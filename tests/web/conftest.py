"""Browser tests: Debian's Chromium driven by Playwright against ``her2kit serve``.

The browser is /usr/bin/chromium (``scripts/setup_chromium.sh`` installs it); Playwright's
own browser download cannot work offline. Without it, or without the built page
(``scripts/setup_web.sh``), the tests skip, or fail when ``HER2KIT_REQUIRE_BROWSER=1``
(``make test``). Each server runs on 127.0.0.1, on a free port, over a fresh data folder;
every page the tests open refuses, and records, any request that is not to 127.0.0.1.
Screenshots of each step go to ``out/web-screenshots/`` (``HER2KIT_SCREENSHOTS`` to move).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
REQUIRE_BROWSER_ENV = "HER2KIT_REQUIRE_BROWSER"
SCREENSHOTS = Path(os.environ.get("HER2KIT_SCREENSHOTS", REPO / "out" / "web-screenshots"))
#: (user name, role, display name); the password is NAME-password.
USERS = (("tess", "technologist", "Tess Technologist"),
         ("paula", "pathologist", "Dr Paula Pathologist"),
         ("ada", "admin", "Ada Admin"))


def _missing(what: str) -> None:
    if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
        pytest.fail(f"{what} ({REQUIRE_BROWSER_ENV}=1)")
    pytest.skip(what)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running ``her2kit serve``: its URL, data folder and process."""

    url: str
    data_dir: Path
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "src"), env.get("PYTHONPATH", "")) if p)
    return env


def _serve_command() -> list[str]:
    """``her2kit serve``, as a user runs it."""
    return [sys.executable, "-m", "her2kit"]


def start_server(tmp: Path, **settings: str) -> Server:
    """Add the users, start the service and wait for /api/health."""
    import httpx

    data = tmp / "data"
    env = _env() | {f"HER2KIT_SERVE_{k.upper()}": str(v) for k, v in settings.items()}
    for name, role, display in USERS:
        subprocess.run([sys.executable, "-m", "her2kit", "users", "add", name, "--role", role,
                        "--display-name", display, "--password-file", "-",
                        "--data-dir", str(data)], input=f"{name}-password\n", text=True,
                       check=True, capture_output=True, env=env, timeout=120)
    port = _free_port()
    log = tmp / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*_serve_command(), "serve", "--host", "127.0.0.1", "--port",
                                 str(port), "--data-dir", str(data), "--job-workers", "1"],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(f"http://127.0.0.1:{port}", data, proc, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"her2kit serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{server.url}/api/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"her2kit serve did not answer in 60 s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing (bash scripts/setup_chromium.sh installs it)")
    from her2kit.api.web import static_dir

    if not (static_dir() / "index.html").is_file():
        _missing("the web page is not built (bash scripts/setup_web.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("serve"), max_upload_bytes=8 * 1024 * 1024)
    yield srv
    srv.stop()


@dataclass
class Shots:
    """Numbered screenshots of one test, in SCREENSHOTS/<test>/."""

    folder: Path
    n: int = 0
    taken: list[Path] = field(default_factory=list)

    def __call__(self, page, name: str, **kw) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        page.screenshot(path=str(path), **kw)
        self.taken.append(path)
        return path


@pytest.fixture
def shots(request) -> Shots:
    folder = SCREENSHOTS / request.node.name.replace("[", "-").replace("]", "")
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return Shots(folder)


class Pages:
    """Browser contexts (one per user) whose requests may go to 127.0.0.1 only."""

    def __init__(self, browser, server: Server) -> None:
        self.browser, self.server = browser, server
        self.contexts: list = []
        self.outside: list[str] = []
        self.errors: list[str] = []

    def _guard(self, route) -> None:
        host = urlparse(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def new(self, *, width: int = 1440, height: int = 960):
        ctx = self.browser.new_context(viewport={"width": width, "height": height},
                                       accept_downloads=True)
        ctx.route("**/*", self._guard)
        ctx.set_default_timeout(30_000)
        self.contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return page

    def login(self, page, username: str) -> None:
        page.goto(f"{self.server.url}/#/login")
        page.fill("#username", username)
        page.fill("#password", f"{username}-password")
        page.click("button[type=submit]")
        page.wait_for_selector("#usernav .role")

    def close(self) -> None:
        for ctx in self.contexts:
            ctx.close()


@pytest.fixture
def pages(browser, server):
    p = Pages(browser, server)
    yield p
    p.close()
    assert p.outside == [], f"requests left 127.0.0.1: {p.outside}"
    assert p.errors == [], f"errors in the page: {p.errors}"
