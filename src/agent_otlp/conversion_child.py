"""The conversion process of a historical export (:mod:`agent_otlp.conversion`), its side:
``python -c '...main()'`` with frames on stdin and its answers on stdout.

The first frame is the pickled :class:`ConversionSpec`; the process builds the destination
adapter's hooks and the wire encoder from it and answers ``(READY, pid)``, or
``(FAILED, reason)`` when it cannot. Every later frame is one page of items (pickled); the
answer, in the same order, is ``(CONVERTED, body, spans, dropped, errors, unreadable)``: the
request's bytes (``None`` when no span is left), the spans in it, the spans the hooks
dropped, the hooks' errors and the problems of the items that do not parse; or
``(FAILED, reason)`` when converting the page raised. Answers are ``marshal`` dumps. The
adapter's state lives here, one dictionary for the whole export, as it would in one process.

Ctrl-C is left to the exporting process (SIGINT ignored); the end of stdin ends this one, and
so does the end of the exporting process (its answers then have no reader).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import pickle
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any, Final

from agent_otlp.core.config.secrets import Secret, redact_text, register_secret
from agent_otlp.core.config.settings import Settings
from agent_otlp.core.convert.records import AttrValue
from agent_otlp.core.convert.spans import ConvertOptions
from agent_otlp.core.plugins.manager import AdapterManager
from agent_otlp.core.wire.encode import WireEncoder
from agent_otlp.inflight import prepare
from agent_otlp.offload.frames import pack_frame, read_frame
from agent_otlp.sources.plugins.convert import item_records

__all__ = ["CONVERTED", "FAILED", "READY", "ConversionSpec", "main", "serve"]

READY: Final = 0
CONVERTED: Final = 1
FAILED: Final = 2


@dataclass(frozen=True, slots=True)
class ConversionSpec:
    """What the process needs to turn items into requests as the exporting process would:
    the destination's settings, the conversion options (as their fields: a compiled
    :class:`ConvertOptions` is not pickled), the resource, and the environment the adapter's
    hooks are loaded with."""

    settings: Settings
    capture_content: bool
    legacy_attributes: bool
    resource: Mapping[str, AttrValue]
    env: Mapping[str, str]


def _register_secrets(settings: Settings) -> None:
    """Secrets come unpickled without registering themselves: register them for masking."""
    values: list[Any] = [*settings.headers.values(), *settings.options.values()]
    for value in values:
        if isinstance(value, Secret):
            register_secret(value.reveal())


def _reason(exc: BaseException) -> str:
    return redact_text(f"{type(exc).__name__}: {exc}".strip())


def serve(source: IO[bytes], answers: IO[bytes]) -> None:
    """Read the spec, then convert pages until the end of ``source``."""

    def answer(*payload: Any) -> None:
        view = memoryview(pack_frame(marshal.dumps(payload)))
        while view:  # an unbuffered write may take part of it
            view = view[answers.write(view) or 0:]

    first = read_frame(source)
    if first is None:
        return
    try:
        spec: ConversionSpec = pickle.loads(first)  # noqa: S301 - from the exporting process
        _register_secrets(spec.settings)
        settings = spec.settings
        options = ConvertOptions(spec.capture_content, spec.legacy_attributes)
        hooks = AdapterManager(env=spec.env).hooks_for(settings.adapter)
        encoder = WireEncoder(dict(spec.resource))
    except Exception as exc:
        answer(FAILED, _reason(exc))
        return
    answer(READY, os.getpid())
    state: dict[str, Any] = {}
    while (frame := read_frame(source)) is not None:
        problems: list[str] = []
        errors: list[str] = []
        try:
            items = pickle.loads(frame)  # noqa: S301 - from the exporting process
            records = item_records(items, options, problems.append)
            body, spans, dropped = (prepare(hooks, settings, state, encoder, records, errors)
                                    if records else (None, 0, 0))
        except Exception as exc:
            answer(FAILED, _reason(exc))
            continue
        answer(CONVERTED, body, spans, dropped, errors, problems)


def main() -> None:
    """The process's entry: answers go to the stdout it was started with; anything else
    written to stdout (a plugin's print) goes to stderr."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    with contextlib.suppress(BrokenPipeError):  # the exporting process is gone: no reader
        serve(sys.stdin.buffer, answers)
