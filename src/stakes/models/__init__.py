"""The model registry: every model by name, behind one interface (:mod:`.base`)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from pydantic import ValidationError

from ..errors import OptionError
from .base import Model, ModelOptions, ModelRun, Problem, RoundRecord, Schedule

# name -> (module, class); imported on first use so a CLI call loads only what it runs.
_MODELS: dict[str, tuple[str, str]] = {
    "eum": ("stakes.models.eum", "EUM"),
    "smp": ("stakes.models.smp", "SMP"),
    "exchange": ("stakes.models.exchange", "Exchange"),
    "nbs": ("stakes.models.nbs", "NBS"),
    "nbs-joint": ("stakes.models.nbs", "NBSJoint"),
    "compromise": ("stakes.models.baselines", "Compromise"),
    "median": ("stakes.models.baselines", "Median"),
    "status-quo": ("stakes.models.baselines", "StatusQuo"),
}

# The option each iterative model uses for its round limit (``--rounds``).
ROUNDS_OPTION: dict[str, str] = {"eum": "max_rounds", "smp": "max_turns", "exchange": "rounds"}
#: Models an ensemble runs on all its members at once (batched kernels); the others run
#: member by member through the model itself.
BATCHED: tuple[str, ...] = ("eum", "compromise", "median", "status-quo", "nbs")


def model_names() -> list[str]:
    return list(_MODELS)


def get_model(name: str) -> Model:
    if name not in _MODELS:
        raise OptionError(f"unknown model {name!r}; known models: {', '.join(_MODELS)}")
    module, cls = _MODELS[name]
    return getattr(import_module(module), cls)()


def make_options(model: Model, values: dict[str, Any] | None) -> ModelOptions:
    """Validate option values for ``model``; every problem named in one error."""
    try:
        return model.Options(**(values or {}))
    except ValidationError as exc:
        parts = []
        for err in exc.errors(include_url=False):
            field = ".".join(str(p) for p in err["loc"]) or "options"
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                known = ", ".join(model.Options.model_fields)
                msg = f"unknown option (known: {known})"
            parts.append(f"{model.name}.{field}: {msg}")
        raise OptionError("; ".join(parts)) from None


__all__ = [
    "Model", "ModelOptions", "ModelRun", "Problem", "RoundRecord", "Schedule",
    "ROUNDS_OPTION", "get_model", "make_options", "model_names",
]
