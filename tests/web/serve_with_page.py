"""Run ``her2kit serve`` with the web page's routers added, when the app's router list does
not name them yet (``python tests/web/serve_with_page.py serve --port ...``).

The browser tests start the service through this file only in that case; once
``her2kit.api.app.ROUTERS`` lists ``her2kit.api.viewer`` and ``her2kit.api.web`` they start
``her2kit serve`` itself. Either way it is the same command code: only the list differs.
"""

from __future__ import annotations

import sys

PAGE_ROUTERS = ("her2kit.api.viewer", "her2kit.api.web")


def main() -> None:
    from her2kit.api import app
    from her2kit.cli import main as cli_main

    app.ROUTERS = tuple(app.ROUTERS) + tuple(r for r in PAGE_ROUTERS if r not in app.ROUTERS)
    sys.argv = ["her2kit", *sys.argv[1:]]
    cli_main()


if __name__ == "__main__":
    main()
