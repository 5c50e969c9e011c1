"""Deployment files: where each model's aliases and canary should stand, declared in one file.

A deployment file (JSON, or YAML when PyYAML is installed) names, per model, the version each
alias points at and at most one canary::

    {"name": "prod",
     "models": {"sentiment": {"aliases": {"production": 3, "staging": 4},
                              "canary": {"alias": "production", "version": 4, "percent": 10}}}}

:meth:`Deployer.plan` checks it against the database (every model and version must exist) and
lists the moves it takes; :meth:`Deployer.apply` makes them and stores the file itself as a
versioned ``deployment`` component, so an earlier deployment can be applied again
(:meth:`Deployer.rollback`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from superlite.components.component import Component
from superlite.errors import ConfigurationError, InvalidArgumentError, NotFoundError
from superlite.registry.lifecycle import Lifecycle, check_alias_name
from superlite.registry.registry import Registry


@dataclass
class Deployment(Component):
    """A stored deployment file: its content is the JSON ``spec``; each change is a new version."""

    type_id: ClassVar[str] = "deployment"

    spec: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Move:
    """One change a deployment makes to one alias: ``"set"`` (move it, ending any canary) or ``"canary"``."""

    type_id: str
    identifier: str
    alias: str
    action: str
    version: int | None = None
    percent: int | None = None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        view: dict[str, object] = {"model": self.identifier, "alias": self.alias, "action": self.action}
        if self.type_id != "model":
            view["type"] = self.type_id
        if self.version is not None:
            view["version"] = self.version
        if self.percent is not None:
            view["percent"] = self.percent
        return view


def read_spec(path: str | Path) -> dict[str, Any]:
    """The deployment in the file at ``path`` (``.yaml``/``.yml`` as YAML, anything else as JSON)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigurationError(f"cannot read deployment file {path}: {exc.strerror}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)  # type: ignore[no-any-return]
        return json.loads(text)  # type: ignore[no-any-return]
    except ImportError:
        raise ConfigurationError(f"{path} is YAML: pip install pyyaml, or write it as JSON") from None
    except ValueError as exc:  # json.JSONDecodeError and yaml.YAMLError's parse errors
        raise ConfigurationError(f"deployment file {path} is not valid: {exc}") from None


def check_spec(spec: object) -> dict[str, Any]:
    """``spec`` normalized (defaults filled in); :class:`ConfigurationError` naming the bad part."""
    from pydantic import ValidationError

    from superlite.registry.deployment_schema import DeploymentSpec

    try:
        checked = DeploymentSpec.model_validate(spec)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"deployment file is not valid: {problems}") from None
    for identifier, model in checked.models.items():
        for alias in model.aliases:
            try:
                check_alias_name(alias)
            except InvalidArgumentError as exc:
                raise ConfigurationError(f"deployment file is not valid: models.{identifier}.aliases: {exc}") from None
        if model.canary is not None:
            if model.canary.alias not in model.aliases:
                raise ConfigurationError(
                    f"models.{identifier}.canary: alias {model.canary.alias!r} is not among its aliases {sorted(model.aliases)}"
                )
    # A model without a serving mode is stored as before the field existed (same content hash).
    return checked.model_dump(exclude={"models": {name: {"serving"} for name, m in checked.models.items() if m.serving is None}})


class Deployer:
    """Plans and applies deployment files through a :class:`Lifecycle`."""

    def __init__(self, registry: Registry, lifecycle: Lifecycle) -> None:
        self.registry = registry
        self.lifecycle = lifecycle

    def plan(self, spec: Mapping[str, Any]) -> list[Move]:
        """The moves that bring the database to ``spec`` (a checked spec); nothing is changed."""
        moves: list[Move] = []
        for identifier, model in spec["models"].items():
            type_id = model["type"]
            current = {state.alias: state for state in self.registry.metadata.aliases(type_id, identifier)}
            canary = model["canary"]
            for alias, version in sorted(model["aliases"].items()):
                self._require(type_id, identifier, version)
                wanted = canary if canary is not None and canary["alias"] == alias else None
                state = current.get(alias)
                target_ok = state is not None and state.version == version
                running = (state.canary_version, state.canary_percent) if state is not None else (None, 0)
                canary_ok = running == ((wanted["version"], wanted["percent"]) if wanted else (None, 0))
                if not target_ok or (not canary_ok and wanted is None):
                    moves.append(Move(type_id, identifier, alias, "set", version))
                if wanted is not None and not (target_ok and canary_ok):
                    self._require(type_id, identifier, wanted["version"])
                    moves.append(Move(type_id, identifier, alias, "canary", wanted["version"], wanted["percent"]))
        return moves

    def apply(self, spec: Mapping[str, Any], why: str | None = None) -> tuple[Deployment, list[Move]]:
        """Make the moves of ``spec`` and store it as the next version of its deployment."""
        moves = self.plan(spec)
        reason = why or f"deployment {spec['name']!r}"
        for move in moves:
            if move.action == "set":
                self.lifecycle.set(move.type_id, move.identifier, move.alias, move.version, reason)  # type: ignore[arg-type]
            else:
                self.lifecycle.start_canary(move.type_id, move.identifier, move.alias, move.version, move.percent, reason)  # type: ignore[arg-type]
        return Deployment(spec["name"], spec=dict(spec)), moves

    def rollback(self, name: str, version: int | None = None) -> dict[str, Any]:
        """The spec of deployment ``name`` at ``version`` (default: the one before the latest)."""
        versions = self.registry.show(Deployment.type_id, name)
        if version is None:
            if len(versions) < 2:
                raise NotFoundError(f"deployment {name!r} has no earlier version to go back to (versions: {versions})")
            version = versions[-2]
        return dict(self.registry.record(Deployment.type_id, name, version).params["spec"])  # type: ignore[arg-type]

    def _require(self, type_id: str, identifier: str, version: int) -> None:
        self.registry.record(type_id, identifier, version=version)
