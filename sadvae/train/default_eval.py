"""Re-measure a default-model bundle (``scripts/train_default``) on the held-out side of its three datasets.

``sadvae eval`` uses this for bundles whose provenance names several datasets: the default model
has no unseen classes, so its test is the seen-class accuracy on the sequences it never trained on
(MSR Action3D and UTKinect even subjects, NW-UCLA view 3), the numbers of its model card.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sadvae.data.registry import DATASETS, load_dataset
from sadvae.errors import ConfigError

__all__ = ["holdout_metrics"]


def holdout_metrics(bundle, data_root: str | Path, device: str = "cpu") -> dict:
    """The held-out metrics of the model card, recomputed from the bundle's weights.

    Args:
        bundle: a loaded :class:`sadvae.bundle.Bundle` trained by the default-model recipe.
        data_root: the folder holding ``skeleton_sets/``.

    Returns:
        ``{"samples", "top1", "top5", "mean_class_top1", "per_dataset_top1", "per_class_top1",
        "latent_top1"}``; ``latent_top1`` refits the latent classifier from the class names' text.

    Raises:
        ConfigError: the bundle's classes are not the recipe's, or no ``skeleton_sets/`` under ``data_root``.
    """
    import torch

    from sadvae.models.sadvae import fit_latent_classifier
    from sadvae.text import TextEncoder
    from sadvae.train.backbone import extract
    from sadvae.train.default_model import CLASS_NAMES, DATASET_NAMES, accuracies, merge_datasets
    from sadvae.train.zsl import zsl_probs

    if tuple(bundle.class_names) != tuple(CLASS_NAMES):
        if bundle.provenance.get("recipe_name") == "shiftgcn-v2":
            raise ConfigError(
                "a shiftgcn-v2 bundle (the packaged default since round 2): re-measure it on the test sides with "
                "`scripts/train_default --rescore BUNDLE.pt`"
            )
        raise ConfigError("the bundle's classes are not the round-1 default's 33; evaluate it with its own recipe")
    root = Path(data_root)
    if not (root / "skeleton_sets").is_dir():
        raise ConfigError(f"{root}: no skeleton_sets/ folder here; pass --root, the folder that holds it")
    data = merge_datasets({n: load_dataset(n, root / DATASETS[n].default_root) for n in DATASET_NAMES})
    held = np.flatnonzero(data.holdout)
    feats, logits = extract(bundle.backbone, [data.sequences[i] for i in held], bundle.preprocess, device)
    out = accuracies(logits, data.labels[held], data.dataset[held])
    emb = TextEncoder(bundle.text_cfg).encode_labels(list(CLASS_NAMES))
    clf = fit_latent_classifier(bundle.sadvae, torch.as_tensor(emb))
    out["latent_top1"] = float(np.mean(zsl_probs(bundle.sadvae, clf, feats, device).argmax(1) == data.labels[held]))
    return out
