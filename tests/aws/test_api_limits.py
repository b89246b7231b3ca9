"""The offline API-limit checker itself (tests/aws/api_limits.py): it stands in for
the real SageMaker service in the compiled-definition tests, so it is tested here on
requests the real API refuses."""

from __future__ import annotations

from tests.aws.api_limits import violations

VALID = {
    "ProcessingJobName": "pipelines-retail-drift",
    "ProcessingResources": {
        "ClusterConfig": {
            "InstanceCount": 1,
            "InstanceType": "ml.t3.medium",
            "VolumeSizeInGB": 30,
        }
    },
    "AppSpecification": {"ImageUri": "1.dkr.ecr.eu-west-1.amazonaws.com/x:1"},
    "RoleArn": "arn:aws:iam::000000000000:role/mlops-sagemaker-execution",
    "Environment": {"MLOPS_PARAM_OVERRIDES": {"Get": "Parameters.ParamOverrides"}},
}


def check(request, defaults=None):
    return violations("sagemaker", "CreateProcessingJob", request, defaults)


def test_a_valid_request_passes():
    assert check(VALID, {"ParamOverrides": "{}"}) == []


def test_more_than_100_environment_entries_is_refused():
    """What the plugin's one-pair-per-parameter mechanism produced for two use cases."""
    env = {f"KEDRO_SAGEMAKER_PARAM_KEY_{i}": "k" for i in range(51)}
    env |= {f"KEDRO_SAGEMAKER_PARAM_VALUE_{i}": "v" for i in range(51)}
    assert check({**VALID, "Environment": env}) == [
        "CreateProcessingJob.Environment: 102 entries, maximum 100"
    ]


def test_lengths_patterns_ranges_members_and_required():
    bad = {
        **VALID,
        "Environment": {"1BAD-KEY": "x", "LONG": "y" * 257},
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 0,
                "InstanceType": "ml.t3.medium",
                "VolumeSizeInGB": 30,
            }
        },
        "Unknown": 1,
    }
    del bad["RoleArn"]
    found = "\n".join(check(bad))
    assert "RoleArn: required" in found
    assert "Unknown: not a member" in found
    assert "key '1BAD-KEY'" in found and "does not match" in found
    assert "['LONG']: 257 characters, maximum 256" in found
    assert "InstanceCount: 0 < minimum 1" in found


def test_a_parameter_is_checked_with_its_default_value():
    env = {"MLOPS_PARAM_OVERRIDES": {"Get": "Parameters.ParamOverrides"}}
    assert check({**VALID, "Environment": env}, {"ParamOverrides": "x" * 300}) == [
        "CreateProcessingJob.Environment['MLOPS_PARAM_OVERRIDES']: 300 characters, "
        "maximum 256"
    ]
