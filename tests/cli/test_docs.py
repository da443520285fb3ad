"""The docs work in a clone (issue 19, item 8): every relative link of the README, docs/ and the examples'
READMEs points at a file of the repository, none reaches outside it; the API reference builds from the
docstrings with pdoc."""
from __future__ import annotations

import re
import runpy
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "examples").glob("**/*.md"))]


def test_relative_links_resolve_inside_the_repository():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            if not path.exists() or ROOT not in path.parents and path != ROOT:
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []


def test_the_readme_names_no_file_outside_the_clone():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.findall(r"`\.\./[^`]*`", readme) == [] and "../shared" not in readme


def test_api_reference_builds(tmp_path):
    builder = runpy.run_path(str(ROOT / "docs" / "api_reference.py"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pdoc's notes on annotations it cannot evaluate
        out = builder["main"](str(tmp_path / "api"))
    pages = {p.relative_to(out).as_posix() for p in out.rglob("*.html")}
    assert {"index.html", "btcmicro.html", "btcmicro/interop.html", "btcmicro/wallet.html"} <= pages
    interop = (out / "btcmicro" / "interop.html").read_text(encoding="utf-8")
    assert "ProxyClient" in interop and "AuthServiceProxy" in interop  # docstrings, rendered
