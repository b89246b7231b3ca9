variable "name" {
  description = "Role name."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of the data lake bucket."
  type        = string
}

variable "lake_prefix" {
  description = "Key prefix of the lake inside the bucket (MLOPS_LAKE_PREFIX); the role is limited to it."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._/-]*[A-Za-z0-9]$", var.lake_prefix)) && !strcontains(var.lake_prefix, "..")
    error_message = "lake_prefix must be a plain key prefix without a leading or trailing slash."
  }
}

variable "kms_key_arn" {
  description = "KMS key of the lake."
  type        = string
}

variable "pipeline_repository_arn" {
  description = "ECR repository of the pipeline image."
  type        = string
}

variable "model_package_groups" {
  description = "Model package groups (one per use case) the pipeline registers models in."
  type        = list(string)
  default     = ["retail"]
}

variable "pipeline_arns" {
  description = "The SageMaker pipelines whose steps run as this role: each execution's first step lists the pipeline's executions so two never overlap (mlops_platform.aws.sagemaker.overlap)."
  type        = list(string)
  default     = []
}

variable "mlflow_tracking_server_arn" {
  description = "SageMaker managed MLflow tracking server ARN, or null when MLflow tracks elsewhere."
  type        = string
  default     = null
}

variable "glue_database" {
  description = "Glue database the steps publish the lake tables into (tables and partitions), or null."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
