"""Resolving a destination's settings from arguments, environment, config file and defaults.

Precedence, highest first, for every setting: arguments (the destination's own, then the
global ones) > environment (``AGENT_OTLP_<DEST>_<KEY>``, ``AGENT_OTLP_<KEY>``, then the
``OTEL_*`` variable, signal-specific before generic) > config file (``[destination.<name>]``,
then the top level) > the adapter's defaults > built-in defaults. ``docs/configuration.md``
has the table.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypedDict
from urllib.parse import unquote, urlsplit

from agent_otlp.core.config import envvars as ev
from agent_otlp.core.config.capture import NO_CONTENT, SPAN_AND_EVENT, SPAN_ONLY, parse_capture
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.config.headers import check_headers
from agent_otlp.core.config.loading import destination_names, load_config_file
from agent_otlp.core.config.parsers import (
    Number,
    choice,
    parse_bool,
    parse_headers,
    parse_key_values,
    parse_path,
    parse_rate,
    parse_text,
)
from agent_otlp.core.config.secrets import (
    Secret,
    is_secret_header,
    mask_headers,
    mask_value,
    register_secret,
)
from agent_otlp.core.config.tls import TLSOptions
from agent_otlp.core.convert.flatten import flatten_into
from agent_otlp.core.convert.records import AttrValue

__all__ = [
    "PROTOCOLS",
    "Settings",
    "TransportDefaults",
    "check_endpoint",
    "destination_names",
    "load_config_file",
    "parse_key_values",
    "resolve_settings",
]

PROTOCOLS: Final = ("http/protobuf", "grpc")
COMPRESSIONS: Final = ("gzip", "none")
TRANSPORTS: Final = ("native", "otel-sdk")
DEFAULT_CONTENT_LIMIT: Final = 32768


class TransportDefaults(TypedDict, total=False):
    """What an adapter may default. Every key is optional."""

    protocol: str
    endpoints: Mapping[str, str]
    headers: Mapping[str, str | Secret]
    compression: str
    timeout: float
    batch_size: int
    insecure: bool
    attribute_value_limit: int
    attribute_count_limit: int
    content_limit: int
    capture_content: bool
    service_name: str


@dataclass(frozen=True, slots=True)
class Settings:
    """A destination's resolved settings. Built by :func:`resolve_settings` only."""

    name: str
    adapter: str
    endpoint: str
    protocol: str
    headers: Mapping[str, str | Secret]
    timeout: float
    compression: str
    tls: TLSOptions
    insecure: bool | None
    batch_size: int
    schedule_delay: float
    max_queue_size: int
    retry_deadline: float
    capture_content: bool
    legacy_attributes: bool
    sample_rate: float
    sample_keep_errors: bool
    attribute_value_limit: int | None
    attribute_count_limit: int | None
    content_limit: int
    service_name: str | None
    resource: Mapping[str, AttrValue]
    options: Mapping[str, Any] = field(default_factory=dict)
    disabled: bool = False
    #: ``native`` (agent-otlp's own sender) or ``otel-sdk`` (opentelemetry-exporter-otlp).
    transport: str = "native"
    #: Requests one destination may have in flight at once (without a store).
    max_in_flight: int = 8
    #: Where captured content goes (``core.config.capture``); ``capture_content`` says
    #: whether it is captured at all.
    content_mode: str = NO_CONTENT
    #: Which source gave each setting (``"env OTEL_EXPORTER_OTLP_ENDPOINT"``...).
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def content_on_spans(self) -> bool:
        """Whether captured content may be written as span attributes (``event_only`` keeps it
        in events, ``no_content`` nowhere)."""
        return self.content_mode in (SPAN_ONLY, SPAN_AND_EVENT)

    def describe(self) -> dict[str, Any]:
        """The settings fit for display: secrets masked."""
        shown: dict[str, Any] = {}
        for key in self.__dataclass_fields__:
            if key == "origins":
                continue
            value = getattr(self, key)
            if key == "headers":
                value = mask_headers(value)
            elif key == "endpoint":
                value = _PASSWORD.sub(r"\1****@", value)
            elif key == "options":
                value = {k: (mask_value(v) if isinstance(v, Secret) or is_secret_header(k) else v) for k, v in value.items()}
            elif isinstance(value, TLSOptions):
                value = {
                    "ca_file": value.ca_file,
                    "client_cert_file": value.client_cert_file,
                    "client_key_file": value.client_key_file,
                    "verify": value.verify,
                }
            elif isinstance(value, Mapping):
                value = dict(value)
            shown[key] = value
        return shown


