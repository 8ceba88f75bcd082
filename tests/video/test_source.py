"""Bad and unusual video sources: each a clear VideoSourceError or a reported skipped frame, never
a hang or a crash (agegender_edge/video/source.py). Streams are served on 127.0.0.1 only."""
from __future__ import annotations

import socket
import threading
import time

import cv2
import numpy as np
import pytest

from agegender_edge.errors import VideoSourceError
from agegender_edge.video.source import VideoSource, classify, redact
from agegender_edge.video.synthetic import write_video

from .conftest import N_FRAMES


def _frames(source: VideoSource):
    with source:
        return list(source.items())


@pytest.fixture(scope="module")
def small_avi(tmp_path_factory, crossing_clip):
    return write_video(tmp_path_factory.mktemp("src") / "clip.avi", crossing_clip.frames[:20], fps=25.0)


def test_classify():
    assert classify(0) == "camera"
    assert classify("rtsp://cam.local/stream") == "stream" and classify("HTTP://x/y.mjpg") == "stream"
    assert classify("clip.mp4") == "file"
    assert classify([np.zeros((4, 4, 3), np.uint8)]) == "frames"
    with pytest.raises(VideoSourceError, match="4-D"):
        classify(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(VideoSourceError, match="bytes"):
        classify(b"\x00\x00")
    assert redact("rtsp://admin:secret@10.0.0.5/live") == "rtsp://admin:***@10.0.0.5/live"


def test_file_frames_and_timestamps(small_avi):
    src = VideoSource(small_avi)
    assert src.kind == "file" and not src.live and src.fps == 25.0 and src.frame_count == 20
    items = _frames(src)
    assert [f.index for f in items] == list(range(20))
    assert [f.timestamp_ms for f in items] == pytest.approx([40.0 * i for i in range(20)])


@pytest.mark.parametrize("content,match", [
    (b"hello, this is not a video\n" * 20, "not a video"),
    (b"", "empty file"),
])
def test_not_a_video(tmp_path, content, match):
    p = tmp_path / "clip.mp4"
    p.write_bytes(content)
    with pytest.raises(VideoSourceError, match=match):
        VideoSource(p)


def test_missing_file_folder_and_image(tmp_path, crossing_clip):
    with pytest.raises(VideoSourceError, match="no such file"):
        VideoSource(tmp_path / "nope.mp4")
    with pytest.raises(VideoSourceError, match="folder"):
        VideoSource(tmp_path)
    img = tmp_path / "still.jpg"
    cv2.imwrite(str(img), crossing_clip.frames[0])
    with pytest.raises(VideoSourceError, match="is an image"):
        VideoSource(img)


def test_truncated_mp4_is_refused(tmp_path, crossing_clip):
    data = crossing_clip.path.read_bytes()
    p = tmp_path / "cut.mp4"
    p.write_bytes(data[: len(data) // 2])      # the index (moov) is at the end: nothing to read
    with pytest.raises(VideoSourceError, match="not a video"):
        VideoSource(p)


def test_truncated_avi_reports_the_frames_it_has(tmp_path, small_avi):
    data = small_avi.read_bytes()
    p = tmp_path / "cut.avi"
    p.write_bytes(data[: len(data) // 2])
    src = VideoSource(p)
    items = _frames(src)
    assert 0 < len(items) < 20 and [f.index for f in items] == list(range(len(items)))
    assert any("truncated" in w for w in src.warnings)


@pytest.mark.parametrize("suffix,fourcc", [(".mp4", "mp4v"), (".avi", "MJPG")])
def test_zero_frame_video(tmp_path, suffix, fourcc):
    p = tmp_path / f"zero{suffix}"
    w = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*fourcc), 25, (64, 48))
    w.release()
    with pytest.raises(VideoSourceError, match="not a video|no frame"):
        _frames(VideoSource(p))


def test_corrupt_frame_in_the_middle_is_skipped(tmp_path, small_avi):
    """One MJPG frame's JPEG header destroyed: that frame is reported skipped, the rest go on."""
    data = bytearray(small_avi.read_bytes())
    soi = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    assert len(soi) == 20
    data[soi[10]: soi[10] + 300] = bytes(300)
    p = tmp_path / "corrupt.avi"
    p.write_bytes(bytes(data))
    items = _frames(VideoSource(p))
    assert [f.index for f in items] == list(range(20))
    skipped = [f.index for f in items if not hasattr(f, "bgr")]
    assert skipped == [10]


def test_corrupt_frame_reported_by_predict_video(tmp_path, small_avi, video_predictor):
    data = bytearray(small_avi.read_bytes())
    soi = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    data[soi[5]: soi[5] + 300] = bytes(300)
    p = tmp_path / "corrupt.avi"
    p.write_bytes(bytes(data))
    with video_predictor.predict_video(p) as stream:
        results = list(stream)
        assert stream.stats.frames_skipped == 1
    assert [r.frame for r in results] == list(range(20))
    assert not results[5].ok and "could not be decoded" in results[5].error and results[5].faces == []
    assert all(r.ok for r in results if r.frame != 5) and results[6].faces


def test_bad_frame_in_an_iterable_is_skipped(crossing_clip):
    frames = [crossing_clip.frames[0], np.zeros((8, 8), np.float32), crossing_clip.frames[1]]
    items = _frames(VideoSource(frames, colour_order="BGR"))
    assert [type(i).__name__ for i in items] == ["Frame", "SkippedFrame", "Frame"]
    assert "float" in items[1].reason or "dtype" in items[1].reason


def test_camera_that_does_not_exist():
    t0 = time.monotonic()
    with pytest.raises(VideoSourceError, match="camera 97: cannot be opened"):
        VideoSource(97)
    assert time.monotonic() - t0 < 30          # a hang guard
    with pytest.raises(VideoSourceError, match=">= 0"):
        VideoSource(-1)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("scheme", ["rtsp", "http"])
def test_stream_on_a_closed_port(scheme):
    with pytest.raises(VideoSourceError, match="cannot open the stream"):
        VideoSource(f"{scheme}://127.0.0.1:{_closed_port()}/live", open_timeout_s=2, read_timeout_s=2)


class _Server:
    """127.0.0.1 TCP server: ``frames`` MJPEG parts over HTTP then silence, or silence at once."""

    def __init__(self, frames: list = (), fps: float = 50.0):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.frames, self.fps = list(frames), fps
        self.stop = threading.Event()
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            if self.frames:
                threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            c.recv(4096)
            c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n")
            for f in self.frames:
                jpg = cv2.imencode(".jpg", f)[1].tobytes()
                head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpg)
                c.sendall(head + jpg + b"\r\n")
                time.sleep(1.0 / self.fps)
            self.stop.wait(30)            # then stall with the connection open
        except OSError:
            pass

    def close(self):
        self.stop.set()
        for c in self.conns:
            c.close()
        self.sock.close()


def test_stream_that_accepts_and_stalls():
    server = _Server()
    try:
        t0 = time.monotonic()
        with pytest.raises(VideoSourceError, match="cannot open the stream"):
            VideoSource(f"http://127.0.0.1:{server.port}/live", open_timeout_s=1, read_timeout_s=1)
        assert time.monotonic() - t0 < 30      # a hang guard, not a speed figure: the 1 s timeout worked
    finally:
        server.close()


def test_stream_that_stalls_after_some_frames(crossing_clip, video_predictor):
    server = _Server(crossing_clip.frames[:12])
    try:
        t0 = time.monotonic()
        # read timeout 3 s: the stall ends the stream; shorter could cut a busy test machine's stream early
        with video_predictor.predict_video(f"http://127.0.0.1:{server.port}/live", live=False,
                                           open_timeout_s=5, read_timeout_s=3) as stream:
            results = list(stream)
            assert stream.source.kind == "stream"
            assert any("stalled" in w for w in stream.stats.warnings)
        assert time.monotonic() - t0 < 60      # a hang guard: the stalled read ended the stream
        assert [r.frame for r in results] == list(range(12)) and all(r.ok for r in results)
        assert sum(len(r.faces) for r in results) >= 12 * 3
    finally:
        server.close()


def test_live_stream_is_live_by_default(crossing_clip, video_predictor):
    server = _Server(crossing_clip.frames[:N_FRAMES // 2], fps=200.0)
    try:
        with video_predictor.predict_video(f"http://127.0.0.1:{server.port}/live", open_timeout_s=5,
                                           read_timeout_s=3) as stream:
            results = list(stream)
            stats = stream.stats
        assert stats.live and results
        assert stats.frames_processed + stats.frames_dropped == N_FRAMES // 2
        frames = [r.frame for r in results]
        assert frames == sorted(set(frames))
    finally:
        server.close()


def test_four_d_array_and_empty_iterable(crossing_clip):
    stack = np.stack(crossing_clip.frames[:3])
    items = _frames(VideoSource(stack, colour_order="BGR", fps=10.0))
    assert [f.index for f in items] == [0, 1, 2] and [f.timestamp_ms for f in items] == [0.0, 100.0, 200.0]
    assert np.array_equal(items[2].bgr, crossing_clip.frames[2])
    assert _frames(VideoSource(iter(()), colour_order="RGB")) == []
