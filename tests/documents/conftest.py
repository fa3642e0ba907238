# Fixtures for the tests of documents/, iam/ and the AWS emulators (tests/aws/).
import json

import pytest

from aws import ssm_agent
from aws.asg_endpoint import AutoScalingEndpoint
from orchestration_support import COMMAND_DOC, EVENT, INSTANCE, PLACEHOLDERS, RUNBOOK, StandIn


@pytest.fixture(scope="session")
def command_doc():
    return ssm_agent.load_document(COMMAND_DOC)


@pytest.fixture(scope="session")
def runbook_doc():
    return ssm_agent.load_document(RUNBOOK)


@pytest.fixture(scope="session")
def event():
    with open(EVENT) as f:
        return json.load(f)


@pytest.fixture
def stand_in(tmp_path):
    return StandIn(tmp_path / "bin")


@pytest.fixture
def asg():
    with AutoScalingEndpoint(region=PLACEHOLDERS["Region"]) as ep:
        ep.add_lifecycle_action(PLACEHOLDERS["AutoScalingGroupName"], PLACEHOLDERS["LifecycleHookName"], INSTANCE,
                                token="87654321-4321-4321-4321-210987654321")
        yield ep
