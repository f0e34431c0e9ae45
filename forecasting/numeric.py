"""NaN-aware reductions that stay quiet on all-missing slices (missing periods are expected here)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def nanmean(values: Any, **kwargs: Any) -> Any:
    """`np.nanmean` returning NaN for an all-missing slice without a RuntimeWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, **kwargs)


def nanmedian(values: Any, **kwargs: Any) -> Any:
    """`np.nanmedian` returning NaN for an all-missing slice without a RuntimeWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(values, **kwargs)
