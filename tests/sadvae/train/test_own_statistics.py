"""Each set read with its own BatchNorm statistics (AdaBN): from the clips chosen, never the others; own cache key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sadvae.data.record import Dataset, SkeletonSequence  # noqa: E402
from sadvae.errors import ConfigError  # noqa: E402
from sadvae.features import EnsembleExtractor, ShiftGCNExtractor  # noqa: E402
from sadvae.models.shiftgcn import ShiftGCN, ShiftGCNConfig  # noqa: E402
from sadvae.train.window_features import OwnStatistics, window_features  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

SHIFTGCN = Path(__file__).resolve().parents[3].parent / "shared/models/shiftgcn"


def _extractor(tmp_path, seed=0, name="w.pt"):
    torch.manual_seed(seed)
    weights = tmp_path / name
    weights.write_bytes(f"stand-in {seed}: the model is set directly".encode())
    ex = ShiftGCNExtractor(weights, window=16, stride=8, batch_size=4)
    ex._model = ShiftGCN(ShiftGCNConfig(num_classes=5, shift_init=2.5)).eval()
    ex._model.cache_empty_slot = True
    return ex


def _dataset(test_offset=0.0, n=8, frames=20):
    from sadvae.data.user_format import CLIP_SPLIT_PROTOCOL

    rng = np.random.default_rng(0)
    seqs = []
    for i in range(n):
        joints = rng.normal(0, 0.3, size=(frames, 1, 25, 3)).astype(np.float32)
        test = i % 2 == 1
        joints += np.float32(test_offset if test else 0.0)
        seqs.append(
            SkeletonSequence(joints, 30.0, f"clip{i}", label=i % 2, subject=i, split="test" if test else "train")
        )
    return Dataset("toy", ("a", "b"), seqs, protocol=CLIP_SPLIT_PROTOCOL)


def _train_side(ds):
    return np.array([i for i, s in enumerate(ds.sequences) if s.split == "train"])


def _buffers(ex):
    return {k: v.clone() for k, v in ex.model.state_dict().items() if "running" in k}


def test_statistics_come_from_the_chosen_clips_only(tmp_path):
    base = _extractor(tmp_path)
    a = OwnStatistics(base, lambda: _dataset(0.0), _train_side, "the training side")
    b = OwnStatistics(base, lambda: _dataset(5.0), _train_side, "the training side")  # other test clips
    for k, v in _buffers(a).items():
        assert torch.equal(v, _buffers(b)[k]), k
    released = _buffers(base)
    assert any(not torch.equal(v, released[k]) for k, v in _buffers(a).items())
    win = np.stack(base.windows(_dataset().sequences[0]))
    fa, _ = a.encode(win)
    fr, _ = base.encode(win)
    assert not np.allclose(fa, fr)  # the features change with the statistics
    assert base.model is not a.model and a.statistics_windows > 0


def test_own_statistics_have_their_own_cache_key_and_say_so(tmp_path):
    base = _extractor(tmp_path)
    own = OwnStatistics(base, _dataset, _train_side, "the training side")
    assert own.settings["batchnorm"] == "re-estimated on the training side"
    released = window_features(base, "toy", _dataset, "fp", cache_dir=tmp_path / "c")
    adapted = window_features(own, "toy", _dataset, "fp", cache_dir=tmp_path / "c")
    assert released.path != adapted.path and len(list((tmp_path / "c").glob("toy-*.npz"))) == 2
    assert adapted.settings["batchnorm"] == "re-estimated on the training side"
    assert not np.allclose(released.feats, adapted.feats)
    other = OwnStatistics(base, _dataset, lambda ds: np.arange(len(ds.sequences)), "every clip")
    assert window_features(other, "toy", _dataset, "fp", cache_dir=tmp_path / "c").path not in (
        released.path,
        adapted.path,
    )


def test_every_member_of_an_ensemble_is_adapted_on_the_same_windows(tmp_path):
    members = [_extractor(tmp_path, 0, "a.pt"), _extractor(tmp_path, 1, "b.pt")]
    ens = EnsembleExtractor(members)
    own = OwnStatistics(ens, _dataset, _train_side, "the training side")
    adapted = own.adapted
    assert isinstance(adapted, EnsembleExtractor) and len(adapted.members) == 2
    win = np.stack(ens.windows(_dataset().sequences[0]))
    for m, a in zip(members, adapted.members, strict=True):
        alone = OwnStatistics(m, _dataset, _train_side, "the training side")
        np.testing.assert_allclose(a.encode(win)[0], alone.encode(win)[0], atol=1e-5)
        assert not torch.equal(a.model.data_bn.running_mean, m.model.data_bn.running_mean)


def test_too_few_windows_are_refused_naming_the_set(tmp_path):
    # a clip shorter than the window gives one window: no variance to estimate
    own = OwnStatistics(_extractor(tmp_path), lambda: _dataset(frames=10), lambda ds: np.array([0]), "one clip")
    with pytest.raises(ConfigError, match="toy: 1 window"):
        own.encode(np.zeros((1, 3, 16, 25, 2), np.float32))


def test_the_protocol_refuses_own_statistics_where_they_do_not_apply(shared_data, tmp_path):
    from sadvae.train.cross_dataset import CrossDatasetConfig, run_cross_dataset

    for kw, match in (
        ({"batchnorm": "theirs"}, "choose one of released, own, target"),
        ({"batchnorm": "target", "methods": ("tuned_frozen",)}, "fine-tuned methods"),
        ({"batchnorm": "own", "backbone": "stgcn", "methods": ("linear",)}, "needs --backbone shiftgcn"),
        ({"batchnorm": "own", "methods": ("tuned",)}, "fine-tuned methods"),
    ):
        cfg = CrossDatasetConfig(target="utkinect", feature_dir=str(tmp_path / "f"), **kw)
        with pytest.raises(ConfigError, match=match):
            run_cross_dataset(cfg, tmp_path / "xd")
    assert not (tmp_path / "f").exists()


def test_protocol_with_own_statistics_on_a_real_subset(shared_data, tmp_path):
    weights = SHIFTGCN / "ntu120_ShiftGCN_joint_xsub.pt"
    if not weights.is_file():
        pytest.skip(f"Shift-GCN weights not found at {weights}")
    from sadvae.train.cross_dataset import CrossDatasetConfig, run_cross_dataset

    common = dict(target="utkinect", sources=("msr_action3d",), methods=("ntu_conse",), limit_per_class=1, threads=1)
    own = run_cross_dataset(
        CrossDatasetConfig(**common, batchnorm="own", feature_dir=str(tmp_path / "f")), tmp_path / "o"
    )
    assert own["batchnorm"] == "each set's own training side"
    assert "BatchNorm statistics: each set's own training side" in (tmp_path / "o" / "report.md").read_text()
    caches = sorted((tmp_path / "f").glob("*.npz"))
    assert len(caches) == 2  # target and source, each with its own statistics
    with np.load(caches[0]) as z:
        assert "re-estimated on the set's own training side" in str(z["meta"])
    released = CrossDatasetConfig(**common, feature_dir=str(tmp_path / "f"))
    with pytest.raises(ConfigError, match=r"ntu_conse.json was run with other settings \(batchnorm: 'own' there\)"):
        run_cross_dataset(released, tmp_path / "o")  # the own run's result is not reported as a released one


def test_reports_say_whose_statistics_were_read():
    from sadvae.train.cross_dataset import BATCHNORM_WORDS, summary_markdown  # report.md: the real-subset test

    def report(target, batchnorm):
        m = {"top1": 0.5, "top5": 0.9, "mean_class_top1": 0.5}
        words = {} if batchnorm is None else {"batchnorm": BATCHNORM_WORDS[batchnorm]}
        return {"target": target, "labels": [{"name": "a"}], "methods": {"fused": m}, **words}

    for kind in ("own", "target"):
        text = summary_markdown([report("a", kind), report("b", kind)])
        assert text.count(f"BatchNorm statistics (`--batchnorm`): {BATCHNORM_WORDS[kind]};") == 1
        assert "| fused | 50.0 / 90.0 / 50.0 | 50.0 / 90.0 / 50.0 |" in text
    for kind in ("released", None):  # a report of before the option says nothing, as a released one
        assert "BatchNorm" not in summary_markdown([report("a", kind)])


def test_batchnorm_target_adapts_the_target_alone_and_own_every_set(tmp_path):
    from sadvae.train.cross_dataset import CrossDatasetConfig, _set_extractor

    base = _extractor(tmp_path)
    for kind, adapted in (("released", set()), ("target", {"utkinect"}), ("own", {"utkinect", "msr_action3d"})):
        cfg = CrossDatasetConfig(target="utkinect_action3d", batchnorm=kind)  # an alias of the target
        for name in ("utkinect", "msr_action3d"):
            ex = _set_extractor(cfg, base, name, _dataset)
            assert isinstance(ex, OwnStatistics) == (name in adapted), (kind, name)


def test_split_statistics_go_through_the_feature_cache_one_file_per_choice(tmp_path):
    """The split protocol's path: frozen_clip_features with (rows, words) -> OwnStatistics -> its own cache file."""
    from sadvae.train.protocol import FrozenBackbone, frozen_clip_features

    frozen = FrozenBackbone(data_root=str(tmp_path), feature_dir=str(tmp_path / "f"), batchnorm="own")
    ds = _dataset()
    base = _extractor(tmp_path)
    a = frozen_clip_features(ds, "toy", frozen, base, statistics=(np.array([0, 2]), "clips 0 and 2"))
    b = frozen_clip_features(ds, "toy", frozen, base, statistics=(np.array([4, 6]), "clips 4 and 6"))
    again = frozen_clip_features(ds, "toy", frozen, base, statistics=(np.array([0, 2]), "clips 0 and 2"))
    assert a.path != b.path and again.path == a.path and len(list((tmp_path / "f").glob("toy-*.npz"))) == 2
    assert a.settings["batchnorm"] == "re-estimated on clips 0 and 2"
    assert not np.allclose(a.feats, b.feats)
    released = frozen_clip_features(
        ds, "toy", FrozenBackbone(data_root=str(tmp_path), feature_dir=str(tmp_path / "f")), base
    )
    assert "batchnorm" not in released.settings and not np.allclose(released.feats, a.feats)


def test_a_finished_method_of_other_settings_is_not_reused():
    from sadvae.train.cross_dataset import CrossDatasetConfig, _check_reused, run_settings

    own = run_settings(CrossDatasetConfig(target="utkinect", batchnorm="own", threads=2))
    assert own == run_settings(CrossDatasetConfig(target="utkinect", batchnorm="own", threads=1, methods=("joint",)))
    released = run_settings(CrossDatasetConfig(target="utkinect"))
    _check_reused(Path("m.json"), own, own)
    with pytest.raises(ConfigError, match=r"m.json was run with other settings \(batchnorm: 'released' there\)"):
        _check_reused(Path("m.json"), released, own)
    with pytest.raises(ConfigError, match="written before results recorded their settings"):
        _check_reused(Path("m.json"), None, own)
