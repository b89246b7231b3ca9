"""Registry of use cases. Adding a use case: write its package, add it here."""

from __future__ import annotations

from mlops_platform.use_cases.base import UseCase
from mlops_platform.use_cases.parking import ParkingUseCase
from mlops_platform.use_cases.retail import RetailUseCase
from mlops_platform.use_cases.sentiment import SentimentUseCase

USE_CASES: dict[str, UseCase] = {
    uc.name: uc for uc in (RetailUseCase(), ParkingUseCase(), SentimentUseCase())
}


def get_use_case(name: str) -> UseCase:
    try:
        return USE_CASES[name]
    except KeyError:
        raise KeyError(
            f"unknown use case '{name}'; registered: {', '.join(sorted(USE_CASES))}"
        ) from None


__all__ = ["USE_CASES", "UseCase", "get_use_case"]
