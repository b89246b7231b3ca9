# What a serving workload may do with the model store: read the production pointers
# and the model versions they name, nothing else. One definition for every path that
# runs the serving image (the EKS pods' IRSA role, the ECS tasks' role).
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
