"""The lab service (``her2kit serve``): a FastAPI app over :mod:`her2kit.store`.

:func:`her2kit.api.app.create_app` builds the app from a
:class:`~her2kit.api.settings.ServiceSettings`; nothing is created at import. The routers
are listed once, in :data:`her2kit.api.app.ROUTERS`.
"""
