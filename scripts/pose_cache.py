"""Per-video cache of MediaPipe landmark results, for the measurement scripts (camera gap, small figures).

MediaPipe on two shared cores costs 25-60 ms a frame, so every script that studies pose results on the
shared videos runs the pose stage once per (video, image transform, pose options) and keeps the raw
33-landmark results under ``runs/landmarks/`` (ignored by git; never in the source tree). The key hashes
the video's name, size and modification time, the transform, every :class:`realtime.pose.stage.PoseOptions`
field and the pose model file's size, so a changed input is recomputed.

Image transforms model small and far people: ``scale`` resizes the whole frame (a low-resolution camera:
the figure keeps its share of the frame), ``canvas`` then pastes the result at the centre of a grey
canvas of that size (a wide shot: the figure becomes a small part of a large frame).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from sadvae.features import file_digest
from sadvae.fileio import atomic_path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "runs" / "landmarks"
log = logging.getLogger("pose_cache")


def transform_frame(image: np.ndarray, scale: float = 1.0, canvas: tuple[int, int] | None = None) -> np.ndarray:
    """The frame as a smaller camera (``scale``) and/or inside a larger field of view (``canvas`` = (W, H)).

    Args:
        image: BGR uint8 [H, W, 3].
        scale: resize factor of the whole frame (area interpolation when shrinking).
        canvas: paste the (resized) frame at the centre of a mid-grey canvas of this size; it must fit.

    Returns:
        BGR uint8 image.
    """
    import cv2

    out = image
    if scale != 1.0:
        h, w = image.shape[:2]
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        out = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    if canvas is not None:
        cw, ch = canvas
        h, w = out.shape[:2]
        if w > cw or h > ch:
            raise ValueError(f"frame {w}x{h} does not fit a {cw}x{ch} canvas")
        big = np.full((ch, cw, 3), 128, np.uint8)
        y0, x0 = (ch - h) // 2, (cw - w) // 2
        big[y0 : y0 + h, x0 : x0 + w] = out
        out = big
    return out


def _key(video: Path, scale: float, canvas: tuple[int, int] | None, opts: Any, model_path: Path, extra: dict) -> str:
    st = video.stat()
    fields = {k: (v.value if hasattr(v, "value") else v) for k, v in dataclasses.asdict(opts).items()}
    fields.pop("model_path", None)
    fields.pop("download", None)
    fields.pop("roi", None)  # used only by the region-of-interest stage, which passes its settings in extra_key
    blob = json.dumps(
        {
            "video": [video.name, st.st_size, file_digest(video)],  # its bytes, not its time: a re-mount keeps it
            "scale": round(float(scale), 6),
            "canvas": list(canvas) if canvas else None,
            "opts": fields,
            "model": [model_path.name, model_path.stat().st_size],
            "extra": extra,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def video_landmarks(
    video: Path,
    *,
    scale: float = 1.0,
    canvas: tuple[int, int] | None = None,
    estimator_factory: Any = None,
    cache_dir: Path = CACHE,
    refresh: bool = False,
    extra_key: dict | None = None,
    max_frames: int | None = None,
    **pose_kwargs: Any,
) -> dict[str, np.ndarray]:
    """MediaPipe's first pose in every frame of ``video`` (cached).

    Args:
        video: any file :class:`realtime.sources.video.VideoSource` reads.
        scale, canvas: image transform (:func:`transform_frame`).
        estimator_factory: ``(PoseOptions) -> callable(frame) -> list[Skeleton]`` (default
            :class:`realtime.pose.stage.PoseEstimator`); pass another stage (e.g. one with a region of interest)
            together with an ``extra_key`` describing it.
        cache_dir: where results are kept; refresh: recompute even if cached.
        extra_key: more fields of the cache key (settings of ``estimator_factory``).
        max_frames: stop after this many frames (None: the whole video).
        **pose_kwargs: :class:`realtime.pose.stage.PoseOptions` fields (``mirror``, ``num_poses``, ...).

    Returns:
        ``world`` float32 [T, 33, 3], ``image`` [T, 33, 2] (normalised to the transformed frame),
        ``visibility`` / ``presence`` [T, 33] (NaN where no pose), ``found`` bool [T], ``persons`` [T] people
        found (results cached before 5 December 2026 lack it), ``ms`` [T]
        pose milliseconds per frame (transform excluded), ``frame_size`` [2] (W, H after the transform),
        ``fps`` [1].
    """
    from realtime.pose.model import resolve_pose_model
    from realtime.pose.stage import PoseEstimator, PoseOptions
    from realtime.sources.video import VideoSource

    model = resolve_pose_model(pose_kwargs.pop("model_path", None))
    opts = PoseOptions(model_path=str(model.path), **pose_kwargs)
    key = _key(video, scale, canvas, opts, Path(model.path), {**(extra_key or {}), "max_frames": max_frames})
    path = cache_dir / f"{video.stem}-{key}.npz"
    if path.is_file() and not refresh:
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    factory = estimator_factory or (lambda o: PoseEstimator(o, model))
    rows: dict[str, list] = {k: [] for k in ("world", "image", "visibility", "presence", "found", "ms")}
    size = (0, 0)
    est = factory(opts)
    try:
        with VideoSource(video) as src:
            fps = src.fps
            for frame in src:
                if max_frames is not None and frame.index >= max_frames:
                    break
                img = transform_frame(frame.image, scale, canvas)
                size = (img.shape[1], img.shape[0])
                t0 = time.perf_counter()
                found = est(img, frame.timestamp_ms)
                rows["ms"].append(1000.0 * (time.perf_counter() - t0))
                sk = found[0] if found else None
                rows["found"].append(sk is not None)
                nan = np.float32(np.nan)
                rows["world"].append(sk.world if sk else np.full((33, 3), nan))
                rows["image"].append(sk.image if sk else np.full((33, 2), nan))
                rows["visibility"].append(sk.visibility if sk else np.full(33, nan))
                rows["presence"].append(sk.presence if sk else np.full(33, nan))
                rows.setdefault("persons", []).append(len(found))
                rows.setdefault("source", []).append(getattr(est, "last_source", "full" if sk else "none"))
                runs = getattr(est, "landmarker_runs", None)  # landmark-model runs so far (ROI stage), for costs
                if runs is not None:
                    rows.setdefault("runs", []).append(runs)
    finally:
        close = getattr(est, "close", None)
        if close:
            close()
    source = np.asarray(rows.pop("source", []), dtype="U4")
    runs = np.diff(np.asarray(rows.pop("runs", []), dtype=np.int64), prepend=0)  # per frame
    persons = np.asarray(rows.pop("persons", []), dtype=np.int16)  # people found per frame (``num_poses`` > 1)
    out = {k: np.asarray(v, dtype=bool if k == "found" else np.float32) for k, v in rows.items()}
    out["persons"] = persons
    out["source"] = source
    if len(runs):
        out["runs"] = runs
    out["frame_size"] = np.asarray(size, np.int32)
    out["fps"] = np.asarray([fps], np.float32)
    with atomic_path(path, suffix=".npz") as tmp:  # np.savez_compressed appends .npz to a path without it
        np.savez_compressed(tmp, **out)
    log.info(
        "%s: pose on %d frames (%.0f%% found), %.1f ms/frame median; cached %s",
        video.name,
        len(out["found"]),
        100 * out["found"].mean(),
        float(np.median(out["ms"])),
        path.name,
    )
    return out
