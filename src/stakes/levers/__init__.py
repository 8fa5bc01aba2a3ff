"""Levers and plans: interventions applied to a scenario at given rounds."""

from .compile import Intervention, baseline, intervention_for_lever, intervention_for_plan, schedule_for

__all__ = [
    "Intervention", "baseline", "intervention_for_lever", "intervention_for_plan", "schedule_for",
]
