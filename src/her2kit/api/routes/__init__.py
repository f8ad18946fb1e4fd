"""One module per resource; each has a ``router`` (listed in :data:`her2kit.api.app.ROUTERS`)."""
