"""The plain JSON endpoint for people and scripts: ``POST /predict/{name}``.

``{"input": x}`` calls ``predict(x)``; ``{"inputs": [x, y]}`` calls ``predict_batches([x, y])``.
Inputs and outputs are plain JSON values (numpy results are turned into lists).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request

from superlite.serve.codec import jsonable
from superlite.serve.errors import COMPUTE_ERRORS, ApiError
from superlite.serve.oip import RoutingKey, resolve, run, state_of
from superlite.serve.schemas import PredictRequest, PredictResponse

router = APIRouter(tags=["Plain JSON"])


@router.post("/predict/{name}", response_model=PredictResponse, response_model_exclude_unset=True,
             responses=COMPUTE_ERRORS)
async def predict(request: Request, name: str, body: PredictRequest, routing_key: RoutingKey = None) -> dict[str, Any]:
    """Predict one ``input`` or a batch of ``inputs`` with model ``name`` (``name@3`` pins a version).

    ``X-Routing-Key`` keeps a canary split sticky: the same key, the same version.
    """
    given = body.model_fields_set & {"input", "inputs"}
    if len(given) != 1 or (given == {"inputs"} and body.inputs is None):
        raise ApiError(400, 'send {"input": x} for one prediction or {"inputs": [x, ...]} for a batch')
    state = state_of(request)
    target = await resolve(state, name, key=routing_key)
    batch = "inputs" in given
    result, answered_by = await run(state, target, "predict_batches" if batch else "predict",
                                    body.inputs if batch else body.input, key=routing_key)
    value = jsonable(result)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ApiError(500, f"model {target.identifier!r} returned a value JSON cannot hold: {exc}") from None
    key = "outputs" if batch else "output"
    if batch and not isinstance(value, list):
        raise ApiError(500, f"model {target.identifier!r} returned {type(result).__name__} for a batch, not a list")
    return {"model": answered_by.identifier, "version": answered_by.version, key: value}
