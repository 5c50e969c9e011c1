"""The request and response bodies of the HTTP API, as pydantic models (they make ``/openapi.json``).

The ``Infer*`` and ``*Metadata`` models follow the Open Inference Protocol (KServe V2 REST);
``Predict*`` are superlite's plain JSON endpoint; the rest are the management endpoints.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from superlite.serve.codec import DATATYPES

#: An OIP datatype name.
Datatype = Literal[tuple(DATATYPES)]  # type: ignore[valid-type]

#: An OIP parameter value.
Parameter = str | int | float | bool


class ErrorBody(BaseModel):
    """Every error answer: ``{"error": "<message>"}``."""

    error: str


class ServerMetadata(BaseModel):
    """``GET /v2``."""

    name: str
    version: str
    extensions: list[str]


class Live(BaseModel):
    """``GET /v2/health/live``."""

    live: bool


class Ready(BaseModel):
    """``GET /v2/health/ready``."""

    ready: bool


class ModelReady(BaseModel):
    """``GET /v2/models/{name}/ready``."""

    name: str
    ready: bool


class TensorMetadata(BaseModel):
    """A model input or output as its metadata declares it (``-1`` for a variable dimension)."""

    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    """``GET /v2/models/{name}``: the versions, the platform (the stored class) and declared tensors."""

    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class InferInput(BaseModel):
    """One input tensor: ``data`` in row-major order, flat or nested."""

    model_config = ConfigDict(extra="forbid")

    name: str
    shape: list[int] = Field(max_length=32)
    datatype: Datatype
    parameters: dict[str, Parameter] | None = None
    data: Any


class RequestedOutput(BaseModel):
    """An output the client wants back (by name)."""

    name: str
    parameters: dict[str, Parameter] | None = None


class InferRequest(BaseModel):
    """``POST /v2/models/{name}/infer``."""

    id: str | None = None
    parameters: dict[str, Parameter] | None = None
    inputs: list[InferInput] = Field(min_length=1)
    outputs: list[RequestedOutput] | None = None


class InferOutput(BaseModel):
    """One output tensor, flat row-major ``data``."""

    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Parameter] | None = None
    data: list[Any]


class InferResponse(BaseModel):
    """The answer of ``infer``: ``model_version`` is the version that answered."""

    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: dict[str, Parameter] | None = None
    outputs: list[InferOutput]


class PredictRequest(BaseModel):
    """``POST /predict/{name}``: ``{"input": x}`` for one prediction or ``{"inputs": [x, y]}`` for a batch."""

    model_config = ConfigDict(extra="forbid")

    input: Any = None
    inputs: list[Any] | None = None


class PredictResponse(BaseModel):
    """``{"output": ...}`` or ``{"outputs": [...]}``, with the model and the version that answered."""

    model: str
    version: int | None
    output: Any = None
    outputs: list[Any] | None = None


class ComponentVersions(BaseModel):
    """The stored versions of one component."""

    type_id: str
    identifier: str
    versions: list[int]


class ArtifactInfo(BaseModel):
    """One artifact of a record."""

    name: str
    digest: str
    size: int
    serializer: str


class RecordInfo(BaseModel):
    """A stored record: what ``superlite info`` prints."""

    uuid: str
    type_id: str
    identifier: str
    version: int
    class_path: str
    params: dict[str, Any]
    content_hash: str
    artifacts: list[ArtifactInfo]
    dependencies: list[str]
    created_at: str | None = None
    info: dict[str, Any] = {}


class Removed(BaseModel):
    """What ``DELETE`` removed."""

    removed: list[RecordInfo]


class VersionStats(BaseModel):
    """Calls of one model version so far (``seconds``: their summed latency)."""

    model: str
    version: str
    requests: int
    errors: int
    seconds: float


class Stats(BaseModel):
    """``GET /api/stats``: what the dashboard polls."""

    compute: str
    models_loaded: int
    versions: list[VersionStats]


class WorkerProcess(BaseModel):
    """One serving process's last report in the database (see ``superlite status``)."""

    id: str
    queues: list[str]
    loaded: list[str]
    heartbeat_age: float


class Workers(BaseModel):
    """``GET /api/workers``: who consumes the queue predictions go to (empty with in-process compute).

    ``processes`` are the serving processes that report to the database (worker pool processes
    with their heartbeat rows) and the model versions each holds.
    """

    compute: str
    queue: str | None = None
    workers: list[str]
    waiting: int | None = None
    processes: list[WorkerProcess] = []
