"""Commands that export: ``demo`` and ``send``."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from agent_otlp.cli import EXIT_CODES_HELP, ExitCode, app
from agent_otlp.cli._common import (
    AdaptersOpt,
    ConfigOpt,
    ContentOpt,
    EndpointOpt,
    NoStoreOpt,
    ProtocolOpt,
    StoreOpt,
    build_exporter,
    console,
    delivery_exit_code,
    err_console,
    report_invalid_items,
    stats_table,
    submit_listed,
)
from agent_otlp.core.errors import InputError
from agent_otlp.core.jsonitems import data_array_start, loads_item, split_array


@app.command(epilog=EXIT_CODES_HELP)
def demo(
    adapter: AdaptersOpt = None,
    config: ConfigOpt = None,
    endpoint: EndpointOpt = None,
    protocol: ProtocolOpt = None,
    capture_content: ContentOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for delivery.")] = 30.0,
) -> None:
    """Run a sample multi-agent workflow (OpenAI Agents SDK tracing, no model calls, no
    network) and export it through the chosen adapter."""
    try:
        from agents.tracing import set_trace_processors
    except ImportError:
        err_console.print("the demo needs the OpenAI Agents SDK: pip install 'agent-otlp[openai-agents]'")
        raise typer.Exit(ExitCode.USAGE) from None
    from agent_otlp.core.processor import make_processor
    from agent_otlp.workloads import run_demo_workflow

    exporter = build_exporter(adapter, config, endpoint, protocol, capture_content)
    set_trace_processors([make_processor(exporter)])
    result = run_demo_workflow()
    report = exporter.shutdown(timeout)
    set_trace_processors([])
    console.print(f"workflow trace {result.trace_id}: {result.span_count} agent spans + workflow span")
    console.print(f"OTel trace id: {result.trace_id.removeprefix('trace_')}")
    for dest in exporter.destinations:
        output = getattr(getattr(dest, "_transport", None), "output", None)
        target = output if output is not None else dest.settings.endpoint
        console.print(f"  -> {dest.name}: {target}")
    console.print(stats_table(exporter))
    if not report.delivered:
        raise typer.Exit(ExitCode.UNDELIVERED)


def _iter_items(stream: TextIO, errors: list[InputError]) -> Iterator[Any]:
    """Items from JSON Lines, or from one JSON document (an object, a list, or
    ``{"data": [...]}``) spread over several lines.

    JSON Lines are streamed: each line is handled as it arrives (a pipe that stays open is
    exported while it is written) and only one line is held at a time. A line holding an
    array or ``{"data": [...]}`` gives its items. When the first line is not a whole JSON
    value, the input is one document and is read whole (:func:`_document`).
    """
    first = True
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        item, problem = loads_item(line)
        if problem is None:
            yield from _items_of(item)
        elif first:  # "[" or "{" alone, say: a document over several lines
            yield from _document("\n" * (number - 1) + line + stream.read(), errors)
            return
        else:
            errors.append(InputError(f"line {number}", line[:80], problem))
        first = False


def _items_of(value: Any) -> list[Any]:
    """The items of one JSON value: a list's elements, ``{"data": [...]}``'s, or itself."""
    if isinstance(value, list):
        return value
    data = value.get("data") if isinstance(value, dict) else None
    return data if isinstance(data, list) else [value]


def _document(text: str, errors: list[InputError]) -> Iterator[Any]:
    """Items of a whole document. One that does not parse as a whole (cut short, or one
    item nested too deeply) is read item by item: only the unreadable items are lost, each
    reported with its line."""
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        whole, reason = loads_item(text)
        if reason is None:
            yield from _items_of(whole)
            return
        if "Extra data" not in reason:  # not JSON Lines: one document, damaged
            open_at = text.index("[") if stripped.startswith("[") else data_array_start(text)
            if open_at is not None:
                elements, end = split_array(text, open_at)
                if end is None or not text[end:].strip().strip("}").strip():
                    for offset, element in elements:
                        item, problem = loads_item(element)
                        if problem is None:
                            yield item
                        else:
                            at = text.count("\n", 0, offset + len(element) - len(element.lstrip())) + 1
                            errors.append(InputError(f"line {at}", element.strip()[:80], problem))
                    return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        item, problem = loads_item(line)
        if problem is None:
            yield item
        else:
            errors.append(InputError(f"line {number}", line[:80], problem))


@app.command(epilog=EXIT_CODES_HELP)
def send(
    files: Annotated[list[Path], typer.Argument(help="JSON or JSONL files of agent traces; - for stdin.")],
    adapter: AdaptersOpt = None,
    config: ConfigOpt = None,
    endpoint: EndpointOpt = None,
    protocol: ProtocolOpt = None,
    capture_content: ContentOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for delivery.")] = 60.0,
    store: StoreOpt = None,
    no_store: NoStoreOpt = False,
) -> None:
    """Export agent traces from files or a pipe (the OpenAI Agents SDK's export format).

    Items are recorded in the span store first (unless --no-store) and delivered from
    there: what a failing backend did not take is delivered by the next run on that store.
    --adapter also takes stored destination names (agent-otlp destinations add).
    Invalid items are listed on stderr, each once, and skipped (exit code 3)."""
    exporter = build_exporter(
        adapter, config, endpoint, protocol, capture_content, store=store, no_store=no_store
    )
    errors: list[InputError] = []
    for path in files:
        if str(path) == "-":
            stdin = sys.stdin
            if isinstance(stdin, io.TextIOWrapper):
                stdin.reconfigure(errors="replace")  # like files: bad bytes become U+FFFD
            errors.extend(submit_listed(exporter, _iter_items(stdin, errors)))
            continue
        try:
            with path.open(encoding="utf-8", errors="replace") as handle:
                errors.extend(submit_listed(exporter, _iter_items(handle, errors)))
        except OSError as exc:
            err_console.print(f"error: cannot read {path}: {exc.strerror}")
            raise typer.Exit(2) from None
    exporter.end_all_traces()
    report = exporter.shutdown(timeout)
    report_invalid_items(errors)
    console.print(stats_table(exporter, input_errors=False))
    code = delivery_exit_code(rejected=len(errors), delivered=report.delivered)
    if code:
        raise typer.Exit(code)
