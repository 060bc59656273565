"""deploy/template.yaml: it lints clean (cfn-lint, `sam validate --lint`) and says what docs/deploy.md promises.

Offline: neither tool needs an AWS account. The SAM CLI comes from `make tools`; without it these tests fail,
on purpose, rather than skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "template.yaml"
SAM = ROOT / ".tools" / "sam-venv" / "bin" / "sam"
NO_VALUE = {"Ref": "AWS::NoValue"}
#: The HTTP API's routes and who may call them under AuthMode NONE / IAM / JWT; the rest hold no model data.
PROTECTED_ROUTES = ["POST /predict", "POST /feedback", "GET /model"]
OPEN_ROUTES = ["GET /health", "GET /openapi.json", "GET /docs"]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return cfn_yaml.loads(TEMPLATE.read_text())


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == resource_type}


def statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement of the function role's inline policies, conditional ones unwrapped."""
    found = []
    for policy in template["Resources"]["FunctionRole"]["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in statement:
                _, when_true, when_false = statement["Fn::If"]
                assert when_false == NO_VALUE
                statement = when_true
            found.append(statement)
    return found


def test_cfn_lint_passes() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(TEMPLATE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_passes() -> None:
    if not SAM.is_file():
        pytest.fail(f"{SAM.relative_to(ROOT)} is missing: run `make tools` to install the SAM CLI")
    result = subprocess.run(
        [str(SAM), "validate", "--lint", "-t", str(TEMPLATE)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout


def test_template_bucket_is_versioned_encrypted_private_and_tls_only(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["ModelBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {
        "Fn::If": [
            "UseKms",
            {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Ref": "BucketKmsKeyArn"}},
            {"SSEAlgorithm": "AES256"},
        ]
    }
    (policy,) = resources_of_type(template, "AWS::S3::BucketPolicy").values()
    assert policy["Properties"]["Bucket"] == {"Ref": "ModelBucket"}
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [{"Fn::GetAtt": ["ModelBucket", "Arn"]}, {"Fn::Sub": "${ModelBucket.Arn}/*"}],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]


def test_template_function_role_reads_models_and_only_writes_feedback(template: dict[str, Any]) -> None:
    """The serving path only GETs model keys (aliases/<alias>.json, versions/<v>/...) and PUTs feedback reports.

    No ListBucket, no DeleteObject, and no read of feedback/ (it holds message text; issue #11).
    """
    role = template["Resources"]["FunctionRole"]["Properties"]
    assert "ManagedPolicyArns" not in role
    assert statements(template) == [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": {"Fn::GetAtt": ["FunctionLogGroup", "Arn"]},
        },
        {
            "Sid": "ReadModels",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [
                {"Fn::Sub": "${ModelBucket.Arn}/${ModelPrefix}/versions/*"},
                {"Fn::Sub": "${ModelBucket.Arn}/${ModelPrefix}/aliases/*"},
            ],
        },
        {
            "Sid": "WriteFeedback",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": {"Fn::Sub": "${ModelBucket.Arn}/${ModelPrefix}/feedback/*"},
        },
        {
            "Sid": "UseBucketKmsKeyThroughS3",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": {"Ref": "BucketKmsKeyArn"},
            "Condition": {"StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}},
        },
    ]
    function = template["Resources"]["ClassifierFunction"]["Properties"]
    assert function["Role"] == {"Fn::GetAtt": ["FunctionRole", "Arn"]}
    assert "Policies" not in function  # SAM would add AWSLambdaBasicExecutionRole (logs:* on every group)


def test_template_function_runs_the_handler_with_the_model_alias(template: dict[str, Any]) -> None:
    function = template["Resources"]["ClassifierFunction"]
    assert function["Metadata"] == {"BuildMethod": "makefile", "ContextPath": "."}
    properties = function["Properties"]
    assert properties["Handler"] == "spam_classifier.aws_lambda.handler"
    assert properties["Runtime"] == {"Ref": "PythonRuntime"}
    assert properties["Architectures"] == [{"Ref": "Architecture"}]
    assert properties["MemorySize"] == {"Ref": "MemorySize"}
    assert properties["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, NO_VALUE]
    }
    assert properties["Environment"]["Variables"] == {
        "MODEL_URI": {"Fn::Sub": "s3://${ModelBucket}/${ModelPrefix}@${ModelAlias}"},
        "MODEL_RELOAD_SECONDS": {"Ref": "ModelReloadSeconds"},
        "LOG_LEVEL": {"Ref": "LogLevel"},
        "FEEDBACK_API_KEY": {"Ref": "FeedbackApiKey"},
    }
    assert template["Parameters"]["FeedbackApiKey"] == {
        "Type": "String",
        "Default": "",
        "NoEcho": True,
        "Description": template["Parameters"]["FeedbackApiKey"]["Description"],
    }
    parameters = template["Parameters"]
    assert parameters["PythonRuntime"]["AllowedValues"] == ["python3.12", "python3.13"]
    assert parameters["Architecture"]["AllowedValues"] == ["arm64", "x86_64"]
    assert (parameters["ModelPrefix"]["Default"], parameters["ModelAlias"]["Default"]) == ("models", "production")


def _s3_resources(statement: dict[str, Any]) -> list[str]:
    """The object paths a statement's Resource names, as ``${ModelPrefix}/...`` patterns."""
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    return [resource["Fn::Sub"].removeprefix("${ModelBucket.Arn}/") for resource in resources]


def test_template_function_can_write_feedback_but_read_only_model_paths(template: dict[str, Any]) -> None:
    """Issue #11: every S3 permission, whatever its Sid, read from the policies: PutObject on feedback/* only,
    GetObject on versions/* and aliases/* only, and nothing else on S3."""
    s3 = [statement for statement in statements(template) if str(statement["Action"]).startswith("s3:")]
    granted = {(statement["Action"], path) for statement in s3 for path in _s3_resources(statement)}
    assert granted == {
        ("s3:GetObject", "${ModelPrefix}/versions/*"),
        ("s3:GetObject", "${ModelPrefix}/aliases/*"),
        ("s3:PutObject", "${ModelPrefix}/feedback/*"),
    }
    assert all(statement["Effect"] == "Allow" for statement in s3)


def test_template_bucket_expires_feedback_after_the_retention_parameter(template: dict[str, Any]) -> None:
    rules = template["Resources"]["ModelBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    (rule,) = [rule for rule in rules if rule.get("Id") == "ExpireFeedback"]
    assert rule == {
        "Id": "ExpireFeedback",
        "Status": "Enabled",
        "Prefix": {"Fn::Sub": "${ModelPrefix}/feedback/"},
        "ExpirationInDays": {"Ref": "FeedbackRetentionDays"},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
    }
    parameter = template["Parameters"]["FeedbackRetentionDays"]
    assert (parameter["Type"], parameter["Default"], parameter["MinValue"]) == ("Number", 365, 1)


def test_template_logs_have_retention(template: dict[str, Any]) -> None:
    groups = resources_of_type(template, "AWS::Logs::LogGroup")
    assert set(groups) == {"FunctionLogGroup", "ApiAccessLogGroup"}
    assert all(group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for group in groups.values())
    function = template["Resources"]["ClassifierFunction"]["Properties"]
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "FunctionLogGroup"}
    stage = template["Resources"]["HttpApiStage"]["Properties"]
    assert "ApiAccessLogGroup" in stage["AccessLogSettings"]["DestinationArn"]["Fn::Sub"]
    assert '"requestId":"$context.requestId"' in stage["AccessLogSettings"]["Format"]


def test_template_http_api_has_the_service_routes_throttled(template: dict[str, Any]) -> None:
    stage = template["Resources"]["HttpApiStage"]["Properties"]
    assert (stage["StageName"], stage["AutoDeploy"]) == ("$default", True)
    assert stage["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
    }
    routes = {route["Properties"]["RouteKey"]: route["Properties"] for route in resources_of_type(
        template, "AWS::ApiGatewayV2::Route").values()}  # fmt: skip
    assert sorted(routes) == sorted(PROTECTED_ROUTES + OPEN_ROUTES)
    for key in PROTECTED_ROUTES:
        assert routes[key]["AuthorizationType"] == {
            "Fn::If": ["UseJwt", "JWT", {"Fn::If": ["UseIam", "AWS_IAM", "NONE"]}]
        }
        assert routes[key]["AuthorizerId"] == {"Fn::If": ["UseJwt", {"Ref": "JwtAuthorizer"}, NO_VALUE]}
    for key in OPEN_ROUTES:
        assert routes[key]["AuthorizationType"] == "NONE"
    assert all(route["Target"] == {"Fn::Sub": "integrations/${HttpApiIntegration}"} for route in routes.values())
    integration = template["Resources"]["HttpApiIntegration"]["Properties"]
    assert (integration["IntegrationType"], integration["PayloadFormatVersion"]) == ("AWS_PROXY", "2.0")
    assert template["Resources"]["JwtAuthorizer"]["Condition"] == "UseJwt"
    assert template["Parameters"]["AuthMode"]["AllowedValues"] == ["NONE", "IAM", "JWT"]


def test_template_function_url_is_optional_and_public_only_when_asked(template: dict[str, Any]) -> None:
    url = template["Resources"]["ClassifierFunctionUrl"]
    assert url["Condition"] == "HasFunctionUrl"
    assert url["Properties"]["AuthType"] == {"Ref": "FunctionUrlAuthType"}
    assert template["Parameters"]["FunctionUrlAuthType"]["Default"] == "DISABLED"
    public = {
        name: resource["Properties"]
        for name, resource in resources_of_type(template, "AWS::Lambda::Permission").items()
        if resource["Properties"]["Principal"] == "*"
    }
    assert {name: template["Resources"][name]["Condition"] for name in public} == {
        "PublicFunctionUrlPermission": "HasPublicFunctionUrl",
        "PublicFunctionUrlInvokePermission": "HasPublicFunctionUrl",
    }
    assert template["Conditions"]["HasPublicFunctionUrl"] == {"Fn::Equals": [{"Ref": "FunctionUrlAuthType"}, "NONE"]}


def test_template_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert set(outputs) == {"ApiUrl", "ModelBucketName", "ModelStoreUri", "ModelUri", "FunctionName", "FunctionUrl"}
    assert outputs["FunctionUrl"]["Condition"] == "HasFunctionUrl"
    assert outputs["ModelStoreUri"]["Value"] == {"Fn::Sub": "s3://${ModelBucket}/${ModelPrefix}"}
