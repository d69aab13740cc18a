"""Dataset readers, zero-shot splits and the shared preprocessing."""

from sadvae.data.preprocess import PreprocessConfig, preprocess
from sadvae.data.record import Dataset, SkeletonSequence

__all__ = ["Dataset", "PreprocessConfig", "SkeletonSequence", "preprocess"]
