"""The gate's reading of GraphQL: which operation would run, and the launcher's tag."""

import json

from credit_assets.core.registry_names import LAUNCHED_BY_TAG
from credit_assets.web.gate import has_mutation, stamp_launcher


def test_a_mutation_is_found_however_it_is_written():
    assert not has_mutation("{ version }")
    assert not has_mutation("query Runs { runsOrError { __typename } }")
    assert not has_mutation('subscription { pipelineRunLogs(runId: "x") { __typename } }')
    assert has_mutation('mutation { terminateRun(runId: "x") { __typename } }')
    two = 'query Q { version } mutation M { terminateRun(runId: "x") { __typename } }'
    assert has_mutation(two, "M") and not has_mutation(two, "Q")
    assert has_mutation(two), "without an operation name, any mutation in it counts"
    assert has_mutation("mutation {"), "a document that does not parse is refused"


def test_every_launch_carries_the_authenticated_user_over_what_the_launcher_wrote():
    body = {
        "query": "mutation($executionParams: ExecutionParams!) { launchRun(...) }",
        "variables": {
            "executionParams": {
                "executionMetadata": {
                    "tags": [
                        {"key": LAUNCHED_BY_TAG, "value": "chief.risk.officer"},
                        {"key": "team", "value": "risk"},
                    ]
                }
            }
        },
    }
    stamped = json.loads(stamp_launcher(json.dumps(body).encode(), "dana"))
    tags = stamped["variables"]["executionParams"]["executionMetadata"]["tags"]
    assert {t["key"]: t["value"] for t in tags} == {LAUNCHED_BY_TAG: "dana", "team": "risk"}
    bare = {"query": "...", "variables": {"executionParams": {"selector": {}}}}
    tags = json.loads(stamp_launcher(json.dumps(bare).encode(), "dana"))["variables"][
        "executionParams"
    ]["executionMetadata"]["tags"]
    assert tags == [{"key": LAUNCHED_BY_TAG, "value": "dana"}]
    assert stamp_launcher(b'{"query": "{ version }"}', "dana") == b'{"query": "{ version }"}'
