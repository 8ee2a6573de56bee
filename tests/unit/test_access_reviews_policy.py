"""Users, sessions, tokens and lockout; reviewers' decisions (two racing on one case); the
append-only audit log; gate bounds as policy a run can only tighten. SQLite and PostgreSQL."""

import datetime as dt
import multiprocessing

import pytest
import sqlalchemy as sa

from credit_assets.core.access import MAX_FAILED_LOGINS, Access, AccessError, Role
from credit_assets.core.audit import AuditLog
from credit_assets.core.decision_log import DecisionLog
from credit_assets.core.gate_policy import GatePolicies, PolicyError
from credit_assets.core.gates import GateConfig
from credit_assets.core.reviews import (
    AlreadyDecidedError,
    ReviewError,
    decide_case,
    queue,
    review_labels,
)
from tests.unit import test_decision_log
from tests.unit.test_decision_log import _record

# the decision log's fixtures: a fitted pipeline, a log on SQLite and on PostgreSQL
fitted, log = test_decision_log.fitted, test_decision_log.log

PASSWORD = "correct-horse-battery"


@pytest.fixture
def access(log):
    made = Access(log)
    made.create_user("rita", Role.reviewer, PASSWORD, by="test")
    return made


def test_login_starts_a_session_that_logout_ends(access):
    session_id, who = access.login("rita", PASSWORD)
    assert (who.username, who.role) == ("rita", Role.reviewer)
    assert access.session(session_id).csrf_token == who.csrf_token
    access.logout(session_id)
    assert access.session(session_id) is None
    actions = [e.action for e in AuditLog(access.log).events()]
    assert actions[:3] == ["logout", "login", "user.create"]


def test_repeated_wrong_passwords_lock_the_account_even_for_the_right_one(access):
    for _ in range(MAX_FAILED_LOGINS):
        with pytest.raises(AccessError, match="wrong user name or password"):
            access.login("rita", "not-the-password")
    with pytest.raises(AccessError, match="locked"):
        access.login("rita", PASSWORD)
    failed = AuditLog(access.log).events(action="login.failed")
    assert len(failed) == MAX_FAILED_LOGINS + 1 and failed[0].detail["locked"] is True


def test_short_passwords_and_duplicate_users_are_refused(access):
    with pytest.raises(AccessError, match="at least"):
        access.create_user("bob", Role.viewer, "short", by="test")
    with pytest.raises(AccessError, match="exists"):
        access.create_user("rita", Role.admin, PASSWORD, by="test")


def test_a_token_acts_with_its_users_role_and_a_forged_one_is_nobody(access):
    token = access.create_token("rita", by="test")
    assert access.token(token).role == Role.reviewer
    assert access.token(token[:-3] + "abc") is None
    assert access.token("garbage") is None


def test_the_audit_log_refuses_changes(access):
    from sqlalchemy.exc import DatabaseError

    with pytest.raises(DatabaseError, match="append-only"), access.log.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'someone else'"))
    with pytest.raises(DatabaseError, match="append-only"), access.log.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log"))


def _queued(log, fitted):
    pipeline, rows = fitted
    _record(log, pipeline, rows, "2026-11-01")
    waiting = queue(log, "santander")
    assert waiting, "the fixture's band should send some rows to review"
    return waiting


def test_a_review_leaves_the_queue_keeps_the_models_row_and_becomes_a_label(log, fitted):
    waiting = _queued(log, fitted)
    first, second = waiting[0].case, waiting[1].case
    assert waiting[0].age >= waiting[-1].age >= dt.timedelta(0)
    decided = decide_case(
        log,
        "santander",
        first.application_id,
        first.decision_id,
        "reject",
        "income unverified",
        "rita",
    )
    assert (decided.source, decided.actor, decided.decision) == ("review", "rita", "reject")
    assert decided.score == first.score and decided.model_version == first.model_version
    assert queue(log, "santander")[0].case.application_id == second.application_id
    history = log.history("santander", first.application_id)
    assert [h.decision for h in history] == ["review", "reject"]
    decide_case(
        log, "santander", second.application_id, second.decision_id, "approve", "ok", "rita"
    )
    labels = review_labels(log, "santander").set_index("application_id")["bad"]
    assert labels.to_dict() == {first.application_id: 1, second.application_id: 0}
    event = AuditLog(log).events(action="review.decide")[-1]
    assert event.detail["comment"] == "income unverified"


def test_a_review_needs_a_comment_and_an_outcome(log, fitted):
    case = _queued(log, fitted)[0].case
    with pytest.raises(ReviewError, match="comment"):
        decide_case(log, "santander", case.application_id, case.decision_id, "approve", " ", "r")
    with pytest.raises(ReviewError, match="approve or reject"):
        decide_case(log, "santander", case.application_id, case.decision_id, "maybe", "x", "r")


def _decide_in_process(url, app_id, decision_id, reviewer, barrier, results):
    barrier.wait(timeout=60)
    try:
        decide_case(DecisionLog(url), "santander", app_id, decision_id, "approve", "ok", reviewer)
        results.put("decided")
    except AlreadyDecidedError:
        results.put("told")


def test_two_reviewers_racing_on_one_case_one_decides_the_other_is_told(log, fitted):
    case = _queued(log, fitted)[0].case
    # two processes of their own (not a pool: a pool that loses a worker waits for ever)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    racers = [
        ctx.Process(
            target=_decide_in_process,
            args=(log.url, case.application_id, case.decision_id, who, barrier, results),
        )
        for who in ("rita", "sam")
    ]
    for racer in racers:
        racer.start()
    try:
        outcomes = sorted(results.get(timeout=120) for _ in racers)
    finally:
        for racer in racers:
            racer.join(timeout=30)
            if racer.is_alive():
                racer.kill()
    assert outcomes == ["decided", "told"]
    rows = log.history("santander", case.application_id)
    assert [h.source for h in rows] == ["batch", "review"]


def test_gate_policy_is_versioned_audited_and_a_run_can_only_tighten_it(log):
    policies = GatePolicies(log)
    assert policies.current("santander").version == 0
    policy = policies.set("santander", {"min_auc": 0.7}, by="ada", reason="board decision")
    assert (policy.version, policy.set_by, policy.gates.min_auc) == (1, "ada", 0.7)
    relaxed = GateConfig(min_auc=0.0, max_ece=1.0, min_selection_rate_ratio=0.0)
    effective = policy.tighten(relaxed)
    assert effective == policy.gates, "relaxed run settings are ignored"
    stricter = policy.tighten(GateConfig(min_auc=0.8, max_ece=0.01))
    assert (stricter.min_auc, stricter.max_ece) == (0.8, 0.01)
    with pytest.raises(PolicyError, match="unknown gate bound"):
        policies.set("santander", {"min_rows": 5}, by="ada", reason="x")
    event = AuditLog(log).events(action="policy.set")[0]
    assert event.actor == "ada" and event.detail["after"]["min_auc"] == 0.7
