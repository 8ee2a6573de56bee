"""Drift episodes: one alarm per run of drifted days, not one per day.

A monitor reads one verdict per day (drifted or not) as the days' reports arrive. An
*episode* starts on a drifted day that follows a calm day (or no day at all) and lasts while
the following days drift. Retraining is requested when an episode starts; the days that keep
drifting after it belong to the same episode and request nothing more.

A verdict may name its *subject*, the model version it judges: concept drift judges a model
against its own holdout, so a new champion that drifts too starts an episode of its own.
Data drift judges the population, which a retraining does not change: it has no subject.
A concept-drift episode also asks again after some days while it lasts: the model it judges
still fails on outcomes that the last retraining had not seen.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class EpisodeState:
    """What a monitor remembers of one kind of drift between evaluations."""

    last_day: str | None = None  # the newest day already read
    since: str | None = None  # the first day of the episode under way (None: calm)
    subject: str | None = None  # what the episode under way is about (a model version)
    asked: str | None = None  # the day the episode last asked for retraining

    def advance(
        self,
        verdicts: dict[str, bool],
        subjects: dict[str, str] | None = None,
        ask_again_after: int | None = None,
    ) -> tuple[EpisodeState, list[tuple[str, str]]]:
        """Read the days after ``last_day`` in order (older ones are backfills of days already
        judged, and are ignored); return the new state and, as (episode start, day), the days
        that ask for retraining:
        the first day of every episode that started among them, and, with
        ``ask_again_after``, a day that many days after the episode last asked while it lasts
        (the challenger was refused, or trained before the new outcomes had arrived).
        ``subjects``: the model version each day's verdict judges."""
        state, asking = self, []
        for day in sorted(d for d in verdicts if self.last_day is None or d > self.last_day):
            subject = (subjects or {}).get(day)
            if not verdicts[day]:
                state = EpisodeState(last_day=day)
            elif state.since is None or subject != state.subject:
                asking.append((day, day))
                state = EpisodeState(last_day=day, since=day, subject=subject, asked=day)
            elif ask_again_after is not None and _days_between(state.asked, day) >= ask_again_after:
                asking.append((state.since, day))
                state = EpisodeState(day, state.since, subject, asked=day)
            else:
                state = EpisodeState(day, state.since, subject, state.asked)
        return state, asking


def window_start(
    since: str,
    day: str,
    auc_fell: dict[str, bool],
    application_days: dict[str, list[str]],
) -> str:
    """The first application day a retraining for the concept-drift episode ``since`` ..
    ``day`` learns from (days of arrival of the outcomes; ``application_days``: the days their
    applications were decided).

    A feature shift alone degrades calibration, the automatic decisions and the class means
    too, so an episode may start a little before what the features say about the outcome
    has changed; the model's ranking falls only with the concept. So the window starts at
    the applications of the episode's first day whose realised AUC fell, else at the
    episode's first day (that day's own date if its report is no longer at hand).
    """
    fell = [d for d in sorted(auc_fell) if since <= d <= day and auc_fell[d]]
    first = fell[0] if fell else since
    return min(application_days.get(first) or [first])


def _days_between(first: str | None, last: str) -> int:
    if first is None:
        return 0
    return (dt.date.fromisoformat(last) - dt.date.fromisoformat(first)).days


@dataclass(frozen=True)
class MonitorCursor:
    """A drift sensor's cursor: the episode state of each kind of drift, as JSON."""

    kinds: dict[str, EpisodeState] = field(default_factory=dict)

    def get(self, kind: str) -> EpisodeState:
        return self.kinds.get(kind, EpisodeState())

    def with_state(self, kind: str, state: EpisodeState) -> MonitorCursor:
        return MonitorCursor({**self.kinds, kind: state})

    def dumps(self) -> str:
        return json.dumps({k: asdict(s) for k, s in self.kinds.items()}, sort_keys=True)

    @classmethod
    def loads(cls, text: str | None) -> MonitorCursor:
        if not text:
            return cls()
        return cls({k: EpisodeState(**s) for k, s in json.loads(text).items()})
