"""Reading a forecast: declared headlines, intervals and verdicts, lever effects split into
what a lever imposes and what bargaining adds, and explanations."""

from .assess import Assessment, Forecast, assess, merge
from .headline import Headline, headline, statistic, strategic_first
from .trust import DEFAULT_MEMBERS, Interval, Thresholds

__all__ = [
           "DEFAULT_MEMBERS",
           "Assessment",
           "Forecast",
           "Headline",
           "Interval",
           "Thresholds",
           "assess",
           "headline",
           "merge",
           "statistic",
           "strategic_first",
]
