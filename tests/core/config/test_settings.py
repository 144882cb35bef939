"""Settings resolution: one precedence table, OTel variables, validation and secrets."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import agent_otlp
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.config.secrets import Secret
from agent_otlp.core.config.settings import (
    Settings,
    TransportDefaults,
    destination_names,
    load_config_file,
    resolve_settings,
)
from agent_otlp.core.plugins.hookspecs import hookimpl
from agent_otlp.core.plugins.manager import AdapterManager
from agent_otlp.factory import resolve_all, resource_for

LEVELS = ("argument", "environment", "config file", "adapter default", "built-in default")

# setting -> (argument, (env var, text), config file, adapter default, expected per level)
TABLE: dict[str, tuple[Any, tuple[str, str], Any, Any, tuple[Any, ...]]] = {
    "endpoint": (
        "http://arg:1/v1/traces",
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://env:2/custom/path"),
        "http://file:3",
        "http://adapter:4",
        ("http://arg:1/v1/traces", "http://env:2/custom/path", "http://file:3/v1/traces",
         "http://adapter:4/v1/traces", "http://localhost:4318/v1/traces"),
    ),
    "protocol": (
        "http/protobuf", ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), "http", "grpc",
        ("http/protobuf", "grpc", "http/protobuf", "grpc", "http/protobuf"),
    ),
    "headers": (
        {"x-team": "a"}, ("OTEL_EXPORTER_OTLP_HEADERS", "x-team=e"), {"x-team": "f"},
        {"x-team": "d"},
        ({"x-team": "a"}, {"x-team": "e"}, {"x-team": "f"}, {"x-team": "d"}, {}),
    ),
    "timeout": (
        1.5, ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"), 3.5, 4.5, (1.5, 2.5, 3.5, 4.5, 10.0),
    ),
    "batch_size": (
        11, ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "22"), 33, 44, (11, 22, 33, 44, 100),
    ),
    "capture_content": (
        False, ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true"), False, True,
        (False, True, False, True, False),
    ),
    "service_name": (
        "svc-arg", ("OTEL_SERVICE_NAME", "svc-env"), "svc-file", "svc-adapter",
        ("svc-arg", "svc-env", "svc-file", "svc-adapter", None),
    ),
}


def _resolve(setting: str, level: int) -> Settings:
    arg, (env_name, env_value), file_value, adapter_value, _ = TABLE[setting]
    arguments = {setting: arg} if level <= 0 else {}
    env = {env_name: env_value} if level <= 1 else {}
    file_config = {setting: file_value} if level <= 2 else {}
    defaults: dict[str, Any] = {}
    if level <= 3:
        key = "endpoints" if setting == "endpoint" else setting
        value = {"http/protobuf": adapter_value} if setting == "endpoint" else adapter_value
        defaults[key] = value

    def adapter_defaults(*_: Any) -> TransportDefaults:
        return defaults  # type: ignore[return-value]

    return resolve_settings(
        "otlp", arguments=arguments, env=env, file_config=file_config,
        adapter_defaults=adapter_defaults,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: v.reveal() if isinstance(v, Secret) else v for k, v in value.items()}
    return value


@pytest.mark.parametrize("level", range(len(LEVELS)), ids=LEVELS)
@pytest.mark.parametrize("setting", list(TABLE))
def test_precedence(setting: str, level: int) -> None:
    settings = _resolve(setting, level)
    assert _plain(getattr(settings, setting)) == TABLE[setting][4][level]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"AGENT_OTLP_OTLP_TIMEOUT": "1", "AGENT_OTLP_TIMEOUT": "2",
          "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "3000", "OTEL_EXPORTER_OTLP_TIMEOUT": "4000"}, 1.0),
        ({"AGENT_OTLP_TIMEOUT": "2", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "3000",
          "OTEL_EXPORTER_OTLP_TIMEOUT": "4000"}, 2.0),
        ({"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "3000", "OTEL_EXPORTER_OTLP_TIMEOUT": "4000"}, 3.0),
        ({"OTEL_EXPORTER_OTLP_TIMEOUT": "4000"}, 4.0),
    ],
)
def test_environment_order(env: dict[str, str], expected: float) -> None:
    assert resolve_settings("otlp", env=env).timeout == expected


def test_destination_arguments_beat_global_ones() -> None:
    s = resolve_settings("otlp", arguments={"batch_size": 5,
                                             "destinations": {"otlp": {"batch_size": 7}}}, env={})
    assert s.batch_size == 7
    assert s.origins["batch_size"] == "argument"


@pytest.mark.parametrize(
    ("env", "protocol", "expected"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, None, "http://c:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/base/"}, None,
         "http://c:4318/base/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/x"}, None, "http://c:4318/x"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:1/x",
          "OTEL_EXPORTER_OTLP_ENDPOINT": "http://g:2"}, None, "http://t:1/x"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"}, "grpc", "http://c:4317"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "c:4317"}, "grpc", "c:4317"),
        ({}, "grpc", "http://localhost:4317"),
    ],
)
def test_otel_endpoints(env: dict[str, str], protocol: str | None, expected: str) -> None:
    arguments = {"protocol": protocol} if protocol else {}
    assert resolve_settings("otlp", env=env, arguments=arguments).endpoint == expected


def test_other_otel_variables(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    s = resolve_settings("otlp", env={
        "OTEL_EXPORTER_OTLP_COMPRESSION": "none",
        "OTEL_EXPORTER_OTLP_CERTIFICATE": str(ca),
        "OTEL_BSP_SCHEDULE_DELAY": "250",
        "OTEL_BSP_MAX_QUEUE_SIZE": "7",
        "OTEL_BSP_EXPORT_TIMEOUT": "5000",
        "OTEL_SDK_DISABLED": "true",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    })
    assert s.compression == "none"
    assert s.tls.ca_file == str(ca)
    assert s.schedule_delay == 0.25
    assert s.max_queue_size == 7
    assert s.retry_deadline == 5.0
    assert s.disabled is True
    assert s.protocol == "grpc"


def test_builtin_defaults() -> None:
    s = resolve_settings("otlp", env={})
    assert (s.batch_size, s.timeout, s.compression, s.capture_content) == (100, 10.0, "none", False)
    assert s.protocol == "http/protobuf"


def test_agent_otlp_variables_and_adapter_options() -> None:
    s = resolve_settings("my-dest", env={
        "AGENT_OTLP_BATCH_SIZE": "9", "AGENT_OTLP_MY_DEST_CAPTURE_CONTENT": "1",
        "AGENT_OTLP_MY_DEST_TENANT": "acme",
    })
    assert s.batch_size == 9
    assert s.capture_content is True
    assert s.options == {"tenant": "acme"}


def test_disabled_destination_exports_nothing() -> None:
    exporter = agent_otlp.create_exporter("otlp", env={"OTEL_SDK_DISABLED": "true"})
    assert exporter.destinations == []
    exporter.shutdown(1)


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "env", "names", "allowed"),
    [
        ({"endpoint": "ftp://x"}, {}, ["endpoint", "ftp://x"], "http"),
        ({"endpoint": "http://:99999"}, {}, ["endpoint"], "port"),
        ({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "nohost"}, ["OTEL_EXPORTER_OTLP_ENDPOINT", "nohost"],
         "URL"),
        ({"protocol": "carrier-pigeon"}, {}, ["protocol", "carrier-pigeon"], "grpc"),
        ({}, {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, ["OTEL_EXPORTER_OTLP_PROTOCOL"],
         "http/protobuf"),
        ({"batch_size": -1}, {}, ["batch_size", "-1"], ">= 1"),
        ({}, {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "lots"}, ["OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                                                          "lots"], ">= 1"),
        ({}, {"OTEL_EXPORTER_OTLP_TIMEOUT": "-5"}, ["OTEL_EXPORTER_OTLP_TIMEOUT", "-5"],
         "milliseconds"),
        ({"timeout": float("inf")}, {}, ["timeout"], "number"),
        ({"capture_content": "maybe"}, {}, ["capture_content", "maybe"], "true or false"),
        ({"compression": "zstd"}, {}, ["compression", "zstd"], "gzip"),
        ({"sample_rate": 2}, {}, ["sample_rate"], "between 0 and 1"),
        ({"certificate": "/no/such/file.pem"}, {}, ["certificate"], "file"),
    ],
)
def test_config_errors_name_setting_value_and_allowed(
    kwargs: dict[str, Any], env: dict[str, str], names: list[str], allowed: str
) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_settings("otlp", arguments=kwargs, env=env)
    text = str(info.value)
    for name in names:
        assert name in text
    assert allowed in text


def test_malformed_headers_are_masked() -> None:
    secret = "Bearer sk-very-secret-123"
    with pytest.raises(ConfigError) as info:
        resolve_settings("otlp", env={"OTEL_EXPORTER_OTLP_HEADERS": f"Authorization {secret}"})
    text = str(info.value)
    assert "OTEL_EXPORTER_OTLP_HEADERS" in text
    assert "key=value" in text
    assert secret not in text
    assert "sk-very" not in text


def test_unknown_adapter_lists_installed() -> None:
    with pytest.raises(ConfigError) as info:
        agent_otlp.create_exporter("no-such-adapter", env={})
    text = str(info.value)
    assert "no-such-adapter" in text
    assert "console" in text and "otlp" in text
    assert "agent_otlp.adapters" in text


def test_secret_headers_never_shown() -> None:
    token = "Bearer top-secret-token-xyz"
    s = resolve_settings("otlp", env={"OTEL_EXPORTER_OTLP_HEADERS": f"Authorization={token},x-team=a"})
    assert isinstance(s.headers["Authorization"], Secret)
    assert s.headers["Authorization"].reveal() == token
    assert s.headers["x-team"] == "a"
    for text in (repr(s), str(s), str(s.describe())):
        assert "top-secret" not in text
    assert "x-team" in str(s.describe())


def test_headers_percent_decoded() -> None:
    s = resolve_settings("otlp", env={"OTEL_EXPORTER_OTLP_HEADERS": "x-name=a%20b%2Cc"})
    assert s.headers == {"x-name": "a b,c"}


# --- destinations, config file and resource ------------------------------------------------


def test_destination_names() -> None:
    assert destination_names({}, {}, {}) == ["console"]
    assert destination_names({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}, {}) == ["otlp"]
    assert destination_names({}, {"AGENT_OTLP_ADAPTERS": "a, b,a"}, {}) == ["a", "b"]
    assert destination_names({"adapters": ["c"]}, {"AGENT_OTLP_ADAPTERS": "a"}, {}) == ["c"]
    assert destination_names({}, {}, {"adapters": ["f"]}) == ["f"]


def test_config_file(tmp_path: Path) -> None:
    path = tmp_path / "agent-otlp.toml"
    path.write_text(
        'adapters = ["otlp"]\nbatch_size = 5\n[destination.otlp]\nbatch_size = 6\n'
        'tenant = "acme"\n[resource]\n"deployment.environment.name" = "staging"\n'
    )
    config = load_config_file(path, env={})
    s = resolve_settings("otlp", file_config=config, env={})
    assert s.batch_size == 6
    assert s.options == {"tenant": "acme"}
    assert s.resource == {"deployment.environment.name": "staging"}
    with pytest.raises(ConfigError, match="no such file"):
        load_config_file(tmp_path / "missing.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("= nope")
    with pytest.raises(ConfigError, match="TOML"):
        load_config_file(bad, env={})


class ResourceAdapter:
    @hookimpl
    def agent_otlp_resource_attributes(self, settings: Settings) -> dict[str, Any]:
        return {"service.name": "adapter-svc", "host.name": "adapter-host", "team": "adapter"}


def _resource(env: dict[str, str], **arguments: Any) -> dict[str, Any]:
    manager = AdapterManager(load_entry_points=False, env=env)
    manager.register_adapter("res", ResourceAdapter())
    ((settings, hooks),) = resolve_all("res", env=env, manager=manager, **arguments)
    return resource_for(settings, hooks)


@pytest.mark.parametrize(
    ("env", "arguments", "expected"),
    [
        ({}, {}, {"service.name": "adapter-svc", "team": "adapter"}),
        ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=attr-svc,team=attrs"}, {},
         {"service.name": "attr-svc", "team": "attrs"}),
        ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=attr-svc", "OTEL_SERVICE_NAME": "env-svc"}, {},
         {"service.name": "env-svc"}),
        ({"OTEL_SERVICE_NAME": "env-svc"}, {"service_name": "arg-svc", "resource": {"team": "r"}},
         {"service.name": "arg-svc", "team": "r"}),
        ({"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod"}, {},
         {"deployment.environment.name": "prod", "service.name": "adapter-svc"}),
    ],
)
def test_resource_precedence(
    env: dict[str, str], arguments: dict[str, Any], expected: dict[str, Any]
) -> None:
    resource = _resource(env, **arguments)
    for key, value in expected.items():
        assert resource[key] == value
    assert resource["telemetry.sdk.name"] == "agent-otlp"
    assert resource["host.name"] == "adapter-host"


def test_builtin_service_name_default() -> None:
    manager = AdapterManager(load_entry_points=False, env={})
    manager.register_adapter("plain", object())
    ((settings, hooks),) = resolve_all("plain", env={}, manager=manager)
    assert resource_for(settings, hooks)["service.name"] == "unknown_service:python"


def test_adapter_default_service_name_below_resource_attributes() -> None:
    class Named:
        @hookimpl
        def agent_otlp_transport_defaults(self) -> TransportDefaults:
            return {"service_name": "adapter-default"}

    for env, expected in (({}, "adapter-default"),
                          ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=attrs"}, "attrs")):
        manager = AdapterManager(load_entry_points=False, env=env)
        manager.register_adapter("named", Named())
        ((settings, hooks),) = resolve_all("named", env=env, manager=manager)
        assert resource_for(settings, hooks)["service.name"] == expected


def test_undecodable_environment_values_still_encode() -> None:
    from agent_otlp.core.wire.messages import encode_request

    resource = _resource({"OTEL_RESOURCE_ATTRIBUTES": "team=caf\udce9", "OTEL_SERVICE_NAME": "s\udcff"})
    assert resource["team"] == "caf\ufffd"
    encode_request([], resource).SerializeToString()
