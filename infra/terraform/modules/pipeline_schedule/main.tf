# EventBridge Scheduler starts the SageMaker pipeline every day (01:00 by default). The
# scheduler's own role may start exactly this pipeline; the steps then run as the
# pipeline's SageMaker execution role. Failed invocations are retried and then land in a
# dead-letter queue instead of vanishing.
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  account_id   = data.aws_caller_identity.current.account_id
  pipeline_arn = "arn:${data.aws_partition.current.partition}:sagemaker:${data.aws_region.current.region}:${local.account_id}:pipeline/${var.pipeline_name}"
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "StartThisPipeline"
    actions   = ["sagemaker:StartPipelineExecution"]
    resources = [local.pipeline_arn]
  }

  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letters.arn]
  }

  statement {
    sid       = "DeadLetterKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "start-pipeline"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_sqs_queue" "dead_letters" {
  name                      = "${var.name}-schedule-dlq"
  message_retention_seconds = 1209600
  kms_master_key_id         = var.kms_key_arn
  tags                      = var.tags
}

resource "aws_scheduler_schedule" "this" {
  name                         = var.name
  description                  = "Starts SageMaker pipeline ${var.pipeline_name} (drift-gated training) daily"
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.timezone
  state                        = var.enabled ? "ENABLED" : "DISABLED"
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = local.pipeline_arn
    role_arn = aws_iam_role.this.arn

    dynamic "sagemaker_pipeline_parameters" {
      for_each = length(var.pipeline_parameters) > 0 ? [1] : []
      content {
        dynamic "pipeline_parameter" {
          for_each = var.pipeline_parameters
          content {
            name  = pipeline_parameter.key
            value = pipeline_parameter.value
          }
        }
      }
    }

    retry_policy {
      maximum_retry_attempts       = 3
      maximum_event_age_in_seconds = 3600
    }

    dead_letter_config {
      arn = aws_sqs_queue.dead_letters.arn
    }
  }
}
