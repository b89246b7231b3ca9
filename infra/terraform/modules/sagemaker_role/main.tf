# The role every SageMaker pipeline step runs as (and the pipeline's own role): read and
# write the lake prefix only, pull the pipeline image, write its logs and metrics, run
# processing jobs in the private subnets (MLOPS_SAGEMAKER_SUBNETS), and register model
# packages in the use cases' groups.
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
  sm_arn     = "arn:${local.partition}:sagemaker:${local.region}:${local.account_id}"
  lake_root  = "${var.bucket_arn}/${var.lake_prefix}"
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = var.name
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "this" {
  #checkov:skip=CKV_AWS_356:Only sagemaker:ListModelPackages has Resource "*": its request names no package, so IAM authorises it against "*" (statement ListModelPackages; tests/aws checks every call the steps make)
  statement {
    sid       = "ListLakePrefix"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.lake_prefix}/*"]
    }
  }

  statement {
    sid = "ReadWriteLakePrefix"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
    ]
    resources = ["${local.lake_root}/*"]
  }

  statement {
    sid       = "LakeKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PullPipelineImage"
    actions = [
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
      "ecr:BatchCheckLayerAvailability",
    ]
    resources = [var.pipeline_repository_arn]
  }

  statement {
    sid = "Logs"
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:DescribeLogStreams",
    ]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/sagemaker/*"]
  }

  statement {
    sid       = "Metrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringLike"
      variable = "cloudwatch:namespace"
      values   = ["/aws/sagemaker/*", "MLOpsPlatform/*"]
    }
  }

  statement {
    sid = "ProcessingJobsOfThePipeline"
    actions = [
      "sagemaker:CreateProcessingJob",
      "sagemaker:DescribeProcessingJob",
      "sagemaker:StopProcessingJob",
      "sagemaker:AddTags",
    ]
    resources = ["${local.sm_arn}:processing-job/*"]
  }

  dynamic "statement" {
    for_each = length(var.pipeline_arns) > 0 ? [1] : []
    content {
      sid     = "OneExecutionAtATime"
      actions = ["sagemaker:ListPipelineExecutions", "sagemaker:DescribePipelineExecution"]
      resources = flatten([
        for p in var.pipeline_arns : [p, "${p}/execution/*"]
      ])
    }
  }

  statement {
    sid = "ModelRegistry"
    actions = [
      "sagemaker:CreateModelPackage",
      "sagemaker:UpdateModelPackage",
      "sagemaker:DescribeModelPackage",
      "sagemaker:CreateModelPackageGroup",
      "sagemaker:DescribeModelPackageGroup",
      "sagemaker:AddTags",
    ]
    resources = flatten([
      for g in var.model_package_groups : [
        "${local.sm_arn}:model-package-group/${g}",
        "${local.sm_arn}:model-package/${g}/*",
      ]
    ])
  }

  # ListModelPackages names no package in its request, so IAM authorises it against
  # "*" (the Service Authorization Reference lists no resource it can be scoped to for
  # a request by group name); tests/aws/test_sagemaker.py checks every call the steps
  # make against this policy.
  statement {
    sid       = "ListModelPackages"
    actions   = ["sagemaker:ListModelPackages"]
    resources = ["*"]
  }

  statement {
    sid = "ProcessingJobsInTheVpc"
    actions = [
      "ec2:CreateNetworkInterface",
      "ec2:CreateNetworkInterfacePermission",
      "ec2:DeleteNetworkInterface",
      "ec2:DeleteNetworkInterfacePermission",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeVpcs",
      "ec2:DescribeSubnets",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeDhcpOptions",
    ]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [local.region]
    }
  }

  statement {
    sid       = "PassThisRoleToItsJobs"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.this.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com"]
    }
  }

  dynamic "statement" {
    for_each = var.glue_database == null ? [] : [var.glue_database]
    content {
      sid = "PublishLakeTables"
      actions = [
        "glue:GetTable",
        "glue:CreateTable",
        "glue:UpdateTable",
        "glue:GetPartitions",
        "glue:BatchCreatePartition",
        "glue:BatchDeletePartition",
      ]
      resources = [
        "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
        "arn:${local.partition}:glue:${local.region}:${local.account_id}:database/${statement.value}",
        "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${statement.value}/*",
      ]
    }
  }

  dynamic "statement" {
    for_each = var.mlflow_tracking_server_arn == null ? [] : [var.mlflow_tracking_server_arn]
    content {
      sid = "MlflowTracking"
      actions = [
        "sagemaker-mlflow:AccessUI",
        "sagemaker-mlflow:CreateExperiment",
        "sagemaker-mlflow:SearchExperiments",
        "sagemaker-mlflow:SetExperimentTag",
        "sagemaker-mlflow:GetExperiment",
        "sagemaker-mlflow:GetExperimentByName",
        "sagemaker-mlflow:CreateRun",
        "sagemaker-mlflow:UpdateRun",
        "sagemaker-mlflow:GetRun",
        "sagemaker-mlflow:SearchRuns",
        "sagemaker-mlflow:LogMetric",
        "sagemaker-mlflow:LogParam",
        "sagemaker-mlflow:LogBatch",
        "sagemaker-mlflow:LogInputs",
        "sagemaker-mlflow:LogOutputs",
        "sagemaker-mlflow:SetTag",
        "sagemaker-mlflow:CreateRegisteredModel",
        "sagemaker-mlflow:GetRegisteredModel",
        "sagemaker-mlflow:CreateModelVersion",
        "sagemaker-mlflow:GetModelVersion",
        "sagemaker-mlflow:UpdateModelVersion",
        "sagemaker-mlflow:SetModelVersionTag",
        "sagemaker-mlflow:SetRegisteredModelAlias",
        "sagemaker-mlflow:GetModelVersionByAlias",
        "sagemaker-mlflow:SearchModelVersions",
        "sagemaker-mlflow:CreateLoggedModel",
        "sagemaker-mlflow:GetLoggedModel",
        "sagemaker-mlflow:FinalizeLoggedModel",
        "sagemaker-mlflow:SetLoggedModelTags",
        "sagemaker-mlflow:SearchLoggedModels",
      ]
      resources = [statement.value]
    }
  }

  # Every step wakes the tracking server if it is stopped outside its daily window
  # (mlops_platform.aws.tracking_server; the mlflow_tracking_server module's
  # schedules): it reads its status and may start it, never stop or change it.
  dynamic "statement" {
    for_each = var.mlflow_tracking_server_arn == null ? [] : [var.mlflow_tracking_server_arn]
    content {
      sid = "WakeTrackingServer"
      actions = [
        "sagemaker:DescribeMlflowTrackingServer",
        "sagemaker:StartMlflowTrackingServer",
      ]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "mlops-pipeline"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}