_PASSWORD: Final = re.compile(r"(://[^/@:]*:)[^/@]*@")


def check_endpoint(value: str, label: str, protocol: str) -> str:
    """``value`` when it is a usable OTLP endpoint for ``protocol``, else a ConfigError naming
    ``label`` (a password in the URL masked, and registered as a secret)."""
    shown = _PASSWORD.sub(r"\1****@", value)  # errors never show a password of the URL
    try:
        parts = urlsplit(value if "://" in value else f"//{value}")
    except ValueError as exc:  # "Invalid IPv6 URL"...
        raise ConfigError(label, shown, f"expected a URL ({exc})") from None
    if "://" in value and parts.scheme not in ("http", "https"):
        raise ConfigError(label, shown, "expected an http:// or https:// URL")
    if "://" not in value and protocol != "grpc":
        raise ConfigError(label, shown, "expected an http:// or https:// URL")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(label, shown, "the port must be a number from 1 to 65535") from None
    if not parts.hostname or (port is not None and not 0 < port < 65536):
        raise ConfigError(label, shown, "expected a URL with a host, e.g. http://localhost:4318")
    if parts.password:  # from now on logs, errors and listings show it masked
        register_secret(parts.password)
        register_secret(unquote(parts.password))
    return value


# --- the table ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Spec:
    key: str
    parse: Callable[[Any, str], Any]
    default: Any
    #: OTel variables, signal-specific first, each with the factor to the setting's unit.
    otel: tuple[tuple[str, float], ...] = ()


_SPECS: Final = (
    _Spec("protocol", choice(PROTOCOLS, {"http": "http/protobuf"}), None,
          ((ev.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, 1), (ev.OTEL_EXPORTER_OTLP_PROTOCOL, 1))),
    _Spec("headers", parse_headers, {},
          ((ev.OTEL_EXPORTER_OTLP_TRACES_HEADERS, 1), (ev.OTEL_EXPORTER_OTLP_HEADERS, 1))),
    # OTel's timeouts are milliseconds and positive: 0 is refused, not "no limit"
    _Spec("timeout", Number(float, 0.0, above=True), 10.0,
          ((ev.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, 0.001), (ev.OTEL_EXPORTER_OTLP_TIMEOUT, 0.001))),
    _Spec("compression", choice(COMPRESSIONS), "none",
          ((ev.OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, 1), (ev.OTEL_EXPORTER_OTLP_COMPRESSION, 1))),
    _Spec("certificate", parse_path, None,
          ((ev.OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE, 1), (ev.OTEL_EXPORTER_OTLP_CERTIFICATE, 1))),
    _Spec("client_certificate", parse_path, None, ((ev.OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, 1),)),
    _Spec("client_key", parse_path, None, ((ev.OTEL_EXPORTER_OTLP_CLIENT_KEY, 1),)),
    _Spec("insecure", parse_bool, None, ((ev.OTEL_EXPORTER_OTLP_INSECURE, 1),)),
    _Spec("tls_verify", parse_bool, True),
    # 100 spans and 10 s: the defaults of RAAF's OpenTelemetry-protocol spec
    _Spec("batch_size", Number(int, 1), 100, ((ev.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 1),)),
    _Spec("schedule_delay", Number(float, 0.0), 1.0, ((ev.OTEL_BSP_SCHEDULE_DELAY, 0.001),)),
    _Spec("max_queue_size", Number(int, 1), 100_000, ((ev.OTEL_BSP_MAX_QUEUE_SIZE, 1),)),
    _Spec("retry_deadline", Number(float, 0.0), 60.0, ((ev.OTEL_BSP_EXPORT_TIMEOUT, 0.001),)),
    _Spec("max_in_flight", Number(int, 1), 8),
    _Spec("capture_content", parse_capture, False,
          ((ev.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, 1),)),
    _Spec("legacy_attributes", parse_bool, False),
    _Spec("sample_rate", parse_rate, 1.0),
    _Spec("sample_keep_errors", parse_bool, True),
    _Spec("attribute_value_limit", Number(int, 1), None,
          ((ev.OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, 1),)),
    _Spec("attribute_count_limit", Number(int, 1), None,
          ((ev.OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, 1),)),
    _Spec("content_limit", Number(int, 16), DEFAULT_CONTENT_LIMIT),
    _Spec("service_name", parse_text, None, ((ev.OTEL_SERVICE_NAME, 1),)),
    _Spec("disabled", parse_bool, False, ((ev.OTEL_SDK_DISABLED, 1),)),
    _Spec("transport", choice(TRANSPORTS), "native"),
)
_KNOWN: Final = frozenset(s.key for s in _SPECS) | {"endpoint", "adapter", "resource", "options"}


