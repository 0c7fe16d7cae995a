"""One generic registry for methods, datasets, digit sources, backbones, protocols and
launchers.

Names are written once, next to the code they name (``@METHODS.register("jtt")``).
Duplicates raise, unknown names suggest the closest match, and installed third-party
packages plug in through entry points (group ``bench.methods``, ``bench.datasets``, ...)
without any change to this repository.
"""
from __future__ import annotations

import difflib
import importlib
import logging
import re
from importlib.metadata import entry_points
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)
# Registered names end up in records, file names, pages and shell commands: plain names only.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+@-]{0,99}")


class RegistryError(LookupError):
    """An unknown or duplicated registry name; the message says what to do."""


class Registry(Generic[T]):
    def __init__(self, kind: str, entry_point_group: str | None = None,
                 builtin_modules: tuple[str, ...] = (), plugin_check: str | None = None):
        self.kind = kind
        # "module:function" that raises TypeError for a plugin object of the wrong kind;
        # imported only when plugins load, so this module stays at the bottom of the imports
        self.plugin_check = plugin_check
        self.entry_point_group = entry_point_group
        self._builtin_modules = builtin_modules
        self._items: dict[str, T] = {}
        self._loaded = False
        self.broken: dict[str, str] = {}     # entry point name -> why it was skipped

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@REGISTRY.register("name")``."""
        def decorate(obj: T) -> T:
            self.add(name, obj)
            return obj
        return decorate

    def add(self, name: str, obj: T) -> None:
        if not isinstance(name, str) or NAME_PATTERN.fullmatch(name) is None:
            raise RegistryError(f"{self.kind} name {name!r}: use letters, digits and . _ + @ - "
                                f"(at most 100; the name becomes part of file names and pages)")
        if name in self._items and self._items[name] is not obj:
            raise RegistryError(f"{self.kind} {name!r} is registered twice "
                                f"({self._items[name]!r} and {obj!r}); pick another name")
        self._items[name] = obj

    def _load(self) -> None:
        # Lazy so that importing bench stays cheap and plugins can import bench themselves.
        if self._loaded:
            return
        self._loaded = True
        for module in self._builtin_modules:
            importlib.import_module(module)
        if self.entry_point_group:
            for ep in entry_points(group=self.entry_point_group):
                if ep.name in self._items:
                    continue
                try:
                    target = ep.load()
                    # A plugin may register itself on import; otherwise the entry point is
                    # the object.
                    self._check_plugin(self._items.get(ep.name, target))
                    if ep.name not in self._items:
                        self.add(ep.name, target)
                # Someone else's package: skip it, keep the rest. SystemExit too: a plugin
                # that calls sys.exit on import must not end the command silently.
                except (Exception, SystemExit) as exc:
                    self._items.pop(ep.name, None)
                    self._skip(ep, exc)

    def _check_plugin(self, obj: object) -> None:
        if self.plugin_check is not None:
            module, _, name = self.plugin_check.partition(":")
            getattr(importlib.import_module(module), name)(obj)

    def _skip(self, ep, exc: BaseException) -> None:
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        self.broken[ep.name] = reason
        dist = getattr(getattr(ep, "dist", None), "name", None)
        package = f" from package {dist}" if dist else ""
        log.warning("warning: skipped the %s plugin %r%s (%s = %s): %s; fix or uninstall "
                    "that package", self.kind, ep.name, package, ep.group, ep.value, reason)

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._items[name]
        except KeyError:
            if name in self.broken:
                raise RegistryError(f"{self.kind} {name!r} comes from a plugin that failed to "
                                    f"load ({self.broken[name]}); fix or uninstall that "
                                    f"package") from None
            close = difflib.get_close_matches(name, self._items, n=1, cutoff=0.4)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise RegistryError(f"unknown {self.kind} {name!r}{hint} "
                                f"(known: {', '.join(sorted(self._items))})") from None

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def items(self) -> list[tuple[str, T]]:
        return [(n, self._items[n]) for n in self.names()]


METHODS: Registry = Registry("method", "bench.methods", ("bench.methods",),
                             plugin_check="bench.method:check_method_class")
DATASETS: Registry = Registry("dataset", "bench.datasets", ("bench.datasets",))
SOURCES: Registry = Registry("digit source", "bench.sources", ("bench.datasets",))
BACKBONES: Registry = Registry("backbone", "bench.backbones", ("bench.backbones",))
PROTOCOLS: Registry = Registry("protocol", "bench.protocols", ("bench.protocols",))
# where a plan's runs execute (bench.runs.launchers); a private cluster's launcher plugs in
# through the entry point group without a change here
LAUNCHERS: Registry = Registry("launcher", "bench.launchers", ("bench.runs.launchers",))
