"""docs/interop.md, run as written: every ``python`` block in order, in one namespace, with the real
python-bitcoinrpc, python-bitcoinlib and bitcoin-utils installed (the test extra). The node is the one
the first snippet starts; every transaction is judged by it."""
from __future__ import annotations

import re
from pathlib import Path

import bitcoin
import pytest

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "interop.md"


def snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_every_snippet_uses_a_real_library():
    text = "\n".join(snippets())
    for module in ("bitcoinrpc.authproxy", "bitcoin.wallet", "bitcoinutils.transactions"):
        assert module in text


def test_interop_doc_snippets_run_in_order():
    blocks = snippets()
    assert len(blocks) >= 5
    namespace: dict[str, object] = {"__name__": "interop_doc"}
    params = bitcoin.params
    try:
        for n, block in enumerate(blocks):
            code = compile(block, f"{DOC.name}[python block {n}]", "exec")
            exec(code, namespace)  # noqa: S102 - the documentation's own code, run as a reader would
    finally:
        bitcoin.params = params  # SelectParams is process-wide; leave it as it was
        node = namespace.get("node")
        if node is not None:
            node.stop()  # type: ignore[attr-defined]