def _env_name(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.upper())


def _scaled(spec: _Spec, raw: str, factor: float, label: str) -> Any:
    if factor == 1:
        return spec.parse(raw, label)
    bound = spec.parse.bound if isinstance(spec.parse, Number) else ">= 0"
    try:
        return spec.parse(float(raw) * factor, label)
    except ValueError:  # ConfigError included: show the value as the user wrote it
        raise ConfigError(label, raw, f"expected a number of milliseconds, {bound}") from None


class _Layers:
    """Finds the first source that sets a key, and remembers which it was."""

    def __init__(
        self,
        name: str,
        arguments: Mapping[str, Any],
        dest_arguments: Mapping[str, Any],
        env: Mapping[str, str],
        file_top: Mapping[str, Any],
        file_dest: Mapping[str, Any],
    ) -> None:
        self.prefix = f"AGENT_OTLP_{_env_name(name)}_"
        self.arguments, self.dest_arguments = arguments, dest_arguments
        self.env, self.file_top, self.file_dest = env, file_top, file_dest
        self.origins: dict[str, str] = {}

    def user_value(self, spec: _Spec) -> tuple[bool, Any]:
        key = spec.key
        for source, label in ((self.dest_arguments, "argument"), (self.arguments, "argument")):
            if source.get(key) is not None:
                self.origins[key] = label
                return True, spec.parse(source[key], f"{key} (argument)")
        for env_name in (self.prefix + key.upper(), "AGENT_OTLP_" + key.upper()):
            if self.env.get(env_name):
                self.origins[key] = f"env {env_name}"
                return True, spec.parse(self.env[env_name], env_name)
        for env_name, factor in spec.otel:
            if self.env.get(env_name):
                self.origins[key] = f"env {env_name}"
                return True, _scaled(spec, self.env[env_name], factor, env_name)
        for source, label in ((self.file_dest, "config file"), (self.file_top, "config file")):
            if source.get(key) is not None:
                self.origins[key] = label
                return True, spec.parse(source[key], f"{key} ({label})")
        return False, None


def _endpoint(layers: _Layers, protocol: str, defaults: TransportDefaults) -> str:
    """The URL to send to: OTEL_EXPORTER_OTLP_ENDPOINT is a base that gets /v1/traces."""
    candidates: list[tuple[str, Any, bool]] = [
        ("argument", layers.dest_arguments.get("endpoint"), False),
        ("argument", layers.arguments.get("endpoint"), False),
        (layers.prefix + "ENDPOINT", layers.env.get(layers.prefix + "ENDPOINT"), False),
        (ev.AGENT_OTLP_ENDPOINT, layers.env.get(ev.AGENT_OTLP_ENDPOINT), False),
        (ev.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, layers.env.get(ev.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), False),
        (ev.OTEL_EXPORTER_OTLP_ENDPOINT, layers.env.get(ev.OTEL_EXPORTER_OTLP_ENDPOINT), True),
        ("config file", layers.file_dest.get("endpoint"), False),
        ("config file", layers.file_top.get("endpoint"), False),
        ("adapter default", (defaults.get("endpoints") or {}).get(protocol), False),
        ("built-in default", _BUILTIN_ENDPOINTS[protocol], False),
    ]
    for label, raw, is_base in candidates:
        if not raw:
            continue
        setting = label if label.startswith(("OTEL_", "AGENT_OTLP_")) else f"endpoint ({label})"
        if not isinstance(raw, str):
            raise ConfigError(setting, raw, "expected a URL")
        value = check_endpoint(raw.strip(), setting, protocol)
        layers.origins["endpoint"] = label
        if protocol != "grpc" and (is_base or urlsplit(value).path in ("", "/")):
            value = value.rstrip("/") + "/v1/traces"
        return value
    raise AssertionError("unreachable: built-in endpoints cover every protocol")


_BUILTIN_ENDPOINTS: Final = {"http/protobuf": "http://localhost:4318", "grpc": "http://localhost:4317"}


def _resource(env: Mapping[str, str], arguments: Mapping[str, Any], file_cfg: Mapping[str, Any]) -> dict[str, AttrValue]:
    resource: dict[str, AttrValue] = {}
    raw = env.get(ev.OTEL_RESOURCE_ATTRIBUTES)
    if raw:
        pairs = parse_key_values(raw, ev.OTEL_RESOURCE_ATTRIBUTES)
        resource.update({k: str(v) for k, v in pairs.items()})
    for source, label in ((file_cfg.get("resource"), "resource (config file)"),
                          (arguments.get("resource"), "resource (argument)")):
        if source is None:
            continue
        if not isinstance(source, Mapping):
            raise ConfigError(label, source, "expected a table of attributes")
        for key, value in source.items():
            flatten_into(resource, str(key), value)
    return resource


