"""The present moment, in the product's time: Vietnamese wall-clock time (UTC+7), naive.

Only edges read it (CLI, scheduler, web requests, record timestamps); rules take `as_of`.
Servers often run in UTC, so nothing should call datetime.now() directly.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def now_local() -> datetime:
    return datetime.now(LOCAL_TZ).replace(tzinfo=None, microsecond=0)
