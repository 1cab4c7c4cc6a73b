"""The shipped synthetic demo layers: labelled, small, readable, and rebuilt identically."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from maps.demo import DEMO_ATTRIBUTION, demo_layer_files
from maps.layers import LayerKind, read_layer
from sitroom.layers_cli import StderrProgress


def test_every_layer_kind_is_shipped_once() -> None:
    files = demo_layer_files()
    assert {kind for _, kind, _ in files} == set(LayerKind) - {LayerKind.DISTRICTS,
                                                               LayerKind.OTHER}
    assert len({name for name, _, _ in files}) == len(files)
    assert all(path.is_file() for _, _, path in files)


def test_everything_is_labelled_synthetic() -> None:
    for name, _, path in demo_layer_files():
        collection = json.loads(path.read_text(encoding="utf-8"))
        assert collection["synthetic"] is True and collection["name"] == name
        assert collection["attribution"] == DEMO_ATTRIBUTION and "SYNTHETIC" in DEMO_ATTRIBUTION
        assert collection["features"]
        assert all(f["properties"]["synthetic"] is True for f in collection["features"])


def test_files_are_small() -> None:
    total = sum(path.stat().st_size for _, _, path in demo_layer_files())
    assert total < 500_000


def test_files_read_cleanly_as_layers() -> None:
    for _, kind, path in demo_layer_files():
        layer = read_layer(path, kind=kind)
        assert layer.warnings == () and layer.dropped == 0 and layer.repaired == 0
        shipped = json.loads(path.read_text(encoding="utf-8"))["features"]
        assert [f["id"] for f in layer.collection["features"]] == [f["id"] for f in shipped]


def test_the_script_rebuilds_the_same_bytes(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    subprocess.run([sys.executable, "-m", "scripts.build_demo_layers", "--out-dir", str(tmp_path)],
                   cwd=root, check=True, capture_output=True, timeout=120)
    for _, _, path in demo_layer_files():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_progress_lines_every_ten_percent() -> None:
    stream = io.StringIO()
    progress = StderrProgress("demo_facilities", stream)
    for done in range(0, 1001, 50):
        progress(done, 1000)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "导入 demo_facilities / importing demo_facilities: 0% (0/1000)"
    assert lines[-1].endswith(": 100% (1000/1000)")
    assert len(lines) == 11
