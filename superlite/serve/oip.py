"""The Open Inference Protocol (KServe V2 REST) routes: health, metadata, readiness, ``infer``.

``{name}`` is a model identifier, optionally with a version (``sentiment@3``) or an alias
(``sentiment@latest``); ``/versions/{version}`` pins a version too. Predictions run through the
Datalayer's compute (in-process or on Celery workers) without blocking the event loop, and the
response's ``model_version`` is the version that answered. While a canary splits an alias, a
request with an ``X-Routing-Key`` header is answered by the same side as every other request
with that key (without one, each request draws its side).
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

import superlite
from superlite.common.arguments import check_selecting_name, check_type_id, decimal_digits
from superlite.components.reference import Resolved, Selector, split_name
from superlite.compute.base import Task, TaskOptions
from superlite.errors import ArgumentTypeError, InvalidArgumentError
from superlite.serve.app import ServeState
from superlite.serve.codec import TensorError, decode_tensor, encode_outputs
from superlite.serve.errors import COMPUTE_ERRORS, LOOKUP_ERRORS, ApiError, compute_error, lookup_error
from superlite.serve.schemas import (
    InferRequest,
    InferResponse,
    Live,
    ModelMetadata,
    ModelReady,
    Ready,
    ServerMetadata,
    TensorMetadata,
)

router = APIRouter(tags=["Open Inference Protocol"])

#: The type of component the inference routes serve.
MODEL = "model"

#: The request header whose value keeps canary routing sticky (as ``key=`` does in Python).
ROUTING_HEADER = "X-Routing-Key"

#: A route parameter reading :data:`ROUTING_HEADER`.
RoutingKey = Annotated[
    str | None,
    Header(alias=ROUTING_HEADER, min_length=1, max_length=256,
           description="While a canary splits the alias, requests with the same key get the same version"),
]


def state_of(request: Request) -> ServeState:
    """The server state of the app handling ``request``."""
    return request.app.state.serve


#: The largest version number a request may name (what every store's integer column holds).
MAX_VERSION = 2**31 - 1


def check_name(text: str, what: str = "name") -> str:
    """``text`` if it can name a stored component (the Python API's rules, ``name@version`` allowed), else a 400."""
    check = check_type_id if what == "type" else check_selecting_name
    try:
        return check(text, what)
    except (ArgumentTypeError, InvalidArgumentError) as exc:
        raise ApiError(400, str(exc)) from None


def parse_version(text: str) -> int:
    """A version number from a path segment, else a 400."""
    if not decimal_digits(text) or int(text) > MAX_VERSION:
        raise ApiError(400, f"a version is a number from 0 to {MAX_VERSION}, not {text!r}")
    return int(text)


def selector_for(name: str, version: str | None = None) -> Selector:
    """The selector ``name`` (``id``, ``id@3``, ``id@alias``) and an optional path ``version`` mean."""
    check_name(name)
    try:
        identifier, alias, named_version = split_name(name)
    except Exception as exc:
        raise lookup_error(exc) from None
    if not identifier:
        raise ApiError(400, f"{name!r} does not name a model")
    if version is not None:
        if alias is not None or named_version is not None:
            raise ApiError(400, f"give the version in the name ({name!r}) or in the path, not both")
        named_version = parse_version(version)
    elif named_version is not None and named_version > MAX_VERSION:
        raise ApiError(400, f"{name!r}: version out of range")
    return Selector(MODEL, identifier, version=named_version, alias=alias)


async def resolve(state: ServeState, name: str, version: str | None = None, key: str | None = None) -> Resolved:
    """Resolve ``name`` (and ``version``) to the model version that answers this request (I/O off the event loop).

    While a canary splits the alias, each request draws its side.
    """
    selector = selector_for(name, version)
    found = state.db.resolver.cached(selector, key)
    if found is not None:
        return found
    try:
        return await asyncio.to_thread(state.db.resolve, selector, key)
    except Exception as exc:
        raise lookup_error(exc) from None


async def run(
    state: ServeState, target: Resolved, method: str, arg: Any, request_id: str | None = None, key: str | None = None
) -> tuple[Any, Resolved]:
    """Call ``method(arg)`` of ``target`` on the Datalayer's compute; return the result and who answered."""
    deadline = time.time() + state.options.timeout
    given = {"request_id": request_id} if request_id else {}
    options = TaskOptions(deadline=deadline, routing_key=key, **given)
    task = Task(target, method, (arg,), {}, options)
    what = f"model {target.identifier!r} version {target.version}"
    try:
        handle = await state.db.asubmit(task)
        result = await handle.aresult(state.options.timeout)
    except Exception as exc:
        raise compute_error(exc, what) from None
    return result, handle.answered_by


@router.get("/v2/health/live", response_model=Live)
def live() -> Live:
    """The server process is up."""
    return Live(live=True)


@router.get("/v2/health/ready", response_model=Ready, responses={503: {"model": Ready, "description": "Not ready"}})
async def ready(request: Request) -> Any:
    """The server can reach its database (503 otherwise)."""
    try:
        await asyncio.to_thread(state_of(request).db.show, MODEL)
    except Exception:
        return JSONResponse({"ready": False}, status_code=503)
    return Ready(ready=True)


@router.get("/v2", response_model=ServerMetadata)
def server_metadata() -> ServerMetadata:
    """The server's name, version and protocol extensions."""
    return ServerMetadata(name="superlite", version=superlite.__version__, extensions=[])


def _declared(params: Any, key: str) -> list[TensorMetadata]:
    """Tensors a record declares in its ``inputs``/``outputs`` parameter, if it has a valid one."""
    values = params.get(key) if isinstance(params, dict) else None
    try:
        return [TensorMetadata.model_validate(value) for value in values] if isinstance(values, list) else []
    except ValueError:
        return []


async def _metadata(request: Request, name: str, version: str | None) -> ModelMetadata:
    state = state_of(request)
    target = await resolve(state, name, version)
    try:
        record = await asyncio.to_thread(state.db.record, MODEL, target.identifier, target.version, target.uuid)
        versions = await asyncio.to_thread(state.db.show, MODEL, target.identifier)
    except Exception as exc:
        raise lookup_error(exc) from None
    params = dict(record.params)
    return ModelMetadata(
        name=target.identifier,
        versions=[str(v) for v in versions],
        platform=f"superlite:{record.class_path}",
        inputs=_declared(params, "inputs"),
        outputs=_declared(params, "outputs"),
    )


@router.get("/v2/models/{name}", response_model=ModelMetadata, responses=LOOKUP_ERRORS)
async def model_metadata(request: Request, name: str) -> ModelMetadata:
    """A model's versions, platform (its stored class) and the tensors it declares (``inputs``/``outputs`` params)."""
    return await _metadata(request, name, None)


@router.get("/v2/models/{name}/versions/{version}", response_model=ModelMetadata, responses=LOOKUP_ERRORS)
async def model_version_metadata(request: Request, name: str, version: str) -> ModelMetadata:
    """The metadata of one version."""
    return await _metadata(request, name, version)


async def _ready(request: Request, name: str, version: str | None) -> ModelReady:
    target = await resolve(state_of(request), name, version)
    return ModelReady(name=target.identifier, ready=True)


@router.get("/v2/models/{name}/ready", response_model=ModelReady, responses=LOOKUP_ERRORS)
async def model_ready(request: Request, name: str) -> ModelReady:
    """200 when the model exists and can be served (loaded on first use), 404 otherwise."""
    return await _ready(request, name, None)


@router.get("/v2/models/{name}/versions/{version}/ready", response_model=ModelReady, responses=LOOKUP_ERRORS)
async def model_version_ready(request: Request, name: str, version: str) -> ModelReady:
    """200 when this version exists and can be served."""
    return await _ready(request, name, version)


def _arguments(body: InferRequest) -> Any:
    """``predict``'s argument: the one input's array, or a dict of arrays by input name."""
    names = [tensor.name for tensor in body.inputs]
    if len(set(names)) != len(names):
        raise ApiError(400, f"input names must be unique, got {names}")
    try:
        arrays = {t.name: decode_tensor(t.name, t.shape, t.datatype, t.data) for t in body.inputs}
    except TensorError as exc:
        raise ApiError(400, str(exc)) from None
    return next(iter(arrays.values())) if len(arrays) == 1 else arrays


async def _infer(request: Request, name: str, version: str | None, body: InferRequest, key: str | None) -> dict[str, Any]:
    state = state_of(request)
    target = await resolve(state, name, version, key)
    argument = _arguments(body)
    result, answered_by = await run(state, target, "predict", argument, body.id, key)
    try:
        outputs = encode_outputs(result)
    except TensorError as exc:
        raise ApiError(500, f"model {target.identifier!r} version {answered_by.version} returned {exc}") from None
    if body.outputs:
        available = {tensor.name: tensor for tensor in outputs}
        missing = [o.name for o in body.outputs if o.name not in available]
        if missing:
            raise ApiError(400, f"unknown outputs {missing}; the model returned {sorted(available)}")
        outputs = [available[o.name] for o in body.outputs]
    response: dict[str, Any] = {
        "model_name": answered_by.identifier,
        "model_version": None if answered_by.version is None else str(answered_by.version),
        "outputs": [tensor.to_dict() for tensor in outputs],
    }
    if body.id is not None:
        response["id"] = body.id
    return response


@router.post("/v2/models/{name}/infer", response_model=InferResponse, response_model_exclude_none=True,
             responses=COMPUTE_ERRORS)
async def infer(request: Request, name: str, body: InferRequest, routing_key: RoutingKey = None) -> dict[str, Any]:
    """Run the model on the input tensors; one input is passed as an array, several as a dict of arrays."""
    return await _infer(request, name, None, body, routing_key)


@router.post("/v2/models/{name}/versions/{version}/infer", response_model=InferResponse,
             response_model_exclude_none=True, responses=COMPUTE_ERRORS)
async def infer_version(
    request: Request, name: str, version: str, body: InferRequest, routing_key: RoutingKey = None
) -> dict[str, Any]:
    """Run one version of the model."""
    return await _infer(request, name, version, body, routing_key)

