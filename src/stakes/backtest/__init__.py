"""Backtesting against real outcomes: the DEU III reader, accuracy metrics, and stacking.

``stakes backtest deu3 PATH`` (docs/backtest.md) scores every model and baseline on the
EU legislative decisions of DEU III (Arregui & Perarnaud 2021, doi:10.34810/data53),
then combines them with proposal-grouped cross-validation and conformal intervals.
"""

from .deu3 import (CAPABILITIES, INSTITUTIONS, Deu3Data, Deu3Issue, capability_vector,
                   issue_problem, joint_problem, read_deu3)
from .metrics import IntervalScore, Score, interval_score, score
from .report import BacktestReport, StackSettings, build_report
from .runner import BASELINES, BacktestRun, Forecaster, forecasters_for, run_backtest
from .stacking import (StackResult, conformal_quantile, cross_validated_stack, fit_weights,
                       grouped_folds)

__all__ = [
    "BASELINES", "CAPABILITIES", "INSTITUTIONS", "BacktestReport", "BacktestRun", "Deu3Data",
    "Deu3Issue", "Forecaster", "IntervalScore", "Score", "StackResult", "StackSettings",
    "build_report", "capability_vector", "conformal_quantile", "cross_validated_stack",
    "fit_weights", "forecasters_for", "grouped_folds", "interval_score", "issue_problem",
    "joint_problem", "read_deu3", "run_backtest", "score",
]
