"""``superlite worker``: serve the models of one database to a Celery queue."""

from __future__ import annotations

import sys

import click

from superlite.cli.app import CliState, main, reports_errors
from superlite.config import ENV_URI


@main.command()
@click.option("--uri", "worker_uri", envvar=ENV_URI, help=f"Database URI to serve models from (default: the group's --uri, ${ENV_URI}).")
@click.option("--broker", required=True, envvar="SUPERLITE_BROKER", help="Celery broker URL, e.g. redis://host:6379/0 or amqp://user:pw@host// ($SUPERLITE_BROKER).")
@click.option("--concurrency", type=click.IntRange(min=1), help="Pool processes (or threads); default: number of CPUs.")
@click.option("--queues", default="", help="Comma-separated queues to consume (default: superlite).")
@click.option("--cache-mb", type=click.FloatRange(min=0), default=1024, show_default=True, help="Model cache budget of each process, in MiB (measured model size, LRU eviction).")
@click.option("--cache-items", type=click.IntRange(min=1), default=32, show_default=True, help="At most this many models cached per process.")
@click.option("--pool", type=click.Choice(["prefork", "threads"]), default="prefork", show_default=True, help="prefork: one process per slot, isolated; threads: one shared model cache.")
@click.option("--visibility-timeout", type=click.FloatRange(min=1), help="Redis only: seconds before a task taken by a vanished worker is delivered again (default 120).")
@click.option("--path", "paths", multiple=True, type=click.Path(exists=True, file_okay=False, resolve_path=True), help="Directory to import model code from, before the working directory (repeatable).")
@click.option("--follow", "follow", multiple=True, metavar="TYPE:NAME[@ALIAS]", help="Keep these loaded and warm in every process, e.g. model:sentiment@production or model:*@latest (repeatable; NAME may be a glob).")
@click.option("--preload", "preload", multiple=True, metavar="TYPE:NAME[,...]", help="Load these in every process at start, e.g. \"model:*\" or model:a,model:b (repeatable): a --follow without an alias, so their --policy versions stay loaded.")
@click.option("--policy", default="latest:1", show_default=True, help="Versions kept for --follow entries without an alias: latest:N, all or versions:3,4.")
@click.option("--heartbeat", type=click.FloatRange(min=0.05), default=2.0, show_default=True, help="Seconds between two status rows written to the database (three missed: presumed dead).")
@click.option("--poll", type=click.FloatRange(min=0.01), default=0.5, show_default=True, help="Seconds between two looks for new targets and pending alias moves.")
@click.option("--release-after", type=click.FloatRange(min=0), default=5.0, show_default=True, help="Seconds a version no longer followed stays loaded after its last call.")
@click.option("--metrics-port", type=click.IntRange(1, 65535), help="Serve Prometheus metrics of every pool process on this port (needs the serve extra).")
@click.option("--loglevel", default="INFO", show_default=True, type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False), help="Log level of the worker.")
@click.pass_obj
@reports_errors
def worker(
    state: CliState,
    worker_uri: str | None,
    broker: str,
    concurrency: int | None,
    queues: str,
    cache_mb: float,
    cache_items: int,
    pool: str,
    visibility_timeout: float | None,
    paths: tuple[str, ...],
    follow: tuple[str, ...],
    preload: tuple[str, ...],
    policy: str,
    heartbeat: float,
    poll: float,
    release_after: float,
    metrics_port: int | None,
    loglevel: str,
) -> None:
    """Start a Celery worker that serves every model stored in the database (runs until stopped).

    The worker imports model code (classes, functions stored by reference) from each --path
    and from the directory it was started in, as "python -m" and "celery worker" do. Each
    serving process reports to the database (``superlite status``) and keeps the --follow
    targets loaded and warm, so alias moves swap them in without a cold start (docs/lifecycle.md).
    --preload loads models at start the same way (each runs its warm-up inputs first).
    """
    from superlite.compute.celery.tasks import FollowOptions, ServingListeners
    from superlite.compute.celery.worker import run_worker
    from superlite.config import Settings
    from superlite.registry.follow import FollowSpec, VersionPolicy

    preloaded = [text.strip() for entry in preload for text in entry.split(",") if text.strip()]
    for text in preloaded:
        if ":" not in text:
            raise click.BadParameter(f"{text!r}: use TYPE:NAME, e.g. model:{text or '*'}", param_hint="--preload")
    options = FollowOptions(
        specs=tuple(FollowSpec.parse(text) for text in [*follow, *preloaded]), policy=VersionPolicy.parse(policy),
        poll_interval=poll, heartbeat_interval=heartbeat, release_after=release_after,
    )

    settings = Settings.resolve(worker_uri or state.uri, broker=broker, visibility_timeout=visibility_timeout)
    listeners = ServingListeners()
    if metrics_port is not None:
        from superlite.serve.worker_metrics import export_worker_metrics

        listeners = export_worker_metrics(metrics_port).listeners()
    names = [name.strip() for name in queues.split(",") if name.strip()]
    sys.exit(
        run_worker(
            settings,
            concurrency=concurrency,
            queues=names,
            cache_mb=cache_mb,
            cache_items=cache_items,
            loglevel=loglevel.upper(),
            pool=pool,
            paths=paths,
            follow=options,
            listeners=listeners,
        )
    )
