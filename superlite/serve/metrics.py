"""Prometheus metrics of a server: a compute wrapper that counts and times every call, per model version.

:class:`ServeMetrics` owns its own ``CollectorRegistry`` (two servers in one process do not mix
their counts). :meth:`ServeMetrics.wrap` is a compute wrapper for
``superlite.connect(..., wrappers=[metrics.wrap])``: every call that goes through the Datalayer's
compute stack, from HTTP or not, is counted with the version that answered it. Names follow the
Prometheus conventions (``superlite_`` prefix, seconds, ``_total`` counters) and Triton's labels
(``model``, ``version``):

* ``superlite_requests_total{model,version,status}``: finished calls; ``status`` is ``success`` or ``error``.
* ``superlite_request_duration_seconds{model,version,status}``: histogram, submit to answer.
* ``superlite_requests_in_flight{model}``: calls submitted and not yet answered.
* ``superlite_models_loaded``, ``superlite_model_cache_bytes``, ``superlite_model_loads_total``,
  ``superlite_model_evictions_total``, ``superlite_model_load_seconds`` (count and sum),
  ``superlite_cache_hits_total{cache="model"|"result"}``, ``superlite_cache_misses_total{cache=...}``:
  this process's model cache (in-process compute) and its result cache (``cache=`` models).

With several server processes (``superlite serve --workers N``) the values are shared through
prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``), so any process answers the
scrape for all of them; the model cache figures are then left out (they are per process).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from superlite.components.reference import Resolved
from superlite.compute.base import Compute, ComputeWrapper, ResultHandle, Task
from superlite.compute.cache import ModelCache
from superlite.compute.results import ResultCache

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _labels(target: Resolved) -> tuple[str, str]:
    return target.identifier, "" if target.version is None else str(target.version)


class ServeMetrics:
    """The metrics of one server; ``generate()`` renders them in the Prometheus text format."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "superlite_requests", "Finished model calls.", ["model", "version", "status"], registry=self.registry
        )
        self.duration = Histogram(
            "superlite_request_duration_seconds",
            "Seconds from submitting a model call to its answer.",
            ["model", "version", "status"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "superlite_requests_in_flight",
            "Model calls submitted and not answered yet.",
            ["model"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )

    def wrap(self, inner: Compute) -> MetricsWrapper:
        """A compute wrapper around ``inner`` that records into these metrics."""
        return MetricsWrapper(inner, self)

    def watch_cache(self, cache: ModelCache[Any], results: ResultCache | None = None) -> None:
        """Also export the state of ``cache`` (a Datalayer's ``executor.models``) and of its
        result cache at each scrape."""
        if not os.environ.get(MULTIPROCESS_ENV):
            self.registry.register(_CacheCollector(cache, results))

    def record(self, target: Resolved, status: str, seconds: float) -> None:
        """Count one finished call of ``target``."""
        model, version = _labels(target)
        self.requests.labels(model, version, status).inc()
        self.duration.labels(model, version, status).observe(seconds)

    def generate(self) -> bytes:
        """The metrics in the Prometheus text format (every server process's, in multiprocess mode)."""
        return generate_latest(self._readable())

    def _readable(self) -> CollectorRegistry:
        if os.environ.get(MULTIPROCESS_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return registry
        return self.registry

    def snapshot(self) -> list[dict[str, Any]]:
        """Per model version: ``requests``, ``errors`` and ``seconds`` (summed latency) so far, for the dashboard."""
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for family in self._readable().collect():
            if family.name not in ("superlite_requests", "superlite_request_duration_seconds"):
                continue
            for sample in family.samples:
                key = (sample.labels.get("model", ""), sample.labels.get("version", ""))
                row = rows.setdefault(key, {"model": key[0], "version": key[1], "requests": 0, "errors": 0, "seconds": 0.0})
                if sample.name == "superlite_requests_total":
                    row["requests"] += int(sample.value)
                    if sample.labels.get("status") == "error":
                        row["errors"] += int(sample.value)
                elif sample.name == "superlite_request_duration_seconds_sum":
                    row["seconds"] += sample.value
        return sorted(rows.values(), key=lambda row: (row["model"], row["version"]))


class _CacheCollector(Collector):
    def __init__(self, cache: ModelCache[Any], results: ResultCache | None) -> None:
        self._cache = cache
        self._results = results

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | SummaryMetricFamily]:
        yield GaugeMetricFamily("superlite_models_loaded", "Models held in this process's cache.", len(self._cache.keys()))
        yield GaugeMetricFamily("superlite_model_cache_bytes", "Measured bytes of the cached models.", self._cache.total_bytes)
        yield CounterMetricFamily("superlite_model_loads", "Models loaded into the cache (cache misses).", self._cache.loads)
        hits = CounterMetricFamily("superlite_cache_hits", "Lookups answered from a cache.", labels=["cache"])
        hits.add_metric(["model"], self._cache.hits)
        misses = CounterMetricFamily("superlite_cache_misses", "Lookups a cache could not answer.", labels=["cache"])
        misses.add_metric(["model"], self._cache.loads)
        if self._results is not None:
            hits.add_metric(["result"], self._results.hits)
            misses.add_metric(["result"], self._results.misses)
        yield hits
        yield misses
        yield SummaryMetricFamily(
            "superlite_model_load_seconds", "Seconds the loads into the cache took.",
            count_value=self._cache.loads, sum_value=self._cache.load_seconds,
        )
        yield CounterMetricFamily("superlite_model_evictions", "Models evicted from the cache.", self._cache.evictions)


class MetricsWrapper(ComputeWrapper):
    """Counts and times every task that passes, labelled with the version that answered it."""

    def __init__(self, inner: Compute, metrics: ServeMetrics) -> None:
        super().__init__(inner)
        self.metrics = metrics

    def submit_many(self, tasks: Sequence[Task]) -> list[ResultHandle]:
        """Submit the tasks and hand back handles that record their outcome once it is read."""
        started = time.perf_counter()
        for task in tasks:
            self.metrics.in_flight.labels(task.target.identifier).inc()
        try:
            handles = self.inner.submit_many(tasks)
        except BaseException:
            for task in tasks:
                self.metrics.in_flight.labels(task.target.identifier).dec()
                self.metrics.record(task.target, "error", time.perf_counter() - started)
            raise
        return [MeteredHandle(handle, self.metrics, started) for handle in handles]


class MeteredHandle(ResultHandle):
    """A result handle that records its call's status and duration when the result is first read."""

    def __init__(self, inner: ResultHandle, metrics: ServeMetrics, started: float) -> None:
        self.task = inner.task
        self._inner = inner
        self._metrics = metrics
        self._started = started
        self._lock = threading.Lock()
        self._recorded = False

    @property
    def answered_by(self) -> Resolved:
        """The version that answers (as the inner handle says)."""
        return self._inner.answered_by

    def done(self) -> bool:
        """Whether the result is ready."""
        return self._inner.done()

    def _record(self, status: str) -> None:
        with self._lock:
            if self._recorded:
                return
            self._recorded = True
        self._metrics.in_flight.labels(self.task.target.identifier).dec()
        self._metrics.record(self.answered_by, status, time.perf_counter() - self._started)

    def result(self, timeout: float | None = None) -> object:
        """Wait for the result, recording success or error."""
        try:
            value = self._inner.result(timeout)
        except BaseException:
            self._record("error")
            raise
        self._record("success")
        return value

    async def aresult(self, timeout: float | None = None) -> object:
        """Await the result, recording success or error."""
        try:
            value = await self._inner.aresult(timeout)
        except BaseException:
            self._record("error")
            raise
        self._record("success")
        return value
