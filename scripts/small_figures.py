"""Pose detection rate against figure height, without and with the region-of-interest stage.

The shared videos are shrunk so that the person is 50-150 px tall (the figure height = the median, over
the frames of the full-size video, of the vertical extent of MediaPipe's landmarks with presence >= 0.5;
the top of the head is above the eyes, so the real figure is a little taller), in two ways:

- ``lowres``: the whole frame is shrunk (a low-resolution camera: the person keeps their share of the frame);
- ``wide``: the shrunk frame is pasted at the centre of a grey 1280x720 frame (a wide shot: the person
  becomes a small part of an HD frame).

Each is estimated with the plain pose stage (``full``: :class:`realtime.pose.stage.PoseEstimator`, default
options) and with :class:`realtime.pose.stage.RoiPoseEstimator` (``roi``: crops around the tracked person, upscaled;
a second call when MediaPipe's tracking fails, a wider crop around the predicted box, a tile search when nobody is
tracked; see :mod:`realtime.pose.roi`). Detection rate = frames with a pose / frames. Cost = MediaPipe landmarker
runs per frame (machine-independent) and median milliseconds of the pose stage per frame. Landmarks are cached
under runs/landmarks. The settings were set on these same clips (there is no other video with small people here):
the mechanisms are generic (re-detect where tracking fails, keep the crop the person's size, search where the
person was, reject poses placed outside their crop), their few numbers were not tuned per clip. Several people
at a time (``--num-poses 2``, :class:`realtime.pose.stage.MultiRoiPoseEstimator`): docs/small_figures_people.md.

Usage (from the project root)::

    python scripts/small_figures.py --markdown docs/small_figures.md --json runs/small_figures.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pose_cache import video_landmarks  # noqa: E402
from report_out import machine_and_time, write_report  # noqa: E402

from sadvae.paths import PROJECT_ROOT, SHARED_DATA  # noqa: E402

ROOT = PROJECT_ROOT
DATA = SHARED_DATA
VIDEOS = {  # name -> (path, mirror)
    "ta_chi": (DATA / "videos" / "ta_chi.mp4", False),
    "clean_and_jerk": (DATA / "videos" / "clean_and_jerk.mp4", False),
    "basketball": (DATA / "videos" / "test_video_structuralize.mp4", False),
    "ntu_a001": (DATA / "ntu" / "S001C001P001R001A001_rgb.avi", True),
    "ntu_hug": (DATA / "ntu" / "ntu_sample.avi", True),  # two people; a check clip no setting was chosen on
}
HEIGHTS = (50, 65, 80, 100, 120, 150)
CANVAS = (1280, 720)
ROI_CODE = 10  # bump when realtime/pose/roi.py changes behaviour, so cached ROI results are recomputed
MULTI_CODE = 4  # the same for the several-person stage (MultiRoiPoseEstimator, --num-poses 2 or more)
log = logging.getLogger("small_figures")


def figure_height(lm: dict[str, np.ndarray], min_presence: float = 0.5) -> float:
    """Median over frames with a pose of the vertical landmark extent in pixels."""
    h = float(lm["frame_size"][1])
    ext = []
    for img, pres, ok in zip(lm["image"], lm["presence"], lm["found"], strict=True):
        if not ok:
            continue
        y = img[pres >= min_presence, 1]
        if len(y) >= 4:
            ext.append((y.max() - y.min()) * h)
    return float(np.median(ext)) if ext else float("nan")


def roi_factory(roi_opts: Any):
    from realtime.pose.stage import MultiRoiPoseEstimator, RoiPoseEstimator

    return lambda opts: (RoiPoseEstimator if opts.num_poses == 1 else MultiRoiPoseEstimator)(opts, roi_opts)


def measure(
    frames: int, heights: tuple[int, ...], videos: dict[str, tuple[Path, bool]], roi: Any = None, num_poses: int = 1
) -> dict[str, Any]:
    from realtime.pose.roi import RoiOptions

    roi = roi or RoiOptions()
    key = {"roi": dataclasses.asdict(roi), "roi_code": ROI_CODE}
    if num_poses > 1:
        key["multi_code"] = MULTI_CODE
    rows = []
    for name, (path, mirror) in videos.items():
        if not path.is_file():
            log.warning("%s: missing, skipped", path)
            continue
        # the figure height (so the scales) of the one-person measurement, whatever num_poses is
        h0 = figure_height(video_landmarks(path, mirror=mirror, max_frames=frames))
        full = video_landmarks(path, mirror=mirror, max_frames=frames, num_poses=num_poses)
        w0, hh0 = (int(v) for v in full["frame_size"])
        log.info("%s: %dx%d, figure %.0f px, pose in %.0f%% of frames", name, w0, hh0, h0, 100 * full["found"].mean())
        orig_kw = dict(mirror=mirror, max_frames=frames, num_poses=num_poses)
        orig_roi = video_landmarks(path, estimator_factory=roi_factory(roi), extra_key=key, **orig_kw)
        rows.append(
            {
                "video": name,
                "mode": "original",
                "height_px": round(h0),
                "frame": [w0, hh0],
                "full": _rates(full),
                "roi": _rates(orig_roi),
            }
        )
        for target in heights:
            scale = target / h0
            for mode in ("lowres", "wide"):
                canvas = CANVAS if mode == "wide" else None
                if canvas and (w0 * scale > canvas[0] or hh0 * scale > canvas[1]):
                    continue
                kw = dict(scale=scale, canvas=canvas, mirror=mirror, max_frames=frames, num_poses=num_poses)
                base = video_landmarks(path, **kw)
                with_roi = video_landmarks(path, estimator_factory=roi_factory(roi), extra_key=key, **kw)
                size = [int(v) for v in base["frame_size"]]
                rows.append(
                    {
                        "video": name,
                        "mode": mode,
                        "height_px": target,
                        "frame": size,
                        "full": _rates(base),
                        "roi": _rates(with_roi),
                    }
                )
                log.info(
                    "%s %s %d px: full %.0f%%, roi %.0f%%",
                    name,
                    mode,
                    target,
                    100 * base["found"].mean(),
                    100 * with_roi["found"].mean(),
                )
    return {"frames_per_video": frames, "num_poses": num_poses, "roi_options": dataclasses.asdict(roi), "rows": rows}


def _rates(lm: dict[str, np.ndarray]) -> dict[str, Any]:
    src = lm.get("source")
    out = {
        "rate": float(lm["found"].mean()),
        "frames": int(len(lm["found"])),
        "ms_median": float(np.median(lm["ms"])),
        "ms_mean": float(np.mean(lm["ms"])),
    }
    if src is not None and len(src):
        out["sources"] = {k: int((src == k).sum()) for k in np.unique(src)}
    if len(lm.get("persons", ())):
        persons = np.asarray(lm["persons"])
        out["persons_mean"] = float(persons.mean())
        out["two_rate"] = float((persons >= 2).mean())  # frames with at least two people
    if "runs" in lm:
        runs = np.asarray(lm["runs"])
        out["runs_per_frame"] = float(runs.mean())
        out["runs_per_frame_max"] = int(runs.max())
    return out


def per_video(res: dict[str, Any], mode: str = "wide", meth: str = "roi", min_px: int = 80) -> dict[str, dict]:
    """Per video: mean and worst detection rate over its heights >= ``min_px`` in one mode (the acceptance)."""
    out: dict[str, dict] = {}
    for r in res["rows"]:
        if r["mode"] == mode and r[meth] and r["height_px"] >= min_px:
            d = out.setdefault(r["video"], {"rates": {}})
            d["rates"][r["height_px"]] = r[meth]["rate"]
    for d in out.values():
        d["mean"] = float(np.mean(list(d["rates"].values())))
        d["min"] = float(np.min(list(d["rates"].values())))
    return out


def summary(res: dict[str, Any]) -> dict[str, Any]:
    """Rates pooled over videos per (mode, height) and the acceptance figure (>= 80 px)."""
    out: dict[str, Any] = {}
    for mode in ("lowres", "wide"):
        for meth in ("full", "roi"):
            rs = [r for r in res["rows"] if r["mode"] == mode and r[meth]]
            big = [r[meth]["rate"] for r in rs if r["height_px"] >= 80]
            out[f"{mode}_{meth}_ge80"] = float(np.mean(big)) if big else float("nan")
            out[f"{mode}_{meth}_ge80_min"] = float(np.min(big)) if big else float("nan")
    return out


def render_markdown(res: dict[str, Any], command: str, machine: str, when: str) -> str:
    s = summary(res)
    lines = [
        "# Small and far people: pose detection rate against figure height",
        "",
        f"Generated by\n\n```\n{command}\n```\n\non {machine}, {when} (shared, loaded machine: times are indicative).",
        "",
        (__doc__ or "").split("\n\n", 1)[1].split("Usage")[0].strip(),
        "",
        f"First {res['frames_per_video']} frames of each video. Region-of-interest options (`realtime.pose.roi."
        f"RoiOptions` defaults): `{res['roi_options']}`.",
        "",
        "**Acceptance (figures >= 80 px, mean over videos and heights; worst case in brackets):** "
        f"low-resolution frames: {100 * s['lowres_full_ge80']:.0f} % ({100 * s['lowres_full_ge80_min']:.0f} %) "
        "without, "
        f"{100 * s['lowres_roi_ge80']:.0f} % ({100 * s['lowres_roi_ge80_min']:.0f} %) with the region of interest; "
        f"wide shots: {100 * s['wide_full_ge80']:.0f} % ({100 * s['wide_full_ge80_min']:.0f} %) without, "
        f"{100 * s['wide_roi_ge80']:.0f} % ({100 * s['wide_roi_ge80_min']:.0f} %) with.",
        "",
        "Before the changes of this version (the predicted crop moves by the person's displacement per frame "
        "since their last box, gaps included, at most `max_speed` = 0.25 person sizes per frame; a person found by "
        "the tile search starts without a velocity; every new search starts at the tile nearest to where the "
        "person was once a crop or the full frame has confirmed them; while nobody has been seen, the search grid is "
        "walked at a second, finer tile size, "
        "`tile_scales` = 2), the same table read: wide shots 95 % mean, worst 69 % (basketball, 80 px), basketball "
        "69 / 92 / 83 / 82 % at 80 / 100 / 120 / 150 px; below the acceptance's range, wide shots at 50 / 65 px: "
        "ntu_a001 0 / 95 %, ntu_hug 0 / 71 %, basketball 32 / 83 %, clean_and_jerk 0 / 0 %. The version before "
        "that (no retry, no wider crop, coarse tiles): wide shots 81 % mean, worst 9 % (clean_and_jerk, 80 px).",
        "",
        "Since 6 December 2026 the crop window is held in place while the person stays well inside it "
        "(`RoiOptions.hold`; it moved and resized with every frame before): MediaPipe's VIDEO mode carries its pose "
        "into the next crop in the crop's own coordinates, and a moving window misplaced the joints. Where the joints "
        "land (`python scripts/roi_agreement.py`, docs/camera_gap.md section 8): limb joints at 80-150 px within "
        "p90 5.1 % of the person's height of the full-size frame's, against 9.6 % with the moving window. Detection "
        "is the same on four clips; basketball's wide rows read 87 / 95 / 91 / 90 % at 80 / 100 / 120 / 150 px with "
        "the moving window (`--roi hold=false`).",
        "",
        "Per video, figures >= 80 px (rate at each height; the acceptance asks >= 80 % on every one):",
        "",
        "| video | mode | " + " | ".join(f"{h} px" for h in (80, 100, 120, 150)) + " | worst | mean |",
        "|---|---|" + "---|" * 6,
        *(
            f"| {v} | {mode} | "
            + " | ".join(f"{100 * d['rates'][h]:.0f} %" if h in d["rates"] else "-" for h in (80, 100, 120, 150))
            + f" | {100 * d['min']:.0f} % | {100 * d['mean']:.0f} % |"
            for mode in ("wide", "lowres")
            for v, d in per_video(res, mode).items()
        ),
        "",
        "The basketball clip in a wide shot (two players, a 426x240 original, shrunk and then upscaled in the crop) "
        "lost its players for 10-30 frames at a time. A frame-by-frame trace of the 80 px case (`python "
        "scripts/roi_trace.py --video basketball --height 80 --first 0 --last 30`, run on the tree of commit b49aae3 "
        "for the old behaviour) showed two faults "
        "of the tracker, not of MediaPipe: (1) the velocity of the predicted crop was the whole distance between "
        "the last box and the one before it, even when frames without a pose, or a re-detection of the other "
        "player, lay between them, so a person found again was cropped 130-180 px away on the next frame and lost "
        "again; (2) the tile search resumed its round where the previous search had stopped instead of at the "
        "tile nearest to the person (now it restarts there once a crop or the full frame has confirmed the person; "
        "a find of the search itself keeps the round going, so that an unconfirmed false find is not found again "
        "and again). Both are fixed (tests in tests/realtime/test_roi.py); the speed limit of "
        "0.25 person sizes per frame (a sprinter at 30 fps covers about 0.15) was set once from that bound, not "
        "tuned. The fixes were found on this clip, so `ntu_hug` (two people, 72 frames; no setting was looked at "
        "on it) is the check clip: its rates are the same before and after (99 % at 80-150 px). The finer search "
        "grid (216 px tiles in a 720 px frame) finds people of 50 px the coarse one misses (ntu_a001 0 -> 74 %, "
        "ntu_hug 0 -> 62 %, basketball 32 -> 77 %) and changes nothing at 80 px and above; at 65 px it loses on "
        "ntu_hug (71 -> 62 %) and on basketball (83 -> 35 %: the first find is another player, who is lost at "
        "frame 84 and not found again by the person-size tiles), and the weightlifter of clean_and_jerk is found "
        "at no scale below 80 px. Tried and not kept: predicting the crop through missed frames (ahead by every "
        "frame since the last box) with a search find taking its own size: basketball 65 px 35 -> 79 %, but "
        "100 px 95 -> 77 % and 150 px 90 -> 81 % (runs/small_figures_v11.json). Any change to the "
        "tracker still moves single rows of the basketball clip by a few points either way (one wrong crop result "
        "on the ball or the other player loses the player for some frames; the lowres rows, which rarely use a "
        "crop, move by up to 4 points because the full-frame landmarker's own tracking sees other frames).",
        "",
        "*ROI sources*: which path gave each frame's result (`full` = the plain full-frame stage, `crop` = the "
        "tracked person's crop, `tile` = the search grid, `none` = nobody found). A person taller than "
        "`max_height_frac` of the frame always takes the full-frame path, so the ROI stage costs them nothing but "
        "a box computation (rows `original` and `lowres`). The ms columns come from cached runs made at different "
        "times on a shared machine: they show the order of magnitude, not a cost difference; see the "
        "speed section below for back-to-back runs.",
        "",
        "*Model runs / frame*: MediaPipe landmarker calls per frame with the ROI stage (full frame, crops, retries and "
        "tiles together; the plain stage makes exactly 1): the machine-independent cost; the maximum is in brackets.",
        "",
        "| video | mode | figure px | frame | pose found: full frame | with ROI | ms/frame full | ms/frame ROI "
        "| model runs / frame (ROI) | ROI sources |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        roi = r["roi"]
        src = ", ".join(f"{k} {v}" for k, v in roi.get("sources", {}).items()) if roi else ""
        roi_rate = f"{100 * roi['rate']:.0f} %" if roi else "-"
        roi_ms = f"{roi['ms_median']:.1f}" if roi else "-"
        runs = f"{roi['runs_per_frame']:.2f} ({roi['runs_per_frame_max']})" if roi and "runs_per_frame" in roi else "-"
        lines.append(
            f"| {r['video']} | {r['mode']} | {r['height_px']} | {r['frame'][0]}x{r['frame'][1]} | "
            f"{100 * r['full']['rate']:.0f} % | {roi_rate} | {r['full']['ms_median']:.1f} | {roi_ms} | {runs} | {src} |"
        )
    return "\n".join(lines) + "\n"


def render_people_markdown(res: dict[str, Any], command: str, machine: str, when: str) -> str:
    """The report of a ``--num-poses`` 2+ run: people found per frame without and with the several-person stage."""
    lines = [
        f"# Small and far people, {res['num_poses']} at a time: people found per frame against figure height",
        "",
        f"Generated by\n\n```\n{command}\n```\n\non {machine}, {when} (shared machine: times are indicative).",
        "",
        "The videos shrunk as in [small_figures.md](small_figures.md) (the same scales: the figure height is that of "
        "the one-person measurement), estimated with `num_poses` = "
        f"{res['num_poses']}: the plain stage (`full`: MediaPipe's full-frame landmarker finding up to that many "
        "people) and `realtime.pose.stage.MultiRoiPoseEstimator` (`roi`, what `sadvae-live --num-poses 2` runs: "
        "one crop tracker per person, the full frame on every frame or, while everyone tracked is followed by a "
        "crop, every 4th (`RoiOptions.full_every`), one search tile per frame while nobody is found; see its "
        "docstring). *>= 1*: frames with at least one person; *2*: frames with two people (the "
        "basketball clip has two players, often both in view; `ntu_hug` two people who hug from 0.8 s; the other "
        "clips one person, where 2 would be one person found twice); *people / frame*: the mean count. *Model "
        "runs / frame*: MediaPipe calls (the plain stage makes 1), the machine-independent cost; *ms / frame*: median "
        "pose-stage milliseconds (cached runs on a shared machine: the order of magnitude). Settings fixed before "
        f"the run; nothing was chosen on these clips. First {res['frames_per_video']} frames of each video.",
        "",
        "Before 5 December 2026 `--num-poses 2` turned the region-of-interest stage off (its crops followed one "
        "person), so the *full* columns are what such a user got. The search for people too small for the full "
        "frame runs only while nobody is found: a first, uncommitted version that also searched for a second "
        "person beside a tracked one (this command with the `results or` condition of "
        "`MultiRoiPoseEstimator._search` removed) found both basketball players in 44-69 % of the wide-shot "
        "frames, but on the NTU hug clip (two large people, whom MediaPipe never finds both of) it found a 70 px "
        "'person' in the background in 57 % of the frames and followed it, a phantom track the recogniser would "
        "score. Two estimates are one person when their boxes overlap by more than 0.6 or their shoulders and hips "
        "lie within half a torso (the torso test was added after a wide tai chi stance, looked at by hand, gave "
        "two boxes of one person that overlap less). With the full frame on every frame (`--roi full_every=1`) "
        "one small person cost 2.0 model runs and 29-30 ms per frame in these wide shots, the same people found "
        "within a point or two.",
        "",
        "| video | mode | figure px | frame | >= 1: full | >= 1: ROI | 2: full | 2: ROI | people / frame full "
        "| ROI | model runs / frame (ROI) | ms / frame full | ROI |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        f, o = r["full"], r["roi"]
        lines.append(
            f"| {r['video']} | {r['mode']} | {r['height_px']} | {r['frame'][0]}x{r['frame'][1]} | "
            f"{100 * f['rate']:.0f} % | {100 * o['rate']:.0f} % | {100 * f.get('two_rate', 0):.0f} % | "
            f"{100 * o.get('two_rate', 0):.0f} % | {f.get('persons_mean', 0):.2f} | {o.get('persons_mean', 0):.2f} | "
            f"{o.get('runs_per_frame', float('nan')):.2f} ({o.get('runs_per_frame_max', '-')}) | "
            f"{f['ms_median']:.1f} | {o['ms_median']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def bench_section(paths: list[Path]) -> str:
    """A table of ``sadvae bench latency`` pipeline runs (JSON files), for the speed of normal-size people."""
    lines = [
        "",
        "## Live speed, normal-size person",
        "",
        "`sadvae bench latency --backend onnxruntime --no-recognizer --threads 2 --num-poses 1 [--no-roi] --video "
        "../shared/data/videos/ta_chi.mp4 --frames 300 --out FILE` (the whole live pipeline with the default "
        "model; `--no-recognizer` only skips the model micro-benchmark; the tai chi performer is 41 % of the frame "
        "height, so the region-of-interest stage leaves them to the full-frame path: one landmarker run per frame, "
        "as without it; the `original` rows above show 1.00 model runs per frame). Runs back to back on the shared "
        "2-core machine, whose load (other jobs) is given: on it the order and the load move the pose stage by "
        "1.5x either way, so compare the model runs per frame for the cost and read fps as 'at least this much'; "
        "docs/benchmark.md has a quiet machine.",
        "",
        "| run | model | ROI | fps end to end | pose p50 ms | pose mean ms | total p50 ms | load average start / end |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path in paths:
        d = json.loads(Path(path).read_text())
        r = d["pipeline"]["runs"][0]
        st, m = r["stages"], d["machine"]
        pose, total = st["pose"], st["total"]
        load = f"{m['loadavg_start'][0]:.1f} / {m['loadavg_end'][0]:.1f}"
        o = d.get("options", {})
        lines.append(
            f"| {Path(path).name} | T={d['model'].get('window')} ({d['model'].get('model_id', '')[:8]}) "
            f"| {'on' if o.get('roi', True) else 'off'} "
            f"| {r['fps']:.1f} | {pose['p50_ms']:.1f} | {pose['mean_ms']:.1f} | {total['p50_ms']:.1f} | {load} |"
        )
    fps: dict[bool, list[float]] = {True: [], False: []}
    for path in paths:
        d = json.loads(Path(path).read_text())
        fps[bool(d.get("options", {}).get("roi", True))].append(d["pipeline"]["runs"][0]["fps"])
    if fps[True] and fps[False]:
        on, off = min(fps[True]), min(fps[False])
        lines += [
            "",
            f"Slowest run with the region-of-interest stage: {on:.1f} fps; without it: {off:.1f} fps. For this person "
            "both make one landmarker call per frame on the same full frame, so a difference is the machine's load, "
            "not a cost of the stage; the stage's own work is a box and a few comparisons per frame.",
        ]
    return "\n".join(lines) + "\n"


def roi_options(pairs: list[str]) -> Any:
    """:class:`realtime.pose.roi.RoiOptions` with ``FIELD=VALUE`` changes (values parsed as JSON, else strings)."""
    from realtime.pose.roi import RoiOptions

    changes: dict[str, Any] = {}
    fields = {f.name for f in dataclasses.fields(RoiOptions)}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in fields:
            raise SystemExit(f"--roi {pair!r}: expected FIELD=VALUE with FIELD one of {sorted(fields)}")
        try:
            changes[key] = json.loads(value)
        except json.JSONDecodeError:
            changes[key] = value
    return RoiOptions(**changes)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=150, help="frames per video (default 150 = 5 s)")
    ap.add_argument("--heights", type=int, nargs="+", default=list(HEIGHTS))
    ap.add_argument("--videos", nargs="+", default=list(VIDEOS), choices=list(VIDEOS))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--bench", type=Path, nargs="*", default=[], help="sadvae bench JSON files to add to the report")
    ap.add_argument(
        "--roi",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help="RoiOptions fields to change for a comparison (e.g. crop_mode=image retry=false)",
    )
    ap.add_argument(
        "--num-poses",
        type=int,
        default=1,
        help="people per frame (2+: the several-person stage, its own report of people found per frame)",
    )
    args = ap.parse_args(argv)
    if args.num_poses < 1:
        ap.error(f"--num-poses must be >= 1, got {args.num_poses}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    videos = {k: VIDEOS[k] for k in args.videos}
    res = measure(args.frames, tuple(args.heights), videos, roi_options(args.roi), args.num_poses)
    res["summary"] = summary(res)
    machine, when = machine_and_time()
    cmd = "python scripts/small_figures.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.num_poses > 1:
        md = render_people_markdown(res, cmd.strip(), machine, when)
    else:
        md = render_markdown(res, cmd.strip(), machine, when) + (bench_section(args.bench) if args.bench else "")
    write_report(res, md, args.json, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
