"""Bounds on what one request may make the server do, checked before pygeoapi sees it.

- **Body size**: a POST, PUT or PATCH may send at most ``LimitSettings.max_body_bytes``
  (a declared ``Content-Length`` over it is answered 413 at once; a chunked body is read
  up to the limit first).
- **CQL2 size**: a filter (``filter=`` CQL2 text, or a CQL2 JSON search body) may have at
  most ``cql2_max_nodes`` nodes (conditions, operators, properties, values) and
  ``cql2_max_vertices`` vertices in its geometry literals: the filter becomes one SQL
  statement, and a huge one costs the planner before the statement timeout applies.
  Answered 400 naming the limit. A filter that does not parse is left to pygeoapi, which
  names the syntax error.

Statement timeouts are set on the connections (``onemap.serve.connections``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, request

from onemap.core.settings import LimitSettings, env_name

BODY_METHODS = ("POST", "PUT", "PATCH")
CQL2_JSON_TYPES = ("application/query-cql-json", "application/cql2+json")


def _error(status: int, code: str, description: str) -> Response:
    body = json.dumps({"code": code, "type": code, "description": description})
    return Response(body, status=status, mimetype="application/json")


def _children(node: Any) -> Iterator[Any]:
    import pygeofilter.ast as ast

    if isinstance(node, ast.Node):
        yield from node.get_sub_nodes()
    elif isinstance(node, list | tuple):
        yield from node


def _vertices(geometry: dict[str, Any]) -> int:
    """Positions in a GeoJSON geometry (collections included)."""
    count, stack = 0, [geometry.get("coordinates", ())]
    stack += [g for g in geometry.get("geometries", ()) if isinstance(g, dict)]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.append(item.get("coordinates", ()))
        elif isinstance(item, list | tuple) and item and isinstance(item[0], int | float):
            count += 1
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return count


def cql2_size(tree: Any) -> tuple[int, int]:
    """(nodes, vertices) of a parsed filter (pygeofilter's AST)."""
    import pygeofilter.values as values

    nodes = vertices = 0
    stack = [tree]
    while stack:
        node = stack.pop()
        nodes += 1
        if isinstance(node, values.Geometry):
            vertices += _vertices(node.geometry)
        stack.extend(_children(node))
    return nodes, vertices


def cql2_problem(tree: Any, limits: LimitSettings) -> str | None:
    """Why the filter is too large, or None."""
    nodes, vertices = cql2_size(tree)
    if nodes > limits.cql2_max_nodes:
        name = env_name(LimitSettings, "cql2_max_nodes")
        return f"the filter has {nodes} nodes; at most {limits.cql2_max_nodes} ({name})"
    if vertices > limits.cql2_max_vertices:
        name = env_name(LimitSettings, "cql2_max_vertices")
        return (
            f"the filter's geometries have {vertices} vertices; at most "
            f"{limits.cql2_max_vertices} ({name})"
        )
    return None


def _parsed_filter() -> Any:
    """The request's CQL2 filter parsed, or None (no filter, or one pygeoapi must judge)."""
    from pygeofilter.parsers.cql2_json import parse as parse_json
    from pygeofilter.parsers.cql2_text import parse as parse_text

    try:
        text = request.args.get("filter")
        if request.method == "GET" and text:
            return parse_text(text)
        mimetype = (request.mimetype or "").lower()
        if request.method == "POST" and mimetype in CQL2_JSON_TYPES:
            return parse_json(json.loads(request.get_data(cache=True)))
    except Exception:  # noqa: BLE001 - any parse failure: pygeoapi answers it
        return None
    return None


def install(app: Flask, limits: LimitSettings | None = None) -> None:
    """Register the checks on pygeoapi's Flask app."""
    limits = limits or LimitSettings()
    app.config["MAX_CONTENT_LENGTH"] = limits.max_body_bytes

    @app.before_request
    def _onemap_limits() -> Response | None:
        if request.method in BODY_METHODS:
            name = env_name(LimitSettings, "max_body_bytes")
            size = request.content_length
            if size is not None and size > limits.max_body_bytes:
                return _error(
                    413,
                    "PayloadTooLarge",
                    f"the body has {size} bytes; at most {limits.max_body_bytes} ({name})",
                )
            if size is None and "chunked" in request.headers.get("Transfer-Encoding", ""):
                # read it now, up to the limit, and hand on what was read (werkzeug does
                # not bound a chunked body: gunicorn marks it wsgi.input_terminated)
                wsgi = request.environ  # the WSGI environment of the request
                data = wsgi["wsgi.input"].read(limits.max_body_bytes + 1)
                if len(data) > limits.max_body_bytes:
                    return _error(
                        413,
                        "PayloadTooLarge",
                        f"the body has more than {limits.max_body_bytes} bytes ({name})",
                    )
                wsgi["wsgi.input"] = io.BytesIO(data)
                wsgi["CONTENT_LENGTH"] = str(len(data))
        if "/items" not in request.path:
            return None
        tree = _parsed_filter()
        problem = cql2_problem(tree, limits) if tree is not None else None
        return _error(400, "InvalidParameterValue", problem) if problem else None
