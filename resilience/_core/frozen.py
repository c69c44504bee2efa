"""A faster ``__init__`` for frozen, slotted dataclasses built per call.

A frozen dataclass's generated ``__init__`` stores each field through
``object.__setattr__(self, "name", value)``, a name lookup through the class
per field: about a microsecond for a ``Call`` or an event, paid several times
per call on the hot path. :func:`fast_init` replaces it with one that calls
each slot's descriptor directly. Everything else stays the dataclass's own:
``fields()``, equality, ``repr``, hashing, ``replace()`` (which calls this
``__init__``), and assignment still raises ``FrozenInstanceError``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

__all__ = ["fast_init"]

T = TypeVar("T")


class _Factory:
    """The default shown for a field with a ``default_factory``."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def _descriptor(cls: type, name: str) -> Any:
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    raise TypeError(f"{cls.__name__}.{name} is not a slot")  # pragma: no cover


def fast_init(cls: type[T]) -> type[T]:
    """Give the frozen, slotted dataclass ``cls`` a faster ``__init__``
    with the same signature (defaults, factories, keyword-only fields) and
    the same ``__post_init__`` call."""
    params = dataclasses.fields(cls)  # type: ignore[arg-type]
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    env: dict[str, Any] = {"_FACTORY": _FACTORY}
    for f in params:
        if not f.init:
            raise TypeError(f"fast_init: {cls.__name__}.{f.name} has init=False")
        value = f.name
        if f.default is not dataclasses.MISSING:
            env[f"_d_{f.name}"] = f.default
            param = f"{f.name}=_d_{f.name}"
        elif f.default_factory is not dataclasses.MISSING:
            env[f"_f_{f.name}"] = f.default_factory
            param = f"{f.name}=_FACTORY"
            value = f"_f_{f.name}() if {f.name} is _FACTORY else {f.name}"
        else:
            param = f.name
        (keyword if f.kw_only else positional).append(param)
        env[f"_s_{f.name}"] = _descriptor(cls, f.name).__set__
        body.append(f"    _s_{f.name}(self, {value})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    args = ["self", *positional]
    if keyword:
        args += ["*", *keyword]
    src = f"def __init__({', '.join(args)}):\n" + "\n".join(body or ["    pass"]) + "\n"
    scope: dict[str, Any] = {}
    exec(src, env, scope)  # the source holds only the class's own field names
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
