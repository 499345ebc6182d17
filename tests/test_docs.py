"""The README documents every server setting (flag and environment variable)."""

from pathlib import Path

from vigil.settings import SETTINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    missing = [s.flag for s in SETTINGS if f"`{s.flag}`" not in README or f"`{s.env}`" not in README]
    assert not missing, f"document these settings in README.md: {missing}"
