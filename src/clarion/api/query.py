"""Query parameters a route does not declare are refused (422 naming each one), so a
misspelt or unsupported filter (``?reason=``) never silently widens an answer."""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from clarion.api.errors import error_body


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


#: Declared names per route, by id (routes are not hashable); the route is kept
#: in the value so that its id is never reused while the entry exists.
_DECLARED: dict[int, tuple[APIRoute, frozenset[str]]] = {}


def _declared(route: APIRoute) -> frozenset[str]:
    found = _DECLARED.get(id(route))
    if found is None:
        found = _DECLARED[id(route)] = (route, frozenset(_query_names(route.dependant)))
    return found[1]


async def known_query_only(request: Request) -> None:
    """A dependency for list and read endpoints: 422 for any undeclared parameter."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = _declared(route)
    unknown = [k for k in dict.fromkeys(request.query_params.keys()) if k not in declared]
    if unknown:
        raise HTTPException(
            422,
            detail=error_body(
                "invalid_request",
                "the request has unknown query parameters",
                [{"field": k, "problem": "unknown query parameter"} for k in unknown],
            ),
        )
