"""`sitroom layers import` and `list` on a real PostgreSQL, as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def sitroom(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SITROOM_DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "sitroom", *args], env=env, text=True,
                          capture_output=True, timeout=120, check=False)


def test_import_then_list_then_a_clear_refusal(database_url: str, tmp_path: Path) -> None:
    hospitals = tmp_path / "hospitals.geojson"
    hospitals.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "邢台市人民医院", "kind": "hospital"},
         "geometry": {"type": "Point", "coordinates": [114.5091, 37.0654]}},
        {"type": "Feature", "properties": {"name": "邢台市第三医院", "kind": "hospital"},
         "geometry": {"type": "Point", "coordinates": [114.4903, 37.0561]}},
    ]}), encoding="utf-8")
    done = sitroom(database_url, "layers", "import", str(hospitals), "--name", "hospitals",
                   "--kind", "facilities")
    assert done.returncode == 0, done.stderr
    assert "imported 2 features into layer 'hospitals'" in done.stdout
    listed = sitroom(database_url, "layers", "list")
    assert "hospitals" in listed.stdout and "facilities" in listed.stdout

    broken = tmp_path / "broken.geojson"
    broken.write_text("{ not json", encoding="utf-8")
    refused = sitroom(database_url, "layers", "import", str(broken), "--name", "x",
                      "--kind", "facilities")
    assert refused.returncode == 2 and "broken.geojson" in refused.stderr
