"""Labels taught by doing them (``sadvae-live --teach``), measured on the real videos of benchmarks/videos.toml.

Each of the three 10 s videos teaches its own label (tai chi, clean and jerk, shoot a basketball) from its first
``--teach-seconds`` (4, the flag's default, fixed before any run) and is judged on what follows, with the other two
labels' examples beside it (each taught the same way from its own video) and benchmarks/labels/real_videos.txt as the
list: a start of its label is right, a start of any other label is false. The two NTU clips (drink water, hug: 3.4
and 2.4 s, too short to teach from) are judged whole with all three taught labels: any start of a taught label there
is false. The same person and scene teach and are judged (the first seconds, then the rest): a user who shows an
action and then does it again, not another person. Every run is the real ``sadvae-live`` command (printed).

Usage (project root, real data in ../shared/data; about 80 s on 2 cores)::

    python scripts/teach_real_videos.py --out runs/teach                            # the clips' annotated settings
    python scripts/teach_real_videos.py --out runs/teach_np1 --basketball-poses 1  # basketball with one person

Prints a table and writes ``OUT/teach.json`` (per judged clip: events, the nearest label when none started).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from sadvae.data.record import Dataset  # noqa: E402  (after the sys.path line)
from sadvae.data.user_format import read_clip_dataset, write_clip_dataset  # noqa: E402
from sadvae.labels import normalise_name  # noqa: E402
from sadvae.paths import SHARED_DATA  # noqa: E402

LABELS = "benchmarks/labels/real_videos.txt"
TAUGHT = (  # (name, label, video under ../shared/data)
    ("tai_chi", "tai chi", "videos/ta_chi.mp4"),
    ("clean_and_jerk", "clean and jerk", "videos/clean_and_jerk.mp4"),
    ("basketball", "shoot a basketball", "videos/test_video_structuralize.mp4"),
)
WHOLE = (  # (name, label, video, its flags in benchmarks/videos.toml)
    ("drink_water", "drink water", "ntu/S001C001P001R001A001_rgb.avi", ["--mirror"]),
    ("hug", "hug", "ntu/ntu_sample.avi", ["--mirror", "--num-poses", "2"]),
)
EVENT = re.compile(r"^\s*([\d.]+) s\s+person (\d+)\s+(start|end)\s+(.+?)\s{2,}([\d.]+)")
NEAREST = re.compile(r"the nearest was '(.+?)', smoothed score ([\d.]+)")


def without(folder: Path, label: str, out: Path) -> None:
    """A copy of the examples clip folder ``folder`` without ``label``'s clips, at ``out`` (a clip folder itself)."""
    ds = read_clip_dataset(folder)
    drop = {i for i, n in enumerate(ds.class_names) if normalise_name(n) == normalise_name(label)}
    names = [n for i, n in enumerate(ds.class_names) if i not in drop]
    row = {old: names.index(n) for old, n in enumerate(ds.class_names) if old not in drop}
    seqs = [replace(s, label=row[s.label]) for s in ds.sequences if s.label not in drop]
    write_clip_dataset(Dataset(ds.name, tuple(names), seqs, [], ds.protocol), out, None, {"source": str(folder)})


def live(args: list[str], out: Path, stem: str) -> dict:
    """One ``sadvae-live`` run (``--print``): its events and, when none started, the nearest label."""
    cmd = ["sadvae-live", *args, "--labels", LABELS, "--print", "--endpoint", "tcp://127.0.0.1:0"]
    print("$", shlex.join(cmd), flush=True)
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    (out / f"{stem}.out").write_text(run.stdout, encoding="utf-8")
    (out / f"{stem}.err").write_text(run.stderr, encoding="utf-8")
    if run.returncode != 0:
        raise SystemExit(f"{shlex.join(cmd)} failed ({run.returncode}):\n{run.stderr[-2000:]}")
    events = [
        {"t_s": float(m[1]), "person": int(m[2]), "type": m[3], "label": m[4], "score": float(m[5])}
        for m in map(EVENT.match, run.stdout.splitlines())
        if m
    ]
    near = NEAREST.search(run.stderr)
    return {
        "command": shlex.join(cmd),
        "events": events,
        "nearest": None if near is None else {"label": near[1], "score": float(near[2])},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "teach")
    p.add_argument("--seconds", type=float, default=4.0, help="--teach-seconds (default 4, the flag's default)")
    p.add_argument(
        "--basketball-poses", type=int, default=2, help="--num-poses of the basketball video (2: its annotation)"
    )
    args = p.parse_args(argv)
    out = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    flags = {"basketball": ["--num-poses", str(args.basketball_poses)]}
    teach = ["--teach-seconds", f"{args.seconds:g}"]
    for name, label, video in TAUGHT:  # 1. every label taught from its own video's first seconds, into one folder
        src = ["--video", str(SHARED_DATA / video), *flags.get(name, [])]
        live([*src, "--teach", label, *teach, "--examples", str(out / "all")], out, f"teach_{name}")
    rows = []
    for name, label, video in TAUGHT:  # 2. judged after its own teaching, the other two labels' examples beside it
        without(out / "all", label, out / f"ex_{name}")
        src = ["--video", str(SHARED_DATA / video), *flags.get(name, [])]
        r = live([*src, "--teach", label, *teach, "--examples", str(out / f"ex_{name}")], out, f"judge_{name}")
        rows.append({"clip": name, "truth": label, "judged": f"after the first {args.seconds:g} s", **r})
    for name, label, video, extra in WHOLE:  # 3. the NTU clips, whole, with the three taught labels
        r = live(["--video", str(SHARED_DATA / video), *extra, "--examples", str(out / "all")], out, f"judge_{name}")
        rows.append({"clip": name, "truth": label, "judged": "whole", **r})
    taught = {label for _, label, _ in TAUGHT}
    print("\n| clip | judged | truth | starts (s, label) | right | false | nearest when none started |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        starts = [e for e in r["events"] if e["type"] == "start"]
        r["right"] = sum(e["label"] == r["truth"] for e in starts)
        r["false"] = sum(e["label"] != r["truth"] for e in starts)
        r["false_taught"] = sum(e["label"] != r["truth"] and e["label"] in taught for e in starts)
        shown = ", ".join(f"{e['t_s']:.1f} {e['label']}" for e in starts) or "none"
        near = r["nearest"]
        near_txt = "-" if near is None else f"{near['label']} {near['score']:.2f}"
        print(f"| {r['clip']} | {r['judged']} | {r['truth']} | {shown} | {r['right']} | {r['false']} | {near_txt} |")
    report = {"seconds": args.seconds, "basketball_poses": args.basketball_poses, "labels": LABELS, "clips": rows}
    (out / "teach.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {out / 'teach.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
