"""Drift episodes: one retraining per run of drifted days."""

from credit_assets.core.episodes import EpisodeState, MonitorCursor, window_start


def _days(*flags: int) -> dict[str, bool]:
    return {f"2026-11-{i + 1:02d}": bool(f) for i, f in enumerate(flags)}


def test_an_episode_starts_once_however_long_it_lasts():
    state, started = EpisodeState().advance(_days(0, 0, 1, 1, 1, 1))
    assert started == [("2026-11-03", "2026-11-03")]
    assert (state.last_day, state.since) == ("2026-11-06", "2026-11-03")


def test_a_calm_day_ends_an_episode_and_the_next_drift_is_a_new_one():
    _, started = EpisodeState().advance(_days(1, 1, 0, 1, 0, 0, 1))
    assert [day for _, day in started] == ["2026-11-01", "2026-11-04", "2026-11-07"]


def test_days_read_tick_by_tick_give_what_one_read_gives():
    """A sensor sees the days as they are materialized; its cursor carries the episode over."""
    flags = _days(0, 1, 1, 0, 1, 1)
    cursor, started = MonitorCursor(), []
    for n in range(1, len(flags) + 1):
        seen = dict(list(flags.items())[:n])
        state, new = MonitorCursor.loads(cursor.dumps()).get("data").advance(seen)
        cursor, started = cursor.with_state("data", state), started + new
    assert [day for _, day in started] == ["2026-11-02", "2026-11-05"]


def test_a_day_materialized_again_or_backfilled_starts_nothing():
    state, _ = EpisodeState().advance(_days(0, 0, 0))
    again, started = state.advance({"2026-11-01": True, "2026-11-03": False})
    assert started == [] and again == state


def test_kinds_are_tracked_apart():
    cursor = MonitorCursor().with_state("data", EpisodeState("2026-11-05", "2026-11-02"))
    assert MonitorCursor.loads(cursor.dumps()).get("data").since == "2026-11-02"
    assert MonitorCursor.loads(cursor.dumps()).get("concept") == EpisodeState()


def test_a_new_model_that_drifts_starts_an_episode_of_its_own():
    """Concept drift judges a model version: its successor's drift is a new episode, while
    the days still judging the old version continue the old one."""
    flags = _days(1, 1, 1, 1)
    versions = dict(zip(flags, ["1", "1", "2", "2"], strict=True))
    _, started = EpisodeState().advance(flags, versions)
    assert [day for _, day in started] == ["2026-11-01", "2026-11-03"]


def test_a_lasting_episode_asks_again_after_some_days_when_told_to():
    """A refused challenger, or one trained before the new outcomes, leaves the model failing:
    concept drift asks again every few days while it lasts, data drift never."""
    flags = _days(1, 1, 1, 1, 1, 1, 1, 0, 1)
    _, asking = EpisodeState().advance(flags, ask_again_after=3)
    assert asking == [
        ("2026-11-01", "2026-11-01"),
        ("2026-11-01", "2026-11-04"),
        ("2026-11-01", "2026-11-07"),
        ("2026-11-09", "2026-11-09"),
    ]
    _, once = EpisodeState().advance(flags)
    assert [day for _, day in once] == ["2026-11-01", "2026-11-09"]


def test_a_concept_window_starts_where_the_ranking_fell():
    days = {f"2026-11-{d}": [f"2026-11-{d - 1}"] for d in range(20, 27)}
    # the episode started on the 21st (calibration, under a feature shift), the AUC fell from
    # the 23rd: the applications decided from the 22nd on are the new concept
    fell = {"2026-11-21": False, "2026-11-22": False, "2026-11-23": True, "2026-11-24": True}
    assert window_start("2026-11-21", "2026-11-24", fell, days) == "2026-11-22"
    # before the AUC fell, the episode's first day; an AUC that fell before the episode or
    # after the asking day does not count
    assert window_start("2026-11-21", "2026-11-22", fell, days) == "2026-11-20"
    assert window_start("2026-11-24", "2026-11-26", {"2026-11-23": True}, days) == "2026-11-23"
    # a report no longer at hand: the day of arrival itself
    assert window_start("2026-11-28", "2026-11-28", {}, days) == "2026-11-28"
