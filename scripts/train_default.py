"""Train the default model. Two recipes (``--recipe``):

- ``shiftgcn-v2`` (default): the frozen NTU-120 Shift-GCN, NTU-120 names scored by its fc plus every class
  of MSR Action3D, NW-UCLA, UTKinect, HDM05 and Bandai-Namco (class table:
  :mod:`sadvae.train.class_table`) scored by an extra linear head, SA-DVAE for new names, a fitted head
  calibration. Recipe: :mod:`sadvae.train.default_shiftgcn`. Writes the packaged default model
  ``sadvae/assets/default_model.pt`` by default, with ``.head.json`` (the fitted calibration; the constants of
  labels taught by example are fitted last, through the live pipeline: ``scripts/fit_example_curve.py``), ``.onnx``
  (the export the live pipeline runs) and ``.metrics.json`` beside it. Window T=96 at 30 fps (chosen on inner
  validation: 55.0 vs 49.9 % window top-1 at T=64), live stride 24 (measured: recogniser <= 3 ms per frame).
  The packaged model is the default recipe only: a setting that changes what is trained (``--limit-per-class``,
  ``--window``, ``--augment``, ``--datasets``, ...) or ``--no-onnx`` is refused unless ``--out`` names another
  file (so is ``--no-example-fit``); paths (``--data-root``, ``--feature-dir``, ``--text-cache``, ``--json``),
  ``--threads`` and ``--device`` are not. ``--rescore`` and ``--recalibrate`` use the settings recorded in the
  bundle (an option that disagrees with them is refused), with the paths, threads and device of the command line.
- ``stgcn-v1``: the round-1 model, ST-GCN + SA-DVAE on MSR Action3D + NW-UCLA + UTKinect merged
  (:mod:`sadvae.train.default_model`); writes ``runs/default_v1/default_model.pt`` by default (it was the
  packaged model of round 1; pass ``--out`` to put it elsewhere).

Both print the model card's metrics section as markdown, are seeded, and store the resolved recipe in the
bundle's provenance; see ``sadvae/assets/MODEL_CARD.md``.

Usage (from the project root, with the real data in ``../shared/data``)::

    scripts/train_default --threads 1                       # the packaged default (shiftgcn-v2; 2 cores: ~30 min)
    scripts/train_default --sweep-windows 48 64 96          # window length on inner validation (training sides)
    scripts/train_default --threads 1 --inner-only          # the inner model (runs/default_v2_inner)
    scripts/train_default --recipe stgcn-v1                 # the round-1 model, runs/default_v1 (2 cores: ~20 min)
    scripts/train_default --recipe stgcn-v1 --epochs 1 --cycles 2 --iters-per-cycle 30 --limit-per-class 4 \
        --out /tmp/m.pt                                     # smoke
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from dataclasses import asdict, replace
from pathlib import Path

log = logging.getLogger("train_default")
RECIPES = ("shiftgcn-v2", "stgcn-v1")
INNER_OUT = "runs/default_v2_inner/default_model.pt"


def build_parser() -> argparse.ArgumentParser:
    from sadvae.train.augment import AUGMENTS
    from sadvae.train.default_model import DefaultModelConfig
    from sadvae.train.default_shiftgcn import ShiftGCNDefaultConfig

    d = DefaultModelConfig()
    s = ShiftGCNDefaultConfig()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", choices=RECIPES, default=RECIPES[0], help="recipe (default: %(default)s)")
    ap.add_argument(
        "--out",
        type=Path,
        help=f"bundle to write (default: shiftgcn-v2 {s.out} (the packaged default model), stgcn-v1 {d.out})",
    )
    ap.add_argument("--data-root", type=Path, help="folder holding skeleton_sets/ and mocap/ (default: ../shared/data)")
    ap.add_argument("--seed", type=int, default=d.seed, help="seeds the pseudo-unseen choice and all training")
    ap.add_argument("--epochs", type=int, help=f"stgcn-v1: backbone epochs (default {d.backbone.epochs})")
    ap.add_argument(
        "--batch-size", type=int, help=f"stgcn-v1: backbone windows per step (default {d.backbone.batch_size})"
    )
    ap.add_argument("--cycles", type=int, help=f"most SA-DVAE cycles the validation run tries (default {d.zsl.cycles})")
    ap.add_argument(
        "--iters-per-cycle", type=int, help=f"SA-DVAE iterations per cycle (default {d.zsl.iters_per_cycle})"
    )
    ap.add_argument(
        "--samples-per-class",
        type=int,
        help=f"text latents per class for the latent classifier ({d.zsl.samples_per_class})",
    )
    ap.add_argument(
        "--pseudo-unseen", type=int, default=d.num_pseudo_unseen, help="stgcn-v1: classes playing unseen in validation"
    )
    ap.add_argument("--limit-per-class", type=int, help="at most N sequences per dataset/class/side (smoke runs)")
    ap.add_argument("--text-cache", type=Path, help="sentence-embedding cache folder (default ~/.cache/sadvae/text)")
    ap.add_argument("--device", default="cpu", help="torch device (default cpu)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    ap.add_argument("--json", type=Path, help="also write the metrics and provenance to this JSON file")
    ap.add_argument(
        "--no-onnx",
        dest="onnx",
        action="store_false",
        help="do not write the ONNX export beside the bundle (<out stem>.onnx, which the live pipeline "
        "runs without exporting)",
    )
    ap.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    g = ap.add_argument_group("shiftgcn-v2 only")
    g.add_argument(
        "--window",
        type=int,
        default=s.window,
        help="frames per window at 30 fps (default %(default)s = 3.2 s, chosen on inner validation: 55.0 %% "
        "window top-1 against 49.9 %% at 64, docs/default_model_v2.md)",
    )
    g.add_argument("--stride", type=int, help="frames between training windows of a clip (default window/2)")
    g.add_argument(
        "--live-stride",
        type=int,
        default=s.live_stride,
        help="frames at 30 fps between two live windows of a track, stored in the bundle (default %(default)s: "
        "measured so the recogniser costs <= 3 ms per frame amortised on a 2-core CPU)",
    )
    g.add_argument(
        "--head",
        choices=("auto", "joint", "independent"),
        default=s.head,
        help="extra head trained with the NTU fc logits in its softmax (joint), alone (independent), or "
        "the better on inner validation (auto, default)",
    )
    g.add_argument(
        "--weight-decays",
        type=float,
        nargs="+",
        default=list(s.weight_decays),
        help="L2 strengths of the extra head tried on inner validation (default %(default)s)",
    )
    g.add_argument(
        "--weights",
        default=s.weights,
        help="Shift-GCN checkpoint, or several joined by '+' read as one backbone (features side by side, logits "
        "averaged), e.g. ntu120_xsub+ntu120_xsetup (default %(default)s)",
    )
    g.add_argument(
        "--datasets",
        nargs="+",
        metavar="SET",
        help=f"sets to train on: registered names and / or clip folders of your own (docs/data_format.md; their "
        f"classes join the table's by name, others get columns of their own) (default {' '.join(s.datasets)})",
    )
    g.add_argument("--feature-dir", type=Path, help="window-feature cache (default runs/features/windows)")
    g.add_argument(
        "--no-calibration",
        dest="calibrate",
        action="store_false",
        help="skip the head calibration (saves one SA-DVAE training)",
    )
    g.add_argument(
        "--sweep-windows",
        type=int,
        nargs="+",
        metavar="T",
        help="measure window lengths on inner validation instead of training (writes --json)",
    )
    g.add_argument(
        "--rescore",
        type=Path,
        metavar="BUNDLE",
        help="re-measure a shiftgcn-v2 bundle's head on the test sides (cached features; nothing trained)",
    )
    g.add_argument(
        "--recalibrate",
        type=Path,
        metavar="BUNDLE",
        help="re-fit a shiftgcn-v2 bundle's head calibration (<stem>.head.json) with the current code: the inner "
        "head and SA-DVAE are retrained from the cached features, the weights and model id stay; the calibration of "
        "handedness pooling is fitted too (the mirror images' features are extracted once and cached)",
    )
    g.add_argument("--sweep-per-class", type=int, default=8, help="clips per (set, class, inner side) in the sweep")
    g.add_argument(
        "--augment",
        choices=("none", *(k for k in AUGMENTS if k != "default")),
        default=s.augment or "none",
        help="camera, camera_wander: the heads also train on camera-like copies of the inner-train windows (the "
        "measured MediaPipe-vs-Kinect differences, sadvae/train/augment.py); legs: on copies with the legs out of "
        "the frame half the time; extracted once and cached (default %(default)s)",
    )
    g.add_argument(
        "--augment-copies",
        type=int,
        default=s.augment_copies,
        help="augmented copies of each inner-train window with --augment (default %(default)s)",
    )
    g.add_argument(
        "--no-example-fit",
        dest="example_fit",
        action="store_false",
        help="skip the last step, fitting the constants of labels taught by example (sadvae-live --examples) through "
        "the live pipeline on the training sides (scripts/fit_example_curve.py, ~7 min on a 2-core CPU; never for "
        "--inner-only or --limit-per-class runs); the head then holds the built-in values",
    )
    g.add_argument(
        "--inner-only",
        action="store_true",
        help="the inner model: train the final extra head and SA-DVAE on the inner-train windows only (training "
        "side minus inner validation), so scripts/tune_decisions.py can tune on inner-validation replays the model "
        f"never saw (default --out {INNER_OUT}; never the packaged model)",
    )
    return ap


def config_from_args(args: argparse.Namespace):
    """The :class:`~sadvae.train.default_model.DefaultModelConfig` the flags ask for."""
    from sadvae.train.default_model import DefaultModelConfig

    base = DefaultModelConfig()
    backbone = replace(base.backbone, device=args.device)
    if args.epochs is not None:
        backbone = replace(backbone, epochs=args.epochs)
    if args.batch_size is not None:
        backbone = replace(backbone, batch_size=args.batch_size)
    zsl = replace(base.zsl, device=args.device)
    for name in ("cycles", "iters_per_cycle", "samples_per_class"):
        if getattr(args, name) is not None:
            zsl = replace(zsl, **{name: getattr(args, name)})
    text = replace(base.text, device=args.device, cache_dir=str(args.text_cache) if args.text_cache else None)
    return replace(
        base,
        out=str(args.out),
        data_root=str(args.data_root) if args.data_root else None,
        seed=args.seed,
        num_pseudo_unseen=args.pseudo_unseen,
        limit_per_class=args.limit_per_class,
        threads=args.threads,
        backbone=backbone,
        zsl=zsl,
        text=text,
    )


STGCN_ONLY = ("epochs", "batch_size")

# shiftgcn-v2 options that set a model setting (argparse dest -> dotted ShiftGCNDefaultConfig field); the others set
# where and how it runs (sadvae.train.default_shiftgcn.RUN_SETTINGS) or what the script does
FLAG_FIELDS = {
    "seed": "seed",
    "window": "window",
    "stride": "stride",
    "live_stride": "live_stride",
    "head": "head",
    "weight_decays": "weight_decays",
    "weights": "weights",
    "datasets": "datasets",
    "calibrate": "calibrate",
    "limit_per_class": "limit_per_class",
    "augment": "augment",
    "augment_copies": "augment_copies",
    "cycles": "zsl.cycles",
    "iters_per_cycle": "zsl.iters_per_cycle",
    "samples_per_class": "zsl.samples_per_class",
}


def given_flags(argv: list[str] | None) -> set[str]:
    """The dests of the options given on the command line (those left at their defaults are not counted)."""
    parser = build_parser()
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))


def _flag_text(field_name: str, value) -> str:
    """The command-line option that sets model setting ``field_name`` to ``value`` (the field's name when none does)."""
    if field_name == "calibrate":  # the default is True: only --no-calibration changes it
        return "--no-calibration"
    dest = next((d for d, f in FLAG_FIELDS.items() if f == field_name), None)
    if dest is None:
        return f"{field_name}={value!r}"
    shown = " ".join(map(str, value)) if isinstance(value, list | tuple) else value
    return f"--{dest.replace('_', '-')} {shown}"


def packaged_refusal(args: argparse.Namespace, cfg) -> str | None:
    """Why a training run with ``cfg`` must not write the packaged model (None when it may, or writes elsewhere).

    The packaged model is the default recipe only: every model setting of ``cfg`` must be the default
    (``ShiftGCNDefaultConfig()``; paths, threads and devices are free), and its ONNX export must be rewritten with it.
    """
    from sadvae.assets import default_bundle_path
    from sadvae.train import default_shiftgcn as rec

    if Path(cfg.out).resolve() != default_bundle_path().resolve():
        return None
    settings = rec.model_settings(cfg)
    differ = [_flag_text(n, settings[n]) for n in rec.differing_settings(cfg)]
    if not args.onnx:
        differ.append("--no-onnx (it would leave the packaged export stale)")
    if not args.example_fit:
        differ.append("--no-example-fit (it would leave the packaged head's example constants unfitted)")
    if not differ:
        return None
    where = "with no --out the recipe writes" if args.out is None else "--out names"
    return (
        f"{', '.join(differ)}: not the default recipe, and {where} the packaged model {default_bundle_path()}; "
        "pass another --out"
    )


def shiftgcn_config_from_args(args: argparse.Namespace):
    """The :class:`~sadvae.train.default_shiftgcn.ShiftGCNDefaultConfig` the flags ask for."""
    from sadvae.data.registry import dataset_key
    from sadvae.text import TextConfig
    from sadvae.train.default_shiftgcn import ShiftGCNDefaultConfig

    base = ShiftGCNDefaultConfig()
    zsl = replace(base.zsl, device=args.device)
    for name in ("cycles", "iters_per_cycle", "samples_per_class"):
        if getattr(args, name) is not None:
            zsl = replace(zsl, **{name: getattr(args, name)})
    text = replace(base.text, device=args.device, cache_dir=str(args.text_cache) if args.text_cache else None)
    return replace(
        base,
        out=str(args.out) if args.out else base.out,
        data_root=str(args.data_root) if args.data_root else None,
        weights=args.weights,
        window=args.window,
        stride=args.stride,
        live_stride=args.live_stride,
        datasets=tuple(map(dataset_key, args.datasets)) if args.datasets else base.datasets,
        seed=args.seed,
        head=args.head,
        weight_decays=tuple(args.weight_decays),
        zsl=zsl,
        text=text if isinstance(text, TextConfig) else base.text,
        calibrate=args.calibrate,
        limit_per_class=args.limit_per_class,
        feature_dir=str(args.feature_dir) if args.feature_dir else None,
        threads=args.threads,
        augment=None if args.augment == "none" else args.augment,
        augment_copies=args.augment_copies,
    )


def main_shiftgcn(args: argparse.Namespace, command: str, given: set[str] | frozenset[str] = frozenset()) -> int:
    """``--recipe shiftgcn-v2``: train (or sweep window lengths) and print the metrics.

    ``given``: the dests of the options given on the command line (:func:`given_flags`); ``--rescore`` and
    ``--recalibrate`` refuse those of them that disagree with the bundle's recorded settings.
    """
    from sadvae.errors import SadvaeError
    from sadvae.train import default_shiftgcn as rec

    used = [f"--{n.replace('_', '-')}" for n in STGCN_ONLY if getattr(args, n) is not None]
    if used or args.pseudo_unseen != 5:
        print(
            f"train_default: error: {' '.join(used) or '--pseudo-unseen'} belongs to --recipe stgcn-v1", file=sys.stderr
        )
        return 2
    if args.inner_only:
        from sadvae.assets import default_bundle_path

        if args.rescore or args.sweep_windows or args.recalibrate:
            print(
                "train_default: error: --inner-only trains a model; not with --rescore, --recalibrate or "
                "--sweep-windows",
                file=sys.stderr,
            )
            return 2
        args.out = args.out or Path(INNER_OUT)
        if args.out.resolve() == default_bundle_path().resolve():
            print(
                f"train_default: error: --inner-only must not write the packaged model {default_bundle_path()}; "
                "pass another --out",
                file=sys.stderr,
            )
            return 2
    try:
        cfg = shiftgcn_config_from_args(args)
        trains = not (args.rescore or args.recalibrate or args.sweep_windows)
        if trains:
            rec._check_config(cfg)  # a bad value is named as such, before it is named as not the default
        refusal = packaged_refusal(args, cfg) if trains else None
        if refusal:
            print(f"train_default: error: {refusal}", file=sys.stderr)
            return 2
        asked = [FLAG_FIELDS[d] for d in sorted(given) if d in FLAG_FIELDS]
        if cfg.threads:
            import torch

            torch.set_num_threads(cfg.threads)
        if args.rescore:
            r = rec.rescore_bundle(args.rescore, cfg, asked=asked)
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(r, indent=1))
            from sadvae.bundle import load_bundle

            print(rec.holdout_markdown(r, len(load_bundle(args.rescore).class_names)))
            return 0
        if args.recalibrate:
            out, report = rec.recalibrate_bundle(args.recalibrate, cfg, asked=asked)
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(report, indent=1, default=rec._json_default))
            print(f"wrote {out}")
            shown = {k: v for k, v in report.items() if k != "calibration"}
            print(json.dumps(shown, indent=1, default=rec._json_default))
            return 0
        if args.sweep_windows:
            sweep = rec.window_sweep(cfg, args.sweep_windows, args.sweep_per_class)
            sweep["command"] = command
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(sweep, indent=1))
            print(rec.sweep_markdown(sweep))
            print(f"\nbest window on inner validation: {sweep['best']}")
            return 0
        log.info("recipe %s: %s", rec.RECIPE, json.dumps(asdict(cfg)))
        path = rec.train_default_shiftgcn(cfg, command=command, inner_only=args.inner_only)
        status = _finish(args, path, rec.metrics_markdown, "Metrics (model card)")
        # not for the inner model (the fit reads the inner-validation sequences its replays must not have seen)
        # nor for a smoke run (the fit reads whole training sides)
        if status == 0 and args.example_fit and cfg.calibrate and not args.inner_only and not cfg.limit_per_class:
            fit_examples(path, cfg, command)
        return status
    except SadvaeError as e:
        print(f"train_default: error: {e}", file=sys.stderr)
        return 2


