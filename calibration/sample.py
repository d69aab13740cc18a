"""Draw representative preprocessed windows of a model bundle's training data into a calibration ``.npz``.

The windows feed the TensorRT INT8 calibrator (:func:`sadvae.engine.calibrator.make_calibrator`), ONNX
Runtime's static quantizer (:func:`sadvae.engine.ort_int8.quantize_onnx_int8`) and, drawn from the
held-out side, ``calibration/int8_accuracy.py``. See ``calibration/README.md``.

Usage (from the project root, real data in ``../shared/data``)::

    python calibration/sample.py --out calibration/cache/default.train.npz                 # 8 per class, train
    python calibration/sample.py --split holdout --per-class 0 --crop center --out calibration/cache/default.holdout.npz
    python calibration/sample.py --persons 2 --out calibration/cache/default.2p.train.npz  # for `export --persons 2`
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger("calibration.sample")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, help="model bundle (default: the shipped default model)")
    ap.add_argument("--out", type=Path, required=True, help="calibration .npz to write")
    root_help = (
        "default model: folder holding skeleton_sets/ (default ../shared/data); single-dataset bundle: "
        "the dataset folder or prepared .npz (default: its recorded root)"
    )
    ap.add_argument("--data-root", type=Path, help=root_help)
    ap.add_argument(
        "--split",
        default="train",
        choices=("train", "validation", "holdout"),
        help="which side of the bundle's data (default train: calibrate on training data)",
    )
    ap.add_argument("--per-class", type=int, default=8, help="windows per class; 0 = every sequence once (default 8)")
    ap.add_argument("--total", type=int, help="this many windows split evenly over the classes (overrides --per-class)")
    ap.add_argument("--seed", type=int, default=0, help="seeds the sequence order and the crop positions")
    ap.add_argument("--crop", default="random", choices=("random", "center"), help="crop position (default random)")
    ap.add_argument(
        "--persons",
        type=int,
        help="person slots M of the windows: the --persons the ONNX was exported with (default: the bundle's live "
        "window, as `sadvae export` without --persons)",
    )
    ap.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    from sadvae.assets import default_bundle_path
    from sadvae.engine.calibration_data import sample_windows, save_calibration_set
    from sadvae.errors import SadvaeError

    try:
        cset = sample_windows(
            args.bundle or default_bundle_path(),
            data_root=args.data_root,
            per_class=args.per_class or None,
            total=args.total,
            split=args.split,
            seed=args.seed,
            crop=args.crop,
            persons=args.persons,
        )
        path = save_calibration_set(cset, args.out)
    except SadvaeError as e:
        print(f"sample: error: {e}", file=sys.stderr)
        return 2
    counts = cset.class_counts()
    log.info(
        "wrote %s: %d windows %s of %d classes (%d..%d per class), model %s",
        path,
        len(cset),
        list(cset.windows.shape[1:]),
        len(counts),
        min(counts.values()),
        max(counts.values()),
        cset.model_id[:16],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
