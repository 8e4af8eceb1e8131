"""The plugin manager and the registries of methods and readers.

As in pytest, the built-in plugins register exactly like external ones: one
:class:`pluggy.PluginManager` holds them all. External plugins come from the
``casehunt`` entry-point group. Misspelled hooks fail loudly (``check_pending``), a
plugin can be blocked by name (``CASEHUNT_DISABLE_PLUGINS=a,b`` or ``block=``), and a
plugin that fails to import names its distribution and how to block it.
"""

from __future__ import annotations

import importlib.metadata as md
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

from casehunt import hookspecs
from casehunt.errors import PluginError
from casehunt.methods import SelectionMethod, validate_method_class

if TYPE_CHECKING:
    from casehunt.readers import EventReader

ENTRY_POINT_GROUP = "casehunt"
DISABLE_ENV = "CASEHUNT_DISABLE_PLUGINS"

#: Built-in plugin modules, registered under these names like entry points.
BUILTIN_PLUGINS = {
    "builtin-readers": "casehunt.readers",
    "builtin-formats": "casehunt.formats",
    "builtin-columns": "casehunt.derived_hooks",
    "builtin-preselection": "casehunt.preselection",
    "builtin-html-report": "casehunt.report_html",
}


@dataclass(frozen=True)
class PluginInfo:
    """Where a registered class came from."""

    kind: str  # "method" or "reader"
    name: str
    plugin: str
    distribution: str
    version: str
    description: str

    def to_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


class Registry:
    """Methods and readers by name, with the plugin and distribution that provided each."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.methods: dict[str, type[SelectionMethod]] = {}
        self.readers: dict[str, type[EventReader]] = {}
        self.info: dict[tuple[str, str], PluginInfo] = {}
        for impl in pm.hook.casehunt_register_methods.get_hookimpls():
            for cls in impl.function() or []:  # type: ignore[attr-defined]
                self._add("method", cls, impl.plugin_name)
        for impl in pm.hook.casehunt_register_readers.get_hookimpls():
            for cls in impl.function() or []:  # type: ignore[attr-defined]
                self._add("reader", cls, impl.plugin_name)

    def _add(self, kind: str, cls: Any, plugin_name: str) -> None:
        dist, version = distribution_of(self.pm, plugin_name)
        if kind == "method":
            try:
                validate_method_class(cls)
            except TypeError as exc:
                raise PluginError(f"plugin {plugin_name!r} ({dist}): {exc}") from None
            table: dict[str, Any] = self.methods
            name = cls.name
        else:
            name = getattr(cls, "format", None)
            if not name:
                raise PluginError(f"plugin {plugin_name!r} ({dist}): reader {cls!r} has no format")
            table = self.readers
        if name in table:
            other = self.info[(kind, name)]
            raise PluginError(
                f"{kind} {name!r} is provided twice: by {other.plugin} ({other.distribution}) "
                f"and by {plugin_name} ({dist}); block one with {DISABLE_ENV}={plugin_name}"
            )
        table[name] = cls
        doc = getattr(cls, "description", "") or (cls.__doc__ or "").strip().split("\n")[0]
        self.info[(kind, name)] = PluginInfo(kind, name, plugin_name, dist, version, doc)

    def method(self, name: str) -> type[SelectionMethod]:
        try:
            return self.methods[name]
        except KeyError:
            known = ", ".join(sorted(self.methods)) or "none installed"
            raise PluginError(
                f"unknown method {name!r} (installed: {known}); install its plugin or fix the "
                "name under `methods:`"
            ) from None

    def reader_for(self, path: str, format: str | None = None) -> type[EventReader]:
        if format is not None:
            try:
                return self.readers[format]
            except KeyError:
                known = ", ".join(sorted(self.readers))
                raise PluginError(f"unknown input format {format!r} (known: {known})") from None
        for cls in self.readers.values():
            if any(str(path).endswith(s) for s in cls.suffixes):
                return cls
        known = ", ".join(f"{n} ({', '.join(c.suffixes)})" for n, c in self.readers.items())
        raise PluginError(
            f"{path}: no reader for this file suffix; set `format:` to one of: {known}"
        )

    def listing(self) -> list[PluginInfo]:
        return sorted(self.info.values(), key=lambda i: (i.kind, i.name))


class CasehuntPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers which distribution shipped each plugin."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.distributions: dict[str, md.Distribution] = {}


def distribution_of(pm: pluggy.PluginManager, plugin_name: str) -> tuple[str, str]:
    """The distribution name and version that shipped a registered plugin."""
    dist = getattr(pm, "distributions", {}).get(plugin_name)
    if dist is not None:
        return dist.metadata["name"], dist.version
    from casehunt import __version__

    return "casehunt", __version__  # the built-ins and objects registered by hand


def _blocked_from_env() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def make_plugin_manager(
    *, block: Iterable[str] = (), entry_points: bool = True, extra: Iterable[Any] = ()
) -> CasehuntPluginManager:
    """A plugin manager with the built-ins, the installed plugins, and `extra` objects."""
    import importlib

    pm = CasehuntPluginManager()
    for name in {*block, *_blocked_from_env()}:
        pm.set_blocked(name)
    for name, module in BUILTIN_PLUGINS.items():
        if not pm.is_blocked(name):
            pm.register(importlib.import_module(module), name=name)
    if entry_points:
        _load_entry_points(pm)
    for obj in extra:
        pm.register(obj)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(
            f"plugin {exc.plugin!r} implements a hook that does not exist ({exc}); "
            "hooks are listed in casehunt/hookspecs.py"
        ) from None
    return pm


def _load_entry_points(pm: CasehuntPluginManager) -> None:
    # pluggy's load_setuptools_entrypoints stops at the first broken plugin without
    # saying which distribution it came from; load one by one to say what to do.
    for dist in md.distributions():
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP or pm.is_blocked(ep.name):
                continue
            if pm.get_plugin(ep.name) is not None:
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginError(
                    f"plugin {ep.name!r} from distribution {dist.metadata['name']} "
                    f"{dist.version} failed to import: {type(exc).__name__}: {exc}. Fix or "
                    f"reinstall it, or block it with {DISABLE_ENV}={ep.name} "
                    f"(or --disable-plugin {ep.name})"
                ) from exc
            try:
                pm.register(plugin, name=ep.name)
            except ValueError as exc:  # registered twice under two names
                raise PluginError(f"plugin {ep.name!r}: {exc}") from None
            pm.distributions[ep.name] = dist


_default: tuple[CasehuntPluginManager, Registry] | None = None


def get_registry(*, block: Iterable[str] = (), refresh: bool = False) -> Registry:
    """The registry of the default plugin manager (built once per process)."""
    global _default
    block = tuple(block)
    if _default is None or refresh or block:
        pm = make_plugin_manager(block=block)
        _default = (pm, Registry(pm))
    return _default[1]
