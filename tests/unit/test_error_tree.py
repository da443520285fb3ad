"""One error tree (issue 11): every exception class btcmicro defines descends from
BtcmicroError and is named in the drawing in btcmicro/core/errors.py's docstring.

The classes are found by importing every module under btcmicro (``__main__`` modules aside)
and collecting each ``Exception`` subclass whose ``__module__`` is btcmicro's, so the test
follows modules as they move. NodeError subclasses are chosen by Core's RPC code.
"""
from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
import re

import pytest

import btcmicro
from btcmicro.core import errors
from btcmicro.core.errors import (
    BtcmicroError,
    InvalidAddressOrKey,
    InWarmup,
    MethodNotFound,
    NodeError,
    NodeUnavailable,
    ServiceError,
    ServiceUnavailable,
    VerifyAlreadyInChain,
    VerifyError,
    VerifyRejected,
    WalletError,
    WalletNotFound,
)
from btcmicro.node.rpc_codes import RPCErrorCode


def _modules() -> list[str]:
    names = [btcmicro.__name__]
    for info in pkgutil.walk_packages(btcmicro.__path__, prefix="btcmicro."):
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue  # running it is its import
        names.append(info.name)
    return names


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in _modules():
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__.split(".")[0] == "btcmicro":
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def _drawing() -> str:
    doc = errors.__doc__ or ""
    return doc[doc.index("::\n"):]


def test_every_module_imports_and_exceptions_are_found():
    classes = _exception_classes()
    assert "btcmicro.core.errors.BtcmicroError" in classes
    assert "btcmicro.node.engine.mempool.Reject" in classes  # a class outside core.errors
    assert len(classes) > 30


def test_every_exception_class_descends_from_btcmicro_error():
    strays = sorted(name for name, cls in _exception_classes().items() if not issubclass(cls, BtcmicroError))
    assert strays == [], f"exception classes outside the tree: {strays}"


def test_every_exception_class_is_in_the_drawing():
    drawn = set(re.findall(r"\b[A-Z][A-Za-z]+\b", _drawing()))
    missing = sorted(name for name, cls in _exception_classes().items() if cls.__name__ not in drawn)
    assert missing == [], f"exception classes missing from core/errors.py's drawing: {missing}"


def test_the_drawing_names_only_classes_that_exist():
    classes = {cls.__name__ for cls in _exception_classes().values()}
    tree_lines = [line for line in _drawing().splitlines() if re.match(r"\s*(BtcmicroError|[│├└ ]+── )", line)]
    drawn = [re.sub(r"^[\s│├└─]+", "", line).split()[0] for line in tree_lines]
    assert set(drawn) <= classes, sorted(set(drawn) - classes)


def test_the_drawing_shows_each_parent():
    """Indentation in the drawing is inheritance: each class is drawn under its direct parent."""
    by_name = {cls.__name__: cls for cls in _exception_classes().values()}
    stack: list[tuple[int, str]] = []
    for line in _drawing().splitlines():
        m = re.match(r"^(\s*)(?:([│├└ ]*)── )?([A-Z]\w+)\b", line)
        if not m or (m.group(2) is None and m.group(3) != "BtcmicroError"):
            continue
        depth = len(m.group(2) or "") // 4 + (1 if m.group(2) is not None else 0)
        name = m.group(3)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack and name in by_name:
            parent = by_name[stack[-1][1]]
            assert parent in by_name[name].__mro__[1:], f"{name} is drawn under {parent.__name__}"
        stack.append((depth, name))


@pytest.mark.parametrize(("code", "cls"), [
    (-5, InvalidAddressOrKey),
    (-25, VerifyError),
    (-26, VerifyRejected),
    (-27, VerifyAlreadyInChain),
    (-28, InWarmup),
    (-32601, MethodNotFound),
    (-18, WalletNotFound),
])
def test_node_error_is_chosen_by_core_code(code, cls):
    err = NodeError(code, "refused")
    assert type(err) is cls
    assert err.code == code and err.message == "refused" and str(err) == f"refused (code {code})"
    assert NodeError.from_code(code, "refused").__class__ is cls
    assert cls.rpc_code == code
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is cls and copy.code == code and copy.message == "refused"


def test_every_code_class_is_registered_once_and_unknown_codes_stay_plain():
    for cls in _exception_classes().values():
        if issubclass(cls, NodeError) and cls.rpc_code is not None:
            assert type(NodeError(int(cls.rpc_code), "x")) is cls
    assert type(NodeError(-999, "x")) is NodeError
    assert issubclass(WalletNotFound, WalletError)
    assert RPCErrorCode.RPC_VERIFY_ALREADY_IN_CHAIN == RPCErrorCode.RPC_VERIFY_ALREADY_IN_UTXO_SET == -27


def test_node_unavailable_and_service_unavailable_are_different_branches():
    down = NodeUnavailable("no answer")
    assert down.code == RPCErrorCode.RPC_IN_WARMUP and down.message == "no answer"
    assert not isinstance(down, InWarmup)
    assert pickle.loads(pickle.dumps(down)).message == "no answer"
    service = ServiceUnavailable("http://127.0.0.1:1: refused")
    assert isinstance(service, ServiceError) and not isinstance(service, NodeError)
    assert service.message == str(service)
