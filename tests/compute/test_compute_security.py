"""Security on real workers: identity checks, signatures required by workers, and passwords kept out of logs."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import remote_models
from sqlalchemy.engine import make_url

from superlite import ObjectModel
from superlite.errors import NotFoundError, RemoteError, SignatureError
from superlite.security import generate_key
from superlite.testing.databases import isolated_database
from superlite.testing.security_contract import SecurityContract
from superlite.testing.services import require_service
from superlite.testing.workers import Stack, unique_queue


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def test_a_worker_refuses_a_reference_whose_identity_differs_from_its_uuid(stack: Stack) -> None:
    with stack.connect() as db:
        first = db.apply(ObjectModel(unique("first"), object=remote_models.getpid))
        second = db.apply(ObjectModel(unique("second"), object=remote_models.getpid))
        assert db.compute(first.reference, "predict", (0,)) in {p for w in stack.workers for p in w.pids()}
        for reference in (
            f"&:component:model:{second.identifier}:{first.uuid}",
            f"&:component:listener:{first.identifier}:{first.uuid}",
        ):
            with pytest.raises(NotFoundError, match=f"uuid {first.uuid} is model '{first.identifier}'") as info:
                db.compute(reference, "predict", (0,))
            assert isinstance(info.value.__cause__, RemoteError), "refused by the worker, not by the caller"


def test_workers_requiring_signatures_refuse_unsigned_and_tampered_records(
    make_stack: Callable[..., Stack], redis_broker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    private, public = generate_key("ed25519")
    monkeypatch.setenv("SUPERLITE_VERIFY_KEYS", public)
    monkeypatch.setenv("SUPERLITE_REQUIRE_SIGNATURES", "1")
    stack = make_stack(redis_broker)
    with stack.connect() as db:
        unsigned = db.apply(ObjectModel(unique("unsigned"), object=remote_models.getpid, serve=True))
        with pytest.raises(SignatureError, match="is not signed and signatures are required") as info:
            unsigned.predict(0)
        assert isinstance(info.value.__cause__, RemoteError)
    with stack.connect(signing_key=private) as db:
        signed = db.apply(ObjectModel(unique("signed"), object=remote_models.getpid, serve=True))
        assert signed.predict(0) in stack.workers[0].pids()
        tampered = db.apply(ObjectModel(unique("tampered"), object=remote_models.getpid, serve=True))
        SecurityContract.forge(db, db.record("model", tampered.identifier), params={"batch_size": 1})
        with pytest.raises(SignatureError, match="does not verify"):
            tampered.predict(0)


@pytest.mark.parametrize("where", ["userinfo", "query"])
def test_worker_logs_hide_every_password(tmp_path, redis_broker: str, where: str) -> None:
    """A worker on a password-protected database URI and a two-host Redis failover list logs none of the passwords."""
    require_service("postgresql")
    host = make_url(redis_broker).host
    port = make_url(redis_broker).port or 6379
    broker = f"redis://:fsecretA@{host}:{port}/0;redis://:fsecretB@{host}:{port}/0"
    with isolated_database("postgresql", tmp_path) as plain:
        url = make_url(plain)
        # the test server trusts local connections, so any password is accepted (and must not be shown)
        uri = (url.set(password="pgsecret1") if where == "userinfo" else url.update_query_dict({"password": "pgsecret1"}))
        stack = Stack(uri.render_as_string(hide_password=False), broker, unique_queue(), log_dir=tmp_path)
        try:
            stack.start("--concurrency", "1", "--loglevel", "debug")
            with stack.connect() as db:
                model = db.apply(ObjectModel(unique("logged"), object=remote_models.getpid, serve=True))
                assert model.predict(0) in stack.workers[0].pids()
                with pytest.raises(NotFoundError):
                    db.compute(f"&:component:model:missing:{uuid.uuid4()}", "predict", (0,))
        finally:
            stack.stop()
        log = stack.workers[0].log()
    assert "ready." in log and "***" in log
    for secret in ("pgsecret1", "fsecretA", "fsecretB"):
        assert secret not in log
