"""What setup.cfg and the repository ship: a license, bounded dependencies,
every package (the page's static files included) declared."""
from __future__ import annotations

import json
import re
from pathlib import Path

from setuptools.config.setupcfg import read_configuration

REPO = Path(__file__).resolve().parents[2]
CONFIG = read_configuration(REPO / "setup.cfg")


def test_the_mit_license_ships_with_the_code():
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert CONFIG["metadata"]["license"] == "MIT"
    assert json.loads((REPO / "client-js/package.json").read_text())[
        "license"] == "MIT"


def test_every_runtime_dependency_has_an_upper_bound():
    unbounded = [req for req in CONFIG["options"]["install_requires"]
                 if not re.search(r"<\s*[\d.]+", req)]
    assert unbounded == []


def test_the_static_page_is_a_declared_package():
    packages = CONFIG["options"]["packages"]
    assert "chatio.static" in packages
    assert "chatio.transport" in packages
    assert not [p for p in packages if not p.startswith("chatio")]
