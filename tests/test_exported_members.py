"""The public API is declared once, in vigil.__all__; this pins it so a change is deliberate."""

import vigil


def test_public_api_is_pinned() -> None:
    assert sorted(vigil.__all__) == sorted(
        [
            "Client",
            "ColumnDrift",
            "ConfigError",
            "InputError",
            "Profile",
            "Report",
            "VigilConfig",
            "VigilError",
            "__version__",
            "compare",
            "load_config",
            "profile",
        ]
    )
    for name in vigil.__all__:
        assert hasattr(vigil, name), name


def test_no_private_names_leak_into_all() -> None:
    assert not [n for n in vigil.__all__ if n.startswith("_") and n != "__version__"]
