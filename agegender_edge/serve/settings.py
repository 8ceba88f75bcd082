"""What a server (or one Ray Serve replica) needs: plain, picklable values only."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..label.settings import PredictorSettings

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ServeSettings:
    predictor: PredictorSettings = field(default_factory=PredictorSettings)
    host: str = LOOPBACK
    port: int = 8000
    max_batch_delay_ms: float = 5.0     # how long a face may wait for faces of other requests
    max_queue: int = 256                # images admitted and not yet answered; more -> 503
    max_body_mb: float = 20.0           # request body limit, enforced while it streams in
    max_batch_images: int = 64          # images in one /v1/predict/batch request
    request_timeout_s: float = 30.0     # admitted -> answered; over it 504
    body_timeout_s: float = 20.0        # the whole body must arrive within this (slow clients -> 408)
    header_timeout_s: float = 10.0      # request line + headers must arrive within this (uvicorn engine)
    max_connections: int = 1024         # uvicorn's limit_concurrency (connections + tasks); more -> 503
    token: Optional[str] = field(default=None, repr=False)   # None: no authentication

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    @property
    def max_queue_bytes(self) -> int:
        """Encoded bytes admitted and not yet answered (images wait as their bytes)."""
        return max(self.max_body_bytes, 1 << 30)
