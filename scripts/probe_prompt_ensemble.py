"""Probe: does a prompt ensemble (each name's embedding averaged over several templates) help the text side?

A standard trick of zero-shot recognition from text (CLIP's prompt ensembling): every class name and label is
embedded under each of ``TEMPLATES`` (fixed before any run) and the unit embeddings are averaged and renormalised,
in place of the one template ``a person {label}``. What the label matcher reads (the names as written) is
unchanged. Runs any ``sadvae`` command with that text side, e.g. the cross-dataset protocol and the single-dataset
ZSL runs of docs/results.md:

    python scripts/probe_prompt_ensemble.py benchmark zsl --protocol cross-dataset --target all \
        --methods ntu_conse linear fused --window 96 --stride 48 --threads 2 --out runs/prompts/xd_w96
    python scripts/probe_prompt_ensemble.py benchmark zsl --dataset msr_action3d --unseen 5 --splits 3 \
        --backbone shiftgcn-ntu120 --variants tc --unseen-scorer matched sadvae --aux-classes --threads 1 \
        --out runs/prompts/msr
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEMPLATES = (
    "a person {label}",
    "{label}",
    "a video of a person {label}",
    "a person is doing the action: {label}",
    "human action of {label}",
)


def main() -> int:
    from sadvae.cli import main as sadvae_main
    from sadvae.text import TextEncoder, format_prompts

    def encode_labels(self, labels, descriptions=None):
        total = None
        for template in TEMPLATES:
            prompts = format_prompts(labels, template, descriptions)
            emb = self._encode_cached(prompts, template, prompts)
            total = emb.astype(np.float64) if total is None else total + emb
        total /= np.maximum(np.linalg.norm(total, axis=1, keepdims=True), 1e-12)
        return total.astype(np.float32)

    TextEncoder.encode_labels = encode_labels
    return sadvae_main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
