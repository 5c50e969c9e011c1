"""Management endpoints: list components and versions, read a record, and (with the token) remove.

Reads are open; writes need ``Authorization: Bearer <token>`` with the token the server was
started with (``$SUPERLITE_API_TOKEN``). Without a configured token, writes are refused (403).
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Path, Query, Request

from superlite.errors import DependencyError
from superlite.serve.errors import LOOKUP_ERRORS, WRITE_ERRORS, ApiError, lookup_error
from superlite.serve.oip import MAX_VERSION, check_name, parse_version, state_of
from superlite.serve.schemas import ComponentVersions, RecordInfo, Removed

router = APIRouter(prefix="/api/components", tags=["Management"])


def require_token(request: Request) -> None:
    """Refuse a write unless the request carries the configured bearer token."""
    token = state_of(request).options.token
    if not token:
        raise ApiError(403, "management writes are disabled: start the server with $SUPERLITE_API_TOKEN set")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ApiError(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})


@router.get("", response_model=dict[str, list[str]], responses=LOOKUP_ERRORS)
def list_components(request: Request) -> Any:
    """Every stored component: ``{type_id: [identifiers]}``."""
    return state_of(request).db.show()


@router.get("/{type_id}/{identifier}", response_model=ComponentVersions, responses=LOOKUP_ERRORS)
def versions(request: Request, type_id: str, identifier: str) -> ComponentVersions:
    """The stored versions of one component."""
    check_name(type_id, "type")
    check_name(identifier, "identifier")
    try:
        found = state_of(request).db.show(type_id, identifier)
    except Exception as exc:
        raise lookup_error(exc) from None
    return ComponentVersions(type_id=type_id, identifier=identifier, versions=found)


@router.get("/{type_id}/{identifier}/versions/{version}", response_model=RecordInfo, responses=LOOKUP_ERRORS)
def record(request: Request, type_id: str, identifier: str, version: str) -> Any:
    """The stored record of one version (``latest`` for the newest)."""
    check_name(type_id, "type")
    check_name(identifier, "identifier")
    number = None if version == "latest" else parse_version(version)
    try:
        found = state_of(request).db.record(type_id, identifier, number)
    except Exception as exc:
        raise lookup_error(exc) from None
    return found.to_dict()


def _remove(request: Request, type_id: str, identifier: str, version: int | None, force: bool) -> dict[str, Any]:
    require_token(request)
    check_name(type_id, "type")
    check_name(identifier, "identifier")
    state = state_of(request)
    try:
        removed = state.db.remove(type_id, identifier, version=version, force=force)
    except DependencyError as exc:
        raise ApiError(409, str(exc)) from None
    except Exception as exc:
        raise lookup_error(exc) from None
    return {"removed": [r.to_dict() for r in removed]}


@router.delete("/{type_id}/{identifier}", response_model=Removed, responses=WRITE_ERRORS)
def remove_component(
    request: Request, type_id: str, identifier: str, force: bool = Query(False, description="remove even if depended on")
) -> dict[str, Any]:
    """Remove every version of a component (needs the token)."""
    return _remove(request, type_id, identifier, None, force)


@router.delete("/{type_id}/{identifier}/versions/{version}", response_model=Removed, responses=WRITE_ERRORS)
def remove_version(
    request: Request, type_id: str, identifier: str, version: int = Path(ge=0, le=MAX_VERSION),
    force: bool = Query(False, description="remove even if depended on"),
) -> dict[str, Any]:
    """Remove one version (needs the token)."""
    return _remove(request, type_id, identifier, version, force)
