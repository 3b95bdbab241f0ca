"""Config: exactly one auth method. Secrets never appear in output, even on failure."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from singer_sdk.exceptions import ConfigValidationError
from target_snowflake.connection import PINNED_SESSION_PARAMETERS, connect_args
from target_snowflake.target import TargetSnowflake

from testbed.servers import free_port
from tests.target.conftest import messages_text, record, run_target_process, schema_message

PASSWORD = "pw-7f3a9c-TOP-SECRET"
PASSPHRASE = "pass-91d2e-SECRET"
TOKEN = "oauth-token-4b8e1-SECRET"
INPUT = messages_text(
    [
        schema_message("people", {"id": {"type": "integer"}}, ["id"]),
        record("people", {"id": 1}),
        {"type": "STATE", "value": {"ok": 1}},
    ]
)


def without_auth(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "password"}


@pytest.mark.parametrize(
    "auth",
    [
        pytest.param({}, id="none"),
        pytest.param({"password": "a", "token": "b", "authenticator": "oauth"}, id="two"),
        pytest.param({"private_key": "x", "private_key_path": "/k.pem"}, id="key-twice"),
        pytest.param({"authenticator": "oauth"}, id="oauth-without-token"),
    ],
)
def test_exactly_one_auth_method_else_a_config_error(config, auth):
    with pytest.raises(ConfigValidationError, match="authentication method|only one|OAuth"):
        TargetSnowflake(config={**without_auth(config), **auth})


def private_key_pem(passphrase: str) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    ).decode()


def assert_secrets_absent(result, *secrets: str) -> None:
    output = result.stdout + result.stderr
    for secret in secrets:
        assert secret not in output
        for line in secret.splitlines()[1:-1]:  # PEM body lines, one by one
            assert line not in output


@pytest.fixture
def debug_logging(monkeypatch):
    """The most verbose logging the SDK offers, for the child processes."""
    monkeypatch.setenv("TARGET_SNOWFLAKE_LOGLEVEL", "DEBUG")
    monkeypatch.setenv("LOGLEVEL", "DEBUG")


def test_password_never_logged_on_success(config, snowflake, tmp_path, debug_logging):
    user = "PASSWORD_USER"
    with snowflake.cursor() as cursor:
        cursor.execute(
            f"CREATE USER {user} PASSWORD = '{PASSWORD}' DEFAULT_ROLE = LOADER"
            " DEFAULT_WAREHOUSE = LOADING"
        )
        cursor.execute(f"GRANT ROLE LOADER TO USER {user}")
    result = run_target_process({**config, "user": user, "password": PASSWORD}, INPUT, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.states == [{"ok": 1}]
    assert "DEBUG" in result.stderr and "snowflake.connector" in result.stderr
    assert_secrets_absent(result, PASSWORD)


def test_private_key_and_passphrase_never_logged(config, tmp_path, debug_logging):
    pem = private_key_pem(PASSPHRASE)
    key_config = {**without_auth(config), "private_key": pem, "private_key_passphrase": PASSPHRASE}
    result = run_target_process(key_config, INPUT, tmp_path)
    assert result.returncode == 0, result.stderr  # the emulator accepts any key
    assert result.states == [{"ok": 1}]
    assert_secrets_absent(result, pem, PASSPHRASE)
    # A wrong passphrase fails clearly, still without the key.
    wrong = {**key_config, "private_key_passphrase": "wrong-" + PASSPHRASE}
    result = run_target_process(wrong, INPUT, tmp_path)
    assert result.returncode != 0
    assert "Could not read the private key" in result.stderr
    assert_secrets_absent(result, pem, PASSPHRASE)


def test_secrets_never_logged_on_a_failing_connection(config, tmp_path, debug_logging):
    unreachable = {**config, "port": free_port(), "login_timeout": 5, "network_timeout": 5}
    for auth in ({"password": PASSWORD}, {"authenticator": "oauth", "token": TOKEN}):
        result = run_target_process({**without_auth(unreachable), **auth}, INPUT, tmp_path)
        assert result.returncode != 0
        assert "Could not connect to Snowflake" in result.stderr
        assert result.stdout == ""
        assert_secrets_absent(result, PASSWORD, TOKEN)


def test_secrets_never_in_config_validation_errors(config, tmp_path):
    # A secret of the wrong type: the validator's message would quote the value.
    result = run_target_process({**config, "password": 918273645546372819}, INPUT, tmp_path)
    assert result.returncode != 0
    assert "918273645546372819" not in result.stdout + result.stderr
    assert os.environ.get("TARGET_SNOWFLAKE_PASSWORD") is None


@pytest.mark.parametrize(
    "passphrase", [pytest.param(PASSPHRASE, id="encrypted"), pytest.param("", id="unencrypted")]
)
def test_private_key_path_with_passphrase_logs_in_by_key_pair(config, tmp_path, passphrase):
    key_path = tmp_path / "rsa_key.p8"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    key_config = {**without_auth(config), "private_key_path": str(key_path)}
    if passphrase:
        key_config["private_key_passphrase"] = passphrase

    # The connector gets a JWT login with the decrypted key itself, not a password.
    args = connect_args(key_config)
    assert args["authenticator"] == "SNOWFLAKE_JWT"
    assert "password" not in args
    assert args["private_key"].private_numbers() == key.private_numbers()

    # The real connector accepts these parameters (the emulator accepts any key).
    result = run_target_process(key_config, INPUT, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.states == [{"ok": 1}]
    if passphrase:
        assert_secrets_absent(result, PASSPHRASE)


def test_query_tag_is_a_session_parameter_of_the_login(config):
    """Snowflake takes QUERY_TAG as a session parameter sent with the login (the emulator
    refuses `ALTER SESSION SET QUERY_TAG` and keeps no query history to check it)."""
    args = connect_args({**config, "query_tag": "meltano:intercom"})
    assert args["session_parameters"] == {
        **PINNED_SESSION_PARAMETERS,
        "QUERY_TAG": "meltano:intercom",
    }
    assert "QUERY_TAG" not in connect_args(config)["session_parameters"]
