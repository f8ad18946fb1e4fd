"""One JSON error shape for every failure: ``{"error": {"code": ..., "message": ...}}``.

Validation errors name the field (``body.accession: ...``); an unknown route is 404, a
wrong method 405, a database that cannot be reached 503, anything unexpected 500 with no
internals in the message (the traceback goes to the log).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from her2kit.errors import Her2kitInputError, ServiceUnavailableError

__all__ = ["ApiError", "error_body", "install_error_handlers"]

log = logging.getLogger(__name__)

_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large",
          415: "unsupported_media_type", 422: "invalid", 500: "internal",
          503: "unavailable", 507: "insufficient_storage"}

DB_DOWN = "the database cannot be reached; the service retries on the next request"


class ApiError(Exception):
    """An error answered as is: HTTP status, a stable code and one line."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _response(status: int, code: str, message: str, headers=None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def _field(loc) -> str:
    return ".".join(str(p) for p in loc)


def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    where = _field(first.get("loc", ()))
    message = f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg")
    return _response(422, "invalid", message)


def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _CODES.get(exc.status_code, "error")
    detail = exc.detail if isinstance(exc.detail, str) else code
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such resource: {request.url.path}"
    if exc.status_code == 405:
        detail = f"method {request.method} is not allowed on {request.url.path}"
    return _response(exc.status_code, code, detail, getattr(exc, "headers", None))


def _database_error(exc: Exception) -> bool:
    from sqlalchemy.exc import DBAPIError, OperationalError, TimeoutError

    if isinstance(exc, OperationalError | TimeoutError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if _database_error(exc):
        log.warning("database unavailable: %s", exc)
        return _response(503, "database_unavailable", DB_DOWN, {"Retry-After": "5"})
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return _response(500, "internal", "internal server error (logged)")


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception to the one shape."""
    from sqlalchemy.exc import SQLAlchemyError

    app.add_exception_handler(ApiError, lambda r, e: _response(e.status, e.code, e.message,
                                                               e.headers))
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Her2kitInputError,
                              lambda r, e: _response(422, "invalid_input", str(e)))
    app.add_exception_handler(ServiceUnavailableError,
                              lambda r, e: _response(503, "unavailable", str(e)))
    app.add_exception_handler(SQLAlchemyError, _unexpected)
    app.add_exception_handler(Exception, _unexpected)
