"""The annotation file of the real-video accuracy benchmark (TOML; ``benchmarks/videos.toml``).

An optional ``version = 1`` first, then one ``[[clip]]`` table per video::

    version = 1
    [[clip]]
    name = "drink_water"                      # unique; names the clip in reports
    path = "ntu/S001C001P001R001A001_rgb.avi" # relative to the data root (../shared/data)
    description = "a woman lifts a cup to her mouth at 0.8 s and drinks until the end"  # optional text
    start = 0.8                               # optional: when the true action starts / ends (seconds)
    end = 3.4
    num_poses = 1                             # optional: most persons MediaPipe detects (default 1)
    mirror = true                             # optional: the video is mirrored (NTU RGB videos)
    judge = [                                 # one entry per labels file the clip is judged against
      { labels = "labels/everyday.txt", truth = "none" },
      { labels = "benchmarks/labels/real_videos.txt", truth = "drink water" },
      { labels = "labels/fitness.txt", truth = "none", tolerated = ["squat"], note = "why" },
    ]

``labels`` paths are relative to the project root (or else to the annotation file's folder);
``truth`` is one of that file's names (compared as the live head compares names: case, spacing,
``_`` and a final dot ignored) or ``"none"``: none of its labels applies, so every event is false.
``tolerated`` labels are neither required nor false (a basketball shot is also a throw); ``note`` is text. Any
problem raises one :class:`sadvae.errors.DataFormatError` naming the file, the clip and the field; a ``start`` or
``end`` past the video's end is found when the video is opened, before the pipeline runs
(:func:`realtime.bench.accuracy.runner.run_clip`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from sadvae.errors import DataFormatError

__all__ = ["Judgement", "ClipAnnotation", "load_annotations", "parse_annotations", "NONE"]

NONE = "none"
VERSION = 1  # the format's version (``version = 1`` at the top; optional)
_CLIP_KEYS = {"name", "path", "description", "start", "end", "num_poses", "mirror", "judge"}
_JUDGE_KEYS = {"labels", "truth", "tolerated", "note"}


@dataclass(frozen=True)
class Judgement:
    """One (clip, labels file) pairing.

    Attributes:
        labels: the labels file (resolved path); truth: the label as written in it, or None ("none").
        tolerated: label names neither required nor counted false; note: why (free text).
    """

    labels: Path
    truth: str | None
    tolerated: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class ClipAnnotation:
    """One annotated clip (module docstring).

    Attributes:
        name, path (resolved), description; start, end: the action span in seconds or None;
        num_poses, mirror: pose settings; judge: its pairings with labels files; source: the annotation file.
    """

    name: str
    path: Path
    description: str
    start: float | None
    end: float | None
    num_poses: int
    mirror: bool
    judge: tuple[Judgement, ...]
    source: Path | None = None  # the annotation file (errors found at run time name it)


def _norm(name: str) -> str:
    return " ".join(str(name).replace("_", " ").casefold().split()).rstrip(". ")


def _number(file: Path, where: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise DataFormatError(file, where, f"expected a number of seconds >= 0, found {value!r}")
    return float(value)


def _label_names(file: Path, where: str, labels: Path) -> tuple[str, ...]:
    from realtime.head.labels import parse_labels
    from sadvae.errors import ConfigError

    try:
        return parse_labels(labels).names
    except ConfigError as e:
        raise DataFormatError(file, where, f"labels file {labels} cannot be read: {e}") from None


def _match(file: Path, where: str, name: str, names: tuple[str, ...], labels: Path) -> str:
    found = [n for n in names if _norm(n) == _norm(name)]
    if not found:
        raise DataFormatError(
            file,
            where,
            f"{name!r} is not a label of {labels} (its labels: {', '.join(names)}); use one of them "
            f'or "{NONE}" when none applies',
        )
    return found[0]


def parse_annotations(
    doc: dict[str, Any], file: str | Path, data_root: Path, project_root: Path, check_files: bool = True
) -> list[ClipAnnotation]:
    """Validate a parsed TOML document (see :func:`load_annotations`)."""
    file = Path(file)
    clips = doc.get("clip")
    extra = set(doc) - {"clip", "version"}
    if extra:
        raise DataFormatError(file, sorted(extra)[0], "unknown top-level key; the file holds [[clip]] tables")
    if "version" in doc and (isinstance(doc["version"], bool) or doc["version"] != VERSION):
        raise DataFormatError(
            file, "version", f"expected {VERSION} (the only format version), found {doc['version']!r}"
        )
    if not isinstance(clips, list) or not clips:
        raise DataFormatError(file, "clip", "no [[clip]] table found; add one per video")
    out: list[ClipAnnotation] = []
    names: set[str] = set()
    for k, c in enumerate(clips):
        where = f"clip {k + 1}"
        if not isinstance(c, dict):
            raise DataFormatError(file, where, "expected a [[clip]] table")
        unknown = set(c) - _CLIP_KEYS
        if unknown:
            raise DataFormatError(file, f"{where}.{sorted(unknown)[0]}", f"unknown key; allowed: {sorted(_CLIP_KEYS)}")
        for key in ("name", "path"):
            if not isinstance(c.get(key), str) or not c[key].strip():
                raise DataFormatError(file, f"{where}.{key}", "missing or empty; a text value is required")
        name = c["name"]
        where = f"clip {name!r}"
        if name in names:
            raise DataFormatError(file, f"{where}.name", "used twice; clip names must be unique")
        names.add(name)
        path = data_root / c["path"]
        if check_files and path.is_dir():
            raise DataFormatError(file, f"{where}.path", f"{path} is a folder; name the video file inside it")
        if check_files and not path.is_file():
            raise DataFormatError(
                file,
                f"{where}.path",
                f"unknown clip: {path} does not exist (paths are relative to the data root {data_root})",
            )
        if not isinstance(c.get("description", ""), str):
            raise DataFormatError(file, f"{where}.description", f"expected text, found {c['description']!r}")
        start, end = _number(file, f"{where}.start", c.get("start")), _number(file, f"{where}.end", c.get("end"))
        if start is not None and end is not None and not end > start:
            raise DataFormatError(file, f"{where}.end", f"end ({end}) must be after start ({start})")
        if end is not None and not end > 0:
            raise DataFormatError(file, f"{where}.end", f"end ({end}) must be after the video's start (0 s)")
        num_poses = c.get("num_poses", 1)
        if isinstance(num_poses, bool) or not isinstance(num_poses, int) or num_poses < 1:
            raise DataFormatError(file, f"{where}.num_poses", f"expected an integer >= 1, found {num_poses!r}")
        if not isinstance(c.get("mirror", False), bool):
            raise DataFormatError(file, f"{where}.mirror", f"expected true or false, found {c['mirror']!r}")
        judge = c.get("judge")
        if not isinstance(judge, list) or not judge:
            raise DataFormatError(file, f"{where}.judge", "missing; list at least one {labels = ..., truth = ...}")
        judgements = []
        judged: dict[Path, int] = {}
        for j, entry in enumerate(judge):
            w = f"{where}.judge[{j}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("labels"), str) or "truth" not in entry:
                raise DataFormatError(file, w, 'expected {labels = "path", truth = "label" or "none"}')
            if set(entry) - _JUDGE_KEYS:
                raise DataFormatError(
                    file, w, f"unknown key {sorted(set(entry) - _JUDGE_KEYS)[0]!r}; allowed: {sorted(_JUDGE_KEYS)}"
                )
            tried = [project_root / entry["labels"], file.parent / entry["labels"]]
            found = [t for t in tried if t.is_file()]
            if not found:
                where_not = (
                    f"{tried[0]}"
                    if tried[0] == tried[1]
                    else f"{tried[0]} (project root) or {tried[1]} (beside the annotation file)"
                )
                what = "is a folder, not a labels file" if any(t.is_dir() for t in tried) else "not found"
                raise DataFormatError(file, f"{w}.labels", f"labels file {what}: {where_not}")
            if len(found) == 2 and found[0].resolve() != found[1].resolve():
                # two files of one name: the project's was read without a word (a benchmark audit, 7 December 2026)
                raise DataFormatError(
                    file,
                    f"{w}.labels",
                    f"{entry['labels']} is both {found[0]} (project root) and {found[1]} (beside the annotation "
                    "file); give the one you mean as an absolute path",
                )
            labels = found[0]
            if labels.resolve() in judged:  # two truths for one clip and labels file: both rows entered the sums
                raise DataFormatError(
                    file, f"{w}.labels", f"{entry['labels']} is judged already by judge[{judged[labels.resolve()]}]"
                )
            judged[labels.resolve()] = j
            label_names = _label_names(file, f"{w}.labels", labels)
            truth = entry["truth"]
            if not isinstance(truth, str) or not truth.strip():
                raise DataFormatError(file, f"{w}.truth", f'expected a label name or "{NONE}", found {truth!r}')
            if _norm(truth) == NONE and any(_norm(n) == NONE for n in label_names):
                raise DataFormatError(
                    file, f"{w}.truth", f'"{NONE}" is a label of {labels.name} itself: rename that label'
                )
            truth = None if _norm(truth) == NONE else _match(file, f"{w}.truth", truth, label_names, labels)
            tolerated = entry.get("tolerated", [])
            if not isinstance(tolerated, list):
                raise DataFormatError(file, f"{w}.tolerated", "expected a list of label names")
            tol = tuple(_match(file, f"{w}.tolerated", t, label_names, labels) for t in tolerated)
            if truth in tol or len(set(tol)) < len(tol):
                raise DataFormatError(
                    file, f"{w}.tolerated", "lists the truth or a label twice; tolerate only other labels, once each"
                )
            if not isinstance(entry.get("note", ""), str):
                raise DataFormatError(file, f"{w}.note", f"expected text, found {entry['note']!r}")
            judgements.append(Judgement(labels, truth, tol, entry.get("note", "")))
        out.append(
            ClipAnnotation(
                name,
                path,
                c.get("description", ""),
                start,
                end,
                num_poses,
                bool(c.get("mirror", False)),
                tuple(judgements),
                file,
            )
        )
    return out


def load_annotations(
    path: str | Path, data_root: str | Path, project_root: str | Path, check_files: bool = True
) -> list[ClipAnnotation]:
    """Read and validate an annotation file.

    Args:
        path: the TOML file.
        data_root: clip paths are relative to it (``../shared/data``).
        project_root: labels paths are relative to it.
        check_files: require every clip to exist (False: parse only, e.g. without the data).

    Raises:
        DataFormatError: not TOML, a missing or unknown key, an unknown clip, bad times or an unknown label.
    """
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise DataFormatError(p, None, f"cannot read the annotation file ({e.strerror or e})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise DataFormatError(p, None, f"not valid TOML ({e})") from None
    return parse_annotations(doc, p, Path(data_root), Path(project_root), check_files)
