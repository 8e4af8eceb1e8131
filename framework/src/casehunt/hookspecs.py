"""The hooks of casehunt: every extension point, in one place.

A plugin is a module (or object) with functions named after these hooks and decorated
with :data:`casehunt.hookimpl`, registered through the ``casehunt`` entry-point group::

    [project.entry-points.casehunt]
    mymethod = "casehunt_mymethod.hooks"

The built-in readers, derived columns and preselection register through the same
plugin manager (see :mod:`casehunt.plugins`), so there is one way in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from casehunt.events import EventTable
    from casehunt.methods import SelectionMethod
    from casehunt.preselection import Cut
    from casehunt.readers import EventReader

PROJECT = "casehunt"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def casehunt_register_methods() -> list[type[SelectionMethod]]:
    """Called once when the plugin manager starts.

    Return the :class:`~casehunt.methods.SelectionMethod` subclasses this plugin provides.
    Each class's ``name`` is the key users write under ``methods:`` in a configuration;
    two plugins providing the same name is an error.
    """


@hookspec
def casehunt_register_readers() -> list[type[EventReader]]:
    """Called once when the plugin manager starts.

    Return the :class:`~casehunt.readers.EventReader` subclasses this plugin provides.
    A reader is chosen by its ``format`` name (``input.format`` in a configuration) or,
    when none is given, by the file suffix in its ``suffixes``.
    """


@hookspec
def casehunt_derive_columns(events: EventTable, config: dict[str, Any]) -> dict[str, Any] | None:
    """Called after reading, before the preselection, on the whole event table.

    Return a mapping of new column names to arrays (one entry per event), or None.
    Results of all plugins are merged; two plugins deriving the same column is an error.
    """


@hookspec
def casehunt_preselection_cuts(config: dict[str, Any]) -> list[Cut] | None:
    """Called when the preselection is built, with the ``preselection`` config section.

    Return named :class:`~casehunt.preselection.Cut` objects. The core orders all cuts by
    their ``order`` and books the cutflow; cuts of the same name are an error.
    """


@hookspec
def casehunt_method_finished(method: str, result: dict[str, Any], config: dict[str, Any]) -> None:
    """Called after a method has scored and selected every region of a run.

    ``result`` maps region names to the selection summary (threshold, efficiency, counts).
    For reporting and monitoring; the return value is ignored.
    """


@hookspec
def casehunt_write_report(results: dict[str, Any], outdir: str, config: dict[str, Any]) -> None:
    """Called once at the end of ``casehunt run``, with the results directory being written.

    ``results`` holds the cutflow, the regions and each method's selections. Write extra
    files into ``outdir``; the return value is ignored.
    """
