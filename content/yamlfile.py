"""YAML read with a safe loader: libyaml's where PyYAML has it. Apart from the catalogue so that
the text reader's worker process, which reads only its terms, loads nothing else."""

from __future__ import annotations

from typing import Any

import yaml

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader reads this project's content about ten times faster than PyYAML's own,
with the same result (tests/test_content.py checks every file)."""


def parse_yaml(text: str) -> Any:
    """YAML text read with a safe loader (no Python objects)."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader, C or Python)
