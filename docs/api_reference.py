"""Build the API reference from the docstrings, as HTML, with pdoc:

    pip install pdoc && python docs/api_reference.py [OUTPUT_DIR]     # default: apidocs/

The package's ``__all__`` lists names, not subpackages, so the public subpackages are named here. A test
(tests/cli/test_docs.py) builds it on every run of the suite, so the reference cannot rot unnoticed.
"""
from __future__ import annotations

import sys
from pathlib import Path

PUBLIC = ("btcmicro", "btcmicro.core", "btcmicro.script", "btcmicro.tx", "btcmicro.contracts", "btcmicro.ports",
          "btcmicro.node", "btcmicro.wallet", "btcmicro.interop", "btcmicro.channels", "btcmicro.lottery",
          "btcmicro.service", "btcmicro.describe", "btcmicro.analysis", "btcmicro.testing",
          "btcmicro.pytest_plugin")


def main(output: str = "apidocs") -> Path:
    import pdoc  # imported here: pdoc is only needed to build the reference

    out = Path(output)
    pdoc.render.configure(docformat="restructuredtext", footer_text="btcmicro API reference")
    pdoc.pdoc(*PUBLIC, output_directory=out)
    return out


if __name__ == "__main__":
    print(f"API reference written to {main(*sys.argv[1:2])}/index.html")
