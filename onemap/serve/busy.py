"""A statement the database cut short is a 503 with ``Retry-After`` on every path.

The feature and tile providers turn a timeout into ``ProviderBusyError`` (a 503) themselves
(``onemap.serve.provider.db_failure``). A process cannot: pygeoapi's ``DummyManager``
catches every exception a processor raises and answers 400 ``InvalidParameterValue``, as
if the client had sent a bad input. So a processor runs its queries inside
``busy_is_503()``, which notes a timeout on the request, and the after-request hook of
``install`` answers that request with a 503 instead (``onemap.serve.extras`` adds
``Retry-After`` to every 503).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from http import HTTPStatus

from flask import Flask, Response, g, has_request_context

from onemap.serve.provider import BUSY_SQLSTATES, ProviderBusyError


def sqlstate(exc: BaseException) -> str:
    """The SQLSTATE of a psycopg, psycopg2 or SQLAlchemy error, or of the error it was raised
    from (the indicators say which query failed in a ``UserError``); '' for anything else."""
    seen: BaseException | None = exc
    while seen is not None:
        orig = getattr(seen, "orig", None) or seen  # SQLAlchemy wraps the driver's error
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if code:
            return code
        seen = seen.__cause__
    return ""


@contextlib.contextmanager
def busy_is_503() -> Iterator[None]:
    """Mark the current request as cut short when a statement times out inside."""
    try:
        yield
    except Exception as exc:
        if sqlstate(exc) in BUSY_SQLSTATES and has_request_context():
            g.onemap_busy = True
        raise


def install(app: Flask) -> None:
    """Answer a request whose statement timed out with a 503."""

    @app.after_request
    def _onemap_busy(resp: Response) -> Response:
        if not g.pop("onemap_busy", False):
            return resp
        code = ProviderBusyError.ogc_exception_code
        body = {"code": code, "type": code, "description": ProviderBusyError.default_msg}
        return Response(
            json.dumps(body), status=HTTPStatus.SERVICE_UNAVAILABLE, mimetype="application/json"
        )