DefaultsFn = Callable[[str, "str | None", Mapping[str, Any], Mapping[str, str]], TransportDefaults]


def resolve_settings(
    name: str,
    *,
    adapter: str | None = None,
    arguments: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    file_config: Mapping[str, Any] | None = None,
    adapter_defaults: DefaultsFn | None = None,
) -> Settings:
    """Settings of the destination ``name`` (an adapter name unless configured otherwise)."""
    arguments = arguments or {}
    env = os.environ if env is None else env
    file_config = file_config or {}
    dest_args = (arguments.get("destinations") or {}).get(name) or {}
    file_dest = (file_config.get("destination") or {}).get(name) or {}
    if not isinstance(file_dest, Mapping):
        raise ConfigError(f"destination.{name} (config file)", file_dest, "expected a table")
    adapter = adapter or dest_args.get("adapter") or file_dest.get("adapter") or name
    layers = _Layers(name, arguments, dest_args, env, file_config, file_dest)
    options = _options(name, env, file_dest, arguments, dest_args)
    specs = {s.key: s for s in _SPECS}
    has_protocol, protocol = layers.user_value(specs["protocol"])
    defaults: TransportDefaults = (
        adapter_defaults(adapter, protocol if has_protocol else None, options, env)
        if adapter_defaults else {}
    )
    values: dict[str, Any] = {}
    for spec in _SPECS:
        found, value = layers.user_value(spec)
        if not found:
            value = defaults.get(spec.key, spec.default)
            layers.origins.setdefault(spec.key, "adapter default" if spec.key in defaults else "default")
        values[spec.key] = value
    protocol = values["protocol"] or "http/protobuf"
    headers = dict(defaults.get("headers") or {})
    check_headers(headers, f"adapter {adapter} defaults")
    headers.update(values["headers"])
    endpoint = _endpoint(layers, protocol, defaults)
    tls = TLSOptions(
        values["certificate"], values["client_certificate"], values["client_key"], values["tls_verify"]
    )
    if bool(tls.client_cert_file) != bool(tls.client_key_file):
        raise ConfigError("client_certificate/client_key", "(one of them)", "give both or neither")
    # an adapter's default is a boolean: read it as a user's value would be
    content_mode = parse_capture(values["capture_content"], "capture_content")
    return Settings(
        name=name,
        adapter=adapter,
        endpoint=endpoint,
        protocol=protocol,
        headers=headers,
        timeout=float(values["timeout"]),
        compression=values["compression"],
        tls=tls,
        insecure=values["insecure"],
        batch_size=values["batch_size"],
        schedule_delay=float(values["schedule_delay"]),
        max_queue_size=values["max_queue_size"],
        retry_deadline=float(values["retry_deadline"]),
        capture_content=content_mode != NO_CONTENT,
        content_mode=content_mode,
        legacy_attributes=values["legacy_attributes"],
        sample_rate=values["sample_rate"],
        sample_keep_errors=values["sample_keep_errors"],
        attribute_value_limit=values["attribute_value_limit"],
        attribute_count_limit=values["attribute_count_limit"],
        content_limit=values["content_limit"],
        service_name=values["service_name"],
        resource=_resource(env, {**arguments, **dest_args}, {**file_config, **file_dest}),
        options=options,
        disabled=values["disabled"],
        transport=values["transport"],
        max_in_flight=values["max_in_flight"],
        origins=layers.origins,
    )


def _options(
    name: str,
    env: Mapping[str, str],
    file_dest: Mapping[str, Any],
    arguments: Mapping[str, Any],
    dest_args: Mapping[str, Any],
) -> dict[str, Any]:
    """Adapter-specific options: unknown keys of the destination's table, its env vars, args."""
    options: dict[str, Any] = {k: v for k, v in file_dest.items() if k not in _KNOWN}
    options.update(file_dest.get("options") or {})
    prefix = f"AGENT_OTLP_{_env_name(name)}_"
    known_env = {k.upper() for k in _KNOWN}
    for key, value in env.items():
        if key.startswith(prefix) and key[len(prefix):] not in known_env:
            options[key[len(prefix):].lower()] = value
    options.update(arguments.get("options") or {})
    options.update(dest_args.get("options") or {})
    return options
