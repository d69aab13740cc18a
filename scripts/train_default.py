"""Train the embedded default model: ST-GCN + SA-DVAE on MSR Action3D + NW-UCLA + UTKinect merged.

Writes the bundle that ships as package data (``sadvae/assets/default_model.pt``) and prints the
model card's "Validation metrics" section as markdown. Seeded; every setting is a flag and the
resolved recipe is stored in the bundle's provenance. The recipe is
:mod:`sadvae.train.default_model`; see ``sadvae/assets/MODEL_CARD.md``.

Usage (from the project root, with the real data in ``../shared/data``)::

    scripts/train_default                                   # the shipped model (CPU, 2 cores: ~20 min)
    scripts/train_default --epochs 1 --cycles 2 --iters-per-cycle 30 --limit-per-class 4 --out /tmp/m.pt  # smoke
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


def build_parser() -> argparse.ArgumentParser:
    from sadvae.assets import default_bundle_path
    from sadvae.train.default_model import DefaultModelConfig

    d = DefaultModelConfig()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=default_bundle_path(), help="bundle to write (default: %(default)s)")
    ap.add_argument("--data-root", type=Path, help="folder holding skeleton_sets/ (default: ../shared/data)")
    ap.add_argument("--seed", type=int, default=d.seed, help="seeds the pseudo-unseen choice and all training")
    ap.add_argument("--epochs", type=int, help=f"backbone epochs (default {d.backbone.epochs})")
    ap.add_argument("--batch-size", type=int, help=f"backbone windows per step (default {d.backbone.batch_size})")
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
        "--pseudo-unseen", type=int, default=d.num_pseudo_unseen, help="classes playing unseen in validation"
    )
    ap.add_argument("--limit-per-class", type=int, help="at most N sequences per dataset/class/side (smoke runs)")
    ap.add_argument("--text-cache", type=Path, help="sentence-embedding cache folder (default ~/.cache/sadvae/text)")
    ap.add_argument("--device", default="cpu", help="torch device (default cpu)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    ap.add_argument("--json", type=Path, help="also write the metrics and provenance to this JSON file")
    ap.add_argument("--no-onnx", dest="onnx", action="store_false",
                    help="do not write the ONNX export beside the bundle (<out stem>.onnx, which the live pipeline "
                    "runs without exporting)")  # fmt: skip
    ap.add_argument("-v", "--verbose", action="store_true", help="debug logging")
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    from sadvae.bundle import load_bundle
    from sadvae.errors import SadvaeError
    from sadvae.train.default_model import metrics_markdown, train_default

    command = shlex.join(["scripts/train_default", *(sys.argv[1:] if argv is None else argv)])
    try:
        cfg = config_from_args(args)
        log.info("recipe: %s", json.dumps(asdict(cfg)))
        path = train_default(cfg, command=command)
        bundle = load_bundle(path)
        if args.onnx:
            from sadvae.export import export_onnx

            log.info("export: %s", export_onnx(path, path.with_suffix(".onnx")))
    except SadvaeError as e:
        print(f"train_default: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"metrics": bundle.metrics, "provenance": bundle.provenance}, indent=1))
    size = path.stat().st_size / 1e6
    print(f"\nwrote {path} ({size:.1f} MB). Paste into sadvae/assets/MODEL_CARD.md, section 'Validation metrics':\n")
    print(metrics_markdown(bundle.metrics, bundle.provenance))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
