"""The public surface of every package, pinned (httpx's tests/test_exported_members.py is the model).

``tests/unit/public_surface.json`` holds each package's ``__all__``. A change to a package's exports fails
here until the pin is updated in the same commit, so the public API never changes by accident. The packages
pinned elsewhere (``btcmicro``, ``btcmicro.channels.bitcoinj``, ``btcmicro.wire.json``, ``btcmicro.crypto``)
keep their own tests.
"""
from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path

import pytest

import btcmicro

PINS: dict[str, list[str]] = json.loads((Path(__file__).with_name("public_surface.json")).read_text())


@pytest.mark.parametrize("package", sorted(PINS))
def test_exports_are_pinned(package: str) -> None:
    exported = sorted(importlib.import_module(package).__all__)
    assert exported == PINS[package], (
        f"{package}.__all__ changed: added {sorted(set(exported) - set(PINS[package]))}, "
        f"removed {sorted(set(PINS[package]) - set(exported))}; update tests/unit/public_surface.json if meant"
    )


def test_every_package_declares_its_exports_and_each_resolves() -> None:
    problems = []
    for info in pkgutil.walk_packages(btcmicro.__path__, prefix="btcmicro."):
        if not info.ispkg:
            continue
        module = importlib.import_module(info.name)
        names = getattr(module, "__all__", None)
        if names is None:
            problems.append(f"{info.name}: no __all__")
            continue
        if len(names) != len(set(names)):
            problems.append(f"{info.name}: a name exported twice")
        problems += [f"{info.name}.{n}: exported but missing" for n in names if not hasattr(module, n)]
    assert problems == []
