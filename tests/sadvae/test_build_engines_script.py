"""scripts/build_engines: which ONNX it builds from, and what it checks the plans against (a stand-in `sadvae`)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sadvae_tests_helpers import relu_onnx

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_engines"

# records its arguments; `export` writes the --out file, as `sadvae export` would
STUB = """#!/bin/sh
echo "$*" >> "$STUB_LOG"
if [ "$1" = export ]; then
    while [ $# -gt 0 ]; do [ "$1" = --out ] && : > "$2"; shift; done
fi
"""


def _run(tmp_path: Path, bundle: Path) -> tuple[str, list[str]]:
    """(stdout, the stand-in's command lines) of build_engines --bundle ``bundle``."""
    if shutil.which("sh") is None:
        pytest.skip("no POSIX sh")
    stub, log = tmp_path / "sadvae-stub", tmp_path / "calls.log"
    stub.write_text(STUB)
    stub.chmod(0o755)
    env = {**os.environ, "SADVAE": str(stub), "PYTHON": sys.executable, "STUB_LOG": str(log)}
    out = tmp_path / "engines"
    proc = subprocess.run(
        ["sh", str(SCRIPT), "--bundle", str(bundle), "--out-dir", str(out)], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, log.read_text().splitlines()


def test_a_stale_export_beside_the_bundle_is_not_built(tmp_path):
    """Before, any <stem>.onnx beside the bundle was built from (a retrain with --no-onnx left the old model's
    export there), and `engine info` ran without --model, so nothing noticed."""
    bundle = tmp_path / "model.pt"
    bundle.write_bytes(b"retrained bundle")
    relu_onnx(tmp_path / "model.onnx", "0" * 64)  # the previous model's export
    stdout, calls = _run(tmp_path, bundle)
    out = tmp_path / "engines"
    assert f"not using {tmp_path / 'model.onnx'}: its model id is 0000000000000000..., the bundle's is" in stdout
    assert calls[0] == f"export {bundle} --out {out / 'model.onnx'}"
    assert calls[1].startswith(f"engine build --onnx {out / 'model.onnx'} --precision fp16")
    assert calls[2] == f"engine info {out / 'model.fp16.plan'} --model {bundle}"


def test_the_bundles_own_export_is_used_and_the_plan_checked_against_the_bundle(tmp_path):
    bundle = tmp_path / "model.pt"
    bundle.write_bytes(b"the bundle")
    relu_onnx(tmp_path / "model.onnx", hashlib.sha256(b"the bundle").hexdigest())
    stdout, calls = _run(tmp_path, bundle)
    assert f"using the export beside the bundle: {tmp_path / 'model.onnx'}" in stdout
    assert calls[0].startswith(f"engine build --onnx {tmp_path / 'model.onnx'} --precision fp16")
    assert calls[1] == f"engine info {tmp_path / 'engines' / 'model.fp16.plan'} --model {bundle}"
