"""Writes ``vfr_30_then_15fps.mp4`` beside this file: 60 frames of 64x48 px, a white column moving right, the first
30 frames 33 ms apart and the next 30 66 ms apart (a phone camera slowing down in dim light), H.264 in MP4 with a
millisecond time base (the encoder keeps 1/30 s ticks: frames 1 tick apart, then mostly 2).
OpenCV cannot write a variable frame rate, so this needs PyAV (``pip install av``); the
file it made is kept in the repository (4 KB, synthetic) so the tests do not need PyAV.

    python tests/realtime/data/make_vfr_video.py
"""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

OUT = Path(__file__).with_name("vfr_30_then_15fps.mp4")


def main() -> None:
    with av.open(str(OUT), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        t = 0
        for i in range(60):
            image = np.zeros((48, 64, 3), np.uint8)
            image[:, i] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            out.mux(stream.encode(frame))
            t += 33 if i < 30 else 66
        out.mux(stream.encode())


if __name__ == "__main__":
    main()
