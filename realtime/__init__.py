"""realtime: camera -> MediaPipe -> NTU-25 ring buffer -> zero-shot head -> ZeroMQ events."""

__version__ = "0.1.0"
