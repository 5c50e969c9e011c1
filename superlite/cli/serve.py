"""``superlite serve``: the HTTP API, metrics and dashboard over the models of one database."""

from __future__ import annotations

import click

from superlite.cli.app import CliState, main, reports_errors


@main.command()
@click.option("--broker", envvar="SUPERLITE_BROKER", help="Celery broker URL: predictions run on workers ($SUPERLITE_BROKER; default: in-process).")
@click.option("--queue", help="Celery queue to send predictions to (default: superlite).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Server processes (they share the port and the metrics).")
@click.option("--max-body-mb", type=click.FloatRange(min=0, min_open=True), default=10, show_default=True, help="Largest request body, in MiB (larger: 413).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60, show_default=True, help="Seconds a prediction may take (then 504).")
@click.option("--resolve-interval", type=click.FloatRange(min=0), default=0.5, show_default=True, help="Seconds a new version, removal or alias change may take to reach the API (0: look up every request).")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"]), help="uvicorn's log level.")
@click.pass_obj
@reports_errors
def serve(
    state: CliState,
    broker: str | None,
    queue: str | None,
    host: str,
    port: int,
    workers: int,
    max_body_mb: float,
    timeout: float,
    resolve_interval: float,
    log_level: str,
) -> None:
    """Serve the database's models over HTTP: Open Inference Protocol (/v2), /predict, /api, /metrics, dashboard at /.

    Management writes (remove) need $SUPERLITE_API_TOKEN set; clients send it as a bearer token.
    """
    try:
        from superlite.serve.server import ServerConfig, run
    except ImportError as exc:
        raise click.ClickException(f"{exc}: install the serve extra (pip install 'superlite[serve]')") from None

    options: dict[str, object] = {"queue": queue} if queue else {}
    config = ServerConfig(state.uri, broker, int(max_body_mb * 2**20), timeout, resolve_interval, options)
    run(config, host=host, port=port, workers=workers, log_level=log_level)
