"""Alias endpoints: read a component's aliases and their history; with the token, move them.

``PUT .../aliases/{alias}`` sets or moves an alias, ``DELETE`` removes it, and ``POST`` to
``.../canary``, ``.../promote`` and ``.../rollback`` run the lifecycle verbs of
:mod:`superlite.registry.lifecycle`. Writes need the bearer token, as every management write does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from superlite.errors import SwapError, VersionConflictError
from superlite.serve.errors import LOOKUP_ERRORS, WRITE_ERRORS, ApiError, error_response, lookup_error
from superlite.serve.manage import require_token
from superlite.serve.oip import MAX_VERSION, check_name, state_of

router = APIRouter(prefix="/api/components", tags=["Aliases"])

MOVE_ERRORS: dict[int | str, dict[str, Any]] = {
    **WRITE_ERRORS,
    409: error_response("The move was refused (a following worker failed its warm-up) or raced another move"),
}


class AliasMove(BaseModel):
    """Where to point an alias, and why (recorded in its history)."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=0, le=MAX_VERSION)
    why: str | None = None


class CanaryStart(BaseModel):
    """A canary: ``percent`` (1–99) of the alias's requests go to ``version``."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=0, le=MAX_VERSION)
    percent: int = Field(ge=1, le=99)
    why: str | None = None


class Reason(BaseModel):
    """Why (recorded in the alias's history)."""

    model_config = ConfigDict(extra="forbid")

    why: str | None = None


@router.get("/{type_id}/{identifier}/aliases", response_model=dict[str, dict[str, Any]], responses=LOOKUP_ERRORS)
def aliases(request: Request, type_id: str, identifier: str) -> Any:
    """``{alias: state}`` of one component: target version and uuid, canary, previous version."""
    return _read(request, type_id, identifier, lambda db: db.aliases(type_id, identifier))


@router.get("/{type_id}/{identifier}/aliases-history", response_model=list[dict[str, Any]], responses=LOOKUP_ERRORS)
def history(
    request: Request, type_id: str, identifier: str,
    alias: str | None = Query(None, description="only this alias"), limit: int = Query(100, ge=1, le=10_000),
) -> Any:
    """The alias changes of one component, newest first: action, before, after, who, why, when."""
    return _read(request, type_id, identifier, lambda db: db.alias_history(type_id, identifier, alias, limit=limit))


@router.put("/{type_id}/{identifier}/aliases/{alias}", response_model=dict[str, Any], responses=MOVE_ERRORS)
def set_alias(request: Request, type_id: str, identifier: str, alias: str, body: AliasMove) -> Any:
    """Create the alias or move it to ``version`` (needs the token)."""
    return _write(request, type_id, identifier, lambda db: db.set_alias(type_id, identifier, alias, body.version, why=body.why))


@router.delete("/{type_id}/{identifier}/aliases/{alias}", response_model=dict[str, str], responses=MOVE_ERRORS)
def remove_alias(request: Request, type_id: str, identifier: str, alias: str) -> Any:
    """Remove the alias (needs the token)."""
    _write(request, type_id, identifier, lambda db: db.remove_alias(type_id, identifier, alias))
    return {"removed": alias}


@router.post("/{type_id}/{identifier}/aliases/{alias}/canary", response_model=dict[str, Any], responses=MOVE_ERRORS)
def start_canary(request: Request, type_id: str, identifier: str, alias: str, body: CanaryStart) -> Any:
    """Send ``percent`` of the alias's requests to ``version`` (needs the token)."""
    return _write(
        request, type_id, identifier,
        lambda db: db.start_canary(type_id, identifier, alias, body.version, body.percent, why=body.why),
    )


@router.post("/{type_id}/{identifier}/aliases/{alias}/promote", response_model=dict[str, Any], responses=MOVE_ERRORS)
def promote(request: Request, type_id: str, identifier: str, alias: str, body: Reason | None = None) -> Any:
    """Move the alias to its canary version (needs the token)."""
    return _write(request, type_id, identifier, lambda db: db.promote(type_id, identifier, alias, why=body and body.why))


@router.post("/{type_id}/{identifier}/aliases/{alias}/rollback", response_model=dict[str, Any], responses=MOVE_ERRORS)
def rollback(request: Request, type_id: str, identifier: str, alias: str, body: Reason | None = None) -> Any:
    """End the alias's canary, or move it back to its previous version (needs the token)."""
    return _write(request, type_id, identifier, lambda db: db.rollback(type_id, identifier, alias, why=body and body.why))


def _read(request: Request, type_id: str, identifier: str, read: Callable[[Any], Any]) -> Any:
    check_name(type_id, "type")
    check_name(identifier, "identifier")
    try:
        return read(state_of(request).db)
    except Exception as exc:
        raise lookup_error(exc) from None


def _write(request: Request, type_id: str, identifier: str, move: Callable[[Any], Any]) -> Any:
    require_token(request)
    check_name(type_id, "type")
    check_name(identifier, "identifier")
    try:
        return move(state_of(request).db)
    except (SwapError, VersionConflictError) as exc:
        raise ApiError(409, str(exc)) from None
    except Exception as exc:
        raise lookup_error(exc) from None
