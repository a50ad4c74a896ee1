"""What GPU training needs from the image: multi-host ``device=cuda`` needs NCCL.

XGBoost's collective runs its GPU all-reduce over NCCL; without it a multi-host GPU job
would fail at the first round or fall back in ways nobody asked for, so it is refused at
start. One host with ``device=cuda`` needs no NCCL.
"""

from __future__ import annotations

import ctypes
from typing import Any

import xgboost as xgb

from .errors import UserError


def nccl_available() -> bool:
    """Whether this XGBoost was built with NCCL and, when it loads it late, finds it."""
    info = xgb.build_info()
    if not info.get("USE_NCCL"):
        return False
    if info.get("USE_DLOPEN_NCCL"):
        try:
            ctypes.CDLL("libnccl.so.2")
        except OSError:
            return False
    return True


def wants_gpu(params: dict[str, Any]) -> bool:
    device = str(params.get("device", "cpu")).lower()
    return device.startswith(("cuda", "gpu")) or str(params.get("tree_method")) == "gpu_hist"


def check(params: dict[str, Any], hosts: list[str]) -> None:
    """Refuse a multi-host GPU job when NCCL is missing, with the reason."""
    if len(hosts) > 1 and wants_gpu(params) and not nccl_available():
        device = params.get("device", "cuda")
        raise UserError(
            f"device={device} on {len(hosts)} hosts needs NCCL, which this image lacks "
            "(XGBoost is built without it); train on one host or use device=cpu"
        )
