"""Security on every SQL backend: stored class paths, record signing, and secrets kept out of output."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

import superlite
from superlite import ObjectModel
from superlite.common.uris import scrub
from superlite.config import Settings
from superlite.errors import ComputeError, ConfigurationError, NotFoundError, SignatureError
from superlite.testing.cli import run_cli
from superlite.testing.databases import isolated_database
from superlite.testing.security_contract import KEY_A as OLD_KEY
from superlite.testing.security_contract import KEY_B as KEY
from superlite.testing.security_contract import SecurityContract
from superlite.testing.services import require_service

SQL_BACKENDS = ["sqlite", "postgresql", "mariadb"]


class TestSQLSecurity(SecurityContract):
    """Records forged in SQLite, PostgreSQL and MariaDB cannot run code on a loader."""

    @pytest.fixture(params=SQL_BACKENDS)
    def fresh_uri(self, request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
        with isolated_database(request.param, tmp_path) as uri:
            yield uri


#: The URL forms whose secrets must never be printed: (the URI, the secrets it holds).
SECRET_URIS = [
    ("postgresql://alice:pgsecret1@127.0.0.1:1/db", ["pgsecret1"]),
    ("postgresql://alice@127.0.0.1:1/db?password=qsecret2", ["qsecret2"]),
    ("mysql+pymysql://root:sl%2Fash%40at3@127.0.0.1:1/db", ["sl%2Fash%40at3", "sl/ash@at3"]),
]

#: A Redis failover list: each host's password hidden.
FAILOVER = "redis://:fsecretA@127.0.0.1:6379/0;redis://:fsecretB@127.0.0.1:6379/0"


@pytest.mark.parametrize(("uri", "secrets"), SECRET_URIS + [(FAILOVER, ["fsecretA", "fsecretB"])])
def test_settings_repr_hides_every_secret(uri: str, secrets: list[str]) -> None:
    settings = Settings.resolve(
        "sqlite:///x.db", artifacts=uri if "redis" not in uri else None, broker=uri, result_cache=uri,
        result_backend=uri, signing_key=KEY, verify_keys=[OLD_KEY],
    )
    shown = repr(settings) + str(settings)
    for secret in [*secrets, KEY, OLD_KEY, KEY.partition(":")[2]]:
        assert secret not in shown
    assert "signing_key='***', verify_keys=('***',)" in shown


@pytest.mark.parametrize("option", ["uri", "broker", "result_cache"])
@pytest.mark.parametrize("uri", ["postgresql://u:pa/ss@wq9z@127.0.0.1/db", "redis://:a@b@127.0.0.1:6379/0;redis://:c@h2/0"])
def test_an_unencoded_at_or_slash_in_a_password_is_refused_masked(option: str, uri: str) -> None:
    with pytest.raises(ConfigurationError, match="not percent-encoded") as info:
        superlite.connect(**{option: uri} if option != "result_cache" else {"uri": "sqlite:///x.db", option: uri})
    for fragment in ("pa/ss", "wq9z", "a@b", ":c@"):
        assert fragment not in str(info.value)


@pytest.mark.parametrize(("uri", "secrets"), SECRET_URIS)
def test_cli_errors_hide_database_passwords(uri: str, secrets: list[str]) -> None:
    result = run_cli("show", uri=uri)
    assert result.returncode == 1 and "cannot use the database" in result.stderr
    for secret in secrets:
        assert secret not in result.stdout + result.stderr


def test_cli_hides_each_password_of_a_failover_broker(tmp_path) -> None:
    redis = require_service("redis")
    host = redis.partition("://")[2].split("/")[0]
    broker = f"redis://:fsecretA@{host}/0;redis://:fsecretB@{host}/0"
    result = run_cli("queue", "show", "--broker", broker, uri=f"sqlite:///{tmp_path}/x.db")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["broker"] == f"redis://:***@{host}/0;redis://:***@{host}/0"
    assert "fsecret" not in result.stdout + result.stderr


def test_signing_from_the_environment_and_the_cli(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = dict(line.split("=", 1) for line in run_cli("keygen").stdout.splitlines())
    uri = f"sqlite:///{tmp_path}/x.db"
    with superlite.connect(uri, broker=None) as db:
        db.apply(ObjectModel("inc", object=abs))
    monkeypatch.setenv("SUPERLITE_SIGNING_KEY", keys["SUPERLITE_SIGNING_KEY"])
    monkeypatch.setenv("SUPERLITE_REQUIRE_SIGNATURES", "true")
    with superlite.connect(uri, broker=None) as db, pytest.raises(SignatureError, match="not signed"):
        db.load("model", "inc", lazy=False)
    signed = run_cli("db", "sign", "--unsigned", uri=uri)
    assert json.loads(signed.stdout)["signed"] == ["model inc v0"], signed.stderr
    assert keys["SUPERLITE_SIGNING_KEY"] not in signed.stdout + signed.stderr
    with superlite.connect(uri, broker=None) as db:
        assert db.load("model", "inc").predict(-3) == 3


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"require_signatures": True}, "require_signatures is set but no key is configured"),
        ({"signing_key": "short"}, "at least 16 characters"),
        ({"signing_key": "ed25519:not base64!"}, "not valid base64"),
        ({"signing_key": "ed25519-public:" + "A" * 43 + "="}, "cannot sign"),
        ({"verify_keys": "ed25519-public:AAAA"}, "not an Ed25519 public key"),
        ({"allowed_modules": [""]}, "must be a list of non-empty str"),
    ],
)
def test_bad_security_settings_fail_at_connect(tmp_path, options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        superlite.connect(f"sqlite:///{tmp_path}/x.db", broker=None, **options)


def test_a_bad_environment_flag_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"\$SUPERLITE_REQUIRE_SIGNATURES must be 1/true/yes"):
        Settings.resolve("sqlite:///x.db", environ={"SUPERLITE_REQUIRE_SIGNATURES": "maybe"})


def test_scrub_hides_the_secrets_of_every_uri_form() -> None:
    message = "failed at fsecretB and pgsecret1 / qsecret2, sl/ash@at3; user alice at srv/a@b"
    uris = [FAILOVER, *(uri for uri, _ in SECRET_URIS), "sqlite:////srv/a@b/x.db"]
    assert scrub(message, uris) == "failed at *** and *** / ***, ***; user alice at srv/a@b"


def test_in_process_compute_applies_the_worker_rules(db: superlite.Datalayer) -> None:
    first = db.apply(ObjectModel("first", object=abs))
    db.apply(ObjectModel("second", object=abs))
    with pytest.raises(NotFoundError, match=f"uuid {first.uuid} is model 'first', not model 'second'"):
        db.compute(f"&:component:model:second:{first.uuid}", "predict", (-1,))
    with pytest.raises(ConfigurationError, match="refusing to call private method '__class__'"):
        db.compute(first.reference, "__class__")
    with pytest.raises(ComputeError, match="'post_create' is not a servable method"):
        db.compute(first.reference, "post_create", (db,))
    assert db.compute(first.reference, "predict", (-1,)) == 1


def test_security_options_from_the_environment() -> None:
    environ = {
        "SUPERLITE_SIGNING_KEY": KEY, "SUPERLITE_VERIFY_KEYS": f"{OLD_KEY}, ed25519-public:x",
        "SUPERLITE_REQUIRE_SIGNATURES": "yes", "SUPERLITE_ALLOWED_MODULES": "my_models,other.models",
    }
    security = Settings.resolve("sqlite:///x.db", environ=environ).security
    assert (security.signing_key, security.verify_keys) == (KEY, (OLD_KEY, "ed25519-public:x"))
    assert (security.require_signatures, security.allowed_modules) == (True, ("my_models", "other.models"))
    explicit = Settings.resolve("sqlite:///x.db", environ=environ, require_signatures=False, allowed_modules=["a"])
    assert (explicit.security.require_signatures, explicit.security.allowed_modules) == (False, ("a",))
