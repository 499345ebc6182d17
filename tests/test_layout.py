"""The tree reads as the architecture: imports flow one way (the import-linter contract in pyproject.toml),
the contract and the README's layout name every part of ``vigil/``, and no module outgrows 600 lines."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "vigil"
MAX_LINES = 600


def _parts() -> set[str]:
    """The top-level packages and modules of vigil (``_version.py`` included, ``__init__.py`` not)."""
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    return folders | modules


def test_imports_follow_the_layers() -> None:
    """``lint-imports`` (installed with the dev extras) keeps every contract; its report says which import
    broke which."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_the_layers_name_every_part_of_vigil() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (layers,) = (c for c in config["contracts"] if c["type"] == "layers")
    named = [name.strip() for layer in layers["layers"] for name in re.split(r"[|:]", layer)]
    assert sorted(named) == sorted(set(named)), "a part named twice in the layers"
    assert set(named) == _parts(), (
        f"add to the layers in pyproject.toml: {sorted(_parts() - set(named))}; "
        f"remove: {sorted(set(named) - _parts())}"
    )


def test_the_readme_layout_matches_the_tree() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    tree = section.split("```", 2)[1].split("\ntests/", 1)[0]
    named = re.findall(r"^  (\w+)(?:/|\.py)\s", tree, flags=re.MULTILINE)
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    present = folders | {p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    assert sorted(named) == sorted(set(named)), "a part named twice in README's layout"
    assert set(named) == present, (
        f"README's layout lacks {sorted(present - set(named))} and names {sorted(set(named) - present)}, "
        "which vigil/ does not have"
    )


def test_no_module_is_over_600_lines() -> None:
    lengths = {
        str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
        for p in PACKAGE.rglob("*.py")
    }
    assert lengths, "no modules found"
    too_long = {name: n for name, n in lengths.items() if n > MAX_LINES}
    assert not too_long, f"split these modules (a second concept hides inside): {too_long}"
