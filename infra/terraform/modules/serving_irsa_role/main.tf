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

data "aws_iam_policy_document" "this" {
  statement {
    sid     = "ReadPromotedModels"
    actions = ["s3:GetObject"]
    resources = [
      "${var.bucket_arn}/${var.models_prefix}/production/*",
      "${var.bucket_arn}/${var.models_prefix}/versions/*",
    ]
  }

  # Without ListBucket a missing pointer is 403, not 404: serving could not tell "no
  # model promoted yet" from a permission error.
  statement {
    sid       = "ListPromotedModels"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.models_prefix}/production/*", "${var.models_prefix}/versions/*"]
    }
  }

  statement {
    sid       = "DecryptModels"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "read-promoted-models"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}
