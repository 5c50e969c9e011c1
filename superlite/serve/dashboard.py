"""The dashboard at ``/`` (server-rendered HTML, a little JavaScript, no build step) and ``/metrics``.

The page lists the stored models, their versions and aliases (with any canary split), polls
``/api/stats`` for request rate, error rate and latency per model version (with a small chart)
and ``/api/workers`` for the live workers and what they hold, and has a form to try a
prediction through ``/predict/{name}``.
"""

from __future__ import annotations

import html
from importlib.resources import files
from string import Template
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

import superlite
from superlite.common.uris import mask_uri
from superlite.compute.base import ComputeWrapper
from superlite.serve.oip import MODEL, state_of
from superlite.serve.schemas import Stats, WorkerProcess, Workers

router = APIRouter(tags=["Dashboard and metrics"])

_PAGE = Template(files("superlite.serve").joinpath("templates/dashboard.html").read_text(encoding="utf-8"))

#: The content type of the Prometheus text format.
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def _alias_cell(aliases: dict[str, dict[str, object]]) -> str:
    """``production → v3 (canary v4: 10 %)``, one alias per line."""
    lines = []
    for alias, state in sorted(aliases.items()):
        line = f'<span class="alias" data-alias="{html.escape(alias)}">{html.escape(alias)} → v{state["version"]}'
        canary = state.get("canary")
        if isinstance(canary, dict):
            line += f' <span class="canary">(canary v{canary["version"]}: {canary["percent"]} %)</span>'
        lines.append(line + "</span>")
    return "<br>".join(lines) or '<span class="muted">–</span>'


def _model_rows(db: Any) -> tuple[str, str]:
    rows, options = [], []
    for identifier in db.show(MODEL) if MODEL in db.show() else []:
        versions = db.show(MODEL, identifier)
        latest = db.record(MODEL, identifier)
        name = html.escape(identifier)
        rows.append(
            f'<tr data-model="{name}"><td>{name}</td><td>{", ".join(map(str, versions))}</td>'
            f"<td>{_alias_cell(db.aliases(MODEL, identifier))}</td>"
            f"<td><code>{html.escape(latest.class_path)}</code></td></tr>"
        )
        options.append(f'<option value="{name}">{name}</option>')
    if not rows:
        rows.append('<tr><td colspan="4" class="muted">no models stored yet</td></tr>')
    return "\n".join(rows), "\n".join(options)


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request) -> HTMLResponse:
    """The dashboard page."""
    db = state_of(request).db
    rows, options = _model_rows(db)
    page = _PAGE.safe_substitute(
        version=html.escape(superlite.__version__),
        database=html.escape(mask_uri(db.settings.uri)),
        compute=html.escape(db.compute_backend.name),
        model_rows=rows,
        model_options=options,
    )
    return HTMLResponse(page)


@router.get("/api/stats", response_model=Stats)
def stats(request: Request) -> Stats:
    """Calls per model version so far, for the dashboard's figures."""
    state = state_of(request)
    return Stats(
        compute=state.db.compute_backend.name,
        models_loaded=len(state.db.executor.models.keys()),
        versions=state.metrics.snapshot(),
    )


@router.get("/api/workers", response_model=Workers, response_model_exclude_none=True)
def workers(request: Request) -> Workers:
    """The workers consuming the queue predictions are sent to, how many tasks wait in it, and the
    serving processes that report to the database with the model versions each holds.

    Asks the broker (about a second with Celery); in-process compute has no workers.
    """
    db = state_of(request).db
    compute = db.compute_backend
    backend = compute.backend if isinstance(compute, ComputeWrapper) else compute
    processes = [_process(view) for view in db.workers()]
    consumers = getattr(backend, "consumers", None)
    if not callable(consumers):
        return Workers(compute=backend.name, workers=[], processes=processes)
    return Workers(compute=backend.name, queue=getattr(backend, "queue", None), workers=consumers(),
                   waiting=backend.queue_length(), processes=processes)  # type: ignore[attr-defined]


def _process(view: dict[str, Any]) -> WorkerProcess:
    loaded = [f"{m.get('identifier')} v{m.get('version')}" for m in view["loaded"]]
    return WorkerProcess(id=view["id"], queues=view["queues"], loaded=loaded, heartbeat_age=view["heartbeat_age"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
def metrics(request: Request) -> Response:
    """The server's metrics in the Prometheus text format."""
    return Response(state_of(request).metrics.generate(), media_type=PROMETHEUS_TEXT)
