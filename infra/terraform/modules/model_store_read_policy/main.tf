# What a serving workload may do with the model store: read the production pointers
# and the model versions they name, and the online feature stores (online/<use
# case>.json and the files under features/ it names), nothing else. One definition
# for every path that runs the serving image (the EKS pods' IRSA role, the ECS
# tasks' role). serving/tests/test_serving_s3.py records every call the service
# makes and checks it against this policy.
data "aws_iam_policy_document" "this" {
  statement {
    sid     = "ReadPromotedModels"
    actions = ["s3:GetObject"]
    resources = [
      "${var.bucket_arn}/${var.models_prefix}/production/*",
      "${var.bucket_arn}/${var.models_prefix}/versions/*",
      "${var.bucket_arn}/${var.models_prefix}/online/*",
      "${var.bucket_arn}/${var.models_prefix}/features/*",
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
      values = [
        "${var.models_prefix}/production/*",
        "${var.models_prefix}/versions/*",
        "${var.models_prefix}/online/*",
        "${var.models_prefix}/features/*",
      ]
    }
  }

  statement {
    sid       = "DecryptModels"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}
