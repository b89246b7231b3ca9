# The MLflow tracking server every pipeline step logs to: a SageMaker managed MLflow
# tracking server whose artifact store is the lake's mlflow/artifacts prefix. The steps
# run in separate containers with no shared file, so MLflow must be a server they all
# reach: through the VPC's interface endpoint for it (network module, mlflow_endpoint),
# with the sagemaker-mlflow actions of the execution role (sagemaker_role module).
# The server's own role only reads and writes the artifact prefix.
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  artifacts_prefix = "${var.lake_prefix}/mlflow/artifacts"
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
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name}-mlflow"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "ListArtifactPrefix"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.artifacts_prefix}/*"]
    }
  }

  statement {
    sid       = "ReadWriteArtifacts"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${var.bucket_arn}/${local.artifacts_prefix}/*"]
  }

  statement {
    sid       = "UseTheLakeKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "mlflow-artifacts"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_sagemaker_mlflow_tracking_server" "this" {
  tracking_server_name = var.name
  role_arn             = aws_iam_role.this.arn
  artifact_store_uri   = "s3://${var.bucket_name}/${local.artifacts_prefix}"
  tracking_server_size = var.size
  mlflow_version       = var.mlflow_version
  # Models are registered by the pipeline itself (mlops_platform.aws.model_registry
  # follows the production pointer); MLflow's own registration would add a second,
  # unmanaged model package per logged model.
  automatic_model_registration    = false
  weekly_maintenance_window_start = var.weekly_maintenance_window_start
  tags                            = var.tags

  depends_on = [aws_iam_role_policy.this]
}

# ------------------------------------------------------------ the daily window
# The server is billed for every hour it runs; the pipelines need it for an hour or
# two a day. With start_schedule_expression and stop_schedule_expression set,
# EventBridge Scheduler calls StartMlflowTrackingServer before the pipelines and
# StopMlflowTrackingServer after them (universal targets: no code to deploy). The
# steps do not rely on the window: each one starts the server if it finds it stopped
# and waits until it is up (mlops_platform.aws.tracking_server), so a run by hand or
# a retry after the window still works. The stop must come after the longest run: a
# step that is logging when the server stops fails, and the next day's run redoes
# the work (the lake and the model store commit whole or not at all).
locals {
  window = {
    for action, expression in {
      start = var.start_schedule_expression
      stop  = var.stop_schedule_expression
    } : action => expression if expression != null
  }
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "window" {
  count              = length(local.window) > 0 ? 1 : 0
  name               = "${var.name}-mlflow-window"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "window" {
  count = length(local.window) > 0 ? 1 : 0
  statement {
    sid = "StartAndStopThisServer"
    actions = [
      for action in keys(local.window) : "sagemaker:${title(action)}MlflowTrackingServer"
    ]
    resources = [aws_sagemaker_mlflow_tracking_server.this.arn]
  }
}

resource "aws_iam_role_policy" "window" {
  count  = length(local.window) > 0 ? 1 : 0
  name   = "mlflow-window"
  role   = aws_iam_role.window[0].id
  policy = data.aws_iam_policy_document.window[0].json
}

resource "aws_scheduler_schedule" "window" {
  for_each                     = local.window
  name                         = "${var.name}-mlflow-${each.key}"
  description                  = "${title(each.key)}s MLflow tracking server ${var.name} (its daily window)"
  schedule_expression          = each.value
  schedule_expression_timezone = var.schedule_timezone
  state                        = "ENABLED"
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = "arn:${data.aws_partition.current.partition}:scheduler:::aws-sdk:sagemaker:${each.key}MlflowTrackingServer"
    role_arn = aws_iam_role.window[0].arn
    input    = jsonencode({ TrackingServerName = aws_sagemaker_mlflow_tracking_server.this.tracking_server_name })

    # A start on a started server (or a stop on a stopped one) is a ConflictException:
    # nothing to retry for long.
    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 900
    }
  }
}
