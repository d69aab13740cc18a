"""sadvae: NTU-25 skeletons, dataset readers, preprocessing, ST-GCN + SA-DVAE training and export."""

__version__ = "0.1.0"
