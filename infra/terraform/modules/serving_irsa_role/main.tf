# IRSA role of the serving pods: read the production pointers and the model versions
# they name, nothing else. Only the serving service account can assume it.
data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_provider_host}:sub"
      values   = ["system:serviceaccount:${var.namespace}:${var.service_account}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_provider_host}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = var.name
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

module "read_models" {
  source        = "../model_store_read_policy"
  bucket_arn    = var.bucket_arn
  models_prefix = var.models_prefix
  kms_key_arn   = var.kms_key_arn
}

resource "aws_iam_role_policy" "this" {
  name   = "read-promoted-models"
  role   = aws_iam_role.this.id
  policy = module.read_models.json
}
