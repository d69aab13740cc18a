"""The synthetic performer behind ``sadvae-live --demo`` and the README's first command."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from sadvae_tests_helpers import free_endpoint

from realtime.sources.demo import ACTIONS, DEFAULT_SCRIPT, demo_source, perform
from sadvae.skeleton import BONES

ROOT = Path(__file__).resolve().parents[2]


def test_performance_is_a_plausible_body() -> None:
    joints, times, spans = perform()
    assert joints.shape == (len(times), 1, 25, 3) and joints.dtype == np.float32
    assert np.isfinite(joints).all()
    assert np.allclose(np.diff(times), 1 / 30)
    assert [a for a, _, _ in spans] == [a for a, _ in DEFAULT_SCRIPT]
    assert spans[-1][2] == pytest.approx(times[-1] + 1 / 30)
    child, parent = (np.array(x) for x in zip(*BONES, strict=True))
    lengths = np.linalg.norm(joints[:, 0, child] - joints[:, 0, parent], axis=-1)  # [T, 24]
    assert lengths.std(axis=0).max() < 0.03  # rigid bones up to the tracking-like noise
    assert joints[..., 1].min() > -0.1 and joints[..., 1].max() < 2.3  # on the floor, under 2.3 m
    assert (joints[..., 2] > 1.2).all()  # in front of the camera (2.5 m away; a kicking foot reaches 1.4 m)


def test_limbs_swing_forwards_towards_the_camera() -> None:
    """Review of the demo: its arms and legs swung backwards (a hand 0.5 m behind the body when clapping). The
    performer faces the camera, so forwards is the body frame's forward axis (towards -z), as on a real NTU clip of
    rubbing two hands (S003C001P015R001A034: the hands 0.21-0.26 m forward of the mid spine)."""
    from realtime.pose.mapping import body_frame
    from sadvae.skeleton import NTUJoint as J

    def forward_of_spine(action: str, joint: str) -> np.ndarray:
        joints = perform(((action, 3.0),), noise_m=0.0)[0][:, 0]
        axes, ok = body_frame(joints)
        assert ok.all() and (axes[:, 2, 2] < -0.5).all()  # forwards is towards the camera (-z)
        return ((joints[:, J[joint]] - joints[:, J.SPINE_MID]) * axes[:, 2]).sum(-1)

    for action in ("clap hands", "forward punch"):
        for hand in ("HAND_LEFT", "HAND_RIGHT"):
            assert forward_of_spine(action, hand).min() > 0.1, (action, hand)
    assert forward_of_spine("forward kick", "KNEE_RIGHT").max() > 0.3  # the kicking knee comes up in front
    assert forward_of_spine("forward kick", "KNEE_RIGHT").min() > -0.05
    assert forward_of_spine("sit down", "KNEE_LEFT")[-1] > 0.3  # seated: the thighs point forwards


def test_actions_move_the_body_differently() -> None:
    still = perform((("stand still", 2.0),), noise_m=0.0)[0]
    for action in set(ACTIONS) - {"stand still"}:
        moved = perform(((action, 2.0),), noise_m=0.0)[0]
        assert np.abs(moved - still).max() > 0.1, action


def test_unknown_action_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown demo action"):
        perform((("moonwalk", 1.0),))


def test_demo_source_plays_the_script_unpaced() -> None:
    src = demo_source(pace=False)
    frames = list(src)
    assert len(frames) == src.num_frames == len(perform()[1])
    assert frames[0].skeletons.shape == (1, 25, 3) and frames[0].image is None
    assert [f.timestamp_ms for f in frames] == sorted({f.timestamp_ms for f in frames})


def _starts(out: list[str]) -> list[tuple[float, str]]:
    return [
        (float(m.group(1)), m.group(2))
        for ln in out
        if (m := re.search(r"^\s*(\d+\.\d) s\s+person \d+\s+start\s+(.+?)\s+\d\.\d\d\s+\[", ln))
    ]


def test_quick_start_demo_shows_events_from_the_default_model(capsys) -> None:
    """The README's first command, unpaced: the packaged model names the actions measured on the performer
    (labels/demo.txt's header says which ones fire and which it gets wrong)."""
    pytest.importorskip("onnxruntime")
    from realtime.cli import main

    argv = ["--demo", "--labels", str(ROOT / "labels/demo.txt"), "--print", "--no-realtime"]
    argv += ["--endpoint", free_endpoint()]
    # onnxruntime, the live default: the shiftgcn-v2 default's Shift-GCN costs ~1 s per window in torch eager
    # on a CPU (round 1's light ST-GCN ran this test on the torch backend); the export ships beside the bundle
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    starts = _starts(out)
    # no sentence-encoder output on stdout: the events only (since 6 December 2026 a list of exact class names is
    # matched with the encoder too, so a label covers the same classes in every list; its load logs to stderr)
    assert not any("Loading" in ln for ln in out)
    # every start is right: its 3.2 s window ends while the performer does that action (or within one window
    # after, as the window still holds it). Round 1 (ST-GCN, 2.1 s windows, issue-14 head) started only "walk".
    spans = perform()[2]
    names = {"high arm wave": "high arm wave", "walk": "walk", "clapping": "clap hands", "bend": "bend"}
    for t, label in starts:
        assert any(names.get(label) == a and t0 < t <= t1 + 3.2 for a, t0, t1 in spans), (t, label, out)
    # until the review of the demo's geometry its limbs swung backwards and only the wave and the walk started;
    # with its claps in front of it those start too (README, "Quick start"). The bend started with the model
    # packaged until 6 December 2026; the model rebuilt from the repaired data names "bend" first in the eight
    # windows from 31.2 s, but four of them fall under the no-action line, so it never leads at the start score in
    # two windows in a row (without that line it starts)
    assert {label for _, label in starts} == {"high arm wave", "clapping", "walk"}, out
    # the README shows this output as "its whole output": it must be, to the printed digit (a reproduction check of
    # 7 December 2026 found its first score 0.95 where the code has printed 0.94 since a person's first frame is
    # buffered, 756e9e5)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("This is its whole output with the packaged model:", 1)[1].split("```")[1]
    shown = [ln.rstrip() for ln in block.splitlines() if ln.strip()]
    assert shown == [ln.rstrip() for ln in out if re.search(r"person \d+\s+(start|end)\s", ln)], out
    argv = ["--demo", "--labels", str(ROOT / "labels/demo.txt"), "--print", "all", "--no-realtime"]
    assert main([*argv, "--endpoint", free_endpoint(), "--no-action-threshold", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    # without the no-action line every window names a listed label (round 1 checked which ones started; what
    # starts then depends on the decision thresholds, which issue 14 tunes)
    windows = [ln for ln in out if re.search(r" window\s", ln)]
    assert len(windows) >= 30 and not any("(no action)" in ln for ln in windows), out
    assert {"high arm wave", "walk"} <= {label for _, label in _starts(out)}, out
