# One encrypted SNS topic for the platform's operational events, fed by EventBridge
# rules that match only what someone must act on or know about: a pipeline execution
# that failed, and a model package that became Approved (not every state change).
# CloudWatch alarms and AWS Budgets publish to the same topic.
data "aws_caller_identity" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
}

resource "aws_sns_topic" "this" {
  name              = var.name
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid     = "AwsServicesOfThisAccountPublish"
    actions = ["sns:Publish"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
    }
    resources = [aws_sns_topic.this.arn]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  arn    = aws_sns_topic.this.arn
  policy = data.aws_iam_policy_document.topic.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.email_addresses)
  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_event_rule" "pipeline_failed" {
  name        = "${var.name}-pipeline-failed"
  description = "A SageMaker pipeline execution of the platform failed"
  event_pattern = jsonencode({
    source        = ["aws.sagemaker"]
    "detail-type" = ["SageMaker Model Building Pipeline Execution Status Change"]
    detail = {
      currentPipelineExecutionStatus = ["Failed"]
      pipelineArn                    = var.pipeline_arns
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "pipeline_failed" {
  rule = aws_cloudwatch_event_rule.pipeline_failed.name
  arn  = aws_sns_topic.this.arn

  input_transformer {
    input_paths = {
      pipeline  = "$.detail.pipelineArn"
      execution = "$.detail.pipelineExecutionArn"
      time      = "$.time"
    }
    input_template = "\"Pipeline execution failed at <time>: <execution> (pipeline <pipeline>). See its failed step in SageMaker Studio and the step logs in /aws/sagemaker/ProcessingJobs.\""
  }
}

resource "aws_cloudwatch_event_rule" "model_approved" {
  name        = "${var.name}-model-approved"
  description = "A model package of the platform became Approved (a promotion or a rollback)"
  event_pattern = jsonencode({
    source        = ["aws.sagemaker"]
    "detail-type" = ["SageMaker Model Package State Change"]
    detail = {
      ModelApprovalStatus   = ["Approved"]
      ModelPackageGroupName = var.model_package_groups
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "model_approved" {
  rule = aws_cloudwatch_event_rule.model_approved.name
  arn  = aws_sns_topic.this.arn

  input_transformer {
    input_paths = {
      group   = "$.detail.ModelPackageGroupName"
      version = "$.detail.ModelPackageVersion"
      time    = "$.time"
    }
    input_template = "\"Model package <group> version <version> was approved at <time>; serving loads the production pointer on its next poll.\""
  }
}
