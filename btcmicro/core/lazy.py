"""``cached_property`` without a lock.

Python 3.11's :func:`functools.cached_property` takes a lock on every first access (3.12 dropped
it). The properties here compute immutable values from frozen fields, so a race only computes the
same value twice. Without the lock a first access costs about half as much, which counts in the
message decoding and checking paths, where every object is new.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

__all__ = ["cached_property"]

T = TypeVar("T")


class cached_property(Generic[T]):  # noqa: N801 - named after functools.cached_property
    """Computes the value once per instance and stores it in the instance's ``__dict__``."""

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> cached_property[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.func(instance)
        return value
