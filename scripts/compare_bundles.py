"""Compare the weights of two model bundles tensor by tensor: how many are equal bit for bit, and how far the others
differ (the model card's "Reproducible" check of `scripts/train_default`).

    python scripts/compare_bundles.py sadvae/assets/default_model.pt runs/repro/default_model.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def tensors(bundle, prefix: str = "") -> dict:
    """Every tensor of a loaded bundle (nested dicts), by its path of keys."""
    import torch

    out = {}
    if isinstance(bundle, dict):
        for key, value in bundle.items():
            out.update(tensors(value, f"{prefix}/{key}"))
    elif isinstance(bundle, torch.Tensor):
        out[prefix] = bundle
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("first", type=Path)
    ap.add_argument("second", type=Path)
    args = ap.parse_args(argv)
    import torch

    from sadvae.bundle import check_bundle_file
    from sadvae.errors import SadvaeError

    loaded = []
    for path in (args.first, args.second):
        try:
            check_bundle_file(path)
            loaded.append(tensors(torch.load(path, map_location="cpu", weights_only=True)))  # as load_bundle reads it
        except SadvaeError as e:
            print(f"compare_bundles: {e}", file=sys.stderr)
            return 2
        except Exception as e:  # noqa: BLE001 - torch refuses a damaged file in many ways; the file is what is wrong
            print(f"compare_bundles: {path}: not a readable model bundle ({type(e).__name__}: {e})", file=sys.stderr)
            return 2
    a, b = loaded
    only = sorted(set(a) ^ set(b))
    shared = sorted(set(a) & set(b))
    differ = [k for k in shared if a[k].shape != b[k].shape or not torch.equal(a[k], b[k])]
    equal = len(shared) - len(differ)
    print(f"{equal} of {len(shared)} shared tensors equal bit for bit; {len(only)} in one file only")
    for k in differ:
        if a[k].shape != b[k].shape:
            print(f"  {k}: shapes {tuple(a[k].shape)} vs {tuple(b[k].shape)}")
            continue
        gap = (a[k].double() - b[k].double()).abs().max().item()
        print(f"  {k}: max abs difference {gap:.3g} (values up to {a[k].double().abs().max().item():.3g})")
    for k in only:
        print(f"  {k}: only in {args.first if k in a else args.second}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
