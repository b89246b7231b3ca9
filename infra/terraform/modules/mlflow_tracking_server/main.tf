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
