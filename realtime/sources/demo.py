"""A synthetic performer: a procedurally animated NTU-25 skeleton for trying the pipeline without a camera.

Nothing here comes from a recording. A stick figure of average adult proportions (1.75 m) is posed
by joint angles that follow simple periodic curves, one action after another, with half-second
blends between them, in the Kinect camera frame (+x to the person's right when facing the camera,
+y up, -z towards the camera, 2.5 m away). It exists so that ``sadvae-live --demo`` shows events on
a fresh clone, where no camera, video or real skeleton data can be assumed; recognising a cartoon is
not evidence about real people (docs/live.md has the checks on real recordings).

Example::

    joints, times, script = perform(seed=0)      # [T, 1, 25, 3] metres, [T] seconds, [(action, t0, t1)]
    save_recording("demo.npz", joints, times)    # realtime.sources.replay plays it
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sadvae.skeleton import NUM_JOINTS
from sadvae.skeleton import NTUJoint as J

__all__ = ["ACTIONS", "DEFAULT_SCRIPT", "perform", "demo_source"]

Pose = dict[str, float]  # named joint angles in radians (and "crouch" in metres)

_UPPER_ARM, _FOREARM, _HAND = 0.28, 0.25, 0.08
_THIGH, _SHIN = 0.48, 0.40
_HIP_Y = 1.0  # spine base height when standing, metres
# Kinect recordings see people from a sensor above hip height: the body leans ~15 deg towards the camera
_CAMERA_PITCH = np.radians(12)


def _rest() -> Pose:
    return dict.fromkeys(
        (
            "l_arm_lift",
            "r_arm_lift",
            "l_arm_fwd",
            "r_arm_fwd",
            "l_elbow",
            "r_elbow",
            "l_forearm_lift",
            "r_forearm_lift",
            "l_hip",
            "r_hip",
            "l_knee",
            "r_knee",
            "bend",
            "crouch",
            "twist",
        ),
        0.0,
    )


def _idle(t: float) -> Pose:
    p = _rest()
    p["l_arm_lift"] = p["r_arm_lift"] = 0.12 + 0.02 * np.sin(2 * np.pi * 0.3 * t)
    return p


def _high_arm_wave(t: float) -> Pose:
    p = _idle(t)
    p["r_arm_lift"] = np.radians(150)
    p["r_forearm_lift"] = np.radians(20) + np.radians(35) * np.sin(2 * np.pi * 1.5 * t)
    return p


def _clap(t: float) -> Pose:
    p = _idle(t)
    open_ = 0.5 + 0.5 * np.sin(2 * np.pi * 2.0 * t)  # 0 = hands together
    for side in ("l", "r"):
        p[f"{side}_arm_fwd"] = np.radians(60)
        p[f"{side}_arm_lift"] = np.radians(5 + 35 * open_)
        p[f"{side}_elbow"] = np.radians(70 - 30 * open_)
    return p


def _sit_down(t: float) -> Pose:  # crouch over 1.5 s, stay down
    p = _idle(t)
    s = min(t / 1.5, 1.0)
    s = s * s * (3 - 2 * s)
    p["crouch"] = 0.45 * s
    p["l_hip"] = p["r_hip"] = np.radians(90) * s
    p["l_knee"] = p["r_knee"] = np.radians(90) * s
    p["bend"] = np.radians(25) * s
    return p


def _stand_up(t: float) -> Pose:
    s = min(t / 1.5, 1.0)
    return _sit_down(1.5 * (1.0 - s))


def _forward_punch(t: float) -> Pose:
    p = _idle(t)
    for side, phase in (("r", 0.0), ("l", np.pi)):
        reach = 0.5 + 0.5 * np.sin(2 * np.pi * 1.2 * t + phase)
        p[f"{side}_arm_fwd"] = np.radians(85)
        p[f"{side}_arm_lift"] = np.radians(10)
        p[f"{side}_elbow"] = np.radians(120 * (1 - reach))
    return p


def _forward_kick(t: float) -> Pose:
    p = _idle(t)
    kick = max(0.0, np.sin(2 * np.pi * 0.8 * t))
    p["r_hip"] = np.radians(75) * kick
    p["r_knee"] = np.radians(50) * (1 - kick) * (kick > 0.05)
    return p


def _walk(t: float) -> Pose:  # walking on the spot (translation is removed by the preprocessing anyway)
    p = _idle(t)
    w = 2 * np.pi * 0.9 * t
    for side, phase in (("l", 0.0), ("r", np.pi)):
        swing = np.sin(w + phase)
        p[f"{side}_hip"] = np.radians(25) * swing
        p[f"{side}_knee"] = np.radians(40) * max(0.0, np.sin(w + phase + 0.6))
        p[f"{'r' if side == 'l' else 'l'}_arm_fwd"] = np.radians(25) * swing
    return p


def _bend(t: float) -> Pose:  # bend down to the floor and come back
    p = _idle(t)
    s = 0.5 - 0.5 * np.cos(2 * np.pi * t / 3.0)
    p["bend"] = np.radians(80) * s
    p["l_arm_fwd"] = p["r_arm_fwd"] = np.radians(70) * s
    p["l_knee"] = p["r_knee"] = np.radians(20) * s
    p["l_hip"] = p["r_hip"] = np.radians(10) * s
    return p


ACTIONS: dict[str, Callable[[float], Pose]] = {
    "stand still": _idle,
    "high arm wave": _high_arm_wave,
    "clap hands": _clap,
    "sit down": _sit_down,
    "stand up": _stand_up,
    "forward punch": _forward_punch,
    "forward kick": _forward_kick,
    "walk": _walk,
    "bend": _bend,
}
DEFAULT_SCRIPT: tuple[tuple[str, float], ...] = (
    ("stand still", 2.0),
    ("high arm wave", 4.0),
    ("stand still", 1.5),
    ("clap hands", 4.0),
    ("sit down", 3.0),
    ("stand up", 2.5),
    ("forward punch", 4.0),
    ("walk", 5.0),
    ("forward kick", 4.0),
    ("bend", 4.5),
    ("stand still", 2.0),
)


def _rot_x(a: float) -> np.ndarray:  # positive = the +y axis tips towards -z (forward)
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, s], [0, -s, c]])


def _rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _swing(a: float) -> np.ndarray:
    """Swings a limb that hangs down (-y) forwards (towards -z, the camera the performer faces) by ``a`` radians:
    :func:`_rot_x` tips +y forwards, so it tips -y backwards, and a forward swing is ``_rot_x(-a)``."""
    return _rot_x(-a)


def _arm_dir(lift: float, fwd: float, sign: float) -> np.ndarray:
    """Upper-arm direction: hanging down, raised sideways by ``lift`` and forwards by ``fwd``."""
    side = np.array([sign * np.sin(lift), -np.cos(lift), 0.0])
    return _swing(fwd) @ side


def _skeleton(p: Pose) -> np.ndarray:
    """Forward kinematics of one pose -> [25, 3] metres (body at x=0, z=2.5 m)."""
    out = np.zeros((NUM_JOINTS, 3))
    base = np.array([0.0, _HIP_Y - p["crouch"], 0.0])
    trunk = _rot_y(p["twist"]) @ _rot_x(p["bend"])
    up = trunk @ np.array([0.0, 1.0, 0.0])
    out[J.SPINE_BASE] = base
    out[J.SPINE_MID] = base + 0.25 * up
    out[J.SPINE_SHOULDER] = base + 0.47 * up
    out[J.NECK] = base + 0.54 * up
    out[J.HEAD] = base + 0.68 * up
    for sign, s, names in ((-1.0, "l", "LEFT"), (1.0, "r", "RIGHT")):
        shoulder = out[J.SPINE_SHOULDER] + trunk @ np.array([sign * 0.18, -0.09, 0.0])
        upper = trunk @ _arm_dir(p[f"{s}_arm_lift"], p[f"{s}_arm_fwd"], sign)
        elbow = shoulder + _UPPER_ARM * upper
        # the forearm folds forwards by the elbow angle and can be lifted further sideways (waving)
        fore = trunk @ _arm_dir(p[f"{s}_arm_lift"] + p[f"{s}_forearm_lift"], p[f"{s}_arm_fwd"] + p[f"{s}_elbow"], sign)
        wrist = elbow + _FOREARM * fore
        hand = wrist + _HAND * fore
        hip = base + np.array([sign * 0.08, -0.07, 0.0])
        # the hip flexes the thigh forwards, the knee folds the shin back from it
        thigh = _swing(p[f"{s}_hip"]) @ np.array([0.0, -1.0, 0.0])
        knee = hip + _THIGH * thigh
        shin = _swing(p[f"{s}_hip"] - p[f"{s}_knee"]) @ np.array([0.0, -1.0, 0.0])
        ankle = knee + _SHIN * shin
        for joint, value in (
            ("SHOULDER", shoulder),
            ("ELBOW", elbow),
            ("WRIST", wrist),
            ("HAND", hand),
            ("HIP", hip),
            ("KNEE", knee),
            ("ANKLE", ankle),
        ):
            out[J[f"{joint}_{names}"]] = value
        out[J[f"FOOT_{names}"]] = ankle + np.array([0.0, -0.05, -0.12])
        out[J[f"HAND_TIP_{names}"]] = hand + 0.8 * (hand - wrist)
        out[J[f"THUMB_{names}"]] = hand + 0.4 * (hand - wrist) + trunk @ np.array([0.0, 0.0, -0.02])
    # keep the lowest foot on the floor when crouching or kicking (a real body does not float)
    out[:, 1] -= min(out[J.FOOT_LEFT, 1], out[J.FOOT_RIGHT, 1]) - (_HIP_Y - _THIGH - _SHIN - 0.07)
    out = out @ _rot_x(_CAMERA_PITCH).T
    out[:, 2] += 2.5
    return out


def perform(
    script: tuple[tuple[str, float], ...] = DEFAULT_SCRIPT, fps: float = 30.0, seed: int = 0, noise_m: float = 0.008
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, float, float]]]:
    """Animate the performer through ``script``.

    Args:
        script: ``(action, seconds)`` pairs; actions are keys of :data:`ACTIONS`.
        fps: frame rate of the output; seed: seeds the tracking-like joint noise of ``noise_m`` metres.

    Returns:
        ``(joints float32 [T, 1, 25, 3], times float64 [T] seconds, [(action, start_s, end_s)])``.
    """
    unknown = [a for a, _ in script if a not in ACTIONS]
    if unknown:
        raise ValueError(f"unknown demo action(s) {unknown}; known: {sorted(ACTIONS)}")
    rng = np.random.default_rng(seed)
    frames, spans, t0 = [], [], 0.0
    blend_s = 0.5
    prev: Pose | None = None
    for action, seconds in script:
        n = max(1, round(seconds * fps))
        for k in range(n):
            t = k / fps
            pose = ACTIONS[action](t)
            if prev is not None and t < blend_s:  # ease from where the previous action stopped
                w = t / blend_s
                pose = {key: (1 - w) * prev[key] + w * v for key, v in pose.items()}
            frames.append(_skeleton(pose))
        prev = ACTIONS[action]((n - 1) / fps)
        spans.append((action, t0, t0 + n / fps))
        t0 += n / fps
    joints = np.stack(frames)[:, None].astype(np.float32)
    joints += rng.normal(0.0, noise_m, joints.shape).astype(np.float32)
    times = np.arange(len(frames), dtype=np.float64) / fps
    return joints, times, spans


def demo_source(loop: bool = False, pace: bool = True, seed: int = 0):
    """The synthetic performer as a replay source named ``demo`` (``sadvae-live --demo``).

    Args:
        loop: perform the script again at its end; pace: frames in real time (False = as fast as read).

    Returns:
        a :class:`realtime.sources.replay.ReplaySource` with an extra ``script`` attribute: [(action, start_s, end_s)].
    """
    from realtime.sources.replay import ReplaySource

    joints, times, spans = perform(seed=seed)
    src = ReplaySource.from_arrays(joints, times, name="demo", loop=loop, pace=pace)
    src.script = spans
    return src
