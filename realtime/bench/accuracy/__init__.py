"""Accuracy of the live system as users meet it: real videos and held-out skeleton replays, end to end.

``sadvae bench accuracy`` (:mod:`realtime.commands.bench`) drives it. :mod:`.annotations` reads the
annotation file (``benchmarks/videos.toml``), :mod:`.runner` runs the real
:class:`realtime.pipeline.Pipeline` and collects its events and window scores, :mod:`.metrics` scores
them (numpy only), :mod:`.report` writes JSON, markdown and a plot. Submodules import lazily.
"""
