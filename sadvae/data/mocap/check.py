"""Body-size and pose sanity measures of a converted dataset, to compare mocap with the Kinect sets (numpy only).

:func:`body_stats` gives the median bone lengths (over every frame of every sequence, first person)
and per-dataset pose checks: upright (head above spine base), stature, whether the feet are the
lowest joints, and whether the feet point the way the hips say the body faces. ``sadvae data inspect
PATH --bones`` prints them for one dataset; ``scripts/mocap_bone_check.py`` compares all sets.
"""

from __future__ import annotations

import numpy as np

from sadvae.data.record import Dataset
from sadvae.skeleton import NTUJoint as J

__all__ = ["BONE_MEASURES", "body_stats"]

# name -> (joint a, joint b), each left/right pair averaged
BONE_MEASURES: dict[str, tuple[tuple[int, int], ...]] = {
    "upper arm": ((J.SHOULDER_LEFT, J.ELBOW_LEFT), (J.SHOULDER_RIGHT, J.ELBOW_RIGHT)),
    "forearm": ((J.ELBOW_LEFT, J.WRIST_LEFT), (J.ELBOW_RIGHT, J.WRIST_RIGHT)),
    "thigh": ((J.HIP_LEFT, J.KNEE_LEFT), (J.HIP_RIGHT, J.KNEE_RIGHT)),
    "shank": ((J.KNEE_LEFT, J.ANKLE_LEFT), (J.KNEE_RIGHT, J.ANKLE_RIGHT)),
    "spine (base to shoulder)": ((J.SPINE_BASE, J.SPINE_SHOULDER),),
    "shoulder width": ((J.SHOULDER_LEFT, J.SHOULDER_RIGHT),),
    "hip width": ((J.HIP_LEFT, J.HIP_RIGHT),),
    "neck to head": ((J.SPINE_SHOULDER, J.HEAD),),
}
_FEET = (J.ANKLE_LEFT, J.FOOT_LEFT, J.ANKLE_RIGHT, J.FOOT_RIGHT)


def _frames(ds: Dataset, max_frames_per_seq: int) -> list[np.ndarray]:
    out = []
    for s in ds.sequences:
        x = s.joints[:, 0].astype(np.float64)
        x = x[np.abs(x).reshape(len(x), -1).max(axis=1) > 0]
        if len(x):
            step = max(1, len(x) // max_frames_per_seq)
            out.append(x[::step])
    return out


def body_stats(ds: Dataset, max_frames_per_seq: int = 200) -> dict[str, float]:
    """Median bone lengths (m) and pose checks of a dataset's first persons.

    Args:
        ds: a dataset in the NTU-25 layout (camera frame, +y up, metres).
        max_frames_per_seq: frames sampled evenly from each sequence (keeps long clips from dominating).

    Returns:
        {measure: value}: each bone of :data:`BONE_MEASURES` (median, metres); "head above spine base"
        (share of frames, %); "stature" (median over sequences of the highest head-over-lowest-foot
        distance plus 0.10 m from head centre to crown, metres); "feet lowest" (share of frames whose
        lowest joint is an ankle or foot, %); "feet point forward" (share of sequences whose first-frame
        heel-to-toe direction agrees with the facing from hips and shoulders, %).
    """
    seqs = _frames(ds, max_frames_per_seq)
    if not seqs:
        return {}
    x = np.concatenate(seqs)
    stats: dict[str, float] = {}
    for name, pairs in BONE_MEASURES.items():
        lengths = np.mean([np.linalg.norm(x[:, a] - x[:, b], axis=-1) for a, b in pairs], axis=0)
        stats[name] = float(np.median(lengths))
    up = x[:, J.HEAD, 1] - x[:, J.SPINE_BASE, 1]
    stats["head above spine base %"] = float(100 * np.mean(up > 0))
    stature = [float(np.max(s[:, J.HEAD, 1] - s[:, list(_FEET), 1].min(axis=1))) + 0.10 for s in seqs]
    stats["stature"] = float(np.median(stature))
    lowest = np.argmin(x[..., 1], axis=1)
    stats["feet lowest %"] = float(100 * np.isin(lowest, _FEET).mean())
    agree = []
    for s in seqs:
        f0 = s[0]
        left = (f0[J.HIP_LEFT] - f0[J.HIP_RIGHT]) + (f0[J.SHOULDER_LEFT] - f0[J.SHOULDER_RIGHT])
        forward = np.array([-left[2], 0.0, left[0]])
        toes = (f0[J.FOOT_LEFT] - f0[J.ANKLE_LEFT]) + (f0[J.FOOT_RIGHT] - f0[J.ANKLE_RIGHT])
        toes[1] = 0.0
        agree.append(float(forward @ toes) > 0)
    stats["feet point forward %"] = float(100 * np.mean(agree))
    return stats
