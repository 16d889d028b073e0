"""One registry pattern for every pluggable backend (scorers, generators, ...).

Built-in backends and third-party ones register the same way: an entry point in the group
``imagearena.<kind>`` whose value is ``module:factory``. Entry points are listed without importing
them, so heavy backends (torch, diffusers) load only when created.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar, overload

from imagearena.errors import UnknownNameError

T = TypeVar("T")
C = TypeVar("C", bound=Callable[..., object])


class Registry(Generic[T]):
    """Maps a name to a factory that builds a backend of one kind."""

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._factories: dict[str, Callable[..., T]] = {}
        self._targets: dict[str, str] = {}  # name -> "module:attr", loaded on first use
        self._scanned = False

    @overload
    def register(self, name: str, factory: None = None) -> Callable[[C], C]: ...

    @overload
    def register(self, name: str, factory: Callable[..., T] | str) -> Callable[..., T] | str: ...

    def register(
        self, name: str, factory: Callable[..., T] | str | None = None
    ) -> Callable[[C], C] | Callable[..., T] | str:
        """Register ``factory`` (a callable or a ``"module:attr"`` string) under ``name``.

        Without a factory it returns a decorator, so a class can register itself.
        """
        if factory is None:

            def decorator(obj: C) -> C:
                self._factories[name] = obj  # type: ignore[assignment]
                return obj

            return decorator
        if isinstance(factory, str):
            self._targets[name] = factory
        else:
            self._factories[name] = factory
        return factory

    def _scan_entry_points(self) -> None:
        if self._scanned:
            return
        self._scanned = True
        for ep in entry_points(group=self.group):
            self._targets.setdefault(ep.name, ep.value)

    def names(self) -> list[str]:
        self._scan_entry_points()
        return sorted(set(self._factories) | set(self._targets))

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def factory(self, name: str) -> Callable[..., T]:
        self._scan_entry_points()
        if name not in self._factories:
            target = self._targets.get(name)
            if target is None:
                known = ", ".join(self.names()) or "none"
                raise UnknownNameError(f"unknown {self.kind} {name!r}; available: {known}")
            module, _, attr = target.partition(":")
            obj = import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
            self._factories[name] = obj  # type: ignore[assignment]
        return self._factories[name]

    def create(self, name: str, **kwargs: Any) -> T:
        return self.factory(name)(**kwargs)
