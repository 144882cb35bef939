"""The hook specifications sources implement.

A source is a plugin found through the entry-point group ``agent_otlp.sources`` (the built-in
``store``, ``jsonl`` and ``raaf-rails`` register there too). Its hooks are marked with
``@agent_otlp.hookimpl``, the adapters' marker: the project name is the same, the hook names
differ. Every hook is called with keyword arguments and only the hooks of the source being
used run (the manager calls each source on its own), so every hook here takes the first
result. See ``docs/sources.md``.

A source's life: ``agent_otlp_source_open`` gives a handle (any object of the source's own);
every other hook receives that handle; ``agent_otlp_source_close`` ends it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from agent_otlp.sources.plugins.types import (
        SourceContext,
        SourceInventory,
        SourcePage,
        TimeRange,
    )

PROJECT_NAME = "agent_otlp"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]


@hookspec(firstresult=True)
def agent_otlp_source_open(location: str, context: SourceContext) -> Any:
    """Open the source at ``location`` (a URL or a path) for reading.

    :param location: what the user gave to ``--from``, as given.
    :param context: the environment, source options and services the host lends
        (:class:`~agent_otlp.sources.plugins.types.SourceContext`).
    :return: a handle, any object the other hooks of this source understand; ``None`` when
        ``location`` is not of this source's kind (another source may take it). Raise
        :class:`~agent_otlp.core.config.errors.ConfigError` when it is of this kind but cannot
        be opened; never put a password in the message.

    .. versionadded:: 0.2
    """


@hookspec(firstresult=True)
def agent_otlp_source_key(handle: Any) -> str | None:
    """A stable name of what the handle reads, without secrets (``raaf-rails:postgresql://
    app@db:5432/prod``): part of a historical export job's key, and shown to users.

    :param handle: the source's handle.
    :return: the name.

    .. versionadded:: 0.2
    """


@hookspec(firstresult=True)
def agent_otlp_source_inventory(handle: Any, window: TimeRange) -> SourceInventory | None:
    """Count what the source holds in ``window``: traces, spans, first and last end time.

    :param handle: the source's handle.
    :param window: the time range (open ends allowed).
    :return: a :class:`~agent_otlp.sources.plugins.types.SourceInventory`; its items are
        exactly what :func:`agent_otlp_source_read` would give from the start.

    .. versionadded:: 0.2
    """


@hookspec(firstresult=True)
def agent_otlp_source_read(
    handle: Any, window: TimeRange, cursor: str | None, batch_size: int
) -> Iterator[SourcePage] | None:
    """Read the items of ``window`` after ``cursor``, in pages of at most ``batch_size``.

    Items are dicts in the OpenAI Agents SDK's export shape (``object: "trace"`` with
    ``started_at``/``ended_at``, ``object: "trace.span"``). A trace's item and its spans may
    come in any order and in different pages. The order is stable: reading again from a
    page's cursor gives the items after that page, so an interrupted export resumes there.
    Memory must not grow with the source (stream, never load it whole).

    :param handle: the source's handle.
    :param window: the time range.
    :param cursor: ``None`` to start from the beginning, else a page's ``cursor``.
    :param batch_size: the most items in a page.
    :return: an iterator of :class:`~agent_otlp.sources.plugins.types.SourcePage`.

    .. versionadded:: 0.2
    """


@hookspec(firstresult=True)
def agent_otlp_source_wait(handle: Any, cursor: str | None, timeout: float) -> bool | None:
    """Wait, at most ``timeout`` seconds, for items after ``cursor`` (``export --follow``).

    :param handle: the source's handle.
    :param cursor: the cursor of the last page read.
    :param timeout: seconds to wait at most.
    :return: ``True`` when new items may be there, ``False`` when the time ran out without
        any. A source that does not implement this hook is polled: the host sleeps
        ``timeout`` and reads again.

    .. versionadded:: 0.2
    """


@hookspec(firstresult=True)
def agent_otlp_source_tail(
    handle: Any, cursor: str | None, batch_size: int,
    delivered: Callable[[Sequence[str]], Collection[str]],
) -> Iterator[SourcePage] | None:
    """Read what was written since ``cursor`` (``agent-otlp follow``), at least once.

    A source whose writers commit out of order reads again a window before its watermark
    (a lookback), so it may meet items it gave before: it asks ``delivered`` which of its
    keys (``"span:<id>"``, ``"trace:<id>"``) were already delivered and leaves those out. The
    host records each item's key once its page is delivered, in agent-otlp's store. An item
    written after its trace was given is given too, as a late item of that trace.

    :param handle: the source's handle.
    :param cursor: ``None`` on the first call (start from now, or from the source's
        ``since`` option), else the ``cursor`` of the last page given.
    :param batch_size: the most items in a page.
    :param delivered: the keys, among those asked, already delivered.
    :return: the pages of new items (none when nothing is new); the last page's cursor is
        where the next call goes on. Raise when the source is unreachable: the host waits,
        with a growing delay, and calls again (the source reconnects).

    .. versionadded:: 0.3
    """


@hookspec(firstresult=True)
def agent_otlp_source_close(handle: Any) -> None:
    """Release what the handle holds (connections, files). Called once, also after errors.

    :param handle: the source's handle.

    .. versionadded:: 0.2
    """
