# CloudTrail for the data lake: management events for the account and S3 data events
# (every object read and write) for the lake bucket, delivered to their own private,
# versioned, KMS-encrypted bucket with log-file validation.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  trail_arn  = "arn:${data.aws_partition.current.partition}:cloudtrail:${data.aws_region.current.region}:${local.account_id}:trail/${var.name}"
  bucket_arn = "arn:${data.aws_partition.current.partition}:s3:::${var.log_bucket_name}"
}

data "aws_iam_policy_document" "delivery" {
  statement {
    sid       = "CloudTrailAclCheck"
    actions   = ["s3:GetBucketAcl"]
    resources = [local.bucket_arn]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }

  statement {
    sid       = "CloudTrailWrite"
    actions   = ["s3:PutObject"]
    resources = ["${local.bucket_arn}/AWSLogs/${local.account_id}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }
}

module "log_bucket" {
  source                             = "../s3_bucket"
  name                               = var.log_bucket_name
  kms_key_arn                        = var.kms_key_arn
  extra_policy_documents             = [data.aws_iam_policy_document.delivery.json]
  noncurrent_version_expiration_days = 30
  expire_prefixes                    = { "AWSLogs/" = var.log_expiration_days }
  tags                               = var.tags
}

resource "aws_cloudtrail" "this" {
  #checkov:skip=CKV2_AWS_10:Not streamed to CloudWatch Logs: S3 data events for the lake would double ingestion cost; the trail's own bucket is queried with Athena when needed.
  #checkov:skip=CKV_AWS_252:No SNS per log-file delivery; nobody acts on each delivered file.
  name                          = var.name
  s3_bucket_name                = module.log_bucket.bucket_id
  kms_key_id                    = var.kms_key_arn
  enable_log_file_validation    = true
  is_multi_region_trail         = true
  include_global_service_events = true

  advanced_event_selector {
    name = "Management events"
    field_selector {
      field  = "eventCategory"
      equals = ["Management"]
    }
  }

  advanced_event_selector {
    name = "Data lake object reads and writes"
    field_selector {
      field  = "eventCategory"
      equals = ["Data"]
    }
    field_selector {
      field  = "resources.type"
      equals = ["AWS::S3::Object"]
    }
    field_selector {
      field       = "resources.ARN"
      starts_with = ["${var.data_bucket_arn}/"]
    }
  }

  tags       = var.tags
  depends_on = [module.log_bucket]
}