def fit_examples(path: Path, cfg, command: str) -> dict:
    """The recipe's last step: the constants of labels taught by example, fitted through the live pipeline on the
    training sides of the model's own sets and written into its ``.head.json`` (``scripts/fit_example_curve.py``;
    mirrored into ``<stem>.metrics.json``; the bundle and its model id stay as trained)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fit_example_curve import TooFewClasses, fit_example_constants

    print("\nlabels taught by example: fitting their constants on the training sides (scripts/fit_example_curve.py)")
    root = Path(cfg.data_root) if cfg.data_root else None
    try:
        return fit_example_constants(path, list(cfg.datasets), root, cfg.seed, command=f"{command} (last step)")
    except TooFewClasses as e:  # a user's small set: the model is complete without the fit
        print(f"note: {e}")
        return {}


def _finish(args: argparse.Namespace, path: Path, metrics_markdown, heading: str) -> int:
    """Either recipe's last steps: the ONNX export, the --json metrics and the printed summary."""
    from sadvae.bundle import load_bundle

    bundle = load_bundle(path)
    onnx = path.with_suffix(".onnx")
    if args.onnx:
        from sadvae.export import export_onnx

        log.info("export: %s", export_onnx(path, onnx))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"metrics": bundle.metrics, "provenance": bundle.provenance}, indent=1))
    size = path.stat().st_size / 1e6
    extra = f", export {onnx.stat().st_size / 1e6:.1f} MB" if onnx.is_file() and args.onnx else ""
    print(f"\nwrote {path} ({size:.1f} MB{extra}). {heading}:\n")
    print(metrics_markdown(bundle.metrics, bundle.provenance))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    command = shlex.join(["scripts/train_default", *(sys.argv[1:] if argv is None else argv)])
    if args.recipe == "shiftgcn-v2":
        return main_shiftgcn(args, command, given_flags(argv))
    # the stgcn-v1 recipe reads none of the shiftgcn-v2 flags: one given is refused (it was dropped silently)
    group = next(g for g in parser._action_groups if g.title == "shiftgcn-v2 only")
    used = [a.option_strings[0] for a in group._group_actions if getattr(args, a.dest) != a.default]
    if used:
        print(f"train_default: error: {' '.join(used)} belongs to --recipe shiftgcn-v2", file=sys.stderr)
        return 2
    if args.out is None:
        from sadvae.train.default_model import DefaultModelConfig

        args.out = Path(DefaultModelConfig().out)
    from sadvae.errors import SadvaeError
    from sadvae.train.default_model import metrics_markdown, train_default

    try:
        cfg = config_from_args(args)
        log.info("recipe: %s", json.dumps(asdict(cfg)))
        path = train_default(cfg, command=command)
        return _finish(args, path, metrics_markdown, "Round-1 metrics (the model card's baseline rows)")
    except SadvaeError as e:
        print(f"train_default: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
